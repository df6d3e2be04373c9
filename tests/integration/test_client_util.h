/* Shared helpers for the client integration tests (header-only; each test_client_*.c
 * includes it once). Peers: the Node.js h2c peer, `hopwire serve`, nghttpd, python3-h2
 * fault peers. */
#ifndef HOP_TEST_CLIENT_UTIL_H
#define HOP_TEST_CLIENT_UTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hopwire/client.h"
#include "hopwire/error.h"
#include "hoptest.h"

#ifndef assert_int_equal
#error "include <cmocka.h> before test_client_util.h"
#endif

static inline int tc_sanitize(void) {
  const char *s = getenv("HOP_SANITIZE");
  return s && (strcmp(s, "ON") == 0 || strcmp(s, "1") == 0 || strcmp(s, "TRUE") == 0);
}

static inline const char *tc_src(void) {
  const char *s = getenv("HOP_SOURCE_DIR");
  return s && *s ? s : ".";
}

static inline long tc_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Node h2c peer with |max_streams| and |delay_ms|. */
static inline int tc_spawn_node(hop_child *ch, int max_streams, int delay_ms) {
  char script[1024], ms[16], dl[16];
  snprintf(script, sizeof(script), "%s/tests/peers/node_h2_peer.js", tc_src());
  snprintf(ms, sizeof(ms), "%d", max_streams);
  snprintf(dl, sizeof(dl), "%d", delay_ms);
  char *argv[] = {"/usr/bin/node", script, "--max-streams", ms, "--delay-ms", dl, NULL};
  return hop_child_spawn(ch, argv, 1);
}

/* python3-h2 fault peer running |scenario| (see tests/peers/h2_fault_peer.py). */
static inline int tc_spawn_fault(hop_child *ch, const char *scenario, const char *logfile) {
  char script[1024];
  snprintf(script, sizeof(script), "%s/tests/peers/h2_fault_peer.py", tc_src());
  char *argv[] = {"/usr/bin/python3", script, (char *)scenario, (char *)(logfile ? logfile : "-"),
                  NULL};
  return hop_child_spawn(ch, argv, 1);
}

/* A port that was free a moment ago (for peers that cannot report an ephemeral port). */
static inline int tc_free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) return -1;
  socklen_t l = sizeof(a);
  getsockname(fd, (struct sockaddr *)&a, &l);
  close(fd);
  return ntohs(a.sin_port);
}

static inline int tc_wait_port(int port, int timeout_ms) {
  long end = tc_now_ms() + timeout_ms;
  while (tc_now_ms() < end) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    if (ok) return 0;
    usleep(20000);
  }
  return -1;
}

/* A client from |cfg|; hop_client_new must succeed. */
static inline hop_client *tc_client_from(const hop_client_config *cfg) {
  hop_client *c = NULL;
  assert_int_equal(hop_client_new(&c, cfg), HOP_OK);
  return c;
}

/* A client speaking |mode|; |tweak| (may be NULL) adjusts the config first. */
static inline hop_client *tc_client(hop_http_mode mode, void (*tweak)(hop_client_config *)) {
  hop_client_config cfg;
  hop_client_config_init(&cfg);
  cfg.http = mode;
  if (tweak) tweak(&cfg);
  return tc_client_from(&cfg);
}

/* |n| bytes of byte i = i * mul + (i >> shift) (malloc'ed; never NULL for n == 0). */
static inline uint8_t *tc_pattern(size_t n, unsigned mul, unsigned shift) {
  uint8_t *b = malloc(n ? n : 1);
  for (size_t i = 0; i < n; i++) b[i] = (uint8_t)(i * mul + (i >> shift));
  return b;
}

/* One blocking call that must fail with |want| after [min_ms, max_ms) of wall time. */
static inline void tc_expect_call_error(hop_client *c, const hop_call_opts *o, int want,
                                        long min_ms, long max_ms) {
  hop_result res;
  long t0 = tc_now_ms();
  assert_int_equal(hop_client_do(c, o, &res), want);
  long el = tc_now_ms() - t0;
  assert_true(el >= min_ms && el < max_ms);
}

