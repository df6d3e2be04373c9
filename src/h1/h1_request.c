#include "h1/h1_request.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hopwire/error.h"

#define FIELD_OVERHEAD 32 /* per header, as HTTP/2 counts it */
#define MAX_FIELDS 1000   /* bounds the field array whatever the byte cap */

static hop_h1_parser *P(http_parser *p) { return (hop_h1_parser *)p; }

static int fail(hop_h1_parser *hp, int status) {
  if (!hp->status) hp->status = status;
  return 1; /* makes http-parser stop with a callback error */
}

static int arena_add(hop_h1_parser *hp, const char *at, size_t len) {
  hp->head_bytes += len;
  if (hp->head_bytes > hp->max_head) return fail(hp, 431);
  int rv = hop_buf_append(&hp->req.arena, at, len);
  if (rv == HOP_ETOOBIG) return fail(hp, 431);
  if (rv) return fail(hp, 500);
  return 0;
}

static int arena_nul(hop_h1_parser *hp) {
  char z = 0;
  int rv = hop_buf_append(&hp->req.arena, &z, 1);
  if (rv == HOP_ETOOBIG) return fail(hp, 431);
  return rv ? fail(hp, 500) : 0;
}

static int on_message_begin(http_parser *p) {
  hop_h1_parser *hp = P(p);
  hp->state = HOP_H1_HEAD;
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  hop_h1_parser *hp = P(p);
  hp->req.url_len += len;
  return arena_add(hp, at, len);
}

static int check_field(hop_h1_parser *hp, const hop_h1_field *f) {
  const char *name = hop_h1_str(&hp->req, f->name_off);
  const char *value = hop_h1_str(&hp->req, f->value_off);
  if (!strcmp(name, "content-length")) {
    if (++hp->cl_count > 1) return fail(hp, 400);
  } else if (!strcmp(name, "transfer-encoding")) {
    hp->te_count++;
    /* Only a bare "chunked" is accepted: "chunked, identity", "gzip, chunked" ... are
     * classic smuggling shapes. */
    size_t vl = f->value_len;
    while (vl && (value[vl - 1] == ' ' || value[vl - 1] == '\t')) vl--;
    size_t i = 0;
    while (i < vl && (value[i] == ' ' || value[i] == '\t')) i++;
    if (vl - i != 7 || strncasecmp(value + i, "chunked", 7) != 0) hp->te_bad = 1;
  } else if (!strcmp(name, "host")) {
    hp->host_count++;
  } else if (!strcmp(name, "expect")) {
    if (!strcasecmp(value, "100-continue")) hp->req.expect_continue = 1;
  }
  return 0;
}

/* Ends the value in progress: NUL-terminates it and applies the per-field checks. */
static int finish_field(hop_h1_parser *hp) {
  if (hp->last_cb != 2) return 0;
  hop_h1_field *f = &hp->req.fields[hp->req.nfields - 1];
  f->value_len = hp->req.arena.len - f->value_off;
  if (arena_nul(hp)) return 1;
  hp->last_cb = 0;
  return check_field(hp, f);
}

/* Chunked trailers come through the header callbacks after the head is done: they are no
 * request headers (and were never checked as such). Counted against the head cap, not kept. */
