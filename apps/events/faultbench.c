/* hopwire fault-bench: see faultbench.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "events/faultbench.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/child.h"
#include "events/codec.h"
#include "events/eventgen.h"
#include "events/keyset.h"
#include "events/executor.h"
#include "events/pgctl.h"
#include "events/prom.h"
#include "events/runsvc.h"
#include "events/store.h"
#include "hopwire/client.h"
#include "hopwire/error.h"
#include "hopwire/rpc.h"

static const char *const fault_names[HOP_FAULT_COUNT] = {
    "kill-run-service", "kill-proxy",  "pg-restart-immediate", "pg-restart-fast",
    "pg-terminate",     "sqlite-disk-full", "sqlite-lock",     "sigterm-run-service",
    "scale-out",        "duplicate-storm",  "overload",        "crash-in-commit",
    "crash-after-commit"};

const char *hop_fault_name(int f) { return f >= 0 && f < HOP_FAULT_COUNT ? fault_names[f] : NULL; }

int hop_fault_from_name(const char *name) {
  for (int i = 0; i < HOP_FAULT_COUNT; i++)
    if (!strcmp(name, fault_names[i])) return i;
  return -1;
}

void hop_faultbench_config_init(hop_faultbench_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->faults = (1u << HOP_FAULT_COUNT) - 1;
  cfg->actions = 2000;
  cfg->concurrency = 128;
  cfg->sqlite_synchronous = -1;
}

int hop_faultbench_private_ns(char *err, size_t errlen) {
  if (unshare(CLONE_NEWNS) != 0) {
    snprintf(err, errlen, "unshare(CLONE_NEWNS): %s (needs root)", strerror(errno));
    return -1;
  }
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
    snprintf(err, errlen, "making / private: %s", strerror(errno));
    return -1;
  }
  return 0;
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(uint64_t ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* Bounds of the timeline: a Record's deadline, the whole executor run, waits for progress. */
#define RECORD_TIMEOUT_MS 5000
#define RUN_DEADLINE_MS 90000
#define WAIT_MS 30000
#define DOWN_MS 1000
#define NRS 3
#define NPX 2

/* ---- one scenario's outcome ---- */

typedef struct outcome {
  int fault;
  int ran, passed;
  char skipped[200];
  char why[400];
  uint64_t planned, events, acknowledged, rows, dup_rows, foreign_rows, duplicates, lost;
  uint64_t re_emits, errors, records, queue_full;
  uint64_t max_wait_us;
  double elapsed_s, recover_s, events_per_s;
  int probe_code;       /* -1: no probe */
  char probe_msg[240];
  double probe_ms;
  uint64_t probe_base;  /* the last probe's first action (its events: seq 0 of each) */
  unsigned probe_nev;
  long probe_stored;    /* disk-full: rows of the failed probe found afterwards (-1: unchecked) */
  uint64_t per_instance[NRS]; /* events received by each run-service (scale-out) */
  unsigned ninstances;
  int exit_status;      /* sigterm: the drained run-service; crash: the killed one */
  uint64_t kill_at;     /* crash: the commit it died in */
  char integrity[64];   /* disk-full: PRAGMA integrity_check */
  uint64_t rss_exec, rss_proxy, rss_rs; /* peak VmRSS sampled during the load, KiB */
  /* overload: the 1x phase (the main figures are the 10x phase) */
  double x1_events_per_s;
  uint64_t x1_rss_exec, x1_rss_proxy, x1_rss_rs;
  uint64_t commit_delay_us;
  double x10_stored_per_s; /* rows committed per second during the overload window */
  uint64_t rows_at_fix;    /* rows committed when the delay went */
  uint64_t rows_before, rows_after; /* duplicates: the store's checksum inputs */
  uint64_t goaways, retries;        /* the proxies' downstream client: GOAWAYs, retries */
  uint64_t reconnects;              /* the run-services' store (PostgreSQL) */
  uint64_t sum_before, sum_after;
} outcome;

/* ---- shared state of a bench run ---- */

typedef struct bench {
  const hop_faultbench_config *cfg;
  char tmpdir[128];
  hop_pg pg;
  int pg_started;
  char pg_err[512];
  hop_client *scraper;
  uint64_t seed;
} bench;

/* A scenario's topology and load. */
typedef struct topo {
  bench *b;
  outcome *o;
  char url[1024];
  char dbpath[512];
  unsigned nrs, npx;
  hop_child rs[NRS], px[NPX];
  char rs_host[NRS][16], px_host[NPX][16];
  uint16_t rs_port, px_port;
  char rs_target[128];  /* what the proxies call */
  char px_target[128];  /* what the executor calls */
  char *rs_extra[16];   /* extra run-service arguments */
  size_t nrs_extra;
  char *px_extra[8];
  size_t npx_extra;
  uint64_t accumulated[NRS]; /* events received by earlier lives of each instance */
  uint64_t acc_committed;    /* rows committed by earlier (drained) lives */
  /* the executor thread */
  hop_exec_config ec;
  hop_exec_result ex;
  pthread_t th;
  int th_started;
  int exec_rc;
  atomic_int exec_done;
  /* RSS sampling: /proc/PID/status of each process, opened before the executor thread
   * starts and closed after it ended, re-read with pread. ThreadSanitizer models file
   * descriptors as objects: an fd opened here every 50 ms while the executor's thread
   * closes sockets reads as a race on the reused number, so no fd is created or closed by
   * the sampler while that thread runs (processes started meanwhile are measured by their
   * VmHWM afterwards). */
  int watch_fd[2 * (NRS + NPX) + 1];
  int watch_kind[2 * (NRS + NPX) + 1]; /* 0 the bench (executor), 1 a proxy, 2 a run-service */
  unsigned nwatch;
  int self_watched;
  uint64_t rss_exec, rss_proxy, rss_rs;
} topo;

/* ---- /metrics ---- */

/* hop_prom_fetch's twin for any loopback address (scale-out's instances are 127.0.0.1-5). */
static char *scrape(bench *b, const char *host, uint16_t port) {
  char url[96];
  snprintf(url, sizeof(url), "http://%s:%u/metrics", host, port);
  hop_call_opts o;
  memset(&o, 0, sizeof(o));
  o.method = "GET";
  o.url = url;
  o.timeout_ms = 3000;
  hop_result r;
  memset(&r, 0, sizeof(r));
  char *text = NULL;
  if (hop_client_do(b->scraper, &o, &r) == 0 && r.status == 200) {
    text = malloc(r.body_len + 1);
    if (text) {
      memcpy(text, r.body, r.body_len);
      text[r.body_len] = '\0';
    }
  }
  hop_result_free(&r);
  return text;
}

static double metric(const char *text, const char *name) { return hop_prom_value(text, name); }

/* A run-service's counter (0 when it is down). */
static uint64_t rs_metric(topo *t, unsigned i, const char *name) {
  if (t->rs[i].pid <= 0) return 0;
  char *m = scrape(t->b, t->rs_host[i], t->rs_port);
  uint64_t v = (uint64_t)metric(m, name);
  free(m);
  return v;
}

/* Rows committed (new or duplicate) by the live run-services. */
static uint64_t committed(topo *t) {
  uint64_t n = t->acc_committed;
  for (unsigned i = 0; i < t->nrs; i++)
    n += rs_metric(t, i, "hopwire_store_rows_inserted_total") +
         rs_metric(t, i, "hopwire_store_duplicates_total");
  return n;
}

/* Watches process |pid| (0 = this one); only while no executor thread runs. */
static void watch(topo *t, int kind, pid_t pid) {
  if (t->th_started || t->nwatch >= sizeof(t->watch_fd) / sizeof(t->watch_fd[0])) return;
  char path[64];
  if (pid) snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  else snprintf(path, sizeof(path), "/proc/self/status");
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  t->watch_fd[t->nwatch] = fd;
  t->watch_kind[t->nwatch++] = kind;
}

static void unwatch_all(topo *t) {
  if (t->th_started) return;
  for (unsigned i = 0; i < t->nwatch; i++) close(t->watch_fd[i]);
  t->nwatch = 0;
  t->self_watched = 0;
}

static void sample_rss(topo *t) {
  char buf[4096];
  for (unsigned i = 0; i < t->nwatch; i++) {
    ssize_t n = pread(t->watch_fd[i], buf, sizeof(buf) - 1, 0);
    if (n <= 0) continue; /* the process is gone */
    buf[n] = '\0';
    const char *p = strstr(buf, "\nVmRSS:");
    if (!p) continue;
    uint64_t v = strtoull(p + 8, NULL, 10);
    uint64_t *slot = t->watch_kind[i] == 0 ? &t->rss_exec : t->watch_kind[i] == 1 ? &t->rss_proxy : &t->rss_rs;
    if (v > *slot) *slot = v;
  }
}

/* After the executor thread ended: the peak (VmHWM) of the services still running covers
 * the ones started during the load. */
static void sample_peaks(topo *t) {
  sample_rss(t);
  for (unsigned i = 0; i < t->npx; i++) {
    uint64_t v = hop_child_rss_kib(&t->px[i], 1);
    if (v > t->rss_proxy) t->rss_proxy = v;
  }
  for (unsigned i = 0; i < t->nrs; i++) {
    uint64_t v = hop_child_rss_kib(&t->rs[i], 1);
    if (v > t->rss_rs) t->rss_rs = v;
  }
}

