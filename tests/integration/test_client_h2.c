/* Client over h2c against the Node.js http2 peer, nghttpd and `hopwire serve`: bodies and headers intact from
 * 0 B to 1 MiB, blocking and async calls, and the exact dial count for 200 concurrent calls.
 * ctest: RUN_SERIAL
 * ctest: TIMEOUT=120 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sys/stat.h>

#include "test_client_util.h"

static hop_client *new_client(hop_http_mode mode) { return tc_client(mode, NULL); }

static uint8_t *pattern(size_t n) { return tc_pattern(n, 7, 8); }

/* POST echo of each size, blocking; headers travel both ways. */
static void echo_sizes(hop_client *c, const char *url, int check_echo_header) {
  static const size_t sizes[] = {0, 1, 100, 16383, 16384, 65535, 65536, 100000, 1u << 20};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    uint8_t *body = pattern(sizes[i]);
    hop_header hs[] = {HOP_HEADER("x-test", "v-123"), HOP_HEADER("Content-Type", "application/octet-stream")};
    hop_call_opts o = {.method = "POST", .url = url, .headers = hs, .nheaders = 2,
                       .body = body, .body_len = sizes[i], .timeout_ms = 10000};
    hop_result r;
    int rv = hop_client_do(c, &o, &r);
    assert_int_equal(rv, HOP_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, sizes[i]);
    if (sizes[i]) assert_memory_equal(r.body, body, sizes[i]);
    if (check_echo_header) {
      size_t vl = 0;
      const char *v = hop_headers_get(r.headers, r.nheaders, "x-test", &vl);
      assert_non_null(v);
      assert_int_equal(vl, 5);
      assert_memory_equal(v, "v-123", 5);
    }
    hop_result_free(&r);
    free(body);
  }
}

static void test_node_bodies(void **state) {
  hop_child ch;
  assert_int_equal(tc_spawn_node(&ch, 1000, 0), 0);
  hop_client *c = new_client(HOP_HTTP_H2C);
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/echo", ch.port);
  echo_sizes(c, url, 1);
  /* GET of large bodies */
  static const size_t gets[] = {0, 1, 65536, 1u << 20};
  for (size_t i = 0; i < 4; i++) {
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/bytes/%zu", ch.port, gets[i]);
    hop_call_opts o = {.method = "GET", .url = url, .timeout_ms = 10000};
    hop_result r;
    assert_int_equal(hop_client_do(c, &o, &r), HOP_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, gets[i]);
    for (size_t k = 0; k < r.body_len; k++) assert_int_equal(r.body[k], k % 251);
    assert_int_equal(r.proto, HOP_PROTO_H2C);
    hop_result_free(&r);
  }
  hop_client_stats s;
  hop_client_get_stats(c, &s);
  assert_int_equal(s.dials_started, 1);
  assert_int_equal(s.conns_open_h2, 1);
  hop_client_free(c);
  hop_child_stop(&ch, SIGTERM, 3000);
}

/* 200 concurrent calls, closed loop, against a peer allowing |max_streams|. */
static void dial_count(int max_streams, unsigned expect_dials) {
  hop_child ch;
  assert_int_equal(tc_spawn_node(&ch, max_streams, 1), 0);
  hop_client *c = new_client(HOP_HTTP_H2C);
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/echo", ch.port);
  uint8_t *body = pattern(100);
  tc_load l = {.c = c, .total = tc_sanitize() ? 2000 : 10000, .conc = 200};
  l.opts = (hop_call_opts){.method = "POST", .url = url, .body = body, .body_len = 100,
                           .timeout_ms = 20000};
  assert_int_equal(tc_load_run(&l, 60000), 0);
  tc_print_stats(max_streams >= 1000 ? "node-1000" : "node-100", c);
  assert_int_equal(l.ok, l.total);
  assert_int_equal(l.failed, 0);
  assert_int_equal(l.bad_body, 0);
  hop_client_stats s;
  hop_client_get_stats(c, &s);
  assert_int_equal(s.dials_started, expect_dials);
  assert_int_equal(s.dials_failed, 0);
  assert_int_equal(s.conns_open_h2, expect_dials);
  /* the peer agrees: it accepted exactly that many connections */
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/stats", ch.port);
  hop_call_opts o = {.method = "GET", .url = url, .timeout_ms = 5000};
  hop_result r;
  assert_int_equal(hop_client_do(c, &o, &r), HOP_OK);
  char want[64];
  snprintf(want, sizeof(want), "\"sessions\":%u,", expect_dials);
  assert_non_null(memmem(r.body, r.body_len, want, strlen(want)));
  hop_result_free(&r);
  tc_load_destroy(&l);
  free(body);
  hop_client_free(c);
  hop_child_stop(&ch, SIGTERM, 3000);
}

