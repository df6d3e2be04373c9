/* hopwire RPC: Connect, gRPC and gRPC-Web unary calls, on hop_server and hop_client.
 *
 * The codec is the caller's: hopwire moves message bytes (protobuf binary or JSON) and never
 * parses them, except that a JSON request body must be syntactically valid JSON.
 *
 * Server: a hop_rpc_server is a router attached to one hop_server before it starts. Each
 * procedure ("/pkg.Service/Method") gets a handler; the router decodes Connect (HTTP/1.1 and
 * h2c), gRPC (h2c) and gRPC-Web (HTTP/1.1 and h2c), enforces limits, deadlines and
 * compression, and encodes the answer or error in the caller's protocol.
 *
 * Client: hop_rpc_call_start / hop_rpc_call make one unary call through a hop_client (its
 * pool, multiplexing and retry rules), in Connect (default), gRPC or gRPC-Web. */
#ifndef HOPWIRE_RPC_H
#define HOPWIRE_RPC_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "hopwire/client.h"
#include "hopwire/server.h"
#include "hopwire/types.h"

#include "hopwire/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Codes: the 16 Connect / gRPC status codes (plus OK), numbered as gRPC. ---- */
#define HOP_CODE_MAP(X)                                               \
  X(0, OK, "ok", "OK", 200)                                           \
  X(1, CANCELED, "canceled", "CANCELLED", 499)                        \
  X(2, UNKNOWN, "unknown", "UNKNOWN", 500)                             \
  X(3, INVALID_ARGUMENT, "invalid_argument", "INVALID_ARGUMENT", 400) \
  X(4, DEADLINE_EXCEEDED, "deadline_exceeded", "DEADLINE_EXCEEDED", 504) \
  X(5, NOT_FOUND, "not_found", "NOT_FOUND", 404)                      \
  X(6, ALREADY_EXISTS, "already_exists", "ALREADY_EXISTS", 409)       \
  X(7, PERMISSION_DENIED, "permission_denied", "PERMISSION_DENIED", 403) \
  X(8, RESOURCE_EXHAUSTED, "resource_exhausted", "RESOURCE_EXHAUSTED", 429) \
  X(9, FAILED_PRECONDITION, "failed_precondition", "FAILED_PRECONDITION", 400) \
  X(10, ABORTED, "aborted", "ABORTED", 409)                           \
  X(11, OUT_OF_RANGE, "out_of_range", "OUT_OF_RANGE", 400)            \
  X(12, UNIMPLEMENTED, "unimplemented", "UNIMPLEMENTED", 501)         \
  X(13, INTERNAL, "internal", "INTERNAL", 500)                        \
  X(14, UNAVAILABLE, "unavailable", "UNAVAILABLE", 503)               \
  X(15, DATA_LOSS, "data_loss", "DATA_LOSS", 500)                     \
  X(16, UNAUTHENTICATED, "unauthenticated", "UNAUTHENTICATED", 401)

typedef enum hop_code {
#define HOP_CODE_ENUM_(num, name, cname, gname, http) HOP_CODE_##name = (num),
  HOP_CODE_MAP(HOP_CODE_ENUM_)
#undef HOP_CODE_ENUM_
} hop_code;

/* The Connect name ("deadline_exceeded"); "unknown" for a value outside 0..16. */
HOP_EXPORT const char *hop_code_name(hop_code c);
/* The gRPC name ("DEADLINE_EXCEEDED", "CANCELLED"). */
HOP_EXPORT const char *hop_code_grpc_name(hop_code c);
/* Parses a Connect name, a gRPC name (any case, "cancelled" too) or a decimal number 0..16.
 * |len| bytes of |s| (need not be NUL-terminated). Returns 0 or HOP_EINVAL. */
HOP_EXPORT int hop_code_parse(const char *s, size_t len, hop_code *out);
/* Connect's HTTP status for an error code (200 for OK). */
HOP_EXPORT int hop_code_to_http(hop_code c);
/* The code a client infers from an HTTP status when the body carries no error
 * (gRPC's HTTP mapping, as Connect specifies): 400 internal, 401 unauthenticated,
 * 403 permission_denied, 404 unimplemented, 429/502/503/504 unavailable, else unknown. */
HOP_EXPORT hop_code hop_code_from_http(int status);
/* The nearest code for a transport error (HOP_ETIMEDOUT -> deadline_exceeded, ...). */
HOP_EXPORT hop_code hop_code_from_err(int hop_err);

/* ---- Shared types ---- */
typedef enum hop_rpc_protocol {
  HOP_RPC_CONNECT = 1,  /* Connect unary: application/proto | application/json */
  HOP_RPC_GRPC = 2,     /* gRPC: application/grpc[+proto|+json], HTTP/2 only */
  HOP_RPC_GRPC_WEB = 3  /* gRPC-Web: application/grpc-web[+proto|+json], trailers in body */
} hop_rpc_protocol;

typedef enum hop_rpc_codec {
  HOP_CODEC_PROTO = 1, /* protobuf binary */
  HOP_CODEC_JSON = 2   /* protobuf JSON */
} hop_rpc_codec;

