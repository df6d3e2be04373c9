/* hopwire store-bench: the store's ceiling. C caller threads submit batches of ~500-byte
 * rows with distinct keys straight through the store API (no network, no codec) and wait
 * for each COMMIT, as the run-service does; prints events/s, commits/s and batch latency. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "common/duration.h"
#include "events/store.h"
#include "hopwire/error.h"
#include "hopwire/stats.h"

#define MAX_CALLERS 1024
#define MAX_BATCH 100000

typedef struct sb_opts {
  const char *store;
  size_t batch, row_bytes, max_txn_rows;
  unsigned callers, writers;
  uint64_t batches;     /* 0: run for |duration_us| */
  uint64_t duration_us;
  int group_commit;
  int sync;
  int json;
  int notify;
} sb_opts;

static void usage(FILE *f) {
  fprintf(f,
          "usage: hopwire store-bench [options]\n"
          "\n"
          "Submits batches of rows with distinct keys from concurrent callers straight into the\n"
          "event store (no network, no codec), each caller waiting for its COMMIT, and prints\n"
          "events/s, commits/s and the p50/p99 batch latency: the store's ceiling.\n"
          "\n"
          "options:\n"
          "  --store URL           sqlite:PATH | postgres://... | postgresql://... (default: a\n"
          "                        fresh SQLite file in a temp dir, removed afterwards)\n"
          "  --batch N             rows per submitted batch (default 400, Flyte's max; <= %d)\n"
          "  --callers C           concurrent submitting threads (default 32, Flyte's flush\n"
          "                        workers; <= %d)\n"
          "  --batches N           stop after N batches in all (default: run for --duration)\n"
          "  --duration D          run time, e.g. 5s, 1500ms (default 5s)\n"
          "  --group-commit on|off merge queued batches into one transaction (default on);\n"
          "                        off = one transaction per batch, as Flyte\n"
          "  --writers N           PostgreSQL connections / writer threads (default 4)\n"
          "  --notify on|off       PostgreSQL pg_notify per distinct action (default on)\n"
          "  --sync off|normal|full|extra\n"
          "                        SQLite PRAGMA synchronous (default full)\n"
          "  --row-bytes N         bytes of info per row (default 500)\n"
          "  --max-txn-rows N      group commit cap per transaction (default 20000)\n"
          "  --json                one JSON object on stdout instead of the text report\n"
          "  -h, --help            this text\n",
          MAX_BATCH, MAX_CALLERS);
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
  if (!s || !*s) return -1;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || s[0] == '-' || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

static int parse_args(sb_opts *o, int argc, char **argv, int *help) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    uint64_t n;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      *help = 1;
      return 0;
    }
    if (!strcmp(a, "--json")) {
      o->json = 1;
      continue;
    }
    if (!v) {
      fprintf(stderr, "hopwire store-bench: %s needs a value (or unknown option)\n", a);
      return -1;
    }
    i++;
    if (!strcmp(a, "--store")) {
      o->store = v;
    } else if (!strcmp(a, "--batch")) {
      if (parse_u64(v, 1, MAX_BATCH, &n)) goto bad;
      o->batch = (size_t)n;
    } else if (!strcmp(a, "--callers")) {
      if (parse_u64(v, 1, MAX_CALLERS, &n)) goto bad;
      o->callers = (unsigned)n;
    } else if (!strcmp(a, "--batches")) {
      if (parse_u64(v, 1, UINT64_MAX / 2, &n)) goto bad;
      o->batches = n;
    } else if (!strcmp(a, "--duration")) {
      if (hop_parse_duration(v, 1000000, &o->duration_us) != 0 || o->duration_us == 0)
        goto bad;
    } else if (!strcmp(a, "--group-commit")) {
      if (!strcmp(v, "on")) o->group_commit = 1;
      else if (!strcmp(v, "off")) o->group_commit = 0;
      else goto bad;
    } else if (!strcmp(a, "--notify")) {
      if (!strcmp(v, "on")) o->notify = 1;
      else if (!strcmp(v, "off")) o->notify = 0;
      else goto bad;
    } else if (!strcmp(a, "--writers")) {
      if (parse_u64(v, 1, 64, &n)) goto bad;
      o->writers = (unsigned)n;
    } else if (!strcmp(a, "--sync")) {
      static const char *names[] = {"off", "normal", "full", "extra"};
      o->sync = -1;
      for (int k = 0; k < 4; k++)
        if (!strcmp(v, names[k])) o->sync = k;
      if (o->sync < 0) goto bad;
    } else if (!strcmp(a, "--row-bytes")) {
      if (parse_u64(v, 0, 1 << 20, &n)) goto bad;
      o->row_bytes = (size_t)n;
    } else if (!strcmp(a, "--max-txn-rows")) {
      if (parse_u64(v, 1, 10000000, &n)) goto bad;
      o->max_txn_rows = (size_t)n;
    } else {
      fprintf(stderr, "hopwire store-bench: unknown option %s (try --help)\n", a);
      return -1;
    }
    continue;
  bad:
    fprintf(stderr, "hopwire store-bench: bad value for %s: '%s'\n", a, v);
    return -1;
  }
  return 0;
}

