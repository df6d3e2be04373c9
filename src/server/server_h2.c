/* h2c connections on an nghttp2 server session. Frames are produced with
 * nghttp2_session_mem_send into a write buffer, never from inside an nghttp2 callback;
 * requests are dispatched after nghttp2_session_mem_recv returns. Loop thread only. */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "hopwire/error.h"
#include "server/server_internal.h"

static hop_h2_stream *get_stream(hop_conn *c, int32_t id) {
  if (c->last_st && c->last_st->id == id) return c->last_st;
  hop_h2_stream *st = nghttp2_session_get_stream_user_data(c->session, id);
  if (st) c->last_st = st;
  return st;
}

static void calm(hop_conn *c) {
  if (c->calm_pending) return;
  c->calm_pending = 1;
  HOP_STAT_ADD(c->w, protocol_errors, 1);
}

/* The stream's body no longer counts toward the connection's budget (freed, answered,
 * or the stream is gone). Idempotent. */
static void body_release(hop_conn *c, hop_h2_stream *st) {
  c->body_buffered -= st->body_counted;
  hop_body_release(c->w->budget, st->body_counted);
  st->body_counted = 0;
}

static void drop_body(hop_request *r) {
  hop_buf_free(&r->body);
  r->abody_len = 0; /* its memory stays in the arena until the request dies */
}

static void reject(hop_conn *c, hop_h2_stream *st, int status) {
  if (st->rejected) return;
  st->rejected = 1;
  st->deadline_ms = 0;
  if (st->req) drop_body(st->req);
  body_release(c, st);
  char code[4];
  code[0] = (char)('0' + status / 100);
  code[1] = (char)('0' + status / 10 % 10);
  code[2] = (char)('0' + status % 10);
  code[3] = 0;
  nghttp2_nv nva[] = {
      {(uint8_t *)":status", (uint8_t *)code, 7, 3, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)"content-length", (uint8_t *)"0", 14, 1, NGHTTP2_NV_FLAG_NONE},
  };
  if (nghttp2_submit_response(c->session, st->id, nva, 2, NULL) == 0)
    HOP_STAT_ADD(c->w, responses, 1);
  else
    nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_REFUSED_STREAM);
}

static void make_ready(hop_conn *c, hop_h2_stream *st) {
  if (st->rejected || st->dispatched) return;
  st->deadline_ms = 0;
  if (c->nready == c->ready_cap) {
    size_t ncap = c->ready_cap ? c->ready_cap * 2 : 16;
    int32_t *n = realloc(c->ready, ncap * sizeof(*n));
    if (!n) {
      nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
      return;
    }
    c->ready = n;
    c->ready_cap = ncap;
  }
  c->ready[c->nready++] = st->id;
}

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *ud) {
  hop_conn *c = ud;
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  hop_h2_stream *st = hop_pool_calloc(&c->w->pool, 1, sizeof(*st));
  if (!st) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  st->req = hop_request_new(c->w, c, HOP_PROTO_H2C);
  if (!st->req) {
    hop_pool_free(&c->w->pool, st);
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }
  st->id = frame->hd.stream_id;
  st->deadline_ms = c->recv_now_ms + c->w->s->cfg.header_timeout_ms;
  st->next = c->streams;
  if (c->streams) c->streams->prev = st;
  c->streams = st;
  c->nstreams++;
  c->deadline_ms = 0;
  HOP_STAT_ADD(c->w, streams_open, 1);
  nghttp2_session_set_stream_user_data(session, st->id, st);
  c->last_st = st; /* its headers come next */
  return 0;
}


