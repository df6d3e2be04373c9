/* hopwire idle-bench (issue 9): RSS growth per idle h2c connection, server and client.
 *
 * Server: a `hopwire serve` child gets N raw h2c connections from this process (preface +
 * SETTINGS, its SETTINGS read and ACKed, then silence), then N more while those stay open;
 * the figure is the second batch's growth of the child's VmRSS (the first batch's, which
 * also pays code paged in and malloc's arenas grown, is printed beside it; it is what
 * scripts/bench-server.sh reports). Client: a hop_client in this process makes N calls at
 * once to a child that allows one stream per connection (--max-streams 1) and answers after
 * 200 ms, so it dials N connections, idle once answered; the same N calls are first made on
 * a warm-up client over ~N/100 connections (another child, 100 streams), freed before, so
 * the calls' own memory is already in malloc's free lists and the measured growth of this
 * process's VmRSS is the connections'.
 * Every figure is read SETTLE_MS after the last frame: the server's sweep and the client's
 * tick return a connection's frame buffer to the kernel after a whole interval (1 s)
 * without frames. Memory only: no wall-clock figure is taken. */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "common/child.h"
#include "hopwire/client.h"
#include "hopwire/error.h"

#define SETTLE_MS 2500
#define ECHO_PATH "/hopwire.bench.v1.BenchService/Echo"

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) && errno == EINTR) {}
}

