/* The SQLite engine: WAL, one writer connection owned by one writer thread, a separate
 * reader connection for list / count. See store.h and store_engine.h. */
#include <limits.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "events/store_engine.h"
#include "events/store_sqlite_pcache.h"
#include "events/store_sqlite_wal.h"
#include "hopwire/error.h"
#include "hopwire/rpc.h"

/* Flyte's action_events (runs/migrations/sql/20260408110000_init_schema.sql) in SQLite
 * types: BYTEA -> BLOB, TIMESTAMPTZ -> TEXT ('YYYY-MM-DD HH:MM:SS' UTC, what
 * CURRENT_TIMESTAMP yields). Its error_kind index is partial here: most events carry no
 * error, and indexing their NULLs cost ~1,500 instructions per row for an index no query
 * on NULL uses (error_kind = 'X' still does). A database made before keeps its full one. */
static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS action_events ("
    " project TEXT NOT NULL, domain TEXT NOT NULL, run_name TEXT NOT NULL, name TEXT NOT NULL,"
    " attempt INTEGER NOT NULL, phase INTEGER NOT NULL, version INTEGER NOT NULL,"
    " info BLOB, error_kind TEXT,"
    " created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,"
    " updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,"
    " PRIMARY KEY (project, domain, run_name, name, attempt, phase, version));"
    "CREATE INDEX IF NOT EXISTS idx_action_events_error_kind ON action_events (error_kind)"
    " WHERE error_kind IS NOT NULL;";

/* A WAL file left over a checkpoint is cut back to this (journal_size_limit). */
#define JOURNAL_SIZE_LIMIT (64 * 1024 * 1024)
/* Statement sizes: the largest the parameter limit allows, then the powers of two below it;
 * a batch is split greedily (3640 + 2048 + ... ; 262 = 256 + 4 + 2), each size prepared
 * once, on first use. Few statements per batch matter: every statement after the first in
 * a transaction copies the pages it changes that earlier ones dirtied into its statement
 * journal (a multi-row INSERT may abort on NOT NULL), and 400/64/8/1 took up to 14. */
#define NSIZES 13
static const size_t FIXED_SIZES[NSIZES - 1] = {2048, 1024, 512, 256, 128, 64, 32, 16, 8, 4, 2, 1};

typedef struct sq_eng sq_eng;

typedef struct sq_writer {
  sq_eng *e;
  sqlite3 *db;
  size_t sizes[NSIZES];
  size_t nsizes;
  sqlite3_stmt *ins[NSIZES];
  sqlite3_stmt *begin, *commit;
  int dirty;  /* committed since the last idle checkpoint */
  int broken; /* a ROLLBACK failed: reopen the connection before the next transaction */
  uint64_t commits, kill_at; /* the crash test hook (store_engine.h) */
} sq_writer;

struct sq_eng {
  hop_store *s;
  char *path;
  int busy_ms;
  int sync;
  int gather; /* the writer opens through the WAL-gathering VFS (when sync >= FULL) */
  sq_writer *w; /* opened in open() (to report errors there), then owned by the writer */
  sqlite3 *rd;
  sqlite3_stmt *list_all, *list_all_after, *list_run, *list_run_after, *count;
};

static const char *rc_name(int rc) {
  switch (rc & 0xff) {
  case SQLITE_ERROR: return "SQLITE_ERROR";
  case SQLITE_INTERNAL: return "SQLITE_INTERNAL";
  case SQLITE_PERM: return "SQLITE_PERM";
  case SQLITE_ABORT: return "SQLITE_ABORT";
  case SQLITE_BUSY: return "SQLITE_BUSY";
  case SQLITE_LOCKED: return "SQLITE_LOCKED";
  case SQLITE_NOMEM: return "SQLITE_NOMEM";
  case SQLITE_READONLY: return "SQLITE_READONLY";
  case SQLITE_INTERRUPT: return "SQLITE_INTERRUPT";
  case SQLITE_IOERR: return "SQLITE_IOERR";
  case SQLITE_CORRUPT: return "SQLITE_CORRUPT";
  case SQLITE_FULL: return "SQLITE_FULL";
  case SQLITE_CANTOPEN: return "SQLITE_CANTOPEN";
  case SQLITE_PROTOCOL: return "SQLITE_PROTOCOL";
  case SQLITE_SCHEMA: return "SQLITE_SCHEMA";
  case SQLITE_TOOBIG: return "SQLITE_TOOBIG";
  case SQLITE_CONSTRAINT: return "SQLITE_CONSTRAINT";
  case SQLITE_MISMATCH: return "SQLITE_MISMATCH";
  case SQLITE_MISUSE: return "SQLITE_MISUSE";
  case SQLITE_RANGE: return "SQLITE_RANGE";
  case SQLITE_NOTADB: return "SQLITE_NOTADB";
  default: return "SQLITE_?";
  }
}

/* The in-band message and RPC code of a failed write: the error named, BUSY explained (it
 * can only be another process: this store has one writer). */
static int fail_code(sq_writer *w, int rc, char *msg, size_t msglen) {
  int prim = rc & 0xff;
  if (prim == SQLITE_BUSY) {
    snprintf(msg, msglen,
             "sqlite: database is locked by another process (SQLITE_BUSY after %d ms)",
             w->e->busy_ms);
    return HOP_CODE_UNAVAILABLE;
  }
  snprintf(msg, msglen, "sqlite: %s (%s)", sqlite3_errmsg(w->db), rc_name(rc));
  if (prim == SQLITE_FULL) return HOP_CODE_RESOURCE_EXHAUSTED;
  if (prim == SQLITE_LOCKED) return HOP_CODE_UNAVAILABLE;
  return HOP_CODE_INTERNAL;
}

static int exec_err(sqlite3 *db, const char *sql, const char *what, char *err, size_t errlen) {
  char *m = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &m);
  if (rc != SQLITE_OK) {
    snprintf(err, errlen, "sqlite: %s: %s (%s)", what, m ? m : sqlite3_errstr(rc), rc_name(rc));
    sqlite3_free(m);
    return -1;
  }
  return 0;
}

