/* hopwire client: an h2c connection's nghttp2 session. Loop thread only.
 *
 * Each submitted call is referenced by the session (stream user data) until nghttp2 is done
 * with the stream (on_stream_close, on_frame_not_send, or the session's deletion), because
 * libnghttp2 1.52 cannot clear the user data of a stream whose HEADERS are not sent yet.
 * A callback acts on a call only while it is still attached to this connection. */
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"
#include "core/clock.h"
#include "core/log.h"
#include "h2/client_opts.h"
#include "h2/h2_gate.h"
#include "h2/h2_mem.h"

#define HOP_H2_FLUSH_CHUNK (64u << 10)

static hop_conn *CONN(void *ud) { return ud; }

static inline unsigned sid_slot(int32_t sid) {
  return ((uint32_t)sid >> 1) & (HOP_CONN_SID_SLOTS - 1);
}

static void held_add(hop_conn *conn, hop_call *call) {
  atomic_fetch_add(&call->refs, 1);
  call->held_by = conn;
  call->held_sid = call->stream_id;
  call->held_prev = NULL;
  call->held_next = conn->held_head;
  if (conn->held_head) conn->held_head->held_prev = call;
  conn->held_head = call;
  /* an older stream of the slot stays reachable through nghttp2's user data */
  unsigned k = sid_slot(call->stream_id);
  conn->by_sid[k].sid = call->stream_id;
  conn->by_sid[k].call = call;
}

/* Unlinks only; the caller drops the ref when it is done with the call. */
static void held_unlink(hop_conn *conn, hop_call *call) {
  if (call->held_prev) call->held_prev->held_next = call->held_next;
  else conn->held_head = call->held_next;
  if (call->held_next) call->held_next->held_prev = call->held_prev;
  call->held_prev = call->held_next = NULL;
  call->held_by = NULL;
  unsigned k = sid_slot(call->held_sid);
  if (conn->by_sid[k].call == call) { /* the ref that kept it alive goes */
    conn->by_sid[k].sid = 0;
    conn->by_sid[k].call = NULL;
  }
}

/* The stream's user data (a held call): the slot, else nghttp2's stream map. */
static inline hop_call *stream_call(hop_conn *conn, int32_t sid) {
  unsigned k = sid_slot(sid);
  if (conn->by_sid[k].sid == sid && conn->by_sid[k].call) return conn->by_sid[k].call;
  return nghttp2_session_get_stream_user_data(conn->ng, sid);
}

