/* HTTP/1.1 connections: one request at a time (answers stay in order even when the
 * client pipelines), keep-alive, `Connection: close` while draining, 4xx + close on
 * malformed or oversize input. Loop thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "hopwire/error.h"
#include "server/server_internal.h"

static void pump(hop_conn *c);

int hop_h1_conn_start(hop_conn *c) {
  hop_server *s = c->w->s;
  c->h1 = malloc(sizeof(*c->h1));
  if (!c->h1) return HOP_ENOMEM;
  hop_h1_parser_init(c->h1, s->cfg.max_header_list_size, s->cfg.max_body_size);
  return HOP_OK;
}

void hop_h1_conn_free(hop_conn *c) {
  if (!c->h1) return;
  hop_body_release(c->w->budget, c->h1_body_charged);
  c->h1_body_charged = 0;
  hop_h1_parser_free(c->h1);
  free(c->h1);
  c->h1 = NULL;
}

void hop_h1_send_error(hop_conn *c, int status) {
  if (c->closing || c->close_after_write) return;
  char *msg = malloc(160);
  if (!msg) {
    hop_conn_close(c);
    return;
  }
  int n = snprintf(msg, 160, "HTTP/1.1 %d %s\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                   status, hop_status_reason(status));
  HOP_STAT_ADD(c->w, protocol_errors, 1);
  c->close_after_write = 1;
  c->deadline_ms = 0;
  uv_buf_t b = uv_buf_init(msg, (unsigned)n);
  hop_conn_write(c, &b, 1, msg);
  hop_conn_update_reading(c);
}

static void dispatch(hop_conn *c) {
  hop_h1_parser *hp = c->h1;
  hop_h1_request *pr = &hp->req;
  hop_request *r = hop_request_new(c->w, c, HOP_PROTO_H1);
  hop_h1_field *fields = NULL;
  if (r && pr->nfields) fields = malloc(pr->nfields * sizeof(*fields));
  if (!r || (pr->nfields && !fields)) {
    free(fields);
    if (r) hop_request_free(r);
    hop_h1_send_error(c, 500);
    return;
  }
  if (pr->nfields) memcpy(fields, pr->fields, pr->nfields * sizeof(*fields));
  r->fields = fields;
  r->nfields = pr->nfields;
  /* Take the parsed strings and body as they are: no copy. */
  hop_buf_free(&r->arena);
  hop_buf_free(&r->body);
  r->arena = pr->arena;
  r->body = pr->body;
  r->body_charged = c->h1_body_charged; /* released when the request is freed */
  c->h1_body_charged = 0;
  hop_buf_init(&pr->arena, 0);
  hop_buf_init(&pr->body, 0);
  pr->arena.data = NULL;
  pr->body.data = NULL;
  r->method_off = pr->method_off;
  r->path_off = pr->url_off;
  r->keep_alive = pr->keep_alive;
  hop_h1_parser_next(hp);
  c->h1_req = r;
  c->deadline_ms = 0;
  hop_request_dispatch(r);
}

static void pump(hop_conn *c) {
  if (c->pumping) return;
  c->pumping = 1;
  hop_server *s = c->w->s;
  while (!c->closing && !c->h1_req && !c->close_after_write && c->inbuf.len) {
    hop_h1_parser *hp = c->h1;
    hop_h1_state before = hp->state;
    size_t n = hop_h1_parser_feed(hp, (const char *)c->inbuf.data, c->inbuf.len);
    hop_buf_consume(&c->inbuf, n);
    if (before == HOP_H1_IDLE && hp->state != HOP_H1_IDLE)
      c->deadline_ms = hop_now_ms() + s->cfg.header_timeout_ms;
    if (hp->head_done_cb) {
      hp->head_done_cb = 0;
      c->deadline_ms = hop_now_ms() + s->cfg.body_timeout_ms;
      if (hp->req.expect_continue && hp->state == HOP_H1_BODY) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        uv_buf_t b = uv_buf_init((char *)cont, sizeof(cont) - 1);
        hop_conn_write(c, &b, 1, NULL);
      }
    }
    if (hp->state == HOP_H1_ERROR) {
      hop_h1_send_error(c, hp->status);
      break;
    }
    if (hp->req.body.len > c->h1_body_charged) {
      size_t more = hp->req.body.len - c->h1_body_charged;
      if (hop_body_charge(c->w->budget, more) != 0) {
        /* The server holds max_body_buffer of bodies: not this client's fault (no 413), and
         * the rest of this body is not read (the connection closes). */
        HOP_STAT_ADD(c->w, body_refusals, 1);
        /* Drop what came of it now, before the answer leaves: the budget is free again by
         * the time the client sees the 503. */
        hop_buf_free(&hp->req.body);
        hop_body_release(c->w->budget, c->h1_body_charged);
        c->h1_body_charged = 0;
        hop_h1_send_error(c, 503);
        break;
      }
      c->h1_body_charged += more;
    }
    if (hp->state == HOP_H1_COMPLETE) {
      dispatch(c);
      continue;
    }
    if (n == 0) break;
  }
  c->pumping = 0;
  if (!c->closing && !c->h1_req && !c->close_after_write && c->draining && c->inbuf.len == 0 &&
      c->h1 && c->h1->state == HOP_H1_IDLE) {
    /* Draining and nothing in progress. */
    if (c->wpending) c->close_after_write = 1;
    else hop_conn_close(c);
  }
  hop_conn_update_reading(c);
}

void hop_h1_conn_input(hop_conn *c, const char *data, size_t len) {
  if (len && hop_buf_append(&c->inbuf, data, len)) {
    hop_h1_send_error(c, 431);
    return;
  }
  pump(c);
}

void hop_h1_conn_respond(hop_conn *c, hop_request *r, hop_response *resp) {
  hop_server *s = c->w->s;
  int keep = r->keep_alive && !c->draining &&
             !atomic_load_explicit(&s->draining, memory_order_relaxed);
  int head = !strcmp(r->method, "HEAD");
  c->h1_req = NULL;
  hop_request_free(r);
  if (!resp) {
    hop_h1_send_error(c, 500);
    return;
  }
  static const char ka[] = "connection: keep-alive\r\n\r\n";
  static const char cl[] = "connection: close\r\n\r\n";
  uv_buf_t bufs[3] = {
      uv_buf_init(resp->head, (unsigned)resp->head_len),
      keep ? uv_buf_init((char *)ka, sizeof(ka) - 1) : uv_buf_init((char *)cl, sizeof(cl) - 1),
      uv_buf_init((char *)resp->body, head ? 0 : (unsigned)resp->body_len),
  };
  HOP_STAT_ADD(c->w, responses, 1);
  if (!keep) c->close_after_write = 1;
  if (hop_conn_write(c, bufs, 3, resp)) return;
  c->deadline_ms = keep ? hop_now_ms() + s->cfg.idle_timeout_ms : 0;
  pump(c);
}
