/* The PostgreSQL engine (libpq): |writers| connections, each owned by its writer thread
 * (blocking PGconn), pulling from the store's shared queue, plus one reader connection for
 * list / count. Binary parameters into statements prepared once per chunk size per
 * connection; pg_notify inside the transaction; reconnect with jittered backoff.
 * See store.h and store_engine.h. */
#include <arpa/inet.h>
#include <ctype.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/store_engine.h"
#include "hopwire/error.h"
#include "hopwire/rpc.h"

/* Flyte's action_events, verbatim types. The advisory lock serialises two stores creating
 * it at once (CREATE ... IF NOT EXISTS can race on the catalog). */
static const char SCHEMA[] =
    "BEGIN;"
    "SELECT pg_advisory_xact_lock(7526411283432436587);"
    "CREATE TABLE IF NOT EXISTS action_events ("
    " project TEXT NOT NULL, domain TEXT NOT NULL, run_name TEXT NOT NULL, name TEXT NOT NULL,"
    " attempt INTEGER NOT NULL, phase INTEGER NOT NULL, version INTEGER NOT NULL,"
    " info BYTEA, error_kind TEXT,"
    " created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,"
    " updated_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,"
    " PRIMARY KEY (project, domain, run_name, name, attempt, phase, version));"
    "CREATE INDEX IF NOT EXISTS idx_action_events_error_kind ON action_events (error_kind);"
    "COMMIT;";

#define OID_BYTEA 17
#define OID_INT4 23
#define OID_TEXT 25
/* Every statement is bounded server-side (a COMMIT waiting on a stuck disk included). */
#define STATEMENT_TIMEOUT_MS 30000
/* pg_notify payloads must be shorter than this (longer ones are skipped: a notification is
 * a hint, watchers re-read the table). */
#define NOTIFY_MAX 8000
#define BACKOFF_MIN_US 50000
#define BACKOFF_MAX_US 2000000

#define NSIZES 14
/* 65535 / 9 = 7281 rows per statement (the Bind message counts parameters in an Int16),
 * then the powers of two below it; a batch is split greedily (262 = 256 + 4 + 2: three
 * round trips, where 400/64/8/1 took ten), each size prepared on first use. */
static const size_t SIZES[NSIZES] = {PQ_QUERY_PARAM_MAX_LIMIT / HOP_STORE_COLS,
                                     4096, 2048, 1024, 512, 256, 128, 64, 32, 16, 8, 4, 2, 1};
#define MAX_CHUNK (PQ_QUERY_PARAM_MAX_LIMIT / HOP_STORE_COLS)

typedef struct pg_eng pg_eng;

typedef struct pg_writer {
  pg_eng *e;
  unsigned idx;
  PGconn *c;
  int prepared[NSIZES];
  int notify_prepared;
  int ever_connected;
  unsigned seed; /* jitter */
  /* Parameter arrays for the largest chunk, filled per statement. */
  const char **vals;
  int *lens;
  int *fmts;
  Oid *types;
  uint32_t *ints;
  /* Distinct notify payloads of a transaction. */
  const hop_ev_row **sorted;
  size_t sorted_cap;
  char *arr;
  size_t arr_cap;
} pg_writer;

struct pg_eng {
  hop_store *s;
  char *url;
  unsigned nwriters;
  int notify;
  uint64_t connect_timeout_ms;
  PGconn *rd;
  /* The backoff is shared by the writers: while the server is down one connect attempt per
   * interval (not one per writer), and the first writer that gets through lets the others
   * reconnect at once. */
  pthread_mutex_t mu;
  unsigned fails;       /* consecutive failed connects */
  uint64_t next_try_us; /* no connect attempt before this */
  char down_msg[256];   /* why the last connect failed */
};

static void quiet_notices(void *arg, const char *message) { (void)arg, (void)message; }