static int open_conn(const char *path, int busy_ms, const char *vfs, sqlite3 **out, char *err,
                     size_t errlen) {
  sqlite3 *db = NULL;
  int rc = sqlite3_open_v2(path, &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           vfs);
  if (rc != SQLITE_OK) {
    snprintf(err, errlen, "sqlite: cannot open '%s': %s (%s)", path,
             db ? sqlite3_errmsg(db) : sqlite3_errstr(rc), rc_name(rc));
    sqlite3_close(db);
    return rc == SQLITE_NOMEM ? HOP_ENOMEM : HOP_EIO;
  }
  sqlite3_busy_timeout(db, busy_ms);
  *out = db;
  return 0;
}

static void writer_disconnect(sq_writer *w);

static void writer_free(sq_writer *w) {
  if (!w) return;
  writer_disconnect(w);
  free(w);
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, char *err, size_t errlen) {
  int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
  if (rc != SQLITE_OK) {
    snprintf(err, errlen, "sqlite: prepare: %s (%s)", sqlite3_errmsg(db), rc_name(rc));
    return rc;
  }
  return 0;
}

/* The crash test: SIGKILL while the N-th COMMIT is in progress (before SQLite writes it). */
static int commit_hook(void *ud) {
  sq_writer *w = ud;
  if (++w->commits == w->kill_at) kill(getpid(), SIGKILL);
  return 0;
}

