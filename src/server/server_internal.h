/* Server internals shared by the server_*.c modules (not installed).
 *
 * Ownership: a hop_server owns N hop_workers; a worker owns its loop, listener and the
 * connections it accepted; a connection owns its h2 streams. A hop_request belongs to the
 * handler from dispatch until hop_request_respond(); the connection only keeps a back
 * pointer (req->stream / conn->h1_req) that it clears when it dies ("detach"), so a late
 * respond finds req->conn == NULL and just frees the request.
 * Only the mailbox and the control async cross threads; counters are relaxed atomics. */
#ifndef HOP_SERVER_INTERNAL_H
#define HOP_SERVER_INTERNAL_H

#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/pool.h"
#include "h1/h1_request.h"
#include "h2/h2_gate.h"
#include "h2/h2_mem.h"
#include "h2/h2_opts.h"
#include "hopwire/server.h"
#include "loop/mailbox.h"

#define HOP_SRV_READ_BUF (64 * 1024)
#define HOP_SRV_WRITE_HIGH (256 * 1024) /* stop reading / producing above this */
#define HOP_SRV_GOAWAY_DELAY_MS 100     /* ~1 RTT between shutdown notice and GOAWAY */
/* Per-request memory (h2o's habit): the request, its headers, a small body and its h2
 * answer live in one allocation, freed at once when the stream is done. */
#define HOP_SRV_POOL_KEEP (4u << 20) /* freed blocks a worker keeps for reuse */
#define HOP_REQ_INLINE 1680 /* inline arena: an h2 Echo call (h2load's headers) takes 1,344 */
#define HOP_REQ_ARENA_BODY_MAX (64 * 1024) /* h2 bodies with a content-length up to this */
#define HOP_REQ_ARENA_RESP_MAX (64 * 1024) /* answers up to this are built in the arena */

typedef struct hop_conn hop_conn;
typedef struct hop_worker hop_worker;
typedef struct hop_h2_stream hop_h2_stream;

typedef struct hop_srv_stats {
  _Atomic uint64_t connections_h1, connections_h2, connections_total, connections_rejected;
  _Atomic uint64_t streams_open, requests, responses, resets_sent, resets_received;
  _Atomic uint64_t goaways_sent, bytes_in, bytes_out, protocol_errors, answers_dropped;
  _Atomic uint64_t body_refusals;
} hop_srv_stats;

#define HOP_STAT_ADD(w, field, n) atomic_fetch_add_explicit(&(w)->stats.field, (n), memory_order_relaxed)
#define HOP_STAT_SUB(w, field, n) atomic_fetch_sub_explicit(&(w)->stats.field, (n), memory_order_relaxed)

/* The server-wide request-body budget (max_body_buffer). Shared, refcounted, by the server
 * and its workers: a request answered after hop_server_free (its worker outlives the server)
 * still releases its charge. Any thread. */
typedef struct hop_body_budget {
  _Atomic size_t used;
  size_t max; /* 0 = no budget (still counted, for the stats) */
  atomic_uint refs;
} hop_body_budget;

typedef struct hop_route {
  char *path;
  hop_handler_fn fn;
  void *user_data;
} hop_route;

struct hop_server {
  hop_server_config cfg;
  char *host;
  hop_route *routes;
  size_t nroutes;
  hop_handler_fn fallback;
  void *fallback_data;
  hop_worker **workers;
  unsigned nworkers;
  uint16_t port;
  int started, joined;
  _Atomic int draining, stopping;
  _Atomic uint64_t drain_timeout_ms;
  _Atomic uint64_t conns_open; /* whole server, for max_connections */
  hop_body_budget *budget;       /* max_body_buffer; shared with the workers */
  _Atomic unsigned workers_running;
  pthread_mutex_t ctl_mu; /* guards cross-thread uv_async_send on workers' control */
  hop_h2_limits h2;
  nghttp2_session_callbacks *h2_callbacks; /* shared by every h2 connection */
  nghttp2_option *h2_option;
};

