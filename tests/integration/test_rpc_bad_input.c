/* Bad input against a running RPC server (in this process), sent as raw HTTP through
 * hop_client over HTTP/1.1 and h2c. Each case asserts the precise error (HTTP status, RPC code,
 * message text) and that the server still serves a good call right after each one:
 * truncated envelope, a length prefix past the body, the compressed flag without an encoding,
 * an unknown encoding, a gzip bomb (stops at the limit), corrupt gzip, invalid JSON, a message
 * over the limit (refused from its length prefix), non-numeric timeouts, a bad protocol
 * version, wrong content type (415), wrong method (405), unknown procedure (404), gRPC over
 * HTTP/1.1, and deadlines (the handler is slow, the client gets deadline_exceeded on time).
 * ctest: TIMEOUT=120 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/clock.h"
#include "hopwire/client.h"
#include "hopwire/error.h"
#include "hopwire/rpc.h"
#include "hopwire/server.h"
#include "rpc/envelope.h"
#include "rpc/gzip.h"
#include "rpc/wire.h"
#include "rpc_testsvc.h"

static hop_server *srv;
static hop_rpc_server *rs;
static hop_client *c_h1, *c_h2;
static char base[64];

static int setup(void **state) {
  hop_server_config cfg;
  hop_server_config_init(&cfg);
  cfg.threads = 1;
  if (hop_server_new(&srv, &cfg))
    return -1;
  if (hop_rpc_server_new(&rs, srv, NULL) || tsv_register(rs))
    return -1;
  if (hop_server_start(srv))
    return -1;
  snprintf(base, sizeof(base), "http://127.0.0.1:%u", hop_server_port(srv));
  hop_client_config cc;
  hop_client_config_init(&cc);
  cc.http = HOP_HTTP_H1;
  cc.max_conns_per_origin = 1;
  cc.strict_max_conns = 1;
  if (hop_client_new(&c_h1, &cc))
    return -1;
  hop_client_config_init(&cc);
  cc.http = HOP_HTTP_H2C;
  if (hop_client_new(&c_h2, &cc))
    return -1;
  return 0;
}

static int teardown(void **state) {
  hop_client_free(c_h1);
  hop_client_free(c_h2);
  hop_server_stop(srv);
  hop_server_wait(srv);
  hop_server_free(srv);
  hop_rpc_server_free(rs);
  return 0;
}

/* One raw HTTP call; |hdrs| is "name\0value\0" pairs ending with "\0". */
static void raw(hop_client *c, const char *method, const char *path, const hop_header *h, size_t nh,
                const void *body, size_t len, hop_result *res) {
  char url[256];
  snprintf(url, sizeof(url), "%s%s", base, path);
  hop_call_opts o = {.method = method,
                     .url = url,
                     .headers = h,
                     .nheaders = nh,
                     .body = body,
                     .body_len = len,
                     .timeout_ms = 10000};
  memset(res, 0, sizeof(*res));
  assert_int_equal(hop_client_do(c, &o, res), HOP_OK);
}

/* A good Connect call on the same client: the server keeps serving. */
static void still_serving(hop_client *c) {
  hop_header h[] = {HOP_HEADER("content-type", "application/proto")};
  hop_result r;
  raw(c, "POST", TESTSVC "Echo", h, 1, "\x0a\x02ok", 4, &r);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.body_len, 4);
  assert_memory_equal(r.body, "\x0a\x02ok", 4);
  hop_result_free(&r);
}

/* Asserts a Connect error: HTTP status, code, and a substring of the message. */
static void expect_connect(const hop_result *r, int status, hop_code code, const char *needle) {
  if (r->status != status)
    fprintf(stderr, "status %d body %.*s\n", r->status, (int)r->body_len, r->body);
  assert_int_equal(r->status, status);
  assert_string_equal(hop_headers_get(r->headers, r->nheaders, "content-type", NULL),
                      "application/json");
  hop_rpc_err_data e;
  assert_int_equal(hop_connect_error_decode(r->body, r->body_len, &e), HOP_OK);
  if (e.code != code || !strstr(e.message, needle))
    fprintf(stderr, "got %s: %s (want %s: ...%s...)\n", hop_code_name(e.code), e.message,
            hop_code_name(code), needle);
  assert_int_equal(e.code, code);
  assert_non_null(strstr(e.message, needle));
  hop_rpc_err_data_free(&e);
}

