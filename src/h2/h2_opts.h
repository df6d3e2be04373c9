/* libnghttp2 glue shared by server and client: session options with the hardening that
 * Debian's 1.52.0-1+deb12u3 backports (detected at configure time, see hop_config.h), the
 * first SETTINGS, and the flood counters the library lacks (empty frames, SETTINGS/PING
 * rate, server-sent RST_STREAM budget).
 *
 * Threads: everything here is plain data owned by one connection on one loop. */
#ifndef HOP_H2_OPTS_H
#define HOP_H2_OPTS_H

#include <nghttp2/nghttp2.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hop_h2_limits {
  uint32_t max_concurrent_streams; /* advertised; 0 = do not advertise */
  uint32_t max_header_list_size;   /* advertised (and enforced by the caller) */
  uint32_t initial_window_size;    /* per stream; 0 = protocol default 65535 */
  uint32_t connection_window_size; /* whole connection; 0 = protocol default 65535 */
  uint32_t max_continuations;      /* library option when available */
  uint32_t reset_burst, reset_rate; /* received RST_STREAM limiter (server) */
  uint32_t max_settings;           /* entries per SETTINGS frame */
  uint32_t max_outbound_ack;       /* queued PING/SETTINGS ACKs before FLOODED */
} hop_h2_limits;

/* Conservative defaults (see docs/server.md). */
void hop_h2_limits_init(hop_h2_limits *l);

/* Creates an nghttp2_option with every hardening option this libnghttp2 has. The caller
 * frees it with nghttp2_option_del. Returns 0 or HOP_ENOMEM. */
int hop_h2_option_new(nghttp2_option **out, const hop_h2_limits *l);

/* Submits the first SETTINGS: MAX_CONCURRENT_STREAMS, MAX_HEADER_LIST_SIZE,
 * NO_RFC7540_PRIORITIES=1, INITIAL_WINDOW_SIZE (when set), and widens the connection window
 * (when set). Returns an nghttp2 error code. */
int hop_h2_submit_settings(nghttp2_session *s, const hop_h2_limits *l);

/* Token bucket: |burst| tokens, refilled at |rate| per second. */
typedef struct hop_h2_bucket {
  uint32_t burst, rate;
  double tokens;
  uint64_t last_ms;
} hop_h2_bucket;

void hop_h2_bucket_init(hop_h2_bucket *b, uint32_t burst, uint32_t rate, uint64_t now_ms);
/* Takes one token; returns 0 when the bucket was empty (limit exceeded). */
int hop_h2_bucket_take(hop_h2_bucket *b, uint64_t now_ms);

/* Per-connection flood state for what libnghttp2 1.52 does not bound. */
typedef struct hop_h2_flood {
  uint32_t max_empty;          /* consecutive empty DATA/HEADERS frames allowed */
  uint32_t empty_run;
  uint32_t max_control_per_sec; /* non-ACK SETTINGS + PING per one-second window */
  uint32_t control_count;
  uint64_t control_window_ms;
  hop_h2_bucket resets_sent;    /* RST_STREAM frames we send */
} hop_h2_flood;

void hop_h2_flood_init(hop_h2_flood *f, uint32_t max_empty, uint32_t max_control_per_sec,
                       uint32_t reset_burst, uint32_t reset_rate, uint64_t now_ms);
/* Feed every received frame header (from on_frame_recv_callback). Returns 1 when the
 * connection must end with GOAWAY(ENHANCE_YOUR_CALM), else 0. */
int hop_h2_flood_on_recv(hop_h2_flood *f, const nghttp2_frame_hd *hd, uint64_t now_ms);
/* Feed every RST_STREAM the endpoint sends. Returns 1 when over budget. */
int hop_h2_flood_on_reset_sent(hop_h2_flood *f, uint64_t now_ms);

#endif
