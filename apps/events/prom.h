/* A Prometheus text-format (0.0.4) writer into a capped buffer, for the /metrics pages of
 * the run-service, the events-proxy and `hopwire serve`.
 *
 * Usage: hop_prom_init(&p, buf, cap); hop_prom_counter(&p, "name", "help", value); ...
 * Writes past the cap are dropped and flagged (p.truncated): the page stays well formed up to
 * the last whole line. Not thread-safe (one writer per page). */
#ifndef HOP_APPS_EVENTS_PROM_H
#define HOP_APPS_EVENTS_PROM_H

#include <stddef.h>
#include <stdint.h>

typedef struct hop_prom {
  char *buf;
  size_t cap, len;
  int truncated;
} hop_prom;

void hop_prom_init(hop_prom *p, char *buf, size_t cap);
/* "# HELP name help\n# TYPE name counter\nname value\n" */
void hop_prom_counter(hop_prom *p, const char *name, const char *help, uint64_t value);
void hop_prom_gauge(hop_prom *p, const char *name, const char *help, double value);
/* A family's header only, for labelled samples written with hop_prom_sample. */
void hop_prom_family(hop_prom *p, const char *name, const char *type, const char *help);
/* name{labels} value; |labels| like `result="ok"` (already escaped) or NULL. */
void hop_prom_sample(hop_prom *p, const char *name, const char *labels, double value);
/* A histogram from per-bucket (not cumulative) counts; bounds[n-1] is +Inf. |scale| divides
 * bounds and sum (1e6 turns microseconds into seconds). */
void hop_prom_histogram(hop_prom *p, const char *name, const char *help, const uint64_t *bounds,
                        const uint64_t *counts, size_t n, double sum, double scale);

/* The transport's own counters: a hop_server's (requests, connections, resets, ...) and a
 * hop_client's (dials, calls, connections, GOAWAYs). */
struct hop_server_stats;
struct hop_client_stats;
void hop_prom_server(hop_prom *p, const struct hop_server_stats *s);
void hop_prom_client(hop_prom *p, const char *prefix, const struct hop_client_stats *s);

/* Reading a page back (the demo and the benchmarks scrape their children): GET
 * http://127.0.0.1:PORT/metrics through |client| (blocking; not from its loop thread) into a
 * malloc'd NUL-terminated *text. Returns 0, or -1 (no answer, not 200). */
struct hop_client;
int hop_prom_fetch(struct hop_client *client, uint16_t port, char **text);
/* The value of the sample written exactly |name| (labels included, e.g.
 * `x_total{result="ok"}`) in |text|; 0 when absent or text is NULL. */
double hop_prom_value(const char *text, const char *name);

#endif