/* Asserts a gRPC trailers-only error (status in the headers, no body). */
static void expect_grpc(const hop_result *r, hop_code code, const char *needle) {
  assert_int_equal(r->status, 200);
  hop_rpc_err_data e;
  assert_int_equal(hop_grpc_status_from_headers(r->headers, r->nheaders, &e), HOP_OK);
  if (e.code != code || !strstr(e.message, needle))
    fprintf(stderr, "got %s: %s (want %s: ...%s...)\n", hop_code_name(e.code), e.message,
            hop_code_name(code), needle);
  assert_int_equal(e.code, code);
  assert_non_null(strstr(e.message, needle));
  assert_int_equal(r->body_len, 0);
  hop_rpc_err_data_free(&e);
}

/* One bad request: asserts its Connect error (or, with code < 0, only the HTTP status), then
 * that the server still answers a good call. */
static void bad_connect(hop_client *c, const char *method, const char *path, const hop_header *h,
                        size_t nh, const void *body, size_t len, int status, int code,
                        const char *needle) {
  hop_result r;
  raw(c, method, path, h, nh, body, len, &r);
  if (code >= 0)
    expect_connect(&r, status, (hop_code)code, needle);
  else
    assert_int_equal(r.status, status);
  hop_result_free(&r);
  still_serving(c);
}

/* One bad gRPC request: asserts its trailers-only error, then a good call. */
static void bad_grpc(hop_client *c, const char *path, const hop_header *h, size_t nh,
                     const void *body, size_t len, hop_code code, const char *needle) {
  hop_result r;
  raw(c, "POST", path, h, nh, body, len, &r);
  expect_grpc(&r, code, needle);
  hop_result_free(&r);
  still_serving(c);
}

