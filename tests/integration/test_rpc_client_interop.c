/* Interop, hopwire's RPC client -> Node.js servers and hopwire's own server:
 * @connectrpc/connect-node over HTTP/1.1 (Connect, gRPC-Web) and h2c (Connect, gRPC, gRPC-Web),
 * @grpc/grpc-js over h2c (gRPC), hopwire serve-side router (all three), binary and JSON, with
 * and without gzip. Each combination asserts: echo of a message (fields intact), all 16 error
 * codes with message and an ErrorInfo detail, deadline_exceeded against a slow method within
 * the deadline, unimplemented for an unknown procedure. Both blocking and async calls.
 * Connect GET from the client (small messages in the URL, big ones falling back to POST).
 * ctest: RUN_SERIAL
 * ctest: TIMEOUT=240 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>

#include "core/clock.h"
#include "hopwire/client.h"
#include "hopwire/error.h"
#include "hopwire/rpc.h"
#include "hopwire/server.h"
#include "rpc/wire.h"
#include "rpc_testsvc.h"

static hop_client *c_h1, *c_h2;
static hop_child child; /* the Node server of the running test; stopped even on failure */
static int have_child;

static int stop_child(void **state) {
  if (have_child) hop_child_stop(&child, SIGTERM, 5000);
  have_child = 0;
  return 0;
}

static uint16_t start_child(const char *script, const char *a1, const char *a2) {
  assert_int_equal(tsv_start_node_server(&child, script, a1, a2), 0);
  have_child = 1;
  return child.port;
}

static int setup(void **state) {
  hop_client_config cfg;
  hop_client_config_init(&cfg);
  cfg.http = HOP_HTTP_H1;
  if (hop_client_new(&c_h1, &cfg)) return -1;
  hop_client_config_init(&cfg);
  cfg.http = HOP_HTTP_H2C;
  if (hop_client_new(&c_h2, &cfg)) return -1;
  return tsv_interop_dir() ? 0 : -1;
}

static int teardown(void **state) {
  hop_client_free(c_h1);
  hop_client_free(c_h2);
  return 0;
}

/* EchoMessage{text, payload} in either codec. */
static void echo_msg(hop_buf *b, hop_rpc_codec codec, const char *text, const uint8_t *p,
                     size_t plen) {
  if (codec == HOP_CODEC_JSON) {
    hop_buf_appendf(b, "{\"text\":\"%s\",\"payload\":\"", text);
    hop_b64_encode(b, p, plen, HOP_B64_STD, 1);
    hop_buf_append(b, "\"}", 2);
  } else {
    tsv_put_varint(b, 1 << 3 | 2);
    tsv_put_varint(b, strlen(text));
    hop_buf_append(b, text, strlen(text));
    tsv_put_varint(b, 2 << 3 | 2);
    tsv_put_varint(b, plen);
    hop_buf_append(b, p, plen);
  }
}

static void check_echo(hop_rpc_codec codec, const hop_rpc_result *r, const char *text,
                       const uint8_t *p, size_t plen) {
  if (r->code != HOP_CODE_OK) fprintf(stderr, "echo failed: %s: %s\n", hop_code_name(r->code), r->error_message);
  assert_int_equal(r->code, HOP_CODE_OK);
  hop_buf t, pl;
  hop_buf_init(&t, 1 << 20);
  hop_buf_init(&pl, 1 << 20);
  if (codec == HOP_CODEC_JSON) {
    hop_buf b64;
    hop_buf_init(&b64, 1 << 20);
    hop_json j;
    hop_json_init(&j, (const char *)r->message, r->message_len);
    /* {"text": ..., "payload": ...} in any order */
    assert_true(hop_json_eat(&j, '{'));
    hop_buf key;
    hop_buf_init(&key, 64);
    do {
      hop_buf_clear(&key);
      assert_int_equal(hop_json_string(&j, &key), 0);
      assert_true(hop_json_eat(&j, ':'));
      if (key.len == 4 && !memcmp(key.data, "text", 4))
        assert_int_equal(hop_json_string(&j, &t), 0);
      else if (key.len == 7 && !memcmp(key.data, "payload", 7))
        assert_int_equal(hop_json_string(&j, &b64), 0);
      else
        assert_int_equal(hop_json_skip(&j), 0);
    } while (hop_json_eat(&j, ','));
    assert_true(hop_json_eat(&j, '}'));
    assert_int_equal(hop_b64_decode(&pl, (const char *)b64.data, b64.len), HOP_OK);
    hop_buf_free(&b64);
    hop_buf_free(&key);
  } else {
    const uint8_t *s = NULL, *q = NULL;
    size_t sl = 0, ql = 0;
    assert_int_equal(tsv_proto_fields(r->message, r->message_len, 99, NULL, 1, &s, &sl), 0);
    assert_int_equal(tsv_proto_fields(r->message, r->message_len, 99, NULL, 2, &q, &ql), 0);
    hop_buf_append(&t, s, sl);
    hop_buf_append(&pl, q, ql);
  }
  assert_int_equal(t.len, strlen(text));
  assert_memory_equal(t.data, text, t.len);
  assert_int_equal(pl.len, plen);
  if (plen) assert_memory_equal(pl.data, p, plen);
  hop_buf_free(&t);
  hop_buf_free(&pl);
}