/* The call this stream belongs to, if it is still attached here. */
static inline hop_call *live_call(hop_conn *conn, int32_t sid) {
  hop_call *call = stream_call(conn, sid);
  if (!call || call->conn != conn || call->state != CALL_ACTIVE || call->stream_id != sid)
    return NULL;
  return call;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                     const uint8_t *value, size_t vl, uint8_t flags, void *ud) {
  hop_conn *conn = CONN(ud);
  if (f->hd.type != NGHTTP2_HEADERS) return 0;
  hop_call *call = live_call(conn, f->hd.stream_id);
  if (!call || call->fail_err) return 0;
  if (nl == 7 && memcmp(name, ":status", 7) == 0) {
    /* nghttp2 admits only three digits (HTTP messaging checks) */
    int st = vl == 3 ? (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0') : 0;
    call->status = st;
    call->in_trailers = 0;
    hdr_list_clear(&call->headers_in); /* an interim (1xx) block's fields are not the answer's */
    return 0;
  }
  if (nl > 0 && name[0] == ':') return 0;
  /* a second header block after a final status is the trailers */
  int rv = call->in_trailers ? hdr_list_add(&call->trailers_in, (const char *)name, nl,
                                            (const char *)value, vl)
                             : hdr_list_add(&call->headers_in, (const char *)name, nl,
                                            (const char *)value, vl);
  if (rv != HOP_OK) {
    h2_cancel(conn, call);
    call_complete(call, rv);
  }
  return 0;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data,
                         size_t len, void *ud) {
  hop_conn *conn = CONN(ud);
  hop_call *call = live_call(conn, sid);
  if (!call) return 0;
  hop_buf *b = &call->resp_body;
  int rv = hop_buf_room(b, len); /* inline: a buffer kept with the call has the room */
  if (rv == HOP_OK && len) {
    memcpy(b->data + b->len, data, len);
    b->len += len;
  }
  if (rv != HOP_OK) {
    h2_cancel(conn, call);
    call_complete(call, rv);
  }
  return 0;
}

/* Whether the peer may have acted on a call here (sent, at or below its last stream id). */
static int processed_any(const hop_conn *conn, int32_t last_id) {
  for (const hop_call *call = conn->calls_head; call; call = call->next)
    if (call->written && call->stream_id <= last_id) return 1;
  return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
  hop_conn *conn = CONN(ud);
  hop_client *c = conn->client;
  hop_origin *o = conn->origin;
  hop_h2_gate_on_recv(&conn->gate, f);
  switch (f->hd.type) {
  case NGHTTP2_SETTINGS:
    if (f->hd.flags & NGHTTP2_FLAG_ACK) break;
    conn->limit = nghttp2_session_get_remote_settings(s, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
    if (conn->limit == 0) conn->limit = 1; /* 0 means "none now": wait on one slot */
    if (conn->state == CONN_HANDSHAKE) {
      conn->state = CONN_READY;
      uv_timer_stop(&conn->timer);
    }
    origin_learned_limit(o, conn->limit);
    origin_pump(o);
    break;
  case NGHTTP2_HEADERS:
  case NGHTTP2_DATA: {
    hop_call *call = NULL;
    /* a header block after the final status's is the trailers (instead of a begin-headers
     * callback per block: nothing arrives between the end of one block and the next) */
    if (f->hd.type == NGHTTP2_HEADERS) {
      call = live_call(conn, f->hd.stream_id);
      if (call && call->status >= 200) call->in_trailers = 1;
    }
    if (f->hd.flags & NGHTTP2_FLAG_END_STREAM) {
      if (!call) call = live_call(conn, f->hd.stream_id);
      if (call) {
        if (call->status < 200) { /* END_STREAM on an interim or missing status */
          h2_cancel(conn, call);
          call_complete(call, HOP_EHTTP);
        } else {
          call->end_stream = 1;
        }
      }
    }
    break;
  }
  case NGHTTP2_GOAWAY:
    ST_ADD(c, st_goaways, 1);
    conn->goaway = 1;
    conn->goaway_last_id = f->goaway.last_stream_id;
    conn->goaway_code = f->goaway.error_code;
    conn->draining = 1;
    if (f->goaway.error_code != NGHTTP2_NO_ERROR) {
      if (conn->served == 0 && !processed_any(conn, f->goaway.last_stream_id)) {
        /* refused before it answered anything: a failed dial, closed after this read */
        conn->rejected = 1;
        conn->close_pending = HOP_EGOAWAY;
      } else {
        origin_backoff(o); /* don't hammer */
      }
    }
    if (f->goaway.error_code == NGHTTP2_ENHANCE_YOUR_CALM && f->goaway.opaque_data_len == 14 &&
        memcmp(f->goaway.opaque_data, "too_many_pings", 14) == 0 && c->cfg.ping_interval_ms &&
        c->cfg.ping_interval_ms < UINT64_MAX / 2)
      c->cfg.ping_interval_ms *= 2; /* gRPC's ping strikes: keepalive was too eager (A8) */
    hop_log_info("client: GOAWAY from %s:%u (last stream %d, code %u)", o->host, o->port,
                 f->goaway.last_stream_id, f->goaway.error_code);
    origin_pump(o);
    break;
  case NGHTTP2_PING:
    if (f->hd.flags & NGHTTP2_FLAG_ACK) conn->ping_outstanding = 0;
    break;
  default:
    break;
  }
  return 0;
}

/* Must always return 0 (CVE-2023-35945 is unpatched in this libnghttp2). */
static int on_stream_close(nghttp2_session *s, int32_t sid, uint32_t code, void *ud) {
  hop_conn *conn = CONN(ud);
  hop_h2_gate_on_close(&conn->gate, sid); /* first: for every stream, the gate's promise */
  hop_call *call = stream_call(conn, sid);
  if (!call || call->held_by != conn) return 0;
  held_unlink(conn, call);
  if (call->conn == conn && call->state == CALL_ACTIVE && call->stream_id == sid) {
    if (call->end_stream) {
      call_complete(call, HOP_OK);
    } else if (code == NGHTTP2_REFUSED_STREAM) {
      /* refused (or closed locally above GOAWAY's last stream): never processed */
      call_retry_or_fail(call, 1, conn->goaway ? HOP_EGOAWAY : HOP_EREFUSED);
    } else if (conn->goaway && sid > conn->goaway_last_id) {
      call_retry_or_fail(call, 1, HOP_EGOAWAY);
    } else if (call->fail_err) {
      call_retry_or_fail(call, 0, call->fail_err); /* we reset it: the server broke a rule */
    } else {
      call_retry_or_fail(call, 0, HOP_ERESET);
    }
  }
  call_unref(call);
  return 0;
}

static int on_frame_send(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
  hop_conn *conn = CONN(ud);
  hop_h2_gate_on_send(&conn->gate, f);
  if (f->hd.type == NGHTTP2_RST_STREAM && (f->rst_stream.error_code == NGHTTP2_PROTOCOL_ERROR ||
                                           f->rst_stream.error_code == NGHTTP2_STREAM_CLOSED)) {
    hop_call *call = live_call(conn, f->hd.stream_id);
    if (call && !call->fail_err) call->fail_err = HOP_EPROTO;
  }
  if (f->hd.type == NGHTTP2_HEADERS) {
    hop_call *call = live_call(conn, f->hd.stream_id);
    if (call) call->written = 1;
  }
  return 0;
}

static int on_frame_not_send(nghttp2_session *s, const nghttp2_frame *f, int lib_err, void *ud) {
  hop_conn *conn = CONN(ud);
  if (f->hd.type != NGHTTP2_HEADERS) return 0;
  /* the stream never opened, so on_stream_close will not come: find the call ourselves */
  for (hop_call *call = conn->held_head; call; call = call->held_next) {
    if (call->stream_id != f->hd.stream_id) continue;
    held_unlink(conn, call);
    if (call->conn == conn && call->state == CALL_ACTIVE)
      call_retry_or_fail(call, 1, conn->goaway ? HOP_EGOAWAY : HOP_EPROTO);
    call_unref(call);
    break;
  }
  return 0;
}

static int on_invalid_frame(nghttp2_session *s, const nghttp2_frame *f, int err, void *ud) {
  hop_h2_gate_on_invalid(&CONN(ud)->gate, f);
  return 0;
}

static ssize_t read_body(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len,
                         uint32_t *flags, nghttp2_data_source *src, void *ud) {
  hop_conn *conn = CONN(ud);
  hop_call *call = live_call(conn, sid);
  if (!call) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    return 0;
  }
  size_t left = call->body_len - call->body_off;
  size_t n = left < len ? left : len;
  if (n) memcpy(buf, call->body + call->body_off, n);
  call->body_off += n;
  if (call->body_off == call->body_len) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)n;
}

