/* Envelope framing and unary decoding with precise errors. */
#include "rpc/envelope.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hopwire/error.h"
#include "rpc/gzip.h"

hop_rpc_encoding hop_rpc_encoding_parse(const char *v) {
  if (!v || !*v || !strcasecmp(v, "identity")) return HOP_ENC_IDENTITY;
  if (!strcasecmp(v, "gzip")) return HOP_ENC_GZIP;
  return HOP_ENC_UNKNOWN;
}

int hop_rpc_accepts_gzip(const char *list) {
  if (!list) return 0;
  const char *p = list;
  while (*p) {
    while (*p == ' ' || *p == ',' || *p == '\t') p++;
    const char *tok = p;
    while (*p && *p != ',' && *p != ';' && *p != ' ') p++;
    size_t n = (size_t)(p - tok);
    int gz = (n == 4 && !strncasecmp(tok, "gzip", 4)) || (n == 1 && *tok == '*');
    int q0 = 0;
    while (*p && *p != ',') {
      if (*p == 'q' && p[1] == '=') {
        double q = strtod(p + 2, NULL);
        q0 = q <= 0.0;
      }
      p++;
    }
    if (gz && !q0) return 1;
  }
  return 0;
}

void hop_rpc_status_set(hop_rpc_status *st, hop_code code, const char *fmt, ...) {
  if (!st) return;
  st->code = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
  va_end(ap);
}

int hop_env_write(hop_buf *out, uint8_t flags, const void *msg, size_t len) {
  if (len > 0xffffffffu) return HOP_ETOOBIG;
  uint8_t h[HOP_ENV_HEADER] = {flags, (uint8_t)(len >> 24), (uint8_t)(len >> 16),
                               (uint8_t)(len >> 8), (uint8_t)len};
  int rc = hop_buf_reserve(out, sizeof(h) + len);
  if (rc) return rc;
  hop_buf_append(out, h, sizeof(h));
  if (len) hop_buf_append(out, msg, len);
  return HOP_OK;
}

int hop_env_next(const uint8_t *p, size_t len, size_t *off, uint8_t *flags,
                 const uint8_t **msg, size_t *msg_len) {
  size_t o = *off;
  if (o == len) return 0;
  if (len - o < HOP_ENV_HEADER) return -1;
  uint32_t n = (uint32_t)p[o + 1] << 24 | (uint32_t)p[o + 2] << 16 | (uint32_t)p[o + 3] << 8 |
               (uint32_t)p[o + 4];
  if (n > len - o - HOP_ENV_HEADER) return -1;
  *flags = p[o];
  *msg = p + o + HOP_ENV_HEADER;
  *msg_len = n;
  *off = o + HOP_ENV_HEADER + n;
  return 1;
}

int hop_rpc_inflate(const uint8_t *in, size_t len, size_t max, uint8_t **out, size_t *out_len,
                    hop_rpc_status *st) {
  int rc = hop_gzip_decompress(in, len, max, out, out_len);
  if (rc == HOP_ETOOBIG)
    hop_rpc_status_set(st, HOP_CODE_RESOURCE_EXHAUSTED,
                       "message larger than %zu bytes after decompression", max);
  else if (rc == HOP_ENOMEM)
    hop_rpc_status_set(st, HOP_CODE_RESOURCE_EXHAUSTED, "out of memory decompressing message");
  else if (rc)
    hop_rpc_status_set(st, HOP_CODE_INVALID_ARGUMENT, "invalid gzip data in message");
  return rc;
}

