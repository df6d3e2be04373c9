/* RPC client: one unary call in Connect, gRPC or gRPC-Web over a hop_client.
 *
 * The request is framed here and handed to hop_call_start / hop_client_do (copied there);
 * the response (status, headers, body, trailers) is decoded into a hop_rpc_result that owns
 * its memory. A transport failure becomes the nearest code (hop_code_from_err). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/fmt.h"
#include "hopwire/error.h"
#include "hopwire/rpc.h"
#include "rpc/envelope.h"
#include "rpc/gzip.h"
#include "rpc/wire.h"

#define HOP_RPC_MAX_METADATA 256
#define HOP_RPC_GET_MAX_URL 8000 /* hop_url takes paths up to 8 KiB */

void hop_rpc_call_opts_init(hop_rpc_call_opts *o) {
  memset(o, 0, sizeof(*o));
  o->protocol = HOP_RPC_CONNECT;
  o->codec = HOP_CODEC_PROTO;
  o->gzip_min_bytes = 1024;
  o->max_message_size = HOP_RPC_MAX_MESSAGE_DEFAULT;
}

void hop_rpc_result_free(hop_rpc_result *r) {
  if (!r) return;
  free(r->error_message);
  hop_rpc_details_free(r->details, r->ndetails);
  free(r->message);
  hop_headers_free(r->headers, r->nheaders);
  hop_headers_free(r->trailers, r->ntrailers);
  memset(r, 0, sizeof(*r));
}

/* ---- request ---- */
#define HOP_RPC_URL_INLINE 512 /* base URL + procedure: on the stack up to this size */

/* Built per call without printf or a full clear (|h| is 8 KiB); hop_call_start copies what
 * it keeps. */
typedef struct rpc_req {
  char *url;                 /* url_inline or malloc'd */
  hop_buf body;              /* the envelope, or gzip's output; unused for a plain message */
  hop_header h[HOP_RPC_MAX_METADATA + 8];
  size_t nh;
  char timeout[24];
  hop_call_opts co;
  char url_inline[HOP_RPC_URL_INLINE];
} rpc_req;

static void req_free(rpc_req *r) {
  if (r->url != r->url_inline) free(r->url);
  hop_buf_free(&r->body);
}

/* Connect GET: the message rides in the URL, base64url without padding. */
static int get_url(rpc_req *r, int json, int gz, const void *msg, size_t len) {
  hop_buf u;
  hop_buf_init(&u, HOP_RPC_GET_MAX_URL);
  static const char q[] = "?connect=v1&encoding=";
  const char *enc = json ? "json" : "proto";
  const char *tail = gz ? "&base64=1&compression=gzip&message=" : "&base64=1&message=";
  int rc = hop_buf_append(&u, r->url, strlen(r->url));
  if (!rc) rc = hop_buf_append(&u, q, sizeof(q) - 1);
  if (!rc) rc = hop_buf_append(&u, enc, strlen(enc));
  if (!rc) rc = hop_buf_append(&u, tail, strlen(tail));
  if (!rc) rc = hop_b64_encode(&u, msg, len, HOP_B64_URL, 0);
  if (!rc) rc = hop_buf_append(&u, "", 1);
  if (!rc) {
    if (r->url != r->url_inline) free(r->url);
    size_t ul;
    r->url = (char *)hop_buf_steal(&u, &ul);
  }
  hop_buf_free(&u);
  return rc;
}

