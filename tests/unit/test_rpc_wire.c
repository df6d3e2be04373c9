/* RPC wire pieces without sockets: codes, envelopes and their decoder's error cases, gzip
 * limits (a gzip bomb stops at the limit), Connect error JSON, google.rpc.Status, timeouts,
 * percent-encoding, gRPC-Web trailer blocks, base64, JSON validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "hopwire/error.h"
#include "hopwire/rpc.h"
#include "rpc/envelope.h"
#include "rpc/gzip.h"
#include "rpc/json.h"
#include "rpc/wire.h"

static void codes_names_and_http(void **state) {
  (void)state;
  assert_string_equal(hop_code_name(HOP_CODE_OK), "ok");
  assert_string_equal(hop_code_name(HOP_CODE_CANCELED), "canceled");
  assert_string_equal(hop_code_name(HOP_CODE_DEADLINE_EXCEEDED), "deadline_exceeded");
  assert_string_equal(hop_code_name(HOP_CODE_UNAUTHENTICATED), "unauthenticated");
  assert_string_equal(hop_code_name((hop_code)17), "unknown");
  assert_string_equal(hop_code_grpc_name(HOP_CODE_CANCELED), "CANCELLED");
  /* every code round-trips through both names and its number */
  for (int c = 0; c <= 16; c++) {
    hop_code out = (hop_code)99;
    const char *n = hop_code_name((hop_code)c);
    assert_int_equal(hop_code_parse(n, strlen(n), &out), HOP_OK);
    assert_int_equal(out, c);
    n = hop_code_grpc_name((hop_code)c);
    assert_int_equal(hop_code_parse(n, strlen(n), &out), HOP_OK);
    assert_int_equal(out, c);
    char num[4];
    snprintf(num, sizeof(num), "%d", c);
    assert_int_equal(hop_code_parse(num, strlen(num), &out), HOP_OK);
    assert_int_equal(out, c);
  }
  hop_code out;
  assert_int_equal(hop_code_parse("cancelled", 9, &out), HOP_OK);
  assert_int_equal(out, HOP_CODE_CANCELED);
  assert_int_equal(hop_code_parse("nope", 4, &out), HOP_EINVAL);
  assert_int_equal(hop_code_parse("17", 2, &out), HOP_EINVAL);
  assert_int_equal(hop_code_parse("", 0, &out), HOP_EINVAL);
  assert_int_equal(hop_code_parse("not_found_x", 9, &out), HOP_OK); /* length rules */
  assert_int_equal(out, HOP_CODE_NOT_FOUND);
  /* Connect's code -> HTTP table */
  static const int http[17] = {200, 499, 500, 400, 504, 404, 409, 403, 429,
                               400, 409, 400, 501, 500, 503, 500, 401};
  for (int c = 0; c <= 16; c++) assert_int_equal(hop_code_to_http((hop_code)c), http[c]);
  /* HTTP -> code when there is no error body */
  assert_int_equal(hop_code_from_http(400), HOP_CODE_INTERNAL);
  assert_int_equal(hop_code_from_http(401), HOP_CODE_UNAUTHENTICATED);
  assert_int_equal(hop_code_from_http(403), HOP_CODE_PERMISSION_DENIED);
  assert_int_equal(hop_code_from_http(404), HOP_CODE_UNIMPLEMENTED);
  assert_int_equal(hop_code_from_http(429), HOP_CODE_UNAVAILABLE);
  assert_int_equal(hop_code_from_http(502), HOP_CODE_UNAVAILABLE);
  assert_int_equal(hop_code_from_http(503), HOP_CODE_UNAVAILABLE);
  assert_int_equal(hop_code_from_http(504), HOP_CODE_UNAVAILABLE);
  assert_int_equal(hop_code_from_http(418), HOP_CODE_UNKNOWN);
  assert_int_equal(hop_code_from_err(HOP_ETIMEDOUT), HOP_CODE_DEADLINE_EXCEEDED);
  assert_int_equal(hop_code_from_err(HOP_ECANCELED), HOP_CODE_CANCELED);
  assert_int_equal(hop_code_from_err(HOP_ECONNREFUSED), HOP_CODE_UNAVAILABLE);
  assert_string_equal(hop_rpc_protocol_name(HOP_RPC_GRPC_WEB), "grpc-web");
}