static void test_dials_peer_1000(void **state) { dial_count(1000, 1); }
static void test_dials_peer_100(void **state) { dial_count(100, 2); }

/* nghttpd --no-tls: GET of a file, POST with --echo-upload; it allows 100 streams. */
static void test_nghttpd(void **state) {
  char dir[] = "/tmp/hop-client-nghttpd-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof(path), "%s/file.bin", dir);
  uint8_t *file = pattern(300000);
  FILE *f = fopen(path, "wb");
  fwrite(file, 1, 300000, f);
  fclose(f);
  int port = tc_free_port();
  char ps[16];
  snprintf(ps, sizeof(ps), "%d", port);
  char *argv[] = {"/usr/sbin/nghttpd", "--no-tls", "--echo-upload", "-d", dir, ps, NULL};
  hop_child ch;
  assert_int_equal(hop_child_spawn(&ch, argv, 0), 0);
  assert_int_equal(tc_wait_port(port, 5000), 0);
  hop_client *c = new_client(HOP_HTTP_H2C);
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/file.bin", port);
  hop_call_opts o = {.method = "GET", .url = url, .timeout_ms = 10000};
  hop_result r;
  assert_int_equal(hop_client_do(c, &o, &r), HOP_OK);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.body_len, 300000);
  assert_memory_equal(r.body, file, 300000);
  hop_result_free(&r);
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo", port);
  echo_sizes(c, url, 0);
  /* 200 concurrent against nghttpd's 100-stream limit: exactly 2 connections */
  uint8_t *body = pattern(100);
  tc_load l = {.c = c, .total = tc_sanitize() ? 1000 : 4000, .conc = 200};
  l.opts = (hop_call_opts){.method = "POST", .url = url, .body = body, .body_len = 100,
                           .timeout_ms = 20000};
  assert_int_equal(tc_load_run(&l, 60000), 0);
  tc_print_stats("nghttpd", c);
  assert_int_equal(l.ok, l.total);
  hop_client_stats s;
  hop_client_get_stats(c, &s);
  assert_int_equal(s.dials_started, 2);
  tc_load_destroy(&l);
  free(body);
  free(file);
  hop_client_free(c);
  hop_child_stop(&ch, SIGTERM, 3000);
  unlink(path);
  rmdir(dir);
}

/* the same against `hopwire serve` (max streams 1000, then its default 100) */
static void serve_dial_count(const char *max_streams, unsigned expect_dials) {
  char *argv[] = {(char *)hop_test_cli(), "serve", "--listen", "127.0.0.1:0", "--threads", "1",
                  "--delay", "1ms", "--max-streams", (char *)max_streams, NULL};
  hop_child ch;
  assert_int_equal(hop_child_spawn(&ch, argv, 1), 0);
  hop_client *c = new_client(HOP_HTTP_H2C);
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/hopwire.bench.v1.BenchService/Echo", ch.port);
  uint8_t *body = pattern(100);
  tc_load l = {.c = c, .total = tc_sanitize() ? 2000 : 10000, .conc = 200};
  l.opts = (hop_call_opts){.url = url, .body = body, .body_len = 100, .timeout_ms = 20000};
  assert_int_equal(tc_load_run(&l, 60000), 0);
  tc_print_stats("serve", c);
  assert_int_equal(l.ok, l.total);
  hop_client_stats s;
  hop_client_get_stats(c, &s);
  assert_int_equal(s.dials_started, expect_dials);
  assert_int_equal(s.conns_open_h2, expect_dials);
  tc_load_destroy(&l);
  free(body);
  hop_client_free(c);
  hop_child_stop(&ch, SIGTERM, 5000);
}

