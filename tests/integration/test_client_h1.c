/* Client over HTTP/1.1: the keep-alive pool against `hopwire serve` and node:http, bodies
 * intact, idle-cap churn (Go's DefaultClient shape), and AUTO falling back to HTTP/1.1.
 * ctest: RUN_SERIAL
 * ctest: TIMEOUT=120 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_client_util.h"

#define ECHO_PATH "/hopwire.bench.v1.BenchService/Echo"

static int spawn_serve(hop_child *ch, const char *max_streams) {
  char *argv[] = {(char *)hop_test_cli(), "serve", "--listen", "127.0.0.1:0", "--threads", "1",
                  "--max-streams", (char *)max_streams, NULL};
  return hop_child_spawn(ch, argv, 1);
}

static int spawn_node_h1(hop_child *ch) {
  char script[1024];
  snprintf(script, sizeof(script), "%s/tests/peers/node_h2_peer.js", tc_src());
  char *argv[] = {"/usr/bin/node", script, "--h1", NULL};
  return hop_child_spawn(ch, argv, 1);
}

static hop_client *client_with(hop_http_mode mode, uint32_t idle_cap) {
  hop_client_config cfg;
  hop_client_config_init(&cfg);
  cfg.http = mode;
  cfg.max_idle_h1_per_origin = idle_cap;
  return tc_client_from(&cfg);
}

static uint8_t *pattern(size_t n) { return tc_pattern(n, 13, 9); }

static void echo_sizes(hop_client *c, const char *url, hop_proto want) {
  static const size_t sizes[] = {0, 1, 100, 65536, 100000, 1u << 20};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    uint8_t *body = pattern(sizes[i]);
    hop_header hs[] = {HOP_HEADER("content-type", "application/proto")};
    hop_call_opts o = {.url = url, .headers = hs, .nheaders = 1, .body = body,
                       .body_len = sizes[i], .timeout_ms = 10000};
    hop_result r;
    assert_int_equal(hop_client_do(c, &o, &r), HOP_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.proto, want);
    assert_int_equal(r.body_len, sizes[i]);
    if (sizes[i]) assert_memory_equal(r.body, body, sizes[i]);
    assert_non_null(hop_headers_get(r.headers, r.nheaders, "content-type", NULL));
    hop_result_free(&r);
    free(body);
  }
}

static void test_h1_serve_bodies_and_reuse(void **state) {
  hop_child ch;
  assert_int_equal(spawn_serve(&ch, "100"), 0);
  hop_client *c = client_with(HOP_HTTP_H1, 256);
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u" ECHO_PATH, ch.port);
  echo_sizes(c, url, HOP_PROTO_H1);
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/healthz", ch.port);
  hop_call_opts o = {.method = "GET", .url = url, .timeout_ms = 5000};
  hop_result r;
  assert_int_equal(hop_client_do(c, &o, &r), HOP_OK);
  assert_int_equal(r.status, 200);
  hop_result_free(&r);
  hop_client_stats s;
  hop_client_get_stats(c, &s);
  assert_int_equal(s.dials_started, 1); /* sequential calls reuse one keep-alive connection */
  assert_int_equal(s.conns_open_h1, 1);
  hop_client_free(c);
  hop_child_stop(&ch, SIGTERM, 5000);
}

static void churn(uint32_t idle_cap, uint64_t *dials_out, int *ok_out, int total) {
  hop_child ch;
  assert_int_equal(spawn_serve(&ch, "100"), 0);
  hop_client *c = client_with(HOP_HTTP_H1, idle_cap);
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u" ECHO_PATH, ch.port);
  uint8_t *body = pattern(100);
  tc_load l = {.c = c, .total = total, .conc = 200};
  l.opts = (hop_call_opts){.url = url, .body = body, .body_len = 100, .timeout_ms = 20000};
  assert_int_equal(tc_load_run(&l, 60000), 0);
  tc_print_stats(idle_cap == 2 ? "h1-idle2" : "h1-idle256", c);
  hop_client_stats s;
  hop_client_get_stats(c, &s);
  *dials_out = s.dials_started;
  *ok_out = l.ok;
  assert_int_equal(l.failed, 0);
  assert_true(s.conns_open_h1 <= idle_cap + 200);
  tc_load_destroy(&l);
  free(body);
  hop_client_free(c);
  hop_child_stop(&ch, SIGTERM, 5000);
}