static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *ud) {
  hop_conn *c = ud;
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  hop_h2_stream *st = get_stream(c, frame->hd.stream_id);
  if (!st || !st->req || st->dispatched || st->oversize) return 0;
  /* libnghttp2 advertises SETTINGS_MAX_HEADER_LIST_SIZE but never enforces it. Past the cap
   * nothing more is stored (an HPACK bomb costs no memory; the decoder still runs, as it must
   * to keep the HPACK state) and the stream is answered 431 once its block ends. Returning
   * NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE would instead reset it with INTERNAL_ERROR. */
  st->header_bytes += namelen + valuelen + 32;
  if (st->header_bytes > c->w->s->cfg.max_header_list_size) {
    HOP_STAT_ADD(c->w, protocol_errors, 1);
    st->oversize = 1;
    return 0;
  }
  if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0; /* request trailers: ignored */
  hop_request *r = st->req;
  if (namelen && name[0] == ':') {
    const char **slot = NULL;
    if (namelen == 7 && !memcmp(name, ":method", 7)) {
      slot = &r->method;
      st->head = valuelen == 4 && !memcmp(value, "HEAD", 4);
    } else if (namelen == 5 && !memcmp(name, ":path", 5)) {
      slot = &r->path;
    } else if (namelen == 10 && !memcmp(name, ":authority", 10)) {
      slot = &r->authority;
    }
    if (slot && !(*slot = hop_arena_strndup(&r->mem, value, valuelen)))
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    return 0;
  }
  if (namelen == 14 && !memcmp(name, "content-length", 14)) {
    uint64_t v = 0;
    for (size_t i = 0; i < valuelen && v < UINT64_MAX / 10; i++) v = v * 10 + (uint64_t)(value[i] - '0');
    st->has_cl = 1;
    st->content_length = v; /* libnghttp2 already checked the syntax */
  }
  if (hop_request_add_header(r, name, namelen, value, valuelen))
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *ud) {
  hop_conn *c = ud;
  hop_worker *w = c->w;
  hop_h2_gate_on_recv(&c->gate, frame);
  if (hop_h2_flood_on_recv(&c->flood, &frame->hd, c->recv_now_ms)) {
    calm(c);
    return 0;
  }
  hop_h2_stream *st;
  switch (frame->hd.type) {
  case NGHTTP2_HEADERS:
    st = get_stream(c, frame->hd.stream_id);
    if (!st || !st->req) return 0;
    if (st->oversize) {
      reject(c, st, 431); /* request headers or trailers over max_header_list_size */
      return 0;
    }
    if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      if (st->has_cl && st->content_length > w->s->cfg.max_body_size) {
        reject(c, st, 413);
        return 0;
      }
      /* A small declared body goes to the request's memory: no buffer of its own. */
      hop_request *r = st->req;
      if (st->has_cl && st->content_length && st->content_length <= HOP_REQ_ARENA_BODY_MAX &&
          (r->abody = hop_arena_alloc(&r->mem, (size_t)st->content_length)))
        r->abody_cap = (size_t)st->content_length;
      st->deadline_ms = c->recv_now_ms + w->s->cfg.body_timeout_ms;
    }
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) make_ready(c, st);
    return 0;
  case NGHTTP2_DATA:
    if (!(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) return 0;
    st = get_stream(c, frame->hd.stream_id);
    if (st && st->req) make_ready(c, st);
    return 0;
  case NGHTTP2_RST_STREAM:
    HOP_STAT_ADD(w, resets_received, 1);
    return 0;
  default:
    return 0;
  }
}

