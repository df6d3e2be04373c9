/* RPC router on hop_server: Connect (POST and GET), gRPC and gRPC-Web unary.
 *
 * Request path (worker loop thread): classify by content type -> protocol checks (version,
 * timeout, encoding) -> unframe / inflate under the size limit -> optional deadline timer ->
 * handler. Completion (any thread) and deadline expiry race on one atomic flag: the first
 * one answers the HTTP request, the other only releases its reference.
 *
 * Lifetime of a hop_rpc_request: one reference for the handler (dropped by reply/fail) and,
 * with a deadline, one for the timer (dropped in the timer's close callback, on the loop).
 * A reply from another thread leaves the timer to fire at the deadline (it then only cleans
 * up), so such calls keep their ~0.5 KiB (the message and metadata copies are freed with the
 * reply) until the deadline; replies on the loop thread stop the timer at once. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/clock.h"
#include "hopwire/error.h"
#include "hopwire/rpc.h"
#include "rpc/envelope.h"
#include "rpc/gzip.h"
#include "rpc/json.h"
#include "rpc/wire.h"

#define HOP_RPC_MAX_PROCS 4096

typedef struct hop_rpc_proc {
  hop_rpc_server *rs;
  char *path;
  hop_rpc_handler_fn fn;
  void *user_data;
  unsigned flags;
  hop_handler_fn raw; /* non-RPC requests (see hop_rpc_server_set_raw) */
  void *raw_data;
} hop_rpc_proc;

struct hop_rpc_server {
  hop_server *srv;
  hop_rpc_server_config cfg;
  hop_rpc_proc **procs; /* immutable once the server starts */
  size_t nprocs;
  _Atomic uint64_t calls, ok, errors, deadline_exceeded;
};

struct hop_rpc_request {
  hop_rpc_server *rs;
  hop_rpc_proc *proc;
  hop_request *http; /* owned until the answer is sent */
  hop_proto http_proto;
  uv_loop_t *loop;
  pthread_t loop_thread;
  hop_rpc_protocol protocol;
  hop_rpc_codec codec;
  const char *ctype;  /* response content type (static) */
  int gzip_out;       /* may compress the response */
  const uint8_t *msg; /* borrowed from http, or msg_owned */
  size_t msg_len;
  uint8_t *msg_owned;
  const hop_header *md; /* borrowed from http, or md_copy */
  size_t nmd;
  hop_hdr_list md_copy;
  uint64_t deadline_us;
  uv_timer_t *timer; /* NULL without a deadline */
  int in_http;       /* lives in the HTTP request's memory (no deadline): gone with the answer */
  atomic_int answered;
  atomic_int refs;
};

void hop_rpc_server_config_init(hop_rpc_server_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->max_message_size = HOP_RPC_MAX_MESSAGE_DEFAULT;
  cfg->compress_min_bytes = 0;
  cfg->handle_unknown = 1;
}

/* ---- answers ---- */

/* Connect unary response or error; gRPC / gRPC-Web response, trailers-only error or
 * trailer frame. Builds into local buffers and calls hop_request_respond (which copies). */