static int build_request(const hop_rpc_call_opts *o, rpc_req *r) {
  r->url = r->url_inline;
  r->url_inline[0] = '\0';
  r->nh = 0;
  hop_buf_init(&r->body, SIZE_MAX);
  if (o->target ? o->use_get : !o->base_url || !o->procedure || o->procedure[0] != '/')
    return HOP_EINVAL;
  if (o->nmetadata > HOP_RPC_MAX_METADATA || (o->nmetadata && !o->metadata)) return HOP_EINVAL;
  if (o->message_len && !o->message) return HOP_EINVAL;
  if (o->protocol < HOP_RPC_CONNECT || o->protocol > HOP_RPC_GRPC_WEB) return HOP_EINVAL;
  if (o->codec != HOP_CODEC_PROTO && o->codec != HOP_CODEC_JSON) return HOP_EINVAL;
  if (!o->target) {
    size_t bl = strlen(o->base_url);
    while (bl && o->base_url[bl - 1] == '/') bl--;
    size_t pl = strlen(o->procedure);
    if (bl + pl + 1 > HOP_RPC_URL_INLINE && !(r->url = malloc(bl + pl + 1))) {
      r->url = r->url_inline;
      return HOP_ENOMEM;
    }
    memcpy(r->url, o->base_url, bl);
    memcpy(r->url + bl, o->procedure, pl + 1);
  }

  int json = o->codec == HOP_CODEC_JSON;
  const void *msg = o->message ? o->message : "";
  size_t len = o->message_len;
  hop_buf z;
  hop_buf_init(&z, SIZE_MAX);
  int gz = o->gzip && len >= o->gzip_min_bytes && hop_gzip_compress(msg, len, &z) == HOP_OK;
  if (gz) {
    msg = z.data;
    len = z.len;
  }
  int rc = HOP_OK, get = 0;
  const void *body = msg; /* the caller's message as is unless framed or compressed */
  size_t body_len = len;
  hop_header *h = r->h;
  size_t n = 0;
  if (o->protocol == HOP_RPC_CONNECT) {
    h[n++] = json ? (hop_header)HOP_HEADER("content-type", "application/json")
                  : (hop_header)HOP_HEADER("content-type", "application/proto");
    h[n++] = (hop_header)HOP_HEADER("connect-protocol-version", "1");
    if (gz) h[n++] = (hop_header)HOP_HEADER("content-encoding", "gzip");
    if (!o->no_accept_gzip) h[n++] = (hop_header)HOP_HEADER("accept-encoding", "gzip");
    size_t tl = 0;
    if (o->timeout_ms) {
      uint64_t ms = o->timeout_ms > 9999999999ull ? 9999999999ull : o->timeout_ms;
      tl = hop_fmt_u64(r->timeout, ms);
      h[n++] = (hop_header){"connect-timeout-ms", 18, r->timeout, tl};
    }
    get = o->use_get;
    if (get) {
      /* A URL past HOP_RPC_GET_MAX_URL falls back to POST (as connect-go does). */
      rc = get_url(r, json, gz, msg, len);
      if (!rc) {
        n = 0; /* a GET carries no content headers */
        if (!o->no_accept_gzip) h[n++] = (hop_header)HOP_HEADER("accept-encoding", "gzip");
        if (o->timeout_ms) h[n++] = (hop_header){"connect-timeout-ms", 18, r->timeout, tl};
        body_len = 0;
      } else if (rc == HOP_ETOOBIG) {
        get = 0;
        rc = HOP_OK;
      }
    }
    if (!rc && !get && gz) { /* the compressed bytes outlive |z| in the request */
      hop_buf_free(&r->body);
      r->body = z;
      hop_buf_init(&z, SIZE_MAX);
      body = r->body.data;
    }
  } else {
    int web = o->protocol == HOP_RPC_GRPC_WEB;
    if (web) {
      h[n++] = json ? (hop_header)HOP_HEADER("content-type", "application/grpc-web+json")
                    : (hop_header)HOP_HEADER("content-type", "application/grpc-web+proto");
      h[n++] = (hop_header)HOP_HEADER("x-grpc-web", "1");
    } else {
      h[n++] = json ? (hop_header)HOP_HEADER("content-type", "application/grpc+json")
                    : (hop_header)HOP_HEADER("content-type", "application/grpc+proto");
      h[n++] = (hop_header)HOP_HEADER("te", "trailers");
    }
    if (gz) h[n++] = (hop_header)HOP_HEADER("grpc-encoding", "gzip");
    if (!o->no_accept_gzip) h[n++] = (hop_header)HOP_HEADER("grpc-accept-encoding", "gzip");
    if (o->timeout_ms) {
      size_t tl = hop_rpc_grpc_timeout_write(o->timeout_ms, r->timeout);
      h[n++] = (hop_header){"grpc-timeout", 12, r->timeout, tl};
    }
    rc = hop_env_write(&r->body, gz ? HOP_ENV_COMPRESSED : 0, msg, len);
    body = r->body.data;
    body_len = r->body.len;
  }
  hop_buf_free(&z);
  if (rc) return rc;
  h[n++] = (hop_header)HOP_HEADER("user-agent", "hopwire/0.1");
  for (size_t i = 0; i < o->nmetadata; i++) h[n++] = o->metadata[i];
  r->nh = n;
  r->co = (hop_call_opts){
      .method = get ? "GET" : "POST",
      .url = o->target ? NULL : r->url,
      .target = o->target,
      .headers = r->h,
      .nheaders = n,
      .body = body_len ? body : (const uint8_t *)"",
      .body_len = body_len,
      .timeout_ms = o->timeout_ms,
      .replayable = o->idempotent || get,
      /* gRPC needs HTTP/2: never let an AUTO client fall back to HTTP/1.1 for it */
      .http = o->protocol == HOP_RPC_GRPC && o->http == HOP_HTTP_AUTO ? HOP_HTTP_H2C : o->http,
  };
  return HOP_OK;
}

