/* Core: histogram quantiles, capped buffers, URLs, backoff, error strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/url.h"
#include "hopwire/client.h"
#include "hopwire/error.h"
#include "hopwire/stats.h"
#include "hopwire/types.h"

static void hist_quantiles(void **state) {
  (void)state;
  hop_hist *h = hop_hist_new();
  assert_non_null(h);
  for (uint64_t v = 1; v <= 10000; v++) hop_hist_record(h, v);
  assert_int_equal(hop_hist_count(h), 10000);
  assert_int_equal(hop_hist_max(h), 10000);
  assert_int_equal(hop_hist_min(h), 1);
  uint64_t p50 = hop_hist_quantile(h, 0.5), p99 = hop_hist_quantile(h, 0.99);
  /* relative error below 1/64 */
  assert_true(p50 >= 5000 && p50 <= 5000 + 5000 / 64 + 1);
  assert_true(p99 >= 9900 && p99 <= 9900 + 9900 / 64 + 1);
  hop_hist *g = hop_hist_new();
  hop_hist_record(g, 1000000);
  hop_hist_merge(h, g);
  assert_int_equal(hop_hist_count(h), 10001);
  assert_int_equal(hop_hist_max(h), 1000000);
  size_t it = 0;
  uint64_t up, cnt, total = 0, last = 0;
  while (hop_hist_next(h, &it, &up, &cnt)) {
    assert_true(up >= last);
    last = up;
    total += cnt;
  }
  assert_int_equal(total, 10001);
  hop_hist_reset(h);
  assert_int_equal(hop_hist_quantile(h, 0.99), 0);
  hop_hist_free(h);
  hop_hist_free(g);
}

static void buf_caps(void **state) {
  (void)state;
  hop_buf b;
  hop_buf_init(&b, 10);
  assert_int_equal(hop_buf_append(&b, "hello", 5), HOP_OK);
  assert_int_equal(hop_buf_append(&b, "world!", 6), HOP_ETOOBIG);
  assert_int_equal(b.len, 5);
  assert_int_equal(hop_buf_appendf(&b, "%d", 12345), HOP_OK);
  assert_memory_equal(b.data, "hello12345", 10);
  hop_buf_consume(&b, 5);
  assert_memory_equal(b.data, "12345", 5);
  size_t n;
  uint8_t *p = hop_buf_steal(&b, &n);
  assert_int_equal(n, 5);
  assert_int_equal(b.len, 0);
  free(p);
  hop_buf_free(&b);
}

static void url_parsing(void **state) {
  (void)state;
  hop_url u;
  assert_int_equal(hop_url_parse("http://127.0.0.1:8080/a/b?x=1#frag", &u), HOP_OK);
  assert_string_equal(u.host, "127.0.0.1");
  assert_int_equal(u.port, 8080);
  assert_string_equal(u.path, "/a/b?x=1");
  assert_string_equal(u.authority, "127.0.0.1:8080");
  assert_int_equal(hop_url_parse("http://[::1]:9/x", &u), HOP_OK);
  assert_string_equal(u.host, "::1");
  assert_string_equal(u.authority, "[::1]:9");
  assert_int_equal(hop_url_parse("http://[::1]/x", &u), HOP_OK);
  assert_string_equal(u.authority, "[::1]");
  assert_int_equal(hop_url_parse("http://h.example:65535?q=1", &u), HOP_OK);
  assert_string_equal(u.authority, "h.example:65535");
  assert_string_equal(u.path, "/?q=1");
  assert_int_equal(hop_url_parse("http://example", &u), HOP_OK);
  assert_int_equal(u.port, 80);
  assert_string_equal(u.path, "/");
  assert_int_equal(hop_url_parse("https://x/", &u), HOP_EUNSUPPORTED);
  assert_int_equal(hop_url_parse("ftp://x/", &u), HOP_EURL);
  assert_int_equal(hop_url_parse("http://:80/", &u), HOP_EURL);
  assert_int_equal(hop_url_parse("http://h:99999/", &u), HOP_EURL);
  assert_int_equal(hop_url_parse("http://h:0/", &u), HOP_EURL);
  assert_int_equal(hop_url_parse("http://h/a b", &u), HOP_EURL);
  /* The public check agrees with the parser. */
  uint16_t port = 0;
  assert_int_equal(hop_url_check("http://[::1]:8443/x", &port), HOP_OK);
  assert_int_equal(port, 8443);
  assert_int_equal(hop_url_check("http://h/", &port), HOP_OK);
  assert_int_equal(port, 80);
  assert_int_equal(hop_url_check("http://h/", NULL), HOP_OK);
  assert_int_equal(hop_url_check("https://x/", &port), HOP_EUNSUPPORTED);
  assert_int_equal(hop_url_check("http://h:0/", &port), HOP_EURL);
  assert_int_equal(hop_url_check(NULL, &port), HOP_EURL);
}

static void backoff(void **state) {
  (void)state;
  for (unsigned a = 0; a < 20; a++) assert_true(hop_backoff_ms(10, 1000, a) <= 1000);
}

static void errors_and_headers(void **state) {
  (void)state;
  assert_string_equal(hop_strerror(HOP_ETIMEDOUT), "deadline exceeded");
  assert_string_equal(hop_err_name(HOP_EGOAWAY), "HOP_EGOAWAY");
  assert_string_equal(hop_strerror(-999), "unknown error");
  assert_int_equal(hop_err_from_uv(-111 /* ECONNREFUSED */), HOP_ECONNREFUSED);
  hop_header hs[] = {HOP_HEADER("content-type", "application/proto"), HOP_HEADER("X-A", "1")};
  size_t len;
  assert_string_equal(hop_headers_get(hs, 2, "x-a", &len), "1");
  assert_int_equal(len, 1);
  assert_null(hop_headers_get(hs, 2, "x-b", NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(hist_quantiles), cmocka_unit_test(buf_caps), cmocka_unit_test(url_parsing),
    cmocka_unit_test(backoff), cmocka_unit_test(errors_and_headers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
