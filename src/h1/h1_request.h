/* HTTP/1.1 request parsing for the server, on http-parser, with the limits and the
 * request-smuggling rules enforced here (never pick one of two framings):
 *   - Content-Length together with Transfer-Encoding -> 400
 *   - two Content-Length headers (even equal ones)    -> 400
 *   - Transfer-Encoding other than exactly "chunked"  -> 400
 *   - bad chunk sizes and any other syntax error       -> 400
 *   - chunk data not followed by CRLF                  -> 400
 *   - a bare LF line ending in the request head        -> 400
 *   - a header name with a byte outside tchar          -> 400
 *   - HTTP/1.1 without Host, or two Host fields        -> 400 (RFC 9112 3.2)
 *   - request head over |max_head| bytes               -> 431
 *   - body over |max_body| bytes (declared or chunked) -> 413
 * After an error the connection must be closed (the parser state is unusable).
 *
 * Strings are collected into one arena; header names are lower-cased.
 * Threads: a parser belongs to one connection on one loop. */
#ifndef HOP_H1_REQUEST_H
#define HOP_H1_REQUEST_H

#include <http_parser.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

typedef struct hop_h1_field {
  size_t name_off, name_len, value_off, value_len; /* into arena; each NUL-terminated */
} hop_h1_field;

/* A parsed request. Ownership of |arena| and |body| may be taken by the caller (steal them
 * with hop_buf_steal) before hop_h1_parser_next(). */
typedef struct hop_h1_request {
  hop_buf arena;       /* method, url and header strings, NUL-terminated */
  size_t method_off;   /* into arena */
  size_t url_off, url_len;
  hop_h1_field *fields; /* owned */
  size_t nfields, fields_cap;
  hop_buf body;
  int keep_alive;      /* from http_should_keep_alive() */
  int expect_continue; /* "Expect: 100-continue" with a body to come */
} hop_h1_request;

typedef enum hop_h1_state {
  HOP_H1_IDLE = 0,  /* no byte of the next request yet */
  HOP_H1_HEAD,      /* inside the request head */
  HOP_H1_BODY,      /* head done, body incoming */
  HOP_H1_COMPLETE,  /* a whole request is ready */
  HOP_H1_ERROR      /* see hop_h1_parser.status */
} hop_h1_state;

typedef struct hop_h1_parser {
  http_parser p;
  size_t max_head, max_body;
  size_t head_bytes;
  hop_h1_state state;
  int status;      /* HTTP status for HOP_H1_ERROR (400, 413, 431, 500) */
  int last_cb;     /* 0 none, 1 field, 2 value (pieces may arrive split) */
  int cl_count, te_count, te_bad;
  int head_done_cb; /* headers just completed during the last feed (Expect handling) */
  /* Debian's http-parser is built non-strict: it takes any 2 bytes after chunk data as the
   * CRLF. We check them ourselves: |crlf_need| bytes of "\r\n" still to see (2, 1, 0), from
   * the end of the chunk data, possibly in the next feed. |feed_end| ends the current feed. */
  int crlf_need;
  int host_count;
  /* Head line endings: http-parser takes a bare LF; we scan the head ourselves (last byte,
   * LFs in a row, a non-CRLF byte seen, head end reached). */
  char scan_prev;
  int scan_nl, scan_token, scan_done;
  const char *feed_end;
  hop_h1_request req;
} hop_h1_parser;

void hop_h1_parser_init(hop_h1_parser *hp, size_t max_head, size_t max_body);
void hop_h1_parser_free(hop_h1_parser *hp);
/* Feeds bytes; stops right after a complete request or at an error. Returns the bytes
 * consumed. Check ->state afterwards. Feeding in state COMPLETE or ERROR consumes nothing. */
size_t hop_h1_parser_feed(hop_h1_parser *hp, const char *data, size_t len);
/* After COMPLETE (and after taking what the caller wants from ->req): ready for the next
 * request on the same connection. */
void hop_h1_parser_next(hop_h1_parser *hp);
/* Convenience accessors into the arena. */
static inline const char *hop_h1_str(const hop_h1_request *r, size_t off) {
  return (const char *)r->arena.data + off;
}

#endif
