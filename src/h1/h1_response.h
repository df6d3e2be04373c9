/* Client side of HTTP/1.1: request serialisation and an incremental response parser on
 * http-parser. One parser per connection, used on that connection's loop only. */
#ifndef HOP_H1_RESPONSE_H
#define HOP_H1_RESPONSE_H

#include <http_parser.h>
#include <stddef.h>

#include "core/buf.h"
#include "hopwire/types.h"

/* Callbacks return 0, or a negative hop_err to stop parsing (hop_h1_resp_feed returns it). */
typedef struct hop_h1_resp_cbs {
  int (*on_header)(void *ud, const char *name, size_t nlen, const char *value, size_t vlen);
  int (*on_headers_done)(void *ud, int status);
  int (*on_body)(void *ud, const char *p, size_t n);
  int (*on_complete)(void *ud, int keep_alive);
} hop_h1_resp_cbs;

typedef struct hop_h1_resp {
  http_parser parser;
  const hop_h1_resp_cbs *cbs;
  void *ud;
  hop_buf name, value; /* a header field may arrive split over reads */
  int in_value;
  size_t header_bytes, max_header_bytes;
  int head_request; /* response to HEAD: no body whatever the headers say */
  int done;         /* message complete; the parser is paused */
  int err;          /* first callback error */
} hop_h1_resp;

/* Prepares |r| for one response. |max_header_bytes| caps the header section (HOP_ETOOBIG). */
void hop_h1_resp_init(hop_h1_resp *r, const hop_h1_resp_cbs *cbs, void *ud,
                      size_t max_header_bytes, int head_request);
/* Feeds bytes. Returns the bytes consumed (stops after a complete message: the rest is
 * not this response's), or a negative hop_err (HOP_EHTTP on malformed input). */
long hop_h1_resp_feed(hop_h1_resp *r, const char *data, size_t len);
/* The peer closed: completes a read-until-close body. 0, or HOP_ECONNRESET if the
 * message was cut short. */
int hop_h1_resp_eof(hop_h1_resp *r);
void hop_h1_resp_free(hop_h1_resp *r);

/* Appends "METHOD path HTTP/1.1", Host, the headers (connection-specific ones dropped),
 * Content-Length when there is a body or the method usually has one, and the body. */
int hop_h1_request_write(hop_buf *out, const char *method, const char *path,
                         const char *authority, const hop_header *hs, size_t n,
                         const void *body, size_t body_len);

#endif