static void connect_bad_input(void **state) {
  hop_client *clients[2] = {c_h1, c_h2};
  for (int ci = 0; ci < 2; ci++) {
    hop_client *c = clients[ci];
    hop_result r;
    hop_header json[] = {HOP_HEADER("content-type", "application/json")};
    /* invalid JSON */
    bad_connect(c, "POST", TESTSVC "Echo", json, 1, "{\"text\":", 8, 400, HOP_CODE_INVALID_ARGUMENT,
                "invalid JSON message at byte 8");
    /* non-numeric timeout */
    hop_header badto[] = {HOP_HEADER("content-type", "application/json"),
                          HOP_HEADER("connect-timeout-ms", "soon")};
    bad_connect(c, "POST", TESTSVC "Echo", badto, 2, "{}", 2, 400, HOP_CODE_INVALID_ARGUMENT,
                "invalid connect-timeout-ms \"soon\"");
    /* too many digits */
    hop_header longto[] = {HOP_HEADER("content-type", "application/json"),
                           HOP_HEADER("connect-timeout-ms", "12345678901")};
    bad_connect(c, "POST", TESTSVC "Echo", longto, 2, "{}", 2, 400, HOP_CODE_INVALID_ARGUMENT,
                "connect-timeout-ms");
    /* protocol version */
    hop_header ver[] = {HOP_HEADER("content-type", "application/proto"),
                        HOP_HEADER("connect-protocol-version", "2")};
    bad_connect(c, "POST", TESTSVC "Echo", ver, 2, "", 0, 400, HOP_CODE_INVALID_ARGUMENT,
                "connect-protocol-version must be \"1\"");
    /* unknown encoding */
    hop_header br[] = {HOP_HEADER("content-type", "application/proto"),
                       HOP_HEADER("content-encoding", "br")};
    raw(c, "POST", TESTSVC "Echo", br, 2, "xx", 2, &r);
    expect_connect(&r, 501, HOP_CODE_UNIMPLEMENTED, "unknown content-encoding \"br\"");
    assert_string_equal(hop_headers_get(r.headers, r.nheaders, "accept-encoding", NULL), "gzip");
    hop_result_free(&r);
    still_serving(c);
    /* corrupt gzip */
    hop_header gz[] = {HOP_HEADER("content-type", "application/proto"),
                       HOP_HEADER("content-encoding", "gzip")};
    bad_connect(c, "POST", TESTSVC "Echo", gz, 2, "not gzip at all", 15, 400,
                HOP_CODE_INVALID_ARGUMENT, "invalid gzip");
    /* gzip bomb: 64 MiB of zeros in ~64 KiB; stops at the 4 MiB limit */
    size_t big = 64u << 20;
    uint8_t *zeros = calloc(1, big);
    hop_buf z;
    hop_buf_init(&z, big);
    assert_int_equal(hop_gzip_compress(zeros, big, &z), HOP_OK);
    free(zeros);
    bad_connect(c, "POST", TESTSVC "Echo", gz, 2, z.data, z.len, 429, HOP_CODE_RESOURCE_EXHAUSTED,
                "larger than 4194304 bytes after decompression");
    /* a good gzip request gets a gzip answer when accepted */
    hop_buf_clear(&z);
    hop_gzip_compress("\x0a\x02ok", 4, &z);
    hop_header gzok[] = {HOP_HEADER("content-type", "application/proto"),
                         HOP_HEADER("content-encoding", "gzip"),
                         HOP_HEADER("accept-encoding", "gzip")};
    raw(c, "POST", TESTSVC "Echo", gzok, 3, z.data, z.len, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(hop_headers_get(r.headers, r.nheaders, "content-encoding", NULL), "gzip");
    uint8_t *plain;
    size_t plen;
    assert_int_equal(hop_gzip_decompress(r.body, r.body_len, 100, &plain, &plen), HOP_OK);
    assert_int_equal(plen, 4);
    assert_memory_equal(plain, "\x0a\x02ok", 4);
    free(plain);
    hop_result_free(&r);
    still_serving(c);
    hop_buf_free(&z);
    /* wrong content type, wrong method, unknown procedure */
    hop_header txt[] = {HOP_HEADER("content-type", "text/plain")};
    raw(c, "POST", TESTSVC "Echo", txt, 1, "hi", 2, &r);
    assert_int_equal(r.status, 415);
    assert_non_null(hop_headers_get(r.headers, r.nheaders, "accept-post", NULL));
    hop_result_free(&r);
    still_serving(c);
    bad_connect(c, "POST", TESTSVC "Echo", NULL, 0, "hi", 2, 415, -1, NULL);
    bad_connect(c, "GET", TESTSVC "Fail?encoding=proto&message=", NULL, 0, NULL, 0, 405, -1, NULL);
    bad_connect(c, "PUT", TESTSVC "Echo", json, 1, "{}", 2, 405, -1, NULL);
    bad_connect(c, "POST", "/hopwire.test.v1.Nope/Echo", json, 1, "{}", 2, 404,
                HOP_CODE_UNIMPLEMENTED, "unknown procedure /hopwire.test.v1.Nope/Echo");
    /* Connect GET: base64 message, and a bad base64 */
    raw(c, "GET", TESTSVC "Echo?connect=v1&encoding=proto&base64=1&message=CgJvaw", NULL, 0, NULL,
        0, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 4);
    assert_memory_equal(r.body, "\x0a\x02ok", 4);
    hop_result_free(&r);
    still_serving(c);
    raw(c, "GET", TESTSVC "Echo?encoding=json&message=%7B%22text%22%3A%22a%20b%22%7D", NULL, 0,
        NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 14);
    assert_memory_equal(r.body, "{\"text\":\"a b\"}", 14);
    hop_result_free(&r);
    still_serving(c);
    bad_connect(c, "GET", TESTSVC "Echo?encoding=proto&base64=1&message=%%%%", NULL, 0, NULL, 0,
                400, HOP_CODE_INVALID_ARGUMENT, "bad base64");
    bad_connect(c, "GET", TESTSVC "Echo?encoding=yaml&message=x", NULL, 0, NULL, 0, 415, -1, NULL);
  }
}

static void grpc_envelope_errors(void **state) {
  hop_result r;
  hop_header g[] = {HOP_HEADER("content-type", "application/grpc"), HOP_HEADER("te", "trailers")};
  /* truncated envelope */
  bad_grpc(c_h2, TESTSVC "Echo", g, 2, "\0\0\0", 3, HOP_CODE_INVALID_ARGUMENT,
           "truncated envelope: 3 bytes");
  /* length prefix larger than the body */
  bad_grpc(c_h2, TESTSVC "Echo", g, 2,
           "\0\0\0\0\x0a"
           "abc",
           8, HOP_CODE_INVALID_ARGUMENT, "length prefix says 10 bytes, 3 received");
  /* compressed flag without an encoding */
  bad_grpc(c_h2, TESTSVC "Echo", g, 2, "\x01\0\0\0\x01x", 6, HOP_CODE_INTERNAL,
           "compressed flag set but no message encoding");
  /* unknown encoding */
  hop_header gbr[] = {HOP_HEADER("content-type", "application/grpc"),
                      HOP_HEADER("grpc-encoding", "br")};
  raw(c_h2, "POST", TESTSVC "Echo", gbr, 2, "\x01\0\0\0\x01x", 6, &r);
  expect_grpc(&r, HOP_CODE_UNIMPLEMENTED, "unknown grpc-encoding \"br\"");
  assert_string_equal(hop_headers_get(r.headers, r.nheaders, "grpc-accept-encoding", NULL), "gzip");
  hop_result_free(&r);
  still_serving(c_h2);
  /* message over the limit: refused from the prefix (5 MiB declared, 4 bytes sent) */
  bad_grpc(c_h2, TESTSVC "Echo", g, 2, "\0\0\x50\0\0abcd", 9, HOP_CODE_RESOURCE_EXHAUSTED,
           "5242880 bytes exceeds the limit of 4194304");
  /* gzip bomb in an envelope */
  size_t big = 64u << 20;
  uint8_t *zeros = calloc(1, big);
  hop_buf z, env;
  hop_buf_init(&z, big);
  hop_buf_init(&env, big);
  assert_int_equal(hop_gzip_compress(zeros, big, &z), HOP_OK);
  free(zeros);
  hop_env_write(&env, HOP_ENV_COMPRESSED, z.data, z.len);
  hop_header ggz[] = {HOP_HEADER("content-type", "application/grpc+proto"),
                      HOP_HEADER("grpc-encoding", "gzip")};
  bad_grpc(c_h2, TESTSVC "Echo", ggz, 2, env.data, env.len, HOP_CODE_RESOURCE_EXHAUSTED,
           "after decompression");
  hop_buf_free(&z);
  hop_buf_free(&env);
  still_serving(c_h2);
  /* non-numeric and unit-less grpc-timeout */
  hop_header gto[] = {HOP_HEADER("content-type", "application/grpc"),
                      HOP_HEADER("grpc-timeout", "fast")};
  bad_grpc(c_h2, TESTSVC "Echo", gto, 2, "\0\0\0\0\0", 5, HOP_CODE_INVALID_ARGUMENT,
           "invalid grpc-timeout \"fast\"");
  gto[1] = (hop_header)HOP_HEADER("grpc-timeout", "100");
  bad_grpc(c_h2, TESTSVC "Echo", gto, 2, "\0\0\0\0\0", 5, HOP_CODE_INVALID_ARGUMENT,
           "invalid grpc-timeout");
  /* invalid JSON inside an envelope */
  hop_header gj[] = {HOP_HEADER("content-type", "application/grpc+json")};
  bad_grpc(c_h2, TESTSVC "Echo", gj, 1, "\0\0\0\0\x02{]", 7, HOP_CODE_INVALID_ARGUMENT,
           "invalid JSON message at byte 1");
  /* two messages in a unary request */
  bad_grpc(c_h2, TESTSVC "Echo", g, 2, "\0\0\0\0\0\0\0\0\0\0", 10, HOP_CODE_INVALID_ARGUMENT,
           "more than one");
  /* gRPC over HTTP/1.1 */
  bad_grpc(c_h1, TESTSVC "Echo", g, 2, "\0\0\0\0\0", 5, HOP_CODE_UNIMPLEMENTED,
           "gRPC needs HTTP/2");
  /* a good gRPC call: status in the trailers */
  raw(c_h2, "POST", TESTSVC "Echo", g, 2, "\0\0\0\0\x04\x0a\x02ok", 9, &r);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.body_len, 9);
  assert_string_equal(hop_headers_get(r.trailers, r.ntrailers, "grpc-status", NULL), "0");
  hop_result_free(&r);
  still_serving(c_h2);
}