int hop_env_decode_unary(const uint8_t *body, size_t len, hop_rpc_encoding enc, size_t max,
                         int allow_trailer, const uint8_t **msg, size_t *msg_len,
                         uint8_t **owned, const uint8_t **trailer, size_t *trailer_len,
                         uint8_t *trailer_flags, hop_rpc_status *st) {
  *owned = NULL;
  if (trailer) {
    *trailer = NULL;
    *trailer_len = 0;
  }
  if (enc == HOP_ENC_UNKNOWN) {
    hop_rpc_status_set(st, HOP_CODE_UNIMPLEMENTED, "unknown message encoding (supported: gzip)");
    return HOP_EUNSUPPORTED;
  }
  size_t off = 0;
  int have_data = 0;
  const uint8_t *data = NULL;
  size_t data_len = 0;
  uint8_t data_flags = 0;
  for (;;) {
    /* Check the declared length against the limit before anything is allocated. */
    if (len - off >= HOP_ENV_HEADER) {
      uint32_t n = (uint32_t)body[off + 1] << 24 | (uint32_t)body[off + 2] << 16 |
                   (uint32_t)body[off + 3] << 8 | (uint32_t)body[off + 4];
      if (!(body[off] & HOP_ENV_TRAILER) && n > max) {
        hop_rpc_status_set(st, HOP_CODE_RESOURCE_EXHAUSTED,
                           "message of %u bytes exceeds the limit of %zu bytes", n, max);
        return HOP_ETOOBIG;
      }
    }
    uint8_t flags;
    const uint8_t *m;
    size_t mlen;
    size_t at = off;
    int r = hop_env_next(body, len, &off, &flags, &m, &mlen);
    if (r == 0) break;
    if (r < 0) {
      if (len - at < HOP_ENV_HEADER)
        hop_rpc_status_set(st, HOP_CODE_INVALID_ARGUMENT,
                           "truncated envelope: %zu bytes where a 5-byte prefix was expected",
                           len - at);
      else
        hop_rpc_status_set(st, HOP_CODE_INVALID_ARGUMENT,
                           "truncated envelope: length prefix says %u bytes, %zu received",
                           (unsigned)((uint32_t)body[at + 1] << 24 | (uint32_t)body[at + 2] << 16 |
                                      (uint32_t)body[at + 3] << 8 | body[at + 4]),
                           len - at - HOP_ENV_HEADER);
      return HOP_EPROTO;
    }
    if (flags & HOP_ENV_TRAILER) {
      if (!allow_trailer || (flags & ~(HOP_ENV_TRAILER | HOP_ENV_COMPRESSED))) {
        hop_rpc_status_set(st, HOP_CODE_INVALID_ARGUMENT, "unexpected envelope flags 0x%02x",
                           flags);
        return HOP_EPROTO;
      }
      if (off != len) {
        hop_rpc_status_set(st, HOP_CODE_INVALID_ARGUMENT, "data after the trailer frame");
        return HOP_EPROTO;
      }
      if (trailer) {
        *trailer = m;
        *trailer_len = mlen;
        if (trailer_flags) *trailer_flags = flags;
      }
      break;
    }
    if (flags & ~HOP_ENV_COMPRESSED) {
      hop_rpc_status_set(st, HOP_CODE_INVALID_ARGUMENT, "unexpected envelope flags 0x%02x",
                         flags);
      return HOP_EPROTO;
    }
    if (have_data) {
      hop_rpc_status_set(st, HOP_CODE_INVALID_ARGUMENT, "unary message has more than one frame");
      return HOP_EPROTO;
    }
    have_data = 1;
    data = m;
    data_len = mlen;
    data_flags = flags;
  }
  if (!have_data) {
    if (allow_trailer) { /* a trailers-only gRPC-Web response carries no data frame */
      *msg = NULL;
      *msg_len = 0;
      return HOP_OK;
    }
    hop_rpc_status_set(st, HOP_CODE_INVALID_ARGUMENT, "unary request has no message");
    return HOP_EPROTO;
  }
  if (data_flags & HOP_ENV_COMPRESSED) {
    if (enc != HOP_ENC_GZIP) {
      hop_rpc_status_set(st, HOP_CODE_INTERNAL,
                         "compressed flag set but no message encoding was declared");
      return HOP_EPROTO;
    }
    uint8_t *out;
    size_t out_len;
    int rc = hop_rpc_inflate(data, data_len, max, &out, &out_len, st);
    if (rc) return rc;
    *owned = out;
    *msg = out;
    *msg_len = out_len;
    return HOP_OK;
  }
  *msg = data;
  *msg_len = data_len;
  return HOP_OK;
}
