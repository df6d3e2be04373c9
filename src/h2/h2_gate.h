/* The frame gate: RFC 9113 stream-state rules that libnghttp2 1.52 stops enforcing once
 * SETTINGS_NO_RFC7540_PRIORITIES is on (with no RFC 7540 priority tree it keeps no closed
 * streams, so a frame on a closed stream looks like one on a long-forgotten stream and is
 * ignored), plus the PRIORITY checks RFC 9113 still requires:
 *
 *   DATA/HEADERS on a stream the peer closed with END_STREAM   connection error STREAM_CLOSED
 *   DATA/HEADERS on a stream the peer reset                    connection error STREAM_CLOSED
 *   DATA/HEADERS on a stream we reset                          ignored (RFC 9113 5.1)
 *   HEADERS below the last stream opened, never seen closed    connection error PROTOCOL_ERROR
 *   PRIORITY on stream 0                                       connection error PROTOCOL_ERROR
 *   PRIORITY (or HEADERS' priority) on its own stream          stream error PROTOCOL_ERROR
 *
 * The gate sits between the socket and nghttp2_session_mem_recv: it follows frame
 * boundaries (the 24-byte client magic first on the server side), feeds everything before a
 * DATA/HEADERS frame header to the session so that the session's stream table is current,
 * then decides on that header. A connection error is sent with
 * nghttp2_session_terminate_session outside every callback, before the offending frame
 * reaches the session; the rest of the input is discarded. Nothing is ever withheld from
 * the session otherwise (ignored DATA still counts against flow control there).
 *
 * The way each stream closed is remembered in a small table (HOP_H2_GATE_RING slots, indexed
 * by stream id, so the last that many streams of the peer's parity: a lookup per frame costs
 * no scan) fed by the owner's frame callbacks; for a stream older than that HEADERS is still an error
 * (no stream id is ever reused) but DATA is passed on and ignored (it may be in flight after
 * a RST_STREAM of ours). One gate per connection, on its loop thread. */
#ifndef HOP_H2_GATE_H
#define HOP_H2_GATE_H

#include <nghttp2/nghttp2.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HOP_H2_GATE_RING 128 /* a power of two */

enum { HOP_H2_GATE_NONE = 0, HOP_H2_GATE_END_STREAM = 1, HOP_H2_GATE_PEER_RESET = 2,
       HOP_H2_GATE_WE_RESET = 3 };

typedef struct hop_h2_gate_entry {
  int32_t id;
  uint8_t how; /* HOP_H2_GATE_* */
} hop_h2_gate_entry;

/* Server: a stream opened without END_STREAM by a HEADERS that needed no feed (see max_new). */
typedef struct hop_h2_gate_open {
  int32_t id;
  uint32_t epoch;
} hop_h2_gate_open;

/* The per-stream tables live outside the struct, in memory the owner provides (zeroed, this
 * many bytes, 8-aligned, as long as the gate): an idle connection's gate is then ~80 bytes,
 * and pages of fresh memory that no stream touched are never resident. Server: ring then
 * open; client: ring, closing, then open_sent. */
#define HOP_H2_GATE_TABLES(server)                                                          \
  (HOP_H2_GATE_RING * (sizeof(hop_h2_gate_entry) +                                         \
                       ((server) ? sizeof(hop_h2_gate_open) : 2 * sizeof(uint32_t))))

typedef struct hop_h2_gate {
  int server;            /* 1: the peer is a client (sends the magic, opens odd ids) */
  uint32_t magic_left;   /* client magic bytes still to pass */
  uint8_t hd[9];         /* a frame header split across reads (not fed yet) */
  uint8_t hlen;
  uint32_t payload_left; /* of the current frame */
  uint8_t prio[5];       /* PRIORITY payload collected so far */
  uint8_t prio_len, prio_want;
  int32_t prio_sid;
  uint32_t error;        /* the connection error the gate sent (0 = none) */
  const char *reason;    /* what it was, for the log */
  uint32_t violations;   /* connection and stream errors the gate raised */
  hop_h2_gate_entry *ring; /* HOP_H2_GATE_RING slots: (id >> 1) % HOP_H2_GATE_RING */
  /* Server: verdicts known without feeding the session first (each feed is a
   * nghttp2_session_mem_recv call, and clients send 100 HEADERS then 100 DATA): HEADERS on
   * an id above every HEADERS so far opens a new stream; DATA on a stream such a HEADERS
   * opened without END_STREAM is on an open stream, until its END_STREAM, or until any frame
   * that may close streams otherwise (RST_STREAM, CONTINUATION, PRIORITY, trailers, ...)
   * passes: that ends every such entry at once (a new epoch). */
  int32_t max_new;       /* highest HEADERS stream id passed */
  uint32_t epoch;
  hop_h2_gate_open *open; /* server: slot as |ring| */
  /* Client: a response's HEADERS or DATA on a stream the session holds open passes without
   * a feed first, unless a frame not fed yet may have closed it: END_STREAM on that stream
   * (closing[]), or RST_STREAM, GOAWAY, PUSH_PROMISE, ... (dirty), both counted per feed. */
  uint32_t feeds;        /* session feeds so far */
  uint32_t dirty;        /* feeds + 1 when a frame since the last feed may close any stream */
  uint32_t *closing;     /* client: slot as |ring|: feeds + 1 when an END_STREAM on any
                            stream of the slot is not fed yet */
  /* Client, when the owner reports every stream close (hop_h2_gate_track_closes): the
   * streams whose HEADERS went out and whose close has not been seen, slot as |ring|. Those
   * are open in the session, so no stream-map lookup is needed to tell. */
  int track_closes;
  int32_t *open_sent;    /* client: slot as |ring| */
} hop_h2_gate;