/* The first line of a libpq message, without "ERROR:  " / "FATAL:  ". */
static void one_line(char *dst, size_t dstlen, const char *src) {
  if (!src) src = "";
  if (!strncmp(src, "ERROR:  ", 8) || !strncmp(src, "FATAL:  ", 8)) src += 8;
  size_t n = strcspn(src, "\n");
  while (n && isspace((unsigned char)src[n - 1])) n--;
  if (!n) {
    src = "no message from libpq";
    n = strlen(src);
  }
  snprintf(dst, dstlen, "%.*s", (int)n, src);
}

static PGconn *connect_db(pg_eng *e, const char *app, char *err, size_t errlen) {
  char timeout[32];
  uint64_t secs = (e->connect_timeout_ms + 999) / 1000;
  snprintf(timeout, sizeof(timeout), "%llu", (unsigned long long)(secs < 2 ? 2 : secs));
  /* Our defaults first, the URL last: "the last processed value is retained", so the URL
   * can override any of them. */
  const char *keys[] = {"connect_timeout", "fallback_application_name", "keepalives",
                        "keepalives_idle", "keepalives_interval", "keepalives_count",
                        "tcp_user_timeout", "dbname", NULL};
  const char *vals[] = {timeout, app, "1", "10", "5", "3", "30000", e->url, NULL};
  PGconn *c = PQconnectdbParams(keys, vals, 1);
  if (!c) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  if (PQstatus(c) != CONNECTION_OK) {
    one_line(err, errlen, PQerrorMessage(c));
    PQfinish(c);
    return NULL;
  }
  PQsetNoticeProcessor(c, quiet_notices, NULL);
  char set[64];
  snprintf(set, sizeof(set), "SET statement_timeout = %d", STATEMENT_TIMEOUT_MS);
  PGresult *r = PQexec(c, set);
  int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  if (!ok) one_line(err, errlen, PQresultErrorMessage(r));
  PQclear(r);
  if (!ok) {
    PQfinish(c);
    return NULL;
  }
  return c;
}

/* An idle connection whose server went away (restart, pg_terminate_backend) has an EOF or a
 * FATAL message waiting: notice it before starting a transaction on it. */
static int conn_alive(PGconn *c) {
  if (!c || PQstatus(c) != CONNECTION_OK) return 0;
  struct pollfd p = {PQsocket(c), POLLIN, 0};
  if (p.fd < 0) return 0;
  if (poll(&p, 1, 0) > 0) {
    if (!PQconsumeInput(c) || PQstatus(c) != CONNECTION_OK) return 0;
    PGnotify *n;
    while ((n = PQnotifies(c)) != NULL) PQfreemem(n);
  }
  return 1;
}

static int sqlstate_is_conn(const char *st) {
  return st && (!strncmp(st, "08", 2) || !strcmp(st, "57P01") || !strcmp(st, "57P02") ||
                !strcmp(st, "57P03"));
}

static void drop_conn(pg_writer *w) {
  if (w->c) PQfinish(w->c);
  w->c = NULL;
  memset(w->prepared, 0, sizeof(w->prepared));
  w->notify_prepared = 0;
}

