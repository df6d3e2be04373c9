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
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
