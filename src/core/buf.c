#include "core/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hopwire/error.h"

void hop_buf_init(hop_buf *b, size_t max) {
  b->data = NULL;
  b->len = b->cap = 0;
  b->max = max;
}

void hop_buf_free(hop_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

int hop_buf_reserve(hop_buf *b, size_t n) {
  if (n > b->max || b->len > b->max - n) return HOP_ETOOBIG;
  size_t need = b->len + n;
  if (need <= b->cap) return HOP_OK;
  size_t ncap = b->cap ? b->cap : 256;
  while (ncap < need) ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
  if (ncap > b->max && b->max >= need) ncap = b->max;
  uint8_t *p = realloc(b->data, ncap ? ncap : 1);
  if (!p) return HOP_ENOMEM;
  b->data = p;
  b->cap = ncap;
  return HOP_OK;
}

int hop_buf_append(hop_buf *b, const void *p, size_t n) {
  if (n == 0) return HOP_OK;
  int rv = hop_buf_reserve(b, n);
  if (rv) return rv;
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return HOP_OK;
}

int hop_buf_appendf(hop_buf *b, const char *fmt, ...) {
  char small[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof(small), fmt, ap);
  va_end(ap);
  if (n < 0) return HOP_EINVAL;
  if ((size_t)n < sizeof(small)) return hop_buf_append(b, small, (size_t)n);
  int rv = hop_buf_reserve(b, (size_t)n + 1);
  if (rv) return rv;
  va_start(ap, fmt);
  vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return HOP_OK;
}

void hop_buf_consume(hop_buf *b, size_t n) {
  if (n >= b->len) {
    b->len = 0;
    return;
  }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
}

uint8_t *hop_buf_steal(hop_buf *b, size_t *len) {
  uint8_t *p = b->data;
  if (len) *len = b->len;
  b->data = NULL;
  b->len = b->cap = 0;
  return p;
}