/* Opens and configures the writer connection (w->db, begin, commit, sizes). */
static int writer_connect(sq_writer *w, char *err, size_t errlen) {
  sq_eng *e = w->e;
  /* Under FULL/EXTRA the writer's WAL frames go out in one write per COMMIT instead of two
   * per page (store_sqlite_wal.h says why only then). */
  const char *vfs =
      e->gather && e->sync >= 2 && hop_sqlite_walbuf_register() == SQLITE_OK
          ? HOP_SQLITE_WALBUF_VFS
          : NULL;
  int rc = open_conn(e->path, e->busy_ms, vfs, &w->db, err, errlen);
  if (rc != 0) return rc;
  char sql[256];
  sqlite3_stmt *st = NULL;
  /* journal_mode answers with the mode now in force: WAL or nothing. */
  if (sqlite3_prepare_v2(w->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK ||
      sqlite3_step(st) != SQLITE_ROW ||
      sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
    snprintf(err, errlen, "sqlite: cannot switch '%s' to WAL mode: %s", e->path,
             sqlite3_errmsg(w->db));
    sqlite3_finalize(st);
    return HOP_EIO;
  }
  sqlite3_finalize(st);
  /* A 64 MiB page cache keeps the primary-key index hot: inserts land all over it (keys
   * arrive from many runs at once), and with SQLite's 2 MiB default every row cost page
   * reads once the table outgrew the cache. secure_delete OFF (SQLite's default; Debian
   * builds it ON): nothing is ever deleted here, and zeroing the space cells leave when a
   * page is rebalanced cost ~3 % of the writer's instructions per row. temp_store MEMORY:
   * statement journals stay in memory instead of spilling to a temp file past 64 KiB (with
   * several statements per transaction that was ~1.7 writes per row, 11 % of the writer). */
  snprintf(sql, sizeof(sql),
           "PRAGMA synchronous=%d; PRAGMA journal_size_limit=%d; PRAGMA cache_size=-65536;"
           " PRAGMA secure_delete=OFF; PRAGMA temp_store=MEMORY;",
           e->sync, JOURNAL_SIZE_LIMIT);
  if (exec_err(w->db, sql, "pragmas", err, errlen) != 0 ||
      exec_err(w->db, SCHEMA, "creating action_events", err, errlen) != 0 ||
      prepare(w->db, "BEGIN IMMEDIATE", &w->begin, err, errlen) != 0 ||
      prepare(w->db, "COMMIT", &w->commit, err, errlen) != 0)
    return HOP_EIO;
  int lim = sqlite3_limit(w->db, SQLITE_LIMIT_VARIABLE_NUMBER, -1);
  if (lim > 32766) lim = 32766; /* the documented default since 3.32; Debian allows more */
  size_t max = ((size_t)lim - 1) / HOP_STORE_COLS; /* + the timestamp */
  if (max < 1) max = 1;
  w->nsizes = 0;
  w->sizes[w->nsizes++] = max;
  for (size_t i = 0; i < NSIZES - 1; i++)
    if (FIXED_SIZES[i] < max) w->sizes[w->nsizes++] = FIXED_SIZES[i];
  w->kill_at = hop_store_test_kill_at_commit("hook");
  if (w->kill_at) sqlite3_commit_hook(w->db, commit_hook, w);
  return 0;
}

static void writer_disconnect(sq_writer *w) {
  for (size_t i = 0; i < NSIZES; i++) {
    sqlite3_finalize(w->ins[i]);
    w->ins[i] = NULL;
  }
  sqlite3_finalize(w->begin);
  sqlite3_finalize(w->commit);
  w->begin = w->commit = NULL;
  sqlite3_close(w->db);
  w->db = NULL;
}

static int writer_new(sq_eng *e, char *err, size_t errlen) {
  sq_writer *w = calloc(1, sizeof(*w));
  if (!w) return HOP_ENOMEM;
  w->e = e;
  int rc = writer_connect(w, err, errlen);
  if (rc != 0) {
    writer_free(w);
    return rc;
  }
  e->w = w;
  return 0;
}

/* Flyte's column list with the two timestamps first: ?1, bound once per statement, is the
 * transaction's time for both (two CURRENT_TIMESTAMPs per row were formatted per row,
 * ~1,900 instructions), and the plain ?s after it number row i's values 9i+2 .. 9i+10
 * (plain ?s keep preparing linear; ?NNN for each value made it quadratic). */
#define SQ_INSERT_HEAD                                                                   \
  "INSERT INTO action_events (created_at, updated_at, project, domain, run_name, name, " \
  "attempt, phase, version, info, error_kind) VALUES "
#define SQ_TS_PARAM 1
#define SQ_ROW_PARAM(i, col) ((int)((i) * HOP_STORE_COLS) + 1 + (col)) /* col 1..9 */

static sqlite3_stmt *insert_stmt(sq_writer *w, size_t k, char *msg, size_t msglen) {
  if (w->ins[k]) return w->ins[k];
  size_t n = w->sizes[k];
  static const char tuple[] = "(?1,?1,?,?,?,?,?,?,?,?,?)";
  static const char tail[] = " ON CONFLICT DO NOTHING";
  size_t len = sizeof(SQ_INSERT_HEAD) + n * sizeof(tuple) + sizeof(tail);
  char *sql = malloc(len);
  if (!sql) {
    snprintf(msg, msglen, "sqlite: out of memory preparing a %zu-row INSERT", n);
    return NULL;
  }
  char *p = sql;
  memcpy(p, SQ_INSERT_HEAD, sizeof(SQ_INSERT_HEAD) - 1);
  p += sizeof(SQ_INSERT_HEAD) - 1;
  for (size_t i = 0; i < n; i++) {
    if (i) *p++ = ',';
    memcpy(p, tuple, sizeof(tuple) - 1);
    p += sizeof(tuple) - 1;
  }
  memcpy(p, tail, sizeof(tail));
  if (prepare(w->db, sql, &w->ins[k], msg, msglen) != 0) w->ins[k] = NULL;
  free(sql);
  return w->ins[k];
}

static int bind_rows(sqlite3_stmt *st, const hop_ev_row *rows, size_t n) {
  int rc = SQLITE_OK;
  for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
    const hop_ev_row *r = &rows[i];
    rc = sqlite3_bind_text(st, SQ_ROW_PARAM(i, 1), r->project, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, SQ_ROW_PARAM(i, 2), r->domain, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
      rc = sqlite3_bind_text(st, SQ_ROW_PARAM(i, 3), r->run_name, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, SQ_ROW_PARAM(i, 4), r->name, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, SQ_ROW_PARAM(i, 5), r->attempt);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, SQ_ROW_PARAM(i, 6), r->phase);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, SQ_ROW_PARAM(i, 7), r->version);
    if (rc == SQLITE_OK)
      rc = r->info_len
               ? sqlite3_bind_blob64(st, SQ_ROW_PARAM(i, 8), r->info, r->info_len, SQLITE_STATIC)
               : sqlite3_bind_zeroblob(st, SQ_ROW_PARAM(i, 8), 0);
    if (rc == SQLITE_OK)
      rc = r->error_kind
               ? sqlite3_bind_text(st, SQ_ROW_PARAM(i, 9), r->error_kind, -1, SQLITE_STATIC)
               : sqlite3_bind_null(st, SQ_ROW_PARAM(i, 9));
  }
  return rc;
}