static void send_answer(hop_rpc_server *rs, hop_request *http, hop_rpc_protocol protocol,
                        const char *ctype, int gzip_out, const void *msg, size_t len,
                        hop_code code, const char *errmsg, const hop_rpc_detail *details,
                        size_t ndetails, const hop_header *extra, size_t nextra,
                        const hop_header *tr, size_t ntr) {
  hop_buf body, zbuf, aux;
  hop_buf_init(&body, SIZE_MAX);
  hop_buf_init(&zbuf, SIZE_MAX);
  hop_buf_init(&aux, SIZE_MAX);
  if (nextra > HOP_RPC_MAX_REPLY_HEADERS) nextra = HOP_RPC_MAX_REPLY_HEADERS;
  if (ntr > HOP_RPC_MAX_REPLY_HEADERS) ntr = HOP_RPC_MAX_REPLY_HEADERS;
  if (code != HOP_CODE_OK) ntr = 0; /* trailers go with a message; errors carry their own */
  hop_header h[2 * HOP_RPC_MAX_REPLY_HEADERS + 8];
  size_t nh = 0;
  for (size_t i = 0; i < nextra; i++) h[nh++] = extra[i];
  char *tnames = NULL; /* Connect: "trailer-" + name, one block */
  int compressed = 0;
  if (code == HOP_CODE_OK && gzip_out && len >= rs->cfg.compress_min_bytes &&
      hop_gzip_compress(msg, len, &zbuf) == HOP_OK) {
    compressed = 1;
    msg = zbuf.data;
    len = zbuf.len;
  }
  if (protocol == HOP_RPC_CONNECT) {
    if (code == HOP_CODE_OK) {
      h[nh++] = (hop_header){"content-type", 12, ctype, strlen(ctype)};
      if (compressed) h[nh++] = (hop_header)HOP_HEADER("content-encoding", "gzip");
      /* Connect unary has no HTTP trailers: they travel as "trailer-" prefixed headers. */
      size_t tbytes = 0;
      for (size_t i = 0; i < ntr; i++) tbytes += 8 + tr[i].name_len;
      if (ntr && !(tnames = malloc(tbytes))) {
        hop_request_respond(http, 500, NULL, 0, NULL, 0, NULL, 0);
        goto out;
      }
      char *tp = tnames;
      for (size_t i = 0; i < ntr; i++) {
        memcpy(tp, "trailer-", 8);
        memcpy(tp + 8, tr[i].name, tr[i].name_len);
        h[nh++] = (hop_header){tp, 8 + tr[i].name_len, tr[i].value, tr[i].value_len};
        tp += 8 + tr[i].name_len;
      }
      hop_request_respond(http, 200, h, nh, msg, len, NULL, 0);
    } else {
      h[nh++] = (hop_header)HOP_HEADER("content-type", "application/json");
      if (hop_connect_error_encode(&body, code, errmsg, details, ndetails)) {
        hop_buf_clear(&body);
        hop_connect_error_encode(&body, code, NULL, NULL, 0);
      }
      hop_request_respond(http, hop_code_to_http(code), h, nh, body.data, body.len, NULL, 0);
    }
    goto out;
  }
  /* gRPC and gRPC-Web: status, message and details as headers or trailers. */
  char status[3]; /* 0..16: no printf per call */
  unsigned cv = (unsigned)code % 100;
  size_t sl = 0;
  if (cv >= 10) status[sl++] = (char)('0' + cv / 10);
  status[sl++] = (char)('0' + cv % 10);
  hop_header t[3 + HOP_RPC_MAX_REPLY_HEADERS];
  size_t nt = 0;
  t[nt++] = (hop_header){"grpc-status", 11, status, sl};
  for (size_t i = 0; i < ntr; i++) t[nt++] = tr[i];
  hop_buf pct, det;
  hop_buf_init(&pct, SIZE_MAX);
  hop_buf_init(&det, SIZE_MAX);
  if (errmsg && *errmsg && !hop_pct_encode(&pct, errmsg, strlen(errmsg)))
    t[nt++] = (hop_header){"grpc-message", 12, (const char *)pct.data, pct.len};
  if (code != HOP_CODE_OK && ndetails &&
      !hop_grpc_status_encode(&aux, code, errmsg, details, ndetails) &&
      !hop_b64_encode(&det, aux.data, aux.len, HOP_B64_STD, 0))
    t[nt++] = (hop_header){"grpc-status-details-bin", 23, (const char *)det.data, det.len};
  h[nh++] = (hop_header){"content-type", 12, ctype, strlen(ctype)};
  if (protocol == HOP_RPC_GRPC) {
    if (code == HOP_CODE_OK) {
      if (compressed) h[nh++] = (hop_header)HOP_HEADER("grpc-encoding", "gzip");
      h[nh++] = (hop_header)HOP_HEADER("grpc-accept-encoding", "gzip");
      if (hop_env_write(&body, compressed ? HOP_ENV_COMPRESSED : 0, msg, len) == HOP_OK)
        hop_request_respond(http, 200, h, nh, body.data, body.len, t, nt);
      else
        hop_request_respond(http, 500, NULL, 0, NULL, 0, NULL, 0);
    } else {
      /* Trailers-only: the status travels in the one HEADERS frame that ends the stream. */
      for (size_t i = 0; i < nt; i++) h[nh++] = t[i];
      hop_request_respond(http, 200, h, nh, NULL, 0, NULL, 0);
    }
  } else {
    /* gRPC-Web: the trailers are the body's last frame (HTTP/1.1 has no trailers). */
    if (compressed) h[nh++] = (hop_header)HOP_HEADER("grpc-encoding", "gzip");
    hop_buf tb;
    hop_buf_init(&tb, SIZE_MAX);
    int rc = HOP_OK;
    if (code == HOP_CODE_OK) rc = hop_env_write(&body, compressed ? HOP_ENV_COMPRESSED : 0, msg, len);
    if (!rc) rc = hop_grpcweb_trailers_encode(&tb, t, nt);
    if (!rc) rc = hop_env_write(&body, HOP_ENV_TRAILER, tb.data, tb.len);
    if (!rc)
      hop_request_respond(http, 200, h, nh, body.data, body.len, NULL, 0);
    else
      hop_request_respond(http, 500, NULL, 0, NULL, 0, NULL, 0);
    hop_buf_free(&tb);
  }
  hop_buf_free(&pct);
  hop_buf_free(&det);
out:
  free(tnames);
  hop_buf_free(&body);
  hop_buf_free(&zbuf);
  hop_buf_free(&aux);
}

static void count(hop_rpc_server *rs, hop_code code) {
  atomic_fetch_add_explicit(&rs->calls, 1, memory_order_relaxed);
  if (code == HOP_CODE_OK)
    atomic_fetch_add_explicit(&rs->ok, 1, memory_order_relaxed);
  else
    atomic_fetch_add_explicit(&rs->errors, 1, memory_order_relaxed);
  if (code == HOP_CODE_DEADLINE_EXCEEDED)
    atomic_fetch_add_explicit(&rs->deadline_exceeded, 1, memory_order_relaxed);
}