static inline hop_client_stats tc_stats(hop_client *c) {
  hop_client_stats s;
  hop_client_get_stats(c, &s);
  return s;
}

/* ---- a closed-loop async load: |total| calls, |conc| in flight --------------------------- */

typedef struct tc_load {
  hop_client *c;
  hop_call_opts opts;
  int total, conc;
  int started, completed, ok, failed, bad_body;
  int first_err;
  int errs[32]; /* count by -err */
  pthread_mutex_t mu;
  pthread_cond_t cv;
} tc_load;

static void tc_load_cb(hop_call *call, int err, const hop_response *r, void *ud);

static inline void tc_load_next(tc_load *l) {
  /* called with l->mu held */
  while (l->started < l->total && l->started - l->completed < l->conc) {
    l->started++;
    pthread_mutex_unlock(&l->mu);
    int rv = hop_call_start(l->c, &l->opts, tc_load_cb, l, NULL);
    pthread_mutex_lock(&l->mu);
    if (rv != HOP_OK) {
      l->completed++;
      l->failed++;
      if (!l->first_err) l->first_err = rv;
    }
  }
  if (l->completed == l->total) pthread_cond_broadcast(&l->cv);
}

static void tc_load_cb(hop_call *call, int err, const hop_response *r, void *ud) {
  tc_load *l = ud;
  pthread_mutex_lock(&l->mu);
  l->completed++;
  if (err == HOP_OK && r->status == 200) {
    if (r->body_len != l->opts.body_len ||
        (l->opts.body_len && memcmp(r->body, l->opts.body, r->body_len) != 0))
      l->bad_body++;
    else
      l->ok++;
  } else {
    l->failed++;
    if (!l->first_err) l->first_err = err ? err : -1000 - (r ? r->status : 0);
    if (err < 0 && -err < 32) l->errs[-err]++;
  }
  tc_load_next(l);
  pthread_mutex_unlock(&l->mu);
}

/* Runs the load to completion (or |timeout_ms|). Returns 0 when every call completed. */
static inline int tc_load_run(tc_load *l, int timeout_ms) {
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->cv, NULL);
  pthread_mutex_lock(&l->mu);
  tc_load_next(l);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += timeout_ms / 1000;
  ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  int rv = 0;
  while (l->completed < l->total && rv == 0) rv = pthread_cond_timedwait(&l->cv, &l->mu, &ts);
  int done = l->completed == l->total;
  pthread_mutex_unlock(&l->mu);
  return done ? 0 : -1;
}

static inline void tc_load_destroy(tc_load *l) {
  pthread_mutex_destroy(&l->mu);
  pthread_cond_destroy(&l->cv);
}

static inline void tc_print_stats(const char *tag, hop_client *c) {
  hop_client_stats s;
  hop_client_get_stats(c, &s);
  hop_latency lat;
  hop_client_get_latency(c, &lat);
  fprintf(stderr,
          "[%s] dials=%llu failed=%llu open_h2=%llu open_h1=%llu ok=%llu failed=%llu goaways=%llu "
          "retries=%llu pings_to=%llu p50=%lluus p99=%lluus max=%lluus\n",
          tag, (unsigned long long)s.dials_started, (unsigned long long)s.dials_failed,
          (unsigned long long)s.conns_open_h2, (unsigned long long)s.conns_open_h1,
          (unsigned long long)s.calls_ok, (unsigned long long)s.calls_failed,
          (unsigned long long)s.goaways_received, (unsigned long long)s.retries,
          (unsigned long long)s.pings_timed_out, (unsigned long long)lat.p50_us,
          (unsigned long long)lat.p99_us, (unsigned long long)lat.max_us);
}

static inline void tc_print_load(const char *tag, const tc_load *l) {
  fprintf(stderr, "[%s] load total=%d ok=%d failed=%d bad_body=%d first_err=%d (%s)", tag,
          l->total, l->ok, l->failed, l->bad_body, l->first_err, hop_err_name(l->first_err));
  for (int i = 1; i < 32; i++)
    if (l->errs[i]) fprintf(stderr, " %s=%d", hop_err_name(-i), l->errs[i]);
  fprintf(stderr, "\n");
}

#endif