/* ---- response ---- */
/* Appends |src| to the lists *out (and, when |connect|, headers named "trailer-*" with the
 * prefix removed to *tout: Connect unary's trailers). */
static int copy_headers(const hop_header *src, size_t n, int connect, hop_header **out,
                        size_t *nout, hop_header **tout, size_t *ntout) {
  hop_hdr_list l = {.v = *out, .n = *nout, .cap = *nout};
  hop_hdr_list tl = {0};
  if (connect) tl = (hop_hdr_list){.v = *tout, .n = *ntout, .cap = *ntout};
  int rc = HOP_OK;
  for (size_t i = 0; i < n && rc == HOP_OK; i++) {
    if (connect && src[i].name_len > 8 && !strncasecmp(src[i].name, "trailer-", 8))
      rc = hop_hdr_list_add(&tl, src[i].name + 8, src[i].name_len - 8, src[i].value,
                            src[i].value_len, 1);
    else
      rc = hop_hdr_list_add(&l, src[i].name, src[i].name_len, src[i].value, src[i].value_len, 1);
  }
  *out = l.v;
  *nout = l.n;
  if (connect) {
    *tout = tl.v;
    *ntout = tl.n;
  }
  return rc;
}

static void set_error(hop_rpc_result *res, hop_code code, const char *msg) {
  res->code = code;
  free(res->error_message);
  res->error_message = strdup(msg ? msg : "");
}

static void take_error(hop_rpc_result *res, hop_rpc_err_data *e) {
  res->code = e->code;
  free(res->error_message);
  res->error_message = e->message;
  res->details = e->details;
  res->ndetails = e->ndetails;
  e->message = NULL;
  e->details = NULL;
  e->ndetails = 0;
}

static void set_message(hop_rpc_result *res, const uint8_t *p, size_t len, uint8_t *owned) {
  if (owned) {
    res->message = owned;
  } else {
    res->message = malloc(len ? len : 1);
    if (!res->message) {
      set_error(res, HOP_CODE_RESOURCE_EXHAUSTED, "out of memory");
      return;
    }
    if (len) memcpy(res->message, p, len);
  }
  res->message_len = len;
  res->code = HOP_CODE_OK;
}

static void http_error(hop_rpc_result *res, int status) {
  char m[64];
  snprintf(m, sizeof(m), "HTTP status %d", status);
  set_error(res, hop_code_from_http(status), m);
}

static void decode_connect(hop_rpc_result *res, const hop_rpc_call_opts *o, int status,
                           const uint8_t *body, size_t len) {
  hop_rpc_status st;
  const char *ce = hop_headers_get(res->headers, res->nheaders, "content-encoding", NULL);
  hop_rpc_encoding enc = hop_rpc_encoding_parse(ce);
  if (status == 200) {
    const char *ct = hop_headers_get(res->headers, res->nheaders, "content-type", NULL);
    const char *want = o->codec == HOP_CODEC_JSON ? "application/json" : "application/proto";
    if (!ct || strncasecmp(ct, want, strlen(want))) {
      char m[160];
      snprintf(m, sizeof(m), "unexpected response content-type \"%.64s\"", ct ? ct : "");
      set_error(res, HOP_CODE_INTERNAL, m);
      return;
    }
    if (enc == HOP_ENC_UNKNOWN) {
      set_error(res, HOP_CODE_INTERNAL, "response uses an unknown content-encoding");
      return;
    }
    if (enc == HOP_ENC_IDENTITY && len > o->max_message_size) {
      set_error(res, HOP_CODE_RESOURCE_EXHAUSTED, "response message over the limit");
      return;
    }
    uint8_t *out = NULL;
    size_t olen = len;
    if (enc == HOP_ENC_GZIP) {
      if (hop_rpc_inflate(body, len, o->max_message_size, &out, &olen, &st)) {
        set_error(res, st.code, st.msg);
        return;
      }
    }
    set_message(res, body, olen, out);
    return;
  }
  /* An error: a Connect JSON body, possibly compressed; else the HTTP mapping. */
  uint8_t *plain = NULL;
  size_t plen = len;
  if (enc == HOP_ENC_GZIP && !hop_gzip_decompress(body, len, 1 << 20, &plain, &plen)) body = plain;
  hop_rpc_err_data e;
  if (enc != HOP_ENC_UNKNOWN && hop_connect_error_decode(body, plen, &e) == HOP_OK)
    take_error(res, &e);
  else
    http_error(res, status);
  free(plain);
}

