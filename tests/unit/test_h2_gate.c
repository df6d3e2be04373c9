/* The frame gate (src/h2/h2_gate.c) in front of an in-memory nghttp2 server session with
 * hopwire's options (NO_RFC7540_PRIORITIES, no closed streams): each RFC 9113 rule, with the
 * input fed in pieces of 1, 2, 5, 9, 14 bytes and whole (frame headers split across reads). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "h2/h2_gate.h"
#include "h2/h2_opts.h"

typedef struct env {
  hop_h2_gate g;
  _Alignas(8) uint8_t tables[HOP_H2_GATE_TABLES(1)];
  nghttp2_session *s;
  uint8_t out[4096]; /* what the session sent (mem_send), concatenated */
  size_t out_len;
} env;

static int on_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
  hop_h2_gate_on_recv(&((env *)ud)->g, f);
  return 0;
}
static int on_send(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
  hop_h2_gate_on_send(&((env *)ud)->g, f);
  return 0;
}
static int on_invalid(nghttp2_session *s, const nghttp2_frame *f, int e, void *ud) {
  hop_h2_gate_on_invalid(&((env *)ud)->g, f);
  return 0;
}

static void env_init(env *e) {
  memset(e, 0, sizeof(*e));
  nghttp2_session_callbacks *cb;
  assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_recv);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_send);
  nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cb, on_invalid);
  hop_h2_limits l;
  hop_h2_limits_init(&l);
  nghttp2_option *o;
  assert_int_equal(hop_h2_option_new(&o, &l), 0);
  assert_int_equal(nghttp2_session_server_new2(&e->s, cb, e, o), 0);
  nghttp2_option_del(o);
  nghttp2_session_callbacks_del(cb);
  assert_int_equal(hop_h2_submit_settings(e->s, &l), 0);
  memset(e->tables, 0, sizeof(e->tables));
  hop_h2_gate_init(&e->g, 1, e->tables);
}

static void env_free(env *e) { nghttp2_session_del(e->s); }

static void drain(env *e) {
  const uint8_t *p;
  ssize_t n;
  while ((n = nghttp2_session_mem_send(e->s, &p)) > 0) {
    size_t k = (size_t)n;
    if (k > sizeof(e->out) - e->out_len) k = sizeof(e->out) - e->out_len;
    memcpy(e->out + e->out_len, p, k);
    e->out_len += k;
  }
}

static void feed(env *e, const uint8_t *p, size_t n, size_t step) {
  for (size_t off = 0; off < n; off += step) {
    size_t k = n - off < step ? n - off : step;
    assert_true(hop_h2_gate_recv(&e->g, e->s, p + off, k) == (ssize_t)k);
  }
  drain(e);
}

static size_t frame(uint8_t *b, uint8_t type, uint8_t flags, uint32_t sid, const void *pl,
                    size_t n) {
  b[0] = (uint8_t)(n >> 16), b[1] = (uint8_t)(n >> 8), b[2] = (uint8_t)n;
  b[3] = type, b[4] = flags;
  b[5] = (uint8_t)(sid >> 24), b[6] = (uint8_t)(sid >> 16), b[7] = (uint8_t)(sid >> 8),
  b[8] = (uint8_t)sid;
  if (n) memcpy(b + 9, pl, n);
  return 9 + n;
}

/* GET / on authority "a": static-table indices and one literal. */
static const uint8_t BLOCK[] = {0x82, 0x86, 0x84, 0x41, 0x01, 'a'};

static size_t open_get(uint8_t *b, uint32_t sid, int end_stream) {
  return frame(b, NGHTTP2_HEADERS,
               NGHTTP2_FLAG_END_HEADERS | (end_stream ? NGHTTP2_FLAG_END_STREAM : 0), sid, BLOCK,
               sizeof(BLOCK));
}

static size_t start(uint8_t *b) {
  memcpy(b, NGHTTP2_CLIENT_MAGIC, NGHTTP2_CLIENT_MAGIC_LEN);
  return NGHTTP2_CLIENT_MAGIC_LEN + frame(b + NGHTTP2_CLIENT_MAGIC_LEN, NGHTTP2_SETTINGS, 0, 0,
                                          NULL, 0);
}

