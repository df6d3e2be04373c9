/* hopwire client: unary HTTP calls multiplexed over h2c, with an HTTP/1.1 keep-alive pool.
 *
 * Threads: a hop_client is thread-safe; any thread may start, cancel or wait for calls.
 * All I/O runs on one libuv loop: the client's own thread (cfg.loop == NULL), or a loop the
 * caller hands over (cfg.loop), in which case the caller runs that loop and completion
 * callbacks fire on it, with no thread hop (how a server calls downstream from a handler).
 *
 * Calls: a call completes exactly once (success, HTTP-level failure, deadline, cancel,
 * shutdown). A start function that returns an error never fires the callback. */
#ifndef HOPWIRE_CLIENT_H
#define HOPWIRE_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "hopwire/types.h"
#include "hopwire/stats.h"

#include "hopwire/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hop_client hop_client;
typedef struct hop_call hop_call;
typedef struct hop_target hop_target;

typedef enum hop_http_mode {
  HOP_HTTP_AUTO = 0, /* h2c first; if the peer answers the preface as HTTP/1.1 or closes,
                        remember the origin as HTTP/1.1 and use the pool */
  HOP_HTTP_H2C = 1,  /* HTTP/2 prior knowledge only */
  HOP_HTTP_H1 = 2    /* HTTP/1.1 keep-alive pool only */
} hop_http_mode;

typedef struct hop_client_config {
  uv_loop_t *loop;                 /* NULL: the client runs its own I/O thread */
  hop_http_mode http;              /* default HOP_HTTP_AUTO */
  uint32_t max_conns_per_origin;   /* h2c: cap on connections; h1: cap on open conns
                                      (0 = unlimited, Go's default); default h2: 16, h1: 0 */
  uint32_t max_idle_h1_per_origin; /* idle HTTP/1.1 keep-alive conns kept; 256 (2 = Go's
                                      DefaultClient); above it a finished conn is closed */
  int strict_max_conns;            /* 1: never dial past max_conns_per_origin; calls queue */
  uint32_t max_queued_calls;       /* per origin wait queue; 10000; overflow -> HOP_EQUEUEFULL */
  uint64_t idle_timeout_ms;        /* idle connection closed after; 90 s */
  uint64_t connect_timeout_ms;     /* 10 s */
  uint64_t ping_interval_ms;       /* h2 keepalive PING when idle-ish; 30 s; 0 = off */
  uint64_t ping_timeout_ms;        /* unanswered PING closes the connection; 20 s */
  uint64_t max_conn_age_ms;        /* 0 = off; else drain after age +- 10 % jitter */
  uint32_t h2_stream_window;       /* receive window per stream; 1 MiB */
  uint32_t h2_conn_window;         /* receive window per connection; 16 MiB */
  size_t max_response_size;        /* body cap; 64 MiB -> HOP_ETOOBIG */
  size_t max_response_headers;     /* decoded header list cap; 64 KiB */
  uint32_t max_retries;            /* transparent retries of unprocessed calls; 5 */
  uint64_t retry_backoff_ms;       /* base of full-jitter backoff; 10 ms (cap 1 s) */
  uint64_t resolve_interval_ms;    /* re-resolve host names; 30 s */
  uint64_t dial_delay_us;          /* modelled dial cost, slept (on a timer) before connect; 0 */
} hop_client_config;

HOP_EXPORT void hop_client_config_init(hop_client_config *cfg);

/* Creates a client; with cfg->loop == NULL it starts its own I/O thread. */
HOP_EXPORT int hop_client_new(hop_client **out, const hop_client_config *cfg);
/* Fails calls still pending with HOP_ESHUTDOWN (their callbacks fire), closes connections,
 * joins the I/O thread. With a caller's loop: call it from that loop's thread; the loop must
 * run afterwards until the client's handles are closed (uv_run until it returns). */
HOP_EXPORT void hop_client_free(hop_client *c);

/* A prepared target: an http:// URL parsed once (origin and path), for calls that go to the
 * same URL again and again (hop_call_opts.target instead of .url: no parsing or copying of
 * the URL per call). Immutable and reference-counted: any thread may use one target in any
 * number of calls on any clients at once. hop_target_free drops the creator's reference; a
 * call holds its own until the call is freed, so the target may be freed while calls using
 * it are in flight. Errors as hop_url parsing: HOP_EURL, HOP_EUNSUPPORTED (https),
 * HOP_EINVAL, HOP_ENOMEM. */