/* An error before any rpc request exists (bad input): answers in the caller's protocol. */
static void reject(hop_rpc_server *rs, hop_request *http, hop_rpc_protocol protocol,
                   const char *ctype, const hop_rpc_status *st, const hop_header *extra,
                   size_t nextra) {
  count(rs, st->code);
  send_answer(rs, http, protocol, ctype, 0, NULL, 0, st->code, st->msg, NULL, 0, extra, nextra,
              NULL, 0);
}

/* ---- request lifetime ---- */
static void rq_free(hop_rpc_request *rq) {
  free(rq->msg_owned);
  hop_hdr_list_free(&rq->md_copy);
  free(rq->timer);
  free(rq);
}

static void rq_unref(hop_rpc_request *rq) {
  if (atomic_fetch_sub_explicit(&rq->refs, 1, memory_order_acq_rel) == 1) rq_free(rq);
}

static void on_timer_closed(uv_handle_t *h) { rq_unref(h->data); }

static void close_timer(hop_rpc_request *rq) {
  if (!uv_is_closing((uv_handle_t *)rq->timer)) uv_close((uv_handle_t *)rq->timer, on_timer_closed);
}

static void on_deadline(uv_timer_t *t) {
  hop_rpc_request *rq = t->data;
  int expected = 0;
  if (atomic_compare_exchange_strong(&rq->answered, &expected, 1)) {
    hop_request *http = rq->http;
    rq->http = NULL;
    count(rq->rs, HOP_CODE_DEADLINE_EXCEEDED);
    send_answer(rq->rs, http, rq->protocol, rq->ctype, 0, NULL, 0, HOP_CODE_DEADLINE_EXCEEDED,
                "deadline exceeded", NULL, 0, NULL, 0, NULL, 0);
  }
  close_timer(rq);
}

static int complete(hop_rpc_request *rq, const void *msg, size_t len, hop_code code,
                    const char *errmsg, const hop_rpc_detail *details, size_t ndetails,
                    const hop_header *md, size_t nmd, const hop_header *tr, size_t ntr) {
  if (!rq) return HOP_EINVAL;
  /* Without a deadline nothing else answers, and |rq| dies with the HTTP request: read what
   * is needed after the answer first (|msg| may point into msg_owned). */
  uint8_t *owned = rq->in_http ? rq->msg_owned : NULL;
  int in_http = rq->in_http;
  int expected = 0;
  if (atomic_compare_exchange_strong(&rq->answered, &expected, 1)) {
    hop_request *http = rq->http;
    rq->http = NULL;
    if (code == HOP_CODE_OK && len > rq->rs->cfg.max_message_size) {
      code = HOP_CODE_RESOURCE_EXHAUSTED;
      errmsg = "response message over the server's limit";
      details = NULL;
      ndetails = 0;
    }
    count(rq->rs, code);
    send_answer(rq->rs, http, rq->protocol, rq->ctype, rq->gzip_out, msg, len, code, errmsg,
                details, ndetails, md, nmd, tr, ntr);
  }
  if (in_http) {
    free(owned);
    return HOP_OK;
  }
  if (rq->timer && pthread_equal(pthread_self(), rq->loop_thread)) {
    close_timer(rq);
  } else {
    /* Answered from another thread: the timer stays until its deadline (it then only
     * cleans up), but nothing may read the request any more: its copies go now. They were
     * the whole message (a proxy held every batch it forwarded for 30 s: 150 KB each). */
    free(rq->msg_owned);
    rq->msg_owned = NULL;
    rq->msg = NULL;
    hop_hdr_list_free(&rq->md_copy);
    rq->md = NULL;
    rq->nmd = 0;
  }
  rq_unref(rq);
  return HOP_OK;
}

int hop_rpc_reply(hop_rpc_request *rq, const void *msg, size_t len) {
  return complete(rq, msg, len, HOP_CODE_OK, NULL, NULL, 0, NULL, 0, NULL, 0);
}

int hop_rpc_reply_md(hop_rpc_request *rq, const void *msg, size_t len, const hop_header *md,
                     size_t nmd) {
  return hop_rpc_reply_trailers(rq, msg, len, md, nmd, NULL, 0);
}

/* A trailer the handler may set: a lower-case token name that is not one the protocols own
 * (pseudo-headers, grpc-status and friends, content-type / -length / -encoding). */
static int trailer_name_ok(const hop_header *t) {
  if (!t->name || !t->name_len || (t->value_len && !t->value)) return 0;
  for (size_t i = 0; i < t->name_len; i++) {
    char ch = t->name[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
          ch == '.'))
      return 0;
  }
  static const char *const owned[] = {"grpc-status", "grpc-message", "grpc-status-details-bin",
                                      "content-type", "content-length", "content-encoding",
                                      "te", "trailer", "transfer-encoding", "connection"};
  for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
    if (t->name_len == strlen(owned[i]) && !memcmp(t->name, owned[i], t->name_len)) return 0;
  for (size_t i = 0; i < t->value_len; i++)
    if (t->value[i] == '\r' || t->value[i] == '\n' || t->value[i] == 0) return 0;
  return 1;
}

