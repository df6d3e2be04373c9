/* hopwire fault-bench: the event pipeline under faults; the figures of docs/pipeline-faults.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cliargs.h"
#include "commands.h"
#include "common/child.h"
#include "events/faultbench.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: hopwire fault-bench [--fault NAME[,NAME...]|all] [--store STORE] [options]\n"
          "\n"
          "Runs the executor (in this process) through an events-proxy and a run-service (child\n"
          "processes) while a fault is injected mid-load, then checks every acknowledged event\n"
          "against the store. Per fault: events acknowledged, rows stored, duplicates, lost\n"
          "(must be 0), failed reconciles, re-emits, time to recover, the longest Record wait;\n"
          "and the RSS of each process (overload: at 1x and 10x). Faults:\n"
          "  kill-run-service     kill -9 of the run-service, restarted after 1 s\n"
          "  kill-proxy           kill -9 of the events-proxy, restarted after 1 s\n"
          "  pg-restart-immediate PostgreSQL stop -m immediate, 1 s down, start (throwaway server)\n"
          "  pg-restart-fast      the same with -m fast\n"
          "  pg-terminate         pg_terminate_backend of the run-service's store connections\n"
          "  sqlite-disk-full     the database on a 1 MiB tmpfs until full, then grown (root)\n"
          "  sqlite-lock          an external sqlite3 shell holds BEGIN IMMEDIATE for 2 s\n"
          "  sigterm-run-service  graceful restart under load (replacement on the same port)\n"
          "  scale-out            3 run-services behind one name, 2 proxies, restarted one by one\n"
          "                       (root: a private /etc/hosts)\n"
          "  duplicate-storm      the whole load, then replayed 10 times\n"
          "  overload             the store 10x slower than the inflow, then the delay goes\n"
          "  crash-in-commit      SIGKILL from sqlite3_commit_hook at a random commit\n"
          "  crash-after-commit   SIGKILL after COMMIT returned, before the answers\n"
          "\n"
          "options:\n"
          "  --fault LIST       faults to run (default all)\n"
          "  --store STORE      default: a temp SQLite file per scenario; 'postgres': a throwaway\n"
          "                     PostgreSQL 15 server for every scenario; or postgres://...\n"
          "  --actions N        actions per scenario (default 2000; ~4.6 events each)\n"
          "  --concurrency C    reconcilers (default 128)\n"
          "  --synchronous MODE SQLite synchronous of the run-services: off|normal|full|extra\n"
          "  --seed N           event generator seed (default: from the clock)\n"
          "  --json             one JSON object per fault per line\n"
          "  --verbose          show the services' stderr\n"
          "  --help             this text\n"
          "Exit status: 0 every fault that ran passed, 1 one failed, 2 bad usage.\n");
}

int hop_cmd_fault_bench(int argc, char **argv) {
  hop_faultbench_config cfg;
  hop_faultbench_config_init(&cfg);
  char exe[4096];
  if (hop_self_exe(exe, sizeof(exe))) {
    fprintf(stderr, "hopwire fault-bench: cannot find its own executable\n");
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
      fprintf(stderr, "hopwire fault-bench: %s needs a value (or unknown option; see --help)\n", a);
      return 2;
    }
    uint64_t n = 0;
    int bad = 0;
    if (!strcmp(a, "--fault")) {
      if (!strcmp(v, "all")) {
        cfg.faults = (1u << HOP_FAULT_COUNT) - 1;
      } else {
        cfg.faults = 0;
        char buf[512];
        snprintf(buf, sizeof(buf), "%s", v);
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && !bad; t = strtok_r(NULL, ",", &save)) {
          int f = hop_fault_from_name(t);
          if (f < 0) bad = 1;
          else cfg.faults |= 1u << f;
        }
        bad = bad || !cfg.faults;
      }
    } else if (!strcmp(a, "--store")) {
      cfg.store = v;
      bad = strcmp(v, "postgres") && strncmp(v, "postgres://", 11) && strncmp(v, "postgresql://", 13);
      if (bad) fprintf(stderr, "hopwire fault-bench: --store takes 'postgres' or a postgres:// URI "
                               "(SQLite is the default: a temp file per scenario)\n");
    } else if (!strcmp(a, "--actions")) bad = hop_cli_u64(v, &cfg.actions) || !cfg.actions || cfg.actions > 10000000;
    else if (!strcmp(a, "--concurrency")) bad = hop_cli_u64(v, &n) || !n || n > 10000 || !(cfg.concurrency = (uint32_t)n);
    else if (!strcmp(a, "--seed")) bad = hop_cli_u64(v, &cfg.seed) || !cfg.seed;
    else if (!strcmp(a, "--synchronous")) {
      static const char *modes[] = {"off", "normal", "full", "extra"};
      bad = 1;
      for (int m = 0; m < 4; m++)
        if (!strcmp(v, modes[m])) cfg.sqlite_synchronous = m, bad = 0;
    } else {
      fprintf(stderr, "hopwire fault-bench: unknown option '%s' (see --help)\n", a);
      return 2;
    }
    if (bad) {
      fprintf(stderr, "hopwire fault-bench: bad value for %s: '%s'\n", a, v);
      return 2;
    }
    i++;
  }
  /* The private mount namespace (tmpfs, /etc/hosts) must come before any thread exists. */
  char err[256];
  if (geteuid() == 0 && hop_faultbench_private_ns(err, sizeof(err)) == 0) cfg.private_ns = 1;
  else if (geteuid() == 0) fprintf(stderr, "hopwire fault-bench: %s\n", err);
  int rv = hop_faultbench_run(&cfg, stdout);
  return rv == 0 ? 0 : 1;
}