typedef struct combo {
  hop_client *c;
  const char *url;
  hop_rpc_protocol protocol;
  hop_rpc_codec codec;
  int gzip;
} combo;

static void opts_for(const combo *k, hop_rpc_call_opts *o, const char *proc, const hop_buf *m) {
  hop_rpc_call_opts_init(o);
  o->base_url = k->url;
  o->procedure = proc;
  o->protocol = k->protocol;
  o->codec = k->codec;
  o->message = m->data;
  o->message_len = m->len;
  o->gzip = k->gzip;
  o->gzip_min_bytes = 0;
  o->timeout_ms = 10000;
}

typedef struct async_wait {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done;
  hop_code code;
  size_t len;
} async_wait;

static void on_async(const hop_rpc_result *r, void *ud) {
  async_wait *w = ud;
  pthread_mutex_lock(&w->mu);
  w->code = r->code;
  w->len = r->message_len;
  w->done = 1;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

static void battery(const combo *k) {
  printf("== %s %s %s%s\n", k->url, hop_rpc_protocol_name(k->protocol),
         k->codec == HOP_CODEC_JSON ? "json" : "proto", k->gzip ? " gzip" : "");
  fflush(stdout);
  hop_buf m;
  hop_buf_init(&m, 8 << 20);
  hop_rpc_call_opts o;
  hop_rpc_result r;
  /* echo: small and 64 KiB */
  uint8_t small[] = {0, 1, 2, 255};
  echo_msg(&m, k->codec, "h\xc3\xa9llo", small, sizeof(small));
  opts_for(k, &o, TESTSVC "Echo", &m);
  assert_int_equal(hop_rpc_call(k->c, &o, &r), HOP_OK);
  check_echo(k->codec, &r, "h\xc3\xa9llo", small, sizeof(small));
  assert_int_equal(r.http_status, 200);
  hop_rpc_result_free(&r);
  /* the same through a prepared target (no base_url, no procedure) */
  char full[256];
  snprintf(full, sizeof(full), "%s%s", k->url, TESTSVC "Echo");
  hop_target *t = NULL;
  assert_int_equal(hop_target_new(&t, full), HOP_OK);
  o.base_url = o.procedure = NULL;
  o.target = t;
  assert_int_equal(hop_rpc_call(k->c, &o, &r), HOP_OK);
  check_echo(k->codec, &r, "h\xc3\xa9llo", small, sizeof(small));
  hop_rpc_result_free(&r);
  o.use_get = 1; /* a GET carries the message in the URL: it needs base_url */
  assert_int_equal(hop_rpc_call(k->c, &o, &r), HOP_EINVAL);
  hop_rpc_result_free(&r);
  hop_target_free(t);
  size_t big_len = 64 * 1024;
  uint8_t *big = malloc(big_len);
  for (size_t i = 0; i < big_len; i++) big[i] = (uint8_t)(i * 7);
  hop_buf_clear(&m);
  echo_msg(&m, k->codec, "big", big, big_len);
  opts_for(k, &o, TESTSVC "Echo", &m);
  assert_int_equal(hop_rpc_call(k->c, &o, &r), HOP_OK);
  check_echo(k->codec, &r, "big", big, big_len);
  hop_rpc_result_free(&r);
  free(big);
  /* async */
  async_wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, HOP_CODE_UNKNOWN, 0};
  assert_int_equal(hop_rpc_call_start(k->c, &o, on_async, &w, NULL), HOP_OK);
  pthread_mutex_lock(&w.mu);
  while (!w.done) pthread_cond_wait(&w.cv, &w.mu);
  pthread_mutex_unlock(&w.mu);
  assert_int_equal(w.code, HOP_CODE_OK);
  assert_int_equal(w.len, m.len > 0 ? w.len : 0);
  /* every error code, with its message and detail */
  for (int code = 1; code <= 16; code++) {
    char msg[64];
    snprintf(msg, sizeof(msg), "failure %d: \xc3\xbcn %% x", code);
    hop_buf_clear(&m);
    if (k->codec == HOP_CODEC_JSON) {
      hop_buf_appendf(&m, "{\"code\":%d,\"message\":\"%s\"}", code, msg);
    } else {
      tsv_put_varint(&m, 1 << 3);
      tsv_put_varint(&m, (uint64_t)code);
      tsv_put_varint(&m, 2 << 3 | 2);
      tsv_put_varint(&m, strlen(msg));
      hop_buf_append(&m, msg, strlen(msg));
    }
    opts_for(k, &o, TESTSVC "Fail", &m);
    assert_int_equal(hop_rpc_call(k->c, &o, &r), HOP_OK);
    if ((int)r.code != code)
      fprintf(stderr, "code %d: got %s (%s) http %d\n", code, hop_code_name(r.code),
              r.error_message, r.http_status);
    assert_int_equal(r.code, code);
    assert_int_equal(r.err, HOP_OK);
    assert_string_equal(r.error_message, msg);
    assert_int_equal(r.ndetails, 1);
    assert_int_equal(r.details[0].type_len, 25);
    assert_memory_equal(r.details[0].type, "hopwire.test.v1.ErrorInfo", 25);
    int64_t dcode = 0;
    const uint8_t *reason = NULL;
    size_t rl = 0;
    assert_int_equal(tsv_proto_fields(r.details[0].value, r.details[0].value_len, 2, &dcode, 1,
                                      &reason, &rl), 0);
    assert_int_equal(dcode, code);
    assert_int_equal(rl, strlen(msg));
    assert_memory_equal(reason, msg, rl);
    hop_rpc_result_free(&r);
  }
  /* deadline against a slow method */
  hop_buf_clear(&m);
  if (k->codec == HOP_CODEC_JSON) {
    hop_buf_appendf(&m, "{\"delayMs\":3000}");
  } else {
    tsv_put_varint(&m, 1 << 3);
    tsv_put_varint(&m, 3000);
  }
  opts_for(k, &o, TESTSVC "Slow", &m);
  o.timeout_ms = 200;
  uint64_t t0 = hop_now_ms();
  assert_int_equal(hop_rpc_call(k->c, &o, &r), HOP_OK);
  uint64_t took = hop_now_ms() - t0;
  assert_int_equal(r.code, HOP_CODE_DEADLINE_EXCEEDED);
  assert_true(took >= 150 && took < 2000);
  hop_rpc_result_free(&r);
  /* a slow call inside its deadline */
  hop_buf_clear(&m);
  if (k->codec == HOP_CODEC_JSON) {
    hop_buf_appendf(&m, "{\"delayMs\":20}");
  } else {
    tsv_put_varint(&m, 1 << 3);
    tsv_put_varint(&m, 20);
  }
  opts_for(k, &o, TESTSVC "Slow", &m);
  assert_int_equal(hop_rpc_call(k->c, &o, &r), HOP_OK);
  assert_int_equal(r.code, HOP_CODE_OK);
  hop_rpc_result_free(&r);
  /* unknown procedure */
  opts_for(k, &o, "/hopwire.test.v1.Nope/Echo", &m);
  assert_int_equal(hop_rpc_call(k->c, &o, &r), HOP_OK);
  assert_int_equal(r.code, HOP_CODE_UNIMPLEMENTED);
  hop_rpc_result_free(&r);
  hop_buf_free(&m);
}

