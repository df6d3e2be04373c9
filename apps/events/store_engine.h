/* Internal to the store: the contract between store.c (URL dispatch, the bounded queue,
 * group-commit grouping, stats, callbacks, the blocking wrapper) and one database engine
 * (store_sqlite.c, store_pg.c).
 *
 * Threads: open / close / list / count run on the caller's thread (store.c serialises
 * list and count on one reader lock); each writer handle is created, used and closed by
 * its own writer thread only. */
#ifndef HOP_APPS_EVENTS_STORE_ENGINE_H
#define HOP_APPS_EVENTS_STORE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "events/store.h"

/* Flyte's INSERT column list (runs/repository/impl/action.go); 9 bound values per row,
 * the timestamps are CURRENT_TIMESTAMP. */
#define HOP_STORE_COLS 9
#define HOP_STORE_INSERT_HEAD                                                              \
  "INSERT INTO action_events (project, domain, run_name, name, attempt, phase, version, " \
  "info, error_kind, created_at, updated_at) VALUES "
#define HOP_STORE_LIST_COLS "project, domain, run_name, name, attempt, phase, version, info, error_kind"
#define HOP_STORE_ORDER "project, domain, run_name, name, attempt, phase, version"
/* Rows per page of hop_store_list: each page is its own short read (keyset pagination),
 * so a long listing never pins a snapshot (SQLite checkpoints, PostgreSQL vacuum). */
#define HOP_STORE_LIST_PAGE 1000

/* One submitted batch, queued until a writer stores it. */
typedef struct hop_store_job {
  struct hop_store_job *next;
  const hop_ev_row *rows;
  size_t n;
  hop_store_done_fn fn;
  void *user_data;
  uint64_t inserted; /* set by the engine's txn, meaningful after it returned 0 */
} hop_store_job;

typedef struct hop_store_ops {
  const char *name; /* "sqlite" | "postgres" */
  /* Opens the database named by |target| (the URL without "sqlite:" for SQLite, the whole
   * URL for PostgreSQL), creates the table and index if missing and the reader connection.
   * |s| is kept for hop_store_note_reconnect. */
  int (*open)(hop_store *s, const hop_store_config *cfg, const char *target, void **eng,
              char *err, size_t errlen);
  unsigned (*writers)(void *eng); /* writer threads to start */
  /* Called on the writer thread before its first transaction. Writer |idx| may connect
   * later (PostgreSQL reconnects in txn); returns 0 or a negative hop_err. */
  int (*writer_open)(void *eng, unsigned idx, void **w, char *err, size_t errlen);
  /* Stores every job in ONE transaction, each job chunked on its own (no statement spans
   * two jobs) and job->inserted set. Returns 0 after COMMIT returned; otherwise an RPC
   * status code (hop_code numbering) with |msg| naming the cause, and nothing of any job
   * committed (or, for a COMMIT lost with its connection, unknown: reported as failure). */
  int (*txn)(void *w, hop_store_job *const *jobs, size_t njobs, uint64_t commit_delay_us,
             char *msg, size_t msglen);
  void (*idle)(void *w); /* the writer found no work for a while; NULL = nothing */
  void (*writer_close)(void *w);
  int (*list)(void *eng, const char *project, const char *domain, const char *run,
              hop_store_row_fn fn, void *user_data, char *err, size_t errlen);
  int (*count)(void *eng, uint64_t *rows, char *err, size_t errlen);
  void (*close)(void *eng); /* after every writer closed */
} hop_store_ops;

extern const hop_store_ops hop_store_engine_sqlite;
extern const hop_store_ops hop_store_engine_pg;

/* A writer re-established its connection (stats.reconnects). Any thread. */
void hop_store_note_reconnect(hop_store *s);

/* Test hook, documented in docs/pipeline-faults.md: HOP_TEST_KILL_AT_COMMIT=N[:MODE] makes
 * the process SIGKILL itself at its N-th transaction. MODE "after" (default): store.c, after
 * COMMIT returned and before any batch of it is answered; "hook": SQLite, inside
 * sqlite3_commit_hook, i.e. while the COMMIT runs (nothing of it durable yet). Returns N when
 * the variable names |mode|, else 0. Read once per open. */
uint64_t hop_store_test_kill_at_commit(const char *mode);

/* Monotonic microseconds, and a sleep that resumes after EINTR. */
uint64_t hop_store_now_us(void);
void hop_store_sleep_us(uint64_t us);

#endif
