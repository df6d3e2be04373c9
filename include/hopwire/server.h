/* hopwire server: HTTP/1.1 and h2c (prior knowledge) on one plaintext port.
 *
 * Threads: hop_server_start() spawns cfg.threads workers, each with its own libuv loop and
 * its own SO_REUSEPORT listener on the same address; a connection lives on the worker that
 * accepted it. Handlers run on that worker's loop. Nothing on the request path takes a
 * global lock.
 *
 * Lifecycle: new -> handle/fallback (before start) -> start -> [shutdown] -> wait -> free. */
#ifndef HOPWIRE_SERVER_H
#define HOPWIRE_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "hopwire/types.h"

#include "hopwire/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hop_server hop_server;
/* One request in flight. Owned by the server; the handler must answer it exactly once
 * with hop_request_respond() (from any thread, now or later). Accessors are valid from
 * the handler's invocation until hop_request_respond() returns. */
typedef struct hop_request hop_request;

typedef struct hop_server_config {
  const char *host;                /* "127.0.0.1" by default; "::" or "0.0.0.0" for all */
  uint16_t port;                   /* 0 = ephemeral (see hop_server_port) */
  unsigned threads;                /* workers; 0 = number of cores */
  unsigned max_connections;        /* whole server; 10000; over it new sockets are closed at accept */
  uint32_t max_concurrent_streams; /* advertised in the first SETTINGS; 100 */
  size_t max_header_list_size;     /* decoded bytes (name+value+32 each); 64 KiB -> 431 */
  size_t max_body_size;            /* request body; 4 MiB -> 413 on HTTP/1.1, RST/413 on h2 */
  uint64_t header_timeout_ms;      /* whole request head must arrive within; 10 s */
  uint64_t body_timeout_ms;        /* whole request body must arrive within; 30 s */
  uint64_t idle_timeout_ms;        /* connection without requests; 120 s */
  uint64_t drain_timeout_ms;       /* graceful shutdown bound; 10 s */
  /* Flood limits (what libnghttp2 1.52 does not stop on its own). */
  uint32_t max_empty_frames;       /* consecutive empty DATA/HEADERS/CONTINUATION; 10 */
  uint32_t max_control_per_sec;    /* non-ACK SETTINGS + PING per second; 100 */
  uint32_t max_resets_sent_burst;  /* server-sent RST_STREAM token bucket; 200 */
  uint32_t max_resets_sent_rate;   /* refill per second; 20 */
  int handle_signals;              /* 1: SIGTERM/SIGINT start a drain; a second one stops at once */
  int builtin_routes;              /* 1: GET /healthz, /readyz (503 while draining); default 1 */
  /* Answers from other threads go through a bounded mailbox per worker (see
   * hop_request_respond). */
  size_t max_pending_answers;      /* answers queued per worker, not yet applied; 65536 */
  uint64_t answer_wait_ms;         /* how long a full mailbox may hold the answering thread;
                                      100 ms (0 = do not wait) */
  /* h2: request-body bytes one connection may hold buffered (streams not yet answered);
   * 16 MiB. A DATA frame that would pass it resets its stream with REFUSED_STREAM (no
   * handler saw it) and frees its body. 0 = no budget. Keep it >= max_body_size. */
  size_t max_conn_body_buffer;
  /* Request-body bytes the whole server may hold buffered (HTTP/1.1 and h2, unfinished
   * uploads and bodies of requests not yet answered); 256 MiB. Past it an h2 stream is reset
   * with REFUSED_STREAM (no handler saw it) and an HTTP/1.1 request is answered 503 and its
   * connection closed; both count in body_refusals. It bounds what max_connections x
   * max_conn_body_buffer would allow. 0 = no budget. Keep it >= max_body_size. */
  size_t max_body_buffer;
} hop_server_config;

/* Fills |cfg| with the defaults above. */
HOP_EXPORT void hop_server_config_init(hop_server_config *cfg);

/* Handler: runs on the worker loop that owns the request's connection. */
typedef void (*hop_handler_fn)(hop_request *req, void *user_data);

/* Creates a server (copies |cfg|; strings are copied). Nothing is bound yet. */
HOP_EXPORT int hop_server_new(hop_server **out, const hop_server_config *cfg);
/* Registers |fn| for an exact |path| (e.g. "/pkg.Svc/Method"). Before start only.
 * HOP_EBUSY if the path is taken. */
HOP_EXPORT int hop_server_handle(hop_server *s, const char *path, hop_handler_fn fn,
                                 void *user_data);
/* Handler for every path without an exact match (default: 404). Before start only. */
HOP_EXPORT int hop_server_set_fallback(hop_server *s, hop_handler_fn fn, void *user_data);
/* Binds and starts the workers. Returns once every worker is listening. */
HOP_EXPORT int hop_server_start(hop_server *s);
/* The bound port (after start). */
HOP_EXPORT uint16_t hop_server_port(const hop_server *s);
/* The bound address as "host:port" ("[::1]:8080" for IPv6) into |buf|. */
HOP_EXPORT int hop_server_address(const hop_server *s, char *buf, size_t len);
/* Starts a graceful drain (any thread, idempotent): listeners close, h2 connections get the
 * two-step GOAWAY, HTTP/1.1 answers carry `Connection: close`, in-flight requests finish
 * until |drain_timeout_ms| (0 = the configured one), then every connection closes. */
