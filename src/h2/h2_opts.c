#include "h2/h2_opts.h"

#include "hop_config.h"
#include "hopwire/error.h"

void hop_h2_limits_init(hop_h2_limits *l) {
  l->max_concurrent_streams = 100;
  l->max_header_list_size = 64 * 1024;
  l->initial_window_size = 1024 * 1024;
  l->connection_window_size = 4 * 1024 * 1024;
  l->max_continuations = 8;
  l->reset_burst = 1000;
  l->reset_rate = 33;
  l->max_settings = 32;
  l->max_outbound_ack = 1000;
}

int hop_h2_option_new(nghttp2_option **out, const hop_h2_limits *l) {
  nghttp2_option *o;
  if (nghttp2_option_new(&o) != 0) return HOP_ENOMEM;
  /* Closed streams are not kept for the (disabled) priority tree. */
  nghttp2_option_set_no_closed_streams(o, 1);
#ifdef HOP_HAVE_NGHTTP2_MAX_CONTINUATIONS
  nghttp2_option_set_max_continuations(o, l->max_continuations);
#endif
#ifdef HOP_HAVE_NGHTTP2_RESET_RATE_LIMIT
  nghttp2_option_set_stream_reset_rate_limit(o, l->reset_burst, l->reset_rate);
#endif
#ifdef HOP_HAVE_NGHTTP2_FLOOD_OPTIONS
  nghttp2_option_set_max_settings(o, l->max_settings);
  nghttp2_option_set_max_outbound_ack(o, l->max_outbound_ack);
#endif
  *out = o;
  return HOP_OK;
}

int hop_h2_submit_settings(nghttp2_session *s, const hop_h2_limits *l) {
  nghttp2_settings_entry iv[4];
  size_t n = 0;
  if (l->max_concurrent_streams)
    iv[n++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
                                       l->max_concurrent_streams};
  if (l->max_header_list_size)
    iv[n++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
                                       l->max_header_list_size};
  iv[n++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1};
  if (l->initial_window_size)
    iv[n++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE,
                                       l->initial_window_size};
  int rv = nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, iv, n);
  if (rv == 0 && l->connection_window_size > NGHTTP2_INITIAL_CONNECTION_WINDOW_SIZE)
    rv = nghttp2_session_set_local_window_size(s, NGHTTP2_FLAG_NONE, 0,
                                               (int32_t)l->connection_window_size);
  return rv;
}

void hop_h2_bucket_init(hop_h2_bucket *b, uint32_t burst, uint32_t rate, uint64_t now_ms) {
  b->burst = burst;
  b->rate = rate;
  b->tokens = burst;
  b->last_ms = now_ms;
}

int hop_h2_bucket_take(hop_h2_bucket *b, uint64_t now_ms) {
  if (now_ms > b->last_ms) {
    b->tokens += (double)(now_ms - b->last_ms) * b->rate / 1000.0;
    if (b->tokens > b->burst) b->tokens = b->burst;
    b->last_ms = now_ms;
  }
  if (b->tokens < 1.0) return 0;
  b->tokens -= 1.0;
  return 1;
}

void hop_h2_flood_init(hop_h2_flood *f, uint32_t max_empty, uint32_t max_control_per_sec,
                       uint32_t reset_burst, uint32_t reset_rate, uint64_t now_ms) {
  f->max_empty = max_empty;
  f->empty_run = 0;
  f->max_control_per_sec = max_control_per_sec;
  f->control_count = 0;
  f->control_window_ms = now_ms;
  hop_h2_bucket_init(&f->resets_sent, reset_burst, reset_rate, now_ms);
}

int hop_h2_flood_on_recv(hop_h2_flood *f, const nghttp2_frame_hd *hd, uint64_t now_ms) {
  switch (hd->type) {
  case NGHTTP2_DATA:
  case NGHTTP2_HEADERS:
  case NGHTTP2_CONTINUATION:
    /* An empty frame that does not end the stream carries nothing: only a flood sends
     * many in a row (CVE-2019-9518). */
    if (hd->length == 0 && !(hd->flags & NGHTTP2_FLAG_END_STREAM)) {
      if (++f->empty_run > f->max_empty) return 1;
    } else {
      f->empty_run = 0;
    }
    return 0;
  case NGHTTP2_SETTINGS:
  case NGHTTP2_PING:
    if (hd->flags & NGHTTP2_FLAG_ACK) return 0;
    if (now_ms - f->control_window_ms >= 1000) {
      f->control_window_ms = now_ms;
      f->control_count = 0;
    }
    return ++f->control_count > f->max_control_per_sec;
  default:
    return 0;
  }
}

int hop_h2_flood_on_reset_sent(hop_h2_flood *f, uint64_t now_ms) {
  return !hop_h2_bucket_take(&f->resets_sent, now_ms);
}