/* A usable connection, or code 14 with the cause while the database is down. */
static int ensure_conn(pg_writer *w, char *msg, size_t msglen) {
  if (conn_alive(w->c)) return 0;
  drop_conn(w);
  pg_eng *e = w->e;
  pthread_mutex_lock(&e->mu);
  uint64_t now = hop_store_now_us();
  if (now < e->next_try_us) {
    snprintf(msg, msglen, "postgres: database unavailable, reconnecting: %s", e->down_msg);
    pthread_mutex_unlock(&e->mu);
    return HOP_CODE_UNAVAILABLE;
  }
  pthread_mutex_unlock(&e->mu);
  char err[256];
  w->c = connect_db(e, "hopwire-store-writer", err, sizeof(err));
  pthread_mutex_lock(&e->mu);
  if (!w->c) {
    snprintf(e->down_msg, sizeof(e->down_msg), "%s", err);
    e->fails++;
    uint64_t d = BACKOFF_MIN_US;
    for (unsigned i = 1; i < e->fails && d < BACKOFF_MAX_US; i++) d *= 2;
    if (d > BACKOFF_MAX_US) d = BACKOFF_MAX_US;
    /* Jitter in [d/2, d]: many stores do not reconnect in step. */
    d = d / 2 + (uint64_t)rand_r(&w->seed) % (d / 2 + 1);
    e->next_try_us = hop_store_now_us() + d;
    pthread_mutex_unlock(&e->mu);
    snprintf(msg, msglen, "postgres: cannot connect to the database: %s", err);
    return HOP_CODE_UNAVAILABLE;
  }
  e->fails = 0;
  e->next_try_us = 0;
  pthread_mutex_unlock(&e->mu);
  if (w->ever_connected) hop_store_note_reconnect(w->e->s);
  w->ever_connected = 1;
  return 0;
}

/* Classifies a failed statement. Returns the RPC code; sets *lost when the connection is
 * gone (it is dropped then). */
static int pg_fail(pg_writer *w, PGresult *r, const char *what, int *lost, char *msg,
                   size_t msglen) {
  const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  char line[384];
  const char *prim = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  if (prim)
    snprintf(line, sizeof(line), "%s", prim);
  else
    one_line(line, sizeof(line), r ? PQresultErrorMessage(r) : PQerrorMessage(w->c));
  if (!strcmp(line, "no message from libpq") && w->c) one_line(line, sizeof(line), PQerrorMessage(w->c));
  *lost = PQstatus(w->c) != CONNECTION_OK || sqlstate_is_conn(st);
  if (*lost) {
    snprintf(msg, msglen, "postgres: connection lost during %s%s: %s%s%s%s", what,
             !strcmp(what, "COMMIT") ? " (outcome unknown; a retry is idempotent)" : "", line,
             st ? " (SQLSTATE " : "", st ? st : "", st ? ")" : "");
    drop_conn(w);
    return HOP_CODE_UNAVAILABLE;
  }
  snprintf(msg, msglen, "postgres: %s: %s%s%s%s", what, line, st ? " (SQLSTATE " : "",
           st ? st : "", st ? ")" : "");
  PGresult *rb = PQexec(w->c, "ROLLBACK");
  PQclear(rb);
  if (st && !strncmp(st, "53", 2)) return HOP_CODE_RESOURCE_EXHAUSTED;
  if (st && (!strcmp(st, "40001") || !strcmp(st, "40P01") || !strcmp(st, "57014")))
    return HOP_CODE_UNAVAILABLE; /* serialization, deadlock, statement_timeout: retry */
  return HOP_CODE_INTERNAL;
}

static int exec_ok(PGresult *r, ExecStatusType want) { return r && PQresultStatus(r) == want; }

static int prepare_insert(pg_writer *w, size_t k, char *msg, size_t msglen, int *lost) {
  size_t n = SIZES[k];
  /* "($1,$2,...,$9,CURRENT_TIMESTAMP,CURRENT_TIMESTAMP)": at most 9 * 7 + 40 bytes a row. */
  size_t cap = sizeof(HOP_STORE_INSERT_HEAD) + n * 112 + 32;
  char *sql = malloc(cap);
  if (!sql) {
    snprintf(msg, msglen, "postgres: out of memory preparing a %zu-row INSERT", n);
    return HOP_CODE_INTERNAL;
  }
  size_t len = (size_t)snprintf(sql, cap, "%s", HOP_STORE_INSERT_HEAD);
  for (size_t i = 0; i < n; i++) {
    size_t b = i * HOP_STORE_COLS;
    len += (size_t)snprintf(sql + len, cap - len,
                            "%s($%zu,$%zu,$%zu,$%zu,$%zu,$%zu,$%zu,$%zu,$%zu,"
                            "CURRENT_TIMESTAMP,CURRENT_TIMESTAMP)",
                            i ? "," : "", b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7,
                            b + 8, b + 9);
  }
  snprintf(sql + len, cap - len, " ON CONFLICT DO NOTHING");
  char name[32];
  snprintf(name, sizeof(name), "hop_ins_%zu", n);
  PGresult *r = PQprepare(w->c, name, sql, (int)(n * HOP_STORE_COLS), w->types);
  free(sql);
  int code = 0;
  if (!exec_ok(r, PGRES_COMMAND_OK))
    code = pg_fail(w, r, "PREPARE", lost, msg, msglen);
  else
    w->prepared[k] = 1;
  PQclear(r);
  return code;
}

