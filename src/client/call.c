/* hopwire client calls: start (any thread), cancel, deadline, retry, completion, and the
 * blocking wrapper. */
#include <ctype.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "client/internal.h"
#include "core/clock.h"
#include "core/url.h"

#define HOP_RETRY_BACKOFF_CAP_MS 1000

/* ---- received header lists -------------------------------------------------------------- */

int hdr_list_add(hdr_list *l, const char *n, size_t nl, const char *v, size_t vl) {
  hdr_off o = {l->strings.len, nl, l->strings.len + nl + 1, vl};
  size_t before = l->strings.len;
  /* 32 bytes of overhead per field, as HTTP/2 counts header list size */
  if (hop_buf_reserve(&l->strings, nl + vl + 2 + 32) != 0) return HOP_ETOOBIG;
  if (hop_buf_append(&l->strings, n, nl) || hop_buf_append(&l->strings, "", 1) ||
      hop_buf_append(&l->strings, v, vl) || hop_buf_append(&l->strings, "", 1)) {
    l->strings.len = before;
    return HOP_ETOOBIG;
  }
  if (hop_buf_append(&l->offs, &o, sizeof(o)) != 0) {
    l->strings.len = before;
    return HOP_ENOMEM;
  }
  l->n++;
  return HOP_OK;
}

void hdr_list_free(hdr_list *l) {
  hop_buf_free(&l->strings);
  hop_buf_free(&l->offs);
  l->n = 0;
}

void hdr_list_clear(hdr_list *l) {
  hop_buf_clear(&l->strings);
  hop_buf_clear(&l->offs);
  l->n = 0;
}

/* Borrowed view (pointers into the arena); NULL when empty or on allocation failure. */
static hop_header *hdr_list_view(const hdr_list *l) {
  if (l->n == 0) return NULL;
  hop_header *hs = malloc(l->n * sizeof(*hs));
  if (!hs) return NULL;
  const hdr_off *o = (const hdr_off *)l->offs.data;
  const char *s = (const char *)l->strings.data;
  for (size_t i = 0; i < l->n; i++)
    hs[i] = (hop_header){s + o[i].name, o[i].name_len, s + o[i].value, o[i].value_len};
  return hs;
}

static size_t headers_size(const hop_header *hs, size_t n) {
  size_t bytes = n * sizeof(hop_header);
  for (size_t i = 0; i < n; i++) bytes += hs[i].name_len + hs[i].value_len + 2;
  return bytes;
}

/* Copies |n| headers into |out|, which holds headers_size() bytes: the array, then the
 * strings. */
static void headers_fill(hop_header *out, const hop_header *hs, size_t n, int lower) {
  char *p = (char *)(out + n);
  for (size_t i = 0; i < n; i++) {
    out[i].name = p;
    out[i].name_len = hs[i].name_len;
    for (size_t k = 0; k < hs[i].name_len; k++)
      p[k] = lower ? (char)tolower((unsigned char)hs[i].name[k]) : hs[i].name[k];
    p += hs[i].name_len;
    *p++ = '\0';
    out[i].value = p;
    out[i].value_len = hs[i].value_len;
    memcpy(p, hs[i].value, hs[i].value_len);
    p += hs[i].value_len;
    *p++ = '\0';
  }
}

/* Owned copy: one allocation holding the array and the strings. */
static hop_header *headers_copy(const hop_header *hs, size_t n, int lower) {
  if (n == 0) return NULL;
  hop_header *out = malloc(headers_size(hs, n));
  if (out) headers_fill(out, hs, n, lower);
  return out;
}

/* ---- refs --------------------------------------------------------------------------------- */

static void call_free(hop_call *call) {
  /* the request (strings, headers, body) lives in the call's own block */
  hdr_list_free(&call->headers_in);
  hdr_list_free(&call->trailers_in);
  hop_buf_free(&call->resp_body);
  free(call);
}

void call_unref(hop_call *call) {
  if (atomic_fetch_sub(&call->refs, 1) == 1) call_free(call);
}

void hop_call_release(hop_call *call) {
  if (call) call_unref(call);
}

unsigned hop_call_attempts(const hop_call *call) {
  return atomic_load(&((hop_call *)call)->attempts);
}

/* ---- loop side ---------------------------------------------------------------------------- */

void call_reset_response(hop_call *call) {
  call->status = 0;
  call->in_trailers = 0;
  call->end_stream = 0;
  call->fail_err = 0;
  call->written = 0;
  call->body_off = 0;
  call->stream_id = 0;
  hdr_list_clear(&call->headers_in);
  hdr_list_clear(&call->trailers_in);
  hop_buf_clear(&call->resp_body);
}

static void on_call_timer(uv_timer_t *t);

