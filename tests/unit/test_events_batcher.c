/* Unit tests (no sockets): the event batcher over a fake transport the test controls.
 *
 * The fake (cfg.send) decodes each RecordRequest body, remembers the batch, and completes it
 * from its own "loop" thread, at once or when the test releases it (hold mode), with the
 * outcome the test set. Timing assertions are one-sided (a floor the code cannot beat, or a
 * ceiling far above the expected value) so a loaded 2-core machine does not flake them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "hopwire/error.h"
#include "hopwire/events.h"

#define MAX_RPCS 20000
#define MAX_IDS 20000

/* ---- fake transport ---- */
typedef struct fake_rpc {
  struct fake_rpc *next;
  hop_batch_done_fn done;
  void *ctx;
  int err; /* the outcome, decided at send */
  hop_code code;
  const char *msg;
} fake_rpc;

typedef struct fake {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t loop;
  int stop;
  int hold;         /* 1: RPCs wait for fake_release */
  int sync;         /* 1: complete inside send (on the batcher thread) */
  int send_err;     /* returned by send (then nothing is remembered) */
  int err;          /* completion outcome */
  hop_code code;
  const char *msg;
  int fail_every;   /* >0: every n-th RPC fails with HOP_ERPC internal */
  fake_rpc *qhead, **qtail;
  uint32_t releasable; /* hold mode: how many the loop may complete */
  /* what was sent */
  uint32_t nrpcs;
  uint32_t sizes[MAX_RPCS];
  size_t bytes[MAX_RPCS];
  uint64_t timeouts[MAX_RPCS];
  uint64_t sent_us[MAX_RPCS];
  int bad_framing;
  /* per event id (4-byte little-endian prefix of the event): the result its batch got */
  int id_result[MAX_IDS];
  int id_sends[MAX_IDS];
} fake;

