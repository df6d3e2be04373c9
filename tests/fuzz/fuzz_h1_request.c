/* libFuzzer: the HTTP/1.1 request parser (src/h1/h1_request.c) fed the way the server's
 * connection feeds it (server_h1.c pump): bytes arrive in pieces of the size the first
 * input byte chooses, unconsumed bytes wait for the next piece, pipelined requests follow
 * each other. Every field of a complete request is read back (ASan sees a bad offset). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "h1/h1_request.h"

static volatile size_t sink;

static void touch(const hop_h1_parser *hp) {
  const hop_h1_request *r = &hp->req;
  size_t n = strlen(hop_h1_str(r, r->method_off)) + r->url_len;
  for (size_t i = 0; i < r->nfields; i++)
    n += strlen(hop_h1_str(r, r->fields[i].name_off)) +
         strlen(hop_h1_str(r, r->fields[i].value_off)) + r->fields[i].value_len;
  for (size_t i = 0; i < r->body.len; i++) n += r->body.data[i];
  sink += n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  size_t chunk = data[0] ? data[0] : 4096;
  data++;
  size--;
  hop_h1_parser hp;
  hop_h1_parser_init(&hp, 4096, 16384);
  hop_buf in;
  hop_buf_init(&in, 1 << 20);
  int stop = 0;
  for (size_t off = 0; off < size && !stop; off += chunk) {
    size_t n = size - off < chunk ? size - off : chunk;
    if (hop_buf_append(&in, data + off, n)) break;
    while (in.len) {
      size_t used = hop_h1_parser_feed(&hp, (const char *)in.data, in.len);
      hop_buf_consume(&in, used);
      if (hp.state == HOP_H1_ERROR) {
        stop = 1;
        break;
      }
      if (hp.state == HOP_H1_COMPLETE) {
        touch(&hp);
        hop_h1_parser_next(&hp);
        continue;
      }
      if (used == 0) break;
    }
  }
  hop_h1_parser_free(&hp);
  hop_buf_free(&in);
  return 0;
}
