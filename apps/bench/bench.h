/* hopwire bench: the dials / throughput / p99 experiment (HTTP/1.1 pools vs h2c), an
 * application above libhopwire (public headers only).
 *
 * Files in apps/bench/:
 *   args.c    flag parsing into hop_bench_opts (pure, unit-tested)
 *   report.c  the human table, JSON lines and the SVG latency CDF
 *   spawn.c   the `hopwire serve` child the bench measures when no --target is given
 *   run.c     the load generator: one fresh hop_client per mode, async or blocking callers
 *   echo.c    the Echo service `hopwire serve` answers with (echo.h)
 *   idle.c    hopwire idle-bench: RSS per idle h2c connection, server and client
 * What the kernel says about us (TIME_WAIT sockets, peak RSS, CPU seconds) and the child
 * process come from apps/common/child.h.
 *
 * Threads: everything here is driven from the thread that calls hop_bench_run_mode(); the
 * load generator owns its hop_client and its caller threads and joins them before returning. */
#ifndef HOP_APPS_BENCH_BENCH_H
#define HOP_APPS_BENCH_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/child.h"
#include "hopwire/stats.h"

typedef enum hop_bench_mode {
  HOP_BENCH_H1_DEFAULT = 0, /* HTTP/1.1, 2 idle conns per host, unlimited conns (Go DefaultClient) */
  HOP_BENCH_H1_POOL = 1,    /* HTTP/1.1, 256 idle conns per host */
  HOP_BENCH_H2C = 2,        /* hopwire's multiplexing h2c client */
  HOP_BENCH_NMODES = 3
} hop_bench_mode;

typedef enum hop_bench_callers {
  HOP_BENCH_CALLERS_ASYNC = 0,   /* C calls kept in flight from the client's loop thread */
  HOP_BENCH_CALLERS_BLOCKING = 1 /* C threads, each looping hop_client_do() */
} hop_bench_callers;

/* Hard bounds: every run is bounded in count and time. */
#define HOP_BENCH_MAX_CONCURRENCY 10000u
#define HOP_BENCH_MAX_REQUESTS 1000000000ull
#define HOP_BENCH_MAX_DURATION_US (3600ull * 1000000ull)
#define HOP_BENCH_MAX_PAYLOAD (16u << 20)
/* A --requests run still stops after this long. */
#define HOP_BENCH_REQUESTS_TIME_CAP_US (600ull * 1000000ull)

typedef struct hop_bench_opts {
  unsigned modes;              /* bit (1u << hop_bench_mode) per mode to run, in enum order */
  uint32_t concurrency;        /* calls in flight (async) or caller threads (blocking) */
  uint64_t duration_us;        /* measured phase length; 0 when |requests| is set */
  uint64_t requests;           /* measured calls to complete; 0 when |duration_us| is set */
  uint64_t warmup_us;          /* load before measuring (dials, CPU and RSS still count) */
  uint64_t dial_cost_us;       /* modelled dial cost in the client's dialer, every mode */
  uint64_t server_delay_us;    /* per-request timer in the spawned server */
  int server_delay_set;        /* given explicitly (an error together with --target) */
  size_t payload;              /* request body bytes */
  const char *target;          /* URL to measure; NULL: spawn `hopwire serve` per mode */
  int json;                    /* one JSON object per mode per line on stdout, nothing else */
  const char *plot;            /* SVG latency CDF output path, or NULL */
  hop_bench_callers callers;
  uint32_t max_streams;        /* the spawned server's SETTINGS_MAX_CONCURRENT_STREAMS */
  uint64_t call_timeout_us;    /* per-call deadline, so no call can hang a run */
  int progress;                /* live progress line on stderr: -1 auto (tty), 0 off, 1 on */
  int help;                    /* --help given: print usage, exit 0 */
} hop_bench_opts;

/* Defaults of the issue: all modes, 200 async callers, 10 s, 1 s warm-up, 1 ms dial cost,
 * 1 ms server delay, 100 B payload. */
void hop_bench_opts_init(hop_bench_opts *o);
/* Parses argv[1..argc-1] (argv[0] is "bench"). Returns 0, or -1 with a one-line cause in
 * |err| (the caller prints it and exits 2). Strings in |o| point into argv. */
