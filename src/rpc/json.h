/* A tiny JSON reader: syntax validation (for request bodies) and the few walks the RPC layer
 * needs (Connect error bodies). No DOM; depth-limited; never reads past |len|. */
#ifndef HOP_RPC_JSON_H
#define HOP_RPC_JSON_H

#include <stddef.h>

#include "core/buf.h"

#define HOP_JSON_MAX_DEPTH 64

typedef struct hop_json {
  const char *p, *end;
  int depth;
} hop_json;

/* 1 if |p|/|len| is exactly one JSON value (RFC 8259) with optional surrounding whitespace.
 * On failure *at (may be NULL) is the offset of the first bad byte. */
int hop_json_valid(const char *p, size_t len, size_t *at);

void hop_json_init(hop_json *j, const char *p, size_t len);
void hop_json_ws(hop_json *j);
/* Consumes |c| after whitespace; 1 if it was there. */
int hop_json_eat(hop_json *j, char c);
/* Reads a string value, unescaping (\uXXXX to UTF-8, surrogate pairs) into |out|. 0 or -1. */
int hop_json_string(hop_json *j, hop_buf *out);
/* Skips any value. 0 or -1. */
int hop_json_skip(hop_json *j);
/* Appends |s| as a JSON string literal (quotes included) to |out|. */
int hop_json_quote(hop_buf *out, const char *s, size_t len);

#endif