/* Sleeps |ms| while sampling RSS. */
static void idle_ms(topo *t, uint64_t ms) {
  uint64_t end = now_ms() + ms;
  for (uint64_t n = now_ms(); n < end; n = now_ms()) {
    sample_rss(t);
    sleep_ms(end - n < 50 ? end - n : 50);
  }
}

/* Waits until the live run-services committed more than |base| rows (or the executor
 * finished, or WAIT_MS). Returns 0 when they did. */
static int wait_committed(topo *t, uint64_t base) {
  uint64_t end = now_ms() + WAIT_MS;
  while (now_ms() < end) {
    if (committed(t) > base) return 0;
    if (atomic_load(&t->exec_done)) return committed(t) > base ? 0 : -1;
    sample_rss(t);
    sleep_ms(10);
  }
  return -1;
}

/* ---- children ---- */

/* Run-service |i| on its address and the topology's port (0 the first time: any, then
 * every instance and every restart binds that one; SO_REUSEPORT lets a replacement bind
 * while its predecessor drains). */
static int rs_start_env(topo *t, unsigned i, char *const env[]) {
  char listen[64], store_arg[1100];
  snprintf(listen, sizeof(listen), "%s:%u", t->rs_host[i], t->rs_port);
  snprintf(store_arg, sizeof(store_arg), "%s", t->url);
  char *args[40] = {"run-service", "--listen", listen, "--store", store_arg, "--threads", "2",
                    "--drain-timeout", "10s"};
  size_t n = 9;
  char sync[16];
  if (t->b->cfg->sqlite_synchronous >= 0) {
    static const char *const modes[] = {"off", "normal", "full", "extra"};
    snprintf(sync, sizeof(sync), "%s", modes[t->b->cfg->sqlite_synchronous & 3]);
    args[n++] = "--synchronous";
    args[n++] = sync;
  }
  for (size_t k = 0; k < t->nrs_extra && n < 38; k++) args[n++] = t->rs_extra[k];
  args[n] = NULL;
  char err[256];
  /* A port just released by a killed process binds at once (SO_REUSEADDR/PORT); retry a
   * little anyway in case the kernel is slow to tear the listener down. */
  for (int attempt = 0; attempt < 20; attempt++) {
    if (hop_child_start_env(&t->rs[i], t->b->cfg->exe, args, env, !t->b->cfg->verbose, 15000,
                            err, sizeof(err)) == 0) {
      if (!t->rs_port) t->rs_port = t->rs[i].port;
      watch(t, 2, t->rs[i].pid);
      return 0;
    }
    sleep_ms(50);
  }
  snprintf(t->o->why, sizeof(t->o->why), "run-service %u: %s", i, err);
  return -1;
}

static int rs_start(topo *t, unsigned i) { return rs_start_env(t, i, NULL); }

static int px_start(topo *t, unsigned i) {
  char listen[64];
  snprintf(listen, sizeof(listen), "%s:%u", t->px_host[i], t->px_port);
  char *args[24] = {"events-proxy", "--listen", listen, "--run-service", t->rs_target,
                    "--threads", "2"};
  size_t n = 7;
  for (size_t k = 0; k < t->npx_extra && n < 22; k++) args[n++] = t->px_extra[k];
  args[n] = NULL;
  char err[256];
  for (int attempt = 0; attempt < 20; attempt++) {
    if (hop_child_start(&t->px[i], t->b->cfg->exe, args, !t->b->cfg->verbose, 15000, err,
                        sizeof(err)) == 0) {
      if (!t->px_port) t->px_port = t->px[i].port;
      watch(t, 1, t->px[i].pid);
      return 0;
    }
    sleep_ms(50);
  }
  snprintf(t->o->why, sizeof(t->o->why), "events-proxy %u: %s", i, err);
  return -1;
}

/* Starts every run-service (one port, on each's address), then the proxies. */
static int topo_start(topo *t) {
  for (unsigned i = 0; i < t->nrs; i++)
    if (rs_start(t, i)) return -1;
  if (!t->rs_target[0])
    snprintf(t->rs_target, sizeof(t->rs_target), "http://%s:%u", t->rs_host[0], t->rs_port);
  for (unsigned i = 0; i < t->npx; i++)
    if (px_start(t, i)) return -1;
  if (!t->px_target[0])
    snprintf(t->px_target, sizeof(t->px_target), "http://%s:%u", t->px_host[0], t->px_port);
  return 0;
}

/* Stops every child still running; returns the first non-zero exit status (a service that
 * does not drain cleanly, or a sanitizer's report), else 0. */
static int topo_stop(topo *t) {
  int bad = 0;
  for (unsigned i = 0; i < t->npx; i++) {
    int st = hop_child_stop(&t->px[i], 15000);
    if (st > 0 && !bad) bad = st;
  }
  for (unsigned i = 0; i < t->nrs; i++) {
    int st = hop_child_stop(&t->rs[i], 15000);
    if (st > 0 && !bad) bad = st;
  }
  return bad;
}

/* ---- the executor thread ---- */

static void *exec_main(void *arg) {
  topo *t = arg;
  t->exec_rc = hop_exec_run(&t->ec, &t->ex);
  atomic_store(&t->exec_done, 1);
  return NULL;
}

static void exec_config(topo *t, uint64_t seed_offset) {
  hop_exec_config_init(&t->ec);
  t->ec.target = t->px_target;
  t->ec.actions = t->b->cfg->actions;
  t->ec.concurrency = t->b->cfg->concurrency;
  t->ec.record_timeout_ms = RECORD_TIMEOUT_MS;
  t->ec.deadline_ms = RUN_DEADLINE_MS;
  t->ec.max_tries = 100000; /* only the deadline abandons */
  t->ec.backoff_base_ms = 10;
  t->ec.backoff_cap_ms = 500;
  t->ec.gen.seed = t->b->seed + seed_offset; /* distinct run names per scenario */
}

static int exec_start(topo *t) {
  if (!t->self_watched) {
    watch(t, 0, 0);
    t->self_watched = 1;
  }
  atomic_store(&t->exec_done, 0);
  if (pthread_create(&t->th, NULL, exec_main, t) != 0) {
    snprintf(t->o->why, sizeof(t->o->why), "cannot start the executor thread");
    return -1;
  }
  t->th_started = 1;
  return 0;
}

static void exec_join(topo *t) {
  if (!t->th_started) return;
  while (!atomic_load(&t->exec_done)) idle_ms(t, 20);
  pthread_join(t->th, NULL);
  t->th_started = 0;
}

/* Waits until a share of the planned events is stored: the fault lands mid-load. */
static int wait_load(topo *t, double share) {
  uint64_t planned = 0;
  for (uint64_t a = 0; a < t->ec.actions; a++) planned += hop_evgen_action_events(&t->ec.gen, a);
  uint64_t want = (uint64_t)((double)planned * share);
  uint64_t end = now_ms() + WAIT_MS;
  while (now_ms() < end && !atomic_load(&t->exec_done)) {
    if (committed(t) >= want) return 0;
    sample_rss(t);
    sleep_ms(10);
  }
  snprintf(t->o->why, sizeof(t->o->why), "the load did not reach %.0f%% of %llu events",
           share * 100, (unsigned long long)planned);
  return -1;
}

/* ---- a probe: one RecordActionEvents straight to a run-service, its in-band status ---- */

static void probe_n(topo *t, unsigned i, unsigned nev) {
  outcome *o = t->o;
  hop_evgen_config g;
  hop_evgen_config_init(&g);
  g.seed = t->b->seed ^ 0x70726f6265ull; /* its own run names: not the scenario's */
  size_t cap = (size_t)nev * (HOP_EVGEN_MAX_EVENT_BYTES + 8);
  uint8_t *buf = malloc(cap);
  if (!buf) return;
  size_t len = 0;
  uint64_t base = (now_ms() % 100000) * 1000;
  o->probe_base = base;
  o->probe_nev = nev;
  for (unsigned k = 0; k < nev; k++) {
    /* RecordActionEventsRequest{events: [...]}: 0x0a, a 2-byte length, the event */
    int n = hop_evgen_encode(&g, base + k, 0, 0, buf + len + 3, HOP_EVGEN_MAX_EVENT_BYTES);
    if (n < 0) {
      free(buf);
      return;
    }
    buf[len] = 0x0a;
    buf[len + 1] = (uint8_t)(n | 0x80);
    buf[len + 2] = (uint8_t)(n >> 7);
    len += (size_t)n + 3;
  }
  char url[96];
  snprintf(url, sizeof(url), "http://%s:%u", t->rs_host[i], t->rs_port);
  hop_rpc_call_opts ro;
  hop_rpc_call_opts_init(&ro);
  ro.base_url = url;
  ro.procedure = HOP_RUNSVC_PROCEDURE;
  ro.message = buf;
  ro.message_len = len;
  ro.timeout_ms = 15000;
  hop_rpc_result r;
  uint64_t t0 = now_ms();
  hop_rpc_call(t->b->scraper, &ro, &r);
  o->probe_ms = (double)(now_ms() - t0);
  if (r.code != HOP_CODE_OK) {
    o->probe_code = 1000 + (int)r.code; /* an RPC error, not in-band */
    snprintf(o->probe_msg, sizeof(o->probe_msg), "rpc error %s: %s", hop_code_name(r.code),
             r.error_message ? r.error_message : "");
  } else {
    int32_t code = 0;
    if (hop_ev_status_decode(r.message, r.message_len, &code, o->probe_msg, sizeof(o->probe_msg)))
      code = -2;
    o->probe_code = code;
  }
  hop_rpc_result_free(&r);
  free(buf);
}