static void decode_grpc(hop_rpc_result *res, const hop_rpc_call_opts *o, int status,
                        const uint8_t *body, size_t len) {
  int web = o->protocol == HOP_RPC_GRPC_WEB;
  if (status != 200) {
    http_error(res, status);
    return;
  }
  hop_rpc_err_data e;
  const char *encname = hop_headers_get(res->headers, res->nheaders, "grpc-encoding", NULL);
  hop_rpc_encoding enc = hop_rpc_encoding_parse(encname);
  /* Trailers-only: the status came with the headers (and there is no message). */
  if (hop_headers_get(res->headers, res->nheaders, "grpc-status", NULL)) {
    if (hop_grpc_status_from_headers(res->headers, res->nheaders, &e)) {
      set_error(res, HOP_CODE_INTERNAL, "malformed grpc-status");
      return;
    }
    if (e.code != HOP_CODE_OK) {
      take_error(res, &e);
      return;
    }
    hop_rpc_err_data_free(&e);
    if (len == 0) {
      set_error(res, HOP_CODE_INTERNAL, "trailers-only response with status OK and no message");
      return;
    }
  }
  const uint8_t *msg = NULL, *tr = NULL;
  size_t mlen = 0, trlen = 0;
  uint8_t *owned = NULL, tflags = 0;
  hop_rpc_status st;
  int drc = HOP_OK;
  if (web) {
    /* The status is in the body's trailer frame: find it before judging the message. */
    drc = hop_env_decode_unary(body, len, enc, o->max_message_size, 1, &msg, &mlen, &owned, &tr,
                               &trlen, &tflags, &st);
    if (drc && !tr) {
      set_error(res, st.code == HOP_CODE_INVALID_ARGUMENT ? HOP_CODE_INTERNAL : st.code, st.msg);
      return;
    }
    uint8_t *tplain = NULL;
    if (tr && (tflags & HOP_ENV_COMPRESSED)) {
      size_t tl;
      if (enc != HOP_ENC_GZIP || hop_rpc_inflate(tr, trlen, 1 << 20, &tplain, &tl, &st)) {
        free(owned);
        set_error(res, HOP_CODE_INTERNAL, "undecodable compressed gRPC-Web trailer frame");
        return;
      }
      tr = tplain;
      trlen = tl;
    }
    if (!tr) {
      free(owned);
      set_error(res, HOP_CODE_INTERNAL, "gRPC-Web response without a trailer frame");
      return;
    }
    hop_hdr_list l = {0};
    int prc = hop_grpcweb_trailers_parse(tr, trlen, &l);
    free(tplain);
    if (prc) {
      hop_hdr_list_free(&l);
      free(owned);
      set_error(res, HOP_CODE_INTERNAL, "malformed gRPC-Web trailer frame");
      return;
    }
    hop_headers_free(res->trailers, res->ntrailers);
    res->trailers = l.v;
    res->ntrailers = l.n;
  }
  if (hop_grpc_status_from_headers(res->trailers, res->ntrailers, &e)) {
    free(owned);
    set_error(res, HOP_CODE_INTERNAL, "response without a valid grpc-status trailer");
    return;
  }
  if (e.code != HOP_CODE_OK) {
    free(owned);
    take_error(res, &e);
    return;
  }
  hop_rpc_err_data_free(&e);
  if (!web)
    drc = hop_env_decode_unary(body, len, enc, o->max_message_size, 0, &msg, &mlen, &owned, NULL,
                               NULL, NULL, &st);
  if (drc) {
    set_error(res, st.code == HOP_CODE_INVALID_ARGUMENT ? HOP_CODE_INTERNAL : st.code, st.msg);
    return;
  }
  if (!msg) {
    free(owned);
    set_error(res, HOP_CODE_INTERNAL, "status OK but no response message");
    return;
  }
  set_message(res, msg, mlen, owned);
}

