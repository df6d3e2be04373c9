/* hopwire: latency histograms, counters and the monotonic clock they are timed with.
 *
 * hop_hist is a log-linear histogram of microsecond values (1 us .. ~1 hour, relative
 * error < 1/64), fixed size, no allocation after hop_hist_new. Not thread-safe: keep one
 * per thread and merge, or guard it. */
#ifndef HOPWIRE_STATS_H
#define HOPWIRE_STATS_H

#include <stdint.h>
#include <stddef.h>

#include "hopwire/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* CLOCK_MONOTONIC in microseconds: the clock of hop_rpc_request_deadline_us and the one to
 * time the latencies recorded into a hop_hist. Thread-safe. */
HOP_EXPORT uint64_t hop_now_us(void);

typedef struct hop_hist hop_hist;

/* Returns NULL on allocation failure. */
HOP_EXPORT hop_hist *hop_hist_new(void);
HOP_EXPORT void hop_hist_free(hop_hist *h);
HOP_EXPORT void hop_hist_reset(hop_hist *h);
HOP_EXPORT void hop_hist_record(hop_hist *h, uint64_t value_us);
/* dst += src. */
HOP_EXPORT void hop_hist_merge(hop_hist *dst, const hop_hist *src);
HOP_EXPORT uint64_t hop_hist_count(const hop_hist *h);
HOP_EXPORT uint64_t hop_hist_max(const hop_hist *h);
HOP_EXPORT uint64_t hop_hist_min(const hop_hist *h);
HOP_EXPORT double hop_hist_mean(const hop_hist *h);
/* q in [0, 1]; returns the upper bound of the bucket holding the q-quantile (0 if empty). */
HOP_EXPORT uint64_t hop_hist_quantile(const hop_hist *h, double q);
/* Iterate non-empty buckets in ascending order: *i starts at 0; returns 0 when done.
 * *upper_us is the bucket's upper bound, *count its count. */
HOP_EXPORT int hop_hist_next(const hop_hist *h, size_t *i, uint64_t *upper_us, uint64_t *count);

typedef struct hop_latency {
  uint64_t count, p50_us, p90_us, p99_us, max_us;
} hop_latency;
HOP_EXPORT void hop_hist_summary(const hop_hist *h, hop_latency *out);

#ifdef __cplusplus
}
#endif
#endif