static void env_roundtrip(void **state) {
  (void)state;
  hop_buf b;
  hop_buf_init(&b, 1 << 20);
  assert_int_equal(hop_env_write(&b, 0, "hello", 5), HOP_OK);
  assert_int_equal(b.len, 10);
  assert_memory_equal(b.data, "\0\0\0\0\5hello", 10);
  const uint8_t *m, *t;
  size_t ml, tl;
  uint8_t *owned;
  hop_rpc_status st;
  assert_int_equal(hop_env_decode_unary(b.data, b.len, HOP_ENC_IDENTITY, 100, 0, &m, &ml, &owned,
                                        NULL, NULL, NULL, &st), HOP_OK);
  assert_int_equal(ml, 5);
  assert_memory_equal(m, "hello", 5);
  assert_null(owned);
  /* a data frame and a gRPC-Web trailer frame */
  assert_int_equal(hop_env_write(&b, HOP_ENV_TRAILER, "grpc-status: 0\r\n", 16), HOP_OK);
  assert_int_equal(hop_env_decode_unary(b.data, b.len, HOP_ENC_IDENTITY, 100, 1, &m, &ml, &owned,
                                        &t, &tl, NULL, &st), HOP_OK);
  assert_int_equal(tl, 16);
  assert_memory_equal(t, "grpc-status: 0\r\n", 16);
  /* the same without allow_trailer: precise error */
  assert_int_equal(hop_env_decode_unary(b.data, b.len, HOP_ENC_IDENTITY, 100, 0, &m, &ml, &owned,
                                        NULL, NULL, NULL, &st), HOP_EPROTO);
  assert_int_equal(st.code, HOP_CODE_INVALID_ARGUMENT);
  /* empty message is fine */
  hop_buf_clear(&b);
  hop_env_write(&b, 0, NULL, 0);
  assert_int_equal(hop_env_decode_unary(b.data, b.len, HOP_ENC_IDENTITY, 100, 0, &m, &ml, &owned,
                                        NULL, NULL, NULL, &st), HOP_OK);
  assert_int_equal(ml, 0);
  hop_buf_free(&b);
}

