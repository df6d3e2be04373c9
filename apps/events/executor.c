/* The simulated executor (executor.h).
 *
 * Async mode: the calling thread runs one libuv loop that also carries the hop_client
 * (cfg.loop), so RPC completions, batcher callbacks and backoff timers all run here and the
 * reconciler state machines need no locks. The only foreign-thread callbacks are the
 * batcher's own completions of events that never left (deadline, send failure); those are
 * handed back through a mutex-guarded list and a uv_async.
 *
 * Per reconciler: next action -> for each event of its plan: encode -> Record -> wait ->
 * acknowledged: next event | failed: backoff timer -> re-emit (at most max_tries; past the
 * run deadline or the tries the action is abandoned, as a reconciler that keeps failing). */
#include "events/executor.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <uv.h>

#include "hopwire/client.h"
#include "hopwire/error.h"
#include "hopwire/rpc.h"

void hop_exec_config_init(hop_exec_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->target = "http://127.0.0.1:8092";
  cfg->actions = 1000;
  cfg->concurrency = 512;
  cfg->policy = HOP_BATCH_ADAPTIVE;
  cfg->batch_delay_us = -1;
  cfg->http = HOP_EXEC_H2C;
  cfg->mode = HOP_EXEC_ASYNC;
  cfg->record_timeout_ms = 30000;
  cfg->max_tries = 60;
  cfg->backoff_base_ms = 10;
  cfg->backoff_cap_ms = 1000;
  hop_evgen_config_init(&cfg->gen);
}

const char *hop_exec_http_name(hop_exec_http h) {
  switch (h) {
  case HOP_EXEC_H1_DEFAULT: return "h1-default";
  case HOP_EXEC_H1_POOL: return "h1-pool";
  case HOP_EXEC_H2C: return "h2c";
  }
  return "?";
}

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int64_t unix_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

