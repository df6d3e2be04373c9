/* Unit tests (no sockets): HTTP/1.1 response parsing for the client (split reads, chunked,
 * read-until-close, caps, HEAD, interim 100), request serialisation, address helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "h1/h1_response.h"
#include "hopwire/error.h"
#include "net/addr.h"

typedef struct rec {
  int status, complete, keep_alive, nheaders;
  char hdrs[1024];
  hop_buf body;
} rec;

static int r_header(void *ud, const char *n, size_t nl, const char *v, size_t vl) {
  rec *r = ud;
  r->nheaders++;
  size_t l = strlen(r->hdrs);
  snprintf(r->hdrs + l, sizeof(r->hdrs) - l, "%.*s=%.*s;", (int)nl, n, (int)vl, v);
  return 0;
}
static int r_done(void *ud, int status) {
  ((rec *)ud)->status = status;
  return 0;
}
static int r_body(void *ud, const char *p, size_t n) { return hop_buf_append(&((rec *)ud)->body, p, n); }
static int r_complete(void *ud, int ka) {
  rec *r = ud;
  r->complete = 1;
  r->keep_alive = ka;
  return 0;
}
static const hop_h1_resp_cbs cbs = {r_header, r_done, r_body, r_complete};

static void rec_init(rec *r) {
  memset(r, 0, sizeof(*r));
  hop_buf_init(&r->body, 1 << 20);
}

/* feeds |s| one byte at a time: every split point must work */
static long feed_bytewise(hop_h1_resp *p, const char *s) {
  size_t n = strlen(s), used = 0;
  for (size_t i = 0; i < n && !p->done; i++) {
    long k = hop_h1_resp_feed(p, s + i, 1);
    if (k < 0) return k;
    used += (size_t)k;
  }
  return (long)used;
}

static void test_content_length_split(void **state) {
  rec r;
  rec_init(&r);
  hop_h1_resp p = {0};
  hop_h1_resp_init(&p, &cbs, &r, 4096, 0);
  const char *msg = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Long: abcdefghij\r\n"
                    "Content-Length: 5\r\n\r\nhello";
  assert_int_equal(feed_bytewise(&p, msg), (long)strlen(msg));
  assert_int_equal(r.status, 200);
  assert_true(r.complete);
  assert_true(r.keep_alive);
  assert_int_equal(r.nheaders, 3);
  assert_string_equal(r.hdrs, "Content-Type=text/plain;X-Long=abcdefghij;Content-Length=5;");
  assert_int_equal(r.body.len, 5);
  assert_memory_equal(r.body.data, "hello", 5);
  hop_h1_resp_free(&p);
  hop_buf_free(&r.body);
}

static void test_chunked_and_stop_at_message_end(void **state) {
  rec r;
  rec_init(&r);
  hop_h1_resp p = {0};
  hop_h1_resp_init(&p, &cbs, &r, 4096, 0);
  const char *msg = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n";
  long used = hop_h1_resp_feed(&p, msg, strlen(msg));
  assert_true(used > 0 && (size_t)used < strlen(msg)); /* the next response is not consumed */
  assert_int_equal(r.status, 201);
  assert_true(r.complete);
  assert_int_equal(r.body.len, 5);
  assert_memory_equal(r.body.data, "abcde", 5);
  hop_h1_resp_free(&p);
  hop_buf_free(&r.body);
}

static void test_read_until_close(void **state) {
  rec r;
  rec_init(&r);
  hop_h1_resp p = {0};
  hop_h1_resp_init(&p, &cbs, &r, 4096, 0);
  const char *msg = "HTTP/1.0 200 OK\r\n\r\nsome body";
  assert_true(hop_h1_resp_feed(&p, msg, strlen(msg)) > 0);
  assert_false(r.complete);
  assert_int_equal(hop_h1_resp_eof(&p), HOP_OK);
  assert_true(r.complete);
  assert_false(r.keep_alive);
  assert_int_equal(r.body.len, 9);
  hop_h1_resp_free(&p);
  hop_buf_free(&r.body);
}

static void test_truncated_is_error(void **state) {
  rec r;
  rec_init(&r);
  hop_h1_resp p = {0};
  hop_h1_resp_init(&p, &cbs, &r, 4096, 0);
  const char *msg = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345";
  assert_true(hop_h1_resp_feed(&p, msg, strlen(msg)) > 0);
  assert_int_equal(hop_h1_resp_eof(&p), HOP_ECONNRESET);
  assert_false(r.complete);
  hop_h1_resp_free(&p);
  hop_buf_free(&r.body);
}