static int trailer_bytes(hop_h1_parser *hp, size_t len) {
  hp->head_bytes += len;
  return hp->head_bytes > hp->max_head ? fail(hp, 431) : 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
  hop_h1_parser *hp = P(p);
  hop_h1_request *r = &hp->req;
  if (hp->state == HOP_H1_BODY) return trailer_bytes(hp, len);
  if (hp->last_cb != 1) {
    if (finish_field(hp)) return 1;
    if (r->nfields == MAX_FIELDS) return fail(hp, 431);
    if (r->nfields == r->fields_cap) {
      size_t ncap = r->fields_cap ? r->fields_cap * 2 : 16;
      hop_h1_field *nf = realloc(r->fields, ncap * sizeof(*nf));
      if (!nf) return fail(hp, 500);
      r->fields = nf;
      r->fields_cap = ncap;
    }
    hop_h1_field *f = &r->fields[r->nfields++];
    memset(f, 0, sizeof(*f));
    f->name_off = r->arena.len;
    hp->head_bytes += FIELD_OVERHEAD;
    hp->last_cb = 1;
  }
  /* Non-strict http-parser lets a space (and more) into a name: only tchar (RFC 9110 5.6.2). */
  static const char tchar_extra[] = "!#$%&'*+-.^_`|~";
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)at[i];
    if (!isalnum(ch) && !(ch && strchr(tchar_extra, ch))) return fail(hp, 400);
  }
  size_t start = r->arena.len;
  if (arena_add(hp, at, len)) return 1;
  for (size_t i = start; i < r->arena.len; i++) r->arena.data[i] = (uint8_t)tolower(r->arena.data[i]);
  return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
  hop_h1_parser *hp = P(p);
  hop_h1_request *r = &hp->req;
  if (hp->state == HOP_H1_BODY) return trailer_bytes(hp, len);
  if (hp->last_cb == 1) {
    hop_h1_field *f = &r->fields[r->nfields - 1];
    f->name_len = r->arena.len - f->name_off;
    if (arena_nul(hp)) return 1;
    f->value_off = r->arena.len;
    hp->last_cb = 2;
  }
  return arena_add(hp, at, len);
}

/* Here 1 and 2 mean "skip body" / "upgrade" to http-parser: errors must be -1. */
static int on_headers_complete(http_parser *p) {
  hop_h1_parser *hp = P(p);
  hop_h1_request *r = &hp->req;
  if (hp->last_cb == 1) return -fail(hp, 400); /* a name without a value */
  if (finish_field(hp)) return -1;
  /* URL, then method, NUL-terminated at the end of the arena. */
  if (hp->req.url_len == 0) return -fail(hp, 400);
  if (hp->cl_count && hp->te_count) return -fail(hp, 400);
  if (hp->te_count > 1 || hp->te_bad) return -fail(hp, 400);
  /* RFC 9112 3.2: exactly one Host in HTTP/1.1 (HTTP/1.0 may omit it). */
  if (hp->host_count > 1 || (!hp->host_count && p->http_major == 1 && p->http_minor >= 1))
    return -fail(hp, 400);
  /* The URL is the first thing in the arena (it precedes every header). */
  r->url_off = 0;
  const char *m = http_method_str((enum http_method)p->method);
  /* Shift nothing: append method after headers; the URL keeps offset 0 but needs its own
   * terminator, which on_url could not add. Re-append the URL terminated instead. */
  size_t moff = r->arena.len;
  if (hop_buf_append(&r->arena, m, strlen(m) + 1)) return -fail(hp, 431);
  r->method_off = moff;
  size_t uoff = r->arena.len;
  if (hop_buf_reserve(&r->arena, r->url_len + 1)) return -fail(hp, 431);
  memcpy(r->arena.data + uoff, r->arena.data, r->url_len);
  r->arena.data[uoff + r->url_len] = 0;
  r->arena.len += r->url_len + 1;
  r->url_off = uoff;
  if (p->content_length != ULLONG_MAX && p->content_length > 0 &&
      (uint64_t)p->content_length > hp->max_body)
    return -fail(hp, 413);
  int has_body = (p->flags & F_CHUNKED) || (p->content_length != ULLONG_MAX && p->content_length > 0);
  if (!has_body) r->expect_continue = 0;
  hp->state = HOP_H1_BODY;
  hp->head_done_cb = 1;
  return 0;
}

/* Checks the CRLF owed after chunk data against the bytes [at, end). */
static int check_crlf(hop_h1_parser *hp, const char *at, const char *end) {
  while (hp->crlf_need && at < end) {
    if (*at++ != (hp->crlf_need == 2 ? '\r' : '\n')) return fail(hp, 400);
    hp->crlf_need--;
  }
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  hop_h1_parser *hp = P(p);
  int rv = hop_buf_append(&hp->req.body, at, len);
  if (rv == HOP_ETOOBIG) return fail(hp, 413);
  if (rv) return fail(hp, 500);
  /* End of a chunk's data (the parser counts it down before calling us): the next two
   * bytes must be CRLF. Peeking is safe, the parser has not gone past |at + len| yet. */
  if ((p->flags & F_CHUNKED) && p->content_length == 0) {
    hp->crlf_need = 2;
    return check_crlf(hp, at + len, hp->feed_end);
  }
  return 0;
}