static void test_h1_idle_cap_churns(void **state) {
  int total = tc_sanitize() ? 2000 : 5000;
  uint64_t d2, d256;
  int ok2, ok256;
  churn(2, &d2, &ok2, total);
  churn(256, &d256, &ok256, total);
  assert_int_equal(ok2, total);
  assert_int_equal(ok256, total);
  /* idle cap 2: finished connections above the cap close, later calls dial again */
  assert_true(d2 >= 10 * 2);
  /* ...beyond the one dial per caller of a pool as large as the concurrency. How far depends
   * on timing: a finished connection handed straight to a waiting call is not churned. A
   * release build dials for ~98 % of calls; under the sanitizers' slower loop anywhere from
   * ~20 % (398 of 2,000 seen under TSan) to ~98 %, so there only "more than the big pool". */
  assert_true(d2 > d256);
  if (!tc_sanitize()) assert_true(d2 > d256 + (uint64_t)total / 10);
  /* a pool as large as the concurrency dials about once per concurrent caller */
  assert_true(d256 <= 256);
}

static void test_auto_against_h1_only_peer(void **state) {
  hop_child ch;
  assert_int_equal(spawn_node_h1(&ch), 0);
  hop_client *c = client_with(HOP_HTTP_AUTO, 256);
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/echo", ch.port);
  echo_sizes(c, url, HOP_PROTO_H1);
  hop_client_stats s;
  hop_client_get_stats(c, &s);
  /* the h2c probe, then one keep-alive connection */
  assert_int_equal(s.dials_started, 2);
  assert_int_equal(s.conns_open_h1, 1);
  assert_int_equal(s.conns_open_h2, 0);
  hop_client_free(c);
  hop_child_stop(&ch, SIGTERM, 3000);
}

static void test_auto_against_h2_peer(void **state) {
  hop_child ch;
  assert_int_equal(spawn_serve(&ch, "100"), 0);
  hop_client *c = client_with(HOP_HTTP_AUTO, 256);
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u" ECHO_PATH, ch.port);
  echo_sizes(c, url, HOP_PROTO_H2C);
  hop_client_stats s;
  hop_client_get_stats(c, &s);
  assert_int_equal(s.dials_started, 1);
  assert_int_equal(s.conns_open_h2, 1);
  hop_client_free(c);
  hop_child_stop(&ch, SIGTERM, 5000);
}

/* max_conns_per_origin caps open HTTP/1.1 connections: 200 callers share 4 of them. */
static void test_h1_conn_cap(void **state) {
  hop_child ch;
  assert_int_equal(spawn_serve(&ch, "100"), 0);
  hop_client_config cfg;
  hop_client_config_init(&cfg);
  cfg.http = HOP_HTTP_H1;
  cfg.max_conns_per_origin = 4;
  hop_client *c = tc_client_from(&cfg);
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u" ECHO_PATH, ch.port);
  uint8_t *body = pattern(100);
  tc_load l = {.c = c, .total = tc_sanitize() ? 400 : 2000, .conc = 200};
  l.opts = (hop_call_opts){.url = url, .body = body, .body_len = 100, .timeout_ms = 20000};
  assert_int_equal(tc_load_run(&l, 60000), 0);
  assert_int_equal(l.ok, l.total);
  hop_client_stats s;
  hop_client_get_stats(c, &s);
  assert_int_equal(s.dials_started, 4);
  assert_int_equal(s.conns_open_h1, 4);
  tc_load_destroy(&l);
  free(body);
  hop_client_free(c);
  hop_child_stop(&ch, SIGTERM, 5000);
}

/* The server closes an idle keep-alive connection: the client drops it from the pool and the
 * next call dials a fresh one, with no error. */
static void test_h1_server_idle_close(void **state) {
  char *argv[] = {(char *)hop_test_cli(), "serve", "--listen", "127.0.0.1:0", "--threads", "1",
                  "--idle-timeout", "200ms", NULL};
  hop_child ch;
  assert_int_equal(hop_child_spawn(&ch, argv, 1), 0);
  hop_client *c = client_with(HOP_HTTP_H1, 256);
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/healthz", ch.port);
  hop_call_opts o = {.method = "GET", .url = url, .timeout_ms = 5000};
  hop_result r;
  for (int i = 0; i < 3; i++) {
    assert_int_equal(hop_client_do(c, &o, &r), HOP_OK);
    assert_int_equal(r.status, 200);
    hop_result_free(&r);
    usleep(600000);
  }
  hop_client_stats s;
  hop_client_get_stats(c, &s);
  assert_int_equal(s.dials_started, 3);
  assert_int_equal(s.calls_failed, 0);
  assert_int_equal(s.conns_open_h1, 0);
  hop_client_free(c);
  hop_child_stop(&ch, SIGTERM, 5000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_h1_serve_bodies_and_reuse),
      cmocka_unit_test(test_h1_idle_cap_churns),
      cmocka_unit_test(test_auto_against_h1_only_peer),
      cmocka_unit_test(test_auto_against_h2_peer),
      cmocka_unit_test(test_h1_server_idle_close),
      cmocka_unit_test(test_h1_conn_cap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
