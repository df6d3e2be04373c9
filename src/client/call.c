/* hopwire client calls: start (any thread), cancel, deadline, retry, completion, and the
 * blocking wrapper. */
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "client/internal.h"
#include "core/poison.h"
#include "core/clock.h"
#include "core/fmt.h"
#include "core/url.h"

#define HOP_RETRY_BACKOFF_CAP_MS 1000

/* ---- received header lists -------------------------------------------------------------- */

int hdr_list_add(hdr_list *l, const char *n, size_t nl, const char *v, size_t vl) {
  /* the record (8 + nl + vl + 2 bytes) is never bigger than what |size| counts for it, so
   * the buffer's max caps both */
  if (nl > SIZE_MAX / 4 || vl > SIZE_MAX / 4 || (uint64_t)nl > UINT32_MAX ||
      (uint64_t)vl > UINT32_MAX || l->size > l->recs.max || nl + vl + 32 > l->recs.max - l->size)
    return HOP_ETOOBIG;
  size_t need = sizeof(hdr_rec) + nl + vl + 2;
  int rv = hop_buf_room(&l->recs, need);
  if (rv != HOP_OK) return rv;
  uint8_t *p = l->recs.data + l->recs.len;
  hdr_rec r = {(uint32_t)nl, (uint32_t)vl};
  memcpy(p, &r, sizeof(r));
  p += sizeof(r);
  memcpy(p, n, nl);
  p[nl] = '\0';
  memcpy(p + nl + 1, v, vl);
  p[nl + 1 + vl] = '\0';
  l->recs.len += need;
  l->size += nl + vl + 32;
  l->n++;
  return HOP_OK;
}

void hdr_list_free(hdr_list *l) {
  hop_buf_free(&l->recs);
  l->n = l->size = 0;
}

void hdr_list_clear(hdr_list *l) {
  hop_buf_clear(&l->recs);
  l->n = l->size = 0;
}

/* Borrowed view (pointers into the buffer) in |stack| (|nstack| entries) when it fits, else
 * malloc'd; NULL when empty or on allocation failure. */
static hop_header *hdr_list_view(const hdr_list *l, hop_header *stack, size_t nstack) {
  if (l->n == 0) return NULL;
  hop_header *hs = l->n <= nstack ? stack : malloc(l->n * sizeof(*hs));
  if (!hs) return NULL;
  const char *p = (const char *)l->recs.data;
  for (size_t i = 0; i < l->n; i++) {
    hdr_rec r;
    memcpy(&r, p, sizeof(r));
    p += sizeof(r);
    hs[i] = (hop_header){p, r.name_len, p + r.name_len + 1, r.value_len};
    p += r.name_len + r.value_len + 2;
  }
  return hs;
}

static size_t headers_size(const hop_header *hs, size_t n) {
  size_t bytes = n * sizeof(hop_header);
  for (size_t i = 0; i < n; i++) bytes += hs[i].name_len + hs[i].value_len + 2;
  return bytes;
}

/* Lower-cases the ASCII letters of 8 bytes at once (bytes >= 0x80 are kept as they are):
 * bit 7 of a byte is set when it is < 0x80, >= 'A' (+0x3f carries) and <= 'Z' (+0x25 not). */
static inline uint64_t lower8(uint64_t x) {
  uint64_t h = x & 0x7f7f7f7f7f7f7f7full;
  uint64_t up = ~x & (h + 0x3f3f3f3f3f3f3f3full) & ~(h + 0x2525252525252525ull) &
                0x8080808080808080ull;
  return x | up >> 2;
}

/* ASCII lower-case copy of |n| bytes, 8 at a time. */
static void lower_copy(char *dst, const char *src, size_t n) {
  uint64_t x;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    memcpy(&x, src + i, 8);
    x = lower8(x);
    memcpy(dst + i, &x, 8);
  }
  if (i < n && n >= 8) { /* the tail as the last 8 bytes again: lower-casing is idempotent */
    memcpy(&x, src + n - 8, 8);
    x = lower8(x);
    memcpy(dst + n - 8, &x, 8);
    return;
  }
  for (; i < n; i++) {
    char ch = src[i];
    dst[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
  }
}

/* Copies |n| headers into |out|, which holds headers_size() bytes: the array, then the
 * strings. */