static int on_message_complete(http_parser *p) {
  hop_h1_parser *hp = P(p);
  hp->req.keep_alive = http_should_keep_alive(p);
  hp->state = HOP_H1_COMPLETE;
  http_parser_pause(p, 1); /* one request at a time: answers go out in order */
  return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void reset_request(hop_h1_parser *hp) {
  hop_h1_request *r = &hp->req;
  hop_buf_clear(&r->arena);
  hop_buf_clear(&r->body);
  r->nfields = 0;
  r->method_off = r->url_off = r->url_len = 0;
  r->keep_alive = 0;
  r->expect_continue = 0;
  hp->head_bytes = 0;
  hp->last_cb = 0;
  hp->cl_count = hp->te_count = hp->te_bad = hp->host_count = 0;
  hp->crlf_need = 0;
  hp->scan_prev = 0;
  hp->scan_nl = hp->scan_token = hp->scan_done = 0;
  hp->head_done_cb = 0;
  hp->status = 0;
  hp->state = HOP_H1_IDLE;
  http_parser_init(&hp->p, HTTP_REQUEST);
}

void hop_h1_parser_init(hop_h1_parser *hp, size_t max_head, size_t max_body) {
  memset(hp, 0, sizeof(*hp));
  hp->max_head = max_head;
  hp->max_body = max_body;
  /* The arena also holds a copy of the URL and the method name. */
  hop_buf_init(&hp->req.arena, max_head * 2 + 64);
  hop_buf_init(&hp->req.body, max_body);
  reset_request(hp);
}

void hop_h1_parser_free(hop_h1_parser *hp) {
  hop_buf_free(&hp->req.arena);
  hop_buf_free(&hp->req.body);
  free(hp->req.fields);
  hp->req.fields = NULL;
  hp->req.nfields = hp->req.fields_cap = 0;
}

/* Every LF of the head must follow a CR (the parser, non-strict, takes a bare LF). Scans
 * up to the blank line ending the head; the parser has not seen these bytes yet. */
static int scan_head(hop_h1_parser *hp, const char *data, size_t len) {
  for (size_t i = 0; i < len; i++) {
    char ch = data[i];
    if (ch == '\n') {
      if (hp->scan_prev != '\r') return 1;
      if (++hp->scan_nl == 2 && hp->scan_token) {
        hp->scan_done = 1;
        return 0;
      }
    } else if (ch != '\r') {
      hp->scan_nl = 0;
      hp->scan_token = 1;
    }
    hp->scan_prev = ch;
  }
  return 0;
}

size_t hop_h1_parser_feed(hop_h1_parser *hp, const char *data, size_t len) {
  if (hp->state == HOP_H1_COMPLETE || hp->state == HOP_H1_ERROR || len == 0) return 0;
  if (hp->crlf_need && check_crlf(hp, data, data + len)) {
    hp->state = HOP_H1_ERROR;
    return 0;
  }
  if (!hp->scan_done && (hp->state == HOP_H1_IDLE || hp->state == HOP_H1_HEAD) &&
      scan_head(hp, data, len)) {
    hp->status = 400;
    hp->state = HOP_H1_ERROR;
    return 0;
  }
  hp->feed_end = data + len;
  size_t n = http_parser_execute(&hp->p, &settings, data, len);
  enum http_errno e = HTTP_PARSER_ERRNO(&hp->p);
  if (e == HPE_PAUSED) return n;
  if (e != HPE_OK) {
    if (!hp->status) hp->status = e == HPE_HEADER_OVERFLOW ? 431 : 400;
    hp->state = HOP_H1_ERROR;
    return n;
  }
  if (hp->p.upgrade && hp->state != HOP_H1_COMPLETE) {
    /* CONNECT or an upgrade with a body in another protocol: not served here. */
    hp->status = 400;
    hp->state = HOP_H1_ERROR;
  }
  return n;
}

void hop_h1_parser_next(hop_h1_parser *hp) {
  /* Re-initialising per request also forgets an `Upgrade: h2c` (answered as HTTP/1.1). */
  if (hp->req.body.data == NULL) hop_buf_init(&hp->req.body, hp->max_body);
  if (hp->req.arena.data == NULL) hop_buf_init(&hp->req.arena, hp->max_head * 2 + 64);
  reset_request(hp);
}
