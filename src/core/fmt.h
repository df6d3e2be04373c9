/* Decimal formatting without printf, for per-request header values. */
#ifndef HOP_CORE_FMT_H
#define HOP_CORE_FMT_H

#include <stddef.h>
#include <stdint.h>

/* Writes |v| in decimal to |out| (at least 21 bytes; NUL-terminated). Returns the length. */
static inline size_t hop_fmt_u64(char *out, uint64_t v) {
  char tmp[20];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
  out[n] = '\0';
  return n;
}

#endif
