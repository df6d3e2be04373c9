/* hopwire demo: the event pipeline's designs side by side (the main job, `make run`). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cliargs.h"
#include "commands.h"
#include "common/child.h"
#include "events/demo.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: hopwire demo [--store STORE] [--actions N] [--concurrency C] [options]\n"
          "\n"
          "Runs Flyte's event path executor -> events-proxy -> run-service -> store once per\n"
          "design, the same actions each time, on loopback, and prints one table:\n"
          "  1  per-event Records, HTTP/1.1 with 2 idle connections per host, one INSERT per\n"
          "     event (Flyte before its batching change, before the h2c PR)\n"
          "  2  per-event Records over h2c (the h2c PR alone)\n"
          "  3  Flyte's batcher (400 events / 25 ms / 32 workers) over HTTP/1.1 (Flyte today)\n"
          "  4  Flyte's batcher over h2c, multi-row INSERT (Flyte today plus the h2c PR)\n"
          "  5  hopwire: adaptive batcher, h2c, group commit\n"
          "Columns: events/s, p50/p99 of the Record as a reconciler sees it, RPCs, dials on\n"
          "each hop, TIME_WAIT sockets, rows stored, duplicates absorbed, lost (acknowledged\n"
          "events missing from the store: must be 0), re-emits, CPU of each process.\n"
          "Exits 1 when a design fails its check (rows != acknowledged, or lost > 0).\n"
          "\n"
          "options:\n"
          "  --store STORE        sqlite:PATH (PATH-dN per design) or postgres://...; default:\n"
          "                       a temp SQLite file per design, removed afterwards\n"
          "  --actions N          actions per design (default 4000; ~4.6 events each)\n"
          "  --concurrency C      simulated reconcilers (default 512)\n"
          "  --duration DUR       cap each design's run (default: none, all actions)\n"
          "  --designs LIST       which designs, e.g. 1,4,5 (default all)\n"
          "  --seed N             event generator seed (default: from the clock)\n"
          "  --threads N          worker threads of each service (default: cores)\n"
          "  --json               one JSON object per design per line instead of the table\n"
          "  --plot FILE.svg      latency CDF and events/s bars per design as SVG\n"
          "  --verbose            show the services' stderr\n"
          "  --help               this text\n");
}

int hop_cmd_demo(int argc, char **argv) {
  hop_demo_config cfg;
  hop_demo_config_init(&cfg);
  char exe[4096];
  if (hop_self_exe(exe, sizeof(exe))) {
    fprintf(stderr, "hopwire demo: cannot find its own executable (/proc/self/exe)\n");
    return 1;
  }
  cfg.exe = exe;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    }
    if (!strcmp(a, "--json")) {
      cfg.json = 1;
      continue;
    }
    if (!strcmp(a, "--verbose")) {
      cfg.verbose = 1;
      continue;
    }
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) {
      fprintf(stderr, "hopwire demo: %s needs a value (or unknown option; see --help)\n", a);
      return 2;
    }
    uint64_t n = 0;
    int bad = 0;
    if (!strcmp(a, "--store")) {
      cfg.store = v;
      bad = strncmp(v, "sqlite:", 7) && strncmp(v, "postgres://", 11) && strncmp(v, "postgresql://", 13);
    } else if (!strcmp(a, "--actions")) bad = hop_cli_u64(v, &n) || !n || n > 100000000 || !(cfg.actions = n);
    else if (!strcmp(a, "--concurrency")) bad = hop_cli_u64(v, &n) || !n || n > 100000 || !(cfg.concurrency = (uint32_t)n);
    else if (!strcmp(a, "--duration")) bad = hop_cli_dur_ms(v, &cfg.duration_ms) || !cfg.duration_ms;
    else if (!strcmp(a, "--seed")) bad = hop_cli_u64(v, &cfg.seed) || !cfg.seed;
    else if (!strcmp(a, "--threads")) bad = hop_cli_u64(v, &n) || !n || n > 256 || !(cfg.service_threads = (unsigned)n);
    else if (!strcmp(a, "--plot")) cfg.plot = v;
    else if (!strcmp(a, "--designs")) {
      cfg.designs = 0;
      for (const char *p = v; *p && !bad; p++) {
        if (*p >= '1' && *p <= '0' + HOP_DEMO_DESIGNS && (p[1] == ',' || !p[1])) {
          cfg.designs |= 1u << (*p - '1');
          if (p[1]) p++;
        } else {
          bad = 1;
        }
      }
      bad = bad || !cfg.designs;
    } else {
      fprintf(stderr, "hopwire demo: unknown option '%s' (see --help)\n", a);
      return 2;
    }
    if (bad) {
      fprintf(stderr, "hopwire demo: bad value for %s: '%s'\n", a, v);
      return 2;
    }
    i++;
  }
  int rv = hop_demo_run(&cfg, stdout);
  return rv == 0 ? 0 : 1;
}