typedef struct caller {
  pthread_t th;
  unsigned id;
  hop_store *s;
  const sb_opts *o;
  const char *tag;
  atomic_uint_fast64_t *budget; /* batches left (batches mode) */
  atomic_int *stop;
  hop_hist *hist;
  uint64_t batches, inserted, duplicates, failed, queue_full;
  char last_err[256];
  int ok; /* setup succeeded */
} caller;

static void *caller_main(void *arg) {
  caller *c = arg;
  const sb_opts *o = c->o;
  hop_ev_row *rows = calloc(o->batch, sizeof(*rows));
  char (*names)[24] = calloc(o->batch, sizeof(*names));
  /* Random-ish info bytes, one buffer; row j starts at a different offset. */
  size_t ilen = o->row_bytes + o->batch;
  uint8_t *info = malloc(ilen ? ilen : 1);
  if (!rows || !names || !info) {
    snprintf(c->last_err, sizeof(c->last_err), "out of memory");
    goto out;
  }
  uint64_t x = 0x9E3779B97F4A7C15ull ^ ((uint64_t)c->id << 32);
  for (size_t i = 0; i < ilen; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    info[i] = (uint8_t)x;
  }
  for (size_t j = 0; j < o->batch; j++) snprintf(names[j], sizeof(names[j]), "a%zu", j);
  c->ok = 1;
  char run[96];
  char msg[256];
  for (uint64_t seq = 0; !atomic_load(c->stop); seq++) {
    if (o->batches) {
      uint64_t left = atomic_load(c->budget);
      do {
        if (left == 0) goto out;
      } while (!atomic_compare_exchange_weak(c->budget, &left, left - 1));
    }
    /* One run per batch: distinct keys, as many distinct actions as rows. */
    snprintf(run, sizeof(run), "%s-c%u-b%llu", c->tag, c->id, (unsigned long long)seq);
    for (size_t j = 0; j < o->batch; j++)
      rows[j] = (hop_ev_row){"bench", "development", run, names[j], 1, 4, 0,
                             info + j, o->row_bytes, NULL};
    hop_store_result res;
    uint64_t t0 = hop_now_us();
    int rc;
    while ((rc = hop_store_insert(c->s, rows, o->batch, &res, msg, sizeof(msg))) ==
           HOP_EQUEUEFULL) {
      c->queue_full++;
      usleep(1000);
    }
    hop_hist_record(c->hist, hop_now_us() - t0);
    c->batches++;
    if (rc != 0) {
      c->failed++;
      snprintf(c->last_err, sizeof(c->last_err), "submit: %s", hop_strerror(rc));
      break;
    }
    if (res.code != 0) {
      c->failed++;
      snprintf(c->last_err, sizeof(c->last_err), "code %d: %s", res.code, res.message);
      continue;
    }
    c->inserted += res.inserted;
    c->duplicates += res.duplicates;
  }
out:
  free(rows);
  free(names);
  free(info);
  return NULL;
}

static const char *sync_name(int s) {
  static const char *n[] = {"OFF", "NORMAL", "FULL", "EXTRA"};
  return s >= 0 && s < 4 ? n[s] : "?";
}