HOP_EXPORT void hop_server_shutdown(hop_server *s, uint64_t drain_timeout_ms);
/* Stops at once: connections closed, pending requests dropped (their respond is a no-op). */
HOP_EXPORT void hop_server_stop(hop_server *s);
/* Blocks until the workers have exited (after shutdown/stop or a signal). */
HOP_EXPORT int hop_server_wait(hop_server *s);
/* Frees a stopped server. Calls hop_server_stop + wait if still running. */
HOP_EXPORT void hop_server_free(hop_server *s);

typedef struct hop_server_stats {
  uint64_t connections_h1, connections_h2;  /* currently open */
  uint64_t connections_total, connections_rejected;
  uint64_t streams_open;                    /* h2 streams currently open */
  uint64_t requests;                        /* requests dispatched to a handler */
  uint64_t responses;                       /* responses written */
  uint64_t resets_sent, resets_received;
  uint64_t goaways_sent;
  uint64_t bytes_in, bytes_out;
  uint64_t protocol_errors;                 /* connections ended for protocol errors or floods */
  uint64_t answers_dropped;                 /* answers from other threads that found the
                                               mailbox full (the request got 503 instead) */
  uint64_t body_refusals;                   /* requests refused by a body budget (h2
                                               REFUSED_STREAM, HTTP/1.1 503) */
  uint64_t body_buffered;                   /* request-body bytes held now (whole server) */
} hop_server_stats;
/* Sums the workers' counters (relaxed atomics: a consistent-enough snapshot). Any thread. */
HOP_EXPORT void hop_server_get_stats(hop_server *s, hop_server_stats *out);

/* ---- Request accessors (handler side) ---- */
HOP_EXPORT const char *hop_request_method(const hop_request *r);
HOP_EXPORT const char *hop_request_path(const hop_request *r);   /* path without the query string */
HOP_EXPORT const char *hop_request_query(const hop_request *r);  /* "" when none; without the '?' */
HOP_EXPORT const char *hop_request_authority(const hop_request *r);
HOP_EXPORT hop_proto hop_request_protocol(const hop_request *r);
/* All request headers (names lower-cased), excluding pseudo-headers. */
HOP_EXPORT const hop_header *hop_request_headers(const hop_request *r, size_t *n);
/* Case-insensitive single lookup; NULL when absent. */
HOP_EXPORT const char *hop_request_header(const hop_request *r, const char *name);
/* The whole request body (capped by max_body_size). */
HOP_EXPORT const uint8_t *hop_request_body(const hop_request *r, size_t *len);
/* Memory that lives as long as |r| and is freed with it, at once (the request's arena):
 * per-call state of a layer above, without an allocation of its own. Valid until
 * hop_request_respond() is called: never touch it after that (the request may be gone the
 * moment respond returns). Call from the handler's own invocation, before respond. 16-byte
 * aligned; NULL when out of memory. */
HOP_EXPORT void *hop_request_alloc(hop_request *r, size_t n);
/* The loop of the worker that owns the request: for timers or downstream calls without a
 * thread hop. Only touch it from the handler's own invocation (same thread). */
HOP_EXPORT uv_loop_t *hop_request_loop(const hop_request *r);
/* 1 once the peer reset the stream or closed the connection; respond is then a no-op. */
HOP_EXPORT int hop_request_canceled(const hop_request *r);

/* Cancellation notice: |fn| runs once, on the owning worker's loop thread, when the request
 * can no longer be answered on the wire: the peer reset the stream or closed the connection,
 * hop_server_stop() ran, or the graceful drain deadline passed. It never runs after the
 * request was answered, and never re-entrantly from this call (a request that is already
 * canceled gets |fn| on a later turn of the loop). The request stays valid during |fn|; the
 * handler still owns it and must still call hop_request_respond() exactly once (from |fn|
 * or later, any thread): the answer is then discarded and the request freed. Stop timers
 * and downstream calls in |fn| and answer at once, so that nothing holds a stopped worker.
 * Call on the loop thread that runs the handler, before responding; a later call replaces
 * |fn|, NULL removes it. HOP_ESTATE off that thread, HOP_EINVAL for a NULL |r|.
 * A handler answering from another thread may race the notice (it is skipped only when the
 * answer came first): such a handler needs its own flag to answer exactly once. */
typedef void (*hop_request_cancel_fn)(hop_request *req, void *user_data);
HOP_EXPORT int hop_request_on_cancel(hop_request *req, hop_request_cancel_fn fn, void *user_data);

/* Answers |r| (any thread, exactly once; the request is consumed by this call in every
 * case). Headers, body and trailers are copied before it returns. Trailers are sent only on
 * HTTP/2 (HTTP/1.1 drops them). The server adds content-length (HTTP/1.1: and keep-alive or
 * close). Returns HOP_OK even if the peer has gone (the answer is then discarded).
 * On the worker's loop thread the answer is applied at once. From another thread it is
 * posted to the worker's mailbox (max_pending_answers); when that is full the calling thread
 * waits up to answer_wait_ms for room (backpressure on a loop that is behind), then gives up:
 * the answer is dropped (counted in answers_dropped, logged at most once a second per worker),
 * the worker answers the request `503` on its own loop (it costs no memory: the request is
 * already allocated) and this returns HOP_EQUEUEFULL. */
HOP_EXPORT int hop_request_respond(hop_request *r, int status, const hop_header *headers,
                                   size_t nheaders, const void *body, size_t body_len,
                                   const hop_header *trailers, size_t ntrailers);

#ifdef __cplusplus
}
#endif
#endif
