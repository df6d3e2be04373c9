/* The run-service store (apps/events/store.h): one suite run identically against SQLite (a
 * temp file) and a real PostgreSQL 15 this test starts itself (tests/lib/pgtest.h), then the
 * engine-specific faults: SQLite disk full on a 2 MB tmpfs (private mount namespace) and a
 * write lock held by the sqlite3 CLI; PostgreSQL LISTEN/NOTIFY, server restarts (-m fast,
 * -m immediate) and pg_terminate_backend while submitting.
 * ctest: RUN_SERIAL
 * ctest: TIMEOUT=300 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "events/store.h"
#include "hopwire/error.h"
#include "pgtest.h"

enum { ENG_SQLITE, ENG_PG };
static int g_engine;
static char g_tmp[64];      /* SQLite files */
static char g_tmpfs[64];    /* a 2 MB tmpfs, "" when it could not be mounted */
static char g_url[320];     /* the current test's database */
static char g_path[256];    /* SQLite: its file */
static int g_seq;
static hop_pg g_pg;
static int g_sanitized;

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* ---- rows ---- */

typedef struct rows {
  hop_ev_row *r;
  char **mem; /* per row: its strings and info */
  size_t n;
} rows;

static rows rows_new(size_t n) {
  rows b = {calloc(n ? n : 1, sizeof(hop_ev_row)), calloc(n ? n : 1, sizeof(char *)), n};
  assert_non_null(b.r);
  assert_non_null(b.mem);
  return b;
}

static void row_set(rows *b, size_t i, const char *project, const char *run, const char *name,
                    uint32_t attempt, int32_t phase, uint32_t version, const char *info,
                    const char *error_kind) {
  size_t lp = strlen(project) + 1, lr = strlen(run) + 1, ln = strlen(name) + 1,
         li = info ? strlen(info) : 0;
  free(b->mem[i]);
  char *m = malloc(lp + lr + ln + li + 16);
  assert_non_null(m);
  b->mem[i] = m;
  hop_ev_row *r = &b->r[i];
  memcpy(m, project, lp), r->project = m, m += lp;
  memcpy(m, "development", 12), r->domain = m, m += 12;
  memcpy(m, run, lr), r->run_name = m, m += lr;
  memcpy(m, name, ln), r->name = m, m += ln;
  memcpy(m, info ? info : "", li);
  r->info = (const uint8_t *)m;
  r->info_len = li;
  r->attempt = attempt;
  r->phase = phase;
  r->version = version;
  r->error_kind = error_kind;
}

/* Row i of a family of distinct keys: action "a<i/per>" version i%per. */
static void row_key(rows *b, size_t i, const char *run, size_t key, const char *info) {
  char name[32];
  snprintf(name, sizeof(name), "a%05zu", key / 10); /* fixed width: keys sort as text */
  row_set(b, i, "proj", run, name, 1, 3, (uint32_t)(key % 10), info, NULL);
}

static void rows_free(rows *b) {
  for (size_t i = 0; i < b->n; i++) free(b->mem[i]);
  free(b->mem);
  free(b->r);
  memset(b, 0, sizeof(*b));
}

/* ---- per-engine plumbing ---- */

static void fresh_db(void) {
  g_seq++;
  if (g_engine == ENG_SQLITE) {
    snprintf(g_path, sizeof(g_path), "%s/t%d.db", g_tmp, g_seq);
    snprintf(g_url, sizeof(g_url), "sqlite:%s", g_path);
  } else {
    char out[256];
    assert_int_equal(hop_pg_psql(&g_pg, "DROP TABLE IF EXISTS action_events", out, sizeof(out)),
                     0);
    snprintf(g_url, sizeof(g_url), "%s", g_pg.url);
  }
}

static void cfg_init(hop_store_config *c) {
  hop_store_config_init(c);
  c->url = g_url;
  c->connect_timeout_ms = 2000;
}

static hop_store *open_cfg(const hop_store_config *c) {
  hop_store *s = NULL;
  char err[512];
  int rc = hop_store_open(&s, c, err, sizeof(err));
  if (rc != 0) fail_msg("hop_store_open(%s): %d %s", c->url, rc, err);
  assert_string_equal(hop_store_engine(s), g_engine == ENG_SQLITE ? "sqlite" : "postgres");
  return s;
}

static hop_store *open_default(void) {
  hop_store_config c;
  cfg_init(&c);
  return open_cfg(&c);
}