/* One chunk: bind, step, count. Returns an SQLite code. */
static int run_chunk(sq_writer *w, sqlite3_stmt *st, const hop_ev_row *rows, size_t n,
                     const char *ts, uint64_t *inserted) {
  int rc = bind_rows(st, rows, n);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(st, SQ_TS_PARAM, ts, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
      *inserted += (uint64_t)sqlite3_changes64(w->db);
      rc = SQLITE_OK;
    }
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st); /* the rows are about to be freed */
  return rc;
}

static int sq_txn(void *wp, hop_store_job *const *jobs, size_t njobs, uint64_t delay_us,
                  char *msg, size_t msglen) {
  sq_writer *w = wp;
  if (w->broken) {
    writer_disconnect(w);
    char err[256];
    int orc = writer_connect(w, err, sizeof(err));
    if (orc != 0) {
      writer_disconnect(w);
      snprintf(msg, msglen, "%s", err);
      return HOP_CODE_UNAVAILABLE;
    }
    w->broken = 0;
  }
  int rc = sqlite3_step(w->begin);
  sqlite3_reset(w->begin);
  if (rc != SQLITE_DONE) goto fail;
  /* CURRENT_TIMESTAMP's format, once per transaction (PostgreSQL's now() is the
   * transaction's start too). */
  char ts[32];
  time_t now = time(NULL);
  struct tm tm;
  if (!gmtime_r(&now, &tm) || strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm) == 0)
    snprintf(ts, sizeof(ts), "1970-01-01 00:00:00");
  for (size_t j = 0; j < njobs; j++) {
    const hop_ev_row *rows = jobs[j]->rows;
    size_t left = jobs[j]->n;
    for (size_t k = 0; k < w->nsizes && left; k++) {
      while (left >= w->sizes[k]) {
        sqlite3_stmt *st = insert_stmt(w, k, msg, msglen);
        if (!st) {
          sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
          if (!sqlite3_get_autocommit(w->db)) w->broken = 1;
          return HOP_CODE_INTERNAL;
        }
        rc = run_chunk(w, st, rows, w->sizes[k], ts, &jobs[j]->inserted);
        if (rc != SQLITE_OK) goto fail;
        rows += w->sizes[k];
        left -= w->sizes[k];
      }
    }
  }
  if (delay_us) hop_store_sleep_us(delay_us);
  rc = sqlite3_step(w->commit);
  sqlite3_reset(w->commit);
  if (rc != SQLITE_DONE) goto fail;
  w->dirty = 1;
  return 0;