/* Fills |res| from a finished HTTP call. */
static void decode(hop_rpc_result *res, const hop_rpc_call_opts *o, int err, int status,
                   const hop_header *h, size_t nh, const uint8_t *body, size_t len,
                   const hop_header *t, size_t nt) {
  memset(res, 0, sizeof(*res));
  res->err = err;
  if (err) {
    set_error(res, hop_code_from_err(err), hop_strerror(err));
    return;
  }
  res->http_status = status;
  if (copy_headers(h, nh, o->protocol == HOP_RPC_CONNECT, &res->headers, &res->nheaders,
                   &res->trailers, &res->ntrailers) ||
      copy_headers(t, nt, 0, &res->trailers, &res->ntrailers, NULL, NULL)) {
    set_error(res, HOP_CODE_RESOURCE_EXHAUSTED, "out of memory");
    return;
  }
  if (o->protocol == HOP_RPC_CONNECT)
    decode_connect(res, o, status, body, len);
  else
    decode_grpc(res, o, status, body, len);
  if (!res->error_message) res->error_message = strdup("");
}

/* ---- async ---- */
typedef struct rpc_async {
  hop_rpc_call_opts o; /* only protocol, codec and max_message_size are read later */
  hop_rpc_done_cb cb;
  void *user_data;
} rpc_async;

static void on_done(hop_call *call, int err, const hop_response *resp, void *ud) {
  rpc_async *a = ud;
  hop_rpc_result res;
  if (resp)
    decode(&res, &a->o, err, resp->status, resp->headers, resp->nheaders, resp->body,
           resp->body_len, resp->trailers, resp->ntrailers);
  else
    decode(&res, &a->o, err ? err : HOP_EPROTO, 0, NULL, 0, NULL, 0, NULL, 0);
  a->cb(&res, a->user_data);
  hop_rpc_result_free(&res);
  free(a);
}

int hop_rpc_call_start(hop_client *c, const hop_rpc_call_opts *o, hop_rpc_done_cb cb,
                       void *user_data, hop_call **out) {
  if (!c || !o || !cb) return HOP_EINVAL;
  rpc_req r;
  int rc = build_request(o, &r);
  if (rc) {
    req_free(&r);
    return rc;
  }
  rpc_async *a = malloc(sizeof(*a));
  if (!a) {
    req_free(&r);
    return HOP_ENOMEM;
  }
  a->o = *o;
  a->o.message = NULL;
  a->o.metadata = NULL;
  a->o.base_url = a->o.procedure = NULL;
  a->o.target = NULL;
  a->cb = cb;
  a->user_data = user_data;
  rc = hop_call_start(c, &r.co, on_done, a, out);
  req_free(&r); /* hop_call_start copied what it needs */
  if (rc) free(a);
  return rc;
}

int hop_rpc_call(hop_client *c, const hop_rpc_call_opts *o, hop_rpc_result *res) {
  if (!res) return HOP_EINVAL;
  memset(res, 0, sizeof(*res));
  if (!c || !o) {
    res->err = HOP_EINVAL;
    res->code = HOP_CODE_INVALID_ARGUMENT;
    return HOP_EINVAL;
  }
  rpc_req r;
  int rc = build_request(o, &r);
  if (rc) {
    req_free(&r);
    res->err = rc;
    res->code = hop_code_from_err(rc);
    return rc;
  }
  hop_result hr;
  memset(&hr, 0, sizeof(hr));
  rc = hop_client_do(c, &r.co, &hr);
  req_free(&r);
  decode(res, o, hr.err ? hr.err : rc, hr.status, hr.headers, hr.nheaders, hr.body, hr.body_len,
         hr.trailers, hr.ntrailers);
  hop_result_free(&hr);
  return HOP_OK;
}
