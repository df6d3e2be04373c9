/* hopwire client internals: calls, origins, connections. Everything here except the atomics
 * and the fields marked "any thread" belongs to the client's loop thread. */
#ifndef HOP_CLIENT_INTERNAL_H
#define HOP_CLIENT_INTERNAL_H

#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "core/pool.h"
#include "h2/h2_mem.h"
#include "client/waker.h"
#include "core/buf.h"
#include "h1/h1_response.h"
#include "h2/h2_gate.h"
#include "hopwire/client.h"
#include "hopwire/error.h"
#include "hopwire/stats.h"
#include "loop/mailbox.h"

typedef struct hop_origin hop_origin;

/* A parsed URL shared by calls (hop_target_new): immutable, reference-counted. */
struct hop_target {
  atomic_int refs;
  uint16_t port;
  size_t authority_len, path_len;
  char *host, *authority, *path; /* in the same block */
};

/* Calls with the same timeout end in start order: one FIFO list per timeout value, and one
 * timer for the earliest head, instead of a libuv timer per call. */
#define HOP_DEADLINE_CLASSES 8
typedef struct deadline_list {
  uint64_t timeout_ms; /* 0: unused */
  hop_call *head, *tail;
} deadline_list;

/* Finished call blocks kept for reuse on the loop thread (with their response buffers). */
#define HOP_CALL_CACHE_MAX 256
#define HOP_CALL_BLOCK 2048            /* blocks at most this big are cached */
#define HOP_CALL_KEEP_BUF 4096         /* response buffers up to this size stay with a block */
typedef struct hop_conn hop_conn;

enum { CALL_NEW = 0, CALL_QUEUED, CALL_ACTIVE, CALL_RETRY_WAIT, CALL_DONE };
enum { MSG_START = 1, MSG_CANCEL = 2 };

typedef struct call_msg {
  hop_mailbox_node node; /* first: the mailbox links it */
  int kind;
  hop_call *call;
} call_msg;

/* Received header fields, packed in one buffer as records: hdr_rec, the name, NUL, the
 * value, NUL. Pointers are made only at completion, since the buffer may move while it
 * grows. |size| counts the fields as HTTP/2 sizes a header list (+32 a field), capped by
 * the buffer's max. */
typedef struct hdr_list {
  hop_buf recs;
  size_t n;
  size_t size;
} hdr_list;

typedef struct hdr_rec {
  uint32_t name_len, value_len;
} hdr_rec;

struct hop_call {
  /* the request: every field set by hop_call_start (a reused block is not cleared here) */
  atomic_int refs;           /* user ref (start's |out|) + the internal ref */
  atomic_int done;           /* set once when the call completes (any thread reads) */
  atomic_uint attempts;
  atomic_int cancel_posted;   /* hop_call_cancel posted msg_cancel */
  hop_client *client;
  call_msg msg_start, msg_cancel;
  /* the request, immutable after start */
  const char *method, *host, *authority, *path; /* the call's block, or its target's */
  size_t method_len, authority_len, path_len;
  uint16_t port;
  hop_target *target;        /* a hop_target's reference, or NULL (strings are the call's) */
  int bodyful;               /* sends content-length even when empty (POST, PUT, PATCH) */
  char clen[24];             /* content-length, decimal, formatted once at start */
  uint8_t clen_len;
  int cached;                /* the block has the cache's size: it may go back there */
  hop_http_mode http;        /* resolved per call: never AUTO when the client is not */
  hop_header *headers;       /* names lower-cased, one allocation with the strings */
  size_t nheaders;
  uint8_t *body;
  size_t body_len;
  int replayable;
  uint64_t timeout_ms;
  hop_call_cb cb;
  void *user_data;
  uint64_t start_us;
  /* loop-thread state: zero in a new call (call_alloc clears from here to |timer|) */
  int state;
  hop_origin *origin;
  hop_conn *conn;
  hop_call *prev, *next;     /* origin wait queue or connection's call list */
  hop_call *done_next;       /* completion list */
  hop_call *held_prev, *held_next; /* on the nghttp2 session that holds a ref to it */
  hop_conn *held_by;
  int32_t held_sid;          /* the stream id the session holds it under */
  int32_t stream_id;
  size_t body_off;           /* h2 request body progress */
  int written;               /* request HEADERS (h2) or bytes (h1) went out */
  int end_stream;            /* the whole response arrived */
  int fail_err;              /* local error decided while receiving (e.g. HOP_ETOOBIG) */
  int result_err;
  int proto_used;            /* the connection's protocol that answered */
  uint64_t retry_at_ms;
  int timer_inited;
  int dl_class;              /* the client's deadline list holding it, or -1 */
  uint64_t deadline_ms;
  hop_call *dl_prev, *dl_next;
  int status;
  int in_trailers;
  /* not cleared when a cached block is reused (call_alloc): the timer is initialised when
   * first needed, the buffers keep their memory */
  uv_timer_t timer;          /* retry backoff (and the deadline when no class is free) */
  hdr_list headers_in, trailers_in; /* the response */
  hop_buf resp_body;
};