fail:;
  /* FULL / IOERR / BUSY / NOMEM may have rolled the transaction back already or only the
   * statement (lang_transaction.html §3): name the cause first, then ROLLBACK anyway (a
   * no-op error when autocommit is back on). */
  int code = fail_code(w, rc, msg, msglen);
  sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
  /* Still inside a transaction after ROLLBACK (it failed too, e.g. on an I/O error): the
   * connection is not trusted again; the next transaction reopens it. */
  if (!sqlite3_get_autocommit(w->db)) w->broken = 1;
  return code;
}

/* Idle: fold the WAL into the database and truncate it. Never waits for a lock: another
 * process holding one just means "later". */
static void sq_idle(void *wp) {
  sq_writer *w = wp;
  if (!w->dirty || !w->db) return;
  sqlite3_busy_timeout(w->db, 0);
  int rc = sqlite3_wal_checkpoint_v2(w->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
  sqlite3_busy_timeout(w->db, w->e->busy_ms);
  if (rc == SQLITE_OK) w->dirty = 0;
}

static unsigned sq_writers(void *eng) { return 1; }

static int sq_writer_open(void *eng, unsigned idx, void **w, char *err, size_t errlen) {
  sq_eng *e = eng;
  *w = e->w;
  return 0;
}

static void sq_writer_close(void *wp) {
  sq_writer *w = wp;
  if (!w) return;
  w->e->w = NULL;
  writer_free(w);
}

static void sq_close(void *eng) {
  sq_eng *e = eng;
  writer_free(e->w); /* only when the writer thread never took it */
  sqlite3_finalize(e->list_all);
  sqlite3_finalize(e->list_all_after);
  sqlite3_finalize(e->list_run);
  sqlite3_finalize(e->list_run_after);
  sqlite3_finalize(e->count);
  sqlite3_close(e->rd);
  free(e->path);
  free(e);
}

static int sq_open(hop_store *s, const hop_store_config *cfg, const char *target, void **out,
                   char *err, size_t errlen) {
  sq_eng *e = calloc(1, sizeof(*e));
  if (!e) return HOP_ENOMEM;
  e->s = s;
  e->busy_ms = cfg->busy_timeout_ms > INT_MAX ? INT_MAX : (int)cfg->busy_timeout_ms;
  e->path = strdup(target);
  if (!e->path) {
    free(e);
    return HOP_ENOMEM;
  }
  e->sync = cfg->sqlite_synchronous;
  e->gather = cfg->sqlite_gather_wal;
  hop_sqlite_pcache_install(); /* first: only before SQLite initialises; harmless after */
  int rc = writer_new(e, err, errlen);
  if (rc == 0) rc = open_conn(e->path, e->busy_ms, NULL, &e->rd, err, errlen);
  if (rc == 0) {
#define SEL "SELECT " HOP_STORE_LIST_COLS " FROM action_events "
#define ORD " ORDER BY " HOP_STORE_ORDER " LIMIT ?"
    if (exec_err(e->rd, "PRAGMA query_only=1", "reader", err, errlen) != 0 ||
        prepare(e->rd, "SELECT count(*) FROM action_events", &e->count, err, errlen) ||
        prepare(e->rd, SEL ORD, &e->list_all, err, errlen) ||
        prepare(e->rd,
                SEL "WHERE (project, domain, run_name, name, attempt, phase, version) > "
                    "(?,?,?,?,?,?,?)" ORD,
                &e->list_all_after, err, errlen) ||
        prepare(e->rd, SEL "WHERE project = ? AND domain = ? AND run_name = ?" ORD,
                &e->list_run, err, errlen) ||
        prepare(e->rd,
                SEL "WHERE project = ? AND domain = ? AND run_name = ? AND "
                    "(name, attempt, phase, version) > (?,?,?,?)" ORD,
                &e->list_run_after, err, errlen))
      rc = HOP_EIO;
#undef SEL
#undef ORD
  }
  if (rc != 0) {
    sq_close(e);
    return rc;
  }
  *out = e;
  return 0;
}

/* The key of the last row of a page, copied: the next page starts after it. */
typedef struct list_key {
  char *buf;
  size_t cap;
  size_t off[4];
  int64_t num[3];
} list_key;

static int key_save(list_key *k, const hop_ev_row *r) {
  const char *s[4] = {r->project, r->domain, r->run_name, r->name};
  size_t need = 0;
  for (int i = 0; i < 4; i++) need += strlen(s[i]) + 1;
  if (need > k->cap) {
    char *b = realloc(k->buf, need);
    if (!b) return -1;
    k->buf = b;
    k->cap = need;
  }
  size_t at = 0;
  for (int i = 0; i < 4; i++) {
    size_t l = strlen(s[i]) + 1;
    memcpy(k->buf + at, s[i], l);
    k->off[i] = at;
    at += l;
  }
  k->num[0] = r->attempt;
  k->num[1] = r->phase;
  k->num[2] = r->version;
  return 0;
}

static const char *col_text(sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);
  return t ? (const char *)t : "";
}

