/* hopwire bench: the load generator. One fresh hop_client per mode (so its cold start is
 * part of the figures), driven either by C calls kept in flight from the client's loop
 * thread (async) or by C threads each looping the blocking call (blocking).
 *
 * Phases: WARM (load, nothing recorded but dials/CPU/RSS) -> MEASURE (completions recorded)
 * -> STOP (no new calls; in-flight ones drain, bounded). The thread calling
 * hop_bench_run_mode() drives time; callers only read the phase. */
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"
#include "hopwire/client.h"
#include "hopwire/error.h"
#include "hopwire/stats.h"

enum { PHASE_WARM = 0, PHASE_MEASURE = 1, PHASE_STOP = 2 };

#define DRAIN_MAX_US (5ull * 1000000ull) /* in-flight calls get this long after STOP */
#define TICK_US 10000ull                 /* the driver's clock granularity */
#define SAMPLE_US 250000ull              /* progress and RSS samples */
#define HEAP_US 50000ull                 /* heap samples after the first second: mallinfo2
                                            walks every free list, so not each tick (a
                                            callgrind count paid ~50 a call); every tick
                                            before, so a short run still sees its peak */
#define HEAP_EVERY_TICK_US 1000000ull
#define CALLER_STACK (256u * 1024u)      /* blocking callers: small stacks, 200 of them */

typedef struct runner runner;

typedef struct slot {
  runner *r;
  uint64_t t0;  /* start of the call in flight, us */
  uint64_t seq; /* global start order; the first C are the cold start */
} slot;

struct runner {
  const hop_bench_opts *o;
  hop_client *client;
  hop_call_opts call;
  hop_target *target; /* the URL, parsed once for every call */
  hop_header headers[2];
  uint8_t *body;
  uint64_t t_begin;

  _Atomic int phase;
  _Atomic int aborted;              /* no call succeeded after C failures: stop early */
  _Atomic uint64_t t_measure, t_end; /* phase flips, us */
  _Atomic uint64_t seq;              /* calls started */
  _Atomic uint64_t active;           /* async slots alive / caller threads running */
  _Atomic uint64_t inflight, inflight_max;
  _Atomic uint64_t busy;             /* async callbacks running (they may start a call) */
  _Atomic uint64_t ok_total, err_total;
  _Atomic uint64_t measured, measured_err; /* completions in MEASURE (errors among them) */
  _Atomic uint64_t cold_done;
  _Atomic uint64_t cold_dials, cold_t;

  pthread_mutex_t mu; /* guards first_error */
  atomic_flag hist_lock; /* guards the histograms: a spin lock, held for one record */
  hop_hist *hist, *cold;
  char first_error[160];
};

static void note_error(runner *r, int err, int status) {
  pthread_mutex_lock(&r->mu);
  if (!r->first_error[0]) {
    if (err) snprintf(r->first_error, sizeof(r->first_error), "%s (%s)", hop_strerror(err),
                      hop_err_name(err));
    else snprintf(r->first_error, sizeof(r->first_error), "server answered HTTP %d", status);
  }
  pthread_mutex_unlock(&r->mu);
}

static void hist_lock(runner *r) {
  while (atomic_flag_test_and_set_explicit(&r->hist_lock, memory_order_acquire)) sched_yield();
}
static void hist_unlock(runner *r) { atomic_flag_clear_explicit(&r->hist_lock, memory_order_release); }

