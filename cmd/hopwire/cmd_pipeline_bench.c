/* hopwire pipeline-bench: the run-service's figures against the store's ceiling. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cliargs.h"
#include "commands.h"
#include "common/child.h"
#include "events/pipebench.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: hopwire pipeline-bench [--store STORE] [--callers C] [--batch N] [options]\n"
          "\n"
          "C concurrent callers each send N-event batches of realistic ~500-byte ActionEvents\n"
          "(distinct keys) for a fixed time per mode:\n"
          "  ceiling  the store API directly, no network: the database's own rate\n"
          "  gc-on    RecordActionEvents to a run-service over h2c, group commit on\n"
          "  gc-off   the same, one transaction per request (group commit off)\n"
          "  proxy    Record through an events-proxy to that run-service (h2c both hops)\n"
          "and prints events stored per second, commits per second, p50/p99 call latency, the\n"
          "dials on the proxy -> run-service hop and CPU (bench / services).\n"
          "\n"
          "hopwire pipeline-bench --mode codec [--events N] [--batch N] [--seed N] [--json]\n"
          "instead measures CPU per event of the codec alone, one thread, no network and no\n"
          "clock in the data, so `valgrind --tool=callgrind` counts are reproducible: N events\n"
          "(default 20000, seed 1) generated and encoded as the executor does, framed into\n"
          "--batch-event request bodies, then hop_ev_validate (events-proxy) and hop_ev_decode\n"
          "(run-service) over each body; prints ns per event per stage and a digest of the\n"
          "bytes (docs/pipeline.md, \"CPU per event\").\n"
          "\n"
          "options:\n"
          "  --store STORE     sqlite:PATH (PATH-MODE per mode) or postgres://...; default a\n"
          "                    temp SQLite file per mode\n"
          "  --callers C       concurrent callers (default 32)\n"
          "  --batch N         events per call (default 400)\n"
          "  --duration DUR    per mode (default 5s)\n"
          "  --modes LIST      e.g. ceiling,gc-on (default all four)\n"
          "  --writers N       PostgreSQL writer connections (default 4)\n"
          "  --seed N          event generator seed (default: from the clock)\n"
          "  --json            one JSON object per mode per line\n"
          "  --verbose         show the services' stderr\n"
          "  --mode codec      the codec alone (above); --events N events (default 20000)\n"
          "  --help            this text\n");
}

int hop_cmd_pipeline_bench(int argc, char **argv) {
  hop_pipebench_config cfg;
  hop_pipebench_config_init(&cfg);
  char exe[4096];
  if (hop_self_exe(exe, sizeof(exe))) {
    fprintf(stderr, "hopwire pipeline-bench: cannot find its own executable\n");
    return 1;
  }
  cfg.exe = exe;
  int codec = 0;
  uint64_t events = 20000;
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
      fprintf(stderr, "hopwire pipeline-bench: %s needs a value (or unknown option; see --help)\n", a);
      return 2;
    }
    uint64_t n = 0;
    int bad = 0;
    if (!strcmp(a, "--store")) {
      cfg.store = v;
      bad = strncmp(v, "sqlite:", 7) && strncmp(v, "postgres://", 11) && strncmp(v, "postgresql://", 13);
    } else if (!strcmp(a, "--callers")) bad = hop_cli_u64(v, &n) || !n || n > 4096 || !(cfg.callers = (unsigned)n);
    else if (!strcmp(a, "--batch")) bad = hop_cli_u64(v, &n) || !n || n > 100000 || !(cfg.batch = (unsigned)n);
    else if (!strcmp(a, "--duration")) bad = hop_cli_dur_ms(v, &cfg.duration_ms) || !cfg.duration_ms;
    else if (!strcmp(a, "--writers")) bad = hop_cli_u64(v, &n) || !n || n > 64 || !(cfg.writers = (unsigned)n);
    else if (!strcmp(a, "--seed")) bad = hop_cli_u64(v, &cfg.seed) || !cfg.seed;
    else if (!strcmp(a, "--mode")) bad = strcmp(v, "codec") || !(codec = 1);
    else if (!strcmp(a, "--events")) bad = hop_cli_u64(v, &events) || !events;
    else if (!strcmp(a, "--modes")) {
      static const char *const names[] = {"ceiling", "gc-on", "gc-off", "proxy"};
      cfg.modes = 0;
      char buf[128];
      snprintf(buf, sizeof(buf), "%s", v);
      for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && !bad; t = strtok_r(NULL, ",", &save)) {
        int found = 0;
        for (int m = 0; m < HOP_PIPEBENCH_MODES; m++)
          if (!strcmp(t, names[m])) cfg.modes |= 1u << m, found = 1;
        bad = !found;
      }
      bad = bad || !cfg.modes;
    } else {
      fprintf(stderr, "hopwire pipeline-bench: unknown option '%s' (see --help)\n", a);
      return 2;
    }
    if (bad) {
      fprintf(stderr, "hopwire pipeline-bench: bad value for %s: '%s'\n", a, v);
      return 2;
    }
    i++;
  }
  if (codec) return hop_pipebench_codec(&cfg, events, stdout) == 0 ? 0 : 1;
  int rv = hop_pipebench_run(&cfg, stdout);
  return rv == 0 ? 0 : 1;
}
