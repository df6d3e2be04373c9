/* Log-linear latency histogram: 64 sub-buckets per power of two (relative error < 1/64),
 * values 0 .. 2^36 us (~19 hours). Fixed size, so recording never allocates. */
#include <stdlib.h>
#include <string.h>

#include "hopwire/stats.h"

#define SUB_BITS 6
#define SUB_COUNT (1u << SUB_BITS)
#define MAX_EXP 36
#define NBUCKETS ((MAX_EXP - SUB_BITS + 1) * SUB_COUNT + SUB_COUNT)

struct hop_hist {
  uint64_t counts[NBUCKETS];
  uint64_t total, max, min, sum;
};

static size_t bucket_of(uint64_t v) {
  if (v < SUB_COUNT) return (size_t)v;
  if (v >= (1ull << MAX_EXP)) v = (1ull << MAX_EXP) - 1;
  unsigned msb = 63u - (unsigned)__builtin_clzll(v); /* >= SUB_BITS */
  unsigned shift = msb - SUB_BITS;
  size_t sub = (size_t)(v >> shift) & (SUB_COUNT - 1);
  return (size_t)(shift + 1) * SUB_COUNT + sub;
}

/* Largest value that lands in bucket |b|. */
static uint64_t bucket_upper(size_t b) {
  if (b < SUB_COUNT) return b;
  size_t shift = b / SUB_COUNT - 1;
  uint64_t sub = b % SUB_COUNT;
  uint64_t lo = ((uint64_t)SUB_COUNT + sub) << shift;
  return lo + ((1ull << shift) - 1);
}

hop_hist *hop_hist_new(void) {
  hop_hist *h = calloc(1, sizeof(*h));
  if (h) h->min = UINT64_MAX;
  return h;
}

void hop_hist_free(hop_hist *h) { free(h); }

void hop_hist_reset(hop_hist *h) {
  memset(h, 0, sizeof(*h));
  h->min = UINT64_MAX;
}

void hop_hist_record(hop_hist *h, uint64_t v) {
  h->counts[bucket_of(v)]++;
  h->total++;
  h->sum += v;
  if (v > h->max) h->max = v;
  if (v < h->min) h->min = v;
}

void hop_hist_merge(hop_hist *dst, const hop_hist *src) {
  for (size_t i = 0; i < NBUCKETS; i++) dst->counts[i] += src->counts[i];
  dst->total += src->total;
  dst->sum += src->sum;
  if (src->max > dst->max) dst->max = src->max;
  if (src->min < dst->min) dst->min = src->min;
}

uint64_t hop_hist_count(const hop_hist *h) { return h->total; }
uint64_t hop_hist_max(const hop_hist *h) { return h->max; }
uint64_t hop_hist_min(const hop_hist *h) { return h->total ? h->min : 0; }
double hop_hist_mean(const hop_hist *h) { return h->total ? (double)h->sum / (double)h->total : 0.0; }

uint64_t hop_hist_quantile(const hop_hist *h, double q) {
  if (h->total == 0) return 0;
  if (q <= 0) return h->min;
  if (q >= 1) return h->max;
  uint64_t rank = (uint64_t)(q * (double)h->total);
  if (rank >= h->total) rank = h->total - 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < NBUCKETS; i++) {
    seen += h->counts[i];
    if (seen > rank) {
      uint64_t up = bucket_upper(i);
      return up > h->max ? h->max : up;
    }
  }
  return h->max;
}

int hop_hist_next(const hop_hist *h, size_t *i, uint64_t *upper_us, uint64_t *count) {
  while (*i < NBUCKETS) {
    size_t b = (*i)++;
    if (h->counts[b]) {
      *upper_us = bucket_upper(b);
      *count = h->counts[b];
      return 1;
    }
  }
  return 0;
}

void hop_hist_summary(const hop_hist *h, hop_latency *out) {
  out->count = h->total;
  out->p50_us = hop_hist_quantile(h, 0.50);
  out->p90_us = hop_hist_quantile(h, 0.90);
  out->p99_us = hop_hist_quantile(h, 0.99);
  out->max_us = h->max;
}