/* Accounts one completed call at |now|. Returns 1 if the caller should start another. */
static int complete(runner *r, uint64_t now, uint64_t t0, uint64_t seq, int err, int status) {
  uint64_t lat = now - t0;
  int ok = err == HOP_OK && status >= 200 && status < 300;
  atomic_fetch_sub(&r->inflight, 1);
  int phase = atomic_load(&r->phase);
  if (ok) atomic_fetch_add(&r->ok_total, 1);
  else {
    uint64_t errs = atomic_fetch_add(&r->err_total, 1) + 1;
    /* Calls cut by our own shutdown are not the server's errors. */
    if (phase != PHASE_STOP) note_error(r, err, status);
    if (errs >= r->o->concurrency && atomic_load(&r->ok_total) == 0 && phase != PHASE_STOP) {
      atomic_store(&r->aborted, 1);
      atomic_store(&r->phase, PHASE_STOP);
      return 0;
    }
  }
  if (seq < r->o->concurrency) {
    hist_lock(r);
    hop_hist_record(r->cold, lat);
    hist_unlock(r);
    if (atomic_fetch_add(&r->cold_done, 1) + 1 == r->o->concurrency) {
      hop_client_stats st;
      hop_client_get_stats(r->client, &st);
      atomic_store(&r->cold_dials, st.dials_started);
      atomic_store(&r->cold_t, now - r->t_begin);
    }
  }
  if (phase == PHASE_MEASURE) {
    uint64_t n = atomic_fetch_add(&r->measured, 1) + 1;
    if (r->o->requests && n > r->o->requests) return 0; /* past the count: not measured */
    if (!ok) atomic_fetch_add(&r->measured_err, 1);
    hist_lock(r);
    hop_hist_record(r->hist, lat);
    hist_unlock(r);
    if (r->o->requests && n == r->o->requests) {
      atomic_store(&r->t_end, now);
      atomic_store(&r->phase, PHASE_STOP);
      return 0;
    }
  }
  return atomic_load(&r->phase) != PHASE_STOP;
}

static void track_inflight(runner *r) {
  uint64_t n = atomic_fetch_add(&r->inflight, 1) + 1;
  uint64_t m = atomic_load(&r->inflight_max);
  while (n > m && !atomic_compare_exchange_weak(&r->inflight_max, &m, n)) {
  }
}

/* ---- async callers ---- */

static void on_done(hop_call *call, int err, const hop_response *resp, void *ud);

/* |now|: the clock read of the completion that starts it (one read a call, not two). */
static int async_start(slot *s, uint64_t now) {
  runner *r = s->r;
  s->t0 = now;
  s->seq = atomic_fetch_add(&r->seq, 1);
  track_inflight(r);
  int rc = hop_call_start(r->client, &r->call, on_done, s, NULL);
  if (rc != HOP_OK) {
    atomic_fetch_sub(&r->inflight, 1);
    atomic_fetch_add(&r->err_total, 1);
    if (atomic_load(&r->phase) != PHASE_STOP) note_error(r, rc, 0);
  }
  return rc;
}

/* Runs on the client's loop thread: account, then keep the slot busy. */
static void on_done(hop_call *call, int err, const hop_response *resp, void *ud) {
  (void)call;
  slot *s = ud;
  runner *r = s->r;
  atomic_fetch_add(&r->busy, 1);
  uint64_t now = hop_now_us();
  if (!complete(r, now, s->t0, s->seq, err, resp ? resp->status : 0) ||
      async_start(s, now) != HOP_OK)
    atomic_fetch_sub(&r->active, 1);
  atomic_fetch_sub(&r->busy, 1);
}

/* ---- blocking callers ---- */

static void *caller_main(void *arg) {
  slot *s = arg;
  runner *r = s->r;
  for (;;) {
    hop_result res;
    memset(&res, 0, sizeof(res));
    s->t0 = hop_now_us();
    /* Count the call before the last phase check: the driver stores STOP and then waits
     * for inflight == 0, so no call can start after it stopped waiting. */
    track_inflight(r);
    if (atomic_load(&r->phase) == PHASE_STOP) {
      atomic_fetch_sub(&r->inflight, 1);
      break;
    }
    s->seq = atomic_fetch_add(&r->seq, 1);
    int rc = hop_client_do(r->client, &r->call, &res);
    int status = res.status;
    hop_result_free(&res);
    if (!complete(r, hop_now_us(), s->t0, s->seq, rc, status)) break;
  }
  atomic_fetch_sub(&r->active, 1);
  return NULL;
}