static int insert_chunk(pg_writer *w, size_t k, const hop_ev_row *rows, uint64_t *inserted,
                        char *msg, size_t msglen, int *lost) {
  if (!w->prepared[k]) {
    int code = prepare_insert(w, k, msg, msglen, lost);
    if (code) return code;
  }
  size_t n = SIZES[k];
  static const char empty[1] = "";
  for (size_t i = 0; i < n; i++) {
    const hop_ev_row *r = &rows[i];
    const char **v = &w->vals[i * HOP_STORE_COLS];
    int *l = &w->lens[i * HOP_STORE_COLS];
    uint32_t *in = &w->ints[i * 3];
    in[0] = htonl(r->attempt);
    in[1] = htonl((uint32_t)r->phase);
    in[2] = htonl(r->version);
    v[0] = r->project, l[0] = (int)strlen(r->project);
    v[1] = r->domain, l[1] = (int)strlen(r->domain);
    v[2] = r->run_name, l[2] = (int)strlen(r->run_name);
    v[3] = r->name, l[3] = (int)strlen(r->name);
    v[4] = (const char *)&in[0], l[4] = 4;
    v[5] = (const char *)&in[1], l[5] = 4;
    v[6] = (const char *)&in[2], l[6] = 4;
    v[7] = r->info_len ? (const char *)r->info : empty, l[7] = (int)r->info_len;
    v[8] = r->error_kind, l[8] = r->error_kind ? (int)strlen(r->error_kind) : 0;
  }
  char name[32];
  snprintf(name, sizeof(name), "hop_ins_%zu", n);
  PGresult *r = PQexecPrepared(w->c, name, (int)(n * HOP_STORE_COLS), w->vals, w->lens,
                               w->fmts, 0);
  int code = 0;
  if (!exec_ok(r, PGRES_COMMAND_OK))
    code = pg_fail(w, r, "INSERT", lost, msg, msglen);
  else
    *inserted += strtoull(PQcmdTuples(r), NULL, 10);
  PQclear(r);
  return code;
}

static int cmp_action(const void *a, const void *b) {
  const hop_ev_row *x = *(const hop_ev_row *const *)a, *y = *(const hop_ev_row *const *)b;
  int c = strcmp(x->project, y->project);
  if (!c) c = strcmp(x->domain, y->domain);
  if (!c) c = strcmp(x->run_name, y->run_name);
  if (!c) c = strcmp(x->name, y->name);
  return c;
}

static int arr_put(pg_writer *w, size_t *len, const char *s, int escape) {
  for (; *s; s++) {
    if (*len + 3 > w->arr_cap) {
      size_t cap = w->arr_cap ? w->arr_cap * 2 : 4096;
      char *a = realloc(w->arr, cap);
      if (!a) return -1;
      w->arr = a;
      w->arr_cap = cap;
    }
    if (escape && (*s == '"' || *s == '\\')) w->arr[(*len)++] = '\\';
    w->arr[(*len)++] = *s;
  }
  w->arr[*len] = '\0';
  return 0;
}

/* SELECT pg_notify('action_updates', x) FROM unnest($1::text[]): one call per distinct
 * project/domain/run/action of the transaction, delivered by the server at COMMIT. */