static void probe(topo *t, unsigned i) { probe_n(t, i, 1); }

/* ---- the store check ---- */

typedef struct check_ctx {
  hop_keyset *keys;
  uint64_t rows, dup_rows, foreign, sum;
} check_ctx;

static int on_stored(void *ud, const hop_ev_row *row) {
  check_ctx *c = ud;
  char k[256];
  hop_event_key_str(k, sizeof(k), row->project, row->domain, row->run_name, row->name, row->attempt,
          row->phase, row->version);
  c->rows++;
  c->sum = hop_fnv1a(k, strlen(k), c->sum);
  c->sum = hop_fnv1a(row->info, row->info_len, c->sum);
  size_t i = hop_keyset_find(c->keys, k, 0);
  if (i == SIZE_MAX) {
    c->foreign++;
  } else {
    if (c->keys->hits[i] & 4) c->dup_rows++;
    c->keys->hits[i] |= 4;
  }
  return 0;
}

/* Lists the rows of the scenario's runs: counts them, checks each acknowledged key is there
 * and no key twice; |sum| is a checksum of the rows (keys and info bytes, in list order). */
static int check_store(topo *t, uint64_t *sum) {
  outcome *o = t->o;
  const hop_exec_config *ec = &t->ec;
  const hop_exec_result *ex = &t->ex;
  hop_keyset keys, runs;
  if (hop_keyset_init(&keys, ec->actions * HOP_EVGEN_MAX_EVENTS) ||
      hop_keyset_init(&runs, ec->actions / 4 + 16)) {
    hop_keyset_free(&keys);
    hop_keyset_free(&runs);
    snprintf(o->why, sizeof(o->why), "check: out of memory");
    return -1;
  }
  char k[256];
  for (uint64_t a = 0; a < ec->actions; a++) {
    unsigned ne = hop_evgen_action_events(&ec->gen, a);
    for (unsigned s = 0; s < ne; s++) {
      hop_evgen_key key;
      if (hop_evgen_key_of(&ec->gen, a, s, &key)) continue;
      if (s == 0) {
        snprintf(k, sizeof(k), "%s\x1f%s\x1f%s", key.project, key.domain, key.run_name);
        hop_keyset_find(&runs, k, 1);
      }
      hop_event_key_str(k, sizeof(k), key.project, key.domain, key.run_name, key.name, key.attempt,
              key.phase, key.version);
      size_t i = hop_keyset_find(&keys, k, 1);
      if (i == SIZE_MAX) continue;
      keys.hits[i] = 1;
      if (ex->acked && hop_exec_acked(ex, a, s)) keys.hits[i] = 2;
    }
  }
  hop_store_config sc;
  hop_store_config_init(&sc);
  sc.url = t->url;
  sc.writers = 1;
  hop_store *st = NULL;
  char err[256];
  int rv = hop_store_open(&st, &sc, err, sizeof(err));
  int opened = rv == 0;
  check_ctx cc = {&keys, 0, 0, 0, 1469598103934665603ull};
  for (size_t i = 0; rv == 0 && i < runs.cap; i++) {
    if (!runs.slot[i]) continue;
    char p[64], d[64], r[64];
    if (sscanf(runs.slot[i], "%63[^\x1f]\x1f%63[^\x1f]\x1f%63s", p, d, r) != 3) continue;
    rv = hop_store_list(st, p, d, r, on_stored, &cc, err, sizeof(err));
  }
  if (opened) hop_store_close(st);
  uint64_t lost = 0;
  for (size_t i = 0; i < keys.cap; i++)
    if (keys.hits[i] == 2) lost++; /* acknowledged, not stored */
  o->rows = cc.rows;
  o->dup_rows = cc.dup_rows;
  o->foreign_rows = cc.foreign;
  o->lost = lost;
  if (sum) *sum = cc.sum;
  hop_keyset_free(&keys);
  hop_keyset_free(&runs);
  if (rv) {
    snprintf(o->why, sizeof(o->why), "check: %s", err);
    return -1;
  }
  return 0;
}

/* How many events of the last probe are in the store (its own runs, seq 0 of each action). */
static long probe_rows(topo *t) {
  outcome *o = t->o;
  hop_evgen_config g;
  hop_evgen_config_init(&g);
  g.seed = t->b->seed ^ 0x70726f6265ull;
  hop_keyset keys, runs;
  if (hop_keyset_init(&keys, o->probe_nev) || hop_keyset_init(&runs, o->probe_nev)) {
    hop_keyset_free(&keys);
    hop_keyset_free(&runs);
    return -1;
  }
  char k[256];
  for (unsigned i = 0; i < o->probe_nev; i++) {
    hop_evgen_key key;
    if (hop_evgen_key_of(&g, o->probe_base + i, 0, &key)) continue;
    snprintf(k, sizeof(k), "%s\x1f%s\x1f%s", key.project, key.domain, key.run_name);
    hop_keyset_find(&runs, k, 1);
    hop_event_key_str(k, sizeof(k), key.project, key.domain, key.run_name, key.name, key.attempt,
            key.phase, key.version);
    hop_keyset_find(&keys, k, 1);
  }
  hop_store_config sc;
  hop_store_config_init(&sc);
  sc.url = t->url;
  sc.writers = 1;
  hop_store *st = NULL;
  char err[256];
  int rv = hop_store_open(&st, &sc, err, sizeof(err));
  int opened = rv == 0;
  check_ctx cc = {&keys, 0, 0, 0, 0};
  for (size_t i = 0; rv == 0 && i < runs.cap; i++) {
    if (!runs.slot[i]) continue;
    char p[64], d[64], r[64];
    if (sscanf(runs.slot[i], "%63[^\x1f]\x1f%63[^\x1f]\x1f%63s", p, d, r) != 3) continue;
    rv = hop_store_list(st, p, d, r, on_stored, &cc, err, sizeof(err));
  }
  if (opened) hop_store_close(st);
  long found = 0;
  for (size_t i = 0; i < keys.cap; i++)
    if (keys.hits[i] & 4) found++;
  hop_keyset_free(&keys);
  hop_keyset_free(&runs);
  return rv ? -1 : found;
}

/* ---- scenario frame ---- */

static void topo_init(topo *t, bench *b, outcome *o, unsigned nrs, unsigned npx) {
  memset(t, 0, sizeof(*t));
  t->b = b;
  t->o = o;
  t->nrs = nrs;
  t->npx = npx;
  for (unsigned i = 0; i < NRS; i++) {
    t->rs[i].pid = -1;
    t->rs[i].out_fd = -1;
    snprintf(t->rs_host[i], sizeof(t->rs_host[i]), "127.0.0.1");
  }
  for (unsigned i = 0; i < NPX; i++) {
    t->px[i].pid = -1;
    t->px[i].out_fd = -1;
    snprintf(t->px_host[i], sizeof(t->px_host[i]), "127.0.0.1");
  }
  o->probe_code = -1;
  o->probe_stored = -1;
  o->exit_status = -1;
}

/* The store of a scenario: a fresh SQLite file in its own dir (|dir| may name one), or the
 * shared PostgreSQL database (runs differ by seed). */
static int topo_store(topo *t, const char *dir, int want_pg) {
  bench *b = t->b;
  const char *store = b->cfg->store;
  int pg = want_pg || (store && !strcmp(store, "postgres"));
  if (pg) {
    if (!b->pg_started) {
      if (b->pg_err[0]) {
        snprintf(t->o->skipped, sizeof(t->o->skipped), "no PostgreSQL: %.180s", b->pg_err);
        return -1;
      }
      if (hop_pg_start(&b->pg, b->pg_err, sizeof(b->pg_err)) != 0) {
        snprintf(t->o->skipped, sizeof(t->o->skipped), "no PostgreSQL: %.180s", b->pg_err);
        if (!b->pg_err[0]) snprintf(b->pg_err, sizeof(b->pg_err), "failed");
        return -1;
      }
      b->pg_started = 1;
    }
    snprintf(t->url, sizeof(t->url), "%s", b->pg.url);
    return 0;
  }
  if (store) { /* an external postgres:// URI */
    snprintf(t->url, sizeof(t->url), "%s", store);
    return 0;
  }
  snprintf(t->dbpath, sizeof(t->dbpath), "%s/%s.db", dir ? dir : b->tmpdir,
           hop_fault_name(t->o->fault));
  snprintf(t->url, sizeof(t->url), "sqlite:%s", t->dbpath);
  return 0;
}