static uint64_t xorshift(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

typedef struct exec exec;

typedef struct rec {
  exec *x;
  uint64_t action;
  unsigned seq, nev;
  hop_evgen_action gen; /* the action, prepared once for its events */
  uint32_t tries;
  uint64_t t0_us;
  uint64_t rng;
  uv_timer_t timer;
  struct rec *handoff_next; /* foreign-thread completions waiting for the loop */
  int handoff_err;
  size_t len;
  uint8_t buf[HOP_EVGEN_MAX_EVENT_BYTES + 8]; /* the event, or (--no-batch) the request */
  pthread_t thread;
  hop_hist *hist; /* threads mode: its own */
} rec;

struct exec {
  hop_exec_config cfg;
  hop_client *client;
  hop_event_batcher *batcher;
  uint64_t deadline_us;
  atomic_uint_fast64_t next_action;
  atomic_uint_fast64_t events, acked, records, errors, re_emits, rpcs;
  atomic_uint min_bytes, max_bytes;
  uint8_t *bitmap;
  uint64_t bits;
  hop_hist *hist; /* async: the loop's */
  /* async */
  uv_loop_t loop;
  uv_thread_t loop_tid;
  uv_async_t handoff_async;
  pthread_mutex_t handoff_mu;
  rec *handoff;
  uint32_t running;
  rec *recs;
};

static void set_acked(exec *x, uint64_t action, unsigned seq) {
  uint64_t bit = action * HOP_EVGEN_MAX_EVENTS + seq;
  if (bit >= x->bits) return;
  __atomic_fetch_or(&x->bitmap[bit >> 3], (uint8_t)(1u << (bit & 7)), __ATOMIC_RELAXED);
}

static void note_size(exec *x, unsigned len) {
  unsigned m = atomic_load(&x->min_bytes);
  while (len < m && !atomic_compare_exchange_weak(&x->min_bytes, &m, len)) {
  }
  m = atomic_load(&x->max_bytes);
  while (len > m && !atomic_compare_exchange_weak(&x->max_bytes, &m, len)) {
  }
}

static int past_deadline(exec *x) { return x->deadline_us && now_us() >= x->deadline_us; }

/* Backoff before try |tries| + 1: equal jitter over base * 2^(tries-1), capped. */
static uint64_t backoff_ms(exec *x, rec *r) {
  uint64_t d = x->cfg.backoff_base_ms;
  for (uint32_t i = 1; i < r->tries && d < x->cfg.backoff_cap_ms; i++) d *= 2;
  if (d > x->cfg.backoff_cap_ms) d = x->cfg.backoff_cap_ms;
  return d / 2 + (d > 1 ? xorshift(&r->rng) % (d / 2 + 1) : 0);
}

/* Takes the next action for |r|; 0 when there is none left. */
static int take_action(exec *x, rec *r) {
  if (past_deadline(x)) return 0;
  uint64_t a = atomic_fetch_add(&x->next_action, 1);
  if (a >= x->cfg.actions) return 0;
  r->action = a;
  r->seq = 0;
  hop_evgen_action_init(&r->gen, &x->cfg.gen, a);
  r->nev = r->gen.nev;
  return 1;
}

/* Encodes the current event; with --no-batch frames it as a RecordRequest of one. */
static int encode_current(exec *x, rec *r) {
  uint8_t *dst = x->cfg.no_batch ? r->buf + 3 : r->buf;
  int n = hop_evgen_action_encode(&r->gen, r->seq, unix_us(), dst, HOP_EVGEN_MAX_EVENT_BYTES);
  if (n < 0) return -1;
  note_size(x, (unsigned)n);
  r->tries = 0;
  atomic_fetch_add(&x->events, 1);
  if (!x->cfg.no_batch) {
    r->len = (size_t)n;
    return 0;
  }
  /* RecordRequest{events: [e]}: 0x0a varint(n) e; n < 1024 fits a 2-byte varint */
  size_t hdr = n < 128 ? 2 : 3;
  uint8_t *p = r->buf + 3 - hdr;
  p[0] = 0x0a;
  if (n < 128) {
    p[1] = (uint8_t)n;
  } else {
    p[1] = (uint8_t)(n | 0x80);
    p[2] = (uint8_t)(n >> 7);
  }
  if (p != r->buf) memmove(r->buf, p, hdr + (size_t)n);
  r->len = hdr + (size_t)n;
  return 0;
}

/* ---- async reconcilers ---- */
static void a_emit(rec *r);
static void a_next_event(rec *r);

static void a_finish(exec *x) {
  if (--x->running == 0) uv_stop(&x->loop);
}

static void a_next_action(rec *r) {
  exec *x = r->x;
  if (!take_action(x, r)) {
    a_finish(x);
    return;
  }
  a_next_event(r);
}

static void a_next_event(rec *r) {
  exec *x = r->x;
  if (encode_current(x, r)) { /* cannot happen with the generator's sizes */
    atomic_fetch_add(&x->errors, 1);
    a_next_action(r);
    return;
  }
  a_emit(r);
}

static void on_backoff(uv_timer_t *t) { a_emit(t->data); }

static void a_done(rec *r, int ok) {
  exec *x = r->x;
  hop_hist_record(x->hist, now_us() - r->t0_us);
  if (ok) {
    atomic_fetch_add(&x->acked, 1);
    set_acked(x, r->action, r->seq);
    if (++r->seq < r->nev)
      a_next_event(r);
    else
      a_next_action(r);
    return;
  }
  atomic_fetch_add(&x->errors, 1);
  if (r->tries >= x->cfg.max_tries || past_deadline(x)) {
    a_next_action(r); /* abandoned: the rest of this action is never produced */
    return;
  }
  uv_timer_start(&r->timer, on_backoff, backoff_ms(x, r), 0);
}

static void on_handoff(uv_async_t *a) {
  exec *x = a->data;
  pthread_mutex_lock(&x->handoff_mu);
  rec *list = x->handoff;
  x->handoff = NULL;
  pthread_mutex_unlock(&x->handoff_mu);
  while (list) {
    rec *next = list->handoff_next;
    a_done(list, list->handoff_err == HOP_OK);
    list = next;
  }
}

static void a_on_record(const hop_event_result *res, void *ud) {
  rec *r = ud;
  exec *x = r->x;
  uv_thread_t self = uv_thread_self();
  if (!uv_thread_equal(&self, &x->loop_tid)) { /* the batcher's thread: hand back */
    pthread_mutex_lock(&x->handoff_mu);
    r->handoff_err = res->err;
    r->handoff_next = x->handoff;
    x->handoff = r;
    pthread_mutex_unlock(&x->handoff_mu);
    uv_async_send(&x->handoff_async);
    return;
  }
  a_done(r, res->err == HOP_OK);
}

static void a_on_rpc(const hop_rpc_result *res, void *ud) {
  rec *r = ud;
  atomic_fetch_add(&r->x->rpcs, 1);
  a_done(r, res->code == HOP_CODE_OK);
}

static void a_emit(rec *r) {
  exec *x = r->x;
  if (r->tries++) atomic_fetch_add(&x->re_emits, 1);
  atomic_fetch_add(&x->records, 1);
  r->t0_us = now_us();
  int rc;
  if (x->cfg.no_batch) {
    hop_rpc_call_opts o;
    hop_rpc_call_opts_init(&o);
    o.base_url = x->cfg.target;
    o.procedure = HOP_EVENTS_RECORD_PROCEDURE;
    o.message = r->buf;
    o.message_len = r->len;
    o.timeout_ms = x->cfg.record_timeout_ms;
    rc = hop_rpc_call_start(x->client, &o, a_on_rpc, r, NULL);
  } else {
    rc = hop_event_record_async(x->batcher, r->buf, r->len, x->cfg.record_timeout_ms,
                                a_on_record, r);
  }
  if (rc != HOP_OK) a_done(r, 0); /* the callback never fires: fail now (backoff follows) */
}

static void on_start(uv_timer_t *t) {
  exec *x = t->data;
  for (uint32_t i = 0; i < x->cfg.concurrency; i++) a_next_action(&x->recs[i]);
}

static void close_cb(uv_handle_t *h) { (void)h; }

/* ---- threads ---- */
static void *t_main(void *arg) {
  rec *r = arg;
  exec *x = r->x;
  while (take_action(x, r)) {
    for (; r->seq < r->nev; r->seq++) {
      if (encode_current(x, r)) break;
      int ok = 0;
      while (!ok) {
        if (r->tries++) atomic_fetch_add(&x->re_emits, 1);
        atomic_fetch_add(&x->records, 1);
        uint64_t t0 = now_us();
        if (x->cfg.no_batch) {
          hop_rpc_call_opts o;
          hop_rpc_call_opts_init(&o);
          o.base_url = x->cfg.target;
          o.procedure = HOP_EVENTS_RECORD_PROCEDURE;
          o.message = r->buf;
          o.message_len = r->len;
          o.timeout_ms = x->cfg.record_timeout_ms;
          hop_rpc_result res;
          hop_rpc_call(x->client, &o, &res);
          ok = res.code == HOP_CODE_OK;
          hop_rpc_result_free(&res);
          atomic_fetch_add(&x->rpcs, 1);
        } else {
          ok = hop_event_record(x->batcher, r->buf, r->len, x->cfg.record_timeout_ms, NULL) ==
               HOP_OK;
        }
        hop_hist_record(r->hist, now_us() - t0);
        if (ok) break;
        atomic_fetch_add(&x->errors, 1);
        if (r->tries >= x->cfg.max_tries || past_deadline(x)) break;
        uint64_t ms = backoff_ms(x, r);
        struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
      }
      if (!ok) break; /* abandoned */
      atomic_fetch_add(&x->acked, 1);
      set_acked(x, r->action, r->seq);
    }
  }
  return NULL;
}

/* ---- run ---- */
static int make_client(exec *x, uv_loop_t *loop) {
  hop_client_config cc;
  hop_client_config_init(&cc);
  cc.loop = loop;
  switch (x->cfg.http) {
  case HOP_EXEC_H1_DEFAULT:
    cc.http = HOP_HTTP_H1;
    cc.max_idle_h1_per_origin = 2;
    break;
  case HOP_EXEC_H1_POOL:
    cc.http = HOP_HTTP_H1;
    cc.max_idle_h1_per_origin = 256;
    break;
  case HOP_EXEC_H2C: cc.http = HOP_HTTP_H2C; break;
  }
  /* every reconciler may wait on the origin at once */
  if (cc.max_queued_calls < x->cfg.concurrency * 2u) cc.max_queued_calls = x->cfg.concurrency * 2u;
  return hop_client_new(&x->client, &cc);
}

static int make_batcher(exec *x) {
  if (x->cfg.no_batch) return HOP_OK;
  hop_event_batcher_config bc;
  hop_event_batcher_config_init(&bc, x->cfg.policy);
  if (x->cfg.batch_max) bc.max_batch_events = x->cfg.batch_max;
  if (x->cfg.batch_delay_us >= 0) bc.max_delay_us = (uint64_t)x->cfg.batch_delay_us;
  if (x->cfg.max_inflight) bc.max_inflight = x->cfg.max_inflight;
  bc.flush_timeout_ms = x->cfg.record_timeout_ms;
  bc.client = x->client;
  bc.base_url = x->cfg.target;
  return hop_event_batcher_new(&x->batcher, &bc);
}

int hop_exec_run(const hop_exec_config *cfg, hop_exec_result *res) {
  if (!res) return HOP_EINVAL;
  memset(res, 0, sizeof(*res));
  if (!cfg || !cfg->target || strncmp(cfg->target, "http://", 7) || !cfg->concurrency ||
      !cfg->max_tries || !cfg->record_timeout_ms || cfg->http > HOP_EXEC_H2C ||
      cfg->concurrency > 100000 || cfg->actions > (UINT64_MAX / HOP_EVGEN_MAX_EVENTS) / 2)
    return HOP_EINVAL;
  exec *x = calloc(1, sizeof(*x));
  if (!x) return HOP_ENOMEM;
  x->cfg = *cfg;
  if (!x->cfg.backoff_cap_ms) x->cfg.backoff_cap_ms = 1;
  if (!x->cfg.backoff_base_ms) x->cfg.backoff_base_ms = 1;
  x->bits = cfg->actions * HOP_EVGEN_MAX_EVENTS;
  x->bitmap = calloc(1, (size_t)(x->bits / 8 + 1));
  x->recs = calloc(cfg->concurrency, sizeof(rec));
  x->hist = hop_hist_new();
  atomic_init(&x->min_bytes, UINT32_MAX);
  if (!x->bitmap || !x->recs || !x->hist) {
    free(x->bitmap);
    free(x->recs);
    hop_hist_free(x->hist);
    free(x);
    return HOP_ENOMEM;
  }
  for (uint32_t i = 0; i < cfg->concurrency; i++) {
    x->recs[i].x = x;
    x->recs[i].rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)i * 0xbf58476d1ce4e5b9ull) ^ now_us();
    if (!x->recs[i].rng) x->recs[i].rng = 1;
  }
  double cpu0 = cpu_seconds();
  uint64_t t0 = now_us();
  if (cfg->deadline_ms) x->deadline_us = t0 + cfg->deadline_ms * 1000u;
  int rc = HOP_OK;

  if (cfg->mode == HOP_EXEC_THREADS) {
    if ((rc = make_client(x, NULL)) || (rc = make_batcher(x))) goto out_client;
    uint32_t started = 0;
    for (; started < cfg->concurrency; started++) {
      rec *r = &x->recs[started];
      r->hist = hop_hist_new();
      pthread_attr_t at;
      pthread_attr_init(&at);
      pthread_attr_setstacksize(&at, 256u * 1024u);
      int e = !r->hist || pthread_create(&r->thread, &at, t_main, r);
      pthread_attr_destroy(&at);
      if (e) {
        hop_hist_free(r->hist);
        r->hist = NULL;
        rc = HOP_ENOMEM;
        break;
      }
    }
    for (uint32_t i = 0; i < started; i++) {
      pthread_join(x->recs[i].thread, NULL);
      hop_hist_merge(x->hist, x->recs[i].hist);
      hop_hist_free(x->recs[i].hist);
    }
  } else {
    if (uv_loop_init(&x->loop)) {
      rc = HOP_ENOMEM;
      goto out_client;
    }
    x->loop_tid = uv_thread_self();
    pthread_mutex_init(&x->handoff_mu, NULL);
    uv_async_init(&x->loop, &x->handoff_async, on_handoff);
    x->handoff_async.data = x;
    for (uint32_t i = 0; i < cfg->concurrency; i++) {
      uv_timer_init(&x->loop, &x->recs[i].timer);
      x->recs[i].timer.data = &x->recs[i];
    }
    uv_timer_t start;
    uv_timer_init(&x->loop, &start);
    start.data = x;
    x->running = cfg->concurrency;
    if ((rc = make_client(x, &x->loop)) == HOP_OK && (rc = make_batcher(x)) == HOP_OK) {
      uv_timer_start(&start, on_start, 0, 0);
      uv_run(&x->loop, UV_RUN_DEFAULT); /* until the last reconciler stops */
    }
    /* every record completed: no batch is active, so the batcher stops at once */
    if (x->batcher) {
      hop_event_batcher_stats bs;
      hop_event_batcher_get_stats(x->batcher, &bs);
      res->rpcs = bs.batches_sent;
      res->max_batch = bs.max_batch;
      hop_event_batcher_free(x->batcher);
      x->batcher = NULL;
    }
    if (x->client) {
      hop_client_stats cs;
      hop_client_get_stats(x->client, &cs);
      res->dials = cs.dials_started;
      hop_client_free(x->client);
      x->client = NULL;
    }
    uv_close((uv_handle_t *)&start, close_cb);
    uv_close((uv_handle_t *)&x->handoff_async, close_cb);
    for (uint32_t i = 0; i < cfg->concurrency; i++)
      uv_close((uv_handle_t *)&x->recs[i].timer, close_cb);
    uv_run(&x->loop, UV_RUN_DEFAULT);
    uv_loop_close(&x->loop);
    pthread_mutex_destroy(&x->handoff_mu);
  }

