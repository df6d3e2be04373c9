/* hopwire client connections: dial (modelled delay, connect timeout), read, write queue,
 * close with the retry rules for the calls on it, and the per-connection timers (PING
 * liveness, idle, age). Loop thread only. */
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"
#include "core/clock.h"
#include "core/log.h"

#define HOP_CONN_WRITE_HIGH_WATER (1u << 20) /* stop pulling frames from nghttp2 above it */

static void on_conn_timer(uv_timer_t *t);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);

static int proto_counted_h2(const hop_conn *conn) { return conn->proto == HOP_PROTO_H2C; }

/* ---- dial ----------------------------------------------------------------------------------- */

static void dial_failed(hop_conn *conn, int err) {
  hop_origin *o = conn->origin;
  hop_client *c = conn->client;
  ST_ADD(c, st_dials_failed, 1);
  hop_log_info("client: dial %s:%u failed: %s", o->host, o->port, hop_strerror(err));
  conn->draining = 1; /* not live: the origin decides without it */
  /* backoff first, so closing does not redial at once; when the origin gives up, the calls
   * on a connection the peer refused fail with the cause too, instead of waiting for the
   * next refusal */
  if (origin_dial_failed(o, err) && conn->rejected) conn->fail_calls = 1;
  conn_close(conn, err);
  client_kick(c);
}

/* A connection that fails before it was ever usable is a failed dial: the origin backs off
 * instead of redialling at once. */
static void conn_fail(hop_conn *conn, int err) {
  if ((conn->state < CONN_READY || conn->rejected) && conn->state != CONN_CLOSING &&
      !conn->client->shutting_down)
    dial_failed(conn, err);
  else
    conn_close(conn, err);
}

static void on_connect(uv_connect_t *req, int status) {
  hop_conn *conn = req->data;
  hop_client *c = conn->client;
  hop_origin *o = conn->origin;
  if (conn->state == CONN_CLOSING) return;
  if (status < 0) {
    int err = status == UV_ECONNREFUSED ? HOP_ECONNREFUSED
              : status == UV_ETIMEDOUT  ? HOP_ECONNTIMEDOUT
                                        : HOP_ECONNECT;
    dial_failed(conn, err);
    return;
  }
  uint64_t now = hop_now_ms();
  conn->connected = 1;
  conn->connected_ms = conn->last_recv_ms = conn->idle_since_ms = now;
  if (proto_counted_h2(conn)) ST_ADD(c, st_open_h2, 1);
  else ST_ADD(c, st_open_h1, 1);
  if (c->cfg.max_conn_age_ms) {
    /* +-10 % so connections made together do not all recycle together */
    uint64_t age = c->cfg.max_conn_age_ms;
    uint64_t span = age / 5;
    conn->age_deadline_ms = now + age - age / 10 + (span ? hop_rand_below(span + 1) : 0);
  }
  uv_tcp_nodelay(&conn->tcp, 1);
  if (uv_read_start((uv_stream_t *)&conn->tcp, on_alloc, on_read) != 0) {
    dial_failed(conn, HOP_ECONNRESET);
    return;
  }
  if (conn->proto == HOP_PROTO_H2C) {
    conn->state = CONN_HANDSHAKE;
    if (h2_session_init(conn) != HOP_OK) {
      dial_failed(conn, HOP_ENOMEM);
      return;
    }
    /* the peer's first SETTINGS must come within the connect timeout */
    uv_timer_start(&conn->timer, on_conn_timer, c->cfg.connect_timeout_ms, 0);
    conn_mark_dirty(conn);
  } else {
    conn->state = CONN_READY;
    uv_timer_stop(&conn->timer);
    if (o->q_head) {
      hop_call *call = o->q_head;
      origin_dequeue(o, call);
      if (h1_submit(conn, call) != HOP_OK) call_complete(call, HOP_ENOMEM);
    } else if (origin_idle_put(o, conn) != 0) {
      conn_close(conn, HOP_OK);
    }
    origin_pump(o);
  }
  client_kick(c);
}

static void start_connect(hop_conn *conn) {
  hop_client *c = conn->client;
  conn->state = CONN_CONNECTING;
  conn->creq.data = conn;
  int rv = uv_tcp_connect(&conn->creq, &conn->tcp, (const struct sockaddr *)&conn->addr, on_connect);
  if (rv) {
    /* report from the timer, never from inside the dial decision */
    conn->close_pending = rv == UV_ECONNREFUSED ? HOP_ECONNREFUSED : HOP_ECONNECT;
    uv_timer_start(&conn->timer, on_conn_timer, 0, 0);
    return;
  }
  uv_timer_start(&conn->timer, on_conn_timer, c->cfg.connect_timeout_ms, 0);
}