static int notify_actions(pg_writer *w, hop_store_job *const *jobs, size_t njobs, char *msg,
                          size_t msglen, int *lost) {
  size_t total = 0;
  for (size_t j = 0; j < njobs; j++) total += jobs[j]->n;
  if (total > w->sorted_cap) {
    const hop_ev_row **p = realloc(w->sorted, total * sizeof(*p));
    if (!p) goto nomem;
    w->sorted = p;
    w->sorted_cap = total;
  }
  size_t n = 0;
  for (size_t j = 0; j < njobs; j++)
    for (size_t i = 0; i < jobs[j]->n; i++) w->sorted[n++] = &jobs[j]->rows[i];
  qsort(w->sorted, n, sizeof(*w->sorted), cmp_action);
  size_t len = 0, items = 0;
  if (arr_put(w, &len, "{", 0)) goto nomem;
  for (size_t i = 0; i < n; i++) {
    const hop_ev_row *r = w->sorted[i];
    if (i && !cmp_action(&w->sorted[i - 1], &w->sorted[i])) continue;
    size_t plen = strlen(r->project) + strlen(r->domain) + strlen(r->run_name) +
                  strlen(r->name) + 3;
    if (plen >= NOTIFY_MAX) continue;
    if (arr_put(w, &len, items ? ",\"" : "\"", 0) || arr_put(w, &len, r->project, 1) ||
        arr_put(w, &len, "/", 0) || arr_put(w, &len, r->domain, 1) ||
        arr_put(w, &len, "/", 0) || arr_put(w, &len, r->run_name, 1) ||
        arr_put(w, &len, "/", 0) || arr_put(w, &len, r->name, 1) ||
        arr_put(w, &len, "\"", 0))
      goto nomem;
    items++;
  }
  if (arr_put(w, &len, "}", 0)) goto nomem;
  if (!items) return 0;
  if (!w->notify_prepared) {
    PGresult *r = PQprepare(w->c, "hop_notify",
                            "SELECT pg_notify('action_updates', x) FROM unnest($1::text[]) x",
                            1, NULL);
    int code = exec_ok(r, PGRES_COMMAND_OK) ? 0 : pg_fail(w, r, "PREPARE notify", lost, msg, msglen);
    PQclear(r);
    if (code) return code;
    w->notify_prepared = 1;
  }
  const char *vals[1] = {w->arr};
  PGresult *r = PQexecPrepared(w->c, "hop_notify", 1, vals, NULL, NULL, 0);
  int code = exec_ok(r, PGRES_TUPLES_OK) ? 0 : pg_fail(w, r, "pg_notify", lost, msg, msglen);
  PQclear(r);
  return code;
nomem:
  snprintf(msg, msglen, "postgres: out of memory building notifications");
  PGresult *rb = PQexec(w->c, "ROLLBACK");
  PQclear(rb);
  return HOP_CODE_INTERNAL;
}