/* ---- prepared targets and deadlines, against `hopwire serve --delay` ---------------------- */

static void spawn_serve(hop_child *ch, const char *delay) {
  char *argv[] = {(char *)hop_test_cli(), "serve", "--listen", "127.0.0.1:0", "--threads", "1",
                  "--delay", (char *)delay, "--max-streams", "1000", NULL};
  assert_int_equal(hop_child_spawn(ch, argv, 1), 0);
}

typedef struct tgt_wait {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done, ok, fired_after_error;
  long t0_ms;
  long el_ms[64];   /* per call: start to completion */
  int err[64];
  uint64_t timeout[64];
} tgt_wait;

typedef struct tgt_slot {
  tgt_wait *w;
  int i;
} tgt_slot;

static void tgt_cb(hop_call *call, int err, const hop_response *r, void *ud) {
  tgt_slot *s = ud;
  tgt_wait *w = s->w;
  pthread_mutex_lock(&w->mu);
  w->el_ms[s->i] = tc_now_ms() - w->t0_ms;
  w->err[s->i] = err ? err : (r->status == 200 ? 0 : -1000 - r->status);
  if (err == HOP_OK && r->status == 200 && r->body_len == 1 && r->body[0] == 'x') w->ok++;
  w->done++;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

static void tgt_wait_all(tgt_wait *w, int n) {
  pthread_mutex_lock(&w->mu);
  long end = tc_now_ms() + 20000;
  while (w->done < n && tc_now_ms() < end) {
    pthread_mutex_unlock(&w->mu);
    usleep(5000);
    pthread_mutex_lock(&w->mu);
  }
  pthread_mutex_unlock(&w->mu);
  assert_int_equal(w->done, n);
}

static void test_target(void **state) {
  hop_target *t = (hop_target *)1;
  assert_int_equal(hop_target_new(&t, NULL), HOP_EINVAL);
  assert_null(t);
  assert_int_equal(hop_target_new(NULL, "http://127.0.0.1:1/"), HOP_EINVAL);
  assert_int_equal(hop_target_new(&t, "ftp://x/"), HOP_EURL);
  assert_int_equal(hop_target_new(&t, "https://example.com/"), HOP_EUNSUPPORTED);
  assert_null(t);
  hop_target_free(NULL);

  hop_child ch;
  spawn_serve(&ch, "100ms");
  hop_client *c = new_client(HOP_HTTP_H2C);
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/hopwire.bench.v1.BenchService/Echo", ch.port);
  assert_int_equal(hop_target_new(&t, url), HOP_OK);

  /* exactly one of url and target; a refused start never fires the callback */
  tgt_wait w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
  tgt_slot slots[64];
  for (int i = 0; i < 64; i++) slots[i] = (tgt_slot){&w, i};
  hop_call_opts both = {.url = url, .target = t, .body = "x", .body_len = 1};
  hop_call_opts none = {.body = "x", .body_len = 1};
  assert_int_equal(hop_call_start(c, &both, tgt_cb, &slots[0], NULL), HOP_EINVAL);
  assert_int_equal(hop_call_start(c, &none, tgt_cb, &slots[0], NULL), HOP_EINVAL);

  /* calls keep the target alive: it is freed while all of them are in flight */
  hop_call_opts o = {.target = t, .body = "x", .body_len = 1, .timeout_ms = 10000};
  w.t0_ms = tc_now_ms();
  for (int i = 0; i < 64; i++) assert_int_equal(hop_call_start(c, &o, tgt_cb, &slots[i], NULL), HOP_OK);
  hop_target_free(t);
  tgt_wait_all(&w, 64);
  assert_int_equal(w.ok, 64);

  /* the blocking call through a target, as through the URL */
  assert_int_equal(hop_target_new(&t, url), HOP_OK);
  hop_result r;
  o.target = t;
  o.timeout_ms = 5000;
  assert_int_equal(hop_client_do(c, &o, &r), HOP_OK);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.body_len, 1);
  hop_result_free(&r);
  hop_client_stats s = tc_stats(c);
  assert_int_equal(s.dials_started, 1);
  assert_int_equal(s.calls_ok, 65);
  hop_target_free(t);
  hop_client_free(c);
  hop_child_stop(&ch, SIGTERM, 5000);
}