static int on_data_chunk_recv(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                              const uint8_t *data, size_t len, void *ud) {
  hop_conn *c = ud;
  hop_h2_stream *st = get_stream(c, stream_id);
  if (!st || !st->req || st->rejected || st->dispatched) return 0;
  size_t budget = c->w->s->cfg.max_conn_body_buffer;
  int over_conn = budget && c->body_buffered + len > budget;
  if (over_conn || hop_body_charge(c->w->budget, len) != 0) {
    /* Unfinished uploads would pin MCS x max_body per connection (and max_connections times
     * that per server). No handler has seen this stream, so REFUSED_STREAM tells the client
     * it was not processed. */
    hop_log_debug("h2: stream %d refused: %zu body bytes buffered on the connection%s",
                  (int)stream_id, c->body_buffered, over_conn ? "" : ", server budget full");
    HOP_STAT_ADD(c->w, body_refusals, 1);
    st->rejected = 1;
    st->deadline_ms = 0;
    drop_body(st->req);
    body_release(c, st);
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_REFUSED_STREAM);
    return 0;
  }
  hop_request *r = st->req;
  int rv;
  if (r->abody) {
    /* More than content-length said: libnghttp2 resets such a stream; never past the cap. */
    rv = len > r->abody_cap - r->abody_len ? HOP_EPROTO : HOP_OK;
    if (!rv) memcpy(r->abody + r->abody_len, data, len), r->abody_len += len;
  } else {
    rv = hop_buf_append(&r->body, data, len);
  }
  if (rv) hop_body_release(c->w->budget, len); /* charged above, not held */
  if (rv == HOP_ETOOBIG) reject(c, st, 413);
  else if (rv)
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream_id,
                              rv == HOP_EPROTO ? NGHTTP2_PROTOCOL_ERROR : NGHTTP2_INTERNAL_ERROR);
  else {
    st->body_counted += len;
    c->body_buffered += len;
  }
  return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                           void *ud) {
  hop_conn *c = ud;
  hop_h2_stream *st = get_stream(c, stream_id);
  if (!st) return 0;
  if (st->prev) st->prev->next = st->next;
  else c->streams = st->next;
  if (st->next) st->next->prev = st->prev;
  c->nstreams--;
  HOP_STAT_SUB(c->w, streams_open, 1);
  body_release(c, st);
  if (st->req) {
    if (st->dispatched) {
      hop_request_detach(st->req); /* its notice fires from the idle turn, not from here */
    } else {
      hop_request_free(st->req);
    }
  }
  hop_response_release(st->resp);
  if (st->done) hop_request_free(st->done); /* with the answer in its arena */
  if (c->last_st == st) c->last_st = NULL;
  hop_pool_free(&c->w->pool, st);
  if (c->nstreams == 0) c->deadline_ms = hop_now_ms() + c->w->s->cfg.idle_timeout_ms;
  return 0; /* always 0: CVE-2023-35945 is not fixed in bookworm's libnghttp2 */
}

static int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *ud) {
  hop_conn *c = ud;
  hop_h2_gate_on_send(&c->gate, frame);
  if (frame->hd.type == NGHTTP2_RST_STREAM) {
    HOP_STAT_ADD(c->w, resets_sent, 1);
    /* Resets we are made to send (MadeYouReset, CVE-2025-8671) are not bounded by 1.52. */
    if (hop_h2_flood_on_reset_sent(&c->flood, hop_now_ms())) calm(c);
  } else if (frame->hd.type == NGHTTP2_GOAWAY) {
    HOP_STAT_ADD(c->w, goaways_sent, 1);
  }
  return 0;
}

static int on_invalid_frame(nghttp2_session *session, const nghttp2_frame *frame, int err,
                            void *ud) {
  hop_conn *c = ud;
  hop_h2_gate_on_invalid(&c->gate, frame);
  return 0;
}

static ssize_t data_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                         uint32_t *data_flags, nghttp2_data_source *source, void *ud) {
  hop_h2_stream *st = source->ptr;
  hop_response *resp = st->resp;
  size_t left = resp->body_len - st->resp_off;
  size_t n = left < length ? left : length;
  memcpy(buf, resp->body + st->resp_off, n);
  st->resp_off += n;
  if (st->resp_off == resp->body_len) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    if (resp->ntr) {
      *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      if (nghttp2_submit_trailer(session, stream_id, resp->nva + resp->nnv, resp->ntr) != 0)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
  }
  return (ssize_t)n;
}

int hop_h2_server_init(hop_server *s) {
  nghttp2_session_callbacks *cb;
  if (nghttp2_session_callbacks_new(&cb)) return HOP_ENOMEM;
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
  nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cb, on_invalid_frame);
  if (hop_h2_option_new(&s->h2_option, &s->h2)) {
    nghttp2_session_callbacks_del(cb);
    return HOP_ENOMEM;
  }
  s->h2_callbacks = cb;
  return HOP_OK;
}

void hop_h2_server_free(hop_server *s) {
  if (s->h2_callbacks) nghttp2_session_callbacks_del(s->h2_callbacks);
  if (s->h2_option) nghttp2_option_del(s->h2_option);
  s->h2_callbacks = NULL;
  s->h2_option = NULL;
}