static void env_errors(void **state) {
  (void)state;
  const uint8_t *m;
  size_t ml;
  uint8_t *owned;
  hop_rpc_status st;
  /* truncated prefix */
  const uint8_t trunc[3] = {0, 0, 0};
  assert_int_equal(hop_env_decode_unary(trunc, 3, HOP_ENC_IDENTITY, 100, 0, &m, &ml, &owned,
                                        NULL, NULL, NULL, &st), HOP_EPROTO);
  assert_int_equal(st.code, HOP_CODE_INVALID_ARGUMENT);
  assert_non_null(strstr(st.msg, "truncated envelope"));
  assert_non_null(strstr(st.msg, "5-byte prefix"));
  /* length prefix larger than the body */
  const uint8_t longer[8] = {0, 0, 0, 0, 10, 'a', 'b', 'c'};
  assert_int_equal(hop_env_decode_unary(longer, 8, HOP_ENC_IDENTITY, 100, 0, &m, &ml, &owned,
                                        NULL, NULL, NULL, &st), HOP_EPROTO);
  assert_int_equal(st.code, HOP_CODE_INVALID_ARGUMENT);
  assert_non_null(strstr(st.msg, "says 10 bytes, 3 received"));
  /* no message at all */
  assert_int_equal(hop_env_decode_unary(longer, 0, HOP_ENC_IDENTITY, 100, 0, &m, &ml, &owned,
                                        NULL, NULL, NULL, &st), HOP_EPROTO);
  assert_non_null(strstr(st.msg, "no message"));
  /* two messages */
  const uint8_t two[12] = {0, 0, 0, 0, 1, 'a', 0, 0, 0, 0, 1, 'b'};
  assert_int_equal(hop_env_decode_unary(two, 12, HOP_ENC_IDENTITY, 100, 0, &m, &ml, &owned,
                                        NULL, NULL, NULL, &st), HOP_EPROTO);
  assert_non_null(strstr(st.msg, "more than one"));
  /* unknown flag bits */
  const uint8_t badflag[6] = {0x04, 0, 0, 0, 1, 'a'};
  assert_int_equal(hop_env_decode_unary(badflag, 6, HOP_ENC_IDENTITY, 100, 0, &m, &ml, &owned,
                                        NULL, NULL, NULL, &st), HOP_EPROTO);
  assert_non_null(strstr(st.msg, "flags 0x04"));
  /* compressed flag without an encoding: internal (gRPC's rule) */
  const uint8_t comp[6] = {0x01, 0, 0, 0, 1, 'a'};
  assert_int_equal(hop_env_decode_unary(comp, 6, HOP_ENC_IDENTITY, 100, 0, &m, &ml, &owned,
                                        NULL, NULL, NULL, &st), HOP_EPROTO);
  assert_int_equal(st.code, HOP_CODE_INTERNAL);
  assert_non_null(strstr(st.msg, "compressed flag"));
  /* unknown encoding */
  assert_int_equal(hop_env_decode_unary(comp, 6, HOP_ENC_UNKNOWN, 100, 0, &m, &ml, &owned, NULL,
                                        NULL, NULL, &st), HOP_EUNSUPPORTED);
  assert_int_equal(st.code, HOP_CODE_UNIMPLEMENTED);
  /* compressed with gzip declared but the payload is not gzip */
  assert_int_equal(hop_env_decode_unary(comp, 6, HOP_ENC_GZIP, 100, 0, &m, &ml, &owned, NULL,
                                        NULL, NULL, &st), HOP_EPROTO);
  assert_int_equal(st.code, HOP_CODE_INVALID_ARGUMENT);
  assert_non_null(strstr(st.msg, "gzip"));
  /* over the limit: refused from the prefix alone (the body is not even there) */
  const uint8_t huge[5] = {0, 0x7f, 0xff, 0xff, 0xff};
  assert_int_equal(hop_env_decode_unary(huge, 5, HOP_ENC_IDENTITY, 4u << 20, 0, &m, &ml, &owned,
                                        NULL, NULL, NULL, &st), HOP_ETOOBIG);
  assert_int_equal(st.code, HOP_CODE_RESOURCE_EXHAUSTED);
  assert_non_null(strstr(st.msg, "2147483647 bytes exceeds the limit of 4194304"));
  /* encoding names */
  assert_int_equal(hop_rpc_encoding_parse(NULL), HOP_ENC_IDENTITY);
  assert_int_equal(hop_rpc_encoding_parse("identity"), HOP_ENC_IDENTITY);
  assert_int_equal(hop_rpc_encoding_parse("gzip"), HOP_ENC_GZIP);
  assert_int_equal(hop_rpc_encoding_parse("br"), HOP_ENC_UNKNOWN);
  assert_true(hop_rpc_accepts_gzip("gzip"));
  assert_true(hop_rpc_accepts_gzip("identity, deflate, gzip;q=0.5"));
  assert_false(hop_rpc_accepts_gzip("gzip;q=0"));
  assert_false(hop_rpc_accepts_gzip("br, identity"));
  assert_false(hop_rpc_accepts_gzip(NULL));
}