/* Connect GET from the client: small messages ride in the URL, big ones fall back to POST. */
static void connect_get(hop_client *c, const char *url, hop_rpc_codec codec) {
  combo k = {c, url, HOP_RPC_CONNECT, codec, 0};
  hop_buf m;
  hop_buf_init(&m, 1 << 20);
  uint8_t small[] = {9, 8, 7};
  echo_msg(&m, codec, "get me", small, sizeof(small));
  hop_rpc_call_opts o;
  hop_rpc_result r;
  opts_for(&k, &o, TESTSVC "Echo", &m);
  o.use_get = 1;
  assert_int_equal(hop_rpc_call(c, &o, &r), HOP_OK);
  check_echo(codec, &r, "get me", small, sizeof(small));
  hop_rpc_result_free(&r);
  size_t big_len = 32 * 1024;
  uint8_t *big = calloc(1, big_len);
  hop_buf_clear(&m);
  echo_msg(&m, codec, "too big for a URL", big, big_len);
  opts_for(&k, &o, TESTSVC "Echo", &m);
  o.use_get = 1;
  assert_int_equal(hop_rpc_call(c, &o, &r), HOP_OK);
  check_echo(codec, &r, "too big for a URL", big, big_len);
  hop_rpc_result_free(&r);
  free(big);
  hop_buf_free(&m);
}