static int write_all(int fd, const void *p, size_t n) {
  const char *b = p;
  while (n) {
    ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    b += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Opens |n| idle h2c connections to 127.0.0.1:|port| into |fds|. Returns 0, or -1. */
static int open_idle(int *fds, unsigned n, uint16_t port) {
  static const char pre[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                            "\x00\x00\x00\x04\x00\x00\x00\x00\x00"; /* + empty SETTINGS */
  static const char ack[] = "\x00\x00\x00\x04\x01\x00\x00\x00\x00";
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (unsigned i = 0; i < n; i++) fds[i] = -1;
  for (unsigned i = 0; i < n; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    fds[i] = fd;
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) || write_all(fd, pre, sizeof(pre) - 1))
      return -1;
  }
  for (unsigned i = 0; i < n; i++) {
    char buf[256];
    if (recv(fds[i], buf, sizeof(buf), 0) < 9) return -1; /* the server's SETTINGS */
    if (write_all(fds[i], ack, sizeof(ack) - 1)) return -1;
  }
  return 0;
}

static void close_all(int *fds, unsigned n) {
  for (unsigned i = 0; i < n; i++)
    if (fds[i] >= 0) close(fds[i]), fds[i] = -1;
}

/* The server child's RSS growth per idle connection: *cold over the first |n| connections
 * of the process, the return value over |n| more opened while those stay. -1 on failure. */
static long server_rounds(hop_child *srv, int *fds, unsigned n, long *cold) {
  uint64_t base = hop_child_rss_kib(srv, 0);
  long per = -1;
  if (open_idle(fds, n, srv->port) == 0) {
    sleep_ms(SETTLE_MS);
    uint64_t mid = hop_child_rss_kib(srv, 0);
    if (open_idle(fds + n, n, srv->port) == 0) {
      sleep_ms(SETTLE_MS);
      uint64_t top = hop_child_rss_kib(srv, 0);
      *cold = (long)(((int64_t)mid - (int64_t)base) * 1024 / (int64_t)n);
      per = (long)(((int64_t)top - (int64_t)mid) * 1024 / (int64_t)n);
    }
  }
  close_all(fds, 2 * n);
  return per;
}

typedef struct round_state {
  atomic_uint done, failed;
} round_state;

static void on_done(hop_call *call, int err, const hop_response *resp, void *ud) {
  round_state *st = ud;
  if (err) atomic_fetch_add(&st->failed, 1);
  atomic_fetch_add(&st->done, 1);
}

/* |n| calls at once to |port| on a fresh client, all answered. With |rss_per_conn|: the
 * client's connections are first checked to be |n| (the server allows one stream each) and
 * left idle for SETTLE_MS, and *rss_per_conn is this process's RSS growth per connection.
 * The client is freed at the end (its connections with it). Returns 0, or -1 with a cause
 * printed. */
static int client_round(uint16_t port, unsigned n, long *rss_per_conn) {
  uint64_t before = hop_self_rss_kib(0);
  hop_client_config cfg;
  hop_client_config_init(&cfg);
  cfg.http = HOP_HTTP_H2C;
  cfg.max_conns_per_origin = n;
  cfg.strict_max_conns = 1;
  hop_client *c;
  if (hop_client_new(&c, &cfg)) return -1;
  char url[64];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u" ECHO_PATH, (unsigned)port);
  hop_header ct = {"content-type", 12, "application/proto", 17};
  hop_call_opts o = {.url = url, .headers = &ct, .nheaders = 1, .timeout_ms = 30000};
  round_state st;
  atomic_init(&st.done, 0);
  atomic_init(&st.failed, 0);
  unsigned started = 0;
  for (; started < n; started++)
    if (hop_call_start(c, &o, on_done, &st, NULL)) break;
  for (int i = 0; i < 4000 && atomic_load(&st.done) < started; i++) sleep_ms(10);
  hop_client_stats cs;
  hop_client_get_stats(c, &cs);
  int rc = -1;
  if (started < n || atomic_load(&st.done) < n || atomic_load(&st.failed)) {
    fprintf(stderr, "hopwire idle-bench: client calls: %u started, %u done, %u failed\n",
            started, atomic_load(&st.done), atomic_load(&st.failed));
  } else if (rss_per_conn && cs.conns_open_h2 != n) {
    fprintf(stderr, "hopwire idle-bench: the client opened %llu connections, not %u\n",
            (unsigned long long)cs.conns_open_h2, n);
  } else {
    rc = 0;
    if (rss_per_conn) {
      sleep_ms(SETTLE_MS);
      uint64_t after = hop_self_rss_kib(0);
      *rss_per_conn = (long)(((int64_t)after - (int64_t)before) * 1024 / (int64_t)n);
    }
  }
  hop_client_free(c);
  return rc;
}

int hop_bench_idle(unsigned n, unsigned threads) {
  if (n < 1 || n > HOP_BENCH_IDLE_MAX_CONNS || threads < 1 || threads > 64) return 2;
  /* This process holds 2N sockets (server rounds), later N as a client; the child 2N. The
   * children inherit the limit. */
  struct rlimit rl;
  uint64_t need = 2 * (uint64_t)n + 64;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
    rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < need) {
      fprintf(stderr, "hopwire idle-bench: open files limit %llu, need %llu\n",
              (unsigned long long)rl.rlim_cur, (unsigned long long)need);
      return 1;
    }
  }
  char exe[PATH_MAX], err[256], th[24];
  if (hop_self_exe(exe, sizeof(exe))) {
    fprintf(stderr, "hopwire idle-bench: cannot find my own executable\n");
    return 1;
  }
  snprintf(th, sizeof(th), "%u", threads);
  /* One stream per connection, answers after 200 ms: N calls at once need N connections. */
  char *args[] = {"serve", "--listen", "127.0.0.1:0", "--threads", th, "--max-conns", "20000",
                  "--max-streams", "1", "--delay", "200ms", NULL};
  /* 100 streams per connection: the warm-up calls that need few connections. */
  char *args100[] = {"serve", "--listen", "127.0.0.1:0", "--threads", th, "--delay", "200ms",
                     NULL};
  hop_child srv, srv100;
  if (hop_child_start(&srv, exe, args, 1, 10000, err, sizeof(err))) {
    fprintf(stderr, "hopwire idle-bench: %s\n", err);
    return 1;
  }
  if (hop_child_start(&srv100, exe, args100, 1, 10000, err, sizeof(err))) {
    fprintf(stderr, "hopwire idle-bench: %s\n", err);
    hop_child_stop(&srv, 2000);
    return 1;
  }
  sleep_ms(300);
  int *fds = malloc(2 * n * sizeof(*fds));
  int rc = 0;
  long s_cold = 0, s_per = fds ? server_rounds(&srv, fds, (unsigned)n, &s_cold) : -1;
  free(fds);
  if (s_per < 0) {
    fprintf(stderr, "hopwire idle-bench: could not open %llu idle connections to the server\n",
            2 * (unsigned long long)n);
    rc = 1;
  } else {
    printf("server: %llu idle h2c connections: %ld bytes RSS per connection "
           "(%llu more; the first %llu: %ld)\n",
           2 * (unsigned long long)n, s_per, (unsigned long long)n, (unsigned long long)n,
           s_cold);
  }
  /* The same N calls first over ~N/100 connections on a client freed after: the calls'
   * own memory is then in malloc's free lists, and what the measured client's RSS gains is
   * its connections. */
  long c_per = -1;
  if (client_round(srv100.port, (unsigned)n, NULL) || client_round(srv.port, (unsigned)n, &c_per))
    rc = 1;
  else
    printf("client: %llu idle h2c connections: %ld bytes RSS per connection\n",
           (unsigned long long)n, c_per);
  fflush(stdout);
  hop_child_stop(&srv, 2000);
  hop_child_stop(&srv100, 2000);
  return rc;
}