int hop_rpc_reply_trailers(hop_rpc_request *rq, const void *msg, size_t len,
                           const hop_header *md, size_t nmd, const hop_header *tr, size_t ntr) {
  if (nmd > HOP_RPC_MAX_REPLY_HEADERS || (nmd && !md))
    return complete(rq, NULL, 0, HOP_CODE_INTERNAL, "too many response headers", NULL, 0, NULL,
                    0, NULL, 0);
  if (ntr > HOP_RPC_MAX_REPLY_HEADERS || (ntr && !tr))
    return complete(rq, NULL, 0, HOP_CODE_INTERNAL, "too many response trailers", NULL, 0, NULL,
                    0, NULL, 0);
  for (size_t i = 0; i < ntr; i++)
    if (!trailer_name_ok(&tr[i]))
      return complete(rq, NULL, 0, HOP_CODE_INTERNAL, "invalid response trailer", NULL, 0, NULL,
                      0, NULL, 0);
  return complete(rq, msg, len, HOP_CODE_OK, NULL, NULL, 0, md, nmd, tr, ntr);
}

int hop_rpc_fail(hop_rpc_request *rq, hop_code code, const char *message,
                 const hop_rpc_detail *details, size_t ndetails) {
  if (code == HOP_CODE_OK || (unsigned)code > 16) code = HOP_CODE_UNKNOWN;
  return complete(rq, NULL, 0, code, message, details, ndetails, NULL, 0, NULL, 0);
}

/* ---- accessors ---- */
const char *hop_rpc_request_procedure(const hop_rpc_request *rq) { return rq->proc->path; }
const uint8_t *hop_rpc_request_message(const hop_rpc_request *rq, size_t *len) {
  if (len) *len = rq->msg_len;
  return rq->msg ? rq->msg : (const uint8_t *)"";
}
const hop_header *hop_rpc_request_metadata(const hop_rpc_request *rq, size_t *n) {
  if (n) *n = rq->nmd;
  return rq->md;
}
const char *hop_rpc_request_header(const hop_rpc_request *rq, const char *name) {
  return hop_headers_get(rq->md, rq->nmd, name, NULL);
}
uint64_t hop_rpc_request_deadline_us(const hop_rpc_request *rq) { return rq->deadline_us; }
hop_rpc_protocol hop_rpc_request_protocol(const hop_rpc_request *rq) { return rq->protocol; }
hop_rpc_codec hop_rpc_request_codec(const hop_rpc_request *rq) { return rq->codec; }
hop_proto hop_rpc_request_http(const hop_rpc_request *rq) { return rq->http_proto; }
uv_loop_t *hop_rpc_request_loop(const hop_rpc_request *rq) { return rq->loop; }
int hop_rpc_request_done(const hop_rpc_request *rq) {
  if (atomic_load(&((hop_rpc_request *)rq)->answered)) return 1;
  /* The deadline may free the HTTP request at any moment on the loop thread: only look at
   * it from there (a handler elsewhere learns of a vanished peer when it replies). */
  if (!pthread_equal(pthread_self(), rq->loop_thread)) return 0;
  return rq->http && hop_request_canceled(rq->http);
}

/* ---- classification ---- */
typedef struct rpc_kind {
  hop_rpc_protocol protocol;
  hop_rpc_codec codec;
  const char *ctype; /* static */
} rpc_kind;

static const struct {
  const char *name;
  size_t len;
  hop_rpc_protocol protocol;
  hop_rpc_codec codec;
} kinds[] = {
    {"application/proto", 17, HOP_RPC_CONNECT, HOP_CODEC_PROTO},
    {"application/json", 16, HOP_RPC_CONNECT, HOP_CODEC_JSON},
    {"application/grpc", 16, HOP_RPC_GRPC, HOP_CODEC_PROTO},
    {"application/grpc+proto", 22, HOP_RPC_GRPC, HOP_CODEC_PROTO},
    {"application/grpc+json", 21, HOP_RPC_GRPC, HOP_CODEC_JSON},
    {"application/grpc-web", 20, HOP_RPC_GRPC_WEB, HOP_CODEC_PROTO},
    {"application/grpc-web+proto", 26, HOP_RPC_GRPC_WEB, HOP_CODEC_PROTO},
    {"application/grpc-web+json", 25, HOP_RPC_GRPC_WEB, HOP_CODEC_JSON},
};

/* Returns 0 with |k| filled (its ctype, the answer's, is the type lower-cased without
 * parameters), or -1 for an unsupported content type. */
static int classify(const char *ct, rpc_kind *k) {
  if (!ct) return -1;
  size_t n = strcspn(ct, ";");
  while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t')) n--;
  for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
    if (kinds[i].len == n && !strncasecmp(ct, kinds[i].name, n)) {
      k->protocol = kinds[i].protocol;
      k->codec = kinds[i].codec;
      k->ctype = kinds[i].name;
      return 0;
    }
  }
  return -1;
}