/* One attempt. *sent_commit tells whether COMMIT went out (outcome unknown if lost). */
static int txn_once(pg_writer *w, hop_store_job *const *jobs, size_t njobs, uint64_t delay_us,
                    char *msg, size_t msglen, int *lost, int *sent_commit) {
  int code = ensure_conn(w, msg, msglen);
  if (code) return code;
  for (size_t j = 0; j < njobs; j++) jobs[j]->inserted = 0;
  PGresult *r = PQexec(w->c, "BEGIN");
  code = exec_ok(r, PGRES_COMMAND_OK) ? 0 : pg_fail(w, r, "BEGIN", lost, msg, msglen);
  PQclear(r);
  if (code) return code;
  for (size_t j = 0; j < njobs; j++) {
    const hop_ev_row *rows = jobs[j]->rows;
    size_t left = jobs[j]->n;
    for (size_t k = 0; k < NSIZES && left; k++) {
      while (left >= SIZES[k]) {
        code = insert_chunk(w, k, rows, &jobs[j]->inserted, msg, msglen, lost);
        if (code) return code;
        rows += SIZES[k];
        left -= SIZES[k];
      }
    }
  }
  if (w->e->notify) {
    code = notify_actions(w, jobs, njobs, msg, msglen, lost);
    if (code) return code;
  }
  if (delay_us) hop_store_sleep_us(delay_us);
  *sent_commit = 1;
  r = PQexec(w->c, "COMMIT");
  /* COMMIT of an aborted transaction answers ROLLBACK with COMMAND_OK: check the tag. */
  if (exec_ok(r, PGRES_COMMAND_OK) && !strcmp(PQcmdStatus(r), "COMMIT")) {
    code = 0;
  } else if (exec_ok(r, PGRES_COMMAND_OK)) {
    snprintf(msg, msglen, "postgres: COMMIT rolled back: %s", PQcmdStatus(r));
    code = HOP_CODE_INTERNAL;
  } else {
    code = pg_fail(w, r, "COMMIT", lost, msg, msglen);
  }
  PQclear(r);
  return code;
}

static int pg_txn(void *wp, hop_store_job *const *jobs, size_t njobs, uint64_t delay_us,
                  char *msg, size_t msglen) {
  pg_writer *w = wp;
  int lost = 0, sent_commit = 0;
  int code = txn_once(w, jobs, njobs, delay_us, msg, msglen, &lost, &sent_commit);
  /* Lost before COMMIT went out: nothing was committed, so one more try on a fresh
   * connection is safe (the server may be back already, e.g. after a restart). */
  if (code && lost && !sent_commit) {
    char msg2[512];
    lost = 0;
    int code2 = txn_once(w, jobs, njobs, delay_us, msg2, sizeof(msg2), &lost, &sent_commit);
    if (!code2) return 0;
    if (lost || code2 != HOP_CODE_UNAVAILABLE) snprintf(msg, msglen, "%s", msg2);
  }
  return code;
}

static unsigned pg_writers(void *eng) { return ((pg_eng *)eng)->nwriters; }

static void writer_free(pg_writer *w) {
  if (!w) return;
  drop_conn(w);
  free(w->vals);
  free(w->lens);
  free(w->fmts);
  free(w->types);
  free(w->ints);
  free(w->sorted);
  free(w->arr);
  free(w);
}

static int pg_writer_open(void *eng, unsigned idx, void **out, char *err, size_t errlen) {
  pg_eng *e = eng;
  pg_writer *w = calloc(1, sizeof(*w));
  if (!w) return HOP_ENOMEM;
  w->e = e;
  w->idx = idx;
  w->seed = (unsigned)hop_store_now_us() ^ (idx * 2654435761u);
  size_t np = (size_t)MAX_CHUNK * HOP_STORE_COLS;
  w->vals = malloc(np * sizeof(*w->vals));
  w->lens = malloc(np * sizeof(*w->lens));
  w->fmts = malloc(np * sizeof(*w->fmts));
  w->types = malloc(np * sizeof(*w->types));
  w->ints = malloc((size_t)MAX_CHUNK * 3 * sizeof(*w->ints));
  if (!w->vals || !w->lens || !w->fmts || !w->types || !w->ints) {
    writer_free(w);
    snprintf(err, errlen, "postgres: out of memory");
    return HOP_ENOMEM;
  }
  static const Oid row_types[HOP_STORE_COLS] = {OID_TEXT, OID_TEXT, OID_TEXT, OID_TEXT, OID_INT4,
                                                OID_INT4, OID_INT4, OID_BYTEA, OID_TEXT};
  for (size_t i = 0; i < np; i++) {
    w->fmts[i] = 1; /* binary: raw text bytes, int4 in network order, raw bytea */
    w->types[i] = row_types[i % HOP_STORE_COLS];
  }
  /* Connect now so the first batch does not pay for it; a failure here is only the first
   * backoff step (the reader connected a moment ago). */
  char msg[256];
  ensure_conn(w, msg, sizeof(msg));
  *out = w;
  return 0;
}

