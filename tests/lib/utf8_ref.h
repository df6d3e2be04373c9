/* Go's utf8.Valid one byte at a time (no overlong forms, no surrogates, nothing past
 * U+10FFFF): the definition the tests and the event_codec fuzz target hold
 * hop_ev_utf8_valid's fast paths to. Header only, so the fuzz targets (which do not link
 * hop_testlib) can use it. */
#ifndef HOP_TESTS_UTF8_REF_H
#define HOP_TESTS_UTF8_REF_H

#include <stddef.h>
#include <stdint.h>

static inline int ref_utf8_valid(const uint8_t *s, size_t n) {
  for (size_t i = 0; i < n;) {
    uint8_t c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t need = c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2 : c >= 0xF0 && c <= 0xF4 ? 3 : 0;
    if (!need || n - i - 1 < need) return 0;
    uint32_t cp = c & (need == 1 ? 0x1F : need == 2 ? 0x0F : 0x07);
    for (size_t k = 1; k <= need; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return 0;
      cp = cp << 6 | (s[i + k] & 0x3F);
    }
    uint32_t min = need == 1 ? 0x80 : need == 2 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    i += need + 1;
  }
  return 1;
}

#endif
