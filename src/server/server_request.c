/* hop_request: accessors, routing and the thread-safe respond path. */
#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/clock.h"
#include "core/fmt.h"
#include "core/log.h"
#include "hopwire/error.h"
#include "server/server_internal.h"

hop_request *hop_request_new(hop_worker *w, hop_conn *c, hop_proto proto) {
  hop_request *r = hop_pool_alloc(&w->pool, sizeof(*r)); /* loop thread */
  if (!r) return NULL;
  memset(r, 0, offsetof(hop_request, inline_mem)); /* the inline arena needs no clearing */
  r->w = w;
  r->conn = c;
  r->proto = proto;
  atomic_init(&r->canceled, 0);
  atomic_init(&r->answered, 0);
  /* Headers (twice the list cap: pointers, NULs, doubling), a small body and the answer. */
  size_t cap = w->s->cfg.max_header_list_size * 2 + HOP_REQ_ARENA_BODY_MAX +
               HOP_REQ_ARENA_RESP_MAX + 4096;
  hop_arena_init(&r->mem, r->inline_mem, sizeof(r->inline_mem), cap);
  hop_buf_init(&r->arena, 0);
  hop_buf_init(&r->body, w->s->cfg.max_body_size);
  r->method_off = r->path_off = SIZE_MAX;
  atomic_fetch_add_explicit(&w->refs, 1, memory_order_relaxed);
  return r;
}

static int on_loop_thread(hop_worker *w) {
  uv_thread_t self = uv_thread_self();
  return uv_thread_equal(&self, &w->tid);
}

static void cancel_unlink(hop_request *r) {
  if (!r->cancel_queued) return;
  if (r->cancel_prev) r->cancel_prev->cancel_next = r->cancel_next;
  else r->w->cancels = r->cancel_next;
  if (r->cancel_next) r->cancel_next->cancel_prev = r->cancel_prev;
  r->cancel_prev = r->cancel_next = NULL;
  r->cancel_queued = 0;
}

static void cancel_queue(hop_request *r) {
  hop_worker *w = r->w;
  /* A finished worker already ran its last notices (and fast-forwards handler timers). */
  if (r->cancel_queued || r->cancel_fired || !r->cancel_fn || w->finishing) return;
  r->cancel_queued = 1;
  r->cancel_prev = NULL;
  r->cancel_next = w->cancels;
  if (w->cancels) w->cancels->cancel_prev = r;
  w->cancels = r;
  hop_worker_kick_idle(w);
}

void hop_request_detach(hop_request *r) {
  atomic_store_explicit(&r->canceled, 1, memory_order_release);
  r->conn = NULL;
  r->stream = NULL;
  cancel_queue(r);
}

void hop_worker_fire_cancels(hop_worker *w) {
  /* A notice may answer (and free) its request, or detach others: pop one at a time. */
  while (w->cancels) {
    hop_request *r = w->cancels;
    cancel_unlink(r);
    hop_request_cancel_fn fn = r->cancel_fn;
    r->cancel_fn = NULL;
    r->cancel_fired = 1;
    /* An answer posted from another thread may sit in the mailbox: too late to notify. */
    if (fn && !atomic_load_explicit(&r->answered, memory_order_acquire)) fn(r, r->cancel_ud);
  }
}

void hop_request_free(hop_request *r) {
  if (!r) return;
  hop_worker *w = r->w;
  cancel_unlink(r); /* only ever queued on the loop thread, and freed there while queued */
  if (r->owner) hop_conn_unref(r->owner);
  hop_body_release(w->budget, r->body_charged);
  hop_response_release(r->resp); /* before the arena it may live in */
  hop_arena_free(&r->mem);
  hop_buf_free(&r->arena);
  hop_buf_free(&r->body);
  free(r->fields);
  if (on_loop_thread(w)) hop_pool_free(&w->pool, r);
  else hop_pool_free_elsewhere(r); /* a late answer after the worker let go of it */
  hop_worker_unref(w);
}

void hop_response_release(hop_response *resp) {
  if (resp && resp->heap) free(resp);
}

