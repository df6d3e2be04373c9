/* Decimal formatting without printf, for per-request header values. */
#ifndef HOP_CORE_FMT_H
#define HOP_CORE_FMT_H

#include <stddef.h>
#include <stdint.h>

/* Writes |v| in decimal to |out| (room for 20 bytes; no NUL). Returns the length. Values
 * below 1000 directly, others two digits a step from a table: a per-request value costs
 * ~15 instructions, not the ~60 of a division per digit twice over. */
static inline size_t hop_fmt_u64_raw(char *out, uint64_t v) {
  static const char d2[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                           "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                           "8081828384858687888990919293949596979899";
  if (v < 100) { /* most per-request values: status codes, small lengths */
    if (v < 10) {
      out[0] = (char)('0' + v);
      return 1;
    }
    out[0] = d2[v * 2];
    out[1] = d2[v * 2 + 1];
    return 2;
  }
  if (v < 1000) {
    unsigned k = (unsigned)(v % 100) * 2;
    out[0] = (char)('0' + v / 100);
    out[1] = d2[k];
    out[2] = d2[k + 1];
    return 3;
  }
  size_t n = 4;
  for (uint64_t p = 10000; n < 20 && v >= p; p *= 10) n++;
  size_t i = n;
  while (v >= 100) {
    unsigned k = (unsigned)(v % 100) * 2;
    v /= 100;
    out[--i] = d2[k + 1];
    out[--i] = d2[k];
  }
  if (v >= 10) {
    out[--i] = d2[v * 2 + 1];
    out[--i] = d2[v * 2];
  } else {
    out[--i] = (char)('0' + v);
  }
  return n;
}

/* The same, NUL-terminated (room for 21 bytes). */
static inline size_t hop_fmt_u64(char *out, uint64_t v) {
  size_t n = hop_fmt_u64_raw(out, v);
  out[n] = '\0';
  return n;
}

#endif