static void pg_writer_close(void *wp) { writer_free(wp); }

static void pg_close(void *eng) {
  pg_eng *e = eng;
  if (e->rd) PQfinish(e->rd);
  pthread_mutex_destroy(&e->mu);
  free(e->url);
  free(e);
}

static int pg_open(hop_store *s, const hop_store_config *cfg, const char *target, void **out,
                   char *err, size_t errlen) {
  pg_eng *e = calloc(1, sizeof(*e));
  if (!e) return HOP_ENOMEM;
  e->s = s;
  pthread_mutex_init(&e->mu, NULL);
  e->nwriters = cfg->writers ? cfg->writers : 4;
  e->notify = cfg->notify;
  e->connect_timeout_ms = cfg->connect_timeout_ms;
  e->url = strdup(target);
  if (!e->url) {
    pg_close(e);
    return HOP_ENOMEM;
  }
  char why[256];
  e->rd = connect_db(e, "hopwire-store-reader", why, sizeof(why));
  if (!e->rd) {
    snprintf(err, errlen, "postgres: cannot connect to the database: %s", why);
    pg_close(e);
    return HOP_ECONNECT;
  }
  PGresult *r = PQexec(e->rd, SCHEMA);
  if (!exec_ok(r, PGRES_COMMAND_OK)) {
    one_line(why, sizeof(why), PQresultErrorMessage(r));
    snprintf(err, errlen, "postgres: creating action_events: %s", why);
    PQclear(r);
    pg_close(e);
    return HOP_EIO;
  }
  PQclear(r);
  *out = e;
  return 0;
}

/* The reader runs one statement; after a lost connection it reconnects once and retries
 * (reads are harmless to repeat). */
static PGresult *read_exec(pg_eng *e, const char *sql, int n, const char *const *vals,
                           char *err, size_t errlen) {
  for (int attempt = 0; attempt < 2; attempt++) {
    if (!conn_alive(e->rd)) {
      if (e->rd) PQfinish(e->rd);
      char why[256];
      e->rd = connect_db(e, "hopwire-store-reader", why, sizeof(why));
      if (!e->rd) {
        snprintf(err, errlen, "postgres: cannot connect to the database: %s", why);
        return NULL;
      }
    }
    PGresult *r = PQexecParams(e->rd, sql, n, NULL, vals, NULL, NULL, 1);
    if (exec_ok(r, PGRES_TUPLES_OK)) return r;
    char why[384];
    one_line(why, sizeof(why), r ? PQresultErrorMessage(r) : PQerrorMessage(e->rd));
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    int lost = PQstatus(e->rd) != CONNECTION_OK || sqlstate_is_conn(st);
    snprintf(err, errlen, "postgres: %s", why);
    PQclear(r);
    if (!lost) return NULL;
    PQfinish(e->rd);
    e->rd = NULL;
  }
  return NULL;
}

static uint32_t get_u32(const PGresult *r, int row, int col) {
  uint32_t v = 0;
  if (PQgetlength(r, row, col) == 4) memcpy(&v, PQgetvalue(r, row, col), 4);
  return ntohl(v);
}