/* "connect", "grpc", "grpc-web" */
HOP_EXPORT const char *hop_rpc_protocol_name(hop_rpc_protocol p);

/* An error detail: a google.protobuf.Any (type name without the type.googleapis.com/ prefix,
 * and the serialized message). Borrowed. */
typedef struct hop_rpc_detail {
  const char *type;
  size_t type_len;
  const uint8_t *value;
  size_t value_len;
} hop_rpc_detail;

#define HOP_RPC_MAX_MESSAGE_DEFAULT (4u * 1024u * 1024u)

/* ---- Server ---- */
typedef struct hop_rpc_server hop_rpc_server;
/* One RPC in flight on the server. The handler must complete it exactly once with
 * hop_rpc_reply() or hop_rpc_fail(), from any thread, now or later. Accessors are valid from
 * the handler's invocation until that completion returns (even if the deadline expired and
 * the client already got deadline_exceeded: the request stays readable until completed). */
typedef struct hop_rpc_request hop_rpc_request;

/* Runs on the worker loop that owns the request (see hop_rpc_request_loop). */
typedef void (*hop_rpc_handler_fn)(hop_rpc_request *rq, void *user_data);

typedef struct hop_rpc_server_config {
  size_t max_message_size;   /* request message, before and after decompression; 4 MiB */
  size_t compress_min_bytes; /* gzip responses of at least this size when the client
                                accepts gzip; 0 (every message, as connect-go) */
  int handle_unknown;        /* 1: paths without a procedure get an RPC "unimplemented"
                                (sets the hop_server fallback); default 1 */
} hop_rpc_server_config;

HOP_EXPORT void hop_rpc_server_config_init(hop_rpc_server_config *cfg);

/* Attaches a router to |s| (before hop_server_start). The router must outlive the server:
 * free it after hop_server_free (or at least after hop_server_wait). */
HOP_EXPORT int hop_rpc_server_new(hop_rpc_server **out, hop_server *s,
                                  const hop_rpc_server_config *cfg);
HOP_EXPORT void hop_rpc_server_free(hop_rpc_server *rs);

enum {
  HOP_RPC_IDEMPOTENT = 1 /* no side effects: Connect GET allowed */
};
/* Registers a procedure by full path ("/pkg.Service/Method"; copied). Before start only.
 * |flags|: HOP_RPC_IDEMPOTENT. HOP_EBUSY if taken, HOP_EINVAL for a bad path. */
HOP_EXPORT int hop_rpc_server_handle(hop_rpc_server *rs, const char *procedure,
                                     hop_rpc_handler_fn fn, void *user_data, unsigned flags);

/* Sends requests to |procedure| that are not RPCs (a POST whose content type is no RPC one,
 * a GET without Connect's query, other methods) to the plain HTTP handler |fn| instead of
 * answering 415 / 405: so one path can serve raw clients (h2load, curl) too. Before start. */
HOP_EXPORT int hop_rpc_server_set_raw(hop_rpc_server *rs, const char *procedure, hop_handler_fn fn,
                                      void *user_data);

/* Request accessors: valid until hop_rpc_reply/hop_rpc_fail (from the thread that holds it). */
HOP_EXPORT const char *hop_rpc_request_procedure(const hop_rpc_request *rq);
/* The decoded (decompressed, unframed) request message. */
HOP_EXPORT const uint8_t *hop_rpc_request_message(const hop_rpc_request *rq, size_t *len);
/* Request headers (names lower-case), i.e. the RPC metadata. */
HOP_EXPORT const hop_header *hop_rpc_request_metadata(const hop_rpc_request *rq, size_t *n);
HOP_EXPORT const char *hop_rpc_request_header(const hop_rpc_request *rq, const char *name);
/* Absolute deadline on hop's monotonic clock in microseconds (hop_now_us), 0 = none. */
HOP_EXPORT uint64_t hop_rpc_request_deadline_us(const hop_rpc_request *rq);
HOP_EXPORT hop_rpc_protocol hop_rpc_request_protocol(const hop_rpc_request *rq);
HOP_EXPORT hop_rpc_codec hop_rpc_request_codec(const hop_rpc_request *rq);
HOP_EXPORT hop_proto hop_rpc_request_http(const hop_rpc_request *rq);
/* The owning worker's loop: only touch it during the handler's own invocation. */
HOP_EXPORT uv_loop_t *hop_rpc_request_loop(const hop_rpc_request *rq);
/* 1 once the deadline passed (the client got deadline_exceeded) or, checked from the loop
 * thread only, the peer went away. A handler may use it to stop work early. */
HOP_EXPORT int hop_rpc_request_done(const hop_rpc_request *rq);

/* Completes |rq| with a response message (copied). Any thread, exactly once; |rq| is
 * invalid afterwards. A no-op on the wire if the deadline already answered. */
HOP_EXPORT int hop_rpc_reply(hop_rpc_request *rq, const void *msg, size_t len);
/* As hop_rpc_reply, with response metadata: up to HOP_RPC_MAX_REPLY_HEADERS headers (lower-case
 * names; copied) sent with the response headers in every protocol. Over the cap the call
 * completes with an internal error instead. */
