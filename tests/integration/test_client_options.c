/* Client settings and thread safety: 64 threads of blocking calls on one client, strict and
 * soft connection caps, connection age and idle timeout, response size and header caps,
 * the bounded wait queue, and a client running on the caller's libuv loop.
 * ctest: RUN_SERIAL
 * ctest: TIMEOUT=180 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>

#include "test_client_util.h"

static hop_client *mk(hop_client_config *cfg) { return tc_client_from(cfg); }

static hop_client_config h2cfg(void) {
  hop_client_config cfg;
  hop_client_config_init(&cfg);
  cfg.http = HOP_HTTP_H2C;
  return cfg;
}

typedef struct thr {
  hop_client *c;
  const char *url;
  int n, ok;
} thr;

static void *blocking_caller(void *p) {
  thr *t = p;
  char body[64];
  for (int i = 0; i < t->n; i++) {
    int len = snprintf(body, sizeof(body), "call-%p-%d", (void *)t, i);
    hop_call_opts o = {.url = t->url, .body = body, .body_len = (size_t)len, .timeout_ms = 20000};
    hop_result r;
    if (hop_client_do(t->c, &o, &r) == HOP_OK && r.status == 200 && r.body_len == (size_t)len &&
        memcmp(r.body, body, (size_t)len) == 0)
      t->ok++;
    hop_result_free(&r);
  }
  return NULL;
}

static void test_64_threads_blocking(void **state) {
  char *argv[] = {(char *)hop_test_cli(), "serve", "--listen", "127.0.0.1:0", "--threads", "1", NULL};
  hop_child ch;
  assert_int_equal(hop_child_spawn(&ch, argv, 1), 0);
  hop_client_config cfg = h2cfg();
  hop_client *c = mk(&cfg);
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/hopwire.bench.v1.BenchService/Echo", ch.port);
  enum { NT = 64 };
  thr t[NT];
  pthread_t th[NT];
  int per = tc_sanitize() ? 20 : 100;
  for (int i = 0; i < NT; i++) {
    t[i] = (thr){.c = c, .url = url, .n = per};
    assert_int_equal(pthread_create(&th[i], NULL, blocking_caller, &t[i]), 0);
  }
  int ok = 0;
  for (int i = 0; i < NT; i++) {
    pthread_join(th[i], NULL);
    ok += t[i].ok;
  }
  tc_print_stats("64threads", c);
  assert_int_equal(ok, NT * per);
  hop_client_stats s;
  hop_client_get_stats(c, &s);
  assert_int_equal(s.dials_started, 1); /* 64 < the server's 100 streams */
  assert_int_equal(s.calls_ok, (uint64_t)NT * per);
  assert_int_equal(s.streams_in_flight, 0);
  assert_int_equal(s.calls_queued, 0);
  hop_latency lat;
  hop_client_get_latency(c, &lat);
  assert_int_equal(lat.count, (uint64_t)NT * per);
  assert_true(lat.p50_us > 0 && lat.p50_us <= lat.p99_us && lat.p99_us <= lat.max_us);
  hop_client_free(c);
  hop_child_stop(&ch, SIGTERM, 5000);
}

static void run_load(hop_client *c, const char *url, int total, int conc, tc_load *l) {
  memset(l, 0, sizeof(*l));
  l->c = c;
  l->total = total;
  l->conc = conc;
  l->opts = (hop_call_opts){.url = url, .body = "0123456789", .body_len = 10, .timeout_ms = 20000};
  assert_int_equal(tc_load_run(l, 60000), 0);
  tc_print_load("options", l);
}

/* Peer allows 10 streams, 200 callers (the accounting alone would want 20 connections):
 * the cap |max_conns| bounds the dials to exactly |want_dials|, every call succeeds. */
static void cap_case(uint32_t max_conns, int strict, uint64_t want_dials) {
  hop_child ch;
  assert_int_equal(tc_spawn_node(&ch, 10, 0), 0);
  hop_client_config cfg = h2cfg();
  cfg.max_conns_per_origin = max_conns;
  cfg.strict_max_conns = strict;
  hop_client *c = mk(&cfg);
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/echo", ch.port);
  tc_load l;
  run_load(c, url, tc_sanitize() ? 400 : 2000, 200, &l);
  assert_int_equal(l.ok, l.total);
  hop_client_stats s;
  hop_client_get_stats(c, &s);
  assert_int_equal(s.dials_started, want_dials);
  tc_load_destroy(&l);
  hop_client_free(c);
  hop_child_stop(&ch, SIGTERM, 3000);
}

/* Strict cap 1: one connection, calls queue. */
static void test_strict_cap_queues(void **state) { cap_case(1, 1, 1); }

/* Cap 4: exactly 4 connections. */
static void test_cap_bounds_dials(void **state) { cap_case(4, 0, 4); }