int hop_cmd_store_bench(int argc, char **argv) {
  sb_opts o = {NULL, 400, 500, 20000, 32, 4, 0, 5000000, 1, 2, 0, 1};
  int help = 0;
  if (parse_args(&o, argc, argv, &help) != 0) return 2;
  if (help) {
    usage(stdout);
    return 0;
  }
  char tmpdir[64] = "", url[PATH_MAX + 16];
  if (!o.store) {
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/hop-store-bench.XXXXXX");
    if (!mkdtemp(tmpdir)) {
      fprintf(stderr, "hopwire store-bench: mkdtemp: %s\n", strerror(errno));
      return 1;
    }
    snprintf(url, sizeof(url), "sqlite:%s/bench.db", tmpdir);
  } else {
    snprintf(url, sizeof(url), "%s", o.store);
  }
  hop_store_config cfg;
  hop_store_config_init(&cfg);
  cfg.url = url;
  cfg.group_commit = o.group_commit;
  cfg.writers = o.writers;
  cfg.sqlite_synchronous = o.sync;
  cfg.max_txn_rows = o.max_txn_rows;
  cfg.notify = o.notify;
  if (cfg.max_queue_rows < (size_t)o.callers * o.batch) cfg.max_queue_rows = (size_t)o.callers * o.batch;
  hop_store *s = NULL;
  char err[512];
  int rc = hop_store_open(&s, &cfg, err, sizeof(err));
  if (rc != 0) {
    fprintf(stderr, "hopwire store-bench: %s\n", err);
    if (tmpdir[0]) rmdir(tmpdir);
    return 1;
  }
  int is_sqlite = !strcmp(hop_store_engine(s), "sqlite");
  /* A tag per run keeps keys distinct when the same database is benchmarked again. */
  char tag[32];
  snprintf(tag, sizeof(tag), "%llx-%d", (unsigned long long)hop_now_us(), (int)getpid());

  caller *cs = calloc(o.callers, sizeof(*cs));
  atomic_uint_fast64_t budget = o.batches;
  atomic_int stop = 0;
  if (!cs) {
    hop_store_close(s);
    return 1;
  }
  uint64_t t0 = hop_now_us();
  unsigned started = 0;
  for (unsigned i = 0; i < o.callers; i++) {
    cs[i] = (caller){.id = i, .s = s, .o = &o, .tag = tag, .budget = &budget, .stop = &stop};
    cs[i].hist = hop_hist_new();
    if (!cs[i].hist || pthread_create(&cs[i].th, NULL, caller_main, &cs[i]) != 0) {
      hop_hist_free(cs[i].hist);
      cs[i].hist = NULL;
      break;
    }
    started++;
  }
  if (!o.batches) {
    while (hop_now_us() - t0 < o.duration_us && !atomic_load(&stop)) usleep(10000);
    atomic_store(&stop, 1);
  }
  for (unsigned i = 0; i < started; i++) pthread_join(cs[i].th, NULL);
  double secs = (double)(hop_now_us() - t0) / 1e6;
  hop_store_stats st;
  hop_store_get_stats(s, &st);
  hop_store_close(s);
  if (tmpdir[0]) {
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "hopwire store-bench: could not remove %s\n", tmpdir);
  }

  hop_hist *all = hop_hist_new();
  uint64_t batches = 0, inserted = 0, dups = 0, failed = 0, qfull = 0;
  const char *last_err = "";
  for (unsigned i = 0; i < started; i++) {
    if (all) hop_hist_merge(all, cs[i].hist);
    batches += cs[i].batches;
    inserted += cs[i].inserted;
    dups += cs[i].duplicates;
    failed += cs[i].failed;
    qfull += cs[i].queue_full;
    if (cs[i].last_err[0]) last_err = cs[i].last_err;
    hop_hist_free(cs[i].hist);
  }
  hop_latency lat = {0};
  if (all) hop_hist_summary(all, &lat);
  hop_hist_free(all);
  double ev_s = secs > 0 ? (double)inserted / secs : 0;
  double cm_s = secs > 0 ? (double)st.transactions / secs : 0;
  double per_txn = st.transactions ? (double)st.txn_rows_sum / (double)st.transactions : 0;
  if (o.json) {
    printf("{\"engine\":\"%s\",\"store\":\"%s\",\"synchronous\":\"%s\",\"writers\":%u,"
           "\"group_commit\":%s,\"notify\":%s,\"callers\":%u,\"batch\":%zu,\"row_bytes\":%zu,"
           "\"seconds\":%.3f,\"batches\":%llu,\"events\":%llu,\"duplicates\":%llu,"
           "\"failed_batches\":%llu,\"queue_full\":%llu,\"events_per_s\":%.0f,"
           "\"commits\":%llu,\"commits_per_s\":%.1f,\"rows_per_commit\":%.1f,"
           "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f}\n",
           is_sqlite ? "sqlite" : "postgres", o.store ? o.store : "sqlite:(temp)",
           is_sqlite ? sync_name(o.sync) : "", is_sqlite ? 1 : o.writers,
           o.group_commit ? "true" : "false", !is_sqlite && o.notify ? "true" : "false", started, o.batch, o.row_bytes, secs,
           (unsigned long long)batches, (unsigned long long)inserted, (unsigned long long)dups,
           (unsigned long long)failed, (unsigned long long)qfull, ev_s,
           (unsigned long long)st.transactions, cm_s, per_txn, lat.p50_us / 1e3,
           lat.p99_us / 1e3, lat.max_us / 1e3);
  } else {
    printf("store-bench: %s (%s%s, group commit %s, %u writer%s)\n",
           o.store ? o.store : "SQLite temp file", is_sqlite ? "synchronous=" : "",
           is_sqlite ? sync_name(o.sync) : "postgres", o.group_commit ? "on" : "off",
           is_sqlite ? 1 : o.writers, (is_sqlite || o.writers == 1) ? "" : "s");
    printf("  %u callers x %zu-row batches, %zu-byte rows, %.2f s\n", started, o.batch,
           o.row_bytes, secs);
    printf("  events/s      %.0f   (%llu rows in %llu batches)\n", ev_s,
           (unsigned long long)inserted, (unsigned long long)batches);
    printf("  commits/s     %.1f   (%.1f rows per transaction)\n", cm_s, per_txn);
    printf("  batch latency p50 %.2f ms   p99 %.2f ms   max %.2f ms\n", lat.p50_us / 1e3,
           lat.p99_us / 1e3, lat.max_us / 1e3);
    if (failed || qfull || dups)
      printf("  failed batches %llu, queue-full retries %llu, duplicates %llu%s%s\n",
             (unsigned long long)failed, (unsigned long long)qfull, (unsigned long long)dups,
             last_err[0] ? "; last error: " : "", last_err);
  }
  free(cs);
  return failed || started < o.callers ? 1 : 0;
}
