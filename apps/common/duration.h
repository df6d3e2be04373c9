/* Durations as the applications' flags write them ("10s", "250ms", "1.5s", "2m", "500us",
 * "1h"). Pure; thread-safe. */
#ifndef HOP_APPS_COMMON_DURATION_H
#define HOP_APPS_COMMON_DURATION_H

#include <stdint.h>

/* Parses |s|; a bare number is |bare_unit_us| each. Returns 0 (HOP_OK) and sets *out_us, or
 * HOP_EINVAL (negative, unknown unit, above ~31 years). */
int hop_parse_duration(const char *s, uint64_t bare_unit_us, uint64_t *out_us);

#endif