/* (Re)arms the timer for the earliest of the deadline and a pending retry. */
int call_arm_timer(hop_call *call) {
  uint64_t now = hop_now_ms();
  uint64_t at = UINT64_MAX;
  if (call->timeout_ms) at = call->start_us / 1000 + call->timeout_ms;
  if (call->state == CALL_RETRY_WAIT && call->retry_at_ms < at) at = call->retry_at_ms;
  if (at == UINT64_MAX) return HOP_OK;
  if (!call->timer_inited) {
    if (uv_timer_init(call->client->loop, &call->timer) != 0) return HOP_ENOMEM;
    call->timer.data = call;
    call->timer_inited = 1;
  }
  uv_timer_start(&call->timer, on_call_timer, at > now ? at - now : 0, 0);
  return HOP_OK;
}

static void on_call_timer(uv_timer_t *t) {
  hop_call *call = t->data;
  hop_client *c = call->client;
  uint64_t now = hop_now_ms();
  if (call->state == CALL_DONE) return;
  if (call->timeout_ms && now >= call->start_us / 1000 + call->timeout_ms) {
    call_on_cancel(call, HOP_ETIMEDOUT);
  } else if (call->state == CALL_RETRY_WAIT && now >= call->retry_at_ms) {
    ST_SUB(c, st_queued, 1);
    origin_retry_wait_remove(call->origin, call);
    call->state = CALL_NEW;
    origin_enqueue(call->origin, call, 1);
    call_arm_timer(call);
    origin_pump(call->origin);
  } else {
    call_arm_timer(call);
  }
  client_kick(c);
}

void call_complete(hop_call *call, int err) {
  hop_client *c = call->client;
  if (call->state == CALL_DONE) return;
  if (call->state == CALL_QUEUED) origin_dequeue(call->origin, call);
  else if (call->state == CALL_ACTIVE) {
    /* an answer, not a connect or SETTINGS, proves the origin works: backoff resets here,
     * or a peer that accepts and then refuses (GOAWAY) would be redialled at the base rate */
    if (err == HOP_OK && call->conn->served++ == 0) origin_dial_ok(call->origin);
    conn_detach(call->conn, call);
  } else if (call->state == CALL_RETRY_WAIT) {
    ST_SUB(c, st_queued, 1);
    origin_retry_wait_remove(call->origin, call);
  }
  call->state = CALL_DONE;
  call->result_err = err;
  atomic_store(&call->done, 1);
  if (call->timer_inited) uv_timer_stop(&call->timer);
  call->done_next = NULL;
  if (c->done_tail) c->done_tail->done_next = call;
  else c->done_head = call;
  c->done_tail = call;
  client_kick(c);
}

static void on_timer_closed(uv_handle_t *h) { call_unref(h->data); }

void call_run_completion(hop_call *call) {
  hop_client *c = call->client;
  int err = call->result_err;
  if (err == HOP_OK) {
    hop_response r = {0};
    r.status = call->status;
    r.proto = call->proto_used == HOP_PROTO_H1 ? HOP_PROTO_H1 : HOP_PROTO_H2C;
    hop_header *hs = hdr_list_view(&call->headers_in);
    hop_header *ts = hdr_list_view(&call->trailers_in);
    if ((call->headers_in.n && !hs) || (call->trailers_in.n && !ts)) {
      err = HOP_ENOMEM;
    } else {
      r.headers = hs;
      r.nheaders = call->headers_in.n;
      r.trailers = ts;
      r.ntrailers = call->trailers_in.n;
      r.body = call->resp_body.data;
      r.body_len = call->resp_body.len;
      uint64_t lat = hop_now_us() - call->start_us;
      pthread_mutex_lock(&c->hist_mu);
      hop_hist_record(c->hist, lat);
      pthread_mutex_unlock(&c->hist_mu);
      ST_ADD(c, st_ok, 1);
      call->cb(call, HOP_OK, &r, call->user_data);
    }
    free(hs);
    free(ts);
  }
  if (err != HOP_OK) {
    ST_ADD(c, st_failed, 1);
    call->cb(call, err, NULL, call->user_data);
  }
  if (call->timer_inited) uv_close((uv_handle_t *)&call->timer, on_timer_closed);
  else call_unref(call);
}