static int pg_list(void *eng, const char *project, const char *domain, const char *run,
                   hop_store_row_fn fn, void *ud, char *err, size_t errlen) {
  pg_eng *e = eng;
  _Static_assert(HOP_STORE_LIST_PAGE == 1000, "the queries below say LIMIT 1000");
#define SEL "SELECT " HOP_STORE_LIST_COLS " FROM action_events "
#define ORD " ORDER BY " HOP_STORE_ORDER " LIMIT 1000"
  static const char q_all[] = SEL ORD;
  static const char q_all_after[] =
      SEL "WHERE (project, domain, run_name, name, attempt, phase, version) > "
          "($1, $2, $3, $4, $5::int4, $6::int4, $7::int4)" ORD;
  static const char q_run[] = SEL "WHERE project = $1 AND domain = $2 AND run_name = $3" ORD;
  static const char q_run_after[] =
      SEL "WHERE project = $1 AND domain = $2 AND run_name = $3 AND "
          "(name, attempt, phase, version) > ($4, $5::int4, $6::int4, $7::int4)" ORD;
#undef SEL
#undef ORD
  char *key[4] = {NULL, NULL, NULL, NULL};
  char num[3][16];
  int have_key = 0, rc = 0, stop = 0;
  while (!stop) {
    const char *vals[7];
    int n = 0;
    const char *sql;
    if (project) {
      vals[n++] = project, vals[n++] = domain, vals[n++] = run;
      if (have_key) vals[n++] = key[3];
      sql = have_key ? q_run_after : q_run;
    } else {
      if (have_key)
        for (int i = 0; i < 4; i++) vals[n++] = key[i];
      sql = have_key ? q_all_after : q_all;
    }
    if (have_key)
      for (int i = 0; i < 3; i++) vals[n++] = num[i];
    PGresult *r = read_exec(e, sql, n, vals, err, errlen);
    if (!r) {
      rc = HOP_EIO;
      break;
    }
    int rows = PQntuples(r);
    for (int i = 0; i < rows && !stop; i++) {
      hop_ev_row row;
      row.project = PQgetvalue(r, i, 0);
      row.domain = PQgetvalue(r, i, 1);
      row.run_name = PQgetvalue(r, i, 2);
      row.name = PQgetvalue(r, i, 3);
      row.attempt = get_u32(r, i, 4);
      row.phase = (int32_t)get_u32(r, i, 5);
      row.version = get_u32(r, i, 6);
      row.info = PQgetisnull(r, i, 7) ? NULL : (const uint8_t *)PQgetvalue(r, i, 7);
      row.info_len = (size_t)PQgetlength(r, i, 7);
      row.error_kind = PQgetisnull(r, i, 8) ? NULL : PQgetvalue(r, i, 8);
      if (fn(ud, &row) != 0) stop = 1;
      if (i == rows - 1 && !stop) {
        const char *k[4] = {row.project, row.domain, row.run_name, row.name};
        for (int x = 0; x < 4; x++) {
          free(key[x]);
          key[x] = strdup(k[x]);
          if (!key[x]) {
            snprintf(err, errlen, "list: out of memory");
            rc = HOP_ENOMEM;
            stop = 1;
          }
        }
        snprintf(num[0], sizeof(num[0]), "%u", row.attempt);
        snprintf(num[1], sizeof(num[1]), "%d", row.phase);
        snprintf(num[2], sizeof(num[2]), "%u", row.version);
        have_key = 1;
      }
    }
    PQclear(r);
    if (rows < HOP_STORE_LIST_PAGE) break;
  }
  for (int x = 0; x < 4; x++) free(key[x]);
  return rc;
}

static int pg_count(void *eng, uint64_t *rows, char *err, size_t errlen) {
  pg_eng *e = eng;
  PGresult *r = read_exec(e, "SELECT count(*)::int8 FROM action_events", 0, NULL, err, errlen);
  if (!r) return HOP_EIO;
  uint64_t v = 0;
  if (PQntuples(r) == 1 && PQgetlength(r, 0, 0) == 8) {
    const unsigned char *p = (const unsigned char *)PQgetvalue(r, 0, 0);
    for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
  }
  PQclear(r);
  *rows = v;
  return 0;
}

const hop_store_ops hop_store_engine_pg = {
    .name = "postgres",
    .open = pg_open,
    .writers = pg_writers,
    .writer_open = pg_writer_open,
    .txn = pg_txn,
    .idle = NULL,
    .writer_close = pg_writer_close,
    .list = pg_list,
    .count = pg_count,
    .close = pg_close,
};