static nghttp2_session_callbacks *g_cbs;

static void cbs_init(void) {
  if (nghttp2_session_callbacks_new(&g_cbs) != 0) return;
  nghttp2_session_callbacks_set_on_header_callback(g_cbs, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(g_cbs, on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(g_cbs, on_frame_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(g_cbs, on_stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(g_cbs, on_frame_send);
  nghttp2_session_callbacks_set_on_frame_not_send_callback(g_cbs, on_frame_not_send);
  nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(g_cbs, on_invalid_frame);
}

int h2_session_init(hop_conn *conn) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, cbs_init);
  if (!g_cbs) return HOP_ENOMEM;
  hop_client *c = conn->client;
  nghttp2_option *opt;
  int rv = hop_h2_client_option_new(&opt);
  if (rv) return rv;
  nghttp2_mem mem = hop_h2_mem_init(&conn->ngmem, &c->ngpool);
  void *gate_tables = hop_h2_mem_zalloc(&conn->ngmem, HOP_H2_GATE_TABLES(0));
  rv = gate_tables ? nghttp2_session_client_new3(&conn->ng, g_cbs, conn, opt, &mem) : HOP_ENOMEM;
  hop_h2_mem_opened(&conn->ngmem);
  nghttp2_option_del(opt);
  if (rv) {
    conn->ng = NULL;
    hop_h2_mem_fini(&conn->ngmem);
    return HOP_ENOMEM;
  }
  hop_h2_gate_init(&conn->gate, 0, gate_tables);
  hop_h2_gate_track_closes(&conn->gate); /* on_stream_close reports every close */
  rv = hop_h2_client_submit_settings(conn->ng, c->cfg.h2_stream_window, c->cfg.h2_conn_window,
                                     c->cfg.max_response_headers);
  return rv;
}

int h2_on_read(hop_conn *conn, const uint8_t *p, size_t n) {
  ssize_t rv = hop_h2_gate_recv(&conn->gate, conn->ng, p, n);
  if (rv < 0) {
    hop_log_info("client: h2 session error: %s", nghttp2_strerror((int)rv));
    return HOP_EPROTO;
  }
  if (conn->gate.error) {
    /* The server broke RFC 9113: our GOAWAY goes out, then the connection's calls fail. */
    hop_log_warn("client: %s:%u: %s: GOAWAY(%s)", conn->origin->host, conn->origin->port,
                 conn->gate.reason, nghttp2_http2_strerror(conn->gate.error));
    h2_flush(conn);
    return HOP_EPROTO;
  }
  conn_mark_dirty(conn); /* ACKs, WINDOW_UPDATEs, requests submitted from callbacks */
  return HOP_OK;
}

/* connection-specific headers are illegal on HTTP/2 (content-length is ours); by length
 * first, since this runs for every header of every call */
static int h2_drop_header(const hop_header *h) {
  const char *n = h->name;
  if (h->name_len == 0 || n[0] == ':') return 1;
  switch (h->name_len) {
  case 2:
    return memcmp(n, "te", 2) == 0 && !(h->value_len == 8 && memcmp(h->value, "trailers", 8) == 0);
  case 4: return memcmp(n, "host", 4) == 0;
  case 7: return memcmp(n, "upgrade", 7) == 0;
  case 10: return memcmp(n, "connection", 10) == 0 || memcmp(n, "keep-alive", 10) == 0;
  case 14: return memcmp(n, "content-length", 14) == 0;
  case 16: return memcmp(n, "proxy-connection", 16) == 0;
  case 17: return memcmp(n, "transfer-encoding", 17) == 0;
  default: return 0;
  }
}

/* Names and values are not copied by nghttp2: they are literals or live in the call (names
 * lower-cased at start) or its target, and the session holds a ref on the call until the
 * stream is gone (held_add). */
#define NV(n, nl, v, vl)                                            \
  (nghttp2_nv) {                                                   \
    (uint8_t *)(n), (uint8_t *)(v), (nl), (vl),                      \
        NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE \
  }

int h2_submit(hop_conn *conn, hop_call *call) {
  size_t n = 0;
  nghttp2_nv stackv[24];
  nghttp2_nv *nv = call->nheaders + 5 <= 24 ? stackv : malloc((call->nheaders + 5) * sizeof(*nv));
  if (!nv) return HOP_ENOMEM;
  nv[n++] = NV(":method", 7, call->method, call->method_len);
  nv[n++] = NV(":scheme", 7, "http", 4);
  nv[n++] = NV(":authority", 10, call->authority, call->authority_len);
  nv[n++] = NV(":path", 5, call->path, call->path_len);
  for (size_t i = 0; i < call->nheaders; i++) {
    const hop_header *h = &call->headers[i];
    if (!h2_drop_header(h)) nv[n++] = NV(h->name, h->name_len, h->value, h->value_len);
  }
  if (call->bodyful) nv[n++] = NV("content-length", 14, call->clen, call->clen_len);
  nghttp2_data_provider prd = {.source.ptr = NULL, .read_callback = read_body};
  call->body_off = 0;
  call->written = 0;
  call->end_stream = 0;
  int32_t sid = nghttp2_submit_request(conn->ng, NULL, nv, n, call->body_len ? &prd : NULL, call);
  if (nv != stackv) free(nv);
  if (sid < 0) return sid == NGHTTP2_ERR_NOMEM ? HOP_ENOMEM : HOP_EPROTO;
  call->stream_id = sid;
  held_add(conn, call);
  conn_attach(conn, call);
  conn_mark_dirty(conn);
  return HOP_OK;
}

void h2_cancel(hop_conn *conn, hop_call *call) {
  if (!conn->ng || call->stream_id <= 0) return;
  /* only for calls not completed normally: a stray RST trips servers' rapid-reset limits */
  nghttp2_submit_rst_stream(conn->ng, NGHTTP2_FLAG_NONE, call->stream_id, NGHTTP2_CANCEL);
  conn_mark_dirty(conn);
}

int h2_flush(hop_conn *conn) {
  hop_client *c = conn->client;
  uint8_t *acc = NULL;
  size_t acc_len = 0;
  int rv = HOP_OK;
  uint8_t stackbuf[16384];
  size_t acc_cap = sizeof(stackbuf);
  acc = stackbuf;
  for (;;) {
    const uint8_t *data;
    ssize_t n = nghttp2_session_mem_send(conn->ng, &data);
    if (n < 0) {
      rv = HOP_EPROTO;
      break;
    }
    if (n == 0) {
      conn->ob_idle = 1;
      break;
    }
    conn->ob_idle = 0; /* the frame buffer may hold the rest of a header block */
    conn->h2_sent = 1;
    conn->ngmem.frames_dirty = 1;
    if (acc_len + (size_t)n > acc_cap) { /* flush what we gathered, then this chunk */
      if (acc_len && (rv = conn_write(conn, acc, acc_len)) != HOP_OK) break;
      acc_len = 0;
      if ((size_t)n > acc_cap) {
        if ((rv = conn_write(conn, data, (size_t)n)) != HOP_OK) break;
        if (conn->write_pending > (1u << 20)) break;
        continue;
      }
    }
    memcpy(acc + acc_len, data, (size_t)n);
    acc_len += (size_t)n;
    if (conn->write_pending > (1u << 20)) break;
  }
  if (rv == HOP_OK && acc_len) rv = conn_write(conn, acc, acc_len);
  (void)c;
  return rv;
}

/* Nothing sent for a whole tick: the frame buffer's pages go back to the kernel (one
 * madvise per idle spell, never per call). */
void h2_tick(hop_conn *conn) {
  if (conn->h2_sent) conn->h2_sent = 0;
  else if (conn->ob_idle) hop_h2_mem_release(&conn->ngmem);
}

void h2_send_ping(hop_conn *conn) {
  if (!conn->ng) return;
  nghttp2_submit_ping(conn->ng, NGHTTP2_FLAG_NONE, NULL);
  conn_mark_dirty(conn);
}

/* The connection is closing: drop every ref the session holds, then the session. */
void h2_fail_calls(hop_conn *conn, int err) {
  while (conn->held_head) {
    hop_call *call = conn->held_head;
    held_unlink(conn, call);
    call_unref(call);
  }
  if (conn->ng) {
    nghttp2_session_del(conn->ng);
    conn->ng = NULL;
    hop_h2_mem_fini(&conn->ngmem);
  }
}