static void gzip_limits(void **state) {
  (void)state;
  /* round trip */
  hop_buf z;
  hop_buf_init(&z, 64u << 20);
  const char *msg = "hello hello hello hello";
  assert_int_equal(hop_gzip_compress(msg, strlen(msg), &z), HOP_OK);
  uint8_t *out;
  size_t olen;
  assert_int_equal(hop_gzip_decompress(z.data, z.len, 100, &out, &olen), HOP_OK);
  assert_int_equal(olen, strlen(msg));
  assert_memory_equal(out, msg, olen);
  free(out);
  /* exactly at the limit passes, one below fails */
  assert_int_equal(hop_gzip_decompress(z.data, z.len, strlen(msg), &out, &olen), HOP_OK);
  free(out);
  assert_int_equal(hop_gzip_decompress(z.data, z.len, strlen(msg) - 1, &out, &olen), HOP_ETOOBIG);
  /* truncated stream and trailing garbage */
  assert_int_equal(hop_gzip_decompress(z.data, z.len - 4, 100, &out, &olen), HOP_EPROTO);
  hop_buf_append(&z, "xx", 2);
  assert_int_equal(hop_gzip_decompress(z.data, z.len, 100, &out, &olen), HOP_EPROTO);
  /* a bomb: 64 MiB of zeros squeezed to ~64 KiB stops at a 4 MiB limit */
  size_t big = 64u << 20;
  uint8_t *zeros = calloc(1, big);
  assert_non_null(zeros);
  hop_buf_clear(&z);
  assert_int_equal(hop_gzip_compress(zeros, big, &z), HOP_OK);
  free(zeros);
  assert_true(z.len < 200000);
  hop_buf env;
  hop_buf_init(&env, 1 << 20);
  hop_env_write(&env, HOP_ENV_COMPRESSED, z.data, z.len);
  const uint8_t *m;
  size_t ml;
  uint8_t *owned;
  hop_rpc_status st;
  assert_int_equal(hop_env_decode_unary(env.data, env.len, HOP_ENC_GZIP, 4u << 20, 0, &m, &ml,
                                        &owned, NULL, NULL, NULL, &st), HOP_ETOOBIG);
  assert_int_equal(st.code, HOP_CODE_RESOURCE_EXHAUSTED);
  assert_non_null(strstr(st.msg, "after decompression"));
  /* a small compressed message decodes into an owned buffer */
  hop_buf_clear(&z);
  hop_buf_clear(&env);
  hop_gzip_compress("abc", 3, &z);
  hop_env_write(&env, HOP_ENV_COMPRESSED, z.data, z.len);
  assert_int_equal(hop_env_decode_unary(env.data, env.len, HOP_ENC_GZIP, 100, 0, &m, &ml, &owned,
                                        NULL, NULL, NULL, &st), HOP_OK);
  assert_non_null(owned);
  assert_int_equal(ml, 3);
  assert_memory_equal(m, "abc", 3);
  free(owned);
  hop_buf_free(&env);
  hop_buf_free(&z);
}

static void connect_error_json(void **state) {
  (void)state;
  hop_buf b;
  hop_buf_init(&b, 1 << 20);
  const uint8_t v1[] = {0x08, 0x96, 0x01}; /* needs padding when padded: 3 bytes -> none */
  const uint8_t v2[] = {0xff, 0xfe};       /* "//4" unpadded */
  hop_rpc_detail d[2] = {{"type.googleapis.com/hopwire.test.v1.Info", 40, v1, sizeof(v1)},
                         {"x.Y", 3, v2, sizeof(v2)}};
  assert_int_equal(hop_connect_error_encode(&b, HOP_CODE_NOT_FOUND, "no \"such\"\nthing", d, 2),
                   HOP_OK);
  const char *want = "{\"code\":\"not_found\",\"message\":\"no \\\"such\\\"\\nthing\",\"details\":"
                     "[{\"type\":\"hopwire.test.v1.Info\",\"value\":\"CJYB\"},"
                     "{\"type\":\"x.Y\",\"value\":\"//4\"}]}";
  assert_int_equal(b.len, strlen(want));
  assert_memory_equal(b.data, want, b.len);
  assert_true(hop_json_valid((const char *)b.data, b.len, NULL));
  hop_rpc_err_data e;
  assert_int_equal(hop_connect_error_decode(b.data, b.len, &e), HOP_OK);
  assert_int_equal(e.code, HOP_CODE_NOT_FOUND);
  assert_string_equal(e.message, "no \"such\"\nthing");
  assert_int_equal(e.ndetails, 2);
  assert_int_equal(e.details[0].type_len, 20);
  assert_memory_equal(e.details[0].type, "hopwire.test.v1.Info", 20);
  assert_int_equal(e.details[0].value_len, 3);
  assert_memory_equal(e.details[0].value, v1, 3);
  assert_memory_equal(e.details[1].value, v2, 2);
  hop_rpc_err_data_free(&e);
  /* padded values, unknown keys, \u escapes are accepted */
  const char *in = "{\"message\":\"caf\\u00e9 \\ud83d\\ude00\",\"extra\":[1,{\"a\":null}],"
                   "\"code\":\"unavailable\",\"details\":[{\"type\":\"a.B\",\"value\":\"//4=\","
                   "\"debug\":{\"x\":1}}]}";
  assert_int_equal(hop_connect_error_decode((const uint8_t *)in, strlen(in), &e), HOP_OK);
  assert_int_equal(e.code, HOP_CODE_UNAVAILABLE);
  assert_string_equal(e.message, "caf\xc3\xa9 \xf0\x9f\x98\x80");
  assert_int_equal(e.ndetails, 1);
  assert_int_equal(e.details[0].value_len, 2);
  hop_rpc_err_data_free(&e);
  /* no code, bad code, not JSON */
  const char *bad[] = {"{\"message\":\"x\"}", "{\"code\":\"bogus\"}", "{\"code\":\"ok\"}",
                       "<html>", "{\"code\":\"internal\"", ""};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(hop_connect_error_decode((const uint8_t *)bad[i], strlen(bad[i]), &e),
                     HOP_EINVAL);
    assert_null(e.message);
  }
  /* no message, no details */
  hop_buf_clear(&b);
  hop_connect_error_encode(&b, HOP_CODE_INTERNAL, NULL, NULL, 0);
  assert_memory_equal(b.data, "{\"code\":\"internal\"}", b.len);
  hop_buf_free(&b);
}

