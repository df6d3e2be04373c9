#include "h2/h2_gate.h"

#include <string.h>

#define FRAME_HD 9
/* the per-frame helpers of hop_h2_gate_recv: two call sites each, inlined anyway */
#define HOT static inline __attribute__((always_inline))

void hop_h2_gate_init(hop_h2_gate *g, int server, void *tables) {
  memset(g, 0, sizeof(*g));
  g->server = server;
  g->ring = tables;
  if (server) g->open = (hop_h2_gate_open *)(g->ring + HOP_H2_GATE_RING);
  else {
    g->closing = (uint32_t *)(g->ring + HOP_H2_GATE_RING);
    g->open_sent = (int32_t *)(g->closing + HOP_H2_GATE_RING);
  }
  g->magic_left = server ? NGHTTP2_CLIENT_MAGIC_LEN : 0;
}

static hop_h2_gate_entry *slot(hop_h2_gate *g, int32_t id) {
  return &g->ring[((uint32_t)id >> 1) % HOP_H2_GATE_RING];
}

static hop_h2_gate_entry *find(hop_h2_gate *g, int32_t id) {
  hop_h2_gate_entry *e = slot(g, id);
  return e->id == id ? e : NULL;
}

#define note hop_h2_gate_note_

void hop_h2_gate_track_closes(hop_h2_gate *g) {
  if (!g->server) g->track_closes = 1;
}

void hop_h2_gate_on_invalid(hop_h2_gate *g, const nghttp2_frame *f) {
  /* A stream the session refused without opening it (REFUSED_STREAM past the concurrency
   * limit, a malformed request): its RST_STREAM is queued, frames already in flight on it
   * must be ignored, not fail the connection. */
  if (f->hd.type == NGHTTP2_HEADERS) note(g, f->hd.stream_id, HOP_H2_GATE_WE_RESET);
}

HOT uint32_t u32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int is_open(nghttp2_session *s, int32_t id) {
  nghttp2_stream *st = nghttp2_session_find_stream(s, id);
  if (!st) return 0;
  nghttp2_stream_proto_state ps = nghttp2_stream_get_state(st);
  return ps != NGHTTP2_STREAM_STATE_IDLE && ps != NGHTTP2_STREAM_STATE_CLOSED;
}

/* Returns 0 to pass the frame, else the connection error code (g->reason set). */
static uint32_t check_header(hop_h2_gate *g, nghttp2_session *s, const uint8_t *hd) {
  uint8_t type = hd[3];
  int32_t id = (int32_t)(u32(hd + 5) & 0x7fffffff);
  if (type == NGHTTP2_PRIORITY) {
    if (id == 0) {
      g->reason = "PRIORITY on stream 0";
      return NGHTTP2_PROTOCOL_ERROR;
    }
    return 0;
  }
  if (type != NGHTTP2_DATA && type != NGHTTP2_HEADERS) return 0;
  if (id == 0 || !(id & 1)) return 0; /* the session's own checks */
  if (is_open(s, id)) return 0;       /* half-closed(remote) and the like: the session */
  int opened = g->server ? id <= nghttp2_session_get_last_proc_stream_id(s)
                         : (uint32_t)id < nghttp2_session_get_next_stream_id(s);
  if (!opened) return 0; /* idle: a new stream, or the session's PROTOCOL_ERROR */
  hop_h2_gate_entry *e = find(g, id);
  uint8_t how = e ? e->how : HOP_H2_GATE_NONE;
  switch (how) {
  case HOP_H2_GATE_WE_RESET:
    return 0; /* frames in flight when our RST_STREAM left: ignored (the session does) */
  case HOP_H2_GATE_PEER_RESET:
  case HOP_H2_GATE_END_STREAM:
    /* RFC 9113 5.1 allows a stream error after the peer's RST_STREAM; a connection error
     * either way gives the same answer whether or not the stream was already gone. */
    g->reason = type == NGHTTP2_DATA ? "DATA on a closed stream" : "HEADERS on a closed stream";
    return NGHTTP2_STREAM_CLOSED;
  default:
    /* Not remembered: closed more than HOP_H2_GATE_RING streams ago (or never opened). DATA
     * may still be legitimately in flight there after a RST_STREAM of ours that has left the
     * ring (1024 concurrent streams close far more than 128 streams apart), so it is passed
     * on and ignored like any frame on a stream we reset: a false connection error would
     * fail every call on the connection. HEADERS can never be valid there. */
    if (type == NGHTTP2_DATA) return 0;
    if (type == NGHTTP2_HEADERS && g->server) {
      g->reason = "HEADERS with a stream id below one already opened";
      return NGHTTP2_PROTOCOL_ERROR;
    }
    g->reason = type == NGHTTP2_DATA ? "DATA on a closed stream" : "HEADERS on a closed stream";
    return NGHTTP2_STREAM_CLOSED;
  }
}