static void topo_unlink(topo *t) {
  if (!t->dbpath[0]) return;
  static const char *const sfx[] = {"", "-wal", "-shm"};
  char p[600];
  for (int s = 0; s < 3; s++) {
    snprintf(p, sizeof(p), "%s%s", t->dbpath, sfx[s]);
    unlink(p);
  }
}

/* Common end: join the executor, read its figures, stop the services, check the store and
 * the promise. */
static void finish(topo *t, int timeline_ok) {
  outcome *o = t->o;
  exec_join(t);
  sample_peaks(t);
  uint64_t dups = 0, qf = 0;
  for (unsigned i = 0; i < t->nrs; i++) {
    dups += rs_metric(t, i, "hopwire_store_duplicates_total");
    char *m = t->rs[i].pid > 0 ? scrape(t->b, t->rs_host[i], t->rs_port) : NULL;
    qf += (uint64_t)metric(m, "hopwire_runsvc_requests_total{result=\"queue_full\"}");
    o->reconnects += (uint64_t)metric(m, "hopwire_store_reconnects_total");
    t->accumulated[i] += (uint64_t)metric(m, "hopwire_runsvc_events_received_total");
    free(m);
  }
  o->duplicates += dups;
  o->queue_full += qf;
  for (unsigned i = 0; i < t->npx; i++) {
    char *m = t->px[i].pid > 0 ? scrape(t->b, t->px_host[i], t->px_port) : NULL;
    o->goaways += (uint64_t)metric(m, "hopwire_proxy_downstream_goaways_received_total");
    o->retries += (uint64_t)metric(m, "hopwire_proxy_downstream_retries_total");
    free(m);
  }
  int stop_status = topo_stop(t);
  unwatch_all(t);
  if (t->exec_rc) {
    snprintf(o->why, sizeof(o->why), "executor: %s", hop_strerror(t->exec_rc));
    return;
  }
  const hop_exec_result *e = &t->ex;
  o->planned = e->planned;
  o->events = e->events;
  o->acknowledged = e->acknowledged;
  o->re_emits += e->re_emits;
  o->errors += e->errors;
  o->records += e->records;
  o->max_wait_us = e->latency.max_us > o->max_wait_us ? e->latency.max_us : o->max_wait_us;
  o->elapsed_s = e->elapsed_s;
  o->events_per_s = e->events_per_s;
  o->rss_exec = t->rss_exec;
  o->rss_proxy = t->rss_proxy;
  o->rss_rs = t->rss_rs;
  for (unsigned i = 0; i < t->nrs; i++) o->per_instance[i] = t->accumulated[i];
  o->ninstances = t->nrs;
  if (check_store(t, NULL)) return;
  o->ran = 1;
  if (!timeline_ok) return; /* why is set */
  if (o->lost) snprintf(o->why, sizeof(o->why), "%llu acknowledged events missing from the store",
                        (unsigned long long)o->lost);
  else if (o->acknowledged != o->planned)
    snprintf(o->why, sizeof(o->why), "%llu of %llu events acknowledged (failed reconciles)",
             (unsigned long long)o->acknowledged, (unsigned long long)o->planned);
  else if (o->rows != o->acknowledged || o->dup_rows || o->foreign_rows)
    snprintf(o->why, sizeof(o->why), "%llu rows for %llu acknowledged events (%llu twice, %llu foreign)",
             (unsigned long long)o->rows, (unsigned long long)o->acknowledged,
             (unsigned long long)o->dup_rows, (unsigned long long)o->foreign_rows);
  else if (stop_status)
    snprintf(o->why, sizeof(o->why), "a service exited %d on SIGTERM, not 0", stop_status);
  else if (o->max_wait_us > (RECORD_TIMEOUT_MS + 1000) * 1000ull)
    snprintf(o->why, sizeof(o->why), "a Record waited %.1f s, past its %d ms deadline",
             (double)o->max_wait_us / 1e6, RECORD_TIMEOUT_MS);
  else o->passed = 1;
}

static void fail_if(outcome *o, int cond, const char *fmt, ...) {
  if (!cond || !o->passed) return;
  o->passed = 0;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(o->why, sizeof(o->why), fmt, ap);
  va_end(ap);
}

static int contains_ci(const char *hay, const char *needle) { return strcasestr(hay, needle) != NULL; }

/* ---- the scenarios ---- */

/* kill -9 of the run-service or the proxy, restarted on the same port after 1 s. */
static void sc_kill(topo *t, int proxy) {
  outcome *o = t->o;
  int ok = topo_start(t) == 0;
  exec_config(t, (uint64_t)o->fault * 1000);
  if (ok) ok = exec_start(t) == 0;
  if (ok) ok = wait_load(t, 0.25) == 0;
  uint64_t t_fault = now_ms();
  if (ok) {
    /* the victim's duplicates so far (a lower bound: its last moments are not counted) */
    if (!proxy) o->duplicates += rs_metric(t, 0, "hopwire_store_duplicates_total");
    if (proxy) hop_child_kill9(&t->px[0]);
    else hop_child_kill9(&t->rs[0]);
    idle_ms(t, DOWN_MS);
    ok = (proxy ? px_start(t, 0) : rs_start(t, 0)) == 0;
  }
  if (ok) {
    uint64_t base = committed(t);
    if (wait_committed(t, base) == 0) o->recover_s = (double)(now_ms() - t_fault) / 1000.0;
    else if (!atomic_load(&t->exec_done)) {
      ok = 0;
      snprintf(o->why, sizeof(o->why), "no commit within %d ms of the restart", WAIT_MS);
    }
  }
  finish(t, ok);
}

/* PostgreSQL down for 1 s (stop -m immediate|fast, start) or its connections terminated. */
static void sc_pg(topo *t, const char *mode) {
  outcome *o = t->o;
  bench *b = t->b;
  int ok = topo_start(t) == 0;
  exec_config(t, (uint64_t)o->fault * 1000);
  if (ok) ok = exec_start(t) == 0;
  if (ok) ok = wait_load(t, 0.25) == 0;
  uint64_t t_fault = now_ms();
  if (ok && mode) {
    if (hop_pg_stop(&b->pg, mode) != 0) {
      ok = 0;
      snprintf(o->why, sizeof(o->why), "pg_ctl stop -m %s failed", mode);
    } else {
      probe(t, 0); /* in-band while the database is down */
      idle_ms(t, DOWN_MS);
      if (hop_pg_resume(&b->pg) != 0) {
        ok = 0;
        snprintf(o->why, sizeof(o->why), "pg_ctl start failed");
      }
    }
  } else if (ok) {
    /* every connection of the run-service's store (application_name hopwire-store-...) */
    int n = hop_pg_terminate(&b->pg, "hopwire-store-%");
    if (n < 0) {
      ok = 0;
      snprintf(o->why, sizeof(o->why), "pg_terminate_backend failed");
    } else {
      snprintf(o->probe_msg, sizeof(o->probe_msg), "%d connections terminated", n);
    }
  }
  if (ok) {
    uint64_t base = committed(t);
    if (wait_committed(t, base) == 0) o->recover_s = (double)(now_ms() - t_fault) / 1000.0;
    else if (!atomic_load(&t->exec_done)) {
      ok = 0;
      snprintf(o->why, sizeof(o->why), "no commit within %d ms of the restart", WAIT_MS);
    }
  }
  finish(t, ok);
  if (mode) {
    fail_if(o, o->probe_code != HOP_CODE_UNAVAILABLE && o->probe_code != HOP_CODE_INTERNAL,
            "while the database was down the run-service answered %d (%s), not in-band 14/13",
            o->probe_code, o->probe_msg);
  }
  fail_if(o, o->reconnects == 0, "the run-service's store never reconnected");
}

static int integrity(const char *path, char *out, size_t n) {
  sqlite3 *db = NULL;
  snprintf(out, n, "cannot open");
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
    sqlite3_close(db);
    return -1;
  }
  sqlite3_stmt *st = NULL;
  int ok = -1;
  if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
    ok = strcmp(out, "ok") == 0 ? 0 : -1;
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return ok;
}