static void grpc_status_proto(void **state) {
  (void)state;
  hop_buf b;
  hop_buf_init(&b, 1 << 20);
  const uint8_t v[] = {1, 2, 3};
  hop_rpc_detail d = {"hopwire.test.v1.Info", 20, v, 3};
  assert_int_equal(hop_grpc_status_encode(&b, HOP_CODE_ABORTED, "stop", &d, 1), HOP_OK);
  /* 08 0a | 12 04 "stop" | 1a len (0a len "type.googleapis.com/..." 12 03 01 02 03) */
  assert_int_equal(b.data[0], 0x08);
  assert_int_equal(b.data[1], 10);
  assert_int_equal(b.data[2], 0x12);
  hop_rpc_err_data e;
  assert_int_equal(hop_grpc_status_decode(b.data, b.len, &e), HOP_OK);
  assert_int_equal(e.code, HOP_CODE_ABORTED);
  assert_string_equal(e.message, "stop");
  assert_int_equal(e.ndetails, 1);
  assert_int_equal(e.details[0].type_len, 20);
  assert_memory_equal(e.details[0].type, "hopwire.test.v1.Info", 20);
  assert_memory_equal(e.details[0].value, v, 3);
  hop_rpc_err_data_free(&e);
  /* truncated protobuf */
  assert_int_equal(hop_grpc_status_decode(b.data, b.len - 1, &e), HOP_EPROTO);
  /* through headers: grpc-status + percent-encoded message + details-bin */
  hop_buf b64, pct;
  hop_buf_init(&b64, 1 << 20);
  hop_buf_init(&pct, 1 << 20);
  hop_b64_encode(&b64, b.data, b.len, HOP_B64_STD, 0);
  hop_pct_encode(&pct, "50% off\n\xc3\xa9", 10);
  assert_int_equal(pct.len, strlen("50%25 off%0A%C3%A9"));
  assert_memory_equal(pct.data, "50%25 off%0A%C3%A9", pct.len);
  hop_header h[3] = {{"grpc-status", 11, "10", 2},
                     {"grpc-message", 12, (const char *)pct.data, pct.len},
                     {"grpc-status-details-bin", 23, (const char *)b64.data, b64.len}};
  assert_int_equal(hop_grpc_status_from_headers(h, 3, &e), HOP_OK);
  assert_int_equal(e.code, HOP_CODE_ABORTED);
  assert_string_equal(e.message, "50% off\n\xc3\xa9");
  assert_int_equal(e.ndetails, 1);
  hop_rpc_err_data_free(&e);
  h[0].value = "17";
  assert_int_equal(hop_grpc_status_from_headers(h, 3, &e), HOP_EPROTO);
  h[0].value = "x1";
  assert_int_equal(hop_grpc_status_from_headers(h, 3, &e), HOP_EPROTO);
  assert_int_equal(hop_grpc_status_from_headers(h + 1, 2, &e), HOP_EPROTO);
  hop_buf_free(&b);
  hop_buf_free(&b64);
  hop_buf_free(&pct);
}

