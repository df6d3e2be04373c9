#include "h2/client_opts.h"

#include "hop_config.h"
#include "hopwire/error.h"

#define HOP_H2_CLIENT_MAX_CONTINUATIONS 8
#define HOP_H2_CLIENT_MAX_OUTBOUND_ACK 1000
#define HOP_H2_CLIENT_MAX_SETTINGS 32

int hop_h2_client_option_new(nghttp2_option **out) {
  nghttp2_option *o;
  if (nghttp2_option_new(&o) != 0) return HOP_ENOMEM;
  nghttp2_option_set_max_reserved_remote_streams(o, 0);
  /* Conservative until the peer's SETTINGS arrive (hopwire waits for them anyway). */
  nghttp2_option_set_peer_max_concurrent_streams(o, 100);
#ifdef HOP_HAVE_NGHTTP2_MAX_CONTINUATIONS
  nghttp2_option_set_max_continuations(o, HOP_H2_CLIENT_MAX_CONTINUATIONS);
#endif
#ifdef HOP_HAVE_NGHTTP2_FLOOD_OPTIONS
  nghttp2_option_set_max_outbound_ack(o, HOP_H2_CLIENT_MAX_OUTBOUND_ACK);
  nghttp2_option_set_max_settings(o, HOP_H2_CLIENT_MAX_SETTINGS);
#endif
  *out = o;
  return HOP_OK;
}

int hop_h2_client_submit_settings(nghttp2_session *s, uint32_t stream_window,
                                  uint32_t conn_window, size_t max_header_list) {
  if (stream_window > NGHTTP2_MAX_WINDOW_SIZE) stream_window = NGHTTP2_MAX_WINDOW_SIZE;
  if (conn_window > NGHTTP2_MAX_WINDOW_SIZE) conn_window = NGHTTP2_MAX_WINDOW_SIZE;
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, stream_window},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
       max_header_list > UINT32_MAX ? UINT32_MAX : (uint32_t)max_header_list},
      {0x9 /* SETTINGS_NO_RFC7540_PRIORITIES */, 1},
  };
  int rv = nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0]));
  if (rv) return rv == NGHTTP2_ERR_NOMEM ? HOP_ENOMEM : HOP_EPROTO;
  if (conn_window > NGHTTP2_INITIAL_CONNECTION_WINDOW_SIZE) {
    rv = nghttp2_session_set_local_window_size(s, NGHTTP2_FLAG_NONE, 0, (int32_t)conn_window);
    if (rv) return rv == NGHTTP2_ERR_NOMEM ? HOP_ENOMEM : HOP_EPROTO;
  }
  return HOP_OK;
}
