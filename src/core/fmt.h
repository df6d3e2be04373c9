/* Decimal formatting without printf, for per-request header values. */
#ifndef HOP_CORE_FMT_H
#define HOP_CORE_FMT_H

#include <stddef.h>
#include <stdint.h>

/* Writes |v| in decimal to |out| (room for 20 bytes; no NUL). Returns the length. */
static inline size_t hop_fmt_u64_raw(char *out, uint64_t v) {
  size_t n = 1;
  for (uint64_t t = v; t >= 10; t /= 10) n++;
  for (size_t i = n; i > 0; i--, v /= 10) out[i - 1] = (char)('0' + v % 10);
  return n;
}

/* The same, NUL-terminated (room for 21 bytes). */
static inline size_t hop_fmt_u64(char *out, uint64_t v) {
  size_t n = hop_fmt_u64_raw(out, v);
  out[n] = '\0';
  return n;
}

#endif