void call_retry_or_fail(hop_call *call, int unprocessed, int err) {
  hop_client *c = call->client;
  if (call->state == CALL_DONE) return;
  if (call->state == CALL_ACTIVE) conn_detach(call->conn, call);
  if (c->shutting_down) {
    call_complete(call, HOP_ESHUTDOWN);
    return;
  }
  if (!unprocessed && !call->replayable) {
    call_complete(call, err);
    return;
  }
  unsigned attempts = atomic_load(&call->attempts);
  if (attempts > c->cfg.max_retries) {
    call_complete(call, err);
    return;
  }
  atomic_store(&call->attempts, attempts + 1);
  ST_ADD(c, st_retries, 1);
  call_reset_response(call);
  /* first retry at once (another connection takes it); later ones back off with jitter */
  uint64_t delay = attempts <= 1 ? 0
                                 : hop_backoff_ms(c->cfg.retry_backoff_ms ? c->cfg.retry_backoff_ms : 10,
                                                  HOP_RETRY_BACKOFF_CAP_MS, attempts - 1);
  if (delay == 0) {
    call->state = CALL_NEW;
    origin_enqueue(call->origin, call, 1);
    origin_schedule_pump(call->origin); /* not from inside the failing connection's callback */
    return;
  }
  call->state = CALL_RETRY_WAIT;
  call->retry_at_ms = hop_now_ms() + delay;
  ST_ADD(c, st_queued, 1);
  origin_retry_wait_add(call->origin, call);
  if (call_arm_timer(call) != HOP_OK) call_complete(call, HOP_ENOMEM);
}

void call_on_start(hop_call *call) {
  hop_client *c = call->client;
  hop_origin *o = origin_get(c, call->host, call->port, call->http);
  if (!o) {
    call_complete(call, HOP_ENOMEM);
    return;
  }
  call->origin = o;
  if (call->timeout_ms && call_arm_timer(call) != HOP_OK) {
    call_complete(call, HOP_ENOMEM);
    return;
  }
  if (call->timeout_ms && hop_now_us() >= call->start_us + call->timeout_ms * 1000) {
    call_complete(call, HOP_ETIMEDOUT);
    return;
  }
  origin_enqueue(o, call, 0);
  origin_pump(o);
}

void call_on_cancel(hop_call *call, int err) {
  switch (call->state) {
  case CALL_DONE:
    return;
  case CALL_ACTIVE: {
    hop_conn *conn = call->conn;
    if (conn->proto == HOP_PROTO_H2C) {
      h2_cancel(conn, call);
      call_complete(call, err);
    } else {
      /* HTTP/1.1 cannot abandon a request in flight: the connection goes with it */
      call_complete(call, err);
      conn_close(conn, HOP_ECANCELED);
    }
    return;
  }
  default:
    call_complete(call, err);
    return;
  }
}

/* ---- public API ---------------------------------------------------------------------------- */

/* Copies |s| (with its NUL) to *p and advances *p. */
static char *put_str(char **p, const char *s) {
  size_t n = strlen(s) + 1;
  char *out = memcpy(*p, s, n);
  *p += n;
  return out;
}

int hop_call_start(hop_client *c, const hop_call_opts *opts, hop_call_cb cb, void *user_data,
                   hop_call **out) {
  if (out) *out = NULL;
  if (!c || !opts || !opts->url || !cb) return HOP_EINVAL;
  if (opts->nheaders && !opts->headers) return HOP_EINVAL;
  if (opts->body_len && !opts->body) return HOP_EINVAL;
  if (opts->body_len > SIZE_MAX / 4) return HOP_ENOMEM;
  hop_url u; /* ~8.5 KiB on the caller's stack: a heap copy per call cost more than the rest */
  int rv = hop_url_parse(opts->url, &u);
  if (rv) return rv;
  const char *method = opts->method ? opts->method : "POST";
  for (const char *m = method; *m; m++)
    if (!isalpha((unsigned char)*m)) return HOP_EINVAL;
  /* one block per call: the call, then its headers, body and strings (one malloc, not 8) */
  size_t hbytes = opts->nheaders ? headers_size(opts->headers, opts->nheaders) : 0;
  size_t off_h = (sizeof(hop_call) + 15) & ~(size_t)15;
  size_t off_b = off_h + ((hbytes + 15) & ~(size_t)15);
  size_t off_s = off_b + opts->body_len;
  size_t total = off_s + strlen(method) + strlen(u.host) + strlen(u.authority) + strlen(u.path) + 4;
  hop_call *call = malloc(total);
  if (!call) return HOP_ENOMEM;
  memset(call, 0, sizeof(*call));
  char *blk = (char *)call;
  call->client = c;
  char *sp = blk + off_s;
  call->method = put_str(&sp, method);
  call->host = put_str(&sp, u.host);
  call->authority = put_str(&sp, u.authority);
  call->path = put_str(&sp, u.path);
  call->port = u.port;
  call->nheaders = opts->nheaders;
  if (opts->nheaders) {
    call->headers = (hop_header *)(blk + off_h);
    headers_fill(call->headers, opts->headers, opts->nheaders, 1);
  }
  if (opts->body_len) {
    call->body = (uint8_t *)(blk + off_b);
    memcpy(call->body, opts->body, opts->body_len);
  }
  call->body_len = opts->body_len;
  call->http = opts->http != HOP_HTTP_AUTO ? opts->http : c->cfg.http;
  call->replayable = opts->replayable;
  call->timeout_ms = opts->timeout_ms;
  call->cb = cb;
  call->user_data = user_data;
  call->start_us = hop_now_us();
  atomic_init(&call->attempts, 1);
  atomic_init(&call->done, 0);
  atomic_init(&call->refs, out ? 2 : 1);
  size_t hcap = c->cfg.max_response_headers + 64;
  hop_buf_init(&call->headers_in.strings, hcap);
  hop_buf_init(&call->headers_in.offs, hcap * 2);
  hop_buf_init(&call->trailers_in.strings, hcap);
  hop_buf_init(&call->trailers_in.offs, hcap * 2);
  hop_buf_init(&call->resp_body, c->cfg.max_response_size);
  call->msg_start.kind = MSG_START;
  call->msg_start.call = call;
  call->msg_cancel.kind = MSG_CANCEL;
  call->msg_cancel.call = call;
  if (client_on_loop_thread(c)) {
    if (c->shutting_down) {
      call_free(call);
      return HOP_ESHUTDOWN;
    }
    ST_ADD(c, st_started, 1);
    if (out) *out = call;
    call_on_start(call);
    client_kick(c);
    return HOP_OK;
  }
  ST_ADD(c, st_started, 1);
  if (out) *out = call; /* before posting: the loop may finish the call at once */
  rv = hop_mailbox_post(&c->mb, &call->msg_start);
  if (rv) {
    ST_SUB(c, st_started, 1);
    if (out) *out = NULL;
    call_free(call);
    return rv;
  }
  return HOP_OK;
}