/* |tables|: HOP_H2_GATE_TABLES(server) zeroed bytes (see above). */
void hop_h2_gate_init(hop_h2_gate *g, int server, void *tables);

/* Feeds |in| to |s| through the gate. Returns |len| or a negative nghttp2 error from
 * nghttp2_session_mem_recv (fatal: drop the session). After a connection error (g->error)
 * the session is terminated (GOAWAY queued) and every later byte is discarded. */
ssize_t hop_h2_gate_recv(hop_h2_gate *g, nghttp2_session *s, const uint8_t *in, size_t len);

/* Bookkeeping, from the owner's nghttp2 callbacks: every received frame
 * (on_frame_recv_callback), every frame sent (on_frame_send_callback) and every frame the
 * session rejected (on_invalid_frame_recv_callback: the streams it refused). The first two
 * (and on_close) are inline, below: they run for every frame. */
static inline void hop_h2_gate_on_recv(hop_h2_gate *g, const nghttp2_frame *f);
static inline void hop_h2_gate_on_send(hop_h2_gate *g, const nghttp2_frame *f);
void hop_h2_gate_on_invalid(hop_h2_gate *g, const nghttp2_frame *f);

/* Client: the owner promises to call hop_h2_gate_on_close for every stream the session
 * closes (on_stream_close_callback), from before the first request goes out. A close not
 * reported would let frames on that stream pass unchecked. */
void hop_h2_gate_track_closes(hop_h2_gate *g);
static inline void hop_h2_gate_on_close(hop_h2_gate *g, int32_t id);

/* ---- inline ---- */

/* Remembers how stream |id| closed (the strongest way seen). */
static inline void hop_h2_gate_note_(hop_h2_gate *g, int32_t id, uint8_t how) {
  if (id <= 0) return;
  hop_h2_gate_entry *e = &g->ring[((uint32_t)id >> 1) % HOP_H2_GATE_RING];
  if (e->id != id) { /* a newer stream takes the slot of one HOP_H2_GATE_RING ids older */
    e->id = id;
    e->how = HOP_H2_GATE_NONE;
  }
  if (how > e->how) e->how = how; /* we reset > peer reset > END_STREAM */
}

static inline void hop_h2_gate_on_recv(hop_h2_gate *g, const nghttp2_frame *f) {
  if (f->hd.type == NGHTTP2_RST_STREAM) hop_h2_gate_note_(g, f->hd.stream_id, HOP_H2_GATE_PEER_RESET);
  else if ((f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS) &&
           (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
    hop_h2_gate_note_(g, f->hd.stream_id, HOP_H2_GATE_END_STREAM);
}

static inline void hop_h2_gate_on_send(hop_h2_gate *g, const nghttp2_frame *f) {
  if (f->hd.type == NGHTTP2_RST_STREAM) hop_h2_gate_note_(g, f->hd.stream_id, HOP_H2_GATE_WE_RESET);
  else if (f->hd.type == NGHTTP2_HEADERS && g->track_closes && f->hd.stream_id > 0)
    g->open_sent[((uint32_t)f->hd.stream_id >> 1) % HOP_H2_GATE_RING] = f->hd.stream_id;
}

static inline void hop_h2_gate_on_close(hop_h2_gate *g, int32_t id) {
  if (id <= 0) return;
  int32_t *e = &g->open_sent[((uint32_t)id >> 1) % HOP_H2_GATE_RING];
  if (*e == id) *e = 0;
}

#endif
