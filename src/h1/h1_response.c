#include "h1/h1_response.h"

#include <string.h>
#include <strings.h>

#include "hopwire/error.h"

static hop_h1_resp *R(http_parser *p) { return (hop_h1_resp *)p->data; }

static int fail(hop_h1_resp *r, int err) {
  if (!r->err) r->err = err;
  return -1;
}

static int emit_header(hop_h1_resp *r) {
  if (!r->in_value && r->name.len == 0) return 0;
  int rv = r->cbs->on_header(r->ud, (const char *)r->name.data, r->name.len,
                             r->value.len ? (const char *)r->value.data : "", r->value.len);
  hop_buf_clear(&r->name);
  hop_buf_clear(&r->value);
  r->in_value = 0;
  return rv ? fail(r, rv) : 0;
}

static int count(hop_h1_resp *r, size_t n) {
  r->header_bytes += n;
  return r->header_bytes > r->max_header_bytes ? fail(r, HOP_ETOOBIG) : 0;
}

static int on_field(http_parser *p, const char *at, size_t n) {
  hop_h1_resp *r = R(p);
  if (r->in_value && emit_header(r)) return -1;
  if (count(r, n + 4)) return -1;
  return hop_buf_append(&r->name, at, n) ? fail(r, HOP_ETOOBIG) : 0;
}

static int on_value(http_parser *p, const char *at, size_t n) {
  hop_h1_resp *r = R(p);
  r->in_value = 1;
  if (count(r, n)) return -1;
  return hop_buf_append(&r->value, at, n) ? fail(r, HOP_ETOOBIG) : 0;
}

static int on_headers_complete(http_parser *p) {
  hop_h1_resp *r = R(p);
  if (emit_header(r)) return -1;
  if (p->status_code >= 100 && p->status_code < 200) return 0; /* interim; next head follows */
  int rv = r->cbs->on_headers_done(r->ud, p->status_code);
  if (rv) return fail(r, rv);
  return r->head_request ? 1 : 0; /* 1: skip the body */
}

static int on_body(http_parser *p, const char *at, size_t n) {
  hop_h1_resp *r = R(p);
  int rv = r->cbs->on_body(r->ud, at, n);
  return rv ? fail(r, rv) : 0;
}

static int on_message_complete(http_parser *p) {
  hop_h1_resp *r = R(p);
  if (p->status_code >= 100 && p->status_code < 200) return 0;
  r->done = 1;
  int rv = r->cbs->on_complete(r->ud, http_should_keep_alive(p));
  if (rv) return fail(r, rv);
  http_parser_pause(p, 1);
  return 0;
}

static const http_parser_settings settings = {
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void hop_h1_resp_init(hop_h1_resp *r, const hop_h1_resp_cbs *cbs, void *ud,
                      size_t max_header_bytes, int head_request) {
  http_parser_init(&r->parser, HTTP_RESPONSE);
  r->parser.data = r;
  r->cbs = cbs;
  r->ud = ud;
  if (r->name.max == 0) { /* first use; later inits keep the buffers */
    hop_buf_init(&r->name, max_header_bytes + 1);
    hop_buf_init(&r->value, max_header_bytes + 1);
  }
  hop_buf_clear(&r->name);
  hop_buf_clear(&r->value);
  r->in_value = 0;
  r->header_bytes = 0;
  r->max_header_bytes = max_header_bytes;
  r->head_request = head_request;
  r->done = 0;
  r->err = 0;
}

long hop_h1_resp_feed(hop_h1_resp *r, const char *data, size_t len) {
  if (r->done) return 0;
  size_t n = http_parser_execute(&r->parser, &settings, data, len);
  if (r->err) return r->err;
  enum http_errno e = HTTP_PARSER_ERRNO(&r->parser);
  if (e == HPE_PAUSED) {
    http_parser_pause(&r->parser, 0);
    return (long)n;
  }
  if (e != HPE_OK) return HOP_EHTTP;
  return (long)n;
}

int hop_h1_resp_eof(hop_h1_resp *r) {
  if (r->done) return HOP_OK;
  http_parser_execute(&r->parser, &settings, NULL, 0);
  if (r->err) return r->err;
  return r->done ? HOP_OK : HOP_ECONNRESET;
}

void hop_h1_resp_free(hop_h1_resp *r) {
  hop_buf_free(&r->name);
  hop_buf_free(&r->value);
}

static int skip_header(const hop_header *h) {
  static const char *const drop[] = {"host", "connection", "keep-alive", "proxy-connection",
                                     "transfer-encoding", "upgrade", "content-length"};
  for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
    if (h->name_len == strlen(drop[i]) && strncasecmp(h->name, drop[i], h->name_len) == 0)
      return 1;
  return 0;
}

static int has_crlf(const char *s, size_t n) {
  return memchr(s, '\r', n) != NULL || memchr(s, '\n', n) != NULL;
}

int hop_h1_request_write(hop_buf *out, const char *method, const char *path,
                         const char *authority, const hop_header *hs, size_t n,
                         const void *body, size_t body_len) {
  int rv = hop_buf_appendf(out, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, path, authority);
  for (size_t i = 0; !rv && i < n; i++) {
    if (skip_header(&hs[i])) continue;
    if (has_crlf(hs[i].name, hs[i].name_len) || has_crlf(hs[i].value, hs[i].value_len))
      return HOP_EINVAL; /* header injection */
    rv = hop_buf_append(out, hs[i].name, hs[i].name_len);
    if (!rv) rv = hop_buf_append(out, ": ", 2);
    if (!rv) rv = hop_buf_append(out, hs[i].value, hs[i].value_len);
    if (!rv) rv = hop_buf_append(out, "\r\n", 2);
  }
  int bodyful = body_len > 0 || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
                strcmp(method, "PATCH") == 0;
  if (!rv && bodyful) rv = hop_buf_appendf(out, "Content-Length: %zu\r\n", body_len);
  if (!rv) rv = hop_buf_append(out, "\r\n", 2);
  if (!rv && body_len) rv = hop_buf_append(out, body, body_len);
  return rv;
}
