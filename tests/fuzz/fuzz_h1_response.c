/* libFuzzer: the client's HTTP/1.1 response parser (src/h1/h1_response.c) as conn_h1.c uses
 * it: pieces of the size the first input byte chooses, a response to HEAD when its low bit
 * of the second byte is set, keep-alive responses one after another, EOF at the end. */
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "h1/h1_response.h"
#include "hopwire/error.h"

typedef struct st {
  hop_buf body;
  size_t headers;
  int done;
} st;

static int on_header(void *ud, const char *n, size_t nl, const char *v, size_t vl) {
  ((st *)ud)->headers += nl + vl;
  return 0;
}
static int on_headers_done(void *ud, int status) { return status < 100 ? HOP_EHTTP : 0; }
static int on_body(void *ud, const char *p, size_t n) {
  return hop_buf_append(&((st *)ud)->body, p, n);
}
static int on_complete(void *ud, int keep_alive) {
  ((st *)ud)->done = 1;
  return 0;
}
static const hop_h1_resp_cbs cbs = {on_header, on_headers_done, on_body, on_complete};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  size_t chunk = data[0] ? data[0] : 4096;
  int head = data[1] & 1;
  data += 2;
  size -= 2;
  st s = {.headers = 0};
  hop_buf_init(&s.body, 64 * 1024);
  hop_h1_resp r = {0}; /* zeroed before the first init, as the client's calloc'd conn */
  hop_h1_resp_init(&r, &cbs, &s, 8192, head);
  size_t off = 0;
  int failed = 0;
  while (off < size && !failed) {
    size_t n = size - off < chunk ? size - off : chunk;
    long used = hop_h1_resp_feed(&r, (const char *)data + off, n);
    if (used < 0) {
      failed = 1;
      break;
    }
    off += (size_t)used;
    if (s.done) { /* keep-alive: the next response on the same connection (buffers kept) */
      hop_buf_clear(&s.body);
      s.done = 0;
      hop_h1_resp_init(&r, &cbs, &s, 8192, head);
    } else if (used == 0) {
      break;
    }
  }
  if (!failed) hop_h1_resp_eof(&r);
  hop_h1_resp_free(&r);
  hop_buf_free(&s.body);
  return 0;
}