static void answer(env *e, int32_t sid) {
  nghttp2_nv nv = {(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE};
  assert_int_equal(nghttp2_submit_response(e->s, sid, &nv, 1, NULL), 0);
  drain(e);
}

/* The session sent RST_STREAM(|code|) on |sid|. */
static int sent_rst(const env *e, uint32_t sid, uint32_t code) {
  for (size_t off = 0; off + 9 <= e->out_len;) {
    const uint8_t *b = e->out + off;
    size_t n = (size_t)b[0] << 16 | (size_t)b[1] << 8 | b[2];
    uint32_t id = (uint32_t)(b[5] & 0x7f) << 24 | (uint32_t)b[6] << 16 | (uint32_t)b[7] << 8 | b[8];
    if (b[3] == NGHTTP2_RST_STREAM && id == sid && n == 4 && off + 13 <= e->out_len &&
        ((uint32_t)b[9] << 24 | (uint32_t)b[10] << 16 | (uint32_t)b[11] << 8 | b[12]) == code)
      return 1;
    off += 9 + n;
  }
  return 0;
}

static const size_t STEPS[] = {1, 2, 5, 9, 14, 4096};
#define NSTEPS (sizeof(STEPS) / sizeof(STEPS[0]))

/* Clients send a batch of HEADERS, then their DATA: all of it in one read passes (the gate
 * knows these verdicts without feeding the session frame by frame) and every stream ends. */
static void headers_batch_then_data(void **state) {
  for (size_t i = 0; i < NSTEPS; i++) {
    env e;
    env_init(&e);
    uint8_t b[2048];
    size_t n = start(b);
    for (uint32_t sid = 1; sid <= 39; sid += 2) n += open_get(b + n, sid, 0);
    for (uint32_t sid = 1; sid <= 39; sid += 2)
      n += frame(b + n, NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, sid, "x", 1);
    feed(&e, b, n, STEPS[i]);
    assert_int_equal(e.g.error, 0);
    assert_int_equal(e.g.violations, 0);
    for (uint32_t sid = 1; sid <= 39; sid += 2) {
      nghttp2_stream *st = nghttp2_session_find_stream(e.s, (int32_t)sid);
      assert_non_null(st);
      assert_int_equal(nghttp2_stream_get_state(st), NGHTTP2_STREAM_STATE_HALF_CLOSED_REMOTE);
    }
    env_free(&e);
  }
}

/* In the same read as the HEADERS that opened them: DATA after the peer's RST_STREAM is a
 * connection error of the gate's, DATA after END_STREAM (half-closed remote) the session's
 * own, as when the frames come one read each. */
static void data_after_close_in_one_read(void **state) {
  for (int variant = 0; variant < 2; variant++) {
    for (size_t i = 0; i < NSTEPS; i++) {
      env e;
      env_init(&e);
      uint8_t b[512];
      size_t n = start(b);
      n += open_get(b + n, 1, 0);
      n += open_get(b + n, 3, 0);
      if (variant == 0) n += frame(b + n, NGHTTP2_RST_STREAM, 0, 1, "\0\0\0\x08", 4);
      else n += frame(b + n, NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, 1, "x", 1);
      n += frame(b + n, NGHTTP2_DATA, 0, 1, "x", 1);
      feed(&e, b, n, STEPS[i]);
      if (variant == 0) {
        assert_int_equal(e.g.error, NGHTTP2_STREAM_CLOSED);
      } else {
        assert_int_equal(e.g.error, 0); /* the session's own rule: */
        assert_false(nghttp2_session_want_read(e.s)); /* GOAWAY(STREAM_CLOSED) */
      }
      env_free(&e);
    }
  }
}

static void data_after_end_stream(void **state) {
  for (size_t i = 0; i < NSTEPS; i++) {
    env e;
    env_init(&e);
    uint8_t b[256];
    size_t n = start(b);
    n += open_get(b + n, 1, 1);
    feed(&e, b, n, STEPS[i]);
    answer(&e, 1); /* the stream is gone from the session now */
    assert_null(nghttp2_session_find_stream(e.s, 1));
    n = frame(b, NGHTTP2_DATA, 0, 1, "x", 1);
    feed(&e, b, n, STEPS[i]);
    assert_int_equal(e.g.error, NGHTTP2_STREAM_CLOSED);
    assert_false(nghttp2_session_want_read(e.s));
    env_free(&e);
  }
}

static void headers_after_peer_reset(void **state) {
  for (size_t i = 0; i < NSTEPS; i++) {
    env e;
    env_init(&e);
    uint8_t b[256];
    size_t n = start(b);
    n += open_get(b + n, 1, 0);
    n += frame(b + n, NGHTTP2_RST_STREAM, 0, 1, "\0\0\0\x08", 4);
    n += open_get(b + n, 1, 1);
    feed(&e, b, n, STEPS[i]);
    assert_int_equal(e.g.error, NGHTTP2_STREAM_CLOSED);
    env_free(&e);
  }
}

static void lower_stream_id(void **state) {
  for (size_t i = 0; i < NSTEPS; i++) {
    env e;
    env_init(&e);
    uint8_t b[256];
    size_t n = start(b);
    n += open_get(b + n, 5, 1);
    n += open_get(b + n, 3, 1);
    feed(&e, b, n, STEPS[i]);
    assert_int_equal(e.g.error, NGHTTP2_PROTOCOL_ERROR);
    env_free(&e);
  }
}

static void priority_rules(void **state) {
  for (size_t i = 0; i < NSTEPS; i++) {
    env e;
    env_init(&e);
    uint8_t b[256];
    size_t n = start(b);
    n += open_get(b + n, 1, 0);
    n += frame(b + n, NGHTTP2_PRIORITY, 0, 1, "\0\0\0\x01\x0f", 5); /* depends on itself */
    n += frame(b + n, NGHTTP2_PRIORITY, 0, 3, "\0\0\0\x01\x0f", 5); /* fine */
    feed(&e, b, n, STEPS[i]);
    assert_int_equal(e.g.error, 0);
    assert_true(sent_rst(&e, 1, NGHTTP2_PROTOCOL_ERROR));
    assert_false(sent_rst(&e, 3, NGHTTP2_PROTOCOL_ERROR));
    n = frame(b, NGHTTP2_PRIORITY, 0, 0, "\0\0\0\x01\x0f", 5);
    feed(&e, b, n, STEPS[i]);
    assert_int_equal(e.g.error, NGHTTP2_PROTOCOL_ERROR);
    env_free(&e);
  }
}

/* Frames still in flight on a stream the server reset are ignored, not an error. */
static void data_after_our_reset_ignored(void **state) {
  for (size_t i = 0; i < NSTEPS; i++) {
    env e;
    env_init(&e);
    uint8_t b[256];
    size_t n = start(b);
    n += open_get(b + n, 1, 0);
    feed(&e, b, n, STEPS[i]);
    assert_int_equal(nghttp2_submit_rst_stream(e.s, NGHTTP2_FLAG_NONE, 1, NGHTTP2_CANCEL), 0);
    drain(&e);
    n = frame(b, NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, 1, "late", 4);
    n += open_get(b + n, 3, 1);
    feed(&e, b, n, STEPS[i]);
    assert_int_equal(e.g.error, 0);
    assert_true(nghttp2_session_want_read(e.s));
    assert_non_null(nghttp2_session_find_stream(e.s, 3));
    env_free(&e);
  }
}

/* Our RST_STREAM on stream 1, then more than a ring's worth of streams open and close: DATA
 * still in flight on 1 is ignored (it is no longer remembered, and may be legitimate), while
 * HEADERS on it is still a connection error. */
static void data_on_forgotten_stream_ignored(void **state) {
  env e;
  env_init(&e);
  uint8_t b[256];
  size_t n = start(b);
  n += open_get(b + n, 1, 0);
  feed(&e, b, n, 4096);
  assert_int_equal(nghttp2_submit_rst_stream(e.s, NGHTTP2_FLAG_NONE, 1, NGHTTP2_CANCEL), 0);
  drain(&e);
  int32_t sid = 3;
  for (int k = 0; k < HOP_H2_GATE_RING + 8; k++, sid += 2) {
    n = open_get(b, sid, 1);
    feed(&e, b, n, 4096);
    answer(&e, sid);
  }
  n = frame(b, NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, 1, "late", 4);
  feed(&e, b, n, 4096);
  assert_int_equal(e.g.error, 0);
  assert_true(nghttp2_session_want_read(e.s));
  n = open_get(b, 1, 1);
  feed(&e, b, n, 4096);
  assert_int_not_equal(e.g.error, 0);
  env_free(&e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(data_on_forgotten_stream_ignored),
      cmocka_unit_test(headers_batch_then_data), cmocka_unit_test(data_after_close_in_one_read),
      cmocka_unit_test(data_after_end_stream), cmocka_unit_test(headers_after_peer_reset),
      cmocka_unit_test(lower_stream_id), cmocka_unit_test(priority_rules),
      cmocka_unit_test(data_after_our_reset_ignored),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