out_client:
  if (x->batcher) {
    hop_event_batcher_stats bs;
    hop_event_batcher_get_stats(x->batcher, &bs);
    res->rpcs = bs.batches_sent;
    res->max_batch = bs.max_batch;
    hop_event_batcher_free(x->batcher);
  }
  if (x->client) {
    hop_client_stats cs;
    hop_client_get_stats(x->client, &cs);
    res->dials = cs.dials_started;
    hop_client_free(x->client);
  }
  res->elapsed_s = (now_us() - t0) / 1e6;
  res->cpu_s = cpu_seconds() - cpu0;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  res->rss_kib = (uint64_t)ru.ru_maxrss;
  res->actions = cfg->actions;
  for (uint64_t a = 0; a < cfg->actions; a++) res->planned += hop_evgen_action_events(&cfg->gen, a);
  res->events = atomic_load(&x->events);
  res->acknowledged = atomic_load(&x->acked);
  res->records = atomic_load(&x->records);
  res->errors = atomic_load(&x->errors);
  res->re_emits = atomic_load(&x->re_emits);
  if (cfg->no_batch) {
    res->rpcs = atomic_load(&x->rpcs);
    res->max_batch = res->rpcs ? 1 : 0;
  }
  res->mean_batch = res->rpcs ? (double)res->records / (double)res->rpcs : 0;
  res->events_per_s = res->elapsed_s > 0 ? res->acknowledged / res->elapsed_s : 0;
  res->min_event_bytes = res->events ? atomic_load(&x->min_bytes) : 0;
  res->max_event_bytes = atomic_load(&x->max_bytes);
  hop_hist_summary(x->hist, &res->latency);
  res->acked = x->bitmap;
  res->acked_bits = x->bits;
  res->hist = x->hist; /* the caller's now (latency CDFs) */
  free(x->recs);
  free(x);
  if (rc != HOP_OK) {
    hop_exec_result_free(res);
    memset(res, 0, sizeof(*res));
  }
  return rc;
}

int hop_exec_acked(const hop_exec_result *res, uint64_t action, unsigned seq) {
  if (!res->acked || seq >= HOP_EVGEN_MAX_EVENTS) return 0;
  uint64_t bit = action * HOP_EVGEN_MAX_EVENTS + seq;
  if (bit >= res->acked_bits) return 0;
  return (res->acked[bit >> 3] >> (bit & 7)) & 1;
}

void hop_exec_result_free(hop_exec_result *res) {
  if (!res) return;
  free(res->acked);
  res->acked = NULL;
  res->acked_bits = 0;
  hop_hist_free(res->hist);
  res->hist = NULL;
}