/* max_conn_age: connections are recycled (drained, replaced) with no failed call. */
static void test_conn_age_recycles(void **state) {
  hop_child ch;
  assert_int_equal(tc_spawn_node(&ch, 1000, 2), 0);
  hop_client_config cfg = h2cfg();
  cfg.max_conn_age_ms = 100; /* short: a fast (or ASan) run still outlives a few ages */
  hop_client *c = mk(&cfg);
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/echo", ch.port);
  tc_load l;
  long t0 = tc_now_ms();
  run_load(c, url, tc_sanitize() ? 3000 : 12000, 50, &l);
  long el = tc_now_ms() - t0;
  hop_client_stats s;
  hop_client_get_stats(c, &s);
  tc_print_stats("age", c);
  fprintf(stderr, "[age] %ld ms\n", el);
  tc_load_destroy(&l);
  hop_client_free(c);
  hop_child_stop(&ch, SIGTERM, 3000);
  assert_int_equal(l.ok, l.total);
  assert_int_equal(l.failed, 0);
  /* one connection per ~100 ms of load (+-10 % jitter), never a storm */
  assert_true(s.dials_started >= 2);
  assert_true(s.dials_started <= (uint64_t)(el / 80 + 2));
}

static void test_idle_timeout_closes(void **state) {
  hop_child ch;
  assert_int_equal(tc_spawn_node(&ch, 100, 0), 0);
  hop_client_config cfg = h2cfg();
  cfg.idle_timeout_ms = 200;
  hop_client *c = mk(&cfg);
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/echo", ch.port);
  hop_call_opts o = {.url = url, .body = "a", .body_len = 1, .timeout_ms = 5000};
  hop_result r;
  assert_int_equal(hop_client_do(c, &o, &r), HOP_OK);
  hop_result_free(&r);
  usleep(700000);
  hop_client_stats s;
  hop_client_get_stats(c, &s);
  assert_int_equal(s.conns_open_h2, 0);
  assert_int_equal(hop_client_do(c, &o, &r), HOP_OK);
  hop_result_free(&r);
  hop_client_get_stats(c, &s);
  assert_int_equal(s.dials_started, 2);
  hop_client_free(c);
  hop_child_stop(&ch, SIGTERM, 3000);
}

static void test_response_caps(void **state) {
  hop_child ch;
  assert_int_equal(tc_spawn_node(&ch, 100, 0), 0);
  hop_client_config cfg = h2cfg();
  cfg.max_response_size = 1000;
  hop_client *c = mk(&cfg);
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/bytes/100000", ch.port);
  hop_call_opts o = {.method = "GET", .url = url, .timeout_ms = 5000};
  hop_result r;
  assert_int_equal(hop_client_do(c, &o, &r), HOP_ETOOBIG);
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/bytes/1000", ch.port);
  assert_int_equal(hop_client_do(c, &o, &r), HOP_OK);
  assert_int_equal(r.body_len, 1000);
  hop_result_free(&r);
  hop_client_free(c);
  hop_child_stop(&ch, SIGTERM, 3000);

  /* header cap on HTTP/1.1: the peer echoes an x- header larger than the cap */
  char script[1024];
  snprintf(script, sizeof(script), "%s/tests/peers/node_h2_peer.js", tc_src());
  char *argv[] = {"/usr/bin/node", script, "--h1", NULL};
  assert_int_equal(hop_child_spawn(&ch, argv, 1), 0);
  hop_client_config cfg1;
  hop_client_config_init(&cfg1);
  cfg1.http = HOP_HTTP_H1;
  cfg1.max_response_headers = 1024;
  c = mk(&cfg1);
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/echo", ch.port);
  char big[4000];
  memset(big, 'b', sizeof(big));
  hop_header hs[] = {{"x-big", 5, big, sizeof(big)}};
  hop_call_opts o2 = {.url = url, .headers = hs, .nheaders = 1, .timeout_ms = 5000};
  assert_int_equal(hop_client_do(c, &o2, &r), HOP_ETOOBIG);
  hs[0].value_len = 100;
  assert_int_equal(hop_client_do(c, &o2, &r), HOP_OK);
  hop_result_free(&r);
  hop_client_free(c);
  hop_child_stop(&ch, SIGTERM, 3000);
}

typedef struct qrec {
  pthread_mutex_t mu;
  int n, ok, full, other;
} qrec;

static void q_cb(hop_call *call, int err, const hop_response *r, void *ud) {
  qrec *q = ud;
  pthread_mutex_lock(&q->mu);
  q->n++;
  if (err == HOP_OK) q->ok++;
  else if (err == HOP_EQUEUEFULL) q->full++;
  else q->other++;
  pthread_mutex_unlock(&q->mu);
}