static void on_conn_timer(uv_timer_t *t) {
  hop_conn *conn = t->data;
  hop_client *c = conn->client;
  switch (conn->state) {
  case CONN_DELAY:
    start_connect(conn);
    break;
  case CONN_CONNECTING:
    dial_failed(conn, conn->close_pending ? conn->close_pending : HOP_ECONNTIMEDOUT);
    break;
  case CONN_HANDSHAKE: /* connected, but no SETTINGS: a black hole */
    dial_failed(conn, HOP_ECONNTIMEDOUT);
    break;
  default:
    break;
  }
  client_kick(c);
}

static void conn_handle_closed(uv_handle_t *h) {
  hop_conn *conn = h->data;
  if (--conn->handles_open > 0) return;
  hop_client *c = conn->client;
  free(conn);
  client_handle_done(c);
}

int conn_dial(hop_origin *o, int proto) {
  hop_client *c = o->client;
  if (o->naddrs == 0) return HOP_ERESOLVE;
  hop_conn *conn = calloc(1, sizeof(*conn));
  if (!conn) return HOP_ENOMEM;
  conn->client = c;
  conn->origin = o;
  conn->proto = proto;
  conn->state = CONN_DELAY;
  conn->addr = o->addrs[o->rr++ % o->naddrs]; /* spread over the resolved addresses */
  if (uv_tcp_init(c->loop, &conn->tcp) != 0) {
    free(conn);
    return HOP_ENOMEM;
  }
  uv_timer_init(c->loop, &conn->timer);
  conn->tcp.data = conn->timer.data = conn;
  conn->handles_open = 2;
  c->open_handles++;
  conn->next = o->conns;
  if (o->conns) o->conns->prev = conn;
  o->conns = conn;
  ST_ADD(c, st_dials_started, 1);
  if (c->cfg.dial_delay_us) {
    uint64_t ms = (c->cfg.dial_delay_us + 999) / 1000; /* libuv timers tick in ms */
    uv_timer_start(&conn->timer, on_conn_timer, ms, 0);
  } else {
    start_connect(conn);
  }
  return HOP_OK;
}

/* ---- I/O -------------------------------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  hop_conn *conn = h->data;
  buf->base = conn->client->rbuf;
  buf->len = sizeof(conn->client->rbuf);
}

/* Whether |p| (|n| <= 9 bytes) can still be the header of the server's first SETTINGS frame
 * (not an ACK, stream 0, a length that fits one frame). Anything else (an HTTP/1.1 status
 * line, an HTML error page, ...) means the peer does not speak HTTP/2. */
static int may_be_settings(const uint8_t *p, size_t n) {
  static const uint8_t want[9] = {0, 0, 0, NGHTTP2_SETTINGS, 0, 0, 0, 0, 0};
  for (size_t i = 0; i < n; i++) {
    if (i == 1 || i == 2) continue;                   /* length: anything below 64 KiB */
    if (i == 4 ? (p[i] & NGHTTP2_FLAG_ACK) != 0 : (i == 5 ? (p[i] & 0x7f) : p[i]) != want[i])
      return 0;
  }
  return 1;
}

/* An h2c attempt met an HTTP/1.1 peer (or one that hung up before SETTINGS). */
static void h2_rejected(hop_conn *conn, int err) {
  hop_origin *o = conn->origin;
  if (o->mode == HOP_HTTP_AUTO) {
    origin_learned_h1(o);
    conn_close(conn, HOP_OK);
    origin_pump(o);
  } else {
    dial_failed(conn, err);
  }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  hop_conn *conn = s->data;
  hop_client *c = conn->client;
  if (conn->state == CONN_CLOSING) return;
  if (nread > 0) {
    const uint8_t *p = (const uint8_t *)buf->base;
    size_t n = (size_t)nread;
    conn->last_recv_ms = hop_now_ms();
    conn->bytes_in += n;
    int rv;
    if (conn->proto == HOP_PROTO_H2C) {
      if (conn->state == CONN_HANDSHAKE && conn->pre_len < sizeof(conn->pre)) {
        /* The answer to our preface must start with a SETTINGS frame: held until its
         * header is complete, then fed to the session. */
        size_t k = sizeof(conn->pre) - conn->pre_len;
        if (k > n) k = n;
        memcpy(conn->pre + conn->pre_len, p, k);
        conn->pre_len += (uint8_t)k;
        p += k;
        n -= k;
        if (!may_be_settings(conn->pre, conn->pre_len)) {
          hop_log_info("client: %s:%u does not answer HTTP/2 (no SETTINGS first)",
                       conn->origin->host, conn->origin->port);
          h2_rejected(conn, HOP_EPROTO);
          client_kick(c);
          return;
        }
        if (conn->pre_len < sizeof(conn->pre)) {
          client_kick(c);
          return;
        }
        rv = h2_on_read(conn, conn->pre, sizeof(conn->pre));
        if (rv == HOP_OK && n && conn->state != CONN_CLOSING) rv = h2_on_read(conn, p, n);
      } else {
        rv = h2_on_read(conn, p, n);
      }
    } else {
      rv = h1_on_read(conn, p, n);
    }
    if (rv != HOP_OK) conn_fail(conn, rv);
    else if (conn->close_pending) conn_fail(conn, conn->close_pending);
  } else if (nread < 0) {
    int err = nread == UV_EOF ? HOP_ECONNRESET : hop_err_from_uv((int)nread);
    if (err != HOP_ECONNRESET && nread != UV_EOF) err = HOP_ECONNRESET;
    if (conn->proto == HOP_PROTO_H2C && conn->state == CONN_HANDSHAKE) {
      h2_rejected(conn, HOP_ECONNRESET);
    } else if (conn->proto == HOP_PROTO_H1) {
      h1_on_eof(conn);
      if (conn->state != CONN_CLOSING) conn_close(conn, err);
    } else {
      conn_close(conn, conn->goaway ? HOP_EGOAWAY : err);
    }
  }
  client_kick(c);
}

