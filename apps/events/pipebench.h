/* hopwire pipeline-bench: the run-service's figures (issue "event pipeline, part 1").
 *
 * Modes, each for a fixed duration with C concurrent callers sending N-event batches of
 * realistic ~500-byte ActionEvents (events/eventgen.h), distinct keys:
 *   ceiling    the store API directly, no network (group commit on): what the database
 *              can take; the service's goal is at least 70 % of it
 *   gc-on      RecordActionEvents to a run-service (child process), h2c, group commit on
 *   gc-off     the same with group commit off (one transaction per request)
 *   proxy      Record through an events-proxy (h2c) to the run-service (group commit on):
 *              the proxy's overhead, and its dials to the run-service (goal: 1)
 * Reported per mode: events stored per second, commits per second, p50/p99 call latency,
 * CPU, dials on the proxy -> run-service hop.
 *
 * Threads: hop_pipebench_run blocks the calling thread (it starts the callers). */
#ifndef HOP_APPS_EVENTS_PIPEBENCH_H
#define HOP_APPS_EVENTS_PIPEBENCH_H

#include <stdint.h>
#include <stdio.h>

#define HOP_PIPEBENCH_MODES 4

typedef struct hop_pipebench_config {
  const char *exe;       /* the hopwire binary for the service children */
  const char *store;     /* NULL: a temp SQLite file per mode; or sqlite:PATH / postgres:// */
  unsigned callers;      /* 32 */
  unsigned batch;        /* events per call; 400 */
  uint64_t duration_ms;  /* per mode; 5000 */
  unsigned modes;        /* bit i = mode i (ceiling, gc-on, gc-off, proxy); all */
  unsigned writers;      /* PostgreSQL writer connections; 0 = the store's default */
  uint64_t seed;         /* 0 = from the clock */
  int json;              /* one JSON object per mode per line */
  int verbose;
} hop_pipebench_config;

void hop_pipebench_config_init(hop_pipebench_config *cfg);

/* Returns 0, 1 when a mode saw errors, -1 when it could not run (named on stderr). */
int hop_pipebench_run(const hop_pipebench_config *cfg, FILE *out);

#endif