int hop_request_add_header(hop_request *r, const uint8_t *name, size_t nlen,
                           const uint8_t *value, size_t vlen) {
  if (r->nheaders == r->headers_cap) {
    size_t ncap = r->headers_cap ? r->headers_cap * 2 : 16;
    hop_header *nh = hop_arena_alloc(&r->mem, ncap * sizeof(*nh));
    if (!nh) return HOP_ENOMEM;
    if (r->nheaders) memcpy(nh, r->headers, r->nheaders * sizeof(*nh));
    r->headers = nh;
    r->headers_cap = ncap;
  }
  /* Copied: libnghttp2's buffers die with its session, and a detached request may
   * outlive that. The copy is a memcpy into memory the request already has. */
  char *p = hop_arena_alloc(&r->mem, nlen + vlen + 2);
  if (!p) return HOP_ENOMEM;
  memcpy(p, name, nlen);
  p[nlen] = 0;
  memcpy(p + nlen + 1, value, vlen);
  p[nlen + 1 + vlen] = 0;
  r->headers[r->nheaders++] = (hop_header){p, nlen, p + nlen + 1, vlen};
  return HOP_OK;
}

static const char *astr(const hop_request *r, size_t off) {
  return off == SIZE_MAX ? NULL : (const char *)r->arena.data + off;
}

/* HTTP/1.1: turns the parser's offsets into pointers (its arena no longer grows). Both:
 * splits the query. */
static int finalize(hop_request *r) {
  if (r->proto == HOP_PROTO_H1) {
    if (r->nfields) {
      r->headers = hop_arena_alloc(&r->mem, r->nfields * sizeof(hop_header));
      if (!r->headers) return HOP_ENOMEM;
    }
    for (size_t i = 0; i < r->nfields; i++) {
      const hop_h1_field *f = &r->fields[i];
      r->headers[i] = (hop_header){astr(r, f->name_off), f->name_len, astr(r, f->value_off),
                                   f->value_len};
    }
    r->nheaders = r->nfields;
    r->method = astr(r, r->method_off);
    r->path = astr(r, r->path_off);
  }
  if (!r->method) r->method = "";
  char *path = (char *)r->path;
  if (!path) path = (char *)"";
  /* Absolute-form request target (HTTP/1.1 proxies): keep the path only. */
  if (r->proto == HOP_PROTO_H1 && !strncasecmp(path, "http://", 7)) {
    char *slash = strchr(path + 7, '/');
    path = slash ? slash : (char *)"/";
  }
  char *q = strchr(path, '?');
  r->query = "";
  if (q) {
    *q = 0;
    r->query = q + 1;
  }
  r->path = path;
  if (!r->authority) r->authority = hop_headers_get(r->headers, r->nheaders, "host", NULL);
  if (!r->authority) r->authority = "";
  return HOP_OK;
}

static void answer_text(hop_request *r, int status, const char *text) {
  hop_header h[] = {HOP_HEADER("content-type", "text/plain; charset=utf-8")};
  hop_request_respond(r, status, h, 1, text, strlen(text), NULL, 0);
}

void hop_request_dispatch(hop_request *r) {
  hop_server *s = r->w->s;
  HOP_STAT_ADD(r->w, requests, 1);
  /* Counted until answered, even if the peer resets the stream meanwhile: a peer cannot
   * have more than MAX_CONCURRENT_STREAMS handlers running (CVE-2023-44487, as Go). */
  r->owner = r->conn;
  atomic_fetch_add_explicit(&r->owner->refs, 1, memory_order_relaxed);
  r->owner->inflight++;
  if (finalize(r)) {
    answer_text(r, 500, "out of memory\n");
    return;
  }
  if (s->cfg.builtin_routes && (!strcmp(r->method, "GET") || !strcmp(r->method, "HEAD"))) {
    if (!strcmp(r->path, "/healthz")) {
      answer_text(r, 200, "OK");
      return;
    }
    if (!strcmp(r->path, "/readyz")) {
      if (atomic_load_explicit(&s->draining, memory_order_relaxed))
        answer_text(r, 503, "draining");
      else
        answer_text(r, 200, "OK");
      return;
    }
  }
  for (size_t i = 0; i < s->nroutes; i++) {
    if (!strcmp(s->routes[i].path, r->path)) {
      s->routes[i].fn(r, s->routes[i].user_data);
      return;
    }
  }
  if (s->fallback) {
    s->fallback(r, s->fallback_data);
    return;
  }
  answer_text(r, 404, "not found\n");
}