/* Deadlines of many different lengths at once (more than the client's per-timeout lists,
 * so some calls fall back to their own timer), interleaved with long ones: every short call
 * ends with HOP_ETIMEDOUT near its own deadline, whatever the order; the long ones answer. */
static void test_deadlines_mixed(void **state) {
  hop_child ch;
  spawn_serve(&ch, "1500ms");
  hop_client *c = new_client(HOP_HTTP_H2C);
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/hopwire.bench.v1.BenchService/Echo", ch.port);
  /* one call first: the connection is up before the clock matters */
  hop_call_opts o = {.url = url, .body = "x", .body_len = 1, .timeout_ms = 10000};
  hop_result r;
  assert_int_equal(hop_client_do(c, &o, &r), HOP_OK);
  hop_result_free(&r);
  tgt_wait w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
  tgt_slot slots[64];
  const int n = 48;
  w.t0_ms = tc_now_ms();
  for (int i = 0; i < n; i++) {
    slots[i] = (tgt_slot){&w, i};
    /* 16 distinct short timeouts, descending then ascending, and every third call long */
    uint64_t tmo = i % 3 == 2 ? 8000 : 100 + 40 * (uint64_t)((i * 7) % 16);
    w.timeout[i] = tmo;
    o.timeout_ms = tmo;
    assert_int_equal(hop_call_start(c, &o, tgt_cb, &slots[i], NULL), HOP_OK);
  }
  tgt_wait_all(&w, n);
  long slack = tc_sanitize() ? 1000 : 400;
  for (int i = 0; i < n; i++) {
    if (w.timeout[i] == 8000) {
      assert_int_equal(w.err[i], 0);
      assert_true(w.el_ms[i] >= 1400);
    } else {
      assert_int_equal(w.err[i], HOP_ETIMEDOUT);
      assert_true(w.el_ms[i] >= (long)w.timeout[i] - 5);
      assert_true(w.el_ms[i] < (long)w.timeout[i] + slack);
    }
  }
  hop_client_free(c);
  hop_child_stop(&ch, SIGTERM, 5000);
}

static void test_serve_dials_1000(void **state) { serve_dial_count("1000", 1); }
static void test_serve_dials_100(void **state) { serve_dial_count("100", 2); }

/* a host name goes through the resolver (uv_getaddrinfo); /etc/hosts maps localhost */
static void test_hostname_resolves(void **state) {
  hop_child ch;
  assert_int_equal(tc_spawn_node(&ch, 100, 0), 0);
  hop_client *c = new_client(HOP_HTTP_H2C);
  char url[128];
  snprintf(url, sizeof(url), "http://localhost:%u/echo", ch.port);
  for (int i = 0; i < 3; i++) {
    hop_call_opts o = {.url = url, .body = "r", .body_len = 1, .timeout_ms = 10000};
    hop_result r;
    assert_int_equal(hop_client_do(c, &o, &r), HOP_OK);
    assert_int_equal(r.status, 200);
    hop_result_free(&r);
  }
  hop_client_stats s;
  hop_client_get_stats(c, &s);
  assert_int_equal(s.dials_started, 1);
  assert_int_equal(s.dials_failed, 0);
  hop_client_free(c);
  hop_child_stop(&ch, SIGTERM, 3000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_node_bodies),
      cmocka_unit_test(test_dials_peer_1000),
      cmocka_unit_test(test_dials_peer_100),
      cmocka_unit_test(test_nghttpd),
      cmocka_unit_test(test_hostname_resolves),
      cmocka_unit_test(test_serve_dials_1000),
      cmocka_unit_test(test_serve_dials_100),
      cmocka_unit_test(test_target),
      cmocka_unit_test(test_deadlines_mixed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
