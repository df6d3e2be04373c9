/* Event batcher: recorders from any thread, one batcher thread running the flush policy,
 * completions on the transport's thread.
 *
 * Wire: a batch's request body is a flyteidl2.workflow.RecordRequest, whose only field is
 * `repeated ActionEvent events = 1`. Protobuf encodes each element of a repeated message
 * field as its own length-delimited record: tag (1 << 3 | wire type 2) = 0x0a, the varint
 * length, then the serialized ActionEvent. So the body is the concatenation of
 * 0x0a <varint len> <event bytes> per event, byte for byte what protoc would produce; the
 * events themselves arrive already encoded (protoc-c, by the caller).
 *
 * State (under b->mu): a FIFO of queued events (capped by queue_depth and max_queue_bytes),
 * the number of RPCs in flight, and the batches still completing. An event lives in exactly
 * one place (queue or one batch), and whoever removes it from there completes it: the batch
 * completion, the deadline sweep, or shutdown. That is the exactly-once rule.
 *
 * Policy (batcher thread, see next_action):
 *   FLYTE    send when inflight < flush_workers and (max_batch_events queued, or the body
 *            cap reached, or max_delay_us since the batch began collecting).
 *   ADAPTIVE send when inflight < max_inflight, at once with what is queued (or after the
 *            optional linger, applied only while RPCs are in flight); otherwise events
 *            accumulate and leave, up to the caps, when an RPC completes. A queue larger
 *            than ADAPTIVE_MIN_SPLIT is spread over the free slots (see take_batch).
 * Sends and callbacks run without the lock, so callbacks can record again; a record never
 * sends nor completes anything itself, so there is no recursion. One shortcut: ADAPTIVE over
 * hop_rpc, a completing batch keeps its slot through its callbacks, then sends what they
 * recorded from its own thread (see batch_done): at low load no event waits for the batcher
 * thread to wake (measured: 1 reconciler, CPU per event as a direct RPC's, half of what the
 * hop cost). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "hopwire/error.h"
#include "hopwire/events.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EV_MIN_BATCH_BYTES 16
#define EV_MAX_TIMEOUT_MS (30ull * 24 * 3600 * 1000) /* deadlines are clamped to 30 days */

typedef struct ev {
  struct ev *next;
  hop_event_record_cb cb;
  void *user_data;
  uint64_t deadline_us;
  size_t len;   /* event bytes */
  size_t framed; /* 1 + varint(len) + len: its share of the body */
  uint8_t data[];
} ev;

typedef struct batch {
  hop_event_batcher *b;
  ev *head;
  uint32_t n;
  size_t bytes;
} batch;

struct hop_event_batcher {
  hop_event_batcher_config cfg;
  char *base_url, *procedure;
  uint32_t cap_inflight; /* flush_workers (FLYTE) or max_inflight (ADAPTIVE) */

  pthread_mutex_t mu;
  pthread_cond_t wake;  /* the batcher thread */
  pthread_cond_t room;  /* recorders waiting for queue room */
  pthread_cond_t idle;  /* free: batches all completed, room waiters gone */
  pthread_t thread;

  ev *qhead, *qtail;
  uint32_t qcount;
  size_t qbytes;           /* framed bytes queued */
  uint64_t collect_start_us; /* FLYTE: when the batch at the queue's head began collecting */
  uint64_t min_deadline_us;  /* lower bound of queued deadlines (UINT64_MAX: none) */
  uint32_t inflight;       /* RPC slots taken */
  uint32_t active;         /* batches sent and not yet fully completed (callbacks included) */
  uint32_t room_waiters;
  int batcher_waiting;
  uint64_t wake_at_us;     /* when the waiting batcher thread wakes by itself (UINT64_MAX) */
  int stopping;

  hop_event_batcher_stats st;
};

/* Depth of batcher callbacks on this thread: a recorder there must not block. */
static _Thread_local int tl_in_cb;

void hop_event_batcher_config_init(hop_event_batcher_config *cfg, hop_batch_policy policy) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->policy = policy;
  cfg->max_batch_events = 400;
  cfg->max_batch_bytes = 4u * 1024u * 1024u - 64u * 1024u;
  cfg->max_delay_us = policy == HOP_BATCH_FLYTE ? 25000 : 0;
  cfg->flush_workers = 32;
  cfg->max_inflight = 4;
  cfg->queue_depth = 8192;
  cfg->flush_timeout_ms = 30000;
  cfg->procedure = HOP_EVENTS_RECORD_PROCEDURE;
  cfg->protocol = HOP_RPC_CONNECT;
  cfg->max_queue_bytes = 64u * 1024u * 1024u;
}