static void run_matrix(const char *url, hop_client *c, const hop_rpc_protocol *protos,
                       size_t nprotos, int json_ok) {
  for (size_t i = 0; i < nprotos; i++)
    for (int codec = HOP_CODEC_PROTO; codec <= (json_ok ? HOP_CODEC_JSON : HOP_CODEC_PROTO); codec++)
      for (int gz = 0; gz <= 1; gz++) {
        combo k = {c, url, protos[i], (hop_rpc_codec)codec, gz};
        battery(&k);
      }
}

static void to_connect_node_h1(void **state) {
  char url[64];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u", start_child("connect_server.mjs", "--http", "1.1"));
  hop_rpc_protocol p[] = {HOP_RPC_CONNECT, HOP_RPC_GRPC_WEB};
  run_matrix(url, c_h1, p, 2, 1);
}

static void to_connect_node_h2(void **state) {
  char url[64];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u", start_child("connect_server.mjs", "--http", "2"));
  hop_rpc_protocol p[] = {HOP_RPC_CONNECT, HOP_RPC_GRPC, HOP_RPC_GRPC_WEB};
  run_matrix(url, c_h2, p, 3, 1);
  connect_get(c_h2, url, HOP_CODEC_PROTO);
  connect_get(c_h2, url, HOP_CODEC_JSON);
}

static void to_grpc_js(void **state) {
  char url[64];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u", start_child("grpc_server.js", NULL, NULL));
  hop_rpc_protocol p[] = {HOP_RPC_GRPC};
  run_matrix(url, c_h2, p, 1, 0);
}

/* ---- handler trailers (hopwire server only) ---- */

/* Replies with a header and two trailers; "Trailers/Bad" tries a trailer a protocol owns. */
static void h_trailers(hop_rpc_request *rq, void *ud) {
  size_t len;
  const uint8_t *m = hop_rpc_request_message(rq, &len);
  hop_header md = HOP_HEADER("x-hdr", "h");
  hop_header tr[2] = {HOP_HEADER("x-trace", "abc"), HOP_HEADER("x-count", "2")};
  if (ud) tr[1] = (hop_header)HOP_HEADER("grpc-status", "0");
  hop_rpc_reply_trailers(rq, m, len, &md, 1, tr, 2);
}

static void check_trailers(hop_client *c, const char *url, hop_rpc_protocol protocol) {
  hop_rpc_call_opts o;
  hop_rpc_call_opts_init(&o);
  o.base_url = url;
  o.procedure = TESTSVC "Trailers";
  o.protocol = protocol;
  o.message = "\x0a\x02hi";
  o.message_len = 4;
  hop_rpc_result r;
  assert_int_equal(hop_rpc_call(c, &o, &r), HOP_OK);
  assert_int_equal(r.code, HOP_CODE_OK);
  assert_int_equal(r.message_len, 4);
  assert_string_equal(hop_headers_get(r.headers, r.nheaders, "x-hdr", NULL), "h");
  assert_non_null(hop_headers_get(r.trailers, r.ntrailers, "x-trace", NULL));
  assert_string_equal(hop_headers_get(r.trailers, r.ntrailers, "x-trace", NULL), "abc");
  assert_string_equal(hop_headers_get(r.trailers, r.ntrailers, "x-count", NULL), "2");
  /* Connect's prefixed form is moved, not copied */
  assert_null(hop_headers_get(r.headers, r.nheaders, "trailer-x-trace", NULL));
  hop_rpc_result_free(&r);
  o.procedure = TESTSVC "TrailersBad";
  assert_int_equal(hop_rpc_call(c, &o, &r), HOP_OK);
  assert_int_equal(r.code, HOP_CODE_INTERNAL);
  assert_string_equal(r.error_message, "invalid response trailer");
  hop_rpc_result_free(&r);
}