static void grpc_web_errors(void **state) {
  hop_client *clients[2] = {c_h1, c_h2};
  for (int ci = 0; ci < 2; ci++) {
    hop_result r;
    hop_header w[] = {HOP_HEADER("content-type", "application/grpc-web+proto")};
    /* over the limit: the status is in the body's trailer frame */
    raw(clients[ci], "POST", TESTSVC "Echo", w, 1, "\0\0\x50\0\0abcd", 9, &r);
    assert_int_equal(r.status, 200);
    const uint8_t *m, *t;
    size_t ml, tl;
    uint8_t *owned, tf;
    hop_rpc_status st;
    assert_int_equal(hop_env_decode_unary(r.body, r.body_len, HOP_ENC_IDENTITY, 100, 1, &m, &ml,
                                          &owned, &t, &tl, &tf, &st),
                     HOP_OK);
    assert_null(m);
    assert_non_null(t);
    hop_hdr_list l = {0};
    assert_int_equal(hop_grpcweb_trailers_parse(t, tl, &l), HOP_OK);
    hop_rpc_err_data e;
    assert_int_equal(hop_grpc_status_from_headers(l.v, l.n, &e), HOP_OK);
    assert_int_equal(e.code, HOP_CODE_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(e.message, "exceeds the limit"));
    hop_rpc_err_data_free(&e);
    hop_hdr_list_free(&l);
    hop_result_free(&r);
    /* truncated */
    raw(clients[ci], "POST", TESTSVC "Echo", w, 1, "\0\0", 2, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(memmem(r.body, r.body_len, "grpc-status: 3", 14));
    assert_non_null(memmem(r.body, r.body_len, "truncated envelope", 18));
    hop_result_free(&r);
    still_serving(clients[ci]);
  }
}

static void deadlines(void **state) {
  hop_client *clients[2] = {c_h1, c_h2};
  for (int ci = 0; ci < 2; ci++) {
    hop_result r;
    /* Slow(1000 ms) with a 100 ms deadline: deadline_exceeded at ~100 ms */
    hop_header h[] = {HOP_HEADER("content-type", "application/proto"),
                      HOP_HEADER("connect-timeout-ms", "100")};
    uint64_t t0 = hop_now_ms();
    raw(clients[ci], "POST", TESTSVC "Slow", h, 2, "\x08\xe8\x07", 3, &r);
    uint64_t took = hop_now_ms() - t0;
    expect_connect(&r, 504, HOP_CODE_DEADLINE_EXCEEDED, "deadline exceeded");
    assert_true(took >= 90 && took < 900);
    hop_result_free(&r);
    /* zero: expired on arrival, the handler is not called */
    h[1] = (hop_header)HOP_HEADER("connect-timeout-ms", "0");
    raw(clients[ci], "POST", TESTSVC "Slow", h, 2, "\x08\xe8\x07", 3, &r);
    expect_connect(&r, 504, HOP_CODE_DEADLINE_EXCEEDED, "deadline exceeded");
    hop_result_free(&r);
    still_serving(clients[ci]);
  }
  /* gRPC: grpc-timeout 100m */
  hop_header g[] = {HOP_HEADER("content-type", "application/grpc"),
                    HOP_HEADER("grpc-timeout", "100m")};
  hop_result r;
  uint64_t t0 = hop_now_ms();
  raw(c_h2, "POST", TESTSVC "Slow", g, 2, "\0\0\0\0\x03\x08\xe8\x07", 8, &r);
  uint64_t took = hop_now_ms() - t0;
  expect_grpc(&r, HOP_CODE_DEADLINE_EXCEEDED, "deadline exceeded");
  assert_true(took >= 90 && took < 900);
  hop_result_free(&r);
  /* the slow handlers finish later (after their deadline): nothing breaks */
  struct timespec ts = {1, 100 * 1000 * 1000};
  nanosleep(&ts, NULL);
  still_serving(c_h2);
  hop_rpc_server_stats st;
  hop_rpc_server_get_stats(rs, &st);
  assert_true(st.deadline_exceeded >= 5);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(connect_bad_input),
      cmocka_unit_test(grpc_envelope_errors),
      cmocka_unit_test(grpc_web_errors),
      cmocka_unit_test(deadlines),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
