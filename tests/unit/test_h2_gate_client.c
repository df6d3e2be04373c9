/* The frame gate (src/h2/h2_gate.c) in front of an in-memory nghttp2 CLIENT session: a read
 * of many responses passes with few session feeds, and a frame on a stream that an earlier
 * frame of the same read, or an earlier read, closed (END_STREAM, RST_STREAM) is still
 * caught, whole and split into pieces of 1, 2, 5, 9, 14 bytes; with the session's stream
 * closes reported to the gate (hop_h2_gate_track_closes) and without. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "h2/h2_gate.h"
#include "h2/h2_opts.h"

#define NSTREAMS 100

typedef struct env {
  hop_h2_gate g;
  int track;       /* closes reported to the gate */
  _Alignas(8) uint8_t tables[HOP_H2_GATE_TABLES(0)];
  nghttp2_session *s;
  int closed_ok;   /* streams closed with NO_ERROR */
  int data_bytes;  /* DATA payload delivered */
  uint8_t out[65536];
  size_t out_len;
} env;

static int on_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
  (void)s;
  hop_h2_gate_on_recv(&((env *)ud)->g, f);
  return 0;
}
static int on_send(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
  (void)s;
  hop_h2_gate_on_send(&((env *)ud)->g, f);
  return 0;
}
static int on_invalid(nghttp2_session *s, const nghttp2_frame *f, int e, void *ud) {
  (void)s, (void)e;
  hop_h2_gate_on_invalid(&((env *)ud)->g, f);
  return 0;
}
static int on_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud) {
  (void)s;
  env *e = ud;
  if (e->track) hop_h2_gate_on_close(&e->g, id);
  if (code == NGHTTP2_NO_ERROR) e->closed_ok++;
  return 0;
}
static int on_chunk(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *d, size_t n,
                    void *ud) {
  (void)s, (void)flags, (void)id, (void)d;
  ((env *)ud)->data_bytes += (int)n;
  return 0;
}

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

/* A client session with NSTREAMS GET requests open (streams 1, 3, 5, ...). */
static void env_init(env *e, int track) {
  memset(e, 0, sizeof(*e));
  memset(e->tables, 0, sizeof(e->tables));
  hop_h2_gate_init(&e->g, 0, e->tables);
  e->track = track;
  if (track) hop_h2_gate_track_closes(&e->g); /* before the requests go out */
  nghttp2_session_callbacks *cb;
  assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_recv);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_send);
  nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cb, on_invalid);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_chunk);
  hop_h2_limits l;
  hop_h2_limits_init(&l);
  nghttp2_option *o;
  assert_int_equal(hop_h2_option_new(&o, &l), 0);
  assert_int_equal(nghttp2_session_client_new2(&e->s, cb, e, o), 0);
  nghttp2_option_del(o);
  nghttp2_session_callbacks_del(cb);
  assert_int_equal(nghttp2_submit_settings(e->s, NGHTTP2_FLAG_NONE, NULL, 0), 0);
  nghttp2_nv nv[] = {
      {(uint8_t *)":method", (uint8_t *)"GET", 7, 3, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)":path", (uint8_t *)"/", 5, 1, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)":authority", (uint8_t *)"a", 10, 1, NGHTTP2_NV_FLAG_NONE},
  };
  for (int i = 0; i < NSTREAMS; i++)
    assert_true(nghttp2_submit_request(e->s, NULL, nv, 4, NULL, NULL) == 2 * i + 1);
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

static const uint8_t STATUS_200[] = {0x88}; /* :status 200, static table index 8 */
static const uint8_t BODY[] = "0123456789";

static size_t server_start(uint8_t *b) { return frame(b, NGHTTP2_SETTINGS, 0, 0, NULL, 0); }

static size_t response(uint8_t *b, uint32_t sid) {
  size_t n = frame(b, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, sid, STATUS_200, 1);
  return n + frame(b + n, NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, sid, BODY, 10);
}

static void feed(env *e, const uint8_t *p, size_t n, size_t step) {
  for (size_t off = 0; off < n; off += step) {
    size_t k = n - off < step ? n - off : step;
    assert_true(hop_h2_gate_recv(&e->g, e->s, p + off, k) == (ssize_t)k);
  }
  drain(e);
}