void hop_call_cancel(hop_call *call) {
  if (!call || atomic_load(&call->done)) return;
  hop_client *c = call->client;
  if (client_on_loop_thread(c)) {
    if (!c->shutting_down) call_on_cancel(call, HOP_ECANCELED);
    client_kick(c);
    return;
  }
  /* one cancel message per call: it is embedded in the call */
  int expected = 0;
  if (!atomic_compare_exchange_strong(&call->cancel_posted, &expected, 1)) return;
  atomic_fetch_add(&call->refs, 1);
  for (int i = 0; i < 2000; i++) { /* the mailbox is bounded: wait for room, briefly */
    int rv = hop_mailbox_post(&c->mb, &call->msg_cancel);
    if (rv == HOP_OK) return;
    if (rv != HOP_EQUEUEFULL) break;
    usleep(500);
  }
  call_unref(call);
}

/* ---- blocking ------------------------------------------------------------------------------ */

/* A blocking caller sleeps on a futex word (client/waker.h); the loop thread hands the wake
 * to the client's waker thread in one batch per loop iteration. */
typedef struct waiter {
  hop_wait wait;
  hop_result *res;
} waiter;

static void do_cb(hop_call *call, int err, const hop_response *r, void *ud) {
  waiter *w = ud;
  hop_result *res = w->res;
  res->err = err;
  if (err == HOP_OK) {
    res->status = r->status;
    res->proto = r->proto;
    res->headers = headers_copy(r->headers, r->nheaders, 0);
    res->trailers = headers_copy(r->trailers, r->ntrailers, 0);
    res->nheaders = res->headers ? r->nheaders : 0;
    res->ntrailers = res->trailers ? r->ntrailers : 0;
    if ((r->nheaders && !res->headers) || (r->ntrailers && !res->trailers)) res->err = HOP_ENOMEM;
    /* the body moves: this callback is ours and the call is done with it */
    res->body = hop_buf_steal(&call->resp_body, &res->body_len);
  }
  hop_waker_add(&call->client->waker, &w->wait);
}

int hop_client_do(hop_client *c, const hop_call_opts *opts, hop_result *result) {
  if (!result) return HOP_EINVAL;
  memset(result, 0, sizeof(*result));
  if (!c) return result->err = HOP_EINVAL;
  if (client_on_loop_thread(c)) return result->err = HOP_ESTATE;
  waiter w = {.res = result};
  hop_wait_init(&w.wait);
  (void)hop_waker_start(&c->waker); /* failing that, the loop thread wakes callers itself */
  int rv = hop_call_start(c, opts, do_cb, &w, NULL);
  if (rv == HOP_OK) hop_wait_block(&w.wait);
  else result->err = rv;
  return result->err;
}

void hop_result_free(hop_result *r) {
  if (!r) return;
  free(r->headers);
  free(r->trailers);
  free(r->body);
  memset(r, 0, sizeof(*r));
}