static int sq_list(void *eng, const char *project, const char *domain, const char *run,
                   hop_store_row_fn fn, void *ud, char *err, size_t errlen) {
  sq_eng *e = eng;
  /* The page's cursor is bound SQLITE_TRANSIENT (copied): key_save overwrites |key| while
   * the statement still runs. */
  list_key key = {0};
  int have_key = 0, rc = 0, stop = 0;
  while (!stop) {
    sqlite3_stmt *st;
    int b = 1;
    if (project) {
      st = have_key ? e->list_run_after : e->list_run;
      sqlite3_bind_text(st, b++, project, -1, SQLITE_STATIC);
      sqlite3_bind_text(st, b++, domain, -1, SQLITE_STATIC);
      sqlite3_bind_text(st, b++, run, -1, SQLITE_STATIC);
      if (have_key) sqlite3_bind_text(st, b++, key.buf + key.off[3], -1, SQLITE_TRANSIENT);
    } else {
      st = have_key ? e->list_all_after : e->list_all;
      if (have_key)
        for (int i = 0; i < 4; i++)
          sqlite3_bind_text(st, b++, key.buf + key.off[i], -1, SQLITE_TRANSIENT);
    }
    if (have_key)
      for (int i = 0; i < 3; i++) sqlite3_bind_int64(st, b++, key.num[i]);
    sqlite3_bind_int(st, b, HOP_STORE_LIST_PAGE);
    size_t got = 0;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
      hop_ev_row r;
      r.project = col_text(st, 0);
      r.domain = col_text(st, 1);
      r.run_name = col_text(st, 2);
      r.name = col_text(st, 3);
      r.attempt = (uint32_t)sqlite3_column_int64(st, 4);
      r.phase = (int32_t)sqlite3_column_int64(st, 5);
      r.version = (uint32_t)sqlite3_column_int64(st, 6);
      r.info = sqlite3_column_blob(st, 7);
      r.info_len = (size_t)sqlite3_column_bytes(st, 7);
      r.error_kind = (const char *)sqlite3_column_text(st, 8);
      got++;
      if (fn(ud, &r) != 0) {
        stop = 1;
        break;
      }
      if (key_save(&key, &r) != 0) {
        snprintf(err, errlen, "list: out of memory");
        rc = HOP_ENOMEM;
        stop = 1;
        break;
      }
      have_key = 1;
    }
    if (!stop && src != SQLITE_DONE) {
      snprintf(err, errlen, "sqlite: list: %s (%s)", sqlite3_errmsg(e->rd), rc_name(src));
      rc = HOP_EIO;
      stop = 1;
    }
    sqlite3_reset(st); /* ends this page's read transaction */
    sqlite3_clear_bindings(st);
    if (got < HOP_STORE_LIST_PAGE) break;
  }
  free(key.buf);
  return rc;
}

static int sq_count(void *eng, uint64_t *rows, char *err, size_t errlen) {
  sq_eng *e = eng;
  int rc = sqlite3_step(e->count);
  int ret = 0;
  if (rc == SQLITE_ROW) {
    *rows = (uint64_t)sqlite3_column_int64(e->count, 0);
  } else {
    snprintf(err, errlen, "sqlite: count: %s (%s)", sqlite3_errmsg(e->rd), rc_name(rc));
    ret = HOP_EIO;
  }
  sqlite3_reset(e->count);
  return ret;
}

const hop_store_ops hop_store_engine_sqlite = {
    .name = "sqlite",
    .open = sq_open,
    .writers = sq_writers,
    .writer_open = sq_writer_open,
    .txn = sq_txn,
    .idle = sq_idle,
    .writer_close = sq_writer_close,
    .list = sq_list,
    .count = sq_count,
    .close = sq_close,
};