/* On the wire, Connect unary carries them as "trailer-" headers. */
static void check_connect_trailer_headers(hop_client *c, const char *url) {
  char full[128];
  snprintf(full, sizeof(full), "%s" TESTSVC "Trailers", url);
  hop_header h = HOP_HEADER("content-type", "application/proto");
  hop_call_opts co = {.url = full, .headers = &h, .nheaders = 1, .body = "\x0a\x02hi", .body_len = 4};
  hop_result hr;
  assert_int_equal(hop_client_do(c, &co, &hr), HOP_OK);
  assert_int_equal(hr.status, 200);
  assert_string_equal(hop_headers_get(hr.headers, hr.nheaders, "trailer-x-trace", NULL), "abc");
  assert_string_equal(hop_headers_get(hr.headers, hr.nheaders, "trailer-x-count", NULL), "2");
  hop_result_free(&hr);
}

static void to_hopwire(void **state) {
  hop_server *srv;
  hop_rpc_server *rs;
  hop_server_config cfg;
  hop_server_config_init(&cfg);
  cfg.threads = 1;
  assert_int_equal(hop_server_new(&srv, &cfg), HOP_OK);
  assert_int_equal(hop_rpc_server_new(&rs, srv, NULL), HOP_OK);
  assert_int_equal(tsv_register(rs), HOP_OK);
  assert_int_equal(hop_rpc_server_handle(rs, TESTSVC "Trailers", h_trailers, NULL, 0), HOP_OK);
  assert_int_equal(hop_rpc_server_handle(rs, TESTSVC "TrailersBad", h_trailers, rs, 0), HOP_OK);
  assert_int_equal(hop_server_start(srv), HOP_OK);
  char url[64];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u", hop_server_port(srv));
  check_trailers(c_h1, url, HOP_RPC_CONNECT);
  check_trailers(c_h1, url, HOP_RPC_GRPC_WEB);
  check_trailers(c_h2, url, HOP_RPC_CONNECT);
  check_trailers(c_h2, url, HOP_RPC_GRPC);
  check_trailers(c_h2, url, HOP_RPC_GRPC_WEB);
  check_connect_trailer_headers(c_h1, url);
  check_connect_trailer_headers(c_h2, url);
  hop_rpc_protocol h1p[] = {HOP_RPC_CONNECT, HOP_RPC_GRPC_WEB};
  run_matrix(url, c_h1, h1p, 2, 1);
  hop_rpc_protocol h2p[] = {HOP_RPC_CONNECT, HOP_RPC_GRPC, HOP_RPC_GRPC_WEB};
  run_matrix(url, c_h2, h2p, 3, 1);
  connect_get(c_h1, url, HOP_CODEC_PROTO);
  connect_get(c_h2, url, HOP_CODEC_JSON);
  /* the GET really is a GET: a procedure with side effects refuses it */
  hop_rpc_call_opts o;
  hop_rpc_call_opts_init(&o);
  o.base_url = url;
  o.procedure = TESTSVC "Fail";
  o.use_get = 1;
  hop_rpc_result r;
  assert_int_equal(hop_rpc_call(c_h2, &o, &r), HOP_OK);
  assert_int_equal(r.http_status, 405);
  assert_int_equal(r.code, HOP_CODE_UNKNOWN);
  hop_rpc_result_free(&r);
  hop_server_stop(srv);
  hop_server_wait(srv);
  hop_server_free(srv);
  hop_rpc_server_free(rs);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(to_hopwire),
      cmocka_unit_test_teardown(to_connect_node_h1, stop_child),
      cmocka_unit_test_teardown(to_connect_node_h2, stop_child),
      cmocka_unit_test_teardown(to_grpc_js, stop_child),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