int hop_bench_parse_args(hop_bench_opts *o, int argc, char **argv, char *err, size_t errlen);
void hop_bench_usage(FILE *f);
const char *hop_bench_mode_name(hop_bench_mode m);

/* ---- results ---- */

typedef struct hop_bench_result {
  hop_bench_mode mode;
  /* The 12 reported figures. requests/errors/rps/latency cover the measured phase; dials,
   * cpu_s and rss_kb the whole mode from a cold client (warm-up included); time_wait the
   * TIME_WAIT sockets on the server's port left when the mode ends. */
  uint64_t requests, errors, dials;
  double rps;
  hop_latency lat;
  double cpu_s;
  uint64_t time_wait;
  uint64_t rss_kb;
  /* Extras for the human table. */
  double elapsed_s;            /* measured phase */
  uint64_t cold_dials;         /* dials when the first C calls had completed */
  hop_latency cold;            /* latency of the first C calls */
  double cold_s;               /* time until the first C calls had completed */
  uint64_t bytes_per_call;     /* (peak heap in use - heap before the client) / concurrency:
                                  the client's memory per call in flight (sampled every
                                  10 ms for 1 s, then every 50 ms; caller thread stacks
                                  are not heap) */
  uint64_t in_flight_max;      /* most calls seen in flight at once */
  hop_hist *hist;              /* measured-phase latency, owned; NULL if none */
  char first_error[160];       /* cause of the first failed call, "" if none */
} hop_bench_result;

void hop_bench_result_free(hop_bench_result *r);

/* ---- reports (report.c) ---- */

/* One line: {"mode":...,"requests":...,...,"rss_kb":...}\n with exactly the 12 keys. */
void hop_bench_write_json(FILE *f, const hop_bench_result *r);
/* The people's table (+ a cold-start table), |n| results. */
void hop_bench_write_table(FILE *f, const hop_bench_result *rs, size_t n, const hop_bench_opts *o);
/* SVG latency CDF, one curve per result with a histogram, log-scaled time axis.
 * Returns 0 or -1 if nothing could be written. */
int hop_bench_write_svg(FILE *f, const hop_bench_result *rs, size_t n, const char *subtitle);

/* ---- the spawned server (spawn.c) ---- */

/* Starts |exe| serve --listen 127.0.0.1:0 --delay <delay> --max-streams N as |c| and waits
 * up to 10 s for its "listening on 127.0.0.1:PORT" line (c->port). Stop it with
 * hop_child_stop. Returns 0, or -1 with a cause in |err|. */
int hop_bench_server_start(hop_child *c, const char *exe, uint64_t delay_us,
                           uint32_t max_streams, char *err, size_t errlen);

/* ---- memory per idle connection (idle.c) ---- */

#define HOP_BENCH_IDLE_MAX_CONNS 5000u
/* hopwire idle-bench: starts two `exe serve` children (this executable), measures the RSS
 * growth per idle h2c connection of a server (2 x |n| raw connections) and of a hop_client
 * (|n| connections after one call each; a first client warms the calls' memory), prints
 * one line per side on stdout. |threads|: the servers' workers. Returns the exit code: 0,
 * 1 when a side could not be measured (cause on stderr), 2 on bad arguments. */
int hop_bench_idle(unsigned n, unsigned threads);

/* ---- the load (run.c) ---- */

/* Progress sample, called about every 250 ms from the thread running the mode. */
typedef void (*hop_bench_progress_fn)(hop_bench_mode mode, double elapsed_s, int warming,
                                      uint64_t done, uint64_t errors, uint64_t dials,
                                      void *user_data);

/* Runs one mode against |url| with a fresh client. |port| is the server's port (TIME_WAIT
 * accounting). Fills |out| (hist owned by |out|). Returns 0, or a negative hop_err with a
 * cause in out->first_error when no call at all succeeded (never a table of zeros). */
int hop_bench_run_mode(const hop_bench_opts *o, hop_bench_mode mode, const char *url,
                       uint16_t port, hop_bench_progress_fn progress, void *user_data,
                       hop_bench_result *out);

#endif