static const size_t STEPS[] = {1, 2, 5, 9, 14, 65536};
#define NSTEPS (sizeof(STEPS) / sizeof(STEPS[0]))

/* 100 responses in one read: every stream completes, no gate error, and the session is fed
 * a handful of times, not once or twice per frame. */
static void responses_batch(void **state) {
  (void)state;
  static uint8_t in[65536];
  for (size_t k = 0; k < 2 * NSTEPS; k++) {
    env e;
    env_init(&e, k >= NSTEPS);
    size_t n = server_start(in);
    for (int i = 0; i < NSTREAMS; i++) n += response(in + n, (uint32_t)(2 * i + 1));
    uint32_t feeds0 = e.g.feeds;
    feed(&e, in, n, STEPS[k % NSTEPS]);
    assert_int_equal(e.g.error, 0);
    assert_int_equal(e.closed_ok, NSTREAMS);
    assert_int_equal(e.data_bytes, NSTREAMS * 10);
    if (STEPS[k % NSTEPS] == 65536) assert_true(e.g.feeds - feeds0 <= 4);
    nghttp2_session_del(e.s);
  }
}

/* A frame after the END_STREAM or RST_STREAM of its stream in the same read: still a
 * connection error (STREAM_CLOSED), with the other streams' responses delivered. */
static void closed_in_same_read(void **state) {
  (void)state;
  static uint8_t in[4096];
  for (int kind = 0; kind < 3; kind++) {
    for (size_t k = 0; k < 2 * NSTEPS; k++) {
      env e;
      env_init(&e, k >= NSTEPS);
      size_t n = server_start(in);
      n += response(in + n, 1);
      n += response(in + n, 3);
      static const uint8_t cancel[4] = {0, 0, 0, 8};
      switch (kind) {
      case 0: n += frame(in + n, NGHTTP2_DATA, 0, 3, BODY, 10); break; /* DATA after END */
      case 1: /* HEADERS after END_STREAM */
        n += frame(in + n, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1, STATUS_200, 1);
        break;
      default: /* DATA after the peer's RST_STREAM of an open stream */
        n += frame(in + n, NGHTTP2_RST_STREAM, 0, 5, cancel, 4);
        n += frame(in + n, NGHTTP2_DATA, 0, 5, BODY, 10);
      }
      feed(&e, in, n, STEPS[k % NSTEPS]);
      assert_int_equal(e.g.error, NGHTTP2_STREAM_CLOSED);
      assert_true(e.closed_ok >= 2);
      nghttp2_session_del(e.s);
    }
  }
}

/* The same frames a read after the one that closed their stream (the session fed, its
 * stream gone): still the connection error. */
static void closed_in_earlier_read(void **state) {
  (void)state;
  static uint8_t in[4096];
  for (int kind = 0; kind < 3; kind++) {
    for (size_t k = 0; k < 2 * NSTEPS; k++) {
      env e;
      env_init(&e, k >= NSTEPS);
      size_t n = server_start(in);
      n += response(in + n, 1);
      n += response(in + n, 3);
      static const uint8_t cancel[4] = {0, 0, 0, 8};
      if (kind == 2) n += frame(in + n, NGHTTP2_RST_STREAM, 0, 5, cancel, 4);
      feed(&e, in, n, STEPS[k % NSTEPS]);
      assert_int_equal(e.g.error, 0);
      n = 0;
      switch (kind) {
      case 0: n += frame(in + n, NGHTTP2_DATA, 0, 3, BODY, 10); break;
      case 1: n += frame(in + n, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1, STATUS_200, 1); break;
      default: n += frame(in + n, NGHTTP2_DATA, 0, 5, BODY, 10);
      }
      n += response(in + n, 7); /* an open stream's answer in the same read */
      feed(&e, in, n, STEPS[k % NSTEPS]);
      assert_int_equal(e.g.error, NGHTTP2_STREAM_CLOSED);
      nghttp2_session_del(e.s);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(responses_batch),
      cmocka_unit_test(closed_in_same_read),
      cmocka_unit_test(closed_in_earlier_read),
  };
  return cmocka_run_group_tests_name("h2_gate_client", tests, NULL, NULL);
}
