/* A server connection: accept, read, write with a high-water mark, protocol sniffing,
 * timeouts and close. Loop thread only. */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "hopwire/error.h"
#include "server/server_internal.h"

static const char PREFACE[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define PREFACE_LEN 24
#define PREFACE_H2_START 14 /* "PRI * HTTP/2.0": an HTTP/2 client, whatever follows */
static const uint64_t s_close_grace_ms = 1000;

typedef struct hop_wreq {
  uv_write_t w;
  hop_conn *c;
  size_t len;
  void *owned;
} hop_wreq;

static void unlink_dirty(hop_conn *c);

static void on_closed(uv_handle_t *h) {
  hop_conn *c = h->data;
  hop_worker *w = c->w;
  if (c->proto == HOP_CONN_H1) hop_h1_conn_free(c);
  if (c->proto == HOP_CONN_H2) hop_h2_conn_free(c);
  hop_buf_free(&c->inbuf);
  hop_buf_free(&c->wbuf);
  hop_conn_unref(c); /* handlers still running keep the (now inert) struct */
  hop_worker_conn_closed(w);
}

void hop_conn_unref(hop_conn *c) {
  if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1) free(c);
}

void hop_conn_close(hop_conn *c) {
  if (c->closing) return;
  c->closing = 1;
  hop_worker *w = c->w;
  unlink_dirty(c);
  if (c->prev) c->prev->next = c->next;
  else w->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  w->nconns--;
  atomic_fetch_sub_explicit(&w->s->conns_open, 1, memory_order_relaxed);
  if (c->proto == HOP_CONN_H1) HOP_STAT_SUB(w, connections_h1, 1);
  if (c->proto == HOP_CONN_H2) HOP_STAT_SUB(w, connections_h2, 1);
  /* Detach what handlers still hold, so their late answers are no-ops. */
  if (c->h1_req) {
    hop_request_detach(c->h1_req);
    c->h1_req = NULL;
  }
  for (hop_h2_stream *st = c->streams; st; st = st->next) {
    if (st->req && st->dispatched) {
      hop_request_detach(st->req);
      st->req = NULL;
    }
  }
  uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_write(uv_write_t *wr, int status) {
  hop_wreq *q = (hop_wreq *)wr;
  hop_conn *c = q->c;
  c->wpending -= q->len;
  free(q->owned);
  free(q);
  if (c->closing) return;
  if (status < 0) {
    hop_conn_close(c);
    return;
  }
  c->write_since_ms = c->wpending ? hop_now_ms() : 0;
  if (c->wpending == 0 && c->close_after_write) {
    hop_conn_close(c);
    return;
  }
  if (c->proto == HOP_CONN_H2) hop_conn_mark_dirty(c); /* produce more, maybe close */
  hop_conn_update_reading(c);
}

int hop_conn_write(hop_conn *c, uv_buf_t *bufs, unsigned nbufs, void *owned) {
  if (c->closing) {
    free(owned);
    return HOP_ESHUTDOWN;
  }
  hop_wreq *q = malloc(sizeof(*q));
  if (!q) {
    free(owned);
    hop_conn_close(c);
    return HOP_ENOMEM;
  }
  size_t len = 0;
  for (unsigned i = 0; i < nbufs; i++) len += bufs[i].len;
  q->c = c;
  q->len = len;
  q->owned = owned;
  int rv = uv_write(&q->w, (uv_stream_t *)&c->tcp, bufs, nbufs, on_write);
  if (rv) {
    free(owned);
    free(q);
    hop_conn_close(c);
    return hop_err_from_uv(rv);
  }
  if (!c->wpending) c->write_since_ms = hop_now_ms();
  c->wpending += len;
  HOP_STAT_ADD(c->w, bytes_out, len);
  return HOP_OK;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  hop_conn *c = h->data;
  hop_worker *w = c->w;
  if (w->rbuf_busy) { /* cannot happen on one loop; be safe anyway */
    buf->base = NULL;
    buf->len = 0;
    return;
  }
  w->rbuf_busy = 1;
  buf->base = (char *)w->rbuf;
  buf->len = HOP_SRV_READ_BUF;
}

static void sniff(hop_conn *c, const char *data, size_t len) {
  if (c->close_after_write) return; /* answered the bad preface: closing */
  int rv = hop_buf_append(&c->inbuf, data, len);
  if (rv) {
    hop_conn_close(c);
    return;
  }
  size_t n = c->inbuf.len < PREFACE_LEN ? c->inbuf.len : PREFACE_LEN;
  size_t same = 0;
  while (same < n && c->inbuf.data[same] == (uint8_t)PREFACE[same]) same++;
  int is_h2 = same == n;
  if (is_h2 && n < PREFACE_LEN) return; /* wait for the whole preface */
  hop_worker *w = c->w;
  if (!is_h2 && same >= PREFACE_H2_START) {
    /* "PRI * HTTP/2.0" with a wrong tail: an HTTP/2 client with a bad preface, not an
     * HTTP/1.1 request (RFC 9113 3.4: connection error PROTOCOL_ERROR). */
    static const uint8_t goaway[17] = {0, 0, 8, NGHTTP2_GOAWAY, 0, 0, 0, 0, 0,
                                       0, 0, 0, 0, 0, 0, 0, NGHTTP2_PROTOCOL_ERROR};
    HOP_STAT_ADD(w, protocol_errors, 1);
    HOP_STAT_ADD(w, goaways_sent, 1);
    hop_buf_clear(&c->inbuf);
    c->close_after_write = 1;
    c->deadline_ms = hop_now_ms() + s_close_grace_ms;
    uv_buf_t b = uv_buf_init((char *)goaway, sizeof(goaway));
    if (hop_conn_write(c, &b, 1, NULL) == HOP_OK) hop_conn_update_reading(c);
    return;
  }
  if (is_h2) {
    if (hop_h2_conn_start(c)) {
      hop_conn_close(c);
      return;
    }
    c->proto = HOP_CONN_H2;
    HOP_STAT_ADD(w, connections_h2, 1);
    size_t len2;
    uint8_t *bytes = hop_buf_steal(&c->inbuf, &len2);
    hop_h2_conn_input(c, bytes, len2);
    free(bytes);
    return;
  }
  if (hop_h1_conn_start(c)) {
    hop_conn_close(c);
    return;
  }
  c->proto = HOP_CONN_H1;
  HOP_STAT_ADD(w, connections_h1, 1);
  hop_h1_conn_input(c, NULL, 0);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  hop_conn *c = s->data;
  hop_worker *w = c->w;
  w->rbuf_busy = 0;
  if (nread == 0) return;
  if (c->closing) return;
  if (nread < 0) {
    /* EOF or error: nothing more will come. A dispatched h1 request or open h2 streams
     * cannot be answered on a half-closed socket reliably: close now (detaches). */
    hop_conn_close(c);
    return;
  }
  HOP_STAT_ADD(w, bytes_in, (uint64_t)nread);
  c->in_read = 1;
  switch (c->proto) {
  case HOP_CONN_SNIFF: sniff(c, buf->base, (size_t)nread); break;
  case HOP_CONN_H1: hop_h1_conn_input(c, buf->base, (size_t)nread); break;
  case HOP_CONN_H2: hop_h2_conn_input(c, (const uint8_t *)buf->base, (size_t)nread); break;
  }
  c->in_read = 0;
}

void hop_conn_update_reading(hop_conn *c) {
  if (c->closing) return;
  int want = c->wpending < HOP_SRV_WRITE_HIGH;
  /* HTTP/1.1 keeps reading while a request is in flight, so that a client going away
   * cancels it; pipelined bytes wait in inbuf, up to a bound. */
  if (c->proto != HOP_CONN_H2 && (c->close_after_write || c->inbuf.len >= HOP_SRV_READ_BUF))
    want = 0;
  if (want && !c->reading) {
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0) c->reading = 1;
  } else if (!want && c->reading) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
  }
}

