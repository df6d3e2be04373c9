/* hopwire idle-bench: flags for hop_bench_idle (apps/bench/idle.c): RSS per idle h2c
 * connection, server and client. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"
#include "cliargs.h"
#include "commands.h"

static void usage(FILE *f) {
  fprintf(f, "usage: hopwire idle-bench [--conns N] [--threads N]\n"
             "  RSS per idle h2c connection: `hopwire serve` (a child) and a hop_client\n"
             "  --conns N    connections per batch (the server gets two), 1..%u (default 1000)\n"
             "  --threads N  the server's worker threads (default 2)\n",
          HOP_BENCH_IDLE_MAX_CONNS);
}

int hop_cmd_idle_bench(int argc, char **argv) {
  uint64_t n = 1000, threads = 2;
  for (int i = 1; i < argc; i += 2) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    }
    int bad = !v;
    if (!bad && !strcmp(a, "--conns")) bad = hop_cli_u64(v, &n) || n < 1 || n > HOP_BENCH_IDLE_MAX_CONNS;
    else if (!bad && !strcmp(a, "--threads")) bad = hop_cli_u64(v, &threads) || !threads || threads > 64;
    else bad = 1;
    if (bad) {
      fprintf(stderr, "hopwire idle-bench: bad option %s\n", a);
      usage(stderr);
      return 2;
    }
  }
  return hop_bench_idle((unsigned)n, (unsigned)threads);
}