/* ---- accessors ---- */
const char *hop_request_method(const hop_request *r) { return r->method; }
const char *hop_request_path(const hop_request *r) { return r->path; }
const char *hop_request_query(const hop_request *r) { return r->query; }
const char *hop_request_authority(const hop_request *r) { return r->authority; }
hop_proto hop_request_protocol(const hop_request *r) { return r->proto; }
const hop_header *hop_request_headers(const hop_request *r, size_t *n) {
  if (n) *n = r->nheaders;
  return r->headers;
}
const char *hop_request_header(const hop_request *r, const char *name) {
  return hop_headers_get(r->headers, r->nheaders, name, NULL);
}
const uint8_t *hop_request_body(const hop_request *r, size_t *len) {
  if (r->abody) {
    if (len) *len = r->abody_len;
    return r->abody;
  }
  if (len) *len = r->body.len;
  return r->body.data ? r->body.data : (const uint8_t *)"";
}
uv_loop_t *hop_request_loop(const hop_request *r) { return &r->w->loop; }
void *hop_request_alloc(hop_request *r, size_t n) { return r ? hop_arena_alloc(&r->mem, n) : NULL; }
int hop_request_canceled(const hop_request *r) {
  return atomic_load_explicit(&r->canceled, memory_order_acquire);
}

int hop_request_on_cancel(hop_request *r, hop_request_cancel_fn fn, void *user_data) {
  if (!r) return HOP_EINVAL;
  if (!on_loop_thread(r->w)) return HOP_ESTATE;
  r->cancel_fn = fn;
  r->cancel_ud = user_data;
  if (!fn) cancel_unlink(r);
  else if (atomic_load_explicit(&r->canceled, memory_order_relaxed)) cancel_queue(r);
  return HOP_OK;
}

/* ---- building the response (on the responding thread) ---- */
const char *hop_status_reason(int status) {
  switch (status) {
  case 100: return "Continue";
  case 200: return "OK";
  case 201: return "Created";
  case 204: return "No Content";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 304: return "Not Modified";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 412: return "Precondition Failed";
  case 413: return "Content Too Large";
  case 415: return "Unsupported Media Type";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 499: return "Client Closed Request";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  default: return "Unknown";
  }
}

/* Headers the server owns (framing) or that HTTP/2 forbids. */
static int dropped_name(const char *n, size_t len) {
  switch (len) { /* only the names of a matching length are compared */
  case 7: return !strncasecmp(n, "upgrade", 7);
  case 10: return !strncasecmp(n, "connection", 10) || !strncasecmp(n, "keep-alive", 10);
  case 14: return !strncasecmp(n, "content-length", 14);
  case 16: return !strncasecmp(n, "proxy-connection", 16);
  case 17: return !strncasecmp(n, "transfer-encoding", 17);
  default: return 0;
  }
}

/* Bit 1: not allowed in a name (controls, space, ':', DEL and above); bit 2: not allowed in a
 * value (CR, LF, NUL). One load per byte. */
static const unsigned char bad_char[256] = {
    [0] = 3, [1 ... 9] = 1, [10] = 3, [11 ... 12] = 1, [13] = 3, [14 ... 32] = 1,
    [':'] = 1, [127 ... 255] = 1,
};

static int skip_header(const hop_header *h) {
  if (h->name_len == 0 || h->name[0] == ':') return 1;
  unsigned bad = 0;
  for (size_t i = 0; i < h->name_len; i++) bad |= bad_char[(unsigned char)h->name[i]];
  if (bad & 1) return 1;
  bad = 0;
  for (size_t i = 0; i < h->value_len; i++) bad |= bad_char[(unsigned char)h->value[i]];
  if (bad & 2) return 1;
  return dropped_name(h->name, h->name_len);
}

static char *put_str(char *p, const char *s, size_t n) {
  memcpy(p, s, n);
  return p + n;
}