#define HOP_RPC_MAX_REPLY_HEADERS 32
HOP_EXPORT int hop_rpc_reply_md(hop_rpc_request *rq, const void *msg, size_t len,
                                const hop_header *md, size_t nmd);
/* As hop_rpc_reply_md, with response trailers too (up to HOP_RPC_MAX_REPLY_HEADERS; copied):
 * gRPC sends them in the HTTP/2 trailers after grpc-status, gRPC-Web in the body's trailer
 * frame, Connect unary as "trailer-<name>" response headers. Names must be lower-case tokens
 * and not a protocol's own (grpc-status, grpc-message, grpc-status-details-bin, content-*,
 * te, trailer, transfer-encoding, connection); values without CR, LF or NUL. Otherwise the
 * call completes with HOP_CODE_INTERNAL instead. The client (hop_rpc_result.trailers) sees
 * them without the Connect prefix in every protocol. */
HOP_EXPORT int hop_rpc_reply_trailers(hop_rpc_request *rq, const void *msg, size_t len,
                                      const hop_header *md, size_t nmd, const hop_header *tr,
                                      size_t ntr);
/* Completes |rq| with an error (|message| may be NULL; details copied). Any thread, once. */
HOP_EXPORT int hop_rpc_fail(hop_rpc_request *rq, hop_code code, const char *message,
                            const hop_rpc_detail *details, size_t ndetails);

typedef struct hop_rpc_server_stats {
  uint64_t calls, ok, errors, deadline_exceeded;
} hop_rpc_server_stats;
HOP_EXPORT void hop_rpc_server_get_stats(hop_rpc_server *rs, hop_rpc_server_stats *out);

/* ---- Client ---- */
typedef struct hop_rpc_call_opts {
  const char *base_url;         /* "http://host:port" (a path prefix is kept) */
  const char *procedure;        /* "/pkg.Service/Method" */
  hop_rpc_protocol protocol;    /* default HOP_RPC_CONNECT */
  hop_rpc_codec codec;          /* default HOP_CODEC_PROTO */
  const void *message;          /* the serialized request; copied at start */
  size_t message_len;
  const hop_header *metadata;   /* extra request headers; copied */
  size_t nmetadata;
  uint64_t timeout_ms;          /* deadline, sent as Connect-Timeout-Ms / grpc-timeout; 0 none */
  int gzip;                     /* 1: gzip requests of at least gzip_min_bytes */
  size_t gzip_min_bytes;        /* default 1024 */
  int no_accept_gzip;           /* 1: do not advertise gzip for responses */
  size_t max_message_size;      /* response message cap after decompression; 4 MiB */
  int idempotent;               /* 1: replayable by the client's retry rules */
  int use_get;                  /* Connect only: send as GET (?connect=v1&encoding=..&base64=1
                                   &message=..), for side-effect-free procedures; implies
                                   idempotent */
  hop_http_mode http;           /* per-call override; AUTO = the client's setting */
  const hop_target *target;     /* instead of base_url + procedure (then unused): the URL
                                   base_url + procedure prepared once (hop_target_new), so
                                   no call builds or parses it; not with use_get */
} hop_rpc_call_opts;

HOP_EXPORT void hop_rpc_call_opts_init(hop_rpc_call_opts *o);

/* The outcome of a call. code == HOP_CODE_OK: |message|/|message_len| is the response.
 * Else |error_message| and |details| describe the error; |err| is the transport hop_err
 * behind it (HOP_OK when the peer answered with an RPC error). */
typedef struct hop_rpc_result {
  int err;
  hop_code code;
  char *error_message;         /* NUL-terminated, "" when none */
  hop_rpc_detail *details;
  size_t ndetails;
  uint8_t *message;
  size_t message_len;
  int http_status;             /* 0 when no response arrived */
  hop_header *headers;         /* response headers */
  size_t nheaders;
  hop_header *trailers;        /* trailers: gRPC's and gRPC-Web's, and Connect's "trailer-"
                                  headers with the prefix removed */
  size_t ntrailers;
} hop_rpc_result;

/* Fires once on the client's loop thread; |res| is borrowed for the callback's duration. */
typedef void (*hop_rpc_done_cb)(const hop_rpc_result *res, void *user_data);

/* Starts a unary call (any thread). On error the callback never fires. |out| as for
 * hop_call_start (cancel with hop_call_cancel; release with hop_call_release). */
HOP_EXPORT int hop_rpc_call_start(hop_client *c, const hop_rpc_call_opts *o, hop_rpc_done_cb cb,
                                  void *user_data, hop_call **out);
/* Blocking call (not from the client's loop thread). Always fills |res| (free it with
 * hop_rpc_result_free): res->code and res->err tell the outcome. Returns HOP_OK, or a
 * negative hop_err when the request could not even be built (bad options, no memory). */
HOP_EXPORT int hop_rpc_call(hop_client *c, const hop_rpc_call_opts *o, hop_rpc_result *res);
HOP_EXPORT void hop_rpc_result_free(hop_rpc_result *res);

#ifdef __cplusplus
}
#endif
#endif