static void on_write(uv_write_t *req, int status) {
  conn_wreq *w = req->data;
  hop_conn *conn = w->conn;
  conn->write_pending -= w->len;
  free(w);
  if (conn->state == CONN_CLOSING) return;
  if (status < 0) {
    conn_fail(conn, HOP_ECONNRESET);
  } else if (conn->proto == HOP_PROTO_H2C) {
    conn_mark_dirty(conn); /* more frames may wait for the queue to drain */
  }
  client_kick(conn->client);
}

int conn_write(hop_conn *conn, const void *p, size_t n) {
  const uint8_t *b = p;
  if (n == 0) return HOP_OK;
  if (conn->write_pending == 0) {
    uv_buf_t ub = uv_buf_init((char *)b, (unsigned)n);
    int r = uv_try_write((uv_stream_t *)&conn->tcp, &ub, 1);
    if (r >= 0 && (size_t)r == n) return HOP_OK;
    if (r < 0 && r != UV_EAGAIN) return HOP_ECONNRESET;
    if (r > 0) {
      b += r;
      n -= (size_t)r;
    }
  }
  conn_wreq *w = malloc(sizeof(*w) + n);
  if (!w) return HOP_ENOMEM;
  w->conn = conn;
  w->len = n;
  w->req.data = w;
  memcpy(w->data, b, n);
  uv_buf_t ub = uv_buf_init((char *)w->data, (unsigned)n);
  int rv = uv_write(&w->req, (uv_stream_t *)&conn->tcp, &ub, 1, on_write);
  if (rv) {
    free(w);
    return HOP_ECONNRESET;
  }
  conn->write_pending += n;
  return HOP_OK;
}

void conn_mark_dirty(hop_conn *conn) {
  if (conn->in_dirty || conn->state == CONN_CLOSING) return;
  hop_client *c = conn->client;
  conn->in_dirty = 1;
  conn->dirty_next = c->dirty;
  c->dirty = conn;
  client_kick(c);
}

void conn_flush(hop_conn *conn) {
  if (conn->state == CONN_CLOSING) return;
  if (conn->close_pending) {
    conn_fail(conn, conn->close_pending);
    return;
  }
  if (conn->proto != HOP_PROTO_H2C || !conn->ng) return;
  if (conn->write_pending > HOP_CONN_WRITE_HIGH_WATER) return; /* on_write re-marks us */
  int rv = h2_flush(conn);
  if (rv != HOP_OK) {
    conn_fail(conn, rv);
    return;
  }
  if (conn->close_pending) {
    conn_fail(conn, conn->close_pending);
    return;
  }
  if (conn->draining && conn->nactive == 0 && !conn->goaway && conn->state == CONN_READY) {
    /* drained by age or idle: say goodbye politely, then close once it is written */
    nghttp2_session_terminate_session(conn->ng, NGHTTP2_NO_ERROR);
    rv = h2_flush(conn);
    if (rv != HOP_OK || conn->write_pending == 0) conn_close(conn, HOP_OK);
    return;
  }
  if (!nghttp2_session_want_read(conn->ng) && !nghttp2_session_want_write(conn->ng) &&
      conn->write_pending == 0) {
    if (conn->state < CONN_READY)
      conn_fail(conn, HOP_EPROTO); /* the session ended before the peer's SETTINGS */
    else
      conn_close(conn, conn->goaway ? HOP_EGOAWAY : HOP_ECONNRESET);
  }
}

/* ---- calls on a connection --------------------------------------------------------------------- */

void conn_attach(hop_conn *conn, hop_call *call) {
  call->conn = conn;
  call->proto_used = conn->proto;
  call->state = CALL_ACTIVE;
  conn_list_push(conn, call);
  conn->nactive++;
  ST_ADD(conn->client, st_in_flight, 1);
}