static hop_response *build_h1(int status, const hop_header *hs, size_t nh, const void *body,
                              size_t blen) {
  if (status < 200 || status == 204 || status == 304) blen = 0; /* no body by definition */
  const char *reason = hop_status_reason(status);
  size_t rlen = strlen(reason);
  size_t need = 16 + rlen + 40; /* status line + content-length line */
  for (size_t i = 0; i < nh; i++)
    if (!skip_header(&hs[i])) need += hs[i].name_len + hs[i].value_len + 4;
  hop_response *resp = malloc(sizeof(*resp) + need + blen);
  if (!resp) return NULL;
  memset(resp, 0, sizeof(*resp));
  resp->heap = 1; /* the write owns it and frees it */
  char *p = (char *)(resp + 1), *start = p;
  resp->status = status;
  p = put_str(p, "HTTP/1.1 ", 9);
  p += hop_fmt_u64_raw(p, (uint64_t)status);
  *p++ = ' ';
  p = put_str(p, reason, rlen);
  p = put_str(p, "\r\n", 2);
  for (size_t i = 0; i < nh; i++) {
    if (skip_header(&hs[i])) continue;
    p = put_str(p, hs[i].name, hs[i].name_len);
    *p++ = ':';
    *p++ = ' ';
    p = put_str(p, hs[i].value, hs[i].value_len);
    *p++ = '\r';
    *p++ = '\n';
  }
  if (status >= 200 && status != 204 && status != 304) {
    p = put_str(p, "content-length: ", 16);
    p += hop_fmt_u64_raw(p, blen);
    p = put_str(p, "\r\n", 2);
  }
  resp->head = start;
  resp->head_len = (size_t)(p - start);
  if (blen) memcpy(p, body, blen);
  resp->body = (const uint8_t *)p;
  resp->body_len = blen;
  return resp;
}

/* The h2 answer in |r|'s arena when it fits (it lives until the stream closes), else in its
 * own allocation. nghttp2 is told not to copy the strings (NO_COPY): they outlive the frame.
 * Room is sized for every header; the ones skip_header refuses are left out while copying. */
static hop_response *build_h2(hop_request *r, int status, const hop_header *hs, size_t nh,
                              const void *body, size_t blen, const hop_header *ts, size_t nt) {
  size_t strs = 3 + 20;
  for (size_t i = 0; i < nh; i++) strs += hs[i].name_len + hs[i].value_len;
  for (size_t i = 0; i < nt; i++) strs += ts[i].name_len + ts[i].value_len;
  size_t nvbytes = (2 + nh + nt) * sizeof(nghttp2_nv);
  size_t total = sizeof(hop_response) + nvbytes + strs + blen;
  hop_response *resp = NULL;
  if (r && total <= HOP_REQ_ARENA_RESP_MAX) resp = hop_arena_alloc(&r->mem, total);
  int heap = !resp;
  if (heap && !(resp = malloc(total))) return NULL;
  memset(resp, 0, sizeof(*resp));
  resp->heap = heap;
  resp->status = status;
  resp->nva = (nghttp2_nv *)(resp + 1);
  char *p = (char *)resp->nva + nvbytes;
  const uint8_t nc = NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE;
  size_t k = 0;
  int st = status % 1000;
  p[0] = (char)('0' + st / 100);
  p[1] = (char)('0' + st / 10 % 10);
  p[2] = (char)('0' + st % 10);
  resp->nva[k++] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)p, 7, 3, nc};
  p += 3;
  for (size_t pass = 0; pass < 2; pass++) {
    const hop_header *src = pass ? ts : hs;
    size_t n = pass ? nt : nh;
    for (size_t i = 0; i < n; i++) {
      if (skip_header(&src[i])) continue;
      char *name = p;
      for (size_t j = 0; j < src[i].name_len; j++) {
        unsigned char ch = (unsigned char)src[i].name[j];
        *p++ = (char)((unsigned)(ch - 'A') < 26u ? ch + 32 : ch);
      }
      char *value = p;
      p = put_str(p, src[i].value, src[i].value_len);
      resp->nva[k++] = (nghttp2_nv){(uint8_t *)name, (uint8_t *)value, src[i].name_len,
                                    src[i].value_len, nc};
    }
    if (!pass) {
      size_t cl = hop_fmt_u64_raw(p, blen);
      resp->nva[k++] = (nghttp2_nv){(uint8_t *)"content-length", (uint8_t *)p, 14, cl, nc};
      p += cl;
      resp->nnv = k;
    }
  }
  resp->ntr = k - resp->nnv;
  if (blen) memcpy(p, body, blen);
  resp->body = (const uint8_t *)p;
  resp->body_len = blen;
  return resp;
}

void hop_request_deliver(hop_request *r) {
  hop_conn *c = r->conn;
  hop_conn *owner = r->owner; /* its reference moves here */
  hop_response *resp = r->resp;
  r->resp = NULL;
  r->owner = NULL;
  if (owner) owner->inflight--;
  if (!c || c->closing) {
    hop_response_release(resp);
    hop_request_free(r);
  } else if (r->proto == HOP_PROTO_H1) {
    hop_h1_conn_respond(c, r, resp);
  } else {
    hop_h2_conn_respond(c, r, resp);
  }
  /* A handler slot is free: requests that waited for one may run now. */
  if (owner && !owner->closing && owner->proto == HOP_CONN_H2 && owner->nready)
    hop_h2_conn_dispatch_ready(owner);
  if (owner) hop_conn_unref(owner);
}

