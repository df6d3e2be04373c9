/* Decimal formatting without printf, for per-request header values. */
#ifndef HOP_CORE_FMT_H
#define HOP_CORE_FMT_H

#include <stddef.h>
#include <stdint.h>

/* Writes |v| in decimal to |out| (at least 21 bytes; NUL-terminated). Returns the length. */
static inline size_t hop_fmt_u64(char *out, uint64_t v) {
  size_t n = 1;
  for (uint64_t t = v; t >= 10; t /= 10) n++;
  out[n] = '\0';
  for (size_t i = n; i > 0; i--, v /= 10) out[i - 1] = (char)('0' + v % 10);
  return n;
}

#endif
