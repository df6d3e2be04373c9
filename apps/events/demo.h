/* hopwire demo: every design Flyte's event path went through, and hopwire's, side by side on
 * one machine, the same actions each time (the main job, `make run`).
 *
 * Per design a fresh run-service (child process, its own store: a temp SQLite file, or the
 * PostgreSQL database given, with per-design run names) and events-proxy (child process)
 * start on loopback; the executor (in this process) works through the actions against the
 * proxy; then the demo reads both services' /metrics, counts TIME_WAIT sockets on both hops,
 * and checks the store: every acknowledged event must be there (lost = 0), and the rows of
 * the design's runs must equal the distinct events acknowledged.
 *
 *   1  per-event Records, HTTP/1.1 with 2 idle connections per host, one INSERT per event
 *      (Flyte before its batching change, before the seed's h2c PR)
 *   2  per-event Records over h2c (the seed's PR alone)
 *   3  Flyte's batcher (400 / 25 ms / 32 workers) over HTTP/1.1 (Flyte today)
 *   4  Flyte's batcher over h2c, multi-row INSERT (Flyte today plus the seed's PR)
 *   5  hopwire: adaptive batcher, h2c, group commit
 *
 * Threads: hop_demo_run blocks the calling thread. */
#ifndef HOP_APPS_EVENTS_DEMO_H
#define HOP_APPS_EVENTS_DEMO_H

#include <stdint.h>
#include <stdio.h>

#define HOP_DEMO_DESIGNS 5

typedef struct hop_demo_config {
  const char *exe;          /* the hopwire binary to run services from (/proc/self/exe) */
  const char *store;        /* NULL: a temp SQLite file per design; "sqlite:PATH" (PATH-dN.db
                               per design) or a postgres:// URI (shared, per-design runs) */
  uint64_t actions;         /* per design; 4000 */
  uint32_t concurrency;     /* reconcilers; 512 */
  uint64_t duration_ms;     /* per design cap; 0 = none (the executor's deadline) */
  unsigned designs;         /* bit i = design i+1; all five by default */
  uint64_t seed;            /* event generator seed; 0 = from the clock */
  unsigned service_threads; /* workers of each service; 0 = the services' default */
  int json;                 /* one JSON object per design per line, no table */
  const char *plot;         /* SVG file: latency CDF + throughput bars; NULL = none */
  int verbose;              /* services' stderr shown */
} hop_demo_config;

void hop_demo_config_init(hop_demo_config *cfg);

/* Runs the designs, prints the table (or JSON lines) to |out|. Returns 0 when every design
 * completed with lost = 0 and rows = acknowledged, 1 when a check failed (named on stderr),
 * -1 when the demo could not run (named on stderr). */
int hop_demo_run(const hop_demo_config *cfg, FILE *out);

#endif