static uint32_t ev_id(const uint8_t *p, size_t len) {
  if (len < 4) return UINT32_MAX;
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Decodes 0x0a <varint> <bytes> records; returns the count or -1. Stores ids in ids[]. */
static int decode_body(const uint8_t *p, size_t len, uint32_t *ids, int max) {
  size_t i = 0;
  int n = 0;
  while (i < len) {
    if (p[i++] != 0x0a) return -1;
    uint64_t v = 0;
    int shift = 0;
    for (;;) {
      if (i >= len || shift > 63) return -1;
      uint8_t c = p[i++];
      v |= (uint64_t)(c & 0x7f) << shift;
      shift += 7;
      if (!(c & 0x80)) break;
    }
    if (v > len - i) return -1;
    if (n < max) ids[n] = ev_id(p + i, (size_t)v);
    n++;
    i += (size_t)v;
  }
  return n;
}

static void complete(fake_rpc *r) {
  r->done(r->ctx, r->err, r->code, r->msg);
  free(r);
}

static void *fake_loop(void *arg) {
  fake *f = arg;
  pthread_mutex_lock(&f->mu);
  for (;;) {
    while (f->qhead && (!f->hold || f->releasable)) {
      fake_rpc *r = f->qhead;
      f->qhead = r->next;
      if (!f->qhead) f->qtail = &f->qhead;
      if (f->hold) f->releasable--;
      pthread_mutex_unlock(&f->mu);
      complete(r);
      pthread_mutex_lock(&f->mu);
      pthread_cond_broadcast(&f->cv);
    }
    if (f->stop) break;
    pthread_cond_wait(&f->cv, &f->mu);
  }
  pthread_mutex_unlock(&f->mu);
  return NULL;
}

static int fake_send(void *ud, const uint8_t *body, size_t len, uint64_t timeout_ms,
                     hop_batch_done_fn done, void *ctx) {
  fake *f = ud;
  if (f->send_err) return f->send_err;
  static _Thread_local uint32_t ids[512];
  int n = decode_body(body, len, ids, 512);
  fake_rpc *r = calloc(1, sizeof(*r));
  if (!r) abort(); /* not a cmocka assert: this runs on the batcher thread */
  r->done = done;
  r->ctx = ctx;
  pthread_mutex_lock(&f->mu);
  uint32_t idx = f->nrpcs;
  if (n < 0) f->bad_framing = 1;
  if (idx < MAX_RPCS) {
    f->sizes[idx] = n < 0 ? 0 : (uint32_t)n;
    f->bytes[idx] = len;
    f->timeouts[idx] = timeout_ms;
    f->sent_us[idx] = hop_now_us();
  }
  f->nrpcs++;
  r->err = f->err;
  r->code = f->code;
  r->msg = f->msg;
  if (f->fail_every && (idx + 1) % (uint32_t)f->fail_every == 0) {
    r->err = HOP_OK;
    r->code = HOP_CODE_INTERNAL;
    r->msg = "every nth fails";
  }
  int res = r->err ? r->err : (r->code ? HOP_ERPC : HOP_OK);
  for (int i = 0; i < n && i < 512; i++)
    if (ids[i] < MAX_IDS) {
      f->id_result[ids[i]] = res;
      f->id_sends[ids[i]]++;
    }
  pthread_cond_broadcast(&f->cv);
  if (f->sync) {
    pthread_mutex_unlock(&f->mu);
    complete(r);
    return HOP_OK;
  }
  r->next = NULL;
  *f->qtail = r;
  f->qtail = &r->next;
  pthread_mutex_unlock(&f->mu);
  return HOP_OK;
}

static fake *fake_new(void) {
  fake *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  pthread_mutex_init(&f->mu, NULL);
  pthread_cond_init(&f->cv, NULL);
  f->qtail = &f->qhead;
  f->code = HOP_CODE_OK;
  assert_int_equal(pthread_create(&f->loop, NULL, fake_loop, f), 0);
  return f;
}

static void fake_release(fake *f, uint32_t n) {
  pthread_mutex_lock(&f->mu);
  f->releasable += n;
  pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
}

static void fake_set_hold(fake *f, int hold) {
  pthread_mutex_lock(&f->mu);
  f->hold = hold;
  pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
}

static uint32_t fake_nrpcs(fake *f) {
  pthread_mutex_lock(&f->mu);
  uint32_t n = f->nrpcs;
  pthread_mutex_unlock(&f->mu);
  return n;
}

/* Waits up to 10 s for at least |n| RPCs sent; returns the count. */
static uint32_t fake_wait_rpcs(fake *f, uint32_t n) {
  uint64_t end = hop_now_us() + 10000000u;
  pthread_mutex_lock(&f->mu);
  while (f->nrpcs < n && hop_now_us() < end) {
    pthread_mutex_unlock(&f->mu);
    usleep(500);
    pthread_mutex_lock(&f->mu);
  }
  uint32_t got = f->nrpcs;
  pthread_mutex_unlock(&f->mu);
  return got;
}

static void fake_free(fake *f) {
  pthread_mutex_lock(&f->mu);
  f->stop = 1;
  f->hold = 0;
  pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
  pthread_join(f->loop, NULL);
  pthread_cond_destroy(&f->cv);
  pthread_mutex_destroy(&f->mu);
  free(f);
}

static hop_event_batcher *batcher_new(fake *f, hop_batch_policy pol,
                                      void (*tweak)(hop_event_batcher_config *)) {
  hop_event_batcher_config cfg;
  hop_event_batcher_config_init(&cfg, pol);
  cfg.send = fake_send;
  cfg.send_user_data = f;
  if (tweak) tweak(&cfg);
  hop_event_batcher *b = NULL;
  assert_int_equal(hop_event_batcher_new(&b, &cfg), HOP_OK);
  return b;
}

/* ---- per-event outcome bookkeeping ---- */
typedef struct outcome {
  atomic_int calls;
  int err;
  hop_code code;
  char msg[64];
  uint32_t batch_events;
  uint32_t id;
  struct fake *f;
} outcome;

static void record_cb(const hop_event_result *r, void *ud) {
  outcome *o = ud;
  o->err = r->err;
  o->code = r->code;
  snprintf(o->msg, sizeof(o->msg), "%s", r->message);
  o->batch_events = r->batch_events;
  atomic_fetch_add(&o->calls, 1);
}

static void make_event(uint8_t *buf, size_t len, uint32_t id) {
  memset(buf, 'x', len);
  buf[0] = (uint8_t)id;
  buf[1] = (uint8_t)(id >> 8);
  buf[2] = (uint8_t)(id >> 16);
  buf[3] = (uint8_t)(id >> 24);
}

static int wait_calls(outcome *o, int n, int want) {
  uint64_t end = hop_now_us() + 10000000u;
  for (;;) {
    int all = 1;
    for (int i = 0; i < n; i++)
      if (atomic_load(&o[i].calls) < want) all = 0;
    if (all) return 1;
    if (hop_now_us() > end) return 0;
    usleep(500);
  }
}

/* ---- tests ---- */

static void test_config_defaults_and_invalid(void **state) {
  hop_event_batcher_config cfg;
  hop_event_batcher_config_init(&cfg, HOP_BATCH_FLYTE);
  assert_int_equal(cfg.max_batch_events, 400);
  assert_int_equal(cfg.max_delay_us, 25000);
  assert_int_equal(cfg.flush_workers, 32);
  assert_int_equal(cfg.queue_depth, 8192);
  assert_int_equal(cfg.flush_timeout_ms, 30000);
  assert_string_equal(cfg.procedure, HOP_EVENTS_RECORD_PROCEDURE);
  hop_event_batcher_config_init(&cfg, HOP_BATCH_ADAPTIVE);
  assert_int_equal(cfg.policy, HOP_BATCH_ADAPTIVE);
  assert_int_equal(cfg.max_delay_us, 0);
  hop_event_batcher *b = NULL;
  assert_int_equal(hop_event_batcher_new(&b, &cfg), HOP_EINVAL); /* no transport */
  fake *f = fake_new();
  cfg.send = fake_send;
  cfg.send_user_data = f;
  hop_event_batcher_config bad = cfg;
  bad.max_batch_events = 0;
  assert_int_equal(hop_event_batcher_new(&b, &bad), HOP_EINVAL);
  bad = cfg;
  bad.queue_depth = 0;
  assert_int_equal(hop_event_batcher_new(&b, &bad), HOP_EINVAL);
  bad = cfg;
  bad.max_inflight = 0;
  assert_int_equal(hop_event_batcher_new(&b, &bad), HOP_EINVAL);
  bad = cfg;
  bad.policy = (hop_batch_policy)7;
  assert_int_equal(hop_event_batcher_new(&b, &bad), HOP_EINVAL);
  bad = cfg;
  bad.flush_timeout_ms = UINT64_MAX;
  assert_int_equal(hop_event_batcher_new(&b, &bad), HOP_EINVAL);
  bad = cfg;
  bad.procedure = "no-slash";
  assert_int_equal(hop_event_batcher_new(&b, &bad), HOP_EINVAL);
  assert_null(b);
  assert_int_equal(hop_event_batcher_new(&b, &cfg), HOP_OK);
  /* bad record arguments never fire a callback */
  outcome o = {0};
  assert_int_equal(hop_event_record_async(b, NULL, 5, 0, record_cb, &o), HOP_EINVAL);
  assert_int_equal(hop_event_record_async(b, "x", 1, 0, NULL, &o), HOP_EINVAL);
  /* a huge per-record timeout is clamped, not overflowed into the past */
  assert_int_equal(hop_event_record(b, "t", 1, UINT64_MAX, NULL), HOP_OK);
  hop_event_batcher_free(b);
  assert_int_equal(atomic_load(&o.calls), 0);
  fake_free(f);
}

/* The body is RecordRequest's encoding: 0x0a varint(len) bytes, per event, in order. */
static int framing_seen;
static uint8_t framing_body[1024];
static size_t framing_len;
static int framing_send(void *ud, const uint8_t *body, size_t len, uint64_t timeout_ms,
                        hop_batch_done_fn done, void *ctx) {
  if (len <= sizeof(framing_body)) memcpy(framing_body, body, len);
  framing_len = len;
  framing_seen++;
  done(ctx, HOP_OK, HOP_CODE_OK, ""); /* synchronously, on the batcher thread */
  return HOP_OK;
}

static void test_wire_framing(void **state) {
  hop_event_batcher_config cfg;
  hop_event_batcher_config_init(&cfg, HOP_BATCH_ADAPTIVE);
  cfg.send = framing_send;
  hop_event_batcher *b;
  assert_int_equal(hop_event_batcher_new(&b, &cfg), HOP_OK);
  uint8_t big[200];
  memset(big, 7, sizeof(big));
  assert_int_equal(hop_event_record(b, "abc", 3, 0, NULL), HOP_OK);
  assert_int_equal(framing_len, 5);
  assert_memory_equal(framing_body, "\x0a\x03" "abc", 5);
  hop_code code = HOP_CODE_UNKNOWN;
  assert_int_equal(hop_event_record(b, big, sizeof(big), 0, &code), HOP_OK);
  assert_int_equal(code, HOP_CODE_OK);
  assert_int_equal(framing_len, 203); /* 200 = 0xc8 0x01 as a varint */
  assert_memory_equal(framing_body, "\x0a\xc8\x01", 3);
  assert_memory_equal(framing_body + 3, big, sizeof(big));
  assert_int_equal(hop_event_record(b, "", 0, 0, NULL), HOP_OK); /* an empty message */
  assert_int_equal(framing_len, 2);
  assert_memory_equal(framing_body, "\x0a\x00", 2);
  hop_event_batcher_stats st;
  hop_event_batcher_get_stats(b, &st);
  assert_int_equal(st.recorded, 3);
  assert_int_equal(st.acknowledged, 3);
  assert_int_equal(st.batches_ok, 3);
  assert_int_equal(st.failed, 0);
  hop_event_batcher_free(b);
  assert_int_equal(framing_seen, 3);
}

static void tweak_flyte_slow(hop_event_batcher_config *c) { c->max_delay_us = 500000; }

/* FLYTE: 1000 events recorded at once leave as 400 + 400 (caps) + 200 (timer). */
static void test_cap_400_events(void **state) {
  fake *f = fake_new();
  hop_event_batcher *b = batcher_new(f, HOP_BATCH_FLYTE, tweak_flyte_slow);
  enum { N = 1000 };
  outcome *o = calloc(N, sizeof(*o));
  uint8_t ev[100];
  for (uint32_t i = 0; i < N; i++) {
    make_event(ev, sizeof(ev), i);
    assert_int_equal(hop_event_record_async(b, ev, sizeof(ev), 0, record_cb, &o[i]), HOP_OK);
  }
  assert_true(wait_calls(o, N, 1));
  assert_int_equal(fake_nrpcs(f), 3);
  assert_int_equal(f->sizes[0], 400);
  assert_int_equal(f->sizes[1], 400);
  assert_int_equal(f->sizes[2], 200);
  assert_false(f->bad_framing);
  for (int i = 0; i < N; i++) {
    assert_int_equal(atomic_load(&o[i].calls), 1);
    assert_int_equal(o[i].err, HOP_OK);
    assert_int_equal(o[i].batch_events, i < 800 ? 400 : 200);
  }
  hop_event_batcher_stats st;
  hop_event_batcher_get_stats(b, &st);
  assert_int_equal(st.max_batch, 400);
  assert_int_equal(st.batches_sent, 3);
  hop_event_batcher_free(b);
  fake_free(f);
  free(o);
}

static void tweak_bytes(hop_event_batcher_config *c) {
  c->max_batch_bytes = 1000;
  c->max_inflight = 1;
}

/* The body cap: 98-byte events frame to 100 bytes, so 10 fit in 1000. */
static void test_cap_batch_bytes(void **state) {
  fake *f = fake_new();
  fake_set_hold(f, 1);
  hop_event_batcher *b = batcher_new(f, HOP_BATCH_ADAPTIVE, tweak_bytes);
  enum { N = 51 };
  outcome o[N];
  memset(o, 0, sizeof(o));
  uint8_t ev[998];
  memset(ev, 0, sizeof(ev));
  assert_int_equal(hop_event_record_async(b, ev, 998, 0, record_cb, &o[0]), HOP_ETOOBIG);
  /* 997 + 1 + varint(997) = 2 bytes: exactly 1000, fits */
  assert_int_equal(hop_event_record_async(b, ev, 997, 0, record_cb, &o[0]), HOP_OK);
  assert_int_equal(fake_wait_rpcs(f, 1), 1);
  assert_int_equal(f->bytes[0], 1000);
  for (uint32_t i = 1; i < N; i++) {
    make_event(ev, 98, i);
    assert_int_equal(hop_event_record_async(b, ev, 98, 0, record_cb, &o[i]), HOP_OK);
  }
  fake_release(f, 100);
  assert_true(wait_calls(o, N, 1));
  assert_int_equal(fake_nrpcs(f), 6);
  for (int i = 1; i < 6; i++) {
    assert_int_equal(f->sizes[i], 10);
    assert_int_equal(f->bytes[i], 1000);
  }
  hop_event_batcher_free(b);
  fake_free(f);
}

static uint64_t sequential_records(hop_batch_policy pol, int n) {
  fake *f = fake_new();
  hop_event_batcher *b = batcher_new(f, pol, NULL);
  uint64_t t0 = hop_now_us();
  for (int i = 0; i < n; i++) assert_int_equal(hop_event_record(b, "e", 1, 0, NULL), HOP_OK);
  uint64_t dt = hop_now_us() - t0;
  for (int i = 0; i < n; i++) assert_int_equal(f->sizes[i], 1);
  hop_event_batcher_free(b);
  fake_free(f);
  return dt;
}

/* A lone event: FLYTE holds it ~25 ms, ADAPTIVE sends it at once. */
static void test_lone_event_timer(void **state) {
  enum { N = 12 };
  uint64_t flyte = sequential_records(HOP_BATCH_FLYTE, N);
  uint64_t adaptive = sequential_records(HOP_BATCH_ADAPTIVE, N);
  print_message("%d lone events: flyte %.1f ms, adaptive %.1f ms\n", N, flyte / 1000.0,
                adaptive / 1000.0);
  assert_true(flyte >= (uint64_t)N * 24000); /* the timer never fires early */
  assert_true(flyte < (uint64_t)N * 1000000);
  assert_true(adaptive < (uint64_t)N * 12500); /* under half the flyte floor */

  /* one event's send time relative to its record, FLYTE */
  fake *f = fake_new();
  hop_event_batcher *b = batcher_new(f, HOP_BATCH_FLYTE, NULL);
  outcome o = {0};
  uint64_t t0 = hop_now_us();
  assert_int_equal(hop_event_record_async(b, "e", 1, 0, record_cb, &o), HOP_OK);
  assert_int_equal(fake_wait_rpcs(f, 1), 1);
  assert_true(f->sent_us[0] - t0 >= 24000);
  assert_true(wait_calls(&o, 1, 1));
  hop_event_batcher_free(b);
  fake_free(f);
}

static void tweak_workers3(hop_event_batcher_config *c) {
  c->flush_workers = 3;
  c->max_batch_events = 1;
}

/* FLYTE: at most flush_workers RPCs in flight; each carries the flush timeout as its
 * deadline (cut only by the recorders' own deadlines). */
static void test_flyte_workers_cap_and_timeout(void **state) {
  fake *f = fake_new();
  fake_set_hold(f, 1);
  hop_event_batcher *b = batcher_new(f, HOP_BATCH_FLYTE, tweak_workers3);
  enum { N = 10 };
  outcome o[N];
  memset(o, 0, sizeof(o));
  for (int i = 0; i < N; i++)
    assert_int_equal(hop_event_record_async(b, "e", 1, 0, record_cb, &o[i]), HOP_OK);
  assert_int_equal(fake_wait_rpcs(f, 3), 3);
  usleep(50000);
  assert_int_equal(fake_nrpcs(f), 3); /* the other 7 wait for a worker */
  for (int i = 0; i < 3; i++) {
    assert_true(f->timeouts[i] <= 30000);
    assert_true(f->timeouts[i] >= 29000);
  }
  fake_release(f, 100);
  assert_true(wait_calls(o, N, 1));
  assert_int_equal(fake_nrpcs(f), N);
  hop_event_batcher_free(b);
  fake_free(f);
}

static void tweak_inflight1(hop_event_batcher_config *c) { c->max_inflight = 1; }
static void tweak_inflight2(hop_event_batcher_config *c) { c->max_inflight = 2; }

/* ADAPTIVE: with its RPC slots full, events accumulate and leave together. */
static void test_adaptive_accumulates_under_load(void **state) {
  fake *f = fake_new();
  fake_set_hold(f, 1);
  hop_event_batcher *b = batcher_new(f, HOP_BATCH_ADAPTIVE, tweak_inflight2);
  enum { N = 300 };
  outcome *o = calloc(N, sizeof(*o));
  uint8_t ev[50];
  for (uint32_t i = 0; i < 2; i++) {
    make_event(ev, sizeof(ev), i);
    assert_int_equal(hop_event_record_async(b, ev, sizeof(ev), 0, record_cb, &o[i]), HOP_OK);
    assert_int_equal(fake_wait_rpcs(f, i + 1), i + 1); /* each lone event left at once */
  }
  for (uint32_t i = 2; i < N; i++) {
    make_event(ev, sizeof(ev), i);
    assert_int_equal(hop_event_record_async(b, ev, sizeof(ev), 0, record_cb, &o[i]), HOP_OK);
  }
  usleep(50000);
  assert_int_equal(fake_nrpcs(f), 2); /* both slots busy: nothing more left */
  hop_event_batcher_stats st;
  hop_event_batcher_get_stats(b, &st);
  assert_int_equal(st.queued, N - 2);
  assert_int_equal(st.inflight, 2);
  fake_release(f, 1); /* one completes: everything queued leaves in one batch */
  assert_int_equal(fake_wait_rpcs(f, 3), 3);
  assert_int_equal(f->sizes[0], 1);
  assert_int_equal(f->sizes[1], 1);
  assert_int_equal(f->sizes[2], N - 2);
  fake_release(f, 10);
  assert_true(wait_calls(o, N, 1));
  assert_int_equal(o[N - 1].batch_events, N - 2);
  hop_event_batcher_free(b);
  fake_free(f);
  free(o);
}

static void tweak_inflight4_linger(hop_event_batcher_config *c) {
  c->max_inflight = 4;
  c->max_delay_us = 100000; /* events queue behind the one RPC in flight for 100 ms */
}

/* ADAPTIVE: a queue larger than 64 events leaves spread over the free RPC slots (300 over 3
 * free: 100 each), never below 64 a batch (150 over 3: 64, 64, 22); one free slot takes it
 * all (test above). */
static void split_case(uint32_t n, const uint32_t *want, uint32_t nwant) {
  fake *f = fake_new();
  fake_set_hold(f, 1);
  hop_event_batcher *b = batcher_new(f, HOP_BATCH_ADAPTIVE, tweak_inflight4_linger);
  outcome *o = calloc(n + 1, sizeof(*o));
  assert_non_null(o);
  uint8_t ev[50];
  make_event(ev, sizeof(ev), 0);
  assert_int_equal(hop_event_record_async(b, ev, sizeof(ev), 0, record_cb, &o[0]), HOP_OK);
  assert_int_equal(fake_wait_rpcs(f, 1), 1); /* alone, at once: nothing was in flight */
  for (uint32_t i = 1; i <= n; i++) {
    make_event(ev, sizeof(ev), i);
    assert_int_equal(hop_event_record_async(b, ev, sizeof(ev), 0, record_cb, &o[i]), HOP_OK);
  }
  assert_int_equal(fake_wait_rpcs(f, 1 + nwant), 1 + nwant);
  usleep(150000); /* and nothing more */
  assert_int_equal(fake_nrpcs(f), 1 + nwant);
  assert_int_equal(f->sizes[0], 1);
  for (uint32_t i = 0; i < nwant; i++) assert_int_equal(f->sizes[1 + i], want[i]);
  fake_release(f, 1 + nwant);
  assert_true(wait_calls(o, (int)n + 1, 1));
  hop_event_batcher_free(b);
  fake_free(f);
  free(o);
}

static void test_adaptive_splits_over_free_slots(void **state) {
  static const uint32_t w300[] = {100, 100, 100}, w150[] = {64, 64, 22}, w40[] = {40};
  split_case(300, w300, 3);
  split_case(150, w150, 3);
  split_case(40, w40, 1);
}

/* ADAPTIVE against a transport that answers after a delay: batches grow with the number of
 * concurrent recorders. */
typedef struct recorder_arg {
  hop_event_batcher *b;
  uint32_t first, n;
  outcome *o;
  int sync;
} recorder_arg;

static void *blocking_recorder(void *arg) {
  recorder_arg *a = arg;
  uint8_t ev[64];
  for (uint32_t i = 0; i < a->n; i++) {
    uint32_t id = a->first + i;
    make_event(ev, sizeof(ev), id);
    hop_code code = HOP_CODE_UNKNOWN;
    int rc = hop_event_record(a->b, ev, sizeof(ev), 0, &code);
    outcome *o = &a->o[id];
    o->err = rc;
    o->code = code;
    atomic_fetch_add(&o->calls, 1);
  }
  return NULL;
}

static atomic_int thread_failures;

static void *async_recorder(void *arg) {
  recorder_arg *a = arg;
  uint8_t ev[64];
  for (uint32_t i = 0; i < a->n; i++) {
    uint32_t id = a->first + i;
    make_event(ev, sizeof(ev), id);
    int rc;
    while ((rc = hop_event_record_async(a->b, ev, sizeof(ev), 0, record_cb, &a->o[id])) ==
           HOP_EQUEUEFULL)
      usleep(100);
    if (rc != HOP_OK) atomic_fetch_add(&thread_failures, 1); /* checked by the main thread */
  }
  return NULL;
}

/* Many threads; every 3rd RPC fails; each recorder gets exactly its batch's result. */
static void tweak_flyte_fast(hop_event_batcher_config *c) { c->max_delay_us = 2000; }

static void exactly_once(hop_batch_policy pol, int blocking) {
  fake *f = fake_new();
  f->fail_every = 3;
  hop_event_batcher *b = batcher_new(f, pol, pol == HOP_BATCH_FLYTE ? tweak_flyte_fast : NULL);
  enum { T = 8, PER = 400, N = T * PER };
  outcome *o = calloc(N, sizeof(*o));
  pthread_t th[T];
  recorder_arg args[T];
  for (int t = 0; t < T; t++) {
    args[t] = (recorder_arg){.b = b, .first = (uint32_t)(t * PER), .n = PER, .o = o};
    assert_int_equal(pthread_create(&th[t], NULL, blocking ? blocking_recorder : async_recorder,
                                    &args[t]), 0);
  }
  for (int t = 0; t < T; t++) pthread_join(th[t], NULL);
  assert_int_equal(atomic_load(&thread_failures), 0);
  assert_true(wait_calls(o, N, 1));
  hop_event_batcher_stats st;
  hop_event_batcher_get_stats(b, &st);
  hop_event_batcher_free(b);
  int ok = 0, failed = 0;
  for (int i = 0; i < N; i++) {
    assert_int_equal(atomic_load(&o[i].calls), 1);
    assert_int_equal(f->id_sends[i], 1);
    assert_int_equal(o[i].err, f->id_result[i]); /* what its batch got */
    if (o[i].err == HOP_OK) {
      ok++;
    } else {
      assert_int_equal(o[i].err, HOP_ERPC);
      assert_int_equal(o[i].code, HOP_CODE_INTERNAL);
      failed++;
    }
  }
  uint64_t sent = 0;
  for (uint32_t i = 0; i < f->nrpcs; i++) {
    assert_true(f->sizes[i] >= 1 && f->sizes[i] <= 400);
    sent += f->sizes[i];
  }
  assert_int_equal(sent, N);
  assert_true(failed > 0);
  assert_int_equal(st.recorded, N);
  assert_int_equal(st.acknowledged, ok);
  assert_int_equal(st.failed, failed);
  assert_int_equal(st.batches_sent, f->nrpcs);
  print_message("%s %s: %u rpcs, max batch %llu, %d ok, %d failed\n",
                pol == HOP_BATCH_FLYTE ? "flyte" : "adaptive", blocking ? "blocking" : "async",
                f->nrpcs, (unsigned long long)st.max_batch, ok, failed);
  fake_free(f);
  free(o);
}

static void test_exactly_once_threads_adaptive(void **state) {
  exactly_once(HOP_BATCH_ADAPTIVE, 1);
  exactly_once(HOP_BATCH_ADAPTIVE, 0);
}

static void test_exactly_once_threads_flyte(void **state) {
  exactly_once(HOP_BATCH_FLYTE, 1);
  exactly_once(HOP_BATCH_FLYTE, 0);
}

/* A batch's failure reaches every recorder: in-band RPC error, transport error, send error. */
static void test_failure_reaches_every_recorder(void **state) {
  struct {
    int send_err, err;
    hop_code code;
    const char *msg;
    int want_err;
    hop_code want_code;
  } cases[] = {
      {0, HOP_OK, HOP_CODE_INTERNAL, "run service failed: boom", HOP_ERPC, HOP_CODE_INTERNAL},
      {0, HOP_ECONNRESET, HOP_CODE_UNAVAILABLE, "", HOP_ECONNRESET, HOP_CODE_UNAVAILABLE},
      {HOP_ECONNREFUSED, HOP_OK, HOP_CODE_OK, NULL, HOP_ECONNREFUSED, HOP_CODE_UNAVAILABLE},
  };
  for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
    fake *f = fake_new();
    fake_set_hold(f, 1);
    f->send_err = cases[c].send_err;
    f->err = cases[c].err;
    f->code = cases[c].code;
    f->msg = cases[c].msg;
    hop_event_batcher *b = batcher_new(f, HOP_BATCH_ADAPTIVE, tweak_inflight1);
    enum { N = 50 };
    outcome o[N];
    memset(o, 0, sizeof(o));
    for (uint32_t i = 0; i < N; i++) {
      uint8_t ev[8];
      make_event(ev, sizeof(ev), i);
      assert_int_equal(hop_event_record_async(b, ev, sizeof(ev), 0, record_cb, &o[i]), HOP_OK);
    }
    fake_release(f, 1000);
    assert_true(wait_calls(o, N, 1));
    usleep(10000);
    for (int i = 0; i < N; i++) {
      assert_int_equal(atomic_load(&o[i].calls), 1);
      assert_int_equal(o[i].err, cases[c].want_err);
      assert_int_equal(o[i].code, cases[c].want_code);
      if (cases[c].want_err == HOP_ERPC) assert_string_equal(o[i].msg, cases[c].msg);
    }
    hop_event_batcher_stats st;
    hop_event_batcher_get_stats(b, &st);
    assert_int_equal(st.failed, N);
    assert_int_equal(st.acknowledged, 0);
    assert_int_equal(st.batches_ok, 0);
    assert_true(st.batches_failed >= 1);
    hop_event_batcher_free(b);
    fake_free(f);
  }
}

