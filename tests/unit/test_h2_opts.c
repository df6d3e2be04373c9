/* h2 glue: token bucket, flood counters, options and the first SETTINGS frame. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "h2/h2_opts.h"

static void bucket(void **state) {
  (void)state;
  hop_h2_bucket b;
  hop_h2_bucket_init(&b, 3, 10, 1000);
  assert_int_equal(hop_h2_bucket_take(&b, 1000), 1);
  assert_int_equal(hop_h2_bucket_take(&b, 1000), 1);
  assert_int_equal(hop_h2_bucket_take(&b, 1000), 1);
  assert_int_equal(hop_h2_bucket_take(&b, 1000), 0);
  assert_int_equal(hop_h2_bucket_take(&b, 1100), 1); /* 10/s: one token per 100 ms */
  assert_int_equal(hop_h2_bucket_take(&b, 1100), 0);
  assert_int_equal(hop_h2_bucket_take(&b, 60000), 1); /* refill capped at the burst */
  assert_int_equal(hop_h2_bucket_take(&b, 60000), 1);
  assert_int_equal(hop_h2_bucket_take(&b, 60000), 1);
  assert_int_equal(hop_h2_bucket_take(&b, 60000), 0);
}

static void floods(void **state) {
  (void)state;
  hop_h2_flood f;
  hop_h2_flood_init(&f, 2, 5, 2, 1, 0);
  nghttp2_frame_hd empty = {.length = 0, .type = NGHTTP2_DATA, .flags = 0, .stream_id = 1};
  nghttp2_frame_hd full = {.length = 10, .type = NGHTTP2_DATA, .flags = 0, .stream_id = 1};
  nghttp2_frame_hd last = {.length = 0, .type = NGHTTP2_DATA, .flags = NGHTTP2_FLAG_END_STREAM, .stream_id = 1};
  assert_int_equal(hop_h2_flood_on_recv(&f, &empty, 0), 0);
  assert_int_equal(hop_h2_flood_on_recv(&f, &empty, 0), 0);
  assert_int_equal(hop_h2_flood_on_recv(&f, &full, 0), 0); /* resets the run */
  assert_int_equal(hop_h2_flood_on_recv(&f, &empty, 0), 0);
  assert_int_equal(hop_h2_flood_on_recv(&f, &last, 0), 0); /* END_STREAM is not empty noise */
  assert_int_equal(hop_h2_flood_on_recv(&f, &empty, 0), 0);
  assert_int_equal(hop_h2_flood_on_recv(&f, &empty, 0), 0);
  assert_int_equal(hop_h2_flood_on_recv(&f, &empty, 0), 1); /* third in a row */

  nghttp2_frame_hd ping = {.length = 8, .type = NGHTTP2_PING, .flags = 0};
  nghttp2_frame_hd ack = {.length = 8, .type = NGHTTP2_PING, .flags = NGHTTP2_FLAG_ACK};
  nghttp2_frame_hd settings = {.length = 0, .type = NGHTTP2_SETTINGS, .flags = 0};
  for (int i = 0; i < 100; i++) assert_int_equal(hop_h2_flood_on_recv(&f, &ack, 10), 0);
  for (int i = 0; i < 4; i++) assert_int_equal(hop_h2_flood_on_recv(&f, &ping, 10), 0);
  assert_int_equal(hop_h2_flood_on_recv(&f, &settings, 20), 0); /* 5th in the window */
  assert_int_equal(hop_h2_flood_on_recv(&f, &ping, 30), 1);     /* 6th */
  assert_int_equal(hop_h2_flood_on_recv(&f, &ping, 2000), 0);   /* a new second */

  assert_int_equal(hop_h2_flood_on_reset_sent(&f, 0), 0);
  assert_int_equal(hop_h2_flood_on_reset_sent(&f, 0), 0);
  assert_int_equal(hop_h2_flood_on_reset_sent(&f, 0), 1);
  assert_int_equal(hop_h2_flood_on_reset_sent(&f, 1000), 0); /* refilled one */
}

static ssize_t no_send(nghttp2_session *s, const uint8_t *d, size_t l, int f, void *u) {
  (void)s; (void)d; (void)f; (void)u;
  return (ssize_t)l;
}

static uint32_t setting(const uint8_t *frame, size_t len, uint16_t id, int *found) {
  *found = 0;
  for (size_t off = 9; off + 6 <= len; off += 6) {
    uint16_t k = (uint16_t)(frame[off] << 8 | frame[off + 1]);
    if (k == id) {
      *found = 1;
      return (uint32_t)frame[off + 2] << 24 | (uint32_t)frame[off + 3] << 16 |
             (uint32_t)frame[off + 4] << 8 | frame[off + 5];
    }
  }
  return 0;
}

static void first_settings(void **state) {
  (void)state;
  hop_h2_limits l;
  hop_h2_limits_init(&l);
  l.max_concurrent_streams = 77;
  l.max_header_list_size = 12345;
  nghttp2_option *opt;
  assert_int_equal(hop_h2_option_new(&opt, &l), 0);
  nghttp2_session_callbacks *cb;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_send_callback(cb, no_send);
  nghttp2_session *s;
  assert_int_equal(nghttp2_session_server_new2(&s, cb, NULL, opt), 0);
  assert_int_equal(hop_h2_submit_settings(s, &l), 0);
  const uint8_t *data;
  ssize_t n = nghttp2_session_mem_send(s, &data);
  assert_true(n >= 9);
  assert_int_equal(data[3], NGHTTP2_SETTINGS);
  size_t flen = 9 + ((size_t)data[0] << 16 | (size_t)data[1] << 8 | data[2]);
  int found;
  assert_int_equal(setting(data, flen, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, &found), 77);
  assert_true(found);
  assert_int_equal(setting(data, flen, NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, &found), 12345);
  assert_true(found);
  assert_int_equal(setting(data, flen, NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, &found), 1);
  assert_true(found);
  assert_int_equal(setting(data, flen, NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, &found), l.initial_window_size);
  assert_true(found);
  /* Then a connection WINDOW_UPDATE up to the configured connection window. */
  n = nghttp2_session_mem_send(s, &data);
  assert_int_equal(n, 13);
  assert_int_equal(data[3], NGHTTP2_WINDOW_UPDATE);
  uint32_t inc = (uint32_t)data[9] << 24 | (uint32_t)data[10] << 16 | (uint32_t)data[11] << 8 | data[12];
  assert_int_equal(inc, l.connection_window_size - NGHTTP2_INITIAL_CONNECTION_WINDOW_SIZE);
  nghttp2_session_del(s);
  nghttp2_session_callbacks_del(cb);
  nghttp2_option_del(opt);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(bucket),
      cmocka_unit_test(floods),
      cmocka_unit_test(first_settings),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