/* The request headers the router reads, found in one pass (names are lower-case: the
 * server guarantees it); the first of a repeated name counts, as hop_request_header. */
typedef struct rpc_hdrs {
  const char *ctype, *version, *cenc, *accept_enc, *connect_to, *grpc_to, *grpc_enc, *grpc_accept;
} rpc_hdrs;

static void scan_headers(hop_request *http, rpc_hdrs *h) {
  memset(h, 0, sizeof(*h));
  size_t n;
  const hop_header *hs = hop_request_headers(http, &n);
  for (size_t i = 0; i < n; i++) {
    const char *nm = hs[i].name;
    const char **slot = NULL;
    switch (hs[i].name_len) {
    case 12:
      if (!memcmp(nm, "content-type", 12)) slot = &h->ctype;
      else if (!memcmp(nm, "grpc-timeout", 12)) slot = &h->grpc_to;
      break;
    case 13:
      if (!memcmp(nm, "grpc-encoding", 13)) slot = &h->grpc_enc;
      break;
    case 15:
      if (!memcmp(nm, "accept-encoding", 15)) slot = &h->accept_enc;
      break;
    case 16:
      if (!memcmp(nm, "content-encoding", 16)) slot = &h->cenc;
      break;
    case 18:
      if (!memcmp(nm, "connect-timeout-ms", 18)) slot = &h->connect_to;
      break;
    case 20:
      if (!memcmp(nm, "grpc-accept-encoding", 20)) slot = &h->grpc_accept;
      break;
    case 24:
      if (!memcmp(nm, "connect-protocol-version", 24)) slot = &h->version;
      break;
    default:
      break;
    }
    if (slot && !*slot) *slot = hs[i].value;
  }
}

static const char *query_param(const char *q, const char *key, size_t *len) {
  size_t kl = strlen(key);
  while (q && *q) {
    const char *amp = strchr(q, '&');
    size_t seg = amp ? (size_t)(amp - q) : strlen(q);
    if (seg > kl && !strncmp(q, key, kl) && q[kl] == '=') {
      *len = seg - kl - 1;
      return q + kl + 1;
    }
    if (seg == kl && !strncmp(q, key, kl)) {
      *len = 0;
      return q + kl;
    }
    q = amp ? amp + 1 : NULL;
  }
  return NULL;
}

static int connect_timeout(const char *to, hop_rpc_status *st, int *has, uint64_t *us) {
  if (!to) return 0;
  uint64_t ms;
  if (hop_rpc_parse_connect_timeout(to, &ms)) {
    hop_rpc_status_set(st, HOP_CODE_INVALID_ARGUMENT,
                       "invalid connect-timeout-ms \"%.32s\": want 1 to 10 digits", to);
    return -1;
  }
  *has = 1;
  *us = ms * 1000;
  return 0;
}

/* ---- dispatch ---- */
static void dispatch(hop_rpc_server *rs, hop_rpc_proc *p, hop_request *http, const rpc_kind *k,
                     const uint8_t *msg, size_t len, uint8_t *owned, uint64_t timeout_us,
                     int has_timeout, int gzip_out) {
  hop_rpc_status st;
  /* Without a deadline the call ends with its answer: its state lives in the HTTP request's
   * arena. With one, the timer may outlive the request: an allocation of its own. */
  hop_rpc_request *rq = has_timeout ? calloc(1, sizeof(*rq)) : hop_request_alloc(http, sizeof(*rq));
  if (rq && !has_timeout) {
    memset(rq, 0, sizeof(*rq));
    rq->in_http = 1;
  }
  if (!rq) {
    free(owned);
    hop_rpc_status_set(&st, HOP_CODE_RESOURCE_EXHAUSTED, "out of memory");
    reject(rs, http, k->protocol, k->ctype, &st, NULL, 0);
    return;
  }
  rq->rs = rs;
  rq->proc = p;
  rq->http = http;
  rq->http_proto = hop_request_protocol(http);
  rq->loop = hop_request_loop(http);
  rq->loop_thread = pthread_self();
  rq->protocol = k->protocol;
  rq->codec = k->codec;
  rq->ctype = k->ctype;
  rq->gzip_out = gzip_out;
  rq->msg = msg;
  rq->msg_len = len;
  rq->msg_owned = owned;
  rq->md = hop_request_headers(http, &rq->nmd);
  atomic_init(&rq->refs, 1);
  atomic_init(&rq->answered, 0);
  if (has_timeout) {
    if (timeout_us == 0) { /* already expired: the handler is not even called */
      count(rs, HOP_CODE_DEADLINE_EXCEEDED);
      send_answer(rs, http, k->protocol, k->ctype, 0, NULL, 0, HOP_CODE_DEADLINE_EXCEEDED,
                  "deadline exceeded", NULL, 0, NULL, 0, NULL, 0);
      rq_free(rq);
      return;
    }
    rq->deadline_us = hop_now_us() + timeout_us;
    /* The deadline may answer (and free |http|) while the handler still reads the request:
     * give the handler its own copies. */
    int rc = HOP_OK;
    if (!owned && len) {
      rq->msg_owned = malloc(len);
      if (rq->msg_owned) {
        memcpy(rq->msg_owned, msg, len);
        rq->msg = rq->msg_owned;
      } else {
        rc = HOP_ENOMEM;
      }
    }
    for (size_t i = 0; !rc && i < rq->nmd; i++)
      rc = hop_hdr_list_add(&rq->md_copy, rq->md[i].name, rq->md[i].name_len, rq->md[i].value,
                            rq->md[i].value_len, 0);
    rq->timer = rc ? NULL : malloc(sizeof(uv_timer_t));
    if (!rq->timer || uv_timer_init(rq->loop, rq->timer)) {
      rq_free(rq);
      hop_rpc_status_set(&st, HOP_CODE_RESOURCE_EXHAUSTED, "out of memory");
      reject(rs, http, k->protocol, k->ctype, &st, NULL, 0);
      return;
    }
    rq->md = rq->md_copy.v;
    rq->nmd = rq->md_copy.n;
    rq->timer->data = rq;
    atomic_init(&rq->refs, 2);
    uv_timer_start(rq->timer, on_deadline, (timeout_us + 999) / 1000, 0);
  }
  p->fn(rq, p->user_data);
}