static void tweak_small_queue(hop_event_batcher_config *c) {
  c->queue_depth = 4;
  c->max_inflight = 1;
}

typedef struct room_arg {
  hop_event_batcher *b;
  uint64_t timeout_ms;
  int rc;
  uint64_t waited_us;
} room_arg;

static void *room_recorder(void *arg) {
  room_arg *a = arg;
  uint64_t t0 = hop_now_us();
  a->rc = hop_event_record(a->b, "late", 4, a->timeout_ms, NULL);
  a->waited_us = hop_now_us() - t0;
  return NULL;
}

/* A full queue blocks the recorder up to its deadline, then HOP_EQUEUEFULL; a queued event
 * whose deadline passes completes with HOP_ETIMEDOUT; room made in time lets a waiter in. */
static void test_queue_full_blocks_then_times_out(void **state) {
  fake *f = fake_new();
  fake_set_hold(f, 1);
  hop_event_batcher *b = batcher_new(f, HOP_BATCH_ADAPTIVE, tweak_small_queue);
  outcome o[6];
  memset(o, 0, sizeof(o));
  assert_int_equal(hop_event_record_async(b, "a", 1, 0, record_cb, &o[0]), HOP_OK);
  assert_int_equal(fake_wait_rpcs(f, 1), 1); /* in flight, held */
  for (int i = 1; i <= 4; i++)
    assert_int_equal(hop_event_record_async(b, "q", 1, i == 4 ? 300 : 0, record_cb, &o[i]),
                     HOP_OK);
  uint64_t t0 = hop_now_us();
  assert_int_equal(hop_event_record_async(b, "x", 1, 100, record_cb, &o[5]), HOP_EQUEUEFULL);
  assert_true(hop_now_us() - t0 >= 95000);
  /* the 300 ms event expires while queued */
  assert_true(wait_calls(&o[4], 1, 1));
  assert_int_equal(o[4].err, HOP_ETIMEDOUT);
  assert_int_equal(o[4].batch_events, 0);
  /* queue is 3 now; fill it, then a waiter gets in when the held RPC completes */
  outcome extra = {0};
  assert_int_equal(hop_event_record_async(b, "q", 1, 0, record_cb, &extra), HOP_OK);
  room_arg ra = {.b = b, .timeout_ms = 10000};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, room_recorder, &ra), 0);
  usleep(100000);
  hop_event_batcher_stats st;
  hop_event_batcher_get_stats(b, &st);
  assert_int_equal(st.queued, 4); /* the waiter is still outside */
  fake_release(f, 100);
  pthread_join(th, NULL);
  assert_int_equal(ra.rc, HOP_OK);
  assert_true(wait_calls(o, 4, 1));
  assert_int_equal(atomic_load(&o[5].calls), 0); /* refused: never called back */
  for (int i = 0; i < 4; i++) assert_int_equal(o[i].err, HOP_OK);
  hop_event_batcher_free(b);
  fake_free(f);
}