/* SQLite on a small tmpfs: the load fills it (SQLITE_FULL, in-band), then it grows. */
static void sc_disk_full(topo *t) {
  outcome *o = t->o;
  bench *b = t->b;
  if (!b->cfg->private_ns) {
    snprintf(o->skipped, sizeof(o->skipped), "needs root (a private mount namespace for tmpfs)");
    return;
  }
  char dir[256];
  snprintf(dir, sizeof(dir), "%s/full", b->tmpdir);
  if (mkdir(dir, 0700) != 0 || mount("tmpfs", dir, "tmpfs", 0, "size=1m") != 0) {
    snprintf(o->skipped, sizeof(o->skipped), "cannot mount a tmpfs on %.100s: %.60s", dir, strerror(errno));
    rmdir(dir);
    return;
  }
  topo_store(t, dir, 0);
  /* checkpoint-free commits keep the WAL growing: the disk fills within a few thousand rows */
  int ok = topo_start(t) == 0;
  exec_config(t, (uint64_t)o->fault * 1000);
  if (ok) ok = exec_start(t) == 0;
  uint64_t t_fault = 0;
  if (ok) { /* until the first failed transaction */
    uint64_t end = now_ms() + WAIT_MS;
    while (now_ms() < end && !atomic_load(&t->exec_done) &&
           rs_metric(t, 0, "hopwire_store_errors_total") == 0) {
      sample_rss(t);
      sleep_ms(10);
    }
    t_fault = now_ms();
    if (rs_metric(t, 0, "hopwire_store_errors_total") == 0) {
      ok = 0;
      snprintf(o->why, sizeof(o->why), "the 1 MiB tmpfs never filled");
    }
  }
  if (ok) { /* a 400-event call while full (space comes and goes with checkpoints) */
    for (int k = 0; k < 50 && o->probe_code <= 0; k++) probe_n(t, 0, 400);
    idle_ms(t, DOWN_MS);
    if (mount("tmpfs", dir, "tmpfs", MS_REMOUNT, "size=256m") != 0) {
      ok = 0;
      snprintf(o->why, sizeof(o->why), "remount: %s", strerror(errno));
    }
  }
  if (ok) {
    uint64_t base = committed(t);
    if (wait_committed(t, base) == 0) o->recover_s = (double)(now_ms() - t_fault) / 1000.0;
  }
  finish(t, ok);
  if (o->ran) {
    o->probe_stored = o->probe_code > 0 ? probe_rows(t) : -1;
    fail_if(o, o->probe_stored != 0,
            "the failed %u-event transaction was not rolled back: %ld of its rows stored",
            o->probe_nev, o->probe_stored);
    int ig = integrity(t->dbpath, o->integrity, sizeof(o->integrity));
    fail_if(o, ig != 0, "PRAGMA integrity_check: %s", o->integrity);
    fail_if(o, !((o->probe_code == HOP_CODE_RESOURCE_EXHAUSTED || o->probe_code == HOP_CODE_INTERNAL) &&
                 contains_ci(o->probe_msg, "full")),
            "disk full: expected in-band 8/13 naming the cause, got %d (%s)", o->probe_code,
            o->probe_msg);
  }
  topo_unlink(t);
  umount2(dir, MNT_DETACH);
  rmdir(dir);
}

/* The external locker: the sqlite3 shell (another process) in BEGIN IMMEDIATE. */
typedef struct locker {
  pid_t pid;
  int in, out; /* its stdin (ours to write), its stdout (ours to read) */
} locker;

/* Starts `sqlite3 PATH`, takes the write lock and waits for its "locked" line. */
static int lock_take(locker *l, const char *path, char *err, size_t errlen) {
  int pin[2], pout[2];
  l->pid = -1;
  l->in = l->out = -1;
  if (pipe2(pin, O_CLOEXEC) != 0) {
    snprintf(err, errlen, "pipe: %s", strerror(errno));
    return -1;
  }
  if (pipe2(pout, O_CLOEXEC) != 0) {
    close(pin[0]);
    close(pin[1]);
    snprintf(err, errlen, "pipe: %s", strerror(errno));
    return -1;
  }
  pid_t pid = fork();
  if (pid == 0) { /* async-signal-safe calls only: the parent has threads */
    dup2(pin[0], 0);
    dup2(pout[1], 1);
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, 2);
    char *argv[] = {"sqlite3", (char *)path, NULL};
    execvp("sqlite3", argv);
    _exit(127);
  }
  close(pin[0]);
  close(pout[1]);
  if (pid < 0) {
    close(pin[1]);
    close(pout[0]);
    snprintf(err, errlen, "fork: %s", strerror(errno));
    return -1;
  }
  l->pid = pid;
  l->in = pin[1];
  l->out = pout[0];
  static const char cmd[] = "PRAGMA busy_timeout=5000;\nBEGIN IMMEDIATE;\nSELECT 'lock' || 'ed';\n";
  if (write(l->in, cmd, sizeof(cmd) - 1) != (ssize_t)(sizeof(cmd) - 1)) {
    snprintf(err, errlen, "writing to sqlite3: %s", strerror(errno));
    return -1;
  }
  char buf[256];
  size_t len = 0;
  uint64_t end = now_ms() + 10000;
  while (now_ms() < end && len < sizeof(buf) - 1) {
    struct pollfd p = {l->out, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t r = read(l->out, buf + len, sizeof(buf) - 1 - len);
    if (r <= 0) break;
    len += (size_t)r;
    buf[len] = '\0';
    if (strstr(buf, "locked\n")) return 0;
  }
  snprintf(err, errlen, "the sqlite3 shell did not take the lock (is sqlite3 installed?)");
  return -1;
}

/* ROLLBACK, quit, reap. */
static void lock_release(locker *l) {
  if (l->in >= 0) {
    static const char cmd[] = "ROLLBACK;\n.quit\n";
    if (write(l->in, cmd, sizeof(cmd) - 1) < 0) {
    }
    close(l->in);
  }
  if (l->out >= 0) close(l->out);
  if (l->pid > 0) {
    uint64_t end = now_ms() + 5000;
    while (waitpid(l->pid, NULL, WNOHANG) == 0) {
      if (now_ms() > end) {
        kill(l->pid, SIGKILL);
        waitpid(l->pid, NULL, 0);
        break;
      }
      sleep_ms(5);
    }
  }
  l->pid = -1;
  l->in = l->out = -1;
}

/* An external sqlite3 shell holds the write lock (BEGIN IMMEDIATE) for 2 s; the run-service
 * waits its busy timeout (250 ms), answers in-band, recovers after. */
static void sc_lock(topo *t) {
  outcome *o = t->o;
  t->rs_extra[t->nrs_extra++] = "--busy-timeout";
  t->rs_extra[t->nrs_extra++] = "250ms";
  int ok = topo_start(t) == 0;
  exec_config(t, (uint64_t)o->fault * 1000);
  if (ok) ok = exec_start(t) == 0;
  if (ok) ok = wait_load(t, 0.25) == 0;
  uint64_t t_fault = now_ms();
  locker l = {-1, -1, -1};
  if (ok) {
    char err[200];
    if (lock_take(&l, t->dbpath, err, sizeof(err)) != 0) {
      ok = 0;
      snprintf(o->why, sizeof(o->why), "%s", err);
    } else {
      t_fault = now_ms();
      sleep_ms(50);
      probe(t, 0);
      uint64_t held = now_ms() - t_fault;
      if (held < 2000) idle_ms(t, 2000 - held);
    }
  }
  lock_release(&l);
  if (ok) {
    uint64_t base = committed(t);
    if (wait_committed(t, base) == 0) o->recover_s = (double)(now_ms() - t_fault) / 1000.0;
  }
  finish(t, ok);
  fail_if(o, !((o->probe_code == HOP_CODE_INTERNAL || o->probe_code == HOP_CODE_UNAVAILABLE) &&
               (contains_ci(o->probe_msg, "locked") || contains_ci(o->probe_msg, "busy"))),
          "write lock held: expected in-band 13/14 naming the lock, got %d (%s)", o->probe_code,
          o->probe_msg);
  fail_if(o, o->probe_ms > 250 + 1500, "the locked call waited %.0f ms (busy timeout 250 ms)",
          o->probe_ms);
}

/* Graceful restart: a replacement binds the same port (SO_REUSEPORT), then SIGTERM to the
 * old one: its in-flight batches are committed and answered, new calls go elsewhere. */
static int rolling_restart(topo *t, unsigned i, int *status, double *drain_s) {
  char *m = scrape(t->b, t->rs_host[i], t->rs_port);
  uint64_t before = (uint64_t)metric(m, "hopwire_runsvc_events_received_total");
  uint64_t rows = (uint64_t)metric(m, "hopwire_store_rows_inserted_total") +
                  (uint64_t)metric(m, "hopwire_store_duplicates_total");
  free(m);
  hop_child old = t->rs[i];
  t->rs[i].pid = -1;
  t->rs[i].out_fd = -1;
  if (rs_start_env(t, i, NULL) != 0) {
    t->rs[i] = old;
    return -1;
  }
  uint64_t t0 = now_ms();
  /* the counts of the old life, taken just before its drain: a lower bound (calls in its
   * drain are not in it) */
  t->accumulated[i] += before;
  t->acc_committed += rows;
  *status = hop_child_stop(&old, 15000);
  *drain_s = (double)(now_ms() - t0) / 1000.0;
  return 0;
}

static void sc_sigterm(topo *t) {
  outcome *o = t->o;
  int ok = topo_start(t) == 0;
  exec_config(t, (uint64_t)o->fault * 1000);
  if (ok) ok = exec_start(t) == 0;
  if (ok) ok = wait_load(t, 0.25) == 0;
  double drain = 0;
  if (ok && rolling_restart(t, 0, &o->exit_status, &drain) != 0) ok = 0;
  o->recover_s = drain;
  finish(t, ok);
  fail_if(o, o->exit_status != 0, "the SIGTERMed run-service exited %d, not 0 (drain)",
          o->exit_status);
  fail_if(o, o->goaways == 0, "the proxy saw no GOAWAY from the draining run-service");
  fail_if(o, o->errors != 0, "%llu Records failed across a graceful restart",
          (unsigned long long)o->errors);
}

/* /etc/hosts in our mount namespace: rs.hopwire.test = 127.0.0.1-3, px.hopwire.test =
 * 127.0.0.4-5. */