/* A new connection around the worker's socket handle, not yet opened. */
static hop_conn *conn_new(hop_worker *w) {
  hop_conn *c = calloc(1, sizeof(*c));
  if (!c) return NULL;
  c->w = w;
  atomic_init(&c->refs, 1);
  uv_tcp_init(&w->loop, &c->tcp);
  c->tcp.data = c;
  hop_buf_init(&c->inbuf, 1024 * 1024);
  hop_buf_init(&c->wbuf, SIZE_MAX);
  return c;
}

/* The socket is open: the connection cap, then reading. Returns 0, or -1 when refused
 * (closed and freed). */
static int conn_admit(hop_worker *w, hop_conn *c) {
  hop_server *s = w->s;
  uint64_t open = atomic_fetch_add_explicit(&s->conns_open, 1, memory_order_relaxed);
  if (open >= s->cfg.max_connections || w->drain_started) {
    atomic_fetch_sub_explicit(&s->conns_open, 1, memory_order_relaxed);
    HOP_STAT_ADD(w, connections_rejected, 1);
    uv_close((uv_handle_t *)&c->tcp, (uv_close_cb)free);
    hop_buf_free(&c->inbuf);
    return -1;
  }
  HOP_STAT_ADD(w, connections_total, 1);
  uv_tcp_nodelay(&c->tcp, 1);
  c->next = w->conns;
  if (w->conns) w->conns->prev = c;
  w->conns = c;
  w->nconns++;
  c->deadline_ms = hop_now_ms() + s->cfg.header_timeout_ms;
  hop_conn_update_reading(c);
  return 0;
}