static void headers_fill(hop_header *out, const hop_header *hs, size_t n, int lower) {
  char *p = (char *)(out + n);
  for (size_t i = 0; i < n; i++) {
    out[i].name = p;
    out[i].name_len = hs[i].name_len;
    if (lower) lower_copy(p, hs[i].name, hs[i].name_len);
    else memcpy(p, hs[i].name, hs[i].name_len);
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
  hop_target_free(call->target);
  free(call);
}

static void keep_buf(hop_buf *b) {
  if (b->cap > HOP_CALL_KEEP_BUF) hop_buf_free(b);
}

/* Loop thread, the client alive: a block of the cache's size goes back to it, with its
 * response buffers (the small ones), so the next call allocates nothing. */
static void call_recycle(hop_call *call) {
  hop_client *c = call->client;
  if (!call->cached || c->call_cache_len >= HOP_CALL_CACHE_MAX) {
    call_free(call);
    return;
  }
  hop_target_free(call->target);
  call->target = NULL;
  keep_buf(&call->headers_in.recs);
  keep_buf(&call->trailers_in.recs);
  keep_buf(&call->resp_body);
  call->done_next = c->call_cache;
  c->call_cache = call;
  c->call_cache_len++;
  HOP_POISON((char *)call + sizeof(*call), HOP_CALL_BLOCK - sizeof(*call));
}

void call_cache_free(hop_client *c) {
  while (c->call_cache) {
    hop_call *call = c->call_cache;
    c->call_cache = call->done_next;
    HOP_UNPOISON((char *)call + sizeof(*call), HOP_CALL_BLOCK - sizeof(*call));
    call_free(call);
  }
  c->call_cache_len = 0;
}

/* A block for a call of |total| bytes: on the loop thread from the cache (or a new block of
 * the cache's size), else malloc'd to size. The response buffers of a reused block keep
 * their memory; everything else is zero. */
static hop_call *call_alloc(hop_client *c, size_t total, int on_loop) {
  hop_call *call;
  if (total > HOP_CALL_BLOCK || !on_loop) { /* other threads: the exact size, never cached */
    call = malloc(total);
    if (call) memset(call, 0, sizeof(*call));
    return call;
  }
  if (c->call_cache) {
    call = c->call_cache;
    c->call_cache = call->done_next;
    c->call_cache_len--;
    HOP_UNPOISON((char *)call + sizeof(*call), HOP_CALL_BLOCK - sizeof(*call));
    /* the request part hop_call_start sets whole; the loop-thread state from zero */
    memset(&call->state, 0, offsetof(hop_call, timer) - offsetof(hop_call, state));
    /* buf_ready empties the buffers */
    call->headers_in.n = call->trailers_in.n = call->headers_in.size = call->trailers_in.size = 0;
  } else {
    call = malloc(HOP_CALL_BLOCK);
    if (!call) return NULL;
    memset(call, 0, sizeof(*call));
  }
  call->cached = 1;
  return call;
}

/* Sets the cap and empties a buffer that may hold a reused allocation. */
static void buf_ready(hop_buf *b, size_t max) {
  b->len = 0;
  b->max = max;
}

void call_unref(hop_call *call) {
  if (atomic_fetch_sub(&call->refs, 1) == 1) call_recycle(call);
}

/* Any thread: no cache (the client may be gone already). */
static void call_unref_any(hop_call *call) {
  if (atomic_fetch_sub(&call->refs, 1) == 1) call_free(call);
}

void hop_call_release(hop_call *call) {
  if (call) call_unref_any(call);
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

/* ---- deadlines: one FIFO list per timeout value, one timer for the client ---------------- */

static void on_dl_timer(uv_timer_t *t);

static void dl_arm(hop_client *c, uint64_t at) {
  uint64_t now = hop_now_ms();
  c->dl_armed_ms = at;
  uv_timer_start(&c->dl_timer, on_dl_timer, at > now ? at - now : 0, 0);
}

/* 0 when the call is in a list; -1 when every list holds other timeouts (the call then
 * uses its own timer). */
static int dl_insert(hop_client *c, hop_call *call) {
  deadline_list *l = NULL, *spare = NULL;
  for (int i = 0; i < HOP_DEADLINE_CLASSES; i++) {
    if (c->dl[i].timeout_ms == call->timeout_ms) {
      l = &c->dl[i];
      break;
    }
    if (!spare && !c->dl[i].head) spare = &c->dl[i];
  }
  if (!l) {
    if (!spare) return -1;
    l = spare;
    l->timeout_ms = call->timeout_ms;
  }
  /* starts posted from several threads arrive nearly in order: walk back from the tail */
  hop_call *after = l->tail;
  while (after && after->deadline_ms > call->deadline_ms) after = after->dl_prev;
  call->dl_prev = after;
  call->dl_next = after ? after->dl_next : l->head;
  if (call->dl_next) call->dl_next->dl_prev = call;
  else l->tail = call;
  if (after) after->dl_next = call;
  else l->head = call;
  call->dl_class = (int)(l - c->dl);
  /* a timer that fires early (its call completed) just re-arms: no stop per completion */
  if (!c->dl_armed_ms || call->deadline_ms < c->dl_armed_ms) dl_arm(c, call->deadline_ms);
  return 0;
}

static void dl_remove(hop_client *c, hop_call *call) {
  deadline_list *l = &c->dl[call->dl_class];
  if (call->dl_prev) call->dl_prev->dl_next = call->dl_next;
  else l->head = call->dl_next;
  if (call->dl_next) call->dl_next->dl_prev = call->dl_prev;
  else l->tail = call->dl_prev;
  call->dl_prev = call->dl_next = NULL;
  call->dl_class = -1;
}

static void on_dl_timer(uv_timer_t *t) {
  hop_client *c = t->data;
  uint64_t now = hop_now_ms(), next = 0;
  c->dl_armed_ms = 0;
  for (int i = 0; i < HOP_DEADLINE_CLASSES; i++) {
    deadline_list *l = &c->dl[i];
    while (l->head && l->head->deadline_ms <= now) {
      hop_call *call = l->head;
      call_on_cancel(call, HOP_ETIMEDOUT);
      if (l->head == call) dl_remove(c, call); /* never left behind */
    }
    if (l->head && (!next || l->head->deadline_ms < next)) next = l->head->deadline_ms;
  }
  if (next && !c->shutting_down) dl_arm(c, next);
  client_kick(c);
}

int deadline_init(hop_client *c) {
  for (int i = 0; i < HOP_DEADLINE_CLASSES; i++) c->dl[i] = (deadline_list){0};
  if (uv_timer_init(c->loop, &c->dl_timer) != 0) return HOP_ENOMEM;
  c->dl_timer.data = c;
  return HOP_OK;
}

void deadline_close(hop_client *c) {
  uv_timer_stop(&c->dl_timer);
  c->dl_armed_ms = 0;
  uv_close((uv_handle_t *)&c->dl_timer, client_handle_closed);
}

/* ---- per-call timer -------------------------------------------------------------------- */

static void on_call_timer(uv_timer_t *t);

/* (Re)arms the timer for the earliest of the deadline (unless a client list keeps it) and a
 * pending retry. */
int call_arm_timer(hop_call *call) {
  uint64_t now = hop_now_ms();
  uint64_t at = UINT64_MAX;
  if (call->timeout_ms && call->dl_class < 0) at = call->deadline_ms;
  if (call->state == CALL_RETRY_WAIT && call->retry_at_ms < at) at = call->retry_at_ms;
  if (at == UINT64_MAX) return HOP_OK;
  if (!call->timer_inited) {
    if (uv_timer_init(call->client->loop, &call->timer) != 0) return HOP_ENOMEM;
    call->client->open_handles++; /* the client outlives the close: its cache takes the call */
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
  if (call->timeout_ms && now >= call->deadline_ms) {
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
  if (call->dl_class >= 0) dl_remove(c, call);
  if (call->timer_inited) uv_timer_stop(&call->timer);
  call->done_next = NULL;
  if (c->done_tail) c->done_tail->done_next = call;
  else c->done_head = call;
  c->done_tail = call;
  client_kick(c);
}

static void on_timer_closed(uv_handle_t *h) {
  hop_call *call = h->data;
  hop_client *c = call->client;
  call_unref(call);
  client_handle_done(c); /* last: it may free the client */
}

void call_run_completion(hop_call *call) {
  hop_client *c = call->client;
  int err = call->result_err;
  if (err == HOP_OK) {
    hop_response r = {0};
    r.status = call->status;
    r.proto = call->proto_used == HOP_PROTO_H1 ? HOP_PROTO_H1 : HOP_PROTO_H2C;
    hop_header hstack[16], tstack[8];
    hop_header *hs = hdr_list_view(&call->headers_in, hstack, 16);
    hop_header *ts = hdr_list_view(&call->trailers_in, tstack, 8);
    if ((call->headers_in.n && !hs) || (call->trailers_in.n && !ts)) {
      err = HOP_ENOMEM;
    } else {
      r.headers = hs;
      r.nheaders = call->headers_in.n;
      r.trailers = ts;
      r.ntrailers = call->trailers_in.n;
      r.body = call->resp_body.data;
      r.body_len = call->resp_body.len;
      uint64_t now = c->drain_now_valid ? c->drain_now_us : hop_now_us();
      /* a start from another thread may read the clock after the loop's batch began */
      uint64_t lat = now > call->start_us ? now - call->start_us : 0;
      hist_lock(c);
      hop_hist_record(c->hist, lat);
      hist_unlock(c);
      ST_ADD(c, st_ok, 1);
      call->cb(call, HOP_OK, &r, call->user_data);
    }
    if (hs != hstack) free(hs);
    if (ts != tstack) free(ts);
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

/* Origins live as long as the client; a target is immutable while referenced. */
static hop_origin *call_origin(hop_client *c, hop_call *call) {
  hop_target *t = call->target;
  if (t && t == c->last_target && call->http == c->last_http) return c->last_origin;
  hop_origin *o = origin_get(c, call->host, call->port, call->http);
  if (o && t) {
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    hop_target_free(c->last_target);
    c->last_target = t;
    c->last_http = call->http;
    c->last_origin = o;
  }
  return o;
}

void call_on_start(hop_call *call, int fresh) {
  hop_client *c = call->client;
  hop_origin *o = call_origin(c, call);
  if (!o) {
    call_complete(call, HOP_ENOMEM);
    return;
  }
  call->origin = o;
  if (call->timeout_ms) {
    /* posted from another thread: the mailbox may have held it past its deadline */
    if (!fresh && hop_now_ms() >= call->deadline_ms) {
      call_complete(call, HOP_ETIMEDOUT);
      return;
    }
    if (dl_insert(c, call) != 0 && call_arm_timer(call) != HOP_OK) {
      call_complete(call, HOP_ENOMEM);
      return;
    }
  }
  /* nothing waiting and a ready h2c connection with a free stream: submit there, as the
   * queue and origin_pump would (the first such connection), without the round trip */
  if (!o->q_head && !c->shutting_down && origin_effective_h2(o)) {
    for (hop_conn *k = o->conns; k; k = k->next) {
      if (k->proto != HOP_PROTO_H2C || k->state != CONN_READY || k->draining ||
          k->close_pending || k->nactive >= k->limit)
        continue;
      int rv = h2_submit(k, call);
      if (rv != HOP_OK) call_complete(call, rv);
      return;
    }
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

/* Copies |n| bytes of |s| and a NUL to *p and advances *p. */
static char *put_str(char **p, const char *s, size_t n) {
  char *out = memcpy(*p, s, n);
  out[n] = '\0';
  *p += n + 1;
  return out;
}

static int method_bodyful(const char *m, size_t n) {
  return (n == 4 && memcmp(m, "POST", 4) == 0) || (n == 3 && memcmp(m, "PUT", 3) == 0) ||
         (n == 5 && memcmp(m, "PATCH", 5) == 0);
}

int hop_call_start(hop_client *c, const hop_call_opts *opts, hop_call_cb cb, void *user_data,
                   hop_call **out) {
  if (out) *out = NULL;
  if (!c || !opts || !cb) return HOP_EINVAL;
  if (!opts->url == !opts->target) return HOP_EINVAL; /* exactly one of them */
  if (opts->nheaders && !opts->headers) return HOP_EINVAL;
  if (opts->body_len && !opts->body) return HOP_EINVAL;
  if (opts->body_len > SIZE_MAX / 4) return HOP_ENOMEM;
  const char *method = opts->method ? opts->method : "POST";
  size_t mlen = 0;
  for (const char *m = method; *m; m++, mlen++) /* ASCII letters only (no locale call) */
    if ((unsigned)((*m | 0x20) - 'a') >= 26) return HOP_EINVAL;
  hop_url u; /* ~8.5 KiB on the caller's stack: a heap copy per call cost more than the rest */
  size_t hl = 0, al = 0, pl = 0;
  if (!opts->target) {
    int rv = hop_url_parse(opts->url, &u);
    if (rv) return rv;
    hl = strlen(u.host);
    al = strlen(u.authority);
    pl = strlen(u.path);
  }
  /* one block per call: the call, then its headers, body and strings (one malloc, not 8;
   * none when a finished call's block is reused on the loop thread) */
  size_t hbytes = opts->nheaders ? headers_size(opts->headers, opts->nheaders) : 0;
  size_t off_h = (sizeof(hop_call) + 15) & ~(size_t)15;
  size_t off_b = off_h + ((hbytes + 15) & ~(size_t)15);
  size_t off_s = off_b + opts->body_len;
  size_t total = off_s + mlen + hl + al + pl + 4;
  int on_loop = client_on_loop_thread(c);
  hop_call *call = call_alloc(c, total, on_loop);
  if (!call) return HOP_ENOMEM;
  char *blk = (char *)call;
  call->client = c;
  char *sp = blk + off_s;
  call->method = put_str(&sp, method, mlen);
  call->method_len = mlen;
  if (opts->target) {
    hop_target *t = (hop_target *)opts->target;
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    call->target = t;
    call->host = t->host;
    call->authority = t->authority;
    call->authority_len = t->authority_len;
    call->path = t->path;
    call->path_len = t->path_len;
    call->port = t->port;
  } else {
    call->target = NULL;
    call->host = put_str(&sp, u.host, hl);
    call->authority = put_str(&sp, u.authority, al);
    call->authority_len = al;
    call->path = put_str(&sp, u.path, pl);
    call->path_len = pl;
    call->port = u.port;
  }
  call->nheaders = opts->nheaders;
  call->headers = NULL;
  if (opts->nheaders) {
    call->headers = (hop_header *)(blk + off_h);
    headers_fill(call->headers, opts->headers, opts->nheaders, 1);
  }
  call->body = NULL;
  if (opts->body_len) {
    call->body = (uint8_t *)(blk + off_b);
    memcpy(call->body, opts->body, opts->body_len);
  }
  call->body_len = opts->body_len;
  call->bodyful = opts->body_len > 0 || method_bodyful(method, mlen);
  call->clen_len = (uint8_t)hop_fmt_u64(call->clen, opts->body_len);
  call->http = opts->http != HOP_HTTP_AUTO ? opts->http : c->cfg.http;
  call->replayable = opts->replayable;
  call->timeout_ms = opts->timeout_ms;
  call->cb = cb;
  call->user_data = user_data;
  call->start_us = hop_now_us();
  call->deadline_ms = call->timeout_ms > UINT64_MAX / 2 ? UINT64_MAX / 2
                                                        : call->start_us / 1000 + call->timeout_ms;
  call->dl_class = -1;
  atomic_init(&call->attempts, 1);
  atomic_init(&call->done, 0);
  atomic_init(&call->cancel_posted, 0);
  atomic_init(&call->refs, out ? 2 : 1);
  size_t hcap = c->cfg.max_response_headers + 64;
  buf_ready(&call->headers_in.recs, hcap);
  buf_ready(&call->trailers_in.recs, hcap);
  buf_ready(&call->resp_body, c->cfg.max_response_size);
  call->msg_start.node.next = call->msg_cancel.node.next = NULL;
  call->msg_start.kind = MSG_START;
  call->msg_start.call = call;
  call->msg_cancel.kind = MSG_CANCEL;
  call->msg_cancel.call = call;
  if (on_loop) {
    if (c->shutting_down) {
      call_free(call);
      return HOP_ESHUTDOWN;
    }
    ST_ADD(c, st_started, 1);
    if (out) *out = call;
    call_on_start(call, 1);
    client_kick(c);
    return HOP_OK;
  }
  ST_ADD(c, st_started, 1);
  if (out) *out = call; /* before posting: the loop may finish the call at once */
  int rv = hop_mailbox_post(&c->mb, &call->msg_start);
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
  call_unref_any(call);
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