static size_t varint_len(size_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

static uint8_t *put_varint(uint8_t *p, size_t v) {
  while (v >= 0x80) {
    *p++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *p++ = (uint8_t)v;
  return p;
}

static void abs_timespec(uint64_t at_us, struct timespec *ts) {
  ts->tv_sec = (time_t)(at_us / 1000000u);
  ts->tv_nsec = (long)(at_us % 1000000u) * 1000;
}

/* ---- completion ---- */

/* Completes a chain of events (lock not held). */
static void complete_chain(ev *e, int err, hop_code code, const char *msg, uint32_t batch_n) {
  hop_event_result r = {.err = err, .code = code, .message = msg ? msg : "",
                        .batch_events = batch_n};
  tl_in_cb++;
  while (e) {
    ev *next = e->next;
    e->cb(&r, e->user_data);
    free(e);
    e = next;
  }
  tl_in_cb--;
}

static batch *take_batch(hop_event_batcher *b, uint64_t now);
static int next_action(hop_event_batcher *b, uint64_t now, uint64_t *until_us);
static void send_taken(hop_event_batcher *b, batch *bt, uint64_t now);

/* Inline sends from a completing thread never nest (a send that fails at once completes
 * its batch right there; that completion leaves the next send to the batcher thread). */
static _Thread_local int tl_send_depth;
/* The batcher whose completion on this thread will send what its callbacks record: records
 * into it need not wake the batcher thread. */
static _Thread_local hop_event_batcher *tl_inline_b;

static void batch_done(void *ctx, int err, hop_code code, const char *message) {
  batch *bt = ctx;
  hop_event_batcher *b = bt->b;
  int rerr = err;
  hop_code rcode = code;
  if (err == HOP_OK && code != HOP_CODE_OK) rerr = HOP_ERPC;
  if (err != HOP_OK) rcode = hop_code_from_err(err);
  /* ADAPTIVE over hop_rpc: keep the RPC slot through the callbacks, so what they record
   * leaves together, sent from this thread at once (no hop to the batcher thread: a lone
   * event's cost at low load). hop_rpc never completes inside the start call, so this
   * cannot recurse; a custom send may, so it keeps the batcher-thread path. */
  int inline_send = !b->cfg.send && b->cfg.policy == HOP_BATCH_ADAPTIVE && tl_send_depth == 0;
  pthread_mutex_lock(&b->mu);
  if (!inline_send) b->inflight--; /* free the slot first: accumulated events may leave now */
  if (rerr == HOP_OK) {
    b->st.batches_ok++;
    b->st.acknowledged += bt->n;
  } else {
    b->st.batches_failed++;
    b->st.failed += bt->n;
  }
  if (!inline_send && b->qcount && b->batcher_waiting) pthread_cond_signal(&b->wake);
  pthread_mutex_unlock(&b->mu);

  hop_event_batcher *outer = tl_inline_b;
  if (inline_send) tl_inline_b = b;
  complete_chain(bt->head, rerr, rcode, message, bt->n);
  tl_inline_b = outer;
  free(bt);

  batch *next = NULL;
  uint64_t now = 0, until;
  pthread_mutex_lock(&b->mu);
  if (inline_send) {
    b->inflight--;
    now = hop_now_us();
    if (!b->stopping && next_action(b, now, &until)) next = take_batch(b, now);
    /* what a split left (or all, when nothing was taken) is the batcher thread's */
    if (b->qcount && b->batcher_waiting) pthread_cond_signal(&b->wake);
  }
  /* |next| holds its own reference (active), so |b| outlives this function's last touch */
  if (--b->active == 0 && b->stopping) pthread_cond_broadcast(&b->idle);
  pthread_mutex_unlock(&b->mu);
  if (next) {
    tl_send_depth++;
    send_taken(b, next, now);
    tl_send_depth--;
  }
}

/* ---- transport ---- */

static void on_rpc_done(const hop_rpc_result *res, void *user_data) {
  if (res->code == HOP_CODE_OK)
    batch_done(user_data, HOP_OK, HOP_CODE_OK, "");
  else if (res->err == HOP_OK)
    batch_done(user_data, HOP_OK, res->code, res->error_message);
  else
    batch_done(user_data, res->err, res->code, res->error_message);
}

static int send_batch(hop_event_batcher *b, batch *bt, const uint8_t *body, size_t len,
                      uint64_t timeout_ms) {
  if (b->cfg.send)
    return b->cfg.send(b->cfg.send_user_data, body, len, timeout_ms, batch_done, bt);
  hop_rpc_call_opts o;
  hop_rpc_call_opts_init(&o);
  o.base_url = b->base_url;
  o.procedure = b->procedure;
  o.protocol = b->cfg.protocol;
  o.message = body;
  o.message_len = len;
  o.timeout_ms = timeout_ms;
  return hop_rpc_call_start(b->cfg.client, &o, on_rpc_done, bt, NULL);
}

/* Encodes and sends a batch taken off the queue (lock not held). On a send error the batch
 * completes at once, with that error. */
static void send_taken(hop_event_batcher *b, batch *bt, uint64_t now) {
  /* The RPC deadline: the flush timeout, but no later than the last recorder's. */
  uint64_t latest = 0;
  for (ev *e = bt->head; e; e = e->next)
    if (e->deadline_us > latest) latest = e->deadline_us;
  uint64_t timeout_ms = b->cfg.flush_timeout_ms;
  uint64_t left_ms = latest > now ? (latest - now + 999) / 1000 : 1;
  if (left_ms < timeout_ms) timeout_ms = left_ms;
  int rc = HOP_ENOMEM;
  uint8_t *body = malloc(bt->bytes ? bt->bytes : 1);
  if (body) {
    uint8_t *p = body;
    for (ev *e = bt->head; e; e = e->next) {
      *p++ = 0x0a; /* field 1, wire type 2 */
      p = put_varint(p, e->len);
      memcpy(p, e->data, e->len);
      p += e->len;
    }
    rc = send_batch(b, bt, body, bt->bytes, timeout_ms); /* bt may be gone when it returns */
    free(body);
  }
  if (rc != HOP_OK) batch_done(bt, rc, hop_code_from_err(rc), hop_strerror(rc));
}

/* ---- batcher thread ---- */

/* Removes queued events whose deadline passed onto *expired (lock held). */
static void sweep_expired(hop_event_batcher *b, uint64_t now, ev **expired) {
  uint64_t min = UINT64_MAX;
  ev **pp = &b->qhead, *last = NULL;
  while (*pp) {
    ev *e = *pp;
    if (e->deadline_us <= now) {
      *pp = e->next;
      b->qcount--;
      b->qbytes -= e->framed;
      b->st.failed++;
      e->next = *expired;
      *expired = e;
    } else {
      if (e->deadline_us < min) min = e->deadline_us;
      last = e;
      pp = &e->next;
    }
  }
  b->qtail = last;
  b->min_deadline_us = min;
  if (b->room_waiters) pthread_cond_broadcast(&b->room);
}

/* ADAPTIVE splits a queue over its free RPC slots in batches of at least this many events
 * (measured, 512 reconcilers into events-proxy + run-service + SQLite: one batch per burst
 * ~50k events/s; bursts in batches of 64-172 events 60-74k). */
#define ADAPTIVE_MIN_SPLIT 64

/* Takes up to the caps off the queue into a new batch (lock held). NULL if out of memory. */
static batch *take_batch(hop_event_batcher *b, uint64_t now) {
  batch *bt = malloc(sizeof(*bt));
  if (!bt) return NULL;
  bt->b = b;
  bt->head = NULL;
  bt->n = 0;
  bt->bytes = 0;
  ev **tail = &bt->head;
  uint32_t limit = b->cfg.max_batch_events;
  if (b->cfg.policy == HOP_BATCH_ADAPTIVE) {
    /* Under load, what is queued is spread over the free RPC slots (at least
     * ADAPTIVE_MIN_SPLIT events each): a burst then travels as a few batches one behind the
     * other, so each hop (proxy, run-service, its writer) works on one while the next is on
     * the wire, instead of the whole burst waiting for one batch per stage. */
    uint32_t free_slots = b->cap_inflight > b->inflight ? b->cap_inflight - b->inflight : 1;
    if (free_slots > 1 && b->qcount > ADAPTIVE_MIN_SPLIT) {
      size_t share = (b->qcount + free_slots - 1) / free_slots;
      if (share < ADAPTIVE_MIN_SPLIT) share = ADAPTIVE_MIN_SPLIT;
      if (share < limit) limit = (uint32_t)share;
    }
  }
  while (b->qhead && bt->n < limit &&
         bt->bytes + b->qhead->framed <= b->cfg.max_batch_bytes) {
    ev *e = b->qhead;
    b->qhead = e->next;
    b->qcount--;
    b->qbytes -= e->framed;
    e->next = NULL;
    *tail = e;
    tail = &e->next;
    bt->n++;
    bt->bytes += e->framed;
  }
  if (!b->qhead) {
    b->qtail = NULL;
    b->min_deadline_us = UINT64_MAX;
  }
  b->collect_start_us = now; /* what is left begins a new batch now (Flyte's collector) */
  b->inflight++;
  b->active++;
  b->st.batches_sent++;
  if (bt->n > b->st.max_batch) b->st.max_batch = bt->n;
  if (b->room_waiters) pthread_cond_broadcast(&b->room);
  return bt;
}

/* 1 when the queue holds a full batch (by count or by body bytes). */
static int queue_full_batch(const hop_event_batcher *b) {
  if (b->qcount >= b->cfg.max_batch_events) return 1;
  return b->qbytes >= b->cfg.max_batch_bytes; /* next event would not fit anyway */
}

/* Decides under the lock: 1 = send a batch now; 0 = sleep until *until_us (UINT64_MAX:
 * until signalled). */
static int next_action(hop_event_batcher *b, uint64_t now, uint64_t *until_us) {
  *until_us = b->min_deadline_us;
  if (!b->qcount || b->inflight >= b->cap_inflight) return 0;
  uint64_t ready_at;
  if (b->cfg.policy == HOP_BATCH_FLYTE) {
    if (queue_full_batch(b)) return 1;
    ready_at = b->collect_start_us + b->cfg.max_delay_us;
  } else {
    if (b->inflight == 0 || b->cfg.max_delay_us == 0 || queue_full_batch(b)) return 1;
    ready_at = b->collect_start_us + b->cfg.max_delay_us;
  }
  if (ready_at <= now) return 1;
  if (ready_at < *until_us) *until_us = ready_at;
  return 0;
}

static void *batcher_main(void *arg) {
  hop_event_batcher *b = arg;
  pthread_setname_np(pthread_self(), "hop-batcher");
  pthread_mutex_lock(&b->mu);
  for (;;) {
    if (b->stopping) break;
    uint64_t now = hop_now_us();
    if (b->min_deadline_us <= now) {
      ev *expired = NULL;
      sweep_expired(b, now, &expired);
      if (expired) {
        pthread_mutex_unlock(&b->mu);
        complete_chain(expired, HOP_ETIMEDOUT, HOP_CODE_DEADLINE_EXCEEDED,
                       "event deadline passed while queued", 0);
        pthread_mutex_lock(&b->mu);
        continue;
      }
    }
    uint64_t until;
    if (next_action(b, now, &until)) {
      batch *bt = take_batch(b, now);
      if (!bt) { /* retry after a short pause rather than failing events for a transient ENOMEM */
        until = now + 1000;
      } else {
        pthread_mutex_unlock(&b->mu);
        send_taken(b, bt, now);
        pthread_mutex_lock(&b->mu);
        continue;
      }
    }
    b->batcher_waiting = 1;
    b->wake_at_us = until;
    if (until == UINT64_MAX) {
      pthread_cond_wait(&b->wake, &b->mu);
    } else {
      struct timespec ts;
      abs_timespec(until, &ts);
      pthread_cond_timedwait(&b->wake, &b->mu, &ts);
    }
    b->batcher_waiting = 0;
  }
  /* Shutdown: what is still queued fails; batches in flight complete through their RPC. */
  ev *left = b->qhead;
  b->st.failed += b->qcount;
  b->qhead = b->qtail = NULL;
  b->qcount = 0;
  b->qbytes = 0;
  if (b->room_waiters) pthread_cond_broadcast(&b->room);
  pthread_mutex_unlock(&b->mu);
  complete_chain(left, HOP_ESHUTDOWN, HOP_CODE_UNAVAILABLE, "event batcher shut down", 0);
  return NULL;
}

/* ---- public ---- */

int hop_event_batcher_new(hop_event_batcher **out, const hop_event_batcher_config *cfg) {
  if (!out || !cfg) return HOP_EINVAL;
  *out = NULL;
  if (cfg->policy != HOP_BATCH_FLYTE && cfg->policy != HOP_BATCH_ADAPTIVE) return HOP_EINVAL;
  if (!cfg->max_batch_events || cfg->max_batch_bytes < EV_MIN_BATCH_BYTES || !cfg->queue_depth ||
      !cfg->flush_timeout_ms || cfg->flush_timeout_ms > EV_MAX_TIMEOUT_MS || !cfg->max_queue_bytes)
    return HOP_EINVAL;
  if (cfg->policy == HOP_BATCH_FLYTE ? !cfg->flush_workers : !cfg->max_inflight) return HOP_EINVAL;
  if (!cfg->send && (!cfg->client || !cfg->base_url)) return HOP_EINVAL;
  if (!cfg->send && cfg->protocol &&
      (cfg->protocol < HOP_RPC_CONNECT || cfg->protocol > HOP_RPC_GRPC_WEB))
    return HOP_EINVAL;
  const char *proc = cfg->procedure ? cfg->procedure : HOP_EVENTS_RECORD_PROCEDURE;
  if (proc[0] != '/') return HOP_EINVAL;

  hop_event_batcher *b = calloc(1, sizeof(*b));
  if (!b) return HOP_ENOMEM;
  b->cfg = *cfg;
  if (!b->cfg.protocol) b->cfg.protocol = HOP_RPC_CONNECT;
  b->cap_inflight = cfg->policy == HOP_BATCH_FLYTE ? cfg->flush_workers : cfg->max_inflight;
  b->procedure = strdup(proc);
  b->base_url = cfg->base_url ? strdup(cfg->base_url) : NULL;
  if (!b->procedure || (cfg->base_url && !b->base_url)) goto nomem;
  b->cfg.base_url = b->base_url;
  b->cfg.procedure = b->procedure;
  b->min_deadline_us = UINT64_MAX;

  pthread_condattr_t ca;
  if (pthread_condattr_init(&ca)) goto nomem;
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* hop_now_us's clock */
  pthread_mutex_init(&b->mu, NULL);
  pthread_cond_init(&b->wake, &ca);
  pthread_cond_init(&b->room, &ca);
  pthread_cond_init(&b->idle, &ca);
  pthread_condattr_destroy(&ca);
  if (pthread_create(&b->thread, NULL, batcher_main, b)) {
    pthread_cond_destroy(&b->wake);
    pthread_cond_destroy(&b->room);
    pthread_cond_destroy(&b->idle);
    pthread_mutex_destroy(&b->mu);
    goto nomem;
  }
  *out = b;
  return HOP_OK;
nomem:
  free(b->procedure);
  free(b->base_url);
  free(b);
  return HOP_ENOMEM;
}

int hop_event_record_async(hop_event_batcher *b, const void *event, size_t len,
                           uint64_t timeout_ms, hop_event_record_cb cb, void *user_data) {
  if (!b || !cb || (len && !event)) return HOP_EINVAL;
  if (len > SIZE_MAX / 2) return HOP_ETOOBIG;
  size_t framed = 1 + varint_len(len) + len;
  if (framed > b->cfg.max_batch_bytes || framed > b->cfg.max_queue_bytes) return HOP_ETOOBIG;
  ev *e = malloc(sizeof(*e) + len);
  if (!e) return HOP_ENOMEM;
  e->next = NULL;
  e->cb = cb;
  e->user_data = user_data;
  e->len = len;
  e->framed = framed;
  if (len) memcpy(e->data, event, len);
  uint64_t now = hop_now_us();
  uint64_t tmo = timeout_ms ? timeout_ms : b->cfg.flush_timeout_ms;
  if (tmo > EV_MAX_TIMEOUT_MS) tmo = EV_MAX_TIMEOUT_MS; /* no overflow of the deadline */
  e->deadline_us = now + tmo * 1000u;

  pthread_mutex_lock(&b->mu);
  while (!b->stopping &&
         (b->qcount >= b->cfg.queue_depth || b->qbytes + framed > b->cfg.max_queue_bytes)) {
    /* Inside a batcher callback we are on the thread that completes batches: waiting
     * there for room could wait on ourselves. */
    if (tl_in_cb || hop_now_us() >= e->deadline_us) {
      pthread_mutex_unlock(&b->mu);
      free(e);
      return HOP_EQUEUEFULL;
    }
    struct timespec ts;
    abs_timespec(e->deadline_us, &ts);
    b->room_waiters++;
    pthread_cond_timedwait(&b->room, &b->mu, &ts);
    if (--b->room_waiters == 0 && b->stopping) pthread_cond_broadcast(&b->idle);
  }
  if (b->stopping) {
    pthread_mutex_unlock(&b->mu);
    free(e);
    return HOP_ESHUTDOWN;
  }
  if (b->qtail)
    b->qtail->next = e;
  else {
    b->qhead = e;
    b->collect_start_us = now;
  }
  b->qtail = e;
  b->qcount++;
  b->qbytes += framed;
  if (e->deadline_us < b->min_deadline_us) b->min_deadline_us = e->deadline_us;
  b->st.recorded++;
  /* Wake the batcher only when the policy may act on this event: it started a batch's timer
   * (FLYTE), filled a batch, found a free RPC slot (ADAPTIVE), or its deadline comes before
   * the batcher's next wake-up (the sweep must run then); and not when this thread is
   * completing a batch that sends (or signals) right after its callbacks. */
  if (b->batcher_waiting && tl_inline_b != b &&
      (b->qcount == 1 || queue_full_batch(b) || e->deadline_us < b->wake_at_us ||
       (b->cfg.policy == HOP_BATCH_ADAPTIVE && b->inflight < b->cap_inflight)))
    pthread_cond_signal(&b->wake);
  pthread_mutex_unlock(&b->mu);
  return HOP_OK;
}

/* ---- blocking record: a futex word on the caller's stack ---- */
typedef struct sync_wait {
  atomic_uint done;
  int err;
  hop_code code;
} sync_wait;

static void sync_cb(const hop_event_result *r, void *user_data) {
  sync_wait *w = user_data;
  w->err = r->err;
  w->code = r->code;
  atomic_store_explicit(&w->done, 1, memory_order_release);
  /* A wake after the waiter returned (it saw done without sleeping) hits a dead stack word
   * at worst: futex waiters tolerate spurious wake-ups. */
  syscall(SYS_futex, &w->done, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

int hop_event_record(hop_event_batcher *b, const void *event, size_t len, uint64_t timeout_ms,
                     hop_code *code_out) {
  if (code_out) *code_out = HOP_CODE_UNKNOWN;
  if (tl_in_cb) return HOP_ESTATE; /* would block the thread that completes batches */
  sync_wait w;
  atomic_init(&w.done, 0);
  w.err = HOP_OK;
  w.code = HOP_CODE_OK;
  int rc = hop_event_record_async(b, event, len, timeout_ms, sync_cb, &w);
  if (rc) {
    if (code_out) *code_out = hop_code_from_err(rc);
    return rc;
  }
  while (atomic_load_explicit(&w.done, memory_order_acquire) == 0)
    syscall(SYS_futex, &w.done, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
  if (code_out) *code_out = w.code;
  return w.err;
}

void hop_event_batcher_get_stats(hop_event_batcher *b, hop_event_batcher_stats *out) {
  pthread_mutex_lock(&b->mu);
  *out = b->st;
  out->queued = b->qcount;
  out->inflight = b->inflight;
  pthread_mutex_unlock(&b->mu);
}

void hop_event_batcher_free(hop_event_batcher *b) {
  if (!b) return;
  pthread_mutex_lock(&b->mu);
  b->stopping = 1;
  pthread_cond_broadcast(&b->wake);
  pthread_cond_broadcast(&b->room);
  pthread_mutex_unlock(&b->mu);
  pthread_join(b->thread, NULL); /* it fails what is queued */
  pthread_mutex_lock(&b->mu);
  while (b->active || b->room_waiters) pthread_cond_wait(&b->idle, &b->mu);
  pthread_mutex_unlock(&b->mu);
  pthread_cond_destroy(&b->wake);
  pthread_cond_destroy(&b->room);
  pthread_cond_destroy(&b->idle);
  pthread_mutex_destroy(&b->mu);
  free(b->procedure);
  free(b->base_url);
  free(b);
}