typedef struct conn_wreq {
  uv_write_t req;
  hop_conn *conn;
  size_t len;
  uint8_t data[];
} conn_wreq;

#define HOP_CONN_SID_SLOTS 128 /* a power of two: 100 streams in flight share no slot */

enum { CONN_DELAY = 0, CONN_CONNECTING, CONN_HANDSHAKE, CONN_READY, CONN_CLOSING };

struct hop_conn {
  uv_tcp_t tcp;
  uv_timer_t timer; /* dial delay, then connect / first-SETTINGS timeout */
  uv_connect_t creq;
  hop_client *client;
  hop_origin *origin;
  hop_conn *prev, *next;         /* origin's connections */
  hop_conn *dirty_next;          /* client's flush list */
  int in_dirty;
  int proto;                     /* HOP_PROTO_H2C or HOP_PROTO_H1 */
  int state;
  int connected;                 /* TCP established (counted in conns_open_*) */
  int draining;                  /* no new calls: GOAWAY, age, or h1 non-keep-alive */
  int goaway;
  int32_t goaway_last_id;
  uint32_t goaway_code;
  int close_pending;             /* close after the current callback; holds the error */
  int rejected;                  /* GOAWAY with an error before it answered anything: the
                                    peer refused us, so it counts as a failed dial */
  int fail_calls;                /* close fails its calls with the cause (no retry) */
  int handles_open;
  struct sockaddr_storage addr;
  /* h2 */
  nghttp2_session *ng;
  uint32_t limit;                /* peer's MAX_CONCURRENT_STREAMS once SETTINGS arrived */
  uint32_t nactive;              /* calls attached */
  uint64_t served;               /* calls completed with a response */
  hop_call *calls_head, *calls_tail;
  hop_call *held_head;           /* calls nghttp2 may still call back about (one ref each) */
  /* held calls by stream id, direct-mapped (a response's 6-7 callbacks and the request's
   * frames look up their call; nghttp2's stream map costs ~50 instructions a lookup) */
  struct { int32_t sid; hop_call *call; } by_sid[HOP_CONN_SID_SLOTS];
  hop_h2_gate gate;              /* RFC 9113 checks on the server's frames (h2/h2_gate.h) */
  uint8_t pre[9];                /* the first bytes of the answer to our preface */
  uint8_t pre_len;               /* (a SETTINGS frame header, or the peer is not HTTP/2) */
  int ping_outstanding;
  uint64_t ping_sent_ms;
  /* h1 */
  hop_h1_resp h1;
  hop_call *h1_call;
  int h1_idle;                   /* in the origin's idle list */
  hop_conn *idle_prev, *idle_next;
  int h1_keepalive;
  int h1_reused;                 /* served a response before the current one */
  size_t h1_resp_bytes;          /* response bytes seen for the current call */
  uint64_t bytes_in;
  /* timing */
  uint64_t connected_ms, last_recv_ms, idle_since_ms, age_deadline_ms;
  size_t write_pending;          /* bytes handed to uv_write, not yet written */
  hop_h2_mem ngmem;              /* the session's allocator (its large blocks in a page region) */
  int ob_idle;                   /* the last nghttp2_session_mem_send returned 0 */
  int h2_sent;                   /* frames written since the last tick: not idle */
};