/* A prepared answer, built by hop_request_respond on the responding thread. */
typedef struct hop_response {
  int status;
  /* h2: nva[0..nnv) (":status" first, names lower-cased), trailers nva[nnv..nnv+ntr). */
  nghttp2_nv *nva;
  size_t nnv, ntr;
  /* h1: head (status line and headers, without the connection header nor the final CRLF). */
  char *head;
  size_t head_len;
  const uint8_t *body;
  size_t body_len;
  int heap; /* 1: its own malloc (free it); 0: in the request's arena (dies with it) */
  /* Everything above lives in this one allocation after the struct. */
} hop_response;

struct hop_request {
  hop_mailbox_node node; /* first: posted to the owning worker */
  hop_worker *w;
  hop_conn *conn;        /* NULL once detached (loop thread only) */
  hop_conn *owner;       /* the connection that dispatched it, kept alive by a reference
                          * until the answer is delivered (loop thread; unref any thread) */
  hop_h2_stream *stream; /* h2 */
  hop_proto proto;
  atomic_int canceled;
  hop_response *resp;    /* set by respond before posting */
  hop_arena mem;         /* this request's memory (inline first, see HOP_REQ_INLINE) */
  hop_buf arena;         /* HTTP/1.1: the parser's strings, taken over at dispatch */
  hop_header *headers;   /* in |mem|; h2 fills it while decoding (no copy at dispatch) */
  size_t nheaders, headers_cap;
  hop_h1_field *fields; /* HTTP/1.1: offsets into |arena|, turned into |headers| at dispatch */
  size_t nfields;
  const char *method, *path, *query, *authority; /* h2: set while decoding, in |mem| */
  size_t method_off, path_off;                   /* HTTP/1.1, into |arena| */
  hop_buf body;          /* HTTP/1.1, and h2 bodies without a small content-length */
  uint8_t *abody;        /* h2: body in |mem| sized by content-length (abody_cap), or NULL */
  size_t abody_len, abody_cap;
  size_t body_charged;   /* HTTP/1.1: bytes of |body| charged to the server's budget */
  int keep_alive;
  /* Cancellation notice (loop thread only): queued on the worker's |cancels| list when the
   * request is detached, fired from the worker's idle turn (never inside nghttp2). */
  hop_request_cancel_fn cancel_fn;
  void *cancel_ud;
  hop_request *cancel_prev, *cancel_next;
  int cancel_queued, cancel_fired;
  atomic_int answered;   /* respond was called (any thread): no notice after that */
  _Alignas(16) uint8_t inline_mem[HOP_REQ_INLINE]; /* last: not cleared at creation */
};
/* A request is one 2 KiB block of the worker's pool (its 16-byte header included). */
_Static_assert(sizeof(hop_request) <= 2048 - 16, "hop_request outgrew its pool class");

struct hop_h2_stream {
  int32_t id;
  hop_h2_stream *prev, *next; /* conn's stream list */
  hop_request *req;           /* being built, or dispatched and not yet answered */
  hop_request *done;          /* answered: kept until the stream closes (|resp| is in it) */
  hop_response *resp;         /* being sent */
  size_t resp_off;
  size_t header_bytes;
  size_t body_counted;        /* request-body bytes charged to conn->body_buffered */
  uint64_t deadline_ms;       /* request must be complete by then; 0 = none */
  uint64_t content_length;    /* declared, when has_cl */
  int has_cl, head, dispatched, rejected;
  int oversize;               /* header list over the cap: the rest is skipped, 431 at its end */
};

enum { HOP_CONN_SNIFF = 0, HOP_CONN_H1 = 1, HOP_CONN_H2 = 2 };

