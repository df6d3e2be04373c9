/* Prometheus text format writer: see prom.h. */
#include "events/prom.h"

#include <stdarg.h>
#include <stdio.h>

void hop_prom_init(hop_prom *p, char *buf, size_t cap) {
  p->buf = buf;
  p->cap = cap;
  p->len = 0;
  p->truncated = 0;
  if (cap)
    buf[0] = '\0';
}

/* Appends one formatted line, or nothing when it does not fit whole. */
static void put(hop_prom *p, const char *fmt, ...) {
  if (p->truncated || p->cap == 0)
    return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(p->buf + p->len, p->cap - p->len, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= p->cap - p->len) {
    p->buf[p->len] = '\0';
    p->truncated = 1;
    return;
  }
  p->len += (size_t)n;
}

void hop_prom_family(hop_prom *p, const char *name, const char *type, const char *help) {
  put(p, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void hop_prom_sample(hop_prom *p, const char *name, const char *labels, double value) {
  if (labels && labels[0])
    put(p, "%s{%s} %.17g\n", name, labels, value);
  else
    put(p, "%s %.17g\n", name, value);
}

void hop_prom_counter(hop_prom *p, const char *name, const char *help, uint64_t value) {
  hop_prom_family(p, name, "counter", help);
  put(p, "%s %llu\n", name, (unsigned long long)value);
}

void hop_prom_gauge(hop_prom *p, const char *name, const char *help, double value) {
  hop_prom_family(p, name, "gauge", help);
  hop_prom_sample(p, name, NULL, value);
}

void hop_prom_histogram(hop_prom *p, const char *name, const char *help, const uint64_t *bounds,
                        const uint64_t *counts, size_t n, double sum, double scale) {
  hop_prom_family(p, name, "histogram", help);
  uint64_t cum = 0;
  for (size_t i = 0; i < n; i++) {
    cum += counts[i];
    if (i + 1 == n)
      put(p, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
    else
      put(p, "%s_bucket{le=\"%.6g\"} %llu\n", name, (double)bounds[i] / scale,
          (unsigned long long)cum);
  }
  put(p, "%s_sum %.9g\n%s_count %llu\n", name, sum / scale, name, (unsigned long long)cum);
}
