/* Monotonic clocks and a small thread-local PRNG (jitter, not cryptography). */
#ifndef HOP_CORE_CLOCK_H
#define HOP_CORE_CLOCK_H

#include <stdint.h>

#include "hopwire/stats.h" /* hop_now_us: CLOCK_MONOTONIC, microseconds (public) */

uint64_t hop_now_ms(void);
/* Uniform in [0, n) (n > 0). Thread-local xorshift seeded from time and thread. */
uint64_t hop_rand_below(uint64_t n);
/* Full-jitter exponential backoff: uniform in [0, min(cap, base * 2^attempt)]. */
uint64_t hop_backoff_ms(uint64_t base_ms, uint64_t cap_ms, unsigned attempt);

#endif