struct hop_conn {
  uv_tcp_t tcp;
  hop_worker *w;
  atomic_uint refs;        /* the socket + one per dispatched request not yet answered */
  unsigned inflight;       /* dispatched and not yet answered (detached ones too) */
  hop_conn *prev, *next;   /* worker's list */
  int proto;
  int closing, reading, draining, close_after_write, pumping, in_read, dirty;
  hop_conn *dirty_next;
  uint64_t deadline_ms;    /* header / body / idle deadline; 0 = none */
  uint64_t write_since_ms; /* oldest unfinished write started (slow readers) */
  size_t wpending;         /* bytes handed to uv_write, not yet done */
  hop_buf inbuf;           /* sniffing and unparsed HTTP/1.1 bytes */
  /* HTTP/1.1 */
  hop_h1_parser *h1;
  hop_request *h1_req;     /* dispatched, not answered yet */
  size_t h1_body_charged;  /* the parser's body bytes charged to the server's budget */
  /* HTTP/2 */
  nghttp2_session *session;
  hop_h2_stream *streams;
  hop_h2_stream *last_st;  /* the stream looked up last (a HEADERS block is ~10 lookups) */
  uint64_t recv_now_ms;    /* hop_now_ms() when the current input began: the clock of the
                            * receive-only callbacks (one read = one instant) */
  size_t nstreams;
  size_t body_buffered;    /* request bodies held for unanswered streams (budget) */
  int32_t *ready;          /* stream ids whose request is complete, to dispatch */
  size_t nready, ready_cap;
  hop_h2_flood flood;
  hop_h2_gate gate;        /* RFC 9113 stream-state and PRIORITY checks before the session */
  int goaway_final;        /* second GOAWAY submitted */
  int calm_pending;        /* a flood counter tripped: GOAWAY(ENHANCE_YOUR_CALM) at next flush */
  hop_buf wbuf;            /* frames gathered for the next uv_write */
  hop_h2_mem h2mem;        /* the session's allocator (its large blocks in a page region) */
  int ob_idle;             /* the last nghttp2_session_mem_send returned 0 */
  int h2_sent;             /* frames written since the last sweep: not idle */
};

struct hop_worker {
  hop_server *s;
  hop_body_budget *budget; /* a reference: the worker may outlive the server */
  unsigned idx;
  uv_loop_t loop;
  uv_thread_t thread;
  uv_thread_t tid;        /* set by the worker thread itself */
  uv_tcp_t listener;
  uv_async_t control;     /* shutdown / stop / a peer worker finished */
  uv_timer_t sweep;       /* timeouts */
  uv_timer_t goaway;      /* second step of the graceful GOAWAY */
  uv_idle_t flush;        /* sends what responses queued (runs before the loop blocks) */
  uv_signal_t sigterm, sigint;
  hop_mailbox mb;
  pthread_mutex_t post_mu; /* guards mb_open and |overflow| against posts racing the close */
  int mb_open;
  /* Requests whose answer found the mailbox full (answer dropped): the loop answers them
   * 503. Intrusive through req->node, so never more than the live requests. */
  hop_request *overflow;
  uint64_t overflow_log_ms;         /* last "answer dropped" log line (under post_mu) */
  uint64_t answer_wait_ms;          /* copy of the config: read after the server is freed */
  int control_open;       /* under s->ctl_mu */
  int signals;            /* sigterm/sigint initialised (worker 0) */
  int listening, drain_started, finishing, finished;
  uint64_t drain_deadline_ms;
  unsigned fast_forwarded; /* handlers' timers fired early at finish */
  hop_conn *conns;
  size_t nconns;
  hop_conn *dirty;
  hop_request *cancels;    /* detached requests whose cancel notice is due (loop thread) */
  uint8_t *rbuf;           /* shared read buffer (one loop = one reader at a time) */
  /* Requests, streams and the h2 sessions' own memory, reused on the loop thread; a request
   * freed on another thread goes straight back to malloc. */
  hop_pool pool;
  int rbuf_busy;
  atomic_uint refs;        /* the server + one per live request */
  hop_srv_stats stats;
};