static int private_hosts(bench *b, char *err, size_t errlen) {
  char path[200];
  snprintf(path, sizeof(path), "%s/hosts", b->tmpdir);
  FILE *f = fopen(path, "we");
  if (!f) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  fprintf(f, "127.0.0.1 localhost\n127.0.0.1 rs.hopwire.test\n127.0.0.2 rs.hopwire.test\n"
             "127.0.0.3 rs.hopwire.test\n127.0.0.4 px.hopwire.test\n127.0.0.5 px.hopwire.test\n");
  fclose(f);
  if (mount(path, "/etc/hosts", NULL, MS_BIND, NULL) != 0) {
    snprintf(err, errlen, "bind-mounting %s on /etc/hosts: %s", path, strerror(errno));
    return -1;
  }
  return 0;
}

static void sc_scale(topo *t) {
  outcome *o = t->o;
  bench *b = t->b;
  if (!b->cfg->private_ns) {
    snprintf(o->skipped, sizeof(o->skipped), "needs root (a private /etc/hosts)");
    return;
  }
  char err[256];
  if (private_hosts(b, err, sizeof(err))) {
    snprintf(o->skipped, sizeof(o->skipped), "%.190s", err);
    return;
  }
  for (unsigned i = 0; i < NRS; i++) snprintf(t->rs_host[i], 16, "127.0.0.%u", i + 1);
  for (unsigned i = 0; i < NPX; i++) snprintf(t->px_host[i], 16, "127.0.0.%u", i + 4);
  /* few streams per connection: the clients open several, round-robin over the addresses */
  t->rs_extra[t->nrs_extra++] = "--max-streams";
  t->rs_extra[t->nrs_extra++] = "4";
  t->px_extra[t->npx_extra++] = "--max-streams";
  t->px_extra[t->npx_extra++] = "8";
  int ok = 1;
  for (unsigned i = 0; ok && i < NRS; i++) ok = rs_start(t, i) == 0; /* .1 picks the port */
  snprintf(t->rs_target, sizeof(t->rs_target), "http://rs.hopwire.test:%u", t->rs_port);
  for (unsigned i = 0; ok && i < NPX; i++) ok = px_start(t, i) == 0;
  snprintf(t->px_target, sizeof(t->px_target), "http://px.hopwire.test:%u", t->px_port);
  exec_config(t, (uint64_t)o->fault * 1000);
  t->ec.actions *= 4; /* a longer load: three restarts land inside it */
  if (ok) ok = exec_start(t) == 0;
  double worst = 0;
  for (unsigned i = 0; ok && i < NRS; i++) { /* one by one, under load */
    int st = 0;
    double drain = 0;
    if (wait_load(t, 0.1 + 0.25 * i) != 0 || rolling_restart(t, i, &st, &drain) != 0) {
      ok = 0;
      break;
    }
    if (st != 0 && o->exit_status <= 0) o->exit_status = st;
    if (drain > worst) worst = drain;
  }
  if (o->exit_status < 0) o->exit_status = 0;
  o->recover_s = worst;
  finish(t, ok);
  for (unsigned i = 0; i < NRS; i++)
    fail_if(o, o->per_instance[i] == 0, "run-service 127.0.0.%u got no events", i + 1);
  fail_if(o, o->exit_status != 0, "a restarted instance exited %d, not 0", o->exit_status);
}

/* The whole load, then the same events replayed 10 times: the rows are unchanged (same count,
 * same checksum) and every replay is counted as duplicates. */
static void sc_duplicates(topo *t) {
  outcome *o = t->o;
  int ok = topo_start(t) == 0;
  exec_config(t, (uint64_t)o->fault * 1000);
  if (ok) ok = exec_start(t) == 0;
  if (!ok) {
    finish(t, 0);
    return;
  }
  exec_join(t);
  if (t->exec_rc || check_store(t, &o->sum_before)) {
    finish(t, 0);
    return;
  }
  o->rows_before = o->rows;
  uint64_t first_lost = o->lost, first_acked = t->ex.acknowledged, first_planned = t->ex.planned;
  uint64_t t0 = now_ms(), re = t->ex.re_emits, errs = t->ex.errors;
  for (int r = 0; r < 10 && ok; r++) {
    if (r > 0) { /* the last replay's figures are added by finish */
      re += t->ex.re_emits;
      errs += t->ex.errors;
    }
    hop_exec_result_free(&t->ex);
    ok = exec_start(t) == 0;
    if (ok) exec_join(t);
    if (ok && t->exec_rc) ok = 0;
    if (ok) {
      if (t->ex.acknowledged != t->ex.planned) {
        ok = 0;
        snprintf(o->why, sizeof(o->why), "replay %d: %llu of %llu acknowledged", r + 1,
                 (unsigned long long)t->ex.acknowledged, (unsigned long long)t->ex.planned);
      }
    }
  }
  o->re_emits += re;
  o->errors += errs;
  o->recover_s = (double)(now_ms() - t0) / 1000.0;
  atomic_store(&t->exec_done, 1);
  finish(t, ok);
  check_store(t, &o->sum_after);
  o->rows_after = o->rows;
  fail_if(o, first_lost != 0 || first_acked != first_planned,
          "first pass: %llu lost, %llu of %llu acknowledged", (unsigned long long)first_lost,
          (unsigned long long)first_acked, (unsigned long long)first_planned);
  fail_if(o, o->rows_after != o->rows_before || o->sum_after != o->sum_before,
          "the replays changed the rows (%llu -> %llu rows, checksum %s)",
          (unsigned long long)o->rows_before, (unsigned long long)o->rows_after,
          o->sum_after == o->sum_before ? "equal" : "differs");
  fail_if(o, o->duplicates < 10 * o->planned, "%llu duplicates counted for 10 replays of %llu events",
          (unsigned long long)o->duplicates, (unsigned long long)o->planned);
}

/* 1x: the load against a normal run-service. 10x: a run-service whose commits are delayed so
 * that it stores a tenth of the 1x rate, with a small queue; after 3 s the delay goes (a
 * graceful restart without it) and the load completes. */
static void sc_overload(topo *t) {
  outcome *o = t->o;
  /* 1x; 4x the reconcilers (one event in flight each): demand well above the 10x queue */
  int ok = topo_start(t) == 0;
  exec_config(t, (uint64_t)o->fault * 1000);
  t->ec.concurrency *= 4;
  if (ok) ok = exec_start(t) == 0;
  if (ok) exec_join(t);
  if (!ok || t->exec_rc || t->ex.acknowledged != t->ex.planned) {
    if (ok && !o->why[0]) snprintf(o->why, sizeof(o->why), "the 1x phase did not complete");
    finish(t, 0);
    return;
  }
  o->x1_events_per_s = t->ex.events_per_s;
  sample_peaks(t);
  o->x1_rss_exec = t->rss_exec;
  o->x1_rss_proxy = t->rss_proxy;
  o->x1_rss_rs = t->rss_rs;
  int x1_status = topo_stop(t);
  unwatch_all(t);
  hop_exec_result_free(&t->ex);
  t->rss_exec = t->rss_proxy = t->rss_rs = 0;

  /* 10x: capacity = max_txn_rows per (commit delay) = a tenth of the 1x rate */
  const uint64_t txn_rows = 100;
  double cap = o->x1_events_per_s / 10.0;
  if (cap < 50) cap = 50;
  /* half the naive delay: backoff gaps and the transactions themselves take the rest
   * (measured: the naive delay gives ~20x) */
  o->commit_delay_us = (uint64_t)((double)txn_rows * 1e6 / cap / 2);
  /* PostgreSQL: 4 writers commit in parallel, but share the server (measured: x2 ~ 10x) */
  if (strncmp(t->url, "sqlite:", 7) != 0) o->commit_delay_us *= 2;
  char delay[32], txn[16];
  snprintf(delay, sizeof(delay), "%llums", (unsigned long long)(o->commit_delay_us / 1000 + 1));
  snprintf(txn, sizeof(txn), "%llu", (unsigned long long)txn_rows);
  size_t keep = t->nrs_extra;
  t->rs_extra[t->nrs_extra++] = "--commit-delay";
  t->rs_extra[t->nrs_extra++] = delay;
  t->rs_extra[t->nrs_extra++] = "--max-txn-rows";
  t->rs_extra[t->nrs_extra++] = txn;
  t->rs_extra[t->nrs_extra++] = "--max-queue-rows";
  t->rs_extra[t->nrs_extra++] = "200"; /* below the reconcilers' demand: the queue overflows */
  t->rs_port = t->px_port = 0;
  t->rs_target[0] = t->px_target[0] = '\0';
  ok = topo_start(t) == 0;
  exec_config(t, (uint64_t)o->fault * 1000 + 1); /* new keys */
  t->ec.concurrency *= 4;
  t->ec.actions *= 3; /* enough that load is left when the delay goes */
  if (ok) ok = exec_start(t) == 0;
  if (ok) { /* 3 s of overload, or until 40% of the load is stored (load is left after) */
    uint64_t planned = 0;
    for (uint64_t a = 0; a < t->ec.actions; a++) planned += hop_evgen_action_events(&t->ec.gen, a);
    uint64_t c0 = committed(t), w0 = now_ms(), c = c0;
    while (now_ms() - w0 < 3000 && c < planned * 2 / 5 && !atomic_load(&t->exec_done)) {
      idle_ms(t, 50);
      c = committed(t);
    }
    o->x10_stored_per_s = (double)(c - c0) * 1000.0 / (double)(now_ms() - w0);
  }
  uint64_t qf = ok ? rs_metric(t, 0, "hopwire_runsvc_requests_total{result=\"queue_full\"}") : 0;
  o->rss_exec = t->rss_exec; /* the 10x figures, before recovery */
  uint64_t px10 = t->rss_proxy, rs10 = t->rss_rs;
  uint64_t t_fix = now_ms();
  o->rows_at_fix = committed(t);
  if (ok) { /* the delay goes */
    t->nrs_extra = keep;
    int st = 0;
    double drain = 0;
    if (rolling_restart(t, 0, &st, &drain) != 0) ok = 0;
    o->exit_status = st;
  }
  if (ok) exec_join(t);
  o->recover_s = (double)(now_ms() - t_fix) / 1000.0; /* until every event is acknowledged */
  uint64_t e10 = t->rss_exec;
  finish(t, ok);
  o->rss_exec = e10;
  o->rss_proxy = px10;
  o->rss_rs = rs10;
  o->queue_full += qf;
  fail_if(o, o->rows_at_fix >= o->planned, "the load was over before the delay went");
  fail_if(o, x1_status != 0, "a service of the 1x phase exited %d on SIGTERM", x1_status);
  fail_if(o, o->queue_full == 0, "no in-band resource_exhausted at 10x overload");
  fail_if(o, o->rss_rs > 4 * o->x1_rss_rs + 65536 || o->rss_proxy > 4 * o->x1_rss_proxy + 65536,
          "RSS not bounded at 10x: run-service %llu KiB (1x %llu), proxy %llu KiB (1x %llu)",
          (unsigned long long)o->rss_rs, (unsigned long long)o->x1_rss_rs,
          (unsigned long long)o->rss_proxy, (unsigned long long)o->x1_rss_proxy);
}