static void on_http(hop_request *http, void *ud) {
  hop_rpc_proc *p = ud;
  hop_rpc_server *rs = p->rs;
  size_t max = rs->cfg.max_message_size;
  hop_rpc_status st;
  rpc_kind k = {HOP_RPC_CONNECT, HOP_CODEC_JSON, "application/json"};
  const char *method = hop_request_method(http);
  int is_get = !strcmp(method, "GET");
  size_t body_len = 0;
  const uint8_t *body = hop_request_body(http, &body_len);
  const uint8_t *msg = NULL;
  size_t msg_len = 0;
  uint8_t *owned = NULL;
  uint64_t timeout_us = 0;
  int has_timeout = 0, gzip_out = 0;
  hop_buf qb;
  hop_buf_init(&qb, max);
  rpc_hdrs hd;
  scan_headers(http, &hd);
  int is_post = !is_get && !strcmp(method, "POST");
  int unknown_type = is_post && classify(hd.ctype, &k); /* GET sets |k| from its query */

  size_t scratch;
  if (p->raw && (is_get ? !query_param(hop_request_query(http), "encoding", &scratch)
                        : !is_post || unknown_type)) {
    p->raw(http, p->raw_data);
    return;
  }
  if (is_get) {
    /* Connect GET: ?connect=v1&encoding=proto|json&base64=1&compression=gzip&message=... */
    if (!(p->flags & HOP_RPC_IDEMPOTENT)) {
      hop_header allow = HOP_HEADER("allow", "POST");
      hop_request_respond(http, 405, &allow, 1, NULL, 0, NULL, 0);
      return;
    }
    const char *q = hop_request_query(http);
    size_t l;
    const char *enc = query_param(q, "encoding", &l);
    k.protocol = HOP_RPC_CONNECT;
    if (enc && l == 5 && !strncmp(enc, "proto", 5)) {
      k.codec = HOP_CODEC_PROTO;
      k.ctype = "application/proto";
    } else if (enc && l == 4 && !strncmp(enc, "json", 4)) {
      k.codec = HOP_CODEC_JSON;
      k.ctype = "application/json";
    } else {
      hop_request_respond(http, 415, NULL, 0, NULL, 0, NULL, 0);
      return;
    }
    const char *cv = query_param(q, "connect", &l);
    if (cv && !(l == 2 && !strncmp(cv, "v1", 2))) {
      hop_rpc_status_set(&st, HOP_CODE_INVALID_ARGUMENT, "connect query parameter must be v1");
      goto bad;
    }
    const char *m = query_param(q, "message", &l);
    hop_buf raw;
    hop_buf_init(&raw, max * 2 + 16);
    if (m && hop_form_decode(&raw, m, l)) {
      hop_buf_free(&raw);
      hop_rpc_status_set(&st, HOP_CODE_RESOURCE_EXHAUSTED, "message query parameter too large");
      goto bad;
    }
    const char *b64 = query_param(q, "base64", &l);
    if (b64 && l == 1 && *b64 == '1') {
      if (hop_b64_decode(&qb, (const char *)raw.data, raw.len)) {
        hop_buf_free(&raw);
        hop_rpc_status_set(&st, HOP_CODE_INVALID_ARGUMENT, "message query parameter: bad base64");
        goto bad;
      }
      hop_buf_free(&raw);
    } else {
      hop_buf_free(&qb);
      qb = raw;
    }
    body = qb.data;
    body_len = qb.len;
    const char *comp = query_param(q, "compression", &l);
    char cbuf[16] = "";
    if (comp && l < sizeof(cbuf)) memcpy(cbuf, comp, l), cbuf[l] = 0;
    else if (comp) strcpy(cbuf, "?");
    hop_rpc_encoding e = hop_rpc_encoding_parse(cbuf);
    if (e == HOP_ENC_UNKNOWN) {
      hop_rpc_status_set(&st, HOP_CODE_UNIMPLEMENTED, "unknown compression \"%s\": supported: gzip", cbuf);
      goto bad;
    }
    if (body_len > max) {
      hop_rpc_status_set(&st, HOP_CODE_RESOURCE_EXHAUSTED,
                         "message of %zu bytes exceeds the limit of %zu bytes", body_len, max);
      goto bad;
    }
    if (e == HOP_ENC_GZIP) {
      size_t ol;
      if (hop_rpc_inflate(body, body_len, max, &owned, &ol, &st)) goto bad;
      msg = owned;
      msg_len = ol;
    } else {
      msg = body;
      msg_len = body_len;
    }
    if (msg && msg == qb.data) { /* the query buffer dies here: hand its bytes over */
      size_t n;
      owned = hop_buf_steal(&qb, &n);
      msg = owned;
    }
    gzip_out = hop_rpc_accepts_gzip(hd.accept_enc);
    if (connect_timeout(hd.connect_to, &st, &has_timeout, &timeout_us)) goto bad;
    goto checked;
  }

  if (!is_post) {
    hop_header allow = HOP_HEADER("allow", "POST");
    hop_request_respond(http, 405, &allow, 1, NULL, 0, NULL, 0);
    return;
  }
  if (unknown_type) {
    hop_header acc = HOP_HEADER("accept-post",
                                "application/proto, application/json, application/grpc, "
                                "application/grpc+proto, application/grpc+json, "
                                "application/grpc-web+proto, application/grpc-web+json");
    count(rs, HOP_CODE_UNKNOWN);
    hop_request_respond(http, 415, &acc, 1, NULL, 0, NULL, 0);
    return;
  }

  if (k.protocol == HOP_RPC_CONNECT) {
    const char *ver = hd.version;
    if (ver && strcmp(ver, "1")) {
      hop_rpc_status_set(&st, HOP_CODE_INVALID_ARGUMENT,
                         "connect-protocol-version must be \"1\": got \"%.32s\"", ver);
      goto bad;
    }
    hop_rpc_encoding e = hop_rpc_encoding_parse(hd.cenc);
    if (e == HOP_ENC_UNKNOWN) {
      hop_header ae = HOP_HEADER("accept-encoding", "gzip");
      hop_rpc_status_set(&st, HOP_CODE_UNIMPLEMENTED,
                         "unknown content-encoding \"%.32s\": supported: gzip", hd.cenc);
      hop_buf_free(&qb);
      reject(rs, http, k.protocol, k.ctype, &st, &ae, 1);
      return;
    }
    if (body_len > max) {
      hop_rpc_status_set(&st, HOP_CODE_RESOURCE_EXHAUSTED,
                         "message of %zu bytes exceeds the limit of %zu bytes", body_len, max);
      goto bad;
    }
    if (e == HOP_ENC_GZIP) {
      if (hop_rpc_inflate(body, body_len, max, &owned, &msg_len, &st)) goto bad;
      msg = owned;
    } else {
      msg = body;
      msg_len = body_len;
    }
    gzip_out = hop_rpc_accepts_gzip(hd.accept_enc);
    if (connect_timeout(hd.connect_to, &st, &has_timeout, &timeout_us)) goto bad;
  } else {
    if (k.protocol == HOP_RPC_GRPC && hop_request_protocol(http) != HOP_PROTO_H2C) {
      hop_rpc_status_set(&st, HOP_CODE_UNIMPLEMENTED,
                         "gRPC needs HTTP/2: use gRPC-Web or Connect over HTTP/1.1");
      goto bad;
    }
    const char *to = hd.grpc_to;
    if (to) {
      if (hop_rpc_parse_grpc_timeout(to, &timeout_us)) {
        hop_rpc_status_set(&st, HOP_CODE_INVALID_ARGUMENT,
                           "invalid grpc-timeout \"%.32s\": want 1 to 8 digits and a unit", to);
        goto bad;
      }
      has_timeout = 1;
    }
    const char *encname = hd.grpc_enc;
    hop_rpc_encoding e = hop_rpc_encoding_parse(encname);
    if (e == HOP_ENC_UNKNOWN) {
      hop_header ae = HOP_HEADER("grpc-accept-encoding", "gzip");
      hop_rpc_status_set(&st, HOP_CODE_UNIMPLEMENTED,
                         "unknown grpc-encoding \"%.32s\": supported: gzip", encname);
      hop_buf_free(&qb);
      reject(rs, http, k.protocol, k.ctype, &st, &ae, 1);
      return;
    }
    if (hop_env_decode_unary(body, body_len, e, max, 0, &msg, &msg_len, &owned, NULL, NULL, NULL, &st))
      goto bad;
    /* Answer compressed only to a client that compresses and says it accepts gzip. */
    gzip_out = e == HOP_ENC_GZIP &&
               hop_rpc_accepts_gzip(hd.grpc_accept);
  }
checked:
  if (k.codec == HOP_CODEC_JSON) {
    size_t at = 0;
    if (!hop_json_valid((const char *)msg, msg_len, &at)) {
      hop_rpc_status_set(&st, HOP_CODE_INVALID_ARGUMENT, "invalid JSON message at byte %zu", at);
      goto bad;
    }
  }
  hop_buf_free(&qb);
  dispatch(rs, p, http, &k, msg, msg_len, owned, timeout_us, has_timeout, gzip_out);
  return;
bad:
  free(owned);
  hop_buf_free(&qb);
  reject(rs, http, k.protocol, k.ctype, &st, NULL, 0);
}