/* ---- the driver ---- */

static void sleep_us(uint64_t us) {
  struct timespec ts = {(time_t)(us / 1000000u), (long)(us % 1000000u) * 1000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

/* Heap bytes in use (glibc arenas + mmapped chunks). RSS cannot give memory per call: a mode
 * reuses pages the previous mode's client freed, so its RSS need not grow at all. */
static uint64_t heap_in_use(void) {
  struct mallinfo2 mi = mallinfo2();
  return (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
}

static int client_for(const hop_bench_opts *o, hop_bench_mode mode, hop_client **out) {
  hop_client_config cfg;
  hop_client_config_init(&cfg);
  cfg.dial_delay_us = o->dial_cost_us;
  cfg.connect_timeout_ms = 10000;
  if (cfg.max_queued_calls < o->concurrency * 2u) cfg.max_queued_calls = o->concurrency * 2u;
  switch (mode) {
    case HOP_BENCH_H1_DEFAULT: /* Go's http.DefaultClient: 2 idle per host, no conn cap */
      cfg.http = HOP_HTTP_H1;
      cfg.max_conns_per_origin = 0;
      cfg.max_idle_h1_per_origin = 2;
      break;
    case HOP_BENCH_H1_POOL:
      cfg.http = HOP_HTTP_H1;
      cfg.max_conns_per_origin = 0;
      cfg.max_idle_h1_per_origin = 256;
      break;
    default:
      cfg.http = HOP_HTTP_H2C;
      break;
  }
  return hop_client_new(out, &cfg);
}

int hop_bench_run_mode(const hop_bench_opts *o, hop_bench_mode mode, const char *url,
                       uint16_t port, hop_bench_progress_fn progress, void *user_data,
                       hop_bench_result *out) {
  memset(out, 0, sizeof(*out));
  out->mode = mode;
  const uint32_t C = o->concurrency;
  runner *r = calloc(1, sizeof(*r));
  slot *slots = calloc(C, sizeof(*slots));
  pthread_t *threads = o->callers == HOP_BENCH_CALLERS_BLOCKING ? calloc(C, sizeof(*threads))
                                                                 : NULL;
  int rc = HOP_ENOMEM;
  if (!r || !slots || (o->callers == HOP_BENCH_CALLERS_BLOCKING && !threads)) goto fail_alloc;
  pthread_mutex_init(&r->mu, NULL);
  atomic_flag_clear(&r->hist_lock);
  r->o = o;
  r->hist = hop_hist_new();
  r->cold = hop_hist_new();
  r->body = malloc(o->payload ? o->payload : 1);
  if (!r->hist || !r->cold || !r->body) goto fail_runner;
  for (size_t i = 0; i < o->payload; i++) r->body[i] = (uint8_t)('a' + i % 26);
  r->headers[0] = (hop_header)HOP_HEADER("content-type", "application/proto");
  r->headers[1] = (hop_header)HOP_HEADER("connect-protocol-version", "1");
  r->call.method = "POST";
  rc = hop_target_new(&r->target, url);
  if (rc != HOP_OK) {
    snprintf(out->first_error, sizeof(out->first_error), "bad target %s: %s", url,
             hop_strerror(rc));
    goto fail_runner;
  }
  r->call.target = r->target;
  r->call.headers = r->headers;
  r->call.nheaders = 2;
  r->call.body = r->body;
  r->call.body_len = o->payload;
  r->call.timeout_ms = (o->call_timeout_us + 999) / 1000;
  r->call.replayable = 1; /* Echo is idempotent */

  /* Baselines: everything from here on is this mode's cold client. */
  long tw_before = hop_time_wait_count(port);
  int hwm_ok = hop_self_rss_reset_peak() == 0;
  uint64_t rss_sampled = hop_self_rss_kib(0);
  double cpu_before = hop_self_cpu_s();
  uint64_t heap_before = heap_in_use(), heap_max = heap_before;

  rc = client_for(o, mode, &r->client);
  if (rc != HOP_OK) {
    snprintf(out->first_error, sizeof(out->first_error), "cannot create the client: %s",
             hop_strerror(rc));
    goto fail_runner;
  }
  r->t_begin = hop_now_us();
  atomic_store(&r->phase, o->warmup_us ? PHASE_WARM : PHASE_MEASURE);
  if (!o->warmup_us) atomic_store(&r->t_measure, r->t_begin);

  atomic_store(&r->active, C);
  if (o->callers == HOP_BENCH_CALLERS_BLOCKING) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, CALLER_STACK);
    for (uint32_t i = 0; i < C; i++) {
      slots[i].r = r;
      if (pthread_create(&threads[i], &attr, caller_main, &slots[i]) != 0) {
        /* Fewer threads than asked would measure a different experiment: stop. */
        atomic_store(&r->phase, PHASE_STOP);
        atomic_fetch_sub(&r->active, C - i);
        for (uint32_t j = 0; j < i; j++) pthread_join(threads[j], NULL);
        pthread_attr_destroy(&attr);
        snprintf(out->first_error, sizeof(out->first_error),
                 "cannot start caller thread %u of %u", i + 1, C);
        rc = HOP_ENOMEM;
        hop_client_free(r->client);
        goto fail_runner;
      }
    }
    pthread_attr_destroy(&attr);
  } else {
    for (uint32_t i = 0; i < C; i++) {
      slots[i].r = r;
      if (async_start(&slots[i], hop_now_us()) != HOP_OK) atomic_fetch_sub(&r->active, 1);
    }
  }

  /* Drive time. */
  const uint64_t measure_at = r->t_begin + o->warmup_us;
  const uint64_t hard_end = measure_at + (o->requests ? HOP_BENCH_REQUESTS_TIME_CAP_US
                                                      : o->duration_us);
  uint64_t next_sample = r->t_begin + SAMPLE_US, next_heap = r->t_begin + HEAP_US;
  for (;;) {
    uint64_t now = hop_now_us();
    int phase = atomic_load(&r->phase);
    if (phase == PHASE_WARM && now >= measure_at) {
      atomic_store(&r->t_measure, now);
      atomic_store(&r->phase, PHASE_MEASURE);
      phase = PHASE_MEASURE;
    }
    if (phase == PHASE_MEASURE && now >= hard_end) {
      atomic_store(&r->t_end, now);
      atomic_store(&r->phase, PHASE_STOP);
      phase = PHASE_STOP;
    }
    if (phase != PHASE_STOP && atomic_load(&r->active) == 0) {
      /* Every caller gave up (start failures): nothing more can happen. */
      atomic_store(&r->t_end, now);
      atomic_store(&r->phase, PHASE_STOP);
      phase = PHASE_STOP;
    }
    if (phase == PHASE_STOP) break;
    if (now >= next_heap || now - r->t_begin < HEAP_EVERY_TICK_US) {
      next_heap = now + HEAP_US;
      uint64_t heap = heap_in_use();
      if (heap > heap_max) heap_max = heap;
    }
    if (now >= next_sample) {
      next_sample = now + SAMPLE_US;
      if (!hwm_ok) {
        uint64_t kb = hop_self_rss_kib(0);
        if (kb > rss_sampled) rss_sampled = kb;
      }
      if (progress) {
        hop_client_stats st;
        hop_client_get_stats(r->client, &st);
        progress(mode, (double)(now - r->t_begin) / 1e6, phase == PHASE_WARM,
                 atomic_load(&r->ok_total) + atomic_load(&r->err_total),
                 atomic_load(&r->err_total), st.dials_started, user_data);
      }
    }
    sleep_us(TICK_US);
  }

  /* Drain: in-flight calls complete, bounded: async calls get DRAIN_MAX_US (the rest fail
   * with HOP_ESHUTDOWN in hop_client_free, uncounted); blocking callers are joined before
   * the client goes, which every call's deadline bounds. */
  uint64_t t_end = atomic_load(&r->t_end);
  if (t_end == 0) t_end = hop_now_us();
  uint64_t drain_until = hop_now_us() + (threads ? o->call_timeout_us + 2000000u : DRAIN_MAX_US);
  int quiet = 0;
  while (quiet < 2 && hop_now_us() < drain_until) {
    sleep_us(TICK_US);
    int idle = atomic_load(&r->inflight) == 0 && atomic_load(&r->busy) == 0 &&
               (!threads || atomic_load(&r->active) == 0);
    quiet = idle ? quiet + 1 : 0;
  }
  uint64_t stuck = atomic_load(&r->inflight);
  hop_client_stats st;
  hop_client_get_stats(r->client, &st);
  long tw_after = hop_time_wait_count(port);
  if (threads && quiet >= 2) {
    for (uint32_t i = 0; i < C; i++) pthread_join(threads[i], NULL);
    hop_client_free(r->client);
  } else {
    /* Calls still pending fail with HOP_ESHUTDOWN here, after STOP: not counted. */
    hop_client_free(r->client);
    if (threads)
      for (uint32_t i = 0; i < C; i++) pthread_join(threads[i], NULL);
  }
  r->client = NULL;
  uint64_t rss_peak = hwm_ok ? hop_self_rss_kib(1) : rss_sampled;
  double cpu_after = hop_self_cpu_s();

  uint64_t t_measure = atomic_load(&r->t_measure);
  uint64_t measured = atomic_load(&r->measured);
  if (o->requests && measured > o->requests) measured = o->requests;
  out->requests = t_measure ? measured : 0;
  out->errors = atomic_load(&r->measured_err);
  out->dials = st.dials_started;
  out->elapsed_s = t_measure && t_end > t_measure ? (double)(t_end - t_measure) / 1e6 : 0;
  out->rps = out->elapsed_s > 0 ? (double)(out->requests - out->errors) / out->elapsed_s : 0;
  hop_hist_summary(r->hist, &out->lat);
  out->cpu_s = cpu_after - cpu_before;
  out->time_wait = tw_after > tw_before ? (uint64_t)(tw_after - tw_before) : 0;
  out->rss_kb = rss_peak;
  out->cold_dials = atomic_load(&r->cold_dials);
  out->cold_s = (double)atomic_load(&r->cold_t) / 1e6;
  hop_hist_summary(r->cold, &out->cold);
  out->bytes_per_call = (heap_max - heap_before) / C;
  out->in_flight_max = atomic_load(&r->inflight_max);
  memcpy(out->first_error, r->first_error, sizeof(out->first_error));
  out->hist = r->hist;
  r->hist = NULL;

  rc = HOP_OK;
  if (atomic_load(&r->ok_total) == 0) {
    rc = HOP_EIO;
    if (!out->first_error[0])
      snprintf(out->first_error, sizeof(out->first_error),
               "no call completed (%llu still waiting for an answer when the run ended)",
               (unsigned long long)stuck);
  } else if (out->requests == 0) {
    rc = HOP_ETIMEDOUT;
    snprintf(out->first_error, sizeof(out->first_error),
             "no call completed in the measured phase (warm-up too long?)");
  }

fail_runner:
  if (r) {
    if (rc != HOP_OK && !out->first_error[0] && r->first_error[0])
      memcpy(out->first_error, r->first_error, sizeof(out->first_error));
    hop_hist_free(r->hist);
    hop_hist_free(r->cold);
    hop_target_free(r->target);
    free(r->body);
    pthread_mutex_destroy(&r->mu);
  }
fail_alloc:
  if (rc == HOP_ENOMEM && !out->first_error[0])
    snprintf(out->first_error, sizeof(out->first_error), "out of memory");
  free(r);
  free(slots);
  free(threads);
  return rc;
}
