/* HTTP/1.1 request parser: fields, bodies, pieces, pipelining and the refusal rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "h1/h1_request.h"

static const char *field(const hop_h1_request *r, const char *name) {
  for (size_t i = 0; i < r->nfields; i++)
    if (!strcmp(hop_h1_str(r, r->fields[i].name_off), name)) return hop_h1_str(r, r->fields[i].value_off);
  return NULL;
}

/* Feeds |s| in pieces of |step| bytes; returns the total consumed. */
static size_t feed(hop_h1_parser *hp, const char *s, size_t step) {
  size_t len = strlen(s), off = 0;
  while (off < len && hp->state != HOP_H1_COMPLETE && hp->state != HOP_H1_ERROR) {
    size_t n = len - off < step ? len - off : step;
    size_t used = hop_h1_parser_feed(hp, s + off, n);
    off += used;
    if (used < n) break;
  }
  return off;
}

static void simple_get_any_split(void **state) {
  (void)state;
  const char *req = "GET /a/b?x=1 HTTP/1.1\r\nHost: example\r\nX-Mixed-Case: Value\r\n\r\n";
  for (size_t step = 1; step <= strlen(req); step += 7) {
    hop_h1_parser hp;
    hop_h1_parser_init(&hp, 4096, 1024);
    assert_int_equal(feed(&hp, req, step), strlen(req));
    assert_int_equal(hp.state, HOP_H1_COMPLETE);
    assert_string_equal(hop_h1_str(&hp.req, hp.req.method_off), "GET");
    assert_string_equal(hop_h1_str(&hp.req, hp.req.url_off), "/a/b?x=1");
    assert_int_equal(hp.req.nfields, 2);
    assert_string_equal(field(&hp.req, "host"), "example");
    assert_string_equal(field(&hp.req, "x-mixed-case"), "Value");
    assert_int_equal(hp.req.keep_alive, 1);
    assert_int_equal(hp.req.body.len, 0);
    hop_h1_parser_free(&hp);
  }
}

static void bodies(void **state) {
  (void)state;
  hop_h1_parser hp;
  hop_h1_parser_init(&hp, 4096, 1024);
  const char *cl = "POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
  assert_int_equal(feed(&hp, cl, 3), strlen(cl));
  assert_int_equal(hp.state, HOP_H1_COMPLETE);
  assert_int_equal(hp.req.body.len, 5);
  assert_memory_equal(hp.req.body.data, "hello", 5);
  hop_h1_parser_next(&hp);
  const char *ch = "POST /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nTrailer: x\r\n\r\n";
  assert_int_equal(feed(&hp, ch, 2), strlen(ch));
  assert_int_equal(hp.state, HOP_H1_COMPLETE);
  assert_int_equal(hp.req.body.len, 5);
  assert_memory_equal(hp.req.body.data, "abcde", 5);
  hop_h1_parser_next(&hp);
  /* HTTP/1.0 without keep-alive closes. */
  const char *h10 = "GET / HTTP/1.0\r\n\r\n";
  assert_int_equal(feed(&hp, h10, 100), strlen(h10));
  assert_int_equal(hp.state, HOP_H1_COMPLETE);
  assert_int_equal(hp.req.keep_alive, 0);
  hop_h1_parser_free(&hp);
}

static void pipelined_stops_at_boundary(void **state) {
  (void)state;
  hop_h1_parser hp;
  hop_h1_parser_init(&hp, 4096, 1024);
  const char *two = "POST /1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nr1GET /2 HTTP/1.1\r\nHost: x\r\n\r\n";
  size_t first = strlen("POST /1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nr1");
  size_t n = hop_h1_parser_feed(&hp, two, strlen(two));
  assert_int_equal(n, first);
  assert_int_equal(hp.state, HOP_H1_COMPLETE);
  assert_int_equal(hop_h1_parser_feed(&hp, two + n, strlen(two) - n), 0); /* waits for next() */
  hop_h1_parser_next(&hp);
  assert_int_equal(hop_h1_parser_feed(&hp, two + n, strlen(two) - n), strlen(two) - n);
  assert_int_equal(hp.state, HOP_H1_COMPLETE);
  assert_string_equal(hop_h1_str(&hp.req, hp.req.url_off), "/2");
  hop_h1_parser_free(&hp);
}

static void expect_continue(void **state) {
  (void)state;
  hop_h1_parser hp;
  hop_h1_parser_init(&hp, 4096, 1024);
  const char *h = "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
  assert_int_equal(hop_h1_parser_feed(&hp, h, strlen(h)), strlen(h));
  assert_int_equal(hp.state, HOP_H1_BODY);
  assert_int_equal(hp.head_done_cb, 1);
  assert_int_equal(hp.req.expect_continue, 1);
  assert_int_equal(hop_h1_parser_feed(&hp, "abc", 3), 3);
  assert_int_equal(hp.state, HOP_H1_COMPLETE);
  hop_h1_parser_free(&hp);
}