struct hop_origin {
  hop_origin *next;
  hop_origin *pump_next;         /* client's deferred pump list */
  int pump_scheduled;
  hop_client *client;
  char *host;
  uint16_t port;
  hop_http_mode mode;            /* the key's protocol */
  int learned_h1;                /* AUTO origin answered HTTP/1.1 */
  /* addresses */
  struct sockaddr_storage *addrs;
  size_t naddrs, rr;
  int numeric;
  int resolving;
  uint64_t resolved_ms;
  uv_getaddrinfo_t gai;
  /* wait queue (FIFO; retries go to the front) */
  hop_call *q_head, *q_tail;
  size_t q_len;
  hop_call *r_head, *r_tail;     /* calls waiting out a retry backoff */
  /* connections */
  hop_conn *conns;
  uint32_t limit;                /* learned MAX_CONCURRENT_STREAMS; 0 = not yet known */
  hop_conn *idle_head, *idle_tail; /* h1 idle pool */
  size_t nidle;
  /* dial backoff */
  unsigned dial_failures;
  size_t addr_failures;          /* consecutive failed dials across the address list */
  uint64_t backoff_until_ms;
  uv_timer_t backoff_timer;
  int backoff_armed;
};

struct hop_client {
  hop_client_config cfg;
  uv_loop_t *loop;
  uv_loop_t own_loop;
  int own_thread;
  uv_thread_t thread;
  uv_thread_t loop_tid;         /* the loop's thread (any thread reads) */
  hop_mailbox mb;
  uv_async_t stop_async;
  uv_prepare_t prep;
  uv_check_t check;
  uv_timer_t tick;
  int kicked;
  int handles_closed;
  uv_sem_t started;  int shutting_down;
  int freeing;                  /* loop mode: free the struct when handles are closed */
  int open_handles;
  int in_drain;
  hop_origin *origins;
  hop_conn *dirty;
  hop_origin *pump_list;
  hop_call *done_head, *done_tail;
  char rbuf[65536];             /* read buffer: one loop thread, reads are synchronous */
  /* counters: any thread reads */
  _Atomic uint64_t st_dials_started, st_dials_failed, st_open_h2, st_open_h1, st_in_flight,
      st_queued, st_started, st_ok, st_failed, st_goaways, st_retries, st_pings_timed_out;
  atomic_flag hist_lock;        /* a spin lock: held for one record, or one copy by a reader */
  hop_hist *hist;
  hop_waker waker;              /* wakes blocking callers off the loop thread */
  /* loop thread: per-call resources kept for reuse */
  deadline_list dl[HOP_DEADLINE_CLASSES];
  uv_timer_t dl_timer;
  uint64_t dl_armed_ms;         /* when dl_timer fires; 0 = not armed */
  hop_call *call_cache;         /* linked through done_next */
  size_t call_cache_len;
  /* the origin of the last target seen (a ref on it keeps the pointer meaningful): calls on
   * one prepared target skip the origin list's host compare */
  hop_target *last_target;
  hop_http_mode last_http;
  hop_origin *last_origin;
  hop_pool ngpool;              /* nghttp2 allocations of every session (h2/h2_mem.h);
                                   loop thread only */
  uint64_t drain_now_us;        /* the clock when this drain began completing calls: their */
  int drain_now_valid;          /* answers arrived before it (one clock read per batch) */
};

static inline void hist_lock(hop_client *c) {
  while (atomic_flag_test_and_set_explicit(&c->hist_lock, memory_order_acquire)) sched_yield();
}
static inline void hist_unlock(hop_client *c) {
  atomic_flag_clear_explicit(&c->hist_lock, memory_order_release);
}

#define ST_ADD(c, f, v) atomic_fetch_add_explicit(&(c)->f, (v), memory_order_relaxed)
#define ST_SUB(c, f, v) atomic_fetch_sub_explicit(&(c)->f, (v), memory_order_relaxed)