void conn_detach(hop_conn *conn, hop_call *call) {
  conn_list_remove(conn, call);
  conn->nactive--;
  call->conn = NULL;
  call->state = CALL_NEW;
  ST_SUB(conn->client, st_in_flight, 1);
  if (conn->nactive == 0) {
    conn->idle_since_ms = hop_now_ms();
    if (conn->draining && conn->proto == HOP_PROTO_H2C) conn_mark_dirty(conn);
  }
  /* a stream slot opened: waiting calls may take it */
  if (conn->proto == HOP_PROTO_H2C && conn->origin->q_head) origin_schedule_pump(conn->origin);
}

size_t conn_free_slots(const hop_conn *conn) {
  if (conn->state != CONN_READY || conn->draining) return 0;
  return conn->limit > conn->nactive ? conn->limit - conn->nactive : 0;
}

void conn_close(hop_conn *conn, int err) {
  if (conn->state == CONN_CLOSING) return;
  hop_client *c = conn->client;
  hop_origin *o = conn->origin;
  /* usable, yet it died before answering anything: back off, or a peer that accepts and
   * hangs up would be redialled in a tight loop */
  if (conn->state == CONN_READY && conn->served == 0 && !conn->rejected && err != HOP_OK &&
      err != HOP_ESHUTDOWN && err != HOP_ECANCELED && !c->shutting_down)
    origin_backoff(o);
  conn->state = CONN_CLOSING;
  if (conn->prev) conn->prev->next = conn->next;
  else o->conns = conn->next;
  if (conn->next) conn->next->prev = conn->prev;
  conn->prev = conn->next = NULL;
  origin_idle_remove(o, conn);
  if (conn->connected) {
    if (proto_counted_h2(conn)) ST_SUB(c, st_open_h2, 1);
    else ST_SUB(c, st_open_h1, 1);
  }
  if (err == HOP_OK) err = HOP_ECONNRESET;
  /* calls still on it: unprocessed ones (never written, or above GOAWAY's last stream)
   * go back to the front of the queue; others fail unless replayable */
  while (conn->calls_head) {
    hop_call *call = conn->calls_head;
    int unprocessed = !call->written ||
                      (conn->goaway && call->stream_id > conn->goaway_last_id);
    int e = err;
    if (conn->goaway && !unprocessed && err == HOP_ECONNRESET) e = HOP_EGOAWAY;
    if (conn->fail_calls) call_complete(call, e);
    else call_retry_or_fail(call, unprocessed, e);
  }
  if (conn->proto == HOP_PROTO_H2C) h2_fail_calls(conn, err); /* drops nghttp2's refs */
  else hop_h1_resp_free(&conn->h1);
  uv_timer_stop(&conn->timer);
  uv_close((uv_handle_t *)&conn->timer, conn_handle_closed);
  uv_close((uv_handle_t *)&conn->tcp, conn_handle_closed);
  if (!c->shutting_down) origin_pump(o);
  client_kick(c);
}

/* ---- timers ------------------------------------------------------------------------------------- */

void conn_tick(hop_conn *conn, uint64_t now) {
  hop_client *c = conn->client;
  const hop_client_config *cfg = &c->cfg;
  if (conn->state != CONN_READY) return;
  if (conn->proto == HOP_PROTO_H2C) {
    h2_tick(conn);
    if (conn->ping_outstanding && now - conn->ping_sent_ms >= cfg->ping_timeout_ms) {
      ST_ADD(c, st_pings_timed_out, 1);
      hop_log_info("client: %s:%u did not answer PING; closing", conn->origin->host,
                   conn->origin->port);
      conn_close(conn, HOP_EPINGTIMEOUT);
      return;
    }
    if (cfg->ping_interval_ms && !conn->ping_outstanding &&
        now - conn->last_recv_ms >= cfg->ping_interval_ms) {
      h2_send_ping(conn);
      conn->ping_outstanding = 1;
      conn->ping_sent_ms = now;
    }
  }
  if (conn->age_deadline_ms && now >= conn->age_deadline_ms && !conn->draining) {
    conn->draining = 1; /* no new calls; closes when its calls are done */
    if (conn->proto == HOP_PROTO_H1 && conn->h1_idle) {
      conn_close(conn, HOP_OK);
      return;
    }
    conn_mark_dirty(conn);
    origin_pump(conn->origin);
  }
  if (cfg->idle_timeout_ms && conn->nactive == 0 && now - conn->idle_since_ms >= cfg->idle_timeout_ms) {
    if (conn->proto == HOP_PROTO_H1) {
      conn_close(conn, HOP_OK);
    } else if (!conn->draining) {
      conn->draining = 1;
      conn_mark_dirty(conn);
    }
  }
}