/* SIGKILL from inside the commit path at a random commit, restarted at once. */
static void sc_crash(topo *t, const char *mode) {
  outcome *o = t->o;
  /* A random commit inside the load: a transaction holds at most |concurrency| rows (one
   * event in flight per reconciler), so the load makes at least planned / concurrency. */
  uint64_t r = t->b->seed + (uint64_t)o->fault * 0x9e3779b97f4a7c15ull;
  r = (r ^ (r >> 30)) * 0xbf58476d1ce4e5b9ull;
  r = (r ^ (r >> 27)) * 0x94d049bb133111ebull;
  r ^= r >> 31;
  uint64_t span = t->b->cfg->actions * 4 / (t->b->cfg->concurrency ? t->b->cfg->concurrency : 1);
  if (span < 4) span = 4;
  o->kill_at = 3 + r % (span - 2);
  char env[64];
  snprintf(env, sizeof(env), "HOP_TEST_KILL_AT_COMMIT=%llu:%s", (unsigned long long)o->kill_at,
           mode);
  char *envv[] = {env, NULL};
  int ok = rs_start_env(t, 0, envv) == 0;
  snprintf(t->rs_target, sizeof(t->rs_target), "http://%s:%u", t->rs_host[0], t->rs_port);
  if (ok) ok = px_start(t, 0) == 0;
  snprintf(t->px_target, sizeof(t->px_target), "http://%s:%u", t->px_host[0], t->px_port);
  exec_config(t, (uint64_t)o->fault * 1000);
  if (ok) ok = exec_start(t) == 0;
  uint64_t t_fault = 0;
  if (ok) {
    uint64_t end = now_ms() + WAIT_MS;
    int st = 0, got = 0;
    while (now_ms() < end && !atomic_load(&t->exec_done) &&
           !(got = hop_child_exited(&t->rs[0], &st) == 1))
      idle_ms(t, 5);
    if (!got) got = hop_child_exited(&t->rs[0], &st) == 1;
    t_fault = now_ms();
    o->exit_status = got ? st : -1;
    if (!got) {
      ok = 0;
      snprintf(o->why, sizeof(o->why), "the run-service did not crash at commit %llu",
               (unsigned long long)o->kill_at);
    }
  }
  if (ok) ok = rs_start(t, 0) == 0; /* restarted without the hook */
  if (ok) {
    uint64_t base = committed(t);
    if (wait_committed(t, base) == 0) o->recover_s = (double)(now_ms() - t_fault) / 1000.0;
  }
  finish(t, ok);
  fail_if(o, o->exit_status != 128 + SIGKILL, "the run-service ended with %d, not SIGKILL",
          o->exit_status);
}

/* ---- driver and output ---- */

static void run_one(bench *b, int f, outcome *o) {
  memset(o, 0, sizeof(*o));
  o->fault = f;
  topo *t = calloc(1, sizeof(*t));
  if (!t) {
    snprintf(o->why, sizeof(o->why), "out of memory");
    return;
  }
  topo_init(t, b, o, f == HOP_FAULT_SCALE_OUT ? NRS : 1, f == HOP_FAULT_SCALE_OUT ? NPX : 1);
  int pg = f == HOP_FAULT_PG_IMMEDIATE || f == HOP_FAULT_PG_FAST || f == HOP_FAULT_PG_TERMINATE;
  int sqlite_only = f == HOP_FAULT_DISK_FULL || f == HOP_FAULT_SQLITE_LOCK ||
                    f == HOP_FAULT_CRASH_IN_COMMIT;
  if (sqlite_only && b->cfg->store && strncmp(b->cfg->store, "sqlite:", 7)) {
    snprintf(o->skipped, sizeof(o->skipped), "SQLite only (the store is PostgreSQL)");
  } else if (f == HOP_FAULT_DISK_FULL) {
    sc_disk_full(t);
  } else if (topo_store(t, NULL, pg) == 0) {
    switch (f) {
    case HOP_FAULT_KILL_RUNSVC: sc_kill(t, 0); break;
    case HOP_FAULT_KILL_PROXY: sc_kill(t, 1); break;
    case HOP_FAULT_PG_IMMEDIATE: sc_pg(t, "immediate"); break;
    case HOP_FAULT_PG_FAST: sc_pg(t, "fast"); break;
    case HOP_FAULT_PG_TERMINATE: sc_pg(t, NULL); break;
    case HOP_FAULT_SQLITE_LOCK: sc_lock(t); break;
    case HOP_FAULT_SIGTERM: sc_sigterm(t); break;
    case HOP_FAULT_SCALE_OUT: sc_scale(t); break;
    case HOP_FAULT_DUPLICATES: sc_duplicates(t); break;
    case HOP_FAULT_OVERLOAD: sc_overload(t); break;
    case HOP_FAULT_CRASH_IN_COMMIT: sc_crash(t, "hook"); break;
    case HOP_FAULT_CRASH_AFTER_COMMIT: sc_crash(t, "after"); break;
    }
    topo_unlink(t);
  }
  if (t->th_started) exec_join(t);
  topo_stop(t);
  unwatch_all(t);
  hop_exec_result_free(&t->ex);
  free(t);
}