/* client.c */
void client_kick(hop_client *c);
void client_handle_closed(uv_handle_t *h); /* generic close callback for counted handles */
void client_handle_done(hop_client *c);    /* one counted handle or request finished */
int client_on_loop_thread(hop_client *c);

/* call.c */
void call_complete(hop_call *call, int err);     /* detaches and schedules the callback */
void call_run_completion(hop_call *call);        /* on the loop: fires the callback */
/* A call left its connection without an answer. |unprocessed| = the peer surely did not
 * act on it. Retries (front of the queue) or fails with |err|. */
void call_retry_or_fail(hop_call *call, int unprocessed, int err);
void call_reset_response(hop_call *call);
int call_arm_timer(hop_call *call);
/* Loop thread: routes into its origin; |fresh| = started on this thread just now. */
void call_on_start(hop_call *call, int fresh);
void call_on_cancel(hop_call *call, int err);    /* loop thread */
int hdr_list_add(hdr_list *l, const char *n, size_t nl, const char *v, size_t vl);
void hdr_list_free(hdr_list *l);
void hdr_list_clear(hdr_list *l);
void call_unref(hop_call *call); /* loop thread (the block may go to the client's cache) */
void call_cache_free(hop_client *c); /* client_destroy */
int deadline_init(hop_client *c);   /* the deadline timer, a counted handle */
void deadline_close(hop_client *c);

/* origin.c */
hop_origin *origin_get(hop_client *c, const char *host, uint16_t port, hop_http_mode mode);
void origin_enqueue(hop_origin *o, hop_call *call, int front);
void origin_dequeue(hop_origin *o, hop_call *call);
void origin_pump(hop_origin *o);
void origin_schedule_pump(hop_origin *o); /* pump after the current event */
/* 1 when the origin gave up: it backs off and failed its waiting calls with |err| */
int origin_dial_failed(hop_origin *o, int err);
void origin_dial_ok(hop_origin *o); /* a connection answered its first call */
void origin_learned_limit(hop_origin *o, uint32_t limit);
void origin_learned_h1(hop_origin *o);
int origin_effective_h2(const hop_origin *o);
void origin_free(hop_origin *o);
void origin_shutdown(hop_origin *o);
void origin_idle_remove(hop_origin *o, hop_conn *conn);
int origin_idle_put(hop_origin *o, hop_conn *conn); /* 0 kept idle, else caller closes */
void origin_retry_wait_add(hop_origin *o, hop_call *call);
void origin_retry_wait_remove(hop_origin *o, hop_call *call);
void origin_backoff(hop_origin *o);
void origin_tick(hop_origin *o, uint64_t now_ms); /* periodic re-resolve */
void conn_list_push(hop_conn *conn, hop_call *call);
void conn_list_remove(hop_conn *conn, hop_call *call);

/* conn.c */
int conn_dial(hop_origin *o, int proto); /* starts a dial; counted in dials_started */
void conn_close(hop_conn *conn, int err);
void conn_mark_dirty(hop_conn *conn);
void conn_flush(hop_conn *conn);
int conn_write(hop_conn *conn, const void *p, size_t n);
void conn_attach(hop_conn *conn, hop_call *call);
void conn_detach(hop_conn *conn, hop_call *call);
void conn_tick(hop_conn *conn, uint64_t now_ms);
size_t conn_free_slots(const hop_conn *conn);

/* conn_h2.c */
int h2_session_init(hop_conn *conn);
int h2_on_read(hop_conn *conn, const uint8_t *p, size_t n);
int h2_submit(hop_conn *conn, hop_call *call);
void h2_cancel(hop_conn *conn, hop_call *call);
int h2_flush(hop_conn *conn);
void h2_send_ping(hop_conn *conn);
void h2_tick(hop_conn *conn); /* the client's tick, on a ready h2c connection */
void h2_fail_calls(hop_conn *conn, int err);

/* conn_h1.c */
int h1_submit(hop_conn *conn, hop_call *call);
int h1_on_read(hop_conn *conn, const uint8_t *p, size_t n);
void h1_on_eof(hop_conn *conn);
void h1_fail_call(hop_conn *conn, int err);

#endif