static void on_unknown(hop_request *http, void *ud) {
  hop_rpc_server *rs = ud;
  rpc_kind k;
  if (classify(hop_request_header(http, "content-type"), &k)) {
    k.protocol = HOP_RPC_CONNECT;
    k.ctype = "application/json";
  }
  hop_rpc_status st;
  hop_rpc_status_set(&st, HOP_CODE_UNIMPLEMENTED, "unknown procedure %.128s",
                     hop_request_path(http));
  if (k.protocol == HOP_RPC_CONNECT) {
    /* Connect: a plain 404 that carries the unimplemented error body. */
    hop_buf b;
    hop_buf_init(&b, 4096);
    hop_connect_error_encode(&b, st.code, st.msg, NULL, 0);
    hop_header h = HOP_HEADER("content-type", "application/json");
    count(rs, st.code);
    hop_request_respond(http, 404, &h, 1, b.data, b.len, NULL, 0);
    hop_buf_free(&b);
    return;
  }
  reject(rs, http, k.protocol, k.ctype, &st, NULL, 0);
}

/* ---- setup ---- */
int hop_rpc_server_new(hop_rpc_server **out, hop_server *s, const hop_rpc_server_config *cfg) {
  if (!out || !s) return HOP_EINVAL;
  hop_rpc_server *rs = calloc(1, sizeof(*rs));
  if (!rs) return HOP_ENOMEM;
  rs->srv = s;
  if (cfg)
    rs->cfg = *cfg;
  else
    hop_rpc_server_config_init(&rs->cfg);
  if (!rs->cfg.max_message_size) rs->cfg.max_message_size = HOP_RPC_MAX_MESSAGE_DEFAULT;
  if (rs->cfg.handle_unknown) {
    int rc = hop_server_set_fallback(s, on_unknown, rs);
    if (rc) {
      free(rs);
      return rc;
    }
  }
  *out = rs;
  return HOP_OK;
}

