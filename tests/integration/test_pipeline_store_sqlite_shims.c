/* The store's two SQLite shims against real SQLite files.
 * The WAL write-gathering VFS (apps/events/store_sqlite_wal.h): every COMMIT is visible to
 * another connection on the default VFS the moment it returns, rollbacks leave nothing,
 * transactions far larger than the buffer commit whole, the writes really are gathered,
 * and a writer killed with SIGKILL loses no committed transaction and leaves no partial one.
 * The page-cache wrapper (apps/events/store_sqlite_pcache.h): it skips truncates under a
 * random-key index load, and what is read back after growth, rollbacks and shrinking
 * caches is exactly what was committed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "events/store_sqlite_pcache.h"
#include "events/store_sqlite_wal.h"

static char g_dir[64];
static char g_path[128];
static int g_seq;

static int setup_file(void **state) {
  (void)state;
  snprintf(g_path, sizeof(g_path), "%s/t%d.db", g_dir, ++g_seq);
  return 0;
}

static sqlite3 *open_db(const char *vfs, const char *sync) {
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open_v2(g_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs),
                   SQLITE_OK);
  char sql[160];
  snprintf(sql, sizeof(sql),
           "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s;"
           "CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v BLOB NOT NULL);",
           sync);
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  return db;
}

static long count_rows(sqlite3 *db) {
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  long n = (long)sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return n;
}

static void assert_integrity(sqlite3 *db) {
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
  sqlite3_finalize(st);
}

/* n rows with keys from |first|, each a 600-byte blob derived from its key. */
static int insert_rows(sqlite3 *db, long first, long n) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, "INSERT INTO t (k, v) VALUES (?, ?)", -1, &st, NULL) != SQLITE_OK)
    return -1;
  unsigned char blob[600];
  int rc = SQLITE_DONE;
  for (long i = 0; i < n && rc == SQLITE_DONE; i++) {
    for (size_t j = 0; j < sizeof(blob); j++) blob[j] = (unsigned char)((first + i) * 31 + j);
    sqlite3_bind_int64(st, 1, first + i);
    sqlite3_bind_blob(st, 2, blob, sizeof(blob), SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : -1;
}

static void t_register(void **state) {
  (void)state;
  assert_int_equal(hop_sqlite_walbuf_register(), SQLITE_OK);
  assert_int_equal(hop_sqlite_walbuf_register(), SQLITE_OK); /* once */
  assert_non_null(sqlite3_vfs_find(HOP_SQLITE_WALBUF_VFS));
  /* Not the default: connections that don't ask for it never get it. */
  assert_string_not_equal(sqlite3_vfs_find(NULL)->zName, HOP_SQLITE_WALBUF_VFS);
}

/* Every commit visible to a reader on the default VFS at once; rollbacks leave nothing;
 * one transaction of ~9 MB of frames (many buffer-fulls) commits whole. */
static void t_visible_after_commit(void **state) {
  (void)state;
  assert_int_equal(hop_sqlite_walbuf_register(), SQLITE_OK);
  sqlite3 *w = open_db(HOP_SQLITE_WALBUF_VFS, "FULL");
  sqlite3 *r = open_db(NULL, "FULL");
  uint64_t g0, w0, g1, w1;
  hop_sqlite_walbuf_counts(&g0, &w0);
  long total = 0;
  unsigned seed = 7;
  for (int txn = 0; txn < 120; txn++) {
    long n = txn == 60 ? 15000 : 1 + (long)(rand_r(&seed) % 700);
    int rollback = txn % 17 == 5;
    assert_int_equal(sqlite3_exec(w, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(insert_rows(w, total, n), 0);
    assert_int_equal(sqlite3_exec(w, rollback ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL),
                     SQLITE_OK);
    if (!rollback) total += n;
    assert_int_equal(count_rows(r), total);
  }
  /* The last row reads back byte-exact through the reader. */
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(r, "SELECT v FROM t WHERE k = ?", -1, &st, NULL), SQLITE_OK);
  sqlite3_bind_int64(st, 1, total - 1);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_bytes(st, 0), 600);
  const unsigned char *v = sqlite3_column_blob(st, 0);
  for (int j = 0; j < 600; j++) assert_int_equal(v[j], (unsigned char)((total - 1) * 31 + j));
  sqlite3_finalize(st);
  hop_sqlite_walbuf_counts(&g1, &w1);
  /* Two writes per frame went in; a write per ~30 frames came out. */
  assert_true(g1 - g0 > 10000);
  assert_true((w1 - w0) * 10 < g1 - g0);
  assert_integrity(r);
  assert_int_equal(sqlite3_close(r), SQLITE_OK);
  assert_int_equal(sqlite3_close(w), SQLITE_OK);
  /* Reopened from the files alone. */
  sqlite3 *again = open_db(NULL, "FULL");
  assert_int_equal(count_rows(again), total);
  assert_integrity(again);
  sqlite3_close(again);
}

/* A writer killed at a random moment: every transaction whose COMMIT returned is there,
 * no partial one is. The child reports each committed total through a pipe. */
static void t_kill9(void **state) {
  (void)state;
  for (int round = 0; round < 3; round++) {
    setup_file(NULL);
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      close(p[0]);
      if (hop_sqlite_walbuf_register() != SQLITE_OK) _exit(3);
      sqlite3 *w = open_db(HOP_SQLITE_WALBUF_VFS, "FULL");
      for (long total = 0;; total += 250) {
        if (sqlite3_exec(w, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
            insert_rows(w, total, 250) != 0 ||
            sqlite3_exec(w, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
          _exit(4);
        long done = total + 250;
        if (write(p[1], &done, sizeof(done)) != (ssize_t)sizeof(done)) _exit(5);
      }
    }
    close(p[1]);
    long last = 0, got;
    long want = 2000 + round * 3000;
    while (last < want && read(p[0], &got, sizeof(got)) == (ssize_t)sizeof(got)) last = got;
    assert_true(last >= want);
    struct timespec ts = {0, (long)(round * 1700 + 300) * 1000L};
    nanosleep(&ts, NULL); /* land inside a later transaction, not just after a report */
    kill(pid, SIGKILL);
    while (read(p[0], &got, sizeof(got)) == (ssize_t)sizeof(got)) last = got;
    close(p[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    sqlite3 *db = open_db(NULL, "FULL");
    long n = count_rows(db);
    assert_true(n >= last);
    assert_int_equal(n % 250, 0);
    assert_integrity(db);
    sqlite3_close(db);
  }
}

/* Random keys in a secondary index force b-tree balancing (the page swaps that made pcache1
 * scan); a tiny cache forces eviction and re-reads; rollbacks grow the file then drop the
 * pages again. Every committed row must read back, every rolled-back one must be absent. */
static void t_pcache_exact(void **state) {
  (void)state;
  sqlite3 *db = open_db(NULL, "NORMAL");
  assert_int_equal(sqlite3_exec(db,
                                "PRAGMA cache_size=40;"
                                "CREATE TABLE IF NOT EXISTS u (k TEXT PRIMARY KEY, n INTEGER);",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  uint64_t skipped0 = hop_sqlite_pcache_skipped();
  sqlite3_stmt *ins = NULL, *get = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO u (k, n) VALUES (?, ?)", -1, &ins, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT n FROM u WHERE k = ?", -1, &get, NULL),
                   SQLITE_OK);
  unsigned seed = 11;
  long committed = 0;
  char key[64];
  for (int txn = 0; txn < 200; txn++) {
    int rollback = txn % 9 == 4;
    assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    for (int i = 0; i < 100; i++) {
      long id = txn * 100L + i;
      snprintf(key, sizeof(key), "%08x-%ld-padding-to-make-index-cells-longer", rand_r(&seed), id);
      sqlite3_bind_text(ins, 1, key, -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(ins, 2, rollback ? -id - 1 : id);
      assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
      sqlite3_reset(ins);
    }
    assert_int_equal(sqlite3_exec(db, rollback ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL),
                     SQLITE_OK);
    if (!rollback) committed += 100;
  }
  /* Read every key back (same generator): committed rows carry their id, rolled-back none. */
  seed = 11;
  long found = 0;
  for (int txn = 0; txn < 200; txn++) {
    for (int i = 0; i < 100; i++) {
      long id = txn * 100L + i;
      snprintf(key, sizeof(key), "%08x-%ld-padding-to-make-index-cells-longer", rand_r(&seed), id);
      sqlite3_bind_text(get, 1, key, -1, SQLITE_TRANSIENT);
      int rc = sqlite3_step(get);
      if (txn % 9 == 4) {
        assert_int_equal(rc, SQLITE_DONE);
      } else {
        assert_int_equal(rc, SQLITE_ROW);
        assert_int_equal(sqlite3_column_int64(get, 0), id);
        found++;
      }
      sqlite3_reset(get);
    }
  }
  assert_int_equal(found, committed);
  sqlite3_finalize(ins);
  sqlite3_finalize(get);
  /* The wrapper was in the path and answered most end-of-transaction truncates itself. */
  assert_true(hop_sqlite_pcache_skipped() - skipped0 > 100);
  assert_integrity(db);
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

int main(void) {
  /* Before anything initialises SQLite: the wrapper can only be installed then. */
  if (hop_sqlite_pcache_install() != SQLITE_OK) {
    fprintf(stderr, "hop_sqlite_pcache_install failed\n");
    return 1;
  }
  snprintf(g_dir, sizeof(g_dir), "/tmp/hop-walbuf-XXXXXX");
  if (!mkdtemp(g_dir)) {
    perror("mkdtemp");
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(t_register, setup_file),
      cmocka_unit_test_setup(t_visible_after_commit, setup_file),
      cmocka_unit_test_setup(t_kill9, setup_file),
      cmocka_unit_test_setup(t_pcache_exact, setup_file),
  };
  int failed = cmocka_run_group_tests_name("store_sqlite_shims", tests, NULL, NULL);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
  return failed ? 1 : 0;
}