/* Shutdown with recorders waiting: queued ones and room waiters get HOP_ESHUTDOWN, the batch
 * in flight completes through its RPC, and free returns after all of them. */
typedef struct free_arg {
  hop_event_batcher *b;
  atomic_int done;
} free_arg;

static void *free_thread(void *arg) {
  free_arg *a = arg;
  hop_event_batcher_free(a->b);
  atomic_store(&a->done, 1);
  return NULL;
}

static void test_shutdown_completes_waiting_recorders(void **state) {
  fake *f = fake_new();
  fake_set_hold(f, 1);
  hop_event_batcher *b = batcher_new(f, HOP_BATCH_ADAPTIVE, tweak_small_queue);
  outcome first = {0};
  assert_int_equal(hop_event_record_async(b, "a", 1, 0, record_cb, &first), HOP_OK);
  assert_int_equal(fake_wait_rpcs(f, 1), 1);
  enum { T = 6 }; /* 4 fill the queue, 2 wait for room */
  outcome o[T];
  memset(o, 0, sizeof(o));
  recorder_arg args[T];
  pthread_t th[T];
  for (int t = 0; t < T; t++) {
    args[t] = (recorder_arg){.b = b, .first = (uint32_t)t, .n = 1, .o = o};
    assert_int_equal(pthread_create(&th[t], NULL, blocking_recorder, &args[t]), 0);
  }
  for (int i = 0; i < 1000; i++) {
    hop_event_batcher_stats st;
    hop_event_batcher_get_stats(b, &st);
    if (st.queued == 4) break;
    usleep(1000);
  }
  usleep(20000); /* let the last two reach the room wait */
  free_arg fa = {.b = b};
  atomic_init(&fa.done, 0);
  pthread_t ft;
  assert_int_equal(pthread_create(&ft, NULL, free_thread, &fa), 0);
  for (int t = 0; t < T; t++) pthread_join(th[t], NULL);
  for (int t = 0; t < T; t++) {
    assert_int_equal(atomic_load(&o[t].calls), 1);
    assert_int_equal(o[t].err, HOP_ESHUTDOWN);
  }
  usleep(20000);
  assert_int_equal(atomic_load(&fa.done), 0); /* waits for the batch in flight */
  assert_int_equal(atomic_load(&first.calls), 0);
  fake_release(f, 1);
  pthread_join(ft, NULL);
  assert_int_equal(atomic_load(&first.calls), 1);
  assert_int_equal(first.err, HOP_OK);
  fake_free(f);
}