int hop_request_respond(hop_request *r, int status, const hop_header *headers, size_t nheaders,
                        const void *body, size_t body_len, const hop_header *trailers,
                        size_t ntrailers) {
  if (!r) return HOP_EINVAL;
  atomic_store_explicit(&r->answered, 1, memory_order_release);
  if (status < 200 || status > 999) status = 500; /* interim 1xx answers are not supported */
  /* A NULL response (allocation failure) becomes a bare 500 / RST on the loop. */
  r->resp = r->proto == HOP_PROTO_H1
                ? build_h1(status, headers, nheaders, body, body_len)
                : build_h2(r, status, headers, nheaders, body, body_len, trailers, ntrailers);
  hop_worker *w = r->w;
  if (on_loop_thread(w)) {
    hop_request_deliver(r);
    return HOP_OK;
  }
  /* Another thread: hand it to the owning loop. A full mailbox pushes back on this thread
   * for at most answer_wait_ms (short sleeps), then the answer is dropped. */
  uint64_t waited_us = 0, max_us = w->answer_wait_ms * 1000; /* w->s may be freed */
  int rv;
  for (;;) {
    pthread_mutex_lock(&w->post_mu);
    rv = w->mb_open ? hop_mailbox_post(&w->mb, r) : HOP_ESHUTDOWN;
    pthread_mutex_unlock(&w->post_mu);
    if (rv != HOP_EQUEUEFULL || waited_us >= max_us) break;
    uint64_t step = waited_us < 10000 ? 100 : 1000;
    struct timespec ts = {0, (long)step * 1000};
    nanosleep(&ts, NULL);
    waited_us += step;
  }
  if (rv == HOP_OK) return HOP_OK;
  /* The request itself must still be answered, on its loop: it joins the overflow list
   * (intrusive, no allocation) and gets 503 there. */
  hop_response_release(r->resp);
  r->resp = NULL;
  if (rv == HOP_EQUEUEFULL) {
    /* All under post_mu: while the mailbox is open the worker (and the server) live on;
     * once |r| is on the list the loop may free it, and with it our hold on |w|. */
    pthread_mutex_lock(&w->post_mu);
    if (w->mb_open) {
      r->node.next = (hop_mailbox_node *)w->overflow;
      w->overflow = r;
      HOP_STAT_ADD(w, answers_dropped, 1);
      uint64_t now = hop_now_ms();
      if (now - w->overflow_log_ms >= 1000) {
        w->overflow_log_ms = now;
        hop_log_warn("server: worker %u: answer mailbox full (%zu pending) for %llu ms: answer "
                     "dropped, the request gets 503 (%llu dropped so far on this worker)",
                     w->idx, w->mb.capacity, (unsigned long long)w->answer_wait_ms,
                     (unsigned long long)atomic_load_explicit(&w->stats.answers_dropped,
                                                              memory_order_relaxed));
      }
      hop_worker_poke(w);
      pthread_mutex_unlock(&w->post_mu);
      return HOP_EQUEUEFULL;
    }
    pthread_mutex_unlock(&w->post_mu);
  }
  /* The worker has closed its connections (every request detached): safe to free here. */
  hop_request_free(r);
  return HOP_OK;
}

void hop_worker_answer_overflow(hop_worker *w) {
  pthread_mutex_lock(&w->post_mu);
  hop_request *r = w->overflow;
  w->overflow = NULL;
  pthread_mutex_unlock(&w->post_mu);
  static const char text[] = "answer dropped: server overloaded\n";
  hop_header h[] = {HOP_HEADER("content-type", "text/plain; charset=utf-8"),
                    HOP_HEADER("retry-after", "1")};
  while (r) {
    hop_request *next = (hop_request *)r->node.next;
    r->node.next = NULL;
    r->resp = r->proto == HOP_PROTO_H1 ? build_h1(503, h, 2, text, sizeof(text) - 1)
                                       : build_h2(r, 503, h, 2, text, sizeof(text) - 1, NULL, 0);
    hop_request_deliver(r);
    r = next;
  }
}