int hop_h2_conn_start(hop_conn *c) {
  hop_server *s = c->w->s;
  /* The session's own allocations come from the worker's pool, its large blocks from a
   * region of its own (h2/h2_mem.h); the gate's tables are asked first, to share a page. */
  nghttp2_mem mem = hop_h2_mem_init(&c->h2mem, &c->w->pool);
  void *gate_tables = hop_h2_mem_zalloc(&c->h2mem, HOP_H2_GATE_TABLES(1));
  int rv = gate_tables ? nghttp2_session_server_new3(&c->session, s->h2_callbacks, c,
                                                     s->h2_option, &mem)
                       : HOP_ENOMEM;
  hop_h2_mem_opened(&c->h2mem);
  if (rv) c->session = NULL; /* a failed new3 may leave it pointing at what it freed */
  else rv = hop_h2_submit_settings(c->session, &s->h2);
  if (rv) { /* not an h2 connection yet: hop_h2_conn_free will not run */
    if (c->session) nghttp2_session_del(c->session);
    c->session = NULL;
    hop_h2_mem_fini(&c->h2mem);
    return HOP_ENOMEM;
  }
  hop_h2_gate_init(&c->gate, 1, gate_tables);
  uint64_t now = hop_now_ms();
  hop_h2_flood_init(&c->flood, s->cfg.max_empty_frames, s->cfg.max_control_per_sec,
                    s->cfg.max_resets_sent_burst, s->cfg.max_resets_sent_rate, now);
  c->deadline_ms = now + s->cfg.idle_timeout_ms;
  /* Connections accepted while the drain is starting get the notice too. */
  if (c->draining) hop_h2_conn_drain(c, 0);
  return HOP_OK;
}

void hop_h2_conn_free(hop_conn *c) {
  hop_h2_stream *st = c->streams;
  while (st) {
    hop_h2_stream *next = st->next;
    if (st->req) hop_request_free(st->req); /* detached ones were cleared at close */
    hop_response_release(st->resp);
    if (st->done) hop_request_free(st->done);
    hop_pool_free(&c->w->pool, st);
    HOP_STAT_SUB(c->w, streams_open, 1);
    st = next;
  }
  c->streams = NULL;
  c->last_st = NULL;
  if (c->session) nghttp2_session_del(c->session);
  c->session = NULL;
  hop_h2_mem_fini(&c->h2mem);
  free(c->ready);
  c->ready = NULL;
}

void hop_h2_conn_dispatch_ready(hop_conn *c) {
  if (c->pumping) return; /* a handler answering synchronously re-enters through deliver */
  c->pumping = 1;
  uint32_t limit = c->w->s->cfg.max_concurrent_streams;
  size_t i = 0;
  for (; i < c->nready && !c->closing && c->inflight < limit; i++) {
    hop_h2_stream *st = get_stream(c, c->ready[i]);
    if (!st || !st->req || st->dispatched || st->rejected) continue;
    st->dispatched = 1;
    hop_request *r = st->req;
    r->stream = st;
    hop_request_dispatch(r);
  }
  /* The rest wait (their streams stay open) until an answer frees a slot. */
  if (i < c->nready) memmove(c->ready, c->ready + i, (c->nready - i) * sizeof(*c->ready));
  c->nready -= i;
  c->pumping = 0;
  if (!c->closing && !c->in_read) hop_conn_mark_dirty(c);
}

void hop_h2_conn_input(hop_conn *c, const uint8_t *data, size_t len) {
  c->recv_now_ms = hop_now_ms();
  uint32_t errs = c->gate.violations;
  ssize_t rv = hop_h2_gate_recv(&c->gate, c->session, data, len);
  if (c->gate.violations != errs) {
    HOP_STAT_ADD(c->w, protocol_errors, c->gate.violations - errs);
    if (c->gate.error) hop_log_debug("h2: %s: GOAWAY(%u)", c->gate.reason, c->gate.error);
  }
  if (rv < 0) {
    /* Fatal: bad preface, flood of queued ACKs, CONTINUATION flood, ... */
    hop_log_debug("h2: mem_recv: %s", nghttp2_strerror((int)rv));
    HOP_STAT_ADD(c->w, protocol_errors, 1);
    hop_conn_close(c);
    return;
  }
  hop_h2_conn_dispatch_ready(c);
  hop_h2_conn_flush(c);
}

