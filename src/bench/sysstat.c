/* hopwire bench: figures from the kernel (TIME_WAIT sockets, peak RSS, CPU time). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench/bench.h"

#define TCP_STATE_TIME_WAIT 0x06

/* "0100007F:1F90" or a 32-hex-digit IPv6 address ":PORT": the port after the last ':'. */
static int port_of(const char *addr, unsigned *port) {
  const char *colon = strrchr(addr, ':');
  if (!colon || !colon[1]) return -1;
  char *end;
  unsigned long p = strtoul(colon + 1, &end, 16);
  if (*end || p > 65535) return -1;
  *port = (unsigned)p;
  return 0;
}

long hop_bench_count_tw_in(FILE *table, uint16_t port) {
  char line[512];
  if (!fgets(line, sizeof(line), table)) return 0; /* empty table */
  if (!strstr(line, "local_address")) return -1;
  long n = 0;
  while (fgets(line, sizeof(line), table)) {
    char local[80], remote[80];
    unsigned state;
    if (sscanf(line, " %*s %79s %79s %x", local, remote, &state) != 3) continue;
    if (state != TCP_STATE_TIME_WAIT) continue;
    unsigned lp, rp;
    if (port_of(local, &lp) || port_of(remote, &rp)) continue;
    if (port == 0 || lp == port || rp == port) n++;
  }
  return n;
}

long hop_bench_count_time_wait(uint16_t port) {
  static const char *const files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
  long total = 0;
  for (size_t i = 0; i < 2; i++) {
    FILE *f = fopen(files[i], "re");
    if (!f) continue;
    long n = hop_bench_count_tw_in(f, port);
    fclose(f);
    if (n > 0) total += n;
  }
  return total;
}

double hop_bench_cpu_seconds(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

int hop_bench_rss_reset_peak(void) {
  /* "5" resets the peak resident set size (VmHWM) to the current RSS (Linux >= 4.0). */
  int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t w = write(fd, "5", 1);
  close(fd);
  return w == 1 ? 0 : -1;
}

uint64_t hop_bench_status_kb(FILE *status, const char *key) {
  char line[256];
  size_t klen = strlen(key);
  while (fgets(line, sizeof(line), status)) {
    if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
      unsigned long long kb = strtoull(line + klen + 1, NULL, 10);
      return (uint64_t)kb;
    }
  }
  return 0;
}

uint64_t hop_bench_rss_kb(int peak) {
  FILE *f = fopen("/proc/self/status", "re");
  if (!f) return 0;
  uint64_t kb = hop_bench_status_kb(f, peak ? "VmHWM" : "VmRSS");
  fclose(f);
  return kb;
}