static void timeouts(void **state) {
  (void)state;
  uint64_t v;
  assert_int_equal(hop_rpc_parse_connect_timeout("1500", &v), HOP_OK);
  assert_int_equal(v, 1500);
  assert_int_equal(hop_rpc_parse_connect_timeout("0", &v), HOP_OK);
  assert_int_equal(v, 0);
  assert_int_equal(hop_rpc_parse_connect_timeout("9999999999", &v), HOP_OK);
  assert_int_equal(hop_rpc_parse_connect_timeout("12345678901", &v), HOP_EINVAL);
  assert_int_equal(hop_rpc_parse_connect_timeout("abc", &v), HOP_EINVAL);
  assert_int_equal(hop_rpc_parse_connect_timeout("-5", &v), HOP_EINVAL);
  assert_int_equal(hop_rpc_parse_connect_timeout("1.5", &v), HOP_EINVAL);
  assert_int_equal(hop_rpc_parse_connect_timeout("", &v), HOP_EINVAL);
  assert_int_equal(hop_rpc_parse_connect_timeout(NULL, &v), HOP_EINVAL);
  assert_int_equal(hop_rpc_parse_grpc_timeout("100m", &v), HOP_OK);
  assert_int_equal(v, 100000);
  assert_int_equal(hop_rpc_parse_grpc_timeout("2S", &v), HOP_OK);
  assert_int_equal(v, 2000000);
  assert_int_equal(hop_rpc_parse_grpc_timeout("1M", &v), HOP_OK);
  assert_int_equal(v, 60000000);
  assert_int_equal(hop_rpc_parse_grpc_timeout("1H", &v), HOP_OK);
  assert_int_equal(v, 3600000000ull);
  assert_int_equal(hop_rpc_parse_grpc_timeout("7u", &v), HOP_OK);
  assert_int_equal(v, 7);
  assert_int_equal(hop_rpc_parse_grpc_timeout("1500n", &v), HOP_OK);
  assert_int_equal(v, 2);
  assert_int_equal(hop_rpc_parse_grpc_timeout("123456789m", &v), HOP_EINVAL); /* 9 digits */
  assert_int_equal(hop_rpc_parse_grpc_timeout("10", &v), HOP_EINVAL);         /* no unit */
  assert_int_equal(hop_rpc_parse_grpc_timeout("10x", &v), HOP_EINVAL);
  assert_int_equal(hop_rpc_parse_grpc_timeout("m", &v), HOP_EINVAL);
  assert_int_equal(hop_rpc_parse_grpc_timeout("soon", &v), HOP_EINVAL);
  char buf[16];
  hop_rpc_format_grpc_timeout(250, buf, sizeof(buf));
  assert_string_equal(buf, "250m");
  hop_rpc_format_grpc_timeout(100000000ull, buf, sizeof(buf));
  assert_string_equal(buf, "100000S");
  assert_int_equal(hop_rpc_parse_grpc_timeout(buf, &v), HOP_OK);
}

static void pct_and_form(void **state) {
  (void)state;
  hop_buf b;
  hop_buf_init(&b, 1024);
  assert_int_equal(hop_pct_decode(&b, "a%20b%zz%4", 10), HOP_OK);
  assert_int_equal(b.len, 8);
  assert_memory_equal(b.data, "a b%zz%4", 8);
  hop_buf_clear(&b);
  assert_int_equal(hop_form_decode(&b, "a+b%2B", 6), HOP_OK);
  assert_memory_equal(b.data, "a b+", 4);
  hop_buf_clear(&b);
  hop_pct_encode(&b, "plain text", 10);
  assert_memory_equal(b.data, "plain text", 10);
  hop_buf_free(&b);
}