HOP_EXPORT int hop_target_new(hop_target **out, const char *url);
HOP_EXPORT void hop_target_free(hop_target *t);

typedef struct hop_call_opts {
  const char *method;        /* "POST" when NULL */
  const char *url;           /* "http://host:port/path?query"; http only (or .target) */
  const hop_header *headers; /* extra request headers; copied */
  size_t nheaders;
  const void *body;          /* copied at start */
  size_t body_len;
  uint64_t timeout_ms;       /* deadline from start; 0 = none */
  int replayable;            /* 1: may be retried even if the peer may have processed it */
  hop_http_mode http;        /* per-call override; HOP_HTTP_AUTO = the client's setting */
  const hop_target *target;  /* instead of url (which must then be NULL): hop_target_new */
} hop_call_opts;

/* Checks |url| as a call would (hop_call_opts.url): HOP_OK for a well-formed http:// URL,
 * with *port (may be NULL) its port, 80 when absent; HOP_EUNSUPPORTED for https://,
 * HOP_EURL otherwise (HOP_ENOMEM without memory). Any thread: lets an application refuse
 * a bad flag up front. */
HOP_EXPORT int hop_url_check(const char *url, uint16_t *port);

/* A response, borrowed: valid only during the completion callback (copy what you keep). */
typedef struct hop_response {
  int status;
  hop_proto proto;
  const hop_header *headers;
  size_t nheaders;
  const uint8_t *body;
  size_t body_len;
  const hop_header *trailers; /* HTTP/2 trailers (gRPC status lives here) */
  size_t ntrailers;
} hop_response;

/* |err| is HOP_OK with a response (any HTTP status), or a negative hop_err with resp NULL.
 * Fires on the client's loop thread. */
typedef void (*hop_call_cb)(hop_call *call, int err, const hop_response *resp, void *user_data);

/* Starts a call (any thread). If |out| is non-NULL it receives a reference the caller must
 * drop with hop_call_release() (valid for hop_call_cancel until then). */
HOP_EXPORT int hop_call_start(hop_client *c, const hop_call_opts *opts, hop_call_cb cb,
                              void *user_data, hop_call **out);
/* Cancels (any thread): a call in flight is reset with RST_STREAM(CANCEL) and completes with
 * HOP_ECANCELED, unless it already completed. */
HOP_EXPORT void hop_call_cancel(hop_call *call);
HOP_EXPORT void hop_call_release(hop_call *call);
/* Attempts so far (1 + retries). Valid in the callback or while holding a reference. */
HOP_EXPORT unsigned hop_call_attempts(const hop_call *call);

/* Blocking call result: owns its memory; free with hop_result_free. */
typedef struct hop_result {
  int err; /* as the callback's err */
  int status;
  hop_proto proto;
  hop_header *headers;
  size_t nheaders;
  uint8_t *body;
  size_t body_len;
  hop_header *trailers;
  size_t ntrailers;
} hop_result;

/* Starts a call and waits for it on the calling thread (must not be the client's loop
 * thread: HOP_ESTATE). Returns result->err. */
HOP_EXPORT int hop_client_do(hop_client *c, const hop_call_opts *opts, hop_result *result);
HOP_EXPORT void hop_result_free(hop_result *r);

typedef struct hop_client_stats {
  uint64_t dials_started, dials_failed;
  uint64_t conns_open_h2, conns_open_h1;
  uint64_t streams_in_flight;  /* calls on the wire now */
  uint64_t calls_queued;       /* waiting for a connection or stream slot */
  uint64_t calls_started, calls_ok, calls_failed;
  uint64_t goaways_received, retries, pings_timed_out;
} hop_client_stats;
/* Any thread. */
HOP_EXPORT void hop_client_get_stats(hop_client *c, hop_client_stats *out);
/* Latency of completed calls (start to completion) since creation or the last reset. */
HOP_EXPORT void hop_client_get_latency(hop_client *c, hop_latency *out);
/* Copies the latency histogram into |dst| (hop_hist_new'd by the caller). Any thread. */
HOP_EXPORT void hop_client_copy_hist(hop_client *c, hop_hist *dst);
HOP_EXPORT void hop_client_reset_latency(hop_client *c);

#ifdef __cplusplus
}
#endif
#endif