/* server.c */
void hop_worker_unref(hop_worker *w);
void hop_worker_conn_closed(hop_worker *w);
/* Wakes the worker's control handler (any thread). */
void hop_worker_poke(hop_worker *w);
/* Test and fuzz seam: starts the server with one worker and no thread; the calling thread
 * runs *loop itself (uv_run) and is the worker's thread. hop_server_stop, then run the loop
 * until it returns, close it, and hop_server_free. */
int hop_server_start_inline(hop_server *s, uv_loop_t **loop);
/* server.c: charge: 0 when |n| more bytes fit the budget (they are then counted), -1 when
 * not (nothing counted). Any thread. */
int hop_body_charge(hop_body_budget *b, size_t n);
void hop_body_release(hop_body_budget *b, size_t n);
/* server_conn.c */
void hop_conn_accept(hop_worker *w);
/* Test and fuzz seam: serves the connected stream socket |fd| (any family, e.g. one end of
 * a socketpair) as if the listener had accepted it. The connection owns |fd|. */
int hop_conn_adopt(hop_worker *w, uv_os_sock_t fd);
void hop_conn_close(hop_conn *c);
void hop_conn_begin_drain(hop_conn *c);
void hop_conn_sweep(hop_conn *c, uint64_t now);
void hop_conn_mark_dirty(hop_conn *c);
void hop_conn_flush_dirty(hop_worker *w);
int hop_conn_write(hop_conn *c, uv_buf_t *bufs, unsigned nbufs, void *owned);
void hop_conn_update_reading(hop_conn *c);
void hop_conn_unref(hop_conn *c);
/* Runs the flush idle on the next loop turn (dirty connections, cancel notices). */
void hop_worker_kick_idle(hop_worker *w);
/* server_h1.c */
int hop_h1_conn_start(hop_conn *c);
void hop_h1_conn_input(hop_conn *c, const char *data, size_t len);
void hop_h1_conn_respond(hop_conn *c, hop_request *r, hop_response *resp);
void hop_h1_conn_free(hop_conn *c);
void hop_h1_send_error(hop_conn *c, int status);
/* server_h2.c */
int hop_h2_server_init(hop_server *s);
void hop_h2_server_free(hop_server *s);
int hop_h2_conn_start(hop_conn *c);
void hop_h2_conn_input(hop_conn *c, const uint8_t *data, size_t len);
void hop_h2_conn_respond(hop_conn *c, hop_request *r, hop_response *resp);
void hop_h2_conn_flush(hop_conn *c);
void hop_h2_conn_free(hop_conn *c);
void hop_h2_conn_drain(hop_conn *c, int final_step);
void hop_h2_conn_sweep(hop_conn *c, uint64_t now);
/* Dispatches complete requests while fewer than MAX_CONCURRENT_STREAMS handlers run. */
void hop_h2_conn_dispatch_ready(hop_conn *c);
/* server_request.c */
hop_request *hop_request_new(hop_worker *w, hop_conn *c, hop_proto proto);
void hop_request_free(hop_request *r);
/* Frees |resp| unless it lives in its request's arena. NULL is fine. */
void hop_response_release(hop_response *resp);
/* Fixes header pointers, then runs the route (builtin, exact, fallback). Loop thread. */
void hop_request_dispatch(hop_request *r);
/* The connection let go of a dispatched request (peer reset or close, stop, drain
 * deadline): marks it canceled and queues its cancel notice. Loop thread. */
void hop_request_detach(hop_request *r);
/* Runs the queued cancel notices. Loop thread, outside nghttp2 callbacks. */
void hop_worker_fire_cancels(hop_worker *w);
/* Answers 503 the requests whose answer was dropped on a full mailbox. Loop thread. */
void hop_worker_answer_overflow(hop_worker *w);
/* Applies a response on the loop thread (mailbox or direct path). */
void hop_request_deliver(hop_request *r);
/* h2: appends a decoded header (libnghttp2 checked it: lower-case token name) to the
 * request's memory. HOP_ENOMEM when it cannot. */
int hop_request_add_header(hop_request *r, const uint8_t *name, size_t nlen,
                           const uint8_t *value, size_t vlen);
const char *hop_status_reason(int status);

#endif