static void test_header_cap_and_garbage(void **state) {
  rec r;
  rec_init(&r);
  hop_h1_resp p = {0};
  hop_h1_resp_init(&p, &cbs, &r, 64, 0);
  char msg[512];
  snprintf(msg, sizeof(msg), "HTTP/1.1 200 OK\r\nX-Big: %0200d\r\n\r\n", 0);
  assert_int_equal(hop_h1_resp_feed(&p, msg, strlen(msg)), HOP_ETOOBIG);
  hop_h1_resp_init(&p, &cbs, &r, 4096, 0);
  assert_int_equal(hop_h1_resp_feed(&p, "NOT HTTP\r\n\r\n", 12), HOP_EHTTP);
  hop_h1_resp_free(&p);
  hop_buf_free(&r.body);
}

static void test_head_and_interim(void **state) {
  rec r;
  rec_init(&r);
  hop_h1_resp p = {0};
  hop_h1_resp_init(&p, &cbs, &r, 4096, 1); /* HEAD: Content-Length describes nothing sent */
  const char *msg = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
  assert_int_equal(hop_h1_resp_feed(&p, msg, strlen(msg)), (long)strlen(msg));
  assert_true(r.complete);
  assert_int_equal(r.body.len, 0);
  rec_init(&r);
  hop_h1_resp_init(&p, &cbs, &r, 4096, 0);
  msg = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
  assert_int_equal(hop_h1_resp_feed(&p, msg, strlen(msg)), (long)strlen(msg));
  assert_int_equal(r.status, 204);
  assert_true(r.complete);
  hop_h1_resp_free(&p);
  hop_buf_free(&r.body);
}

static void test_request_write(void **state) {
  hop_buf b;
  hop_buf_init(&b, 1 << 16);
  hop_header hs[] = {HOP_HEADER("content-type", "application/proto"), HOP_HEADER("Host", "evil"),
                     HOP_HEADER("connection", "close")};
  assert_int_equal(hop_h1_request_write(&b, "POST", "/a?b=1", "h:8080", hs, 3, "xyz", 3), HOP_OK);
  const char *want = "POST /a?b=1 HTTP/1.1\r\nHost: h:8080\r\ncontent-type: application/proto\r\n"
                     "Content-Length: 3\r\n\r\nxyz";
  assert_int_equal(b.len, strlen(want));
  assert_memory_equal(b.data, want, b.len);
  hop_buf_clear(&b);
  hop_header bad[] = {HOP_HEADER("x-a", "v\r\nInjected: 1")};
  assert_int_equal(hop_h1_request_write(&b, "GET", "/", "h", bad, 1, NULL, 0), HOP_EINVAL);
  hop_buf_free(&b);
}

static void test_addr(void **state) {
  struct sockaddr_storage ss;
  assert_int_equal(hop_addr_numeric("127.0.0.1", 80, &ss), HOP_OK);
  assert_int_equal(ss.ss_family, AF_INET);
  assert_int_equal(hop_addr_numeric("::1", 80, &ss), HOP_OK);
  assert_int_equal(ss.ss_family, AF_INET6);
  assert_int_equal(hop_addr_numeric("localhost", 80, &ss), HOP_EINVAL);
  /* a resolver answer repeating an address (one per socktype) yields it once, with the port */
  struct sockaddr_in a1 = {.sin_family = AF_INET}, a2 = {.sin_family = AF_INET};
  a1.sin_addr.s_addr = htonl(0x0a000001);
  a2.sin_addr.s_addr = htonl(0x0a000002);
  struct addrinfo i3 = {.ai_family = AF_INET, .ai_addr = (struct sockaddr *)&a2, .ai_addrlen = sizeof(a2)};
  struct addrinfo i2 = {.ai_family = AF_INET, .ai_addr = (struct sockaddr *)&a1, .ai_addrlen = sizeof(a1), .ai_next = &i3};
  struct addrinfo i1 = {.ai_family = AF_INET, .ai_addr = (struct sockaddr *)&a1, .ai_addrlen = sizeof(a1), .ai_next = &i2};
  struct sockaddr_storage *v = NULL;
  assert_int_equal(hop_addr_from_ai(&i1, 9000, 64, &v), 2);
  char s[64];
  hop_addr_format(&v[0], s, sizeof(s));
  assert_string_equal(s, "10.0.0.1:9000");
  hop_addr_format(&v[1], s, sizeof(s));
  assert_string_equal(s, "10.0.0.2:9000");
  free(v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_content_length_split), cmocka_unit_test(test_chunked_and_stop_at_message_end),
      cmocka_unit_test(test_read_until_close),     cmocka_unit_test(test_truncated_is_error),
      cmocka_unit_test(test_header_cap_and_garbage), cmocka_unit_test(test_head_and_interim),
      cmocka_unit_test(test_request_write),        cmocka_unit_test(test_addr),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