/* First column of the first row of |sql| on a connection of the test's own. */
static void sql_scalar(const char *sql, char *out, size_t outlen) {
  out[0] = '\0';
  if (g_engine == ENG_SQLITE) {
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(g_path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
      fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
      snprintf(out, outlen, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
  } else {
    PGconn *c = PQconnectdb(g_pg.url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    if (PQntuples(r) > 0) snprintf(out, outlen, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
  }
}

static uint64_t count_rows(hop_store *s) {
  uint64_t n = 0;
  char err[256];
  int rc = hop_store_count(s, &n, err, sizeof(err));
  if (rc != 0) fail_msg("hop_store_count: %d %s", rc, err);
  return n;
}

static hop_store_result insert(hop_store *s, rows *b, char *msg, size_t msglen) {
  hop_store_result res;
  int rc = hop_store_insert(s, b->r, b->n, &res, msg, msglen);
  if (rc != 0) fail_msg("hop_store_insert: %d %s", rc, hop_strerror(rc));
  return res;
}

static void insert_ok(hop_store *s, rows *b, uint64_t inserted, uint64_t dups) {
  char msg[512];
  hop_store_result res = insert(s, b, msg, sizeof(msg));
  if (res.code != 0) fail_msg("batch failed: code %d: %s", res.code, res.message);
  assert_string_equal(res.message, "");
  assert_int_equal(res.inserted, inserted);
  assert_int_equal(res.duplicates, dups);
}

/* hop_store_list into a copy. */
typedef struct listed {
  size_t n, cap;
  char (*key)[160];
  char (*info)[64];
  char (*kind)[24]; /* "" = NULL */
  int stop_after;   /* 0 = all */
} listed;

static int list_cb(void *ud, const hop_ev_row *r) {
  listed *l = ud;
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 64;
    l->key = realloc(l->key, l->cap * sizeof(*l->key));
    l->info = realloc(l->info, l->cap * sizeof(*l->info));
    l->kind = realloc(l->kind, l->cap * sizeof(*l->kind));
    assert_true(l->key && l->info && l->kind);
  }
  snprintf(l->key[l->n], sizeof(l->key[0]), "%s|%s|%s|%s|%u|%d|%u", r->project, r->domain,
           r->run_name, r->name, r->attempt, r->phase, r->version);
  snprintf(l->info[l->n], sizeof(l->info[0]), "%.*s", (int)r->info_len,
           r->info ? (const char *)r->info : "");
  snprintf(l->kind[l->n], sizeof(l->kind[0]), "%s", r->error_kind ? r->error_kind : "");
  l->n++;
  return l->stop_after && (int)l->n >= l->stop_after;
}

static void list_run(hop_store *s, const char *run, listed *l) {
  char err[256];
  int rc = hop_store_list(s, run ? "proj" : NULL, run ? "development" : NULL, run, list_cb, l,
                          err, sizeof(err));
  if (rc != 0) fail_msg("hop_store_list: %d %s", rc, err);
}

static void listed_free(listed *l) {
  free(l->key);
  free(l->info);
  free(l->kind);
  memset(l, 0, sizeof(*l));
}

/* ---- async submissions ---- */

typedef struct tally {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done;
  int fired[512];
  int code[512];
  uint64_t inserted[512], dups[512];
  char last_msg[512];
} tally;

typedef struct ticket {
  tally *t;
  int idx;
} ticket;

static void tally_init(tally *t) {
  memset(t, 0, sizeof(*t));
  pthread_mutex_init(&t->mu, NULL);
  pthread_cond_init(&t->cv, NULL);
}

static void tally_cb(void *ud, const hop_store_result *r) {
  ticket *k = ud;
  tally *t = k->t;
  pthread_mutex_lock(&t->mu);
  t->fired[k->idx]++;
  t->code[k->idx] = r->code;
  t->inserted[k->idx] = r->inserted;
  t->dups[k->idx] = r->duplicates;
  snprintf(t->last_msg, sizeof(t->last_msg), "%s", r->message);
  t->done++;
  pthread_cond_broadcast(&t->cv);
  pthread_mutex_unlock(&t->mu);
}

static int tally_wait(tally *t, int n, long timeout_ms) {
  long end = now_ms() + timeout_ms;
  pthread_mutex_lock(&t->mu);
  while (t->done < n && now_ms() < end) {
    pthread_mutex_unlock(&t->mu);
    sleep_ms(2);
    pthread_mutex_lock(&t->mu);
  }
  int got = t->done;
  pthread_mutex_unlock(&t->mu);
  return got;
}

/* ===================== the common suite ===================== */

static int setup_test(void **state) {
  fresh_db();
  return 0;
}

static void zero_cb(void *ud, const hop_store_result *r) {
  int *fired = ud;
  assert_int_equal(r->code, 0);
  assert_int_equal(r->inserted, 0);
  (*fired)++;
}

static void t_zero_rows(void **state) {
  hop_store *s = open_default();
  int fired = 0;
  assert_int_equal(hop_store_submit(s, NULL, 0, zero_cb, &fired), 0);
  assert_int_equal(fired, 1); /* at once, on this thread */
  rows b = rows_new(0);
  insert_ok(s, &b, 0, 0);
  assert_int_equal(count_rows(s), 0);
  hop_store_stats st;
  hop_store_get_stats(s, &st);
  assert_int_equal(st.batches, 2);
  assert_int_equal(st.transactions, 0);
  hop_store_close(s);
  rows_free(&b);
}

static void t_one_row(void **state) {
  hop_store *s = open_default();
  rows b = rows_new(1);
  row_set(&b, 0, "proj", "r1", "a0", 1, 3, 0, "info-bytes", NULL);
  insert_ok(s, &b, 1, 0);
  assert_int_equal(count_rows(s), 1);
  listed l = {0};
  list_run(s, "r1", &l);
  assert_int_equal(l.n, 1);
  assert_string_equal(l.key[0], "proj|development|r1|a0|1|3|0");
  assert_string_equal(l.info[0], "info-bytes");
  assert_string_equal(l.kind[0], "");
  hop_store_stats st;
  hop_store_get_stats(s, &st);
  assert_int_equal(st.transactions, 1);
  assert_int_equal(st.rows_inserted, 1);
  assert_int_equal(st.rows_received, 1);
  uint64_t lat = 0, sz = 0;
  for (int i = 0; i < HOP_STORE_LAT_BUCKETS; i++) lat += st.commit_lat_count[i];
  for (int i = 0; i < HOP_STORE_SIZE_BUCKETS; i++) sz += st.txn_rows_count[i];
  assert_int_equal(lat, 1);
  assert_int_equal(sz, 1);
  assert_int_equal(st.txn_rows_count[0], 1); /* bucket "<= 1 row" */
  assert_int_equal(st.txn_rows_sum, 1);
  hop_store_close(s);
  listed_free(&l);
  rows_free(&b);
}

static void t_duplicates(void **state) {
  hop_store *s = open_default();
  rows b = rows_new(5);
  row_key(&b, 0, "r1", 0, "x");
  row_key(&b, 1, "r1", 1, "x");
  row_key(&b, 2, "r1", 0, "x"); /* repeats row 0 in the batch */
  row_key(&b, 3, "r1", 2, "x");
  row_key(&b, 4, "r1", 1, "x"); /* repeats row 1 */
  insert_ok(s, &b, 3, 2);
  insert_ok(s, &b, 0, 5); /* the whole batch again (an executor retry) */
  rows c = rows_new(4);
  row_key(&c, 0, "r1", 2, "x"); /* old */
  row_key(&c, 1, "r1", 3, "x"); /* new */
  row_key(&c, 2, "r1", 0, "x"); /* old */
  row_key(&c, 3, "r1", 4, "x"); /* new */
  insert_ok(s, &c, 2, 2);
  assert_int_equal(count_rows(s), 5);
  hop_store_stats st;
  hop_store_get_stats(s, &st);
  assert_int_equal(st.rows_inserted, 5);
  assert_int_equal(st.duplicates, 9);
  hop_store_close(s);
  rows_free(&b);
  rows_free(&c);
}

static void t_first_write_wins(void **state) {
  hop_store *s = open_default();
  rows b = rows_new(1);
  row_set(&b, 0, "proj", "r1", "a0", 2, 5, 1, "first", NULL);
  insert_ok(s, &b, 1, 0);
  row_set(&b, 0, "proj", "r1", "a0", 2, 5, 1, "second, with newer logs", "KIND_USER");
  insert_ok(s, &b, 0, 1);
  listed l = {0};
  list_run(s, "r1", &l);
  assert_int_equal(l.n, 1);
  assert_string_equal(l.info[0], "first");
  assert_string_equal(l.kind[0], "");
  hop_store_close(s);
  listed_free(&l);
  rows_free(&b);
}

static void t_big_batch(void **state) {
  const size_t N = 100000;
  hop_store *s = open_default();
  rows b = rows_new(N);
  char info[201];
  memset(info, 'i', 200);
  info[200] = '\0';
  for (size_t i = 0; i < N; i++) row_key(&b, i, "big", i, info);
  long t0 = now_ms();
  insert_ok(s, &b, N, 0);
  long took = now_ms() - t0;
  hop_store_stats st;
  hop_store_get_stats(s, &st);
  assert_int_equal(st.transactions, 1); /* chunked statements, one transaction */
  assert_int_equal(st.txn_rows_sum, N);
  assert_int_equal(st.txn_rows_count[HOP_STORE_SIZE_BUCKETS - 2], 1); /* 20001..100000 */
  assert_int_equal(count_rows(s), N);
  /* Every row back, in key order (pages of 1000 under the hood). */
  listed l = {0};
  list_run(s, "big", &l);
  assert_int_equal(l.n, N);
  for (size_t i = 1; i < l.n; i++)
    if (strcmp(l.key[i - 1], l.key[i]) >= 0) fail_msg("order at %zu: %s, %s", i, l.key[i - 1], l.key[i]);
  assert_int_equal(strlen(l.info[N - 1]), sizeof(l.info[0]) - 1); /* 200 bytes, kept 63 */
  assert_int_equal(strspn(l.info[N - 1], "i"), sizeof(l.info[0]) - 1);
  /* The same batch again: all duplicates. */
  insert_ok(s, &b, 0, N);
  /* A listing can be stopped early. */
  listed m = {0};
  m.stop_after = 1500;
  list_run(s, "big", &m);
  assert_int_equal(m.n, 1500);
  print_message("    100000 rows in one batch: %ld ms\n", took);
  hop_store_close(s);
  listed_free(&l);
  listed_free(&m);
  rows_free(&b);
}

#define GC_THREADS 8
#define GC_PER_THREAD 25
typedef struct gc_arg {
  hop_store *s;
  tally *t;
  rows *batches;
  ticket *tickets;
  int first, count;
} gc_arg;

static void *gc_thread(void *p) {
  gc_arg *a = p;
  for (int i = a->first; i < a->first + a->count; i++) {
    int rc = hop_store_submit(a->s, a->batches[i].r, a->batches[i].n, tally_cb, &a->tickets[i]);
    if (rc != 0) {
      fprintf(stderr, "submit %d: %d\n", i, rc);
      abort();
    }
  }
  return NULL;
}

static void group_commit_run(int group_commit) {
  const int NB = GC_THREADS * GC_PER_THREAD;
  hop_store_config c;
  cfg_init(&c);
  c.group_commit = group_commit;
  c.commit_delay_us = group_commit ? 20000 : 2000; /* batches pile up behind each COMMIT */
  hop_store *s = open_cfg(&c);
  tally *t = malloc(sizeof(*t));
  tally_init(t);
  rows *batches = calloc(NB, sizeof(rows));
  ticket *tickets = calloc(NB, sizeof(ticket));
  uint64_t want_rows = 0;
  for (int i = 0; i < NB; i++) {
    size_t k = 1 + (size_t)(i % 4); /* distinct rows, plus one repeat of the first */
    batches[i] = rows_new(k + 1);
    char run[32];
    snprintf(run, sizeof(run), "gc%d", i);
    for (size_t j = 0; j < k; j++) row_key(&batches[i], j, run, j, "payload");
    row_key(&batches[i], k, run, 0, "payload");
    tickets[i] = (ticket){t, i};
    want_rows += k;
  }
  pthread_t th[GC_THREADS];
  gc_arg args[GC_THREADS];
  for (int i = 0; i < GC_THREADS; i++) {
    args[i] = (gc_arg){s, t, batches, tickets, i * GC_PER_THREAD, GC_PER_THREAD};
    assert_int_equal(pthread_create(&th[i], NULL, gc_thread, &args[i]), 0);
  }
  for (int i = 0; i < GC_THREADS; i++) pthread_join(th[i], NULL);
  assert_int_equal(tally_wait(t, NB, 60000), NB);
  sleep_ms(50); /* a second firing would show now */
  hop_store_stats st;
  hop_store_get_stats(s, &st);
  for (int i = 0; i < NB; i++) {
    assert_int_equal(t->fired[i], 1);
    assert_int_equal(t->code[i], 0);
    assert_int_equal(t->inserted[i], 1 + (uint64_t)(i % 4));
    assert_int_equal(t->dups[i], 1);
  }
  assert_int_equal(st.batches, NB);
  assert_int_equal(st.rows_inserted, want_rows);
  assert_int_equal(st.duplicates, NB);
  assert_int_equal(st.queued_rows, 0);
  assert_int_equal(st.errors, 0);
  if (group_commit) {
    /* 200 batches, each COMMIT 20 ms late: the queue refills behind every transaction. */
    if (st.transactions >= (uint64_t)NB / 2)
      fail_msg("group commit: %llu transactions for %d batches",
               (unsigned long long)st.transactions, NB);
  } else {
    assert_int_equal(st.transactions, NB);
  }
  uint64_t nt = 0;
  for (int i = 0; i < HOP_STORE_SIZE_BUCKETS; i++) nt += st.txn_rows_count[i];
  assert_int_equal(nt, st.transactions);
  assert_int_equal(st.txn_rows_sum, want_rows + NB);
  print_message("    group_commit=%d: %d batches in %llu transactions\n", group_commit, NB,
                (unsigned long long)st.transactions);
  assert_int_equal(count_rows(s), want_rows);
  hop_store_close(s);
  for (int i = 0; i < NB; i++) rows_free(&batches[i]);
  free(batches);
  free(tickets);
  free(t);
}

static void t_group_commit(void **state) { group_commit_run(1); }
static void t_no_group_commit(void **state) { group_commit_run(0); }

static void t_queue_full(void **state) {
  hop_store_config c;
  cfg_init(&c);
  c.max_queue_rows = 100;
  c.commit_delay_us = 300000;
  hop_store *s = open_cfg(&c);
  tally *t = malloc(sizeof(*t));
  tally_init(t);
  rows a = rows_new(60), b = rows_new(60), d = rows_new(40);
  for (size_t i = 0; i < 60; i++) row_key(&a, i, "qa", i, "x");
  for (size_t i = 0; i < 60; i++) row_key(&b, i, "qb", i, "x");
  for (size_t i = 0; i < 40; i++) row_key(&d, i, "qd", i, "x");
  ticket k[4] = {{t, 0}, {t, 1}, {t, 2}, {t, 3}};
  assert_int_equal(hop_store_submit(s, a.r, a.n, tally_cb, &k[0]), 0);
  long t0 = now_ms();
  assert_int_equal(hop_store_submit(s, b.r, b.n, tally_cb, &k[1]), HOP_EQUEUEFULL);
  assert_true(now_ms() - t0 < 100); /* at once, not after the slow COMMIT */
  assert_int_equal(hop_store_submit(s, d.r, d.n, tally_cb, &k[2]), 0); /* exactly at the cap */
  hop_store_stats st;
  hop_store_get_stats(s, &st);
  assert_int_equal(st.queue_rejections, 1);
  assert_int_equal(st.queued_rows, 100);
  assert_int_equal(tally_wait(t, 2, 10000), 2);
  assert_int_equal(t->fired[1], 0); /* a refused submit never fires */
  /* Room again. */
  assert_int_equal(hop_store_submit(s, b.r, b.n, tally_cb, &k[3]), 0);
  assert_int_equal(tally_wait(t, 3, 10000), 3);
  assert_int_equal(t->fired[1], 0);
  assert_int_equal(t->code[3], 0);
  /* A batch bigger than the whole queue can never fit. */
  rows big = rows_new(101);
  for (size_t i = 0; i < 101; i++) row_key(&big, i, "qbig", i, "x");
  hop_store_result res;
  assert_int_equal(hop_store_insert(s, big.r, big.n, &res, NULL, 0), HOP_EQUEUEFULL);
  hop_store_get_stats(s, &st);
  assert_int_equal(st.queue_rejections, 2);
  assert_int_equal(count_rows(s), 160);
  hop_store_close(s);
  rows_free(&a);
  rows_free(&b);
  rows_free(&d);
  rows_free(&big);
  free(t);
}

static void t_error_kind(void **state) {
  hop_store *s = open_default();
  rows b = rows_new(2);
  row_set(&b, 0, "proj", "r1", "ok", 1, 4, 0, "a", NULL);
  row_set(&b, 1, "proj", "r1", "failed", 1, 7, 0, "b", "KIND_USER");
  insert_ok(s, &b, 2, 0);
  listed l = {0};
  list_run(s, "r1", &l);
  assert_int_equal(l.n, 2);
  assert_string_equal(l.key[0], "proj|development|r1|failed|1|7|0");
  assert_string_equal(l.kind[0], "KIND_USER");
  assert_string_equal(l.key[1], "proj|development|r1|ok|1|4|0");
  assert_string_equal(l.kind[1], "");
  char v[64];
  /* A real NULL, not an empty string. */
  sql_scalar("SELECT count(*) FROM action_events WHERE error_kind IS NULL", v, sizeof(v));
  assert_string_equal(v, "1");
  sql_scalar("SELECT error_kind FROM action_events WHERE name = 'failed'", v, sizeof(v));
  assert_string_equal(v, "KIND_USER");
  sql_scalar("SELECT count(*) FROM action_events WHERE created_at IS NOT NULL AND "
             "updated_at IS NOT NULL", v, sizeof(v));
  assert_string_equal(v, "2");
  if (g_engine == ENG_SQLITE) {
    /* The transaction's time bound once: CURRENT_TIMESTAMP's format, UTC, now. */
    sql_scalar("SELECT count(*) FROM action_events WHERE created_at = updated_at AND created_at "
               "GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9]'"
               " AND abs(unixepoch(created_at) - unixepoch('now')) < 120",
               v, sizeof(v));
    assert_string_equal(v, "2");
  }
  hop_store_close(s);
  listed_free(&l);
  rows_free(&b);
}

static void t_list_order(void **state) {
  hop_store *s = open_default();
  /* Scrambled; versions 9 and 10 compare as numbers. */
  struct { const char *run, *name; uint32_t att; int32_t ph; uint32_t ver; } in[] = {
      {"rb", "x", 1, 2, 0},  {"ra", "y", 1, 1, 0},  {"ra", "x", 2, 1, 0}, {"ra", "x", 1, 3, 10},
      {"ra", "x", 1, 3, 9},  {"ra", "x", 1, 1, 0},  {"rb", "a", 1, 1, 0}, {"ra", "x", 1, 3, 2},
  };
  const char *want[] = {
      "proj|development|ra|x|1|1|0", "proj|development|ra|x|1|3|2",
      "proj|development|ra|x|1|3|9", "proj|development|ra|x|1|3|10",
      "proj|development|ra|x|2|1|0", "proj|development|ra|y|1|1|0",
      "proj|development|rb|a|1|1|0", "proj|development|rb|x|1|2|0",
  };
  size_t n = sizeof(in) / sizeof(in[0]);
  rows b = rows_new(n);
  for (size_t i = 0; i < n; i++)
    row_set(&b, i, "proj", in[i].run, in[i].name, in[i].att, in[i].ph, in[i].ver, "i", NULL);
  insert_ok(s, &b, n, 0);
  rows o = rows_new(1);
  row_set(&o, 0, "other", "ra", "x", 1, 1, 0, "i", NULL); /* another project */
  insert_ok(s, &o, 1, 0);
  listed l = {0};
  list_run(s, NULL, &l);
  assert_int_equal(l.n, n + 1);
  assert_string_equal(l.key[0], "other|development|ra|x|1|1|0");
  for (size_t i = 0; i < n; i++) assert_string_equal(l.key[i + 1], want[i]);
  listed r = {0};
  list_run(s, "ra", &r);
  assert_int_equal(r.n, 6);
  for (size_t i = 0; i < 6; i++) assert_string_equal(r.key[i], want[i]);
  listed none = {0};
  list_run(s, "nope", &none);
  assert_int_equal(none.n, 0);
  char err[128];
  assert_int_equal(hop_store_list(s, "proj", NULL, NULL, list_cb, &none, err, sizeof(err)),
                   HOP_EINVAL);
  hop_store_close(s);
  listed_free(&l);
  listed_free(&r);
  rows_free(&b);
  rows_free(&o);
}

static void t_reopen(void **state) {
  hop_store *s = open_default();
  rows b = rows_new(3);
  for (size_t i = 0; i < 3; i++) row_key(&b, i, "keep", i, "kept");
  insert_ok(s, &b, 3, 0);
  hop_store_close(s);
  s = open_default();
  assert_int_equal(count_rows(s), 3);
  insert_ok(s, &b, 0, 3);
  listed l = {0};
  list_run(s, "keep", &l);
  assert_int_equal(l.n, 3);
  assert_string_equal(l.info[2], "kept");
  hop_store_close(s);
  listed_free(&l);
  rows_free(&b);
}

static void t_close_commits_queued(void **state) {
  hop_store_config c;
  cfg_init(&c);
  c.commit_delay_us = 30000;
  c.group_commit = 0; /* ten slow transactions still queued at close */
  hop_store *s = open_cfg(&c);
  tally *t = malloc(sizeof(*t));
  tally_init(t);
  rows b[10];
  ticket k[10];
  for (int i = 0; i < 10; i++) {
    b[i] = rows_new(5);
    char run[16];
    snprintf(run, sizeof(run), "close%d", i);
    for (size_t j = 0; j < 5; j++) row_key(&b[i], j, run, j, "q");
    k[i] = (ticket){t, i};
    assert_int_equal(hop_store_submit(s, b[i].r, b[i].n, tally_cb, &k[i]), 0);
  }
  hop_store_close(s); /* returns after every callback fired */
  assert_int_equal(t->done, 10);
  for (int i = 0; i < 10; i++) {
    assert_int_equal(t->fired[i], 1);
    assert_int_equal(t->code[i], 0);
    assert_int_equal(t->inserted[i], 5);
  }
  s = open_default();
  assert_int_equal(count_rows(s), 50);
  hop_store_close(s);
  hop_store_close(NULL);
  for (int i = 0; i < 10; i++) rows_free(&b[i]);
  free(t);
}

static void noop_cb(void *ud, const hop_store_result *r) { (void)ud, (void)r; }

static void t_bad_input(void **state) {
  hop_store *s = open_default();
  rows b = rows_new(2);
  row_key(&b, 0, "bad", 0, "x");
  row_key(&b, 1, "bad", 1, "x");
  assert_int_equal(hop_store_submit(s, b.r, b.n, NULL, NULL), HOP_EINVAL);
  assert_int_equal(hop_store_submit(s, NULL, 2, noop_cb, NULL), HOP_EINVAL);
  b.r[1].project = NULL;
  assert_int_equal(hop_store_submit(s, b.r, b.n, noop_cb, NULL), HOP_EINVAL);
  row_key(&b, 1, "bad", 1, "x");
  b.r[1].attempt = 0x80000000u; /* does not fit INTEGER */
  assert_int_equal(hop_store_submit(s, b.r, b.n, noop_cb, NULL), HOP_EINVAL);
  row_key(&b, 1, "bad", 1, "x");
  b.r[1].info = NULL; /* with info_len > 0 */
  assert_int_equal(hop_store_submit(s, b.r, b.n, noop_cb, NULL), HOP_EINVAL);
  hop_store_result res;
  assert_int_equal(hop_store_insert(s, b.r, b.n, NULL, NULL, 0), HOP_EINVAL);
  row_key(&b, 1, "bad", 1, "");
  b.r[1].info = NULL; /* no info at all: stored as empty */
  assert_int_equal(hop_store_insert(s, b.r, b.n, &res, NULL, 0), 0);
  assert_int_equal(res.code, 0);
  assert_int_equal(res.inserted, 2);
  assert_int_equal(count_rows(s), 2);
  hop_store_close(s);
  rows_free(&b);

  /* URLs and configs that cannot work fail at open with a message. */
  hop_store_config c;
  hop_store_config_init(&c);
  char err[256];
  hop_store *x = (hop_store *)&c;
  c.url = "mysql://localhost/db";
  assert_int_equal(hop_store_open(&x, &c, err, sizeof(err)), HOP_EURL);
  assert_null(x);
  assert_non_null(strstr(err, "mysql://"));
  c.url = "sqlite:";
  assert_int_equal(hop_store_open(&x, &c, err, sizeof(err)), HOP_EURL);
  c.url = g_url;
  c.sqlite_synchronous = 7;
  assert_int_equal(hop_store_open(&x, &c, err, sizeof(err)), HOP_EINVAL);
}

/* Flyte's table, column by column, and its index. */
static void t_schema(void **state) {
  hop_store *s = open_default();
  char v[1024];
  if (g_engine == ENG_SQLITE) {
    sql_scalar("SELECT group_concat(name || ':' || type || ':' || \"notnull\" || ':' || pk, ',') "
               "FROM pragma_table_info('action_events')", v, sizeof(v));
    assert_string_equal(v, "project:TEXT:1:1,domain:TEXT:1:2,run_name:TEXT:1:3,name:TEXT:1:4,"
                           "attempt:INTEGER:1:5,phase:INTEGER:1:6,version:INTEGER:1:7,"
                           "info:BLOB:0:0,error_kind:TEXT:0:0,created_at:TEXT:1:0,"
                           "updated_at:TEXT:1:0");
    sql_scalar("SELECT group_concat(name) FROM pragma_index_info('idx_action_events_error_kind')",
               v, sizeof(v));
    assert_string_equal(v, "error_kind");
    /* Partial: only rows that have an error_kind (docs/pipeline-store.md). */
    sql_scalar("SELECT sql FROM sqlite_schema WHERE name = 'idx_action_events_error_kind'", v,
               sizeof(v));
    assert_string_equal(v, "CREATE INDEX idx_action_events_error_kind ON action_events "
                           "(error_kind) WHERE error_kind IS NOT NULL");
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open_v2(g_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "EXPLAIN QUERY PLAN SELECT count(*) FROM action_events"
                                            " WHERE error_kind = 'KIND_USER'", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW); /* id, parent, notused, detail */
    assert_non_null(strstr((const char *)sqlite3_column_text(st, 3), "idx_action_events_error_kind"));
    sqlite3_finalize(st);
    sqlite3_close(db);
    sql_scalar("PRAGMA journal_mode", v, sizeof(v));
    assert_string_equal(v, "wal");
  } else {
    sql_scalar("SELECT string_agg(column_name || ':' || data_type || ':' || is_nullable || ':' || "
               "coalesce(column_default, ''), ',' ORDER BY ordinal_position) "
               "FROM information_schema.columns WHERE table_name = 'action_events'",
               v, sizeof(v));
    assert_string_equal(v, "project:text:NO:,domain:text:NO:,run_name:text:NO:,name:text:NO:,"
                           "attempt:integer:NO:,phase:integer:NO:,version:integer:NO:,"
                           "info:bytea:YES:,error_kind:text:YES:,"
                           "created_at:timestamp with time zone:NO:CURRENT_TIMESTAMP,"
                           "updated_at:timestamp with time zone:NO:CURRENT_TIMESTAMP");
    sql_scalar("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = "
               "'action_events'::regclass AND contype = 'p'", v, sizeof(v));
    assert_string_equal(v, "PRIMARY KEY (project, domain, run_name, name, attempt, phase, version)");
    sql_scalar("SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_action_events_error_kind'",
               v, sizeof(v));
    assert_string_equal(v, "CREATE INDEX idx_action_events_error_kind ON public.action_events "
                           "USING btree (error_kind)");
  }
  hop_store_close(s);
}

/* ===================== SQLite only ===================== */

static void fill_info(char *buf, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1103515245u + 12345u;
    buf[i] = (char)('a' + (seed >> 16) % 26);
  }
  buf[n] = '\0';
}

static void t_sqlite_disk_full(void **state) {
  if (!g_tmpfs[0]) {
    print_message("    no tmpfs (needs root + mount namespace): skipped\n");
    skip();
  }
  /* A 1 MB filler leaves ~1 MB for the database, its WAL and -shm. */
  char filler[128];
  snprintf(filler, sizeof(filler), "%s/filler", g_tmpfs);
  FILE *f = fopen(filler, "w");
  assert_non_null(f);
  static char mb[1024 * 1024];
  memset(mb, 'F', sizeof(mb));
  assert_int_equal(fwrite(mb, 1, sizeof(mb), f), sizeof(mb));
  fclose(f);
  snprintf(g_path, sizeof(g_path), "%s/full.db", g_tmpfs);
  snprintf(g_url, sizeof(g_url), "sqlite:%s", g_path);
  hop_store *s = open_default();
  uint64_t stored = 0;
  int failed_at = -1;
  hop_store_result res = {0};
  char msg[512];
  rows b = rows_new(100);
  static char info[501];
  for (int i = 0; i < 200 && failed_at < 0; i++) {
    char run[16];
    snprintf(run, sizeof(run), "full%d", i);
    for (size_t j = 0; j < 100; j++) {
      fill_info(info, 500, (unsigned)(i * 100 + j));
      row_key(&b, j, run, j, info);
    }
    res = insert(s, &b, msg, sizeof(msg));
    if (res.code == 0) {
      assert_int_equal(res.inserted, 100);
      stored += 100;
    } else {
      failed_at = i;
    }
  }
  assert_true(failed_at > 0);
  print_message("    disk full after %llu rows: %s\n", (unsigned long long)stored, res.message);
  assert_int_equal(res.code, 8); /* resource_exhausted */
  assert_string_equal(res.message, "sqlite: database or disk is full (SQLITE_FULL)");
  assert_int_equal(res.inserted, 0);
  /* Nothing of the failed batch, everything before it, and a sound file. */
  assert_int_equal(count_rows(s), stored);
  char v[64];
  sql_scalar("PRAGMA integrity_check", v, sizeof(v));
  assert_string_equal(v, "ok");
  /* Still full: fails again, in-band, the store keeps serving. */
  res = insert(s, &b, msg, sizeof(msg));
  assert_int_equal(res.code, 8);
  /* Space returns: the same batch goes in whole. */
  assert_int_equal(unlink(filler), 0);
  insert_ok(s, &b, 100, 0);
  assert_int_equal(count_rows(s), stored + 100);
  hop_store_stats st;
  hop_store_get_stats(s, &st);
  assert_int_equal(st.errors, 2);
  hop_store_close(s);
  sql_scalar("PRAGMA integrity_check", v, sizeof(v));
  assert_string_equal(v, "ok");
  rows_free(&b);
  unlink(g_path);
}

/* 1 when some connection holds the write lock. */
static int write_locked(void) {
  sqlite3 *db;
  if (sqlite3_open_v2(g_path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) return 0;
  int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  if (rc == SQLITE_OK) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close(db);
  return rc == SQLITE_BUSY;
}

static void t_sqlite_locked(void **state) {
  hop_store_config c;
  cfg_init(&c);
  c.busy_timeout_ms = 400;
  hop_store *s = open_cfg(&c);
  rows b = rows_new(3);
  for (size_t i = 0; i < 3; i++) row_key(&b, i, "lock0", i, "x");
  insert_ok(s, &b, 3, 0);
  /* Another process takes the write lock and keeps it. */
  int in[2];
  assert_int_equal(pipe(in), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    dup2(in[0], 0);
    close(in[0]);
    close(in[1]);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    execlp("sqlite3", "sqlite3", g_path, (char *)NULL);
    _exit(127);
  }
  close(in[0]);
  const char *lock = "BEGIN IMMEDIATE;\nINSERT INTO action_events (project, domain, run_name, "
                     "name, attempt, phase, version) VALUES ('cli','d','r','n',1,1,1);\n";
  assert_int_equal(write(in[1], lock, strlen(lock)), (ssize_t)strlen(lock));
  long end = now_ms() + 5000;
  while (!write_locked() && now_ms() < end) sleep_ms(20);
  assert_true(write_locked());
  for (size_t i = 0; i < 3; i++) row_key(&b, i, "lock1", i, "x");
  char msg[512];
  long t0 = now_ms();
  hop_store_result res = insert(s, &b, msg, sizeof(msg));
  long waited = now_ms() - t0;
  print_message("    locked: %ld ms: %s\n", waited, res.message);
  assert_int_equal(res.code, 14); /* unavailable: retry later */
  assert_string_equal(res.message,
                      "sqlite: database is locked by another process (SQLITE_BUSY after 400 ms)");
  assert_true(waited >= 350);
  assert_true(waited < 5000);
  assert_int_equal(count_rows(s), 3); /* readers are not blocked by the writer (WAL) */
  /* The other process commits and leaves: we recover. */
  const char *done = "COMMIT;\n.quit\n";
  assert_int_equal(write(in[1], done, strlen(done)), (ssize_t)strlen(done));
  close(in[1]);
  int st = 0;
  end = now_ms() + 5000;
  pid_t w;
  while ((w = waitpid(pid, &st, WNOHANG)) == 0 && now_ms() < end) sleep_ms(10);
  if (w == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    fail_msg("sqlite3 CLI did not exit");
  }
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  insert_ok(s, &b, 3, 0);
  assert_int_equal(count_rows(s), 7);
  hop_store_close(s);
  rows_free(&b);
}

/* Idle TRUNCATE checkpoint: the WAL is folded back and emptied once the writer rests. */
static void t_sqlite_checkpoint(void **state) {
  hop_store *s = open_default();
  rows b = rows_new(500);
  for (size_t i = 0; i < 500; i++) row_key(&b, i, "ckpt", i, "0123456789012345678901234567890123456789");
  insert_ok(s, &b, 500, 0);
  char wal[300];
  snprintf(wal, sizeof(wal), "%s-wal", g_path);
  struct stat sb;
  long end = now_ms() + 5000;
  while (now_ms() < end && (stat(wal, &sb) != 0 || sb.st_size != 0)) sleep_ms(50);
  assert_int_equal(stat(wal, &sb), 0);
  assert_int_equal(sb.st_size, 0);
  assert_int_equal(count_rows(s), 500);
  hop_store_close(s);
  rows_free(&b);
}

/* kill -9 of the process right after acknowledged COMMITs: every acknowledged batch is in
 * the file afterwards, even with synchronous=OFF (the OS has the writes; only power loss or
 * an OS crash needs the fsyncs of NORMAL / FULL). */
static void kill9_run(int sync) {
  int p[2];
  assert_int_equal(pipe(p), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    hop_store_config c;
    hop_store_config_init(&c);
    c.url = g_url;
    c.sqlite_synchronous = sync;
    hop_store *s;
    char err[256];
    if (hop_store_open(&s, &c, err, sizeof(err)) != 0) _exit(3);
    for (int i = 0;; i++) {
      hop_ev_row r[50];
      char run[32];
      char names[50][8];
      snprintf(run, sizeof(run), "k%d", i);
      for (int j = 0; j < 50; j++) {
        snprintf(names[j], sizeof(names[j]), "a%d", j);
        r[j] = (hop_ev_row){"proj", "development", run, names[j], 1, 1, 0,
                            (const uint8_t *)"kill-9", 6, NULL};
      }
      hop_store_result res;
      if (hop_store_insert(s, r, 50, &res, NULL, 0) != 0 || res.code != 0) _exit(4);
      if (write(p[1], &i, sizeof(i)) != (ssize_t)sizeof(i)) _exit(5);
    }
  }
  close(p[1]);
  int acked = -1, v;
  long end = now_ms() + 10000;
  while (acked < 30 && now_ms() < end && read(p[0], &v, sizeof(v)) == (ssize_t)sizeof(v)) acked = v;
  kill(pid, SIGKILL);
  int st;
  waitpid(pid, &st, 0);
  assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  while (read(p[0], &v, sizeof(v)) == (ssize_t)sizeof(v)) acked = v; /* acks before death */
  close(p[0]);
  assert_true(acked >= 30);
  hop_store *s = open_default(); /* recovers the WAL */
  uint64_t n = count_rows(s);
  print_message("    synchronous=%d: %d batches acknowledged before kill -9, %llu rows after\n",
                sync, acked + 1, (unsigned long long)n);
  assert_true(n >= (uint64_t)(acked + 1) * 50);
  assert_true(n <= (uint64_t)(acked + 2) * 50); /* at most one unacknowledged batch more */
  for (int i = 0; i <= acked; i++) {
    char run[32];
    snprintf(run, sizeof(run), "k%d", i);
    listed l = {0};
    list_run(s, run, &l);
    if (l.n != 50) fail_msg("batch %d acknowledged, %zu of 50 rows after kill -9", i, l.n);
    listed_free(&l);
  }
  hop_store_close(s);
  char ok[16];
  sql_scalar("PRAGMA integrity_check", ok, sizeof(ok));
  assert_string_equal(ok, "ok");
}

static void t_sqlite_kill9_off(void **state) { kill9_run(0); }
static void t_sqlite_kill9_normal(void **state) { kill9_run(1); }

/* ===================== PostgreSQL only ===================== */

typedef struct listener {
  PGconn *c;
  char got[64][128];
  int n;
} listener;

static void listen_start(listener *l) {
  memset(l, 0, sizeof(*l));
  l->c = PQconnectdb(g_pg.url);
  assert_int_equal(PQstatus(l->c), CONNECTION_OK);
  PGresult *r = PQexec(l->c, "LISTEN action_updates");
  assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
  PQclear(r);
}

/* Collects notifications for |ms|. */
static void listen_poll(listener *l, long ms) {
  long end = now_ms() + ms;
  for (;;) {
    PQconsumeInput(l->c);
    PGnotify *n;
    while ((n = PQnotifies(l->c)) != NULL) {
      assert_string_equal(n->relname, "action_updates");
      if (l->n < 64) snprintf(l->got[l->n], sizeof(l->got[0]), "%s", n->extra);
      l->n++;
      PQfreemem(n);
    }
    long left = end - now_ms();
    if (left <= 0) break;
    struct pollfd p = {PQsocket(l->c), POLLIN, 0};
    poll(&p, 1, (int)(left > 50 ? 50 : left));
  }
}

static int listener_has(listener *l, const char *payload) {
  int k = 0;
  for (int i = 0; i < l->n && i < 64; i++) k += !strcmp(l->got[i], payload);
  return k;
}

static void t_pg_notify(void **state) {
  hop_store_config c;
  cfg_init(&c);
  c.commit_delay_us = 400000;
  hop_store *s = open_cfg(&c);
  listener l;
  listen_start(&l);
  rows b = rows_new(5);
  row_set(&b, 0, "proj", "r", "a1", 1, 1, 0, "x", NULL);
  row_set(&b, 1, "proj", "r", "a1", 1, 2, 0, "x", NULL);
  row_set(&b, 2, "proj", "r", "a2", 1, 1, 0, "x", NULL);
  row_set(&b, 3, "proj", "r2", "a1", 1, 1, 0, "x", NULL);
  row_set(&b, 4, "proj", "r", "a\"q\\", 1, 1, 0, "x", NULL); /* array-literal escaping */
  tally *t = malloc(sizeof(*t));
  tally_init(t);
  ticket k = {t, 0};
  assert_int_equal(hop_store_submit(s, b.r, b.n, tally_cb, &k), 0);
  listen_poll(&l, 250); /* rows inserted, COMMIT still 150+ ms away */
  assert_int_equal(t->done, 0);
  assert_int_equal(l.n, 0);
  assert_int_equal(tally_wait(t, 1, 10000), 1);
  assert_int_equal(t->code[0], 0);
  listen_poll(&l, 1000);
  assert_int_equal(l.n, 4);
  assert_int_equal(listener_has(&l, "proj/development/r/a1"), 1);
  assert_int_equal(listener_has(&l, "proj/development/r/a2"), 1);
  assert_int_equal(listener_has(&l, "proj/development/r2/a1"), 1);
  assert_int_equal(listener_has(&l, "proj/development/r/a\"q\\"), 1);
  hop_store_close(s);

  /* A failed transaction notifies nothing: invalid UTF-8 in the last row. */
  cfg_init(&c);
  c.notify = 1;
  s = open_cfg(&c);
  l.n = 0;
  rows bad = rows_new(2);
  row_set(&bad, 0, "proj", "r3", "a1", 1, 1, 0, "x", NULL);
  row_set(&bad, 1, "proj", "r3", "a\xff", 1, 1, 0, "x", NULL);
  char msg[512];
  hop_store_result res = insert(s, &bad, msg, sizeof(msg));
  assert_int_equal(res.code, 13);
  assert_non_null(strstr(res.message, "SQLSTATE 22021"));
  listen_poll(&l, 300);
  assert_int_equal(l.n, 0);
  /* notify = 0: none at all. */
  hop_store_close(s);
  c.notify = 0;
  s = open_cfg(&c);
  row_set(&bad, 1, "proj", "r3", "a2", 1, 1, 0, "x", NULL);
  insert_ok(s, &bad, 2, 0);
  listen_poll(&l, 300);
  assert_int_equal(l.n, 0);
  hop_store_close(s);
  PQfinish(l.c);
  rows_free(&b);
  rows_free(&bad);
  free(t);
}

/* A batch is one transaction: a bad row at 70,000 leaves none of the earlier chunks. */
static void t_pg_atomic(void **state) {
  hop_store *s = open_default();
  const size_t N = 80000;
  rows b = rows_new(N);
  for (size_t i = 0; i < N; i++) row_key(&b, i, "atomic", i, "x");
  row_set(&b, 70000, "proj", "atomic", "bad\xc3", 1, 1, 0, "x", NULL);
  char msg[512];
  hop_store_result res = insert(s, &b, msg, sizeof(msg));
  assert_int_equal(res.code, 13);
  assert_int_equal(res.inserted, 0);
  print_message("    %s\n", res.message);
  assert_non_null(strstr(res.message, "postgres: INSERT: invalid byte sequence"));
  assert_int_equal(count_rows(s), 0);
  row_key(&b, 70000, "atomic", 70000, "x");
  insert_ok(s, &b, N, 0);
  assert_int_equal(count_rows(s), N);
  hop_store_close(s);
  rows_free(&b);
}

static void t_pg_unreachable(void **state) {
  hop_store_config c;
  hop_store_config_init(&c);
  c.url = "postgresql://postgres@127.0.0.1:1/postgres";
  hop_store *s = NULL;
  char err[512];
  long t0 = now_ms();
  assert_int_equal(hop_store_open(&s, &c, err, sizeof(err)), HOP_ECONNECT);
  assert_true(now_ms() - t0 < 5000);
  assert_null(s);
  assert_non_null(strstr(err, "postgres: cannot connect to the database"));
}

/* A submitter thread: sequential 20-row batches with fresh keys; every result kept. */
#define SUB_MAX 4096
typedef struct submitter {
  hop_store *s;
  atomic_int stop;
  int n;
  rows batch[SUB_MAX];
  int code[SUB_MAX];
  long done_ms[SUB_MAX];
  long max_lat;
  int other; /* results neither 0 nor 14 */
  char other_msg[512];
  char fail_msg[512];
  pthread_t th;
  pthread_mutex_t mu; /* n, code, done_ms while the thread runs */
  int tag;
} submitter;

static void *submit_loop(void *p) {
  submitter *u = p;
  for (int i = 0; !atomic_load(&u->stop) && i < SUB_MAX; i++) {
    u->batch[i] = rows_new(20);
    char run[32];
    snprintf(run, sizeof(run), "f%d-%d", u->tag, i);
    for (size_t j = 0; j < 20; j++) row_key(&u->batch[i], j, run, j, "fault");
    hop_store_result res;
    char msg[512];
    long t0 = now_ms();
    int rc = hop_store_insert(u->s, u->batch[i].r, 20, &res, msg, sizeof(msg));
    long lat = now_ms() - t0;
    if (lat > u->max_lat) u->max_lat = lat;
    pthread_mutex_lock(&u->mu);
    u->code[i] = rc ? -1000 + rc : res.code;
    u->done_ms[i] = now_ms();
    pthread_mutex_unlock(&u->mu);
    if (rc == 0 && res.code != 0 && res.code != 14) {
      u->other++;
      snprintf(u->other_msg, sizeof(u->other_msg), "%d: %s", res.code, res.message);
    } else if (rc != 0) {
      u->other++;
      snprintf(u->other_msg, sizeof(u->other_msg), "submit rc %d", rc);
    } else if (res.code == 14) {
      snprintf(u->fail_msg, sizeof(u->fail_msg), "%s", res.message);
    }
    pthread_mutex_lock(&u->mu);
    u->n = i + 1;
    pthread_mutex_unlock(&u->mu);
    if (res.code) sleep_ms(5);
  }
  return NULL;
}

/* Runs |fault| while a submitter runs; checks in-band errors only, bounded latency, success
 * afterwards, and that every batch is stored once the failed ones are retried. */
static void fault_run(const char *label, int (*fault)(void), int expect_failures) {
  hop_store_config c;
  cfg_init(&c);
  hop_store *s = open_cfg(&c);
  submitter *u = calloc(1, sizeof(*u));
  u->s = s;
  u->tag = g_seq;
  pthread_mutex_init(&u->mu, NULL);
  assert_int_equal(pthread_create(&u->th, NULL, submit_loop, u), 0);
  sleep_ms(300);
  long t_fault = now_ms();
  assert_int_equal(fault(), 0);
  long t_back = now_ms();
  /* Until a batch submitted after the fault succeeds (10 s at most), then a little more. */
  long end = now_ms() + 10000;
  int ok_after = 0;
  while (!ok_after && now_ms() < end) {
    sleep_ms(20);
    pthread_mutex_lock(&u->mu);
    for (int i = 0; i < u->n; i++)
      if (u->code[i] == 0 && u->done_ms[i] > t_back) ok_after = 1;
    pthread_mutex_unlock(&u->mu);
  }
  sleep_ms(300);
  atomic_store(&u->stop, 1);
  pthread_join(u->th, NULL);
  int ok = 0, failed = 0;
  for (int i = 0; i < u->n; i++) {
    if (u->code[i] == 0)
      ok++;
    else
      failed++;
  }
  hop_store_stats st;
  hop_store_get_stats(s, &st);
  print_message("    %s: %d ok, %d failed in-band (last: %s), max latency %ld ms, "
                "%llu reconnects, fault took %ld ms\n",
                label, ok, failed, failed ? u->fail_msg : "-", u->max_lat,
                (unsigned long long)st.reconnects, t_back - t_fault);
  if (u->other) fail_msg("%s: unexpected result: %s", label, u->other_msg);
  assert_true(ok_after);
  if (expect_failures) assert_true(failed > 0);
  if (failed) assert_non_null(strstr(u->fail_msg, "postgres: "));
  assert_true(u->max_lat < 10000);
  assert_true(st.reconnects >= 1);
  /* The store keeps working: retry every failed batch (idempotent), then all are there. */
  uint64_t want = (uint64_t)u->n * 20;
  for (int i = 0; i < u->n; i++) {
    if (u->code[i] == 0) continue;
    char msg[512];
    hop_store_result res = insert(s, &u->batch[i], msg, sizeof(msg));
    if (res.code != 0) fail_msg("%s: retry of batch %d: %s", label, i, res.message);
    assert_int_equal(res.inserted + res.duplicates, 20);
  }
  assert_int_equal(count_rows(s), want);
  hop_store_close(s);
  for (int i = 0; i < u->n; i++) rows_free(&u->batch[i]);
  pthread_mutex_destroy(&u->mu);
  free(u);
}

static int fault_restart_fast(void) { return hop_pg_restart(&g_pg, "fast"); }
static int fault_restart_immediate(void) { return hop_pg_restart(&g_pg, "immediate"); }
static int fault_stop_start(void) {
  if (hop_pg_stop(&g_pg, "fast") != 0) return -1;
  sleep_ms(1000); /* down for a second: batches fail in-band meanwhile */
  return hop_pg_resume(&g_pg);
}
static int fault_terminate(void) {
  int n = hop_pg_terminate(&g_pg, "hopwire-store-%");
  print_message("    terminated %d backends\n", n);
  return n == 5 ? 0 : -1; /* 4 writers + the reader */
}

/* The connection dies while COMMIT is due: the outcome is unknown to the client, so the
 * batch is reported failed (in-band, 14); the retry is idempotent. */
static void t_pg_commit_lost(void **state) {
  hop_store_config c;
  cfg_init(&c);
  c.writers = 1;
  c.commit_delay_us = 600000;
  hop_store *s = open_cfg(&c);
  rows b = rows_new(10);
  for (size_t i = 0; i < 10; i++) row_key(&b, i, "lost", i, "x");
  tally *t = malloc(sizeof(*t));
  tally_init(t);
  ticket k = {t, 0};
  assert_int_equal(hop_store_submit(s, b.r, b.n, tally_cb, &k), 0);
  sleep_ms(250); /* INSERT done, sleeping before COMMIT */
  assert_int_equal(hop_pg_terminate(&g_pg, "hopwire-store-writer"), 1);
  assert_int_equal(tally_wait(t, 1, 10000), 1);
  assert_int_equal(t->code[0], 14);
  print_message("    %s\n", t->last_msg);
  assert_non_null(strstr(t->last_msg, "postgres: connection lost during COMMIT (outcome unknown"));
  char msg[512];
  hop_store_result res = insert(s, &b, msg, sizeof(msg));
  assert_int_equal(res.code, 0);
  assert_int_equal(res.inserted, 10); /* the terminated transaction had rolled back */
  hop_store_stats st;
  hop_store_get_stats(s, &st);
  assert_int_equal(st.errors, 1);
  assert_int_equal(st.reconnects, 1);
  hop_store_close(s);
  rows_free(&b);
  free(t);
}

static void t_pg_restart_fast(void **state) { fault_run("restart -m fast", fault_restart_fast, 0); }
static void t_pg_restart_immediate(void **state) {
  fault_run("restart -m immediate", fault_restart_immediate, 0);
}
static void t_pg_down(void **state) { fault_run("down 1 s", fault_stop_start, 1); }
static void t_pg_terminate(void **state) { fault_run("pg_terminate_backend", fault_terminate, 0); }

/* ===================== groups ===================== */

static int setup_sqlite(void **state) {
  g_engine = ENG_SQLITE;
  return 0;
}

static int setup_pg(void **state) {
  g_engine = ENG_PG;
  char err[2048];
  long t0 = now_ms();
  if (hop_pg_start(&g_pg, err, sizeof(err)) != 0) {
    fprintf(stderr, "cannot start PostgreSQL 15: %s\n", err);
    return -1;
  }
  print_message("PostgreSQL 15 on %s (%s), started in %ld ms\n", g_pg.url, g_pg.dir,
                now_ms() - t0);
  return 0;
}

static int teardown_pg(void **state) {
  hop_pg_destroy(&g_pg);
  return 0;
}

/* A private mount namespace with a 2 MB tmpfs, made before any thread exists so every
 * thread (and child) sees it; it vanishes with the process. */
static void make_tmpfs(void) {
  g_tmpfs[0] = '\0';
  if (geteuid() != 0) return;
  if (unshare(CLONE_NEWNS) != 0) return;
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return;
  char dir[] = "/tmp/hop-store-tmpfs.XXXXXX";
  if (!mkdtemp(dir)) return;
  if (mount("tmpfs", dir, "tmpfs", 0, "size=2m,mode=0700") != 0) {
    rmdir(dir);
    return;
  }
  snprintf(g_tmpfs, sizeof(g_tmpfs), "%s", dir);
}

#define COMMON(pre)                                                                 \
  cmocka_unit_test_setup(t_zero_rows, setup_test),                                  \
      cmocka_unit_test_setup(t_one_row, setup_test),                                \
      cmocka_unit_test_setup(t_duplicates, setup_test),                             \
      cmocka_unit_test_setup(t_first_write_wins, setup_test),                       \
      cmocka_unit_test_setup(t_big_batch, setup_test),                              \
      cmocka_unit_test_setup(t_group_commit, setup_test),                           \
      cmocka_unit_test_setup(t_no_group_commit, setup_test),                        \
      cmocka_unit_test_setup(t_queue_full, setup_test),                             \
      cmocka_unit_test_setup(t_error_kind, setup_test),                             \
      cmocka_unit_test_setup(t_list_order, setup_test),                             \
      cmocka_unit_test_setup(t_reopen, setup_test),                                 \
      cmocka_unit_test_setup(t_close_commits_queued, setup_test),                   \
      cmocka_unit_test_setup(t_bad_input, setup_test),                              \
      cmocka_unit_test_setup(t_schema, setup_test)

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const char *san = getenv("HOP_SANITIZE");
  g_sanitized = san && *san && strcmp(san, "0") != 0;
  make_tmpfs();
  snprintf(g_tmp, sizeof(g_tmp), "/tmp/hop-store-test.XXXXXX");
  if (!mkdtemp(g_tmp)) return 1;
  const struct CMUnitTest sqlite_tests[] = {
      COMMON(sqlite),
      cmocka_unit_test_setup(t_sqlite_disk_full, setup_test),
      cmocka_unit_test_setup(t_sqlite_locked, setup_test),
      cmocka_unit_test_setup(t_sqlite_checkpoint, setup_test),
      cmocka_unit_test_setup(t_sqlite_kill9_off, setup_test),
      cmocka_unit_test_setup(t_sqlite_kill9_normal, setup_test),
  };
  const struct CMUnitTest pg_tests[] = {
      COMMON(pg),
      cmocka_unit_test_setup(t_pg_notify, setup_test),
      cmocka_unit_test_setup(t_pg_atomic, setup_test),
      cmocka_unit_test_setup(t_pg_unreachable, setup_test),
      cmocka_unit_test_setup(t_pg_terminate, setup_test),
      cmocka_unit_test_setup(t_pg_commit_lost, setup_test),
      cmocka_unit_test_setup(t_pg_restart_fast, setup_test),
      cmocka_unit_test_setup(t_pg_restart_immediate, setup_test),
      cmocka_unit_test_setup(t_pg_down, setup_test),
  };
  int failed = cmocka_run_group_tests_name("store_sqlite", sqlite_tests, setup_sqlite, NULL);
  failed += cmocka_run_group_tests_name("store_postgres", pg_tests, setup_pg, teardown_pg);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", g_tmp);
  if (system(cmd) != 0) fprintf(stderr, "cleanup of %s failed\n", g_tmp);
  if (g_tmpfs[0]) {
    umount(g_tmpfs);
    rmdir(g_tmpfs);
  }
  return failed ? 1 : 0;
}