/* Callbacks record again (a chain of N, each recorded from the previous one's callback), with
 * completions on the batcher thread (sync send) and on the fake loop thread. */
typedef struct chain {
  hop_event_batcher *b;
  atomic_int completed;
  int target;
  int blocking_rc;
  int errors;
} chain;

static void chain_cb(const hop_event_result *r, void *ud) {
  chain *c = ud;
  if (r->err != HOP_OK) c->errors++;
  int n = atomic_fetch_add(&c->completed, 1) + 1;
  if (n == 1) c->blocking_rc = hop_event_record(c->b, "no", 2, 0, NULL);
  if (n < c->target) {
    int rc = hop_event_record_async(c->b, "next", 4, 0, chain_cb, c);
    if (rc != HOP_OK) c->errors++;
  }
}

static void test_record_from_callback(void **state) {
  for (int sync = 0; sync <= 1; sync++) {
    for (int pol = 0; pol <= 1; pol++) {
      fake *f = fake_new();
      f->sync = sync;
      hop_event_batcher *b =
          batcher_new(f, pol ? HOP_BATCH_FLYTE : HOP_BATCH_ADAPTIVE, NULL);
      chain c = {.b = b, .target = pol ? 20 : 2000};
      atomic_init(&c.completed, 0);
      /* four chains at once, so batches carry several */
      for (int i = 0; i < 4; i++)
        assert_int_equal(hop_event_record_async(b, "start", 5, 0, chain_cb, &c), HOP_OK);
      uint64_t end = hop_now_us() + 20000000u;
      while (atomic_load(&c.completed) < c.target + 3 && hop_now_us() < end) usleep(1000);
      usleep(10000);
      assert_int_equal(c.blocking_rc, HOP_ESTATE);
      assert_int_equal(c.errors, 0);
      hop_event_batcher_free(b);
      /* each chain stops once the shared count reaches target: target + 3 in all */
      assert_int_equal(atomic_load(&c.completed), c.target + 3);
      fake_free(f);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config_defaults_and_invalid),
      cmocka_unit_test(test_wire_framing),
      cmocka_unit_test(test_cap_400_events),
      cmocka_unit_test(test_cap_batch_bytes),
      cmocka_unit_test(test_lone_event_timer),
      cmocka_unit_test(test_adaptive_accumulates_under_load),
      cmocka_unit_test(test_adaptive_splits_over_free_slots),
      cmocka_unit_test(test_flyte_workers_cap_and_timeout),
      cmocka_unit_test(test_exactly_once_threads_adaptive),
      cmocka_unit_test(test_exactly_once_threads_flyte),
      cmocka_unit_test(test_failure_reaches_every_recorder),
      cmocka_unit_test(test_queue_full_blocks_then_times_out),
      cmocka_unit_test(test_shutdown_completes_waiting_recorders),
      cmocka_unit_test(test_record_from_callback),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
