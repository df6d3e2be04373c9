/* nghttp2 options and initial SETTINGS for hopwire's client sessions. Loop thread only. */
#ifndef HOP_H2_CLIENT_OPTS_H
#define HOP_H2_CLIENT_OPTS_H

#include <nghttp2/nghttp2.h>
#include <stddef.h>
#include <stdint.h>

/* Options for a client session against a possibly hostile server: CONTINUATION cap,
 * outbound-ACK and SETTINGS caps (when the Debian backports exist), no push. The caller
 * frees it with nghttp2_option_del. HOP_ENOMEM on failure. */
int hop_h2_client_option_new(nghttp2_option **out);
/* Submits the client's first SETTINGS (push off, stream window, header list cap, no RFC 7540
 * priorities) and raises the connection receive window to |conn_window|. */
int hop_h2_client_submit_settings(nghttp2_session *s, uint32_t stream_window,
                                  uint32_t conn_window, size_t max_header_list);

#endif
