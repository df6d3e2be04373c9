/* hopwire bench: the `hopwire serve` child measured when no --target is given. It runs in its
 * own process so that the client's CPU and RSS figures are the client's alone. */
#include <stdio.h>

#include "bench/bench.h"

static void fmt_delay(char *out, size_t n, uint64_t us) {
  if (us % 1000 == 0) snprintf(out, n, "%llums", (unsigned long long)(us / 1000));
  else snprintf(out, n, "%lluus", (unsigned long long)us);
}

int hop_bench_server_start(hop_child *c, const char *exe, uint64_t delay_us,
                           uint32_t max_streams, char *err, size_t errlen) {
  char delay[32], streams[16];
  fmt_delay(delay, sizeof(delay), delay_us);
  snprintf(streams, sizeof(streams), "%u", max_streams);
  char *args[] = {"serve", "--listen", "127.0.0.1:0", "--delay", delay,
                  "--max-streams", streams, NULL};
  /* stderr inherited: the server's own complaints reach the user. */
  return hop_child_start(c, exe, args, 0, 10000, err, errlen);
}