/* 1 when check_header would pass |hd| whatever the frames not fed yet do (see max_new and
 * closing in h2_gate.h), so no feed is needed before it. */
HOT int known_pass(const hop_h2_gate *g, nghttp2_session *s, const uint8_t *hd) {
  int32_t id = (int32_t)(u32(hd + 5) & 0x7fffffff);
  if (!g->server) {
    if (hd[3] != NGHTTP2_HEADERS && hd[3] != NGHTTP2_DATA) return 0;
    if (g->dirty == g->feeds + 1 || !(id & 1)) return 0;
    unsigned k = ((uint32_t)id >> 1) % HOP_H2_GATE_RING;
    if (g->closing[k] == g->feeds + 1) return 0; /* this slot saw END_STREAM unfed */
    /* the session's state is current for this stream: sent and not closed is open there */
    if (g->track_closes) return g->open_sent[k] == id;
    return is_open(s, id);
  }
  if (hd[3] == NGHTTP2_HEADERS) return (id & 1) && id > g->max_new;
  if (hd[3] == NGHTTP2_DATA) {
    unsigned k = ((uint32_t)id >> 1) % HOP_H2_GATE_RING;
    return id != 0 && g->open[k].id == id && g->open[k].epoch == g->epoch;
  }
  return 0;
}

/* A frame header passed the gate: keeps max_new, open and closing true (see h2_gate.h). */
HOT void track(hop_h2_gate *g, const uint8_t *hd) {
  int32_t id = (int32_t)(u32(hd + 5) & 0x7fffffff);
  unsigned k = ((uint32_t)id >> 1) % HOP_H2_GATE_RING;
  if (!g->server) {
    switch (hd[3]) {
    case NGHTTP2_HEADERS:
    case NGHTTP2_DATA:
      /* Any stream of the slot, this round: a later frame there is checked after a feed. */
      if (hd[4] & NGHTTP2_FLAG_END_STREAM) g->closing[k] = g->feeds + 1;
      break;
    case NGHTTP2_WINDOW_UPDATE:
    case NGHTTP2_PING:
    case NGHTTP2_SETTINGS:
      break;
    default:
      g->dirty = g->feeds + 1;
    }
    return;
  }
  switch (hd[3]) {
  case NGHTTP2_HEADERS:
    if (id > g->max_new) {
      g->max_new = id;
      if ((id & 1) && !(hd[4] & NGHTTP2_FLAG_END_STREAM)) {
        g->open[k].id = id;
        g->open[k].epoch = g->epoch;
      }
    } else {
      g->epoch++; /* trailers or worse: ask the session from now on */
    }
    break;
  case NGHTTP2_DATA:
    if ((hd[4] & NGHTTP2_FLAG_END_STREAM) && g->open[k].id == id) g->open[k].id = 0;
    break;
  case NGHTTP2_WINDOW_UPDATE:
  case NGHTTP2_PING:
  case NGHTTP2_SETTINGS:
    break; /* no stream changes state */
  default:
    g->epoch++; /* RST_STREAM, CONTINUATION, PRIORITY, ...: ask the session */
  }
}

