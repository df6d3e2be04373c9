/* The run-service's store: Flyte's action_events table in SQLite (default) or PostgreSQL.
 *
 * One interface, two engines (store_sqlite.c, store_pg.c), exercised by the same tests.
 * Each store owns its writer thread(s) and a bounded queue of submitted batches; libuv's
 * shared thread pool is never used (the client's DNS lookups live there).
 *
 * Every submitted batch is stored in one transaction (chunked multi-row
 * INSERT ... ON CONFLICT DO NOTHING under the engine's parameter limit, statements prepared
 * once per chunk size and reused) and acknowledged only after COMMIT returned. With group
 * commit on, batches queued while a transaction runs are merged into the next one (up to
 * max_txn_rows), so many concurrent batches cost a few commits; each still gets its own
 * result (its own inserted / duplicate counts). First write wins.
 *
 * PostgreSQL also runs pg_notify('action_updates', 'project/domain/run/action') once per
 * distinct action inside the same transaction, so a listener hears it exactly when the rows
 * are visible, and reconnects with backoff after the server restarts (submissions meanwhile
 * fail in-band, never crash or hang).
 *
 * Threads: hop_store_submit / hop_store_insert / hop_store_get_stats from any thread.
 * Completion callbacks run on a writer thread: keep them short (post elsewhere). */
#ifndef HOP_APPS_EVENTS_STORE_H
#define HOP_APPS_EVENTS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "events/codec.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hop_store hop_store;

typedef struct hop_store_config {
  const char *url;           /* "sqlite:PATH" | "postgres://..." | "postgresql://..." (libpq
                                URI); default "sqlite:hopwire-events.db" */
  unsigned writers;          /* PostgreSQL: connections, each with its writer thread; 4.
                                SQLite: always one writer */
  int group_commit;          /* 1 (default): merge queued batches into one transaction */
  size_t max_txn_rows;       /* group commit cap per transaction; 20000 (a single larger
                                batch is still one transaction) */
  size_t max_queue_rows;     /* rows submitted and not yet committed; 262144. Over it
                                hop_store_submit returns HOP_EQUEUEFULL */
  int sqlite_synchronous;    /* PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL (default),
                                3 EXTRA. See docs/pipeline-store.md for what each survives */
  int sqlite_gather_wal;     /* 1 (default): under synchronous full/extra the writer's WAL
                                frames leave in one write per ~120 KiB, not two per page
                                (store_sqlite_wal.h); 0: SQLite's own writes */
  uint64_t busy_timeout_ms;  /* SQLite busy handler (another process holds the write lock);
                                5000; then the batch fails in-band */
  uint64_t connect_timeout_ms; /* PostgreSQL connect; 5000 */
  int notify;                /* PostgreSQL: pg_notify per distinct action; 1 */
  uint64_t commit_delay_us;  /* artificial delay before every COMMIT (overload and fault
                                tests); 0 */
} hop_store_config;

void hop_store_config_init(hop_store_config *cfg);

/* The outcome of one submitted batch. |code| is 0 when every row is committed (inserted
 * + duplicates == rows); otherwise an RPC status code (hop_code numbering: 13 internal for
 * a database error, 14 unavailable while the database cannot be reached, 8
 * resource_exhausted) and |message| names the cause, e.g. "sqlite: database or disk is
 * full (SQLITE_FULL)"; nothing of the batch is committed then. */
typedef struct hop_store_result {
  int code;
  const char *message;       /* "" on success; valid during the callback only */
  uint64_t inserted;         /* new rows */
  uint64_t duplicates;       /* rows whose key was already stored (or repeated in the batch) */
} hop_store_result;

typedef void (*hop_store_done_fn)(void *user_data, const hop_store_result *res);

/* Opens (creating the table and its index if missing, exactly Flyte's schema) and starts
 * the writer thread(s). Returns 0, or a negative hop_err with a message in |err| (a bad URL,
 * the database cannot be opened or reached). */
int hop_store_open(hop_store **out, const hop_store_config *cfg, char *err, size_t errlen);

/* Queues |n| rows as one batch. The rows and all they point to are borrowed until |fn|
 * fires (exactly once, on a writer thread, after COMMIT or the failure). n == 0 completes at
 * once (from this thread) with code 0. Returns 0; HOP_EQUEUEFULL when max_queue_rows would
 * be passed, HOP_ESHUTDOWN after hop_store_close began, HOP_EINVAL: |fn| never fires. */
int hop_store_submit(hop_store *s, const hop_ev_row *rows, size_t n, hop_store_done_fn fn,
                     void *user_data);

/* Blocking submit (not from a completion callback: there it returns HOP_ESTATE instead of
 * waiting for itself). |res->message| is copied into |msg| (|msglen| bytes, may be 0) and
 * res->message points at it. Returns what submit returned. */
int hop_store_insert(hop_store *s, const hop_ev_row *rows, size_t n, hop_store_result *res,
                     char *msg, size_t msglen);

#define HOP_STORE_LAT_BUCKETS 14   /* commit latency upper bounds, us, last = +Inf */
#define HOP_STORE_SIZE_BUCKETS 12  /* rows per transaction upper bounds, last = +Inf */
extern const uint64_t hop_store_lat_bounds_us[HOP_STORE_LAT_BUCKETS];
extern const uint64_t hop_store_size_bounds[HOP_STORE_SIZE_BUCKETS];

typedef struct hop_store_stats {
  uint64_t batches;          /* submitted batches completed */
  uint64_t rows_received;
  uint64_t rows_inserted;
  uint64_t duplicates;
  uint64_t transactions;     /* committed */
  uint64_t errors;           /* failed transactions */
  uint64_t queue_rejections; /* HOP_EQUEUEFULL answers */
  uint64_t queued_rows;      /* now */
  uint64_t reconnects;       /* PostgreSQL */
  /* Per-bucket (not cumulative) counts and sums, for Prometheus histograms. */
  uint64_t commit_lat_count[HOP_STORE_LAT_BUCKETS];
  uint64_t commit_lat_sum_us;
  uint64_t txn_rows_count[HOP_STORE_SIZE_BUCKETS];
  uint64_t txn_rows_sum;
} hop_store_stats;

void hop_store_get_stats(hop_store *s, hop_store_stats *out);
/* "sqlite" or "postgres". */
const char *hop_store_engine(const hop_store *s);

/* Stops taking submissions, commits everything already queued (callbacks fire), joins the
 * writer threads, closes the database and frees |s| (NULL: nothing). Not from a completion
 * callback (it joins the thread running it). */
void hop_store_close(hop_store *s);

/* Reading back (hopwire events, tests), on a connection of its own. Rows of one run
 * (|project|, |domain|, |run| all non-NULL) or of every run (all NULL), ordered by project,
 * domain, run_name, name, attempt, phase, version (Flyte's ListEvents order within an
 * action). |fn| gets each row (valid during the call); returning non-zero stops. Returns
 * 0 or a negative hop_err with |err| set. */
typedef int (*hop_store_row_fn)(void *user_data, const hop_ev_row *row);
int hop_store_list(hop_store *s, const char *project, const char *domain, const char *run,
                   hop_store_row_fn fn, void *user_data, char *err, size_t errlen);
/* Number of stored rows. */
int hop_store_count(hop_store *s, uint64_t *rows, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