static double fin(double v) { return isfinite(v) ? v : 0.0; }

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c < 0x20) fprintf(f, "\\u%04x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

static void write_json(FILE *f, const outcome *o, const char *store, uint64_t seed) {
  fprintf(f, "{\"fault\":\"%s\",\"seed\":%llu,\"store\":", hop_fault_name(o->fault),
          (unsigned long long)seed);
  json_str(f, store);
  if (o->skipped[0]) {
    fprintf(f, ",\"skipped\":");
    json_str(f, o->skipped);
    fprintf(f, "}\n");
    return;
  }
  fprintf(f,
          ",\"pass\":%s,\"planned\":%llu,\"events\":%llu,\"acknowledged\":%llu,\"rows\":%llu,"
          "\"duplicates\":%llu,\"lost\":%llu,\"failed_reconciles\":%llu,\"rows_twice\":%llu,"
          "\"re_emits\":%llu,\"errors\":%llu,\"queue_full\":%llu,\"recover_s\":%.3f,"
          "\"max_wait_ms\":%.1f,\"elapsed_s\":%.3f,\"events_per_s\":%.1f,\"probe_code\":%d,"
          "\"probe_ms\":%.1f,\"exit_status\":%d,\"kill_at_commit\":%llu,\"integrity\":",
          o->passed ? "true" : "false", (unsigned long long)o->planned,
          (unsigned long long)o->events, (unsigned long long)o->acknowledged,
          (unsigned long long)o->rows, (unsigned long long)o->duplicates,
          (unsigned long long)o->lost,
          (unsigned long long)(o->planned > o->acknowledged ? o->planned - o->acknowledged : 0),
          (unsigned long long)o->dup_rows, (unsigned long long)o->re_emits,
          (unsigned long long)o->errors, (unsigned long long)o->queue_full, fin(o->recover_s),
          (double)o->max_wait_us / 1000.0, fin(o->elapsed_s), fin(o->events_per_s), o->probe_code,
          fin(o->probe_ms), o->exit_status, (unsigned long long)o->kill_at);
  json_str(f, o->integrity);
  fprintf(f, ",\"probe_message\":");
  json_str(f, o->probe_msg);
  fprintf(f, ",\"per_instance\":[");
  for (unsigned i = 0; i < o->ninstances; i++)
    fprintf(f, "%s%llu", i ? "," : "", (unsigned long long)o->per_instance[i]);
  fprintf(f,
          "],\"rss_kib\":{\"executor\":%llu,\"proxy\":%llu,\"run_service\":%llu},"
          "\"rows_before\":%llu,\"rows_after\":%llu,\"goaways\":%llu,\"retries\":%llu,\"reconnects\":%llu,\"probe_stored\":%ld",
          (unsigned long long)o->rss_exec, (unsigned long long)o->rss_proxy,
          (unsigned long long)o->rss_rs, (unsigned long long)o->rows_before,
          (unsigned long long)o->rows_after, (unsigned long long)o->goaways,
          (unsigned long long)o->retries, (unsigned long long)o->reconnects, o->probe_stored);
  if (o->fault == HOP_FAULT_OVERLOAD)
    fprintf(f,
            ",\"x1_events_per_s\":%.1f,\"x10_stored_per_s\":%.1f,\"rows_at_fix\":%llu,\"commit_delay_us\":%llu,"
            "\"x1_rss_kib\":{\"executor\":%llu,\"proxy\":%llu,\"run_service\":%llu}",
            fin(o->x1_events_per_s), fin(o->x10_stored_per_s), (unsigned long long)o->rows_at_fix,
            (unsigned long long)o->commit_delay_us,
            (unsigned long long)o->x1_rss_exec, (unsigned long long)o->x1_rss_proxy,
            (unsigned long long)o->x1_rss_rs);
  fprintf(f, ",\"why\":");
  json_str(f, o->why);
  fprintf(f, "}\n");
}

static void write_row(FILE *f, const outcome *o) {
  if (o->skipped[0]) {
    fprintf(f, "%-21s skipped: %s\n", hop_fault_name(o->fault), o->skipped);
    return;
  }
  if (!o->ran) {
    fprintf(f, "%-21s FAILED to run: %s\n", hop_fault_name(o->fault), o->why);
    return;
  }
  char extra[320] = "";
  switch (o->fault) {
  case HOP_FAULT_SCALE_OUT:
    snprintf(extra, sizeof(extra), "per instance %llu/%llu/%llu; proxies: %llu GOAWAYs, %llu retries",
             (unsigned long long)o->per_instance[0], (unsigned long long)o->per_instance[1],
             (unsigned long long)o->per_instance[2], (unsigned long long)o->goaways,
             (unsigned long long)o->retries);
    break;
  case HOP_FAULT_SIGTERM:
    snprintf(extra, sizeof(extra), "drain %.2f s; proxy: %llu GOAWAYs, %llu retries", o->recover_s,
             (unsigned long long)o->goaways, (unsigned long long)o->retries);
    break;
  case HOP_FAULT_OVERLOAD:
    snprintf(extra, sizeof(extra), "1x %.0f ev/s; overload: delay %llu us, %.0f ev/s stored (%.1fx), %llu resource_exhausted; "
             "%llu of %llu stored when the delay went",
             o->x1_events_per_s, (unsigned long long)o->commit_delay_us, o->x10_stored_per_s,
             o->x10_stored_per_s > 0 ? o->x1_events_per_s / o->x10_stored_per_s : 0.0,
             (unsigned long long)o->queue_full, (unsigned long long)o->rows_at_fix,
             (unsigned long long)o->planned);
    break;
  case HOP_FAULT_CRASH_IN_COMMIT:
  case HOP_FAULT_CRASH_AFTER_COMMIT:
    snprintf(extra, sizeof(extra), "killed at commit %llu", (unsigned long long)o->kill_at);
    break;
  case HOP_FAULT_PG_IMMEDIATE:
  case HOP_FAULT_PG_FAST:
  case HOP_FAULT_PG_TERMINATE:
    snprintf(extra, sizeof(extra), "%llu reconnects; ", (unsigned long long)o->reconnects);
    goto probe;
  case HOP_FAULT_DISK_FULL:
    snprintf(extra, sizeof(extra), "integrity %s; failed probe's rows stored: %ld; ", o->integrity,
             o->probe_stored);
    /* fall through */
  default:
  probe:
    if (o->probe_code >= 0 || o->probe_msg[0])
      snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), "probe %d in %.0f ms: %.120s",
               o->probe_code, o->probe_ms, o->probe_msg);
  }
  fprintf(f, "%-21s %-4s %7llu %7llu %7llu %6llu %4llu %7llu %7.2f %7.0f  %s%s%s\n",
          hop_fault_name(o->fault), o->passed ? "ok" : "FAIL", (unsigned long long)o->acknowledged,
          (unsigned long long)o->rows, (unsigned long long)o->duplicates,
          (unsigned long long)o->lost,
          (unsigned long long)(o->planned > o->acknowledged ? o->planned - o->acknowledged : 0),
          (unsigned long long)o->re_emits, o->recover_s, (double)o->max_wait_us / 1000.0, extra,
          o->passed ? "" : " -- ", o->passed ? "" : o->why);
}

int hop_faultbench_run(const hop_faultbench_config *cfg, FILE *out) {
  bench *b = calloc(1, sizeof(*b));
  outcome *os = calloc(HOP_FAULT_COUNT, sizeof(*os));
  if (!b || !os) {
    free(b);
    free(os);
    fprintf(stderr, "hopwire fault-bench: out of memory\n");
    return -1;
  }
  b->cfg = cfg;
  b->seed = cfg->seed ? cfg->seed : (uint64_t)time(NULL) * 1000003u + (uint64_t)getpid();
  snprintf(b->tmpdir, sizeof(b->tmpdir), "/tmp/hop-faults.XXXXXX");
  hop_client_config cc;
  hop_client_config_init(&cc);
  cc.http = HOP_HTTP_H1;
  if (!mkdtemp(b->tmpdir) || hop_client_new(&b->scraper, &cc) != 0) {
    fprintf(stderr, "hopwire fault-bench: cannot set up (%s)\n", strerror(errno));
    if (b->tmpdir[0] && b->tmpdir[strlen(b->tmpdir) - 1] != 'X') rmdir(b->tmpdir);
    free(b);
    free(os);
    return -1;
  }
  const char *store = cfg->store ? cfg->store : "sqlite (temp file per scenario)";
  if (!cfg->json) {
    fprintf(out, "hopwire fault-bench: %llu actions per scenario, %u reconcilers, store %s, seed %llu\n\n",
            (unsigned long long)cfg->actions, cfg->concurrency, store, (unsigned long long)b->seed);
    fprintf(out, "%-21s %-4s %7s %7s %7s %6s %4s %7s %7s %7s  %s\n", "fault", "", "acked", "rows",
            "dups", "lost", "fail", "re-emit", "recov s", "maxw ms", "notes");
    fflush(out);
  }
  int failed = 0;
  for (int f = 0; f < HOP_FAULT_COUNT; f++) {
    if (!(cfg->faults & (1u << f))) continue;
    outcome *o = &os[f];
    run_one(b, f, o);
    const char *st = (f >= HOP_FAULT_PG_IMMEDIATE && f <= HOP_FAULT_PG_TERMINATE) ||
                             (cfg->store && !strcmp(cfg->store, "postgres"))
                         ? "postgres (throwaway server)"
                         : store;
    if (!o->skipped[0] && !o->passed) {
      failed = 1;
      fprintf(stderr, "hopwire fault-bench: %s failed: %s\n", hop_fault_name(f), o->why);
    }
    if (cfg->json) write_json(out, o, st, b->seed);
    else write_row(out, o);
    fflush(out);
  }
  if (!cfg->json) {
    fprintf(out, "\nRSS (peak during the load, KiB) executor/proxy/run-service:\n");
    for (int f = 0; f < HOP_FAULT_COUNT; f++) {
      const outcome *o = &os[f];
      if (!(cfg->faults & (1u << f)) || !o->ran) continue;
      if (f == HOP_FAULT_OVERLOAD)
        fprintf(out, "  %-21s 1x %llu/%llu/%llu   10x %llu/%llu/%llu\n", hop_fault_name(f),
                (unsigned long long)o->x1_rss_exec, (unsigned long long)o->x1_rss_proxy,
                (unsigned long long)o->x1_rss_rs, (unsigned long long)o->rss_exec,
                (unsigned long long)o->rss_proxy, (unsigned long long)o->rss_rs);
      else
        fprintf(out, "  %-21s %llu/%llu/%llu\n", hop_fault_name(f), (unsigned long long)o->rss_exec,
                (unsigned long long)o->rss_proxy, (unsigned long long)o->rss_rs);
    }
  }
  if (b->pg_started) hop_pg_destroy(&b->pg);
  hop_client_free(b->scraper);
  char p[300];
  snprintf(p, sizeof(p), "%s/hosts", b->tmpdir);
  unlink(p);
  rmdir(b->tmpdir);
  free(b);
  free(os);
  return failed ? 1 : 0;
}