static int status_of(const char *req, size_t max_head, size_t max_body) {
  hop_h1_parser hp;
  hop_h1_parser_init(&hp, max_head, max_body);
  feed(&hp, req, 5);
  int st = hp.state == HOP_H1_ERROR ? hp.status : 0;
  hop_h1_parser_free(&hp);
  return st;
}

static int status_of_step(const char *req, size_t step) {
  hop_h1_parser hp;
  hop_h1_parser_init(&hp, 4096, 1024);
  feed(&hp, req, step);
  int st = hp.state == HOP_H1_ERROR ? hp.status : 0;
  hop_h1_parser_free(&hp);
  return st;
}

static void refusals(void **state) {
  (void)state;
  assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 4096, 1024), 400);
  assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 4096, 1024), 400);
  assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 4096, 1024), 400);
  assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 4096, 1024), 400);
  assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 4096, 1024), 400);
  assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 4096, 1024), 400);
  assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 4096, 1024), 400);
  assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\n", 4096, 1024), 400);
  assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 4096, 1024), 400);
  assert_int_equal(status_of("\x01\x02 nonsense\r\n\r\n", 4096, 1024), 400);
  /* Limits. */
  char big[3000];
  memset(big, 'a', sizeof(big));
  big[sizeof(big) - 1] = 0;
  char req[3200];
  snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", big);
  assert_int_equal(status_of(req, 1024, 1024), 431);
  assert_int_equal(status_of(req, 4096, 1024), 0);
  assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n", 4096, 1024), 413);
  char chunked[1400];
  snprintf(chunked, sizeof(chunked), "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n500\r\n%.1280s\r\n0\r\n\r\n", big);
  assert_int_equal(status_of(chunked, 4096, 1024), 413);
  assert_int_equal(status_of(chunked, 4096, 2048), 0);
}

/* Debian's http-parser is non-strict: the CRLF after chunk data and the header name bytes
 * are checked by hopwire, whatever the pieces the bytes arrive in. */
static void non_strict_holes(void **state) {
  (void)state;
  static const char *bad[] = {
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\rX0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n\r0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n3\r\ncdeXY0\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nX A: 1\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nX\"A: 1\r\n\r\n",
      "GET / HTTP/1.1\r\n\r\n",                             /* no Host */
      "GET / HTTP/1.1\nHost: x\r\n\r\n",                   /* bare LF */
      "GET / HTTP/1.1\r\nHost: x\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\n\n",
      "\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",   /* two */
  };
  static const char good[] =
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1\r\n!\r\n0\r\n\r\n";
  assert_int_equal(status_of_step("GET / HTTP/1.0\r\n\r\n", 3), 0); /* 1.0 may omit Host */
  for (size_t step = 1; step <= 9; step++) {
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
      assert_int_equal(status_of_step(bad[i], step), 400);
    hop_h1_parser hp;
    hop_h1_parser_init(&hp, 4096, 1024);
    assert_int_equal(feed(&hp, good, step), strlen(good));
    assert_int_equal(hp.state, HOP_H1_COMPLETE);
    assert_int_equal(hp.req.body.len, 6);
    assert_memory_equal(hp.req.body.data, "hello!", 6);
    hop_h1_parser_free(&hp);
  }
}

/* Chunked trailers are not request headers: not kept (found by fuzz_h1_request: the last
 * trailer's value was never NUL-terminated), yet bounded by the head cap. */
static void trailers_not_kept(void **state) {
  (void)state;
  const char *req = "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "2\r\nhi\r\n0\r\nx-t: 1\r\ncontent-length: 9\r\n\r\n";
  for (size_t step = 1; step <= strlen(req); step += 5) {
    hop_h1_parser hp;
    hop_h1_parser_init(&hp, 4096, 1024);
    assert_int_equal(feed(&hp, req, step), strlen(req));
    assert_int_equal(hp.state, HOP_H1_COMPLETE);
    assert_int_equal(hp.req.nfields, 2);
    assert_null(field(&hp.req, "x-t"));
    assert_string_equal(field(&hp.req, "transfer-encoding"), "chunked");
    assert_int_equal(hp.req.body.len, 2);
    hop_h1_parser_free(&hp);
  }
  char big[6000];
  int n = snprintf(big, sizeof(big), "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked"
                   "\r\n\r\n0\r\nx-t: %05000d\r\n\r\n", 0);
  assert_true(n > 0 && (size_t)n < sizeof(big));
  hop_h1_parser hp;
  hop_h1_parser_init(&hp, 4096, 1024);
  feed(&hp, big, 64);
  assert_int_equal(hp.state, HOP_H1_ERROR);
  assert_int_equal(hp.status, 431);
  hop_h1_parser_free(&hp);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(simple_get_any_split), cmocka_unit_test(bodies),
      cmocka_unit_test(pipelined_stops_at_boundary), cmocka_unit_test(expect_continue),
      cmocka_unit_test(refusals), cmocka_unit_test(non_strict_holes),
      cmocka_unit_test(trailers_not_kept),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
