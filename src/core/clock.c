#include "core/clock.h"

#include <pthread.h>
#include <time.h>

uint64_t hop_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t hop_now_ms(void) { return hop_now_us() / 1000u; }

static _Thread_local uint64_t rng_state;

uint64_t hop_rand_below(uint64_t n) {
  if (rng_state == 0) {
    rng_state = hop_now_us() ^ ((uint64_t)(uintptr_t)&rng_state << 16) ^ 0x9e3779b97f4a7c15ull;
    if (rng_state == 0) rng_state = 1;
  }
  uint64_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  rng_state = x;
  return n ? x % n : 0;
}

uint64_t hop_backoff_ms(uint64_t base_ms, uint64_t cap_ms, unsigned attempt) {
  uint64_t ceil = base_ms;
  for (unsigned i = 0; i < attempt && ceil < cap_ms; i++) ceil *= 2;
  if (ceil > cap_ms) ceil = cap_ms;
  return hop_rand_below(ceil + 1);
}