void hop_rpc_server_free(hop_rpc_server *rs) {
  if (!rs) return;
  for (size_t i = 0; i < rs->nprocs; i++) {
    free(rs->procs[i]->path);
    free(rs->procs[i]);
  }
  free(rs->procs);
  free(rs);
}

int hop_rpc_server_handle(hop_rpc_server *rs, const char *procedure, hop_rpc_handler_fn fn,
                          void *user_data, unsigned flags) {
  if (!rs || !procedure || !fn || procedure[0] != '/' || !strchr(procedure + 1, '/'))
    return HOP_EINVAL;
  if (rs->nprocs >= HOP_RPC_MAX_PROCS) return HOP_ETOOBIG;
  hop_rpc_proc *p = calloc(1, sizeof(*p));
  hop_rpc_proc **np = realloc(rs->procs, (rs->nprocs + 1) * sizeof(*np));
  if (np) rs->procs = np;
  if (!p || !np || !(p->path = strdup(procedure))) {
    free(p);
    return HOP_ENOMEM;
  }
  p->rs = rs;
  p->fn = fn;
  p->user_data = user_data;
  p->flags = flags;
  int rc = hop_server_handle(rs->srv, procedure, on_http, p);
  if (rc) {
    free(p->path);
    free(p);
    return rc;
  }
  rs->procs[rs->nprocs++] = p;
  return HOP_OK;
}

int hop_rpc_server_set_raw(hop_rpc_server *rs, const char *procedure, hop_handler_fn fn,
                           void *user_data) {
  for (size_t i = 0; rs && procedure && i < rs->nprocs; i++) {
    if (!strcmp(rs->procs[i]->path, procedure)) {
      rs->procs[i]->raw = fn;
      rs->procs[i]->raw_data = user_data;
      return HOP_OK;
    }
  }
  return HOP_ENOTFOUND;
}

void hop_rpc_server_get_stats(hop_rpc_server *rs, hop_rpc_server_stats *out) {
  out->calls = atomic_load_explicit(&rs->calls, memory_order_relaxed);
  out->ok = atomic_load_explicit(&rs->ok, memory_order_relaxed);
  out->errors = atomic_load_explicit(&rs->errors, memory_order_relaxed);
  out->deadline_exceeded = atomic_load_explicit(&rs->deadline_exceeded, memory_order_relaxed);
}
