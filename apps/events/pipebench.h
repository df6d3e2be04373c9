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

/* --mode codec: CPU per event of the codec alone, one thread, no network, deterministic (so
 * `valgrind --tool=callgrind` counts are reproducible; docs/pipeline.md "CPU per event").
 * |events| events of eventgen (seed cfg->seed, 1 when 0) go through three stages, each its
 * own function so callgrind reports it inclusively:
 *   codecbench_generate  hop_evgen_action_init per action and hop_evgen_action_encode per
 *                        event, as the executor's reconcilers call them (the reported time a
 *                        fixed clock), framed cfg->batch to a body as the batcher does
 *   codecbench_validate  hop_ev_validate over each body (the events-proxy)
 *   codecbench_decode    hop_ev_decode + hop_ev_batch_free over each body (the run-service)
 * then, outside the stages, every decoded row is checked against hop_evgen_key_of and its
 * bytes. Prints ns per event per stage and an FNV-1a digest of every body (equal digests:
 * byte-identical events). Returns 0, 1 on a check failure, -1 when out of memory. */
int hop_pipebench_codec(const hop_pipebench_config *cfg, uint64_t events, FILE *out);

#endif