static void test_queue_bounded(void **state) {
  hop_child ch;
  assert_int_equal(tc_spawn_node(&ch, 1, 100), 0);
  hop_client_config cfg = h2cfg();
  cfg.max_conns_per_origin = 1;
  cfg.strict_max_conns = 1;
  cfg.max_queued_calls = 5;
  hop_client *c = mk(&cfg);
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/echo", ch.port);
  qrec q = {.n = 0};
  pthread_mutex_init(&q.mu, NULL);
  hop_call_opts o = {.url = url, .body = "q", .body_len = 1, .timeout_ms = 10000};
  for (int i = 0; i < 20; i++) assert_int_equal(hop_call_start(c, &o, q_cb, &q, NULL), HOP_OK);
  long end = tc_now_ms() + 8000;
  while (tc_now_ms() < end) {
    pthread_mutex_lock(&q.mu);
    int n = q.n;
    pthread_mutex_unlock(&q.mu);
    if (n == 20) break;
    usleep(5000);
  }
  assert_int_equal(q.n, 20);
  assert_int_equal(q.other, 0);
  assert_true(q.full >= 5); /* a queue of 5 behind a 1-stream connection */
  assert_true(q.ok >= 5);
  hop_client_free(c);
  hop_child_stop(&ch, SIGTERM, 3000);
}

/* ---- a client on the caller's loop ---------------------------------------------------------- */

typedef struct loop_ctx {
  hop_client *c;
  int done, ok;
} loop_ctx;

static void loop_cb(hop_call *call, int err, const hop_response *r, void *ud) {
  loop_ctx *x = ud;
  x->done++;
  if (err == HOP_OK && r->status == 200) x->ok++;
  if (x->done == 10) hop_client_free(x->c); /* from its own callback, on its loop */
}

static void test_callers_loop(void **state) {
  hop_child ch;
  assert_int_equal(tc_spawn_node(&ch, 100, 0), 0);
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  hop_client_config cfg = h2cfg();
  cfg.loop = &loop;
  loop_ctx x = {0};
  x.c = mk(&cfg);
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/echo", ch.port);
  hop_call_opts o = {.url = url, .body = "L", .body_len = 1, .timeout_ms = 5000};
  hop_result r;
  assert_int_equal(hop_client_do(x.c, &o, &r), HOP_ESTATE); /* would deadlock its own loop */
  for (int i = 0; i < 10; i++) assert_int_equal(hop_call_start(x.c, &o, loop_cb, &x, NULL), HOP_OK);
  long t0 = tc_now_ms();
  uv_run(&loop, UV_RUN_DEFAULT); /* returns once the freed client's handles are closed */
  assert_true(tc_now_ms() - t0 < 5000);
  assert_int_equal(x.done, 10);
  assert_int_equal(x.ok, 10);
  assert_int_equal(uv_loop_close(&loop), 0);
  hop_child_stop(&ch, SIGTERM, 3000);
}

/* Freed on its loop while calls are pending, some with their own timer (more distinct
 * timeouts than the client's deadline lists): every call ends with HOP_ESHUTDOWN, every
 * handle closes (the call timers close after the client's own handles) and the loop ends. */
typedef struct free_ctx {
  hop_client *c;
  int done, shutdown;
} free_ctx;

static void free_cb(hop_call *call, int err, const hop_response *r, void *ud) {
  free_ctx *x = ud;
  x->done++;
  if (err == HOP_ESHUTDOWN) x->shutdown++;
}

static void free_later(uv_timer_t *t) {
  free_ctx *x = t->data;
  hop_client_free(x->c);
  uv_close((uv_handle_t *)t, NULL);
}

static void test_callers_loop_free_pending(void **state) {
  hop_child ch;
  assert_int_equal(tc_spawn_node(&ch, 100, 3000), 0);
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  hop_client_config cfg = h2cfg();
  cfg.loop = &loop;
  free_ctx x = {0};
  x.c = mk(&cfg);
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/echo", ch.port);
  for (int i = 0; i < 12; i++) {
    hop_call_opts o = {.url = url, .body = "F", .body_len = 1, .timeout_ms = 20000 + 100 * i};
    assert_int_equal(hop_call_start(x.c, &o, free_cb, &x, NULL), HOP_OK);
  }
  uv_timer_t t;
  uv_timer_init(&loop, &t);
  t.data = &x;
  uv_timer_start(&t, free_later, 300, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(x.done, 12);
  assert_int_equal(x.shutdown, 12);
  assert_int_equal(uv_loop_close(&loop), 0);
  hop_child_stop(&ch, SIGTERM, 3000);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_64_threads_blocking),
      cmocka_unit_test(test_strict_cap_queues),
      cmocka_unit_test(test_cap_bounds_dials),
      cmocka_unit_test(test_conn_age_recycles),
      cmocka_unit_test(test_idle_timeout_closes),
      cmocka_unit_test(test_response_caps),
      cmocka_unit_test(test_queue_bounded),
      cmocka_unit_test(test_callers_loop),
      cmocka_unit_test(test_callers_loop_free_pending),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