void hop_h2_conn_respond(hop_conn *c, hop_request *r, hop_response *resp) {
  hop_h2_stream *st = r->stream;
  r->stream = NULL;
  if (!st) {
    hop_response_release(resp);
    hop_request_free(r);
    return;
  }
  /* The request (and the answer in its arena) lives until the stream closes. */
  st->req = NULL;
  st->done = r;
  body_release(c, st);
  if (!resp) {
    nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
  } else {
    st->resp = resp;
    st->resp_off = 0;
    /* A peer that never opens its window (or never reads) cannot hold the stream forever. */
    st->deadline_ms = hop_now_ms() + c->w->s->cfg.body_timeout_ms;
    nghttp2_data_provider prd = {.source = {.ptr = st}, .read_callback = data_read};
    int with_data = !st->head && (resp->body_len || resp->ntr);
    if (nghttp2_submit_response(c->session, st->id, resp->nva, resp->nnv, with_data ? &prd : NULL))
      nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
    else
      HOP_STAT_ADD(c->w, responses, 1);
  }
  if (!c->in_read) hop_conn_mark_dirty(c);
}

void hop_h2_conn_flush(hop_conn *c) {
  if (c->closing || !c->session) return;
  if (c->calm_pending == 1) {
    c->calm_pending = 2;
    nghttp2_session_terminate_session(c->session, NGHTTP2_ENHANCE_YOUR_CALM);
  }
  while (c->wpending + c->wbuf.len < HOP_SRV_WRITE_HIGH) {
    const uint8_t *data;
    ssize_t n = nghttp2_session_mem_send(c->session, &data);
    if (n < 0) {
      hop_conn_close(c);
      return;
    }
    if (n == 0) {
      c->ob_idle = 1;
      break;
    }
    c->ob_idle = 0; /* the frame buffer may hold the rest of a header block */
    if (hop_buf_append(&c->wbuf, data, (size_t)n)) {
      hop_conn_close(c);
      return;
    }
  }
  if (c->calm_pending == 1) {
    /* Tripped while sending (reset budget): next round sends the GOAWAY. */
    hop_conn_mark_dirty(c);
  }
  if (c->wbuf.len) {
    c->h2_sent = 1;
    c->h2mem.frames_dirty = 1;
    size_t len;
    uint8_t *bytes = hop_buf_steal(&c->wbuf, &len);
    uv_buf_t b = uv_buf_init((char *)bytes, (unsigned)len);
    if (hop_conn_write(c, &b, 1, bytes)) return;
  }
  if (!nghttp2_session_want_read(c->session) && !nghttp2_session_want_write(c->session)) {
    if (c->wpending) c->close_after_write = 1;
    else hop_conn_close(c);
    return;
  }
  hop_conn_update_reading(c);
}

void hop_h2_conn_drain(hop_conn *c, int final_step) {
  if (c->closing || !c->session) return;
  if (!final_step) {
    nghttp2_submit_shutdown_notice(c->session);
  } else if (!c->goaway_final) {
    c->goaway_final = 1;
    nghttp2_submit_goaway(c->session, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(c->session), NGHTTP2_NO_ERROR,
                          NULL, 0);
  }
  hop_conn_mark_dirty(c);
}

void hop_h2_conn_sweep(hop_conn *c, uint64_t now) {
  int changed = 0;
  /* Nothing sent for a whole sweep interval: the frame buffer's pages go back to the
   * kernel (one madvise per idle spell, never per call). */
  if (c->h2_sent) c->h2_sent = 0;
  else if (c->ob_idle) hop_h2_mem_release(&c->h2mem);
  for (hop_h2_stream *st = c->streams; st; st = st->next) {
    /* Request not complete in time, or answer not taken by the peer in time. A request
     * held by its handler has no deadline here (the handler owns it). */
    if (st->deadline_ms && now >= st->deadline_ms && (!st->dispatched || st->resp)) {
      st->deadline_ms = 0;
      nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
      changed = 1;
    }
  }
  if (c->nstreams == 0 && c->deadline_ms && now >= c->deadline_ms) {
    c->deadline_ms = 0;
    if (!c->goaway_final) {
      c->goaway_final = 1;
      nghttp2_submit_goaway(c->session, NGHTTP2_FLAG_NONE,
                            nghttp2_session_get_last_proc_stream_id(c->session), NGHTTP2_NO_ERROR,
                            NULL, 0);
    }
    changed = 1;
  }
  if (changed) hop_conn_mark_dirty(c);
}