static void grpcweb_trailer_block(void **state) {
  (void)state;
  hop_buf b;
  hop_buf_init(&b, 1024);
  hop_header t[2] = {HOP_HEADER("grpc-status", "0"), HOP_HEADER("grpc-message", "")};
  assert_int_equal(hop_grpcweb_trailers_encode(&b, t, 2), HOP_OK);
  assert_int_equal(b.len, strlen("grpc-status: 0\r\ngrpc-message: \r\n"));
  assert_memory_equal(b.data, "grpc-status: 0\r\ngrpc-message: \r\n", b.len);
  hop_hdr_list l = {0};
  const char *in = "Grpc-Status:5\r\ngrpc-message: not here \r\nx-extra: 1\n";
  assert_int_equal(hop_grpcweb_trailers_parse((const uint8_t *)in, strlen(in), &l), HOP_OK);
  assert_int_equal(l.n, 3);
  assert_string_equal(l.v[0].name, "grpc-status");
  assert_string_equal(l.v[0].value, "5");
  assert_string_equal(l.v[1].value, "not here");
  hop_rpc_err_data e;
  assert_int_equal(hop_grpc_status_from_headers(l.v, l.n, &e), HOP_OK);
  assert_int_equal(e.code, HOP_CODE_NOT_FOUND);
  assert_string_equal(e.message, "not here");
  hop_rpc_err_data_free(&e);
  hop_hdr_list_free(&l);
  assert_int_equal(hop_grpcweb_trailers_parse((const uint8_t *)"no colon\r\n", 10, &l), HOP_EPROTO);
  hop_hdr_list_free(&l);
  hop_buf_free(&b);
}

static void base64_both_alphabets(void **state) {
  (void)state;
  hop_buf b, d;
  hop_buf_init(&b, 1024);
  hop_buf_init(&d, 1024);
  const uint8_t raw[] = {0xfb, 0xff, 0xbf, 0x00, 0x41};
  hop_b64_encode(&b, raw, 5, HOP_B64_STD, 1);
  assert_memory_equal(b.data, "+/+/AEE=", 8);
  hop_buf_clear(&b);
  hop_b64_encode(&b, raw, 5, HOP_B64_URL, 0);
  assert_int_equal(b.len, 7);
  assert_memory_equal(b.data, "-_-_AEE", 7);
  assert_int_equal(hop_b64_decode(&d, (const char *)b.data, b.len), HOP_OK);
  assert_int_equal(d.len, 5);
  assert_memory_equal(d.data, raw, 5);
  hop_buf_clear(&d);
  assert_int_equal(hop_b64_decode(&d, "+/+/AEE=", 8), HOP_OK);
  assert_memory_equal(d.data, raw, 5);
  assert_int_equal(hop_b64_decode(&d, "a", 1), HOP_EINVAL);
  assert_int_equal(hop_b64_decode(&d, "ab*d", 4), HOP_EINVAL);
  hop_buf_free(&b);
  hop_buf_free(&d);
}

static void json_validation(void **state) {
  (void)state;
  const char *good[] = {"{}", " [1, 2.5e-3, -0, true, false, null, \"x\\u0041\"] ",
                        "{\"a\":{\"b\":[{}]}}", "\"s\"", "0"};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
    assert_true(hop_json_valid(good[i], strlen(good[i]), NULL));
  const char *bad[] = {"", "{", "{\"a\":}", "[1,]", "01", "{\"a\" 1}", "tru", "\"\\x\"",
                       "{} {}", "{'a':1}", "1.", "\"\\ud800\"", "[\"a\nb\"]"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_false(hop_json_valid(bad[i], strlen(bad[i]), NULL));
  size_t at = 0;
  assert_false(hop_json_valid("{\"a\":1,}", 8, &at));
  assert_int_equal(at, 7);
  /* depth limit */
  char deep[200];
  memset(deep, '[', 100);
  memset(deep + 100, ']', 100);
  assert_false(hop_json_valid(deep, 200, NULL));
  assert_true(hop_json_valid(deep + 40, 120, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(codes_names_and_http), cmocka_unit_test(env_roundtrip),
      cmocka_unit_test(env_errors),           cmocka_unit_test(gzip_limits),
      cmocka_unit_test(connect_error_json),   cmocka_unit_test(grpc_status_proto),
      cmocka_unit_test(timeouts),             cmocka_unit_test(pct_and_form),
      cmocka_unit_test(grpcweb_trailer_block), cmocka_unit_test(base64_both_alphabets),
      cmocka_unit_test(json_validation),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
