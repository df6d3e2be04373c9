/* libFuzzer: URL parsing (src/core/url.c) and the header values hopwire parses from a peer
 * (src/rpc/wire.c, envelope.c): Connect-Timeout-Ms, grpc-timeout, percent-encoded
 * grpc-message, form-encoded Connect GET values, base64 (-bin headers, Connect GET),
 * Content-Encoding and Accept-Encoding lists. The input is used as one NUL-terminated
 * string; encoders are checked to round-trip what the decoders accept. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/url.h"
#include "hopwire/error.h"
#include "rpc/envelope.h"
#include "rpc/wire.h"

static volatile size_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = 0;
  hop_url u;
  if (hop_url_parse(s, &u) == HOP_OK)
    sink += strlen(u.host) + strlen(u.authority) + strlen(u.path) + u.port;
  uint64_t v;
  if (hop_rpc_parse_connect_timeout(s, &v) == HOP_OK) sink += v;
  if (hop_rpc_parse_grpc_timeout(s, &v) == HOP_OK) {
    char buf[32];
    hop_rpc_format_grpc_timeout(v / 1000, buf, sizeof(buf));
    sink += strlen(buf);
  }
  sink += (size_t)hop_rpc_encoding_parse(s) + (size_t)hop_rpc_accepts_gzip(s);
  hop_buf a, b;
  hop_buf_init(&a, 1 << 20);
  hop_buf_init(&b, 1 << 20);
  if (hop_pct_decode(&a, (const char *)data, size) == HOP_OK) {
    /* what decodes re-encodes and decodes back to the same bytes */
    hop_buf c;
    hop_buf_init(&c, 1 << 20);
    if (hop_pct_encode(&b, (const char *)a.data, a.len) == HOP_OK &&
        hop_pct_decode(&c, (const char *)b.data, b.len) == HOP_OK &&
        (c.len != a.len || (a.len && memcmp(a.data, c.data, a.len))))
      abort();
    hop_buf_free(&c);
  }
  hop_buf_clear(&a);
  hop_buf_clear(&b);
  if (hop_form_decode(&a, (const char *)data, size) == HOP_OK) sink += a.len;
  hop_buf_clear(&a);
  if (hop_b64_decode(&a, (const char *)data, size) == HOP_OK) {
    hop_buf c;
    hop_buf_init(&c, 1 << 20);
    if (hop_b64_encode(&b, a.data, a.len, HOP_B64_URL, 0) == HOP_OK &&
        hop_b64_decode(&c, (const char *)b.data, b.len) == HOP_OK &&
        (c.len != a.len || (a.len && memcmp(a.data, c.data, a.len))))
      abort();
    hop_buf_free(&c);
  }
  hop_buf_free(&a);
  hop_buf_free(&b);
  free(s);
  return 0;
}