void hop_conn_accept(hop_worker *w) {
  hop_conn *c = conn_new(w);
  if (!c) {
    /* Take the socket anyway so it does not sit in the backlog, then drop it. */
    uv_tcp_t *t = malloc(sizeof(*t));
    if (!t) return;
    uv_tcp_init(&w->loop, t);
    if (uv_accept((uv_stream_t *)&w->listener, (uv_stream_t *)t) == 0) {}
    uv_close((uv_handle_t *)t, (uv_close_cb)free);
    return;
  }
  if (uv_accept((uv_stream_t *)&w->listener, (uv_stream_t *)&c->tcp) != 0) {
    uv_close((uv_handle_t *)&c->tcp, (uv_close_cb)free);
    hop_buf_free(&c->inbuf);
    return;
  }
  conn_admit(w, c);
}

int hop_conn_adopt(hop_worker *w, uv_os_sock_t fd) {
  hop_conn *c = conn_new(w);
  if (!c) return HOP_ENOMEM;
  int rv = uv_tcp_open(&c->tcp, fd);
  if (rv) {
    uv_close((uv_handle_t *)&c->tcp, (uv_close_cb)free);
    hop_buf_free(&c->inbuf);
    return hop_err_from_uv(rv);
  }
  return conn_admit(w, c) ? HOP_EQUEUEFULL : HOP_OK;
}

void hop_conn_begin_drain(hop_conn *c) {
  if (c->closing || c->draining) return;
  c->draining = 1;
  switch (c->proto) {
  case HOP_CONN_SNIFF: hop_conn_close(c); break;
  case HOP_CONN_H1:
    /* Idle between requests: close now; otherwise the answer carries Connection: close. */
    if (!c->h1_req && c->h1 && c->h1->state == HOP_H1_IDLE && c->inbuf.len == 0 && !c->wpending)
      hop_conn_close(c);
    else if (!c->h1_req && c->h1 && c->h1->state == HOP_H1_IDLE && c->inbuf.len == 0)
      c->close_after_write = 1;
    break;
  case HOP_CONN_H2: hop_h2_conn_drain(c, 0); break;
  }
}

void hop_conn_sweep(hop_conn *c, uint64_t now) {
  if (c->closing) return;
  hop_server *s = c->w->s;
  /* A peer that does not read what we write: bounded by the body timeout. */
  if (c->wpending && c->write_since_ms && now - c->write_since_ms > s->cfg.body_timeout_ms) {
    HOP_STAT_ADD(c->w, protocol_errors, 1);
    hop_conn_close(c);
    return;
  }
  if (c->proto == HOP_CONN_H2) {
    hop_h2_conn_sweep(c, now);
    return;
  }
  if (c->deadline_ms && now >= c->deadline_ms) {
    if (c->proto == HOP_CONN_H1 && c->h1 && c->h1->state != HOP_H1_IDLE && !c->wpending) {
      hop_h1_send_error(c, 408);
      return;
    }
    hop_conn_close(c);
  }
}

void hop_conn_flush_dirty(hop_worker *w) {
  while (w->dirty) {
    hop_conn *c = w->dirty;
    w->dirty = c->dirty_next;
    c->dirty = 0;
    c->dirty_next = NULL;
    if (!c->closing && c->proto == HOP_CONN_H2) hop_h2_conn_flush(c);
  }
}

static void on_flush_idle(uv_idle_t *h) {
  hop_worker *w = h->data;
  hop_worker_fire_cancels(w);
  hop_conn_flush_dirty(w);
  if (!w->dirty && !w->cancels) uv_idle_stop(h);
}

void hop_worker_kick_idle(hop_worker *w) {
  if (!w->finishing) uv_idle_start(&w->flush, on_flush_idle);
}

/* Frames are produced once per loop iteration, outside any nghttp2 callback. */
void hop_conn_mark_dirty(hop_conn *c) {
  if (c->dirty || c->closing) return;
  hop_worker *w = c->w;
  c->dirty = 1;
  c->dirty_next = w->dirty;
  w->dirty = c;
  hop_worker_kick_idle(w);
}

static void unlink_dirty(hop_conn *c) {
  if (!c->dirty) return;
  for (hop_conn **pp = &c->w->dirty; *pp; pp = &(*pp)->dirty_next) {
    if (*pp == c) {
      *pp = c->dirty_next;
      break;
    }
  }
  c->dirty = 0;
}
