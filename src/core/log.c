#include "core/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_int log_level = -1;

int hop_log_level(void) {
  int l = atomic_load_explicit(&log_level, memory_order_relaxed);
  if (l >= 0) return l;
  const char *e = getenv("HOPWIRE_LOG");
  l = HOP_LOG_WARN;
  if (e) {
    if (!strcmp(e, "error")) l = HOP_LOG_ERROR;
    else if (!strcmp(e, "info")) l = HOP_LOG_INFO;
    else if (!strcmp(e, "debug")) l = HOP_LOG_DEBUG;
  }
  atomic_store(&log_level, l);
  return l;
}

void hop_log_set_level(int level) { atomic_store(&log_level, level); }

void hop_log_write(int level, const char *fmt, ...) {
  static const char *names[] = {"error", "warn", "info", "debug"};
  char line[1024];
  int n = snprintf(line, sizeof(line), "hopwire %s: ", names[level & 3]);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
  va_end(ap);
  fprintf(stderr, "%s\n", line);
}