/* The frame whose header is |hd| starts now: remember what its payload needs. */
HOT void begin_payload(hop_h2_gate *g, const uint8_t *hd) {
  g->payload_left = (uint32_t)hd[0] << 16 | (uint32_t)hd[1] << 8 | hd[2];
  g->prio_want = 0;
  g->prio_len = 0;
  if (hd[3] == NGHTTP2_PRIORITY && g->payload_left == 5) { /* other lengths: FRAME_SIZE_ERROR */
    g->prio_want = 5;
    g->prio_sid = (int32_t)(u32(hd + 5) & 0x7fffffff);
  }
}

static void priority_done(hop_h2_gate *g, nghttp2_session *s) {
  g->prio_want = 0;
  int32_t dep = (int32_t)(u32(g->prio) & 0x7fffffff);
  if (dep != g->prio_sid) return;
  /* RFC 9113 5.3.1: a stream error, even with RFC 7540 priorities off. */
  g->violations++;
  nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, g->prio_sid, NGHTTP2_PROTOCOL_ERROR);
}

static ssize_t feed_session(nghttp2_session *s, const uint8_t *p, size_t n) {
  if (!n) return 0;
  ssize_t rv = nghttp2_session_mem_recv(s, p, n);
  return rv < 0 ? rv : 0;
}

/* After a feed the session's state is current: the client's closing/dirty marks lapse. */
#define feed(s, p, n) (g->feeds++, feed_session((s), (p), (n)))

static void fail(hop_h2_gate *g, nghttp2_session *s, uint32_t code) {
  g->error = code;
  g->violations++;
  nghttp2_session_terminate_session(s, code);
}

ssize_t hop_h2_gate_recv(hop_h2_gate *g, nghttp2_session *s, const uint8_t *in, size_t len) {
  size_t i = 0, seg = 0; /* in[seg, i) passes through, not fed yet */
  ssize_t rv;
  if (g->error) return (ssize_t)len;
  while (i < len) {
    if (g->magic_left) {
      size_t n = len - i < g->magic_left ? len - i : g->magic_left;
      i += n;
      g->magic_left -= (uint32_t)n;
      continue;
    }
    if (g->payload_left) {
      size_t n = len - i < g->payload_left ? len - i : g->payload_left;
      if (g->prio_want) {
        size_t k = n < (size_t)(g->prio_want - g->prio_len) ? n : (size_t)(g->prio_want - g->prio_len);
        memcpy(g->prio + g->prio_len, in + i, k);
        g->prio_len += (uint8_t)k;
      }
      i += n;
      g->payload_left -= (uint32_t)n;
      if (g->prio_want && g->prio_len == g->prio_want) {
        if ((rv = feed(s, in + seg, i - seg)) < 0) return rv;
        seg = i;
        priority_done(g, s);
      }
      continue;
    }
    const uint8_t *hd;
    if (g->hlen == 0 && len - i >= FRAME_HD) {
      hd = in + i;
      uint8_t t = hd[3];
      if ((t == NGHTTP2_DATA || t == NGHTTP2_HEADERS || t == NGHTTP2_PRIORITY) &&
          !known_pass(g, s, hd)) {
        if ((rv = feed(s, in + seg, i - seg)) < 0) return rv;
        seg = i;
        uint32_t code = check_header(g, s, hd);
        if (code) {
          fail(g, s, code);
          return (ssize_t)len;
        }
      }
      track(g, hd);
      i += FRAME_HD;
      begin_payload(g, hd);
      continue;
    }
    /* A header split across reads: held back until complete. */
    if ((rv = feed(s, in + seg, i - seg)) < 0) return rv;
    size_t n = FRAME_HD - g->hlen;
    if (n > len - i) n = len - i;
    memcpy(g->hd + g->hlen, in + i, n);
    g->hlen += (uint8_t)n;
    i += n;
    seg = i;
    if (g->hlen < FRAME_HD) break;
    g->hlen = 0;
    uint32_t code = check_header(g, s, g->hd);
    if (code) {
      fail(g, s, code);
      return (ssize_t)len;
    }
    track(g, g->hd);
    if ((rv = feed(s, g->hd, FRAME_HD)) < 0) return rv;
    begin_payload(g, g->hd);
  }
  if ((rv = feed(s, in + seg, i - seg)) < 0) return rv;
  return (ssize_t)len;
}
