/* hopwire executor: the simulated Flyte executor (apps/events/executor.h) against an
 * events-proxy: N actions, C reconcilers, batched or one Record per event; prints a report
 * (or one JSON object) and exits 0 only when every produced event was acknowledged. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "common/duration.h"
#include "events/executor.h"
#include "hopwire/error.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: hopwire executor --target URL [options]\n"
          "\n"
          "Simulates Flyte's executor: C reconcilers work through N actions, each emitting its\n"
          "phase sequence (QUEUED, INITIALIZING, RUNNING, SUCCEEDED; 10%% FAILED then retried as\n"
          "attempt 2; 5%% ABORTED) as ActionEvents to EventsProxyService/Record at URL, each\n"
          "waiting for its acknowledgement. A failed Record is re-emitted with jittered backoff\n"
          "(10 ms doubling to 1 s, at most 60 tries).\n"
          "\n"
          "options:\n"
          "      --target URL        events-proxy base URL (http://HOST:PORT), required\n"
          "      --actions N         actions to run (default 1000)\n"
          "      --concurrency C     reconcilers (default 512, Flyte's maxConcurrentReconciles)\n"
          "      --batch N           events per Record RPC at most (default 400)\n"
          "      --batch-delay D     batch delay, e.g. 25ms (default: flyte 25ms, adaptive 0)\n"
          "      --max-inflight K    adaptive: RPCs in flight before events accumulate\n"
          "      --no-batch          one Record per event (Flyte before batching)\n"
          "      --policy P          flyte or adaptive (default adaptive)\n"
          "      --http MODE         h1-default (HTTP/1.1, 2 idle conns, Go's DefaultClient),\n"
          "                          h1-pool (HTTP/1.1, 256 idle) or h2c (default)\n"
          "      --reconcilers R     async (state machines on one loop, default) or threads\n"
          "      --timeout D         per Record deadline (default 30s)\n"
          "      --deadline D        bound on the whole run; afterwards nothing is re-emitted\n"
          "                          (default none)\n"
          "      --seed S            event generator seed (default 1)\n"
          "      --json              print one JSON object on stdout instead of the table\n"
          "      --help              this text\n"
          "\n"
          "exit status: 0 every event acknowledged, 1 otherwise, 2 bad usage.\n");
}

static int parse_u64(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  if (!s[0] || s[0] == '-') return -1;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end) return -1;
  *out = v;
  return 0;
}

static void print_json(const hop_exec_config *c, const hop_exec_result *r) {
  printf("{\"actions\":%" PRIu64 ",\"planned\":%" PRIu64 ",\"events\":%" PRIu64 ",\"acknowledged\":%" PRIu64
         ",\"records\":%" PRIu64 ",\"events_per_s\":%.1f,\"p50_us\":%" PRIu64
         ",\"p90_us\":%" PRIu64 ",\"p99_us\":%" PRIu64 ",\"max_us\":%" PRIu64
         ",\"rpcs\":%" PRIu64 ",\"mean_batch\":%.2f,\"max_batch\":%" PRIu64
         ",\"dials\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"re_emits\":%" PRIu64
         ",\"cpu_s\":%.3f,\"rss_kib\":%" PRIu64 ",\"elapsed_s\":%.3f"
         ",\"event_bytes_min\":%u,\"event_bytes_max\":%u"
         ",\"concurrency\":%u,\"batching\":\"%s\",\"http\":\"%s\",\"reconcilers\":\"%s\"}\n",
         r->actions, r->planned, r->events, r->acknowledged, r->records, r->events_per_s, r->latency.p50_us,
         r->latency.p90_us, r->latency.p99_us, r->latency.max_us, r->rpcs, r->mean_batch,
         r->max_batch, r->dials, r->errors, r->re_emits, r->cpu_s, r->rss_kib, r->elapsed_s,
         r->min_event_bytes, r->max_event_bytes, c->concurrency,
         c->no_batch ? "none" : c->policy == HOP_BATCH_FLYTE ? "flyte" : "adaptive",
         hop_exec_http_name(c->http), c->mode == HOP_EXEC_THREADS ? "threads" : "async");
}

static void print_table(const hop_exec_config *c, const hop_exec_result *r) {
  printf("executor: %" PRIu64 " actions, %u reconcilers (%s), batching %s, %s -> %s\n",
         r->actions, c->concurrency, c->mode == HOP_EXEC_THREADS ? "threads" : "async",
         c->no_batch ? "none" : c->policy == HOP_BATCH_FLYTE ? "flyte" : "adaptive",
         hop_exec_http_name(c->http), c->target);
  printf("| events | acknowledged | events/s | p50 us | p90 us | p99 us | max us | rpcs | "
         "mean batch | max batch | dials | errors | re-emits | CPU s | RSS KiB |\n");
  printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  printf("| %" PRIu64 " | %" PRIu64 " | %.0f | %" PRIu64 " | %" PRIu64 " | %" PRIu64
         " | %" PRIu64 " | %" PRIu64 " | %.1f | %" PRIu64 " | %" PRIu64 " | %" PRIu64
         " | %" PRIu64 " | %.2f | %" PRIu64 " |\n",
         r->events, r->acknowledged, r->events_per_s, r->latency.p50_us, r->latency.p90_us,
         r->latency.p99_us, r->latency.max_us, r->rpcs, r->mean_batch, r->max_batch, r->dials,
         r->errors, r->re_emits, r->cpu_s, r->rss_kib);
  printf("event sizes %u..%u bytes, %.2f s\n", r->min_event_bytes, r->max_event_bytes,
         r->elapsed_s);
}

int hop_cmd_executor(int argc, char **argv) {
  hop_exec_config cfg;
  hop_exec_config_init(&cfg);
  cfg.target = NULL;
  int json = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--json")) {
      json = 1;
      continue;
    } else if (!strcmp(a, "--no-batch")) {
      cfg.no_batch = 1;
      continue;
    }
    if (strncmp(a, "--", 2)) {
      fprintf(stderr, "hopwire executor: unexpected argument '%s' (see --help)\n", a);
      return 2;
    }
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    static const char *const valued[] = {"--target", "--actions", "--concurrency", "--batch",
                                         "--batch-delay", "--max-inflight", "--policy",
                                         "--http", "--reconcilers", "--timeout", "--deadline",
                                         "--seed"};
    int known = 0;
    for (size_t k = 0; k < sizeof(valued) / sizeof(valued[0]); k++)
      if (!strcmp(a, valued[k])) known = 1;
    if (!known) {
      fprintf(stderr, "hopwire executor: unknown option '%s' (see --help)\n", a);
      return 2;
    }
    if (!v) {
      fprintf(stderr, "hopwire executor: %s needs a value\n", a);
      return 2;
    }
    i++;
    uint64_t n = 0, us = 0;
    int bad = 0;
    if (!strcmp(a, "--target")) {
      if (strncmp(v, "http://", 7) || !v[7]) bad = 1;
      cfg.target = v;
    } else if (!strcmp(a, "--actions")) {
      bad = parse_u64(v, &n) || n > 100000000ull;
      cfg.actions = n;
    } else if (!strcmp(a, "--concurrency")) {
      bad = parse_u64(v, &n) || n < 1 || n > 100000;
      cfg.concurrency = (uint32_t)n;
    } else if (!strcmp(a, "--batch")) {
      bad = parse_u64(v, &n) || n < 1 || n > 100000;
      cfg.batch_max = (uint32_t)n;
    } else if (!strcmp(a, "--max-inflight")) {
      bad = parse_u64(v, &n) || n < 1 || n > 4096;
      cfg.max_inflight = (uint32_t)n;
    } else if (!strcmp(a, "--seed")) {
      bad = parse_u64(v, &n);
      cfg.gen.seed = n;
    } else if (!strcmp(a, "--batch-delay")) {
      bad = hop_parse_duration(v, 1000, &us) != 0 || us > 60000000ull;
      cfg.batch_delay_us = (int64_t)us;
    } else if (!strcmp(a, "--timeout")) {
      bad = hop_parse_duration(v, 1000, &us) != 0 || us < 1000;
      cfg.record_timeout_ms = us / 1000;
    } else if (!strcmp(a, "--deadline")) {
      bad = hop_parse_duration(v, 1000, &us) != 0 || us < 1000;
      cfg.deadline_ms = us / 1000;
    } else if (!strcmp(a, "--policy")) {
      if (!strcmp(v, "flyte")) cfg.policy = HOP_BATCH_FLYTE;
      else if (!strcmp(v, "adaptive")) cfg.policy = HOP_BATCH_ADAPTIVE;
      else bad = 1;
    } else if (!strcmp(a, "--http")) {
      if (!strcmp(v, "h1-default")) cfg.http = HOP_EXEC_H1_DEFAULT;
      else if (!strcmp(v, "h1-pool")) cfg.http = HOP_EXEC_H1_POOL;
      else if (!strcmp(v, "h2c")) cfg.http = HOP_EXEC_H2C;
      else bad = 1;
    } else if (!strcmp(a, "--reconcilers")) {
      if (!strcmp(v, "async")) cfg.mode = HOP_EXEC_ASYNC;
      else if (!strcmp(v, "threads")) cfg.mode = HOP_EXEC_THREADS;
      else bad = 1;
    }
    if (bad) {
      fprintf(stderr, "hopwire executor: bad %s '%s' (see --help)\n", a, v);
      return 2;
    }
  }
  if (!cfg.target) {
    fprintf(stderr, "hopwire executor: --target URL is required (see --help)\n");
    return 2;
  }
  hop_exec_result res;
  int rc = hop_exec_run(&cfg, &res);
  if (rc != HOP_OK) {
    fprintf(stderr, "hopwire executor: %s\n", hop_strerror(rc));
    return 1;
  }
  if (json)
    print_json(&cfg, &res);
  else
    print_table(&cfg, &res);
  int ok = res.acknowledged == res.events && res.events == res.planned;
  if (!ok)
    fprintf(stderr, "hopwire executor: %" PRIu64 " of %" PRIu64 " planned events not acknowledged\n",
            res.planned - res.acknowledged, res.planned);
  hop_exec_result_free(&res);
  return ok ? 0 : 1;
}
