/* The store's engine-independent half: URL dispatch, the bounded queue of submitted
 * batches, group-commit grouping, stats, completion callbacks and the blocking wrapper.
 * The engines (store_sqlite.c, store_pg.c) only run transactions; see store_engine.h. */
#include "events/store.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events/store_engine.h"
#include "hopwire/error.h"
#include "hopwire/rpc.h"

const uint64_t hop_store_lat_bounds_us[HOP_STORE_LAT_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
    UINT64_MAX};
const uint64_t hop_store_size_bounds[HOP_STORE_SIZE_BUCKETS] = {
    1, 4, 16, 64, 256, 400, 1000, 4000, 10000, 20000, 100000, UINT64_MAX};

/* The writer checks for idle work (SQLite's TRUNCATE checkpoint) after this long without a
 * batch, once per busy period. */
#define IDLE_AFTER_US 200000
/* Jobs one writer can hand to the engine at once; grown on demand. */
#define GROUP_INIT 256

typedef struct writer_slot {
  hop_store *s;
  unsigned idx;
  pthread_t thread;
  int started;
  void *w; /* the engine's writer handle, owned by the thread */
  hop_store_job **group;
  size_t group_cap;
  int open_rc; /* writer_open's result, read by hop_store_open after the handshake */
  char open_err[256];
} writer_slot;

struct hop_store {
  const hop_store_ops *eng;
  void *eng_state;
  hop_store_config cfg;
  char *url;

  pthread_mutex_t mu;
  pthread_cond_t work;   /* a job was queued, or closing began */
  pthread_cond_t opened; /* a writer finished writer_open */
  hop_store_job *head, *tail;
  int closing;
  unsigned writers_ready;
  hop_store_stats st; /* under mu */

  pthread_mutex_t reader_mu; /* list / count share the engine's one reader connection */

  writer_slot *slots;
  unsigned nslots;
  uint64_t kill_after_commit; /* test hook (HOP_TEST_KILL_AT_COMMIT=N): 0 = off */
};

/* Set on writer threads: hop_store_insert from a completion callback would wait forever. */
static _Thread_local int on_writer_thread;

uint64_t hop_store_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void hop_store_sleep_us(uint64_t us) {
  struct timespec ts = {(time_t)(us / 1000000u), (long)(us % 1000000u) * 1000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

void hop_store_config_init(hop_store_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->url = "sqlite:hopwire-events.db";
  cfg->writers = 4;
  cfg->group_commit = 1;
  cfg->max_txn_rows = 20000;
  cfg->max_queue_rows = 262144;
  cfg->sqlite_synchronous = 2;
  cfg->sqlite_gather_wal = 1;
  cfg->busy_timeout_ms = 5000;
  cfg->connect_timeout_ms = 5000;
  cfg->notify = 1;
  cfg->commit_delay_us = 0;
}

uint64_t hop_store_test_kill_at_commit(const char *mode) {
  const char *v = getenv("HOP_TEST_KILL_AT_COMMIT");
  if (!v || !*v) return 0;
  char *end = NULL;
  unsigned long long n = strtoull(v, &end, 10);
  const char *m = *end == ':' ? end + 1 : "after";
  return strcmp(m, mode) == 0 ? (uint64_t)n : 0;
}

const char *hop_store_engine(const hop_store *s) { return s->eng->name; }

void hop_store_note_reconnect(hop_store *s) {
  pthread_mutex_lock(&s->mu);
  s->st.reconnects++;
  pthread_mutex_unlock(&s->mu);
}

static size_t bucket(const uint64_t *bounds, size_t n, uint64_t v) {
  size_t i = 0;
  while (i + 1 < n && v > bounds[i]) i++;
  return i;
}

/* Takes the next group off the queue (mu held, queue not empty): the first job always (a
 * batch over max_txn_rows is still one transaction), then, with group commit, every
 * following job while the group stays within max_txn_rows. */
static size_t take_group(hop_store *s, writer_slot *ws, size_t *rows) {
  size_t n = 0, total = 0;
  while (s->head) {
    hop_store_job *j = s->head;
    if (n > 0 && (!s->cfg.group_commit || total + j->n > s->cfg.max_txn_rows)) break;
    if (n == ws->group_cap) {
      size_t cap = ws->group_cap * 2;
      hop_store_job **g = realloc(ws->group, cap * sizeof(*g));
      if (!g) break; /* a smaller group is still correct */
      ws->group = g;
      ws->group_cap = cap;
    }
    s->head = j->next;
    if (!s->head) s->tail = NULL;
    j->next = NULL;
    ws->group[n++] = j;
    total += j->n;
  }
  *rows = total;
  return n;
}

static void *writer_main(void *arg) {
  writer_slot *ws = arg;
  hop_store *s = ws->s;
  on_writer_thread = 1;
  ws->open_rc = s->eng->writer_open(s->eng_state, ws->idx, &ws->w, ws->open_err,
                                    sizeof(ws->open_err));
  pthread_mutex_lock(&s->mu);
  s->writers_ready++;
  pthread_cond_broadcast(&s->opened);
  if (ws->open_rc != 0) {
    pthread_mutex_unlock(&s->mu);
    return NULL;
  }
  char msg[512];
  int idle_due = 0; /* work was done since the last idle hook */
  for (;;) {
    while (!s->head && !s->closing) {
      if (!idle_due || !s->eng->idle) {
        pthread_cond_wait(&s->work, &s->mu);
        continue;
      }
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)IDLE_AFTER_US * 1000u;
      ts.tv_sec += (time_t)(ns / 1000000000u);
      ts.tv_nsec = (long)(ns % 1000000000u);
      if (pthread_cond_timedwait(&s->work, &s->mu, &ts) == ETIMEDOUT && !s->head &&
          !s->closing) {
        idle_due = 0;
        pthread_mutex_unlock(&s->mu);
        s->eng->idle(ws->w);
        pthread_mutex_lock(&s->mu);
      }
    }
    if (!s->head) break; /* closing and drained */
    size_t rows = 0;
    size_t n = take_group(s, ws, &rows);
    pthread_mutex_unlock(&s->mu);

    for (size_t i = 0; i < n; i++) ws->group[i]->inserted = 0;
    msg[0] = '\0';
    uint64_t t0 = hop_store_now_us();
    int code = s->eng->txn(ws->w, ws->group, n, s->cfg.commit_delay_us, msg, sizeof(msg));
    uint64_t lat = hop_store_now_us() - t0;
    if (code != 0 && !msg[0]) snprintf(msg, sizeof(msg), "%s: transaction failed", s->eng->name);
    idle_due = 1;

    pthread_mutex_lock(&s->mu);
    s->st.queued_rows -= rows;
    s->st.batches += n;
    s->st.rows_received += rows;
    if (code == 0) {
      s->st.transactions++;
      s->st.commit_lat_count[bucket(hop_store_lat_bounds_us, HOP_STORE_LAT_BUCKETS, lat)]++;
      s->st.commit_lat_sum_us += lat;
      s->st.txn_rows_count[bucket(hop_store_size_bounds, HOP_STORE_SIZE_BUCKETS, rows)]++;
      s->st.txn_rows_sum += rows;
      for (size_t i = 0; i < n; i++) {
        s->st.rows_inserted += ws->group[i]->inserted;
        s->st.duplicates += ws->group[i]->n - ws->group[i]->inserted;
      }
      /* Crash test: the N-th COMMIT returned, nobody is answered yet. */
      if (s->kill_after_commit && s->st.transactions == s->kill_after_commit) kill(getpid(), SIGKILL);
    } else {
      s->st.errors++;
    }
    pthread_mutex_unlock(&s->mu);

    /* Callbacks outside the lock: one may submit again. */
    for (size_t i = 0; i < n; i++) {
      hop_store_job *j = ws->group[i];
      hop_store_result res = {code, code ? msg : "", code ? 0 : j->inserted,
                              code ? 0 : j->n - j->inserted};
      j->fn(j->user_data, &res);
      free(j);
    }
    pthread_mutex_lock(&s->mu);
  }
  pthread_mutex_unlock(&s->mu);
  s->eng->writer_close(ws->w);
  ws->w = NULL;
  return NULL;
}

static void stop_writers(hop_store *s) {
  pthread_mutex_lock(&s->mu);
  s->closing = 1;
  pthread_cond_broadcast(&s->work);
  pthread_mutex_unlock(&s->mu);
  for (unsigned i = 0; i < s->nslots; i++) {
    if (s->slots[i].started) pthread_join(s->slots[i].thread, NULL);
    free(s->slots[i].group);
  }
}

static void store_free(hop_store *s) {
  if (s->eng_state) s->eng->close(s->eng_state);
  pthread_mutex_destroy(&s->reader_mu);
  pthread_cond_destroy(&s->opened);
  pthread_cond_destroy(&s->work);
  pthread_mutex_destroy(&s->mu);
  free(s->slots);
  free(s->url);
  free(s);
}

int hop_store_open(hop_store **out, const hop_store_config *cfg, char *err, size_t errlen) {
  char dummy[1];
  if (!err || errlen == 0) {
    err = dummy;
    errlen = sizeof(dummy);
  }
  err[0] = '\0';
  if (!out) return HOP_EINVAL;
  *out = NULL;
  hop_store_config def;
  if (!cfg) {
    hop_store_config_init(&def);
    cfg = &def;
  }
  const char *url = cfg->url && *cfg->url ? cfg->url : "sqlite:hopwire-events.db";
  const hop_store_ops *eng;
  const char *target;
  if (!strncmp(url, "sqlite:", 7)) {
    eng = &hop_store_engine_sqlite;
    target = url + 7;
    if (!strncmp(target, "//", 2)) target += 2; /* sqlite:///abs/path too */
    if (!*target) {
      snprintf(err, errlen, "store URL '%s': no file name after 'sqlite:'", url);
      return HOP_EURL;
    }
  } else if (!strncmp(url, "postgres://", 11) || !strncmp(url, "postgresql://", 13)) {
    eng = &hop_store_engine_pg;
    target = url;
  } else {
    snprintf(err, errlen,
             "store URL '%s': expected sqlite:PATH, postgres://... or postgresql://...", url);
    return HOP_EURL;
  }
  if (cfg->max_txn_rows == 0 || cfg->max_queue_rows == 0 || cfg->sqlite_synchronous < 0 ||
      cfg->sqlite_synchronous > 3 || cfg->writers > 64) {
    snprintf(err, errlen,
             "store config: max_txn_rows and max_queue_rows must be > 0, "
             "sqlite_synchronous 0..3, writers <= 64");
    return HOP_EINVAL;
  }

  hop_store *s = calloc(1, sizeof(*s));
  if (!s) return HOP_ENOMEM;
  s->eng = eng;
  s->cfg = *cfg;
  s->url = strdup(url);
  if (!s->url) {
    free(s);
    return HOP_ENOMEM;
  }
  s->cfg.url = s->url;
  if (s->cfg.writers == 0) s->cfg.writers = 4;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->work, &ca);
  pthread_cond_init(&s->opened, NULL);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&s->reader_mu, NULL);

  s->kill_after_commit = hop_store_test_kill_at_commit("after");
  int rc = eng->open(s, &s->cfg, target, &s->eng_state, err, errlen);
  if (rc != 0) {
    s->eng_state = NULL;
    store_free(s);
    return rc;
  }
  s->nslots = eng->writers(s->eng_state);
  s->slots = calloc(s->nslots, sizeof(*s->slots));
  if (!s->slots) {
    store_free(s);
    return HOP_ENOMEM;
  }
  for (unsigned i = 0; i < s->nslots; i++) {
    writer_slot *ws = &s->slots[i];
    ws->s = s;
    ws->idx = i;
    ws->group = malloc(GROUP_INIT * sizeof(*ws->group));
    if (!ws->group) {
      rc = HOP_ENOMEM;
      break;
    }
    ws->group_cap = GROUP_INIT;
    if (pthread_create(&ws->thread, NULL, writer_main, ws) != 0) {
      snprintf(err, errlen, "store: cannot start a writer thread");
      rc = HOP_ENOMEM;
      break;
    }
    ws->started = 1;
  }
  /* Wait until every started writer has opened its connection, so a failure is reported
   * here and not on the first batch. */
  unsigned started = 0;
  for (unsigned i = 0; i < s->nslots; i++) started += (unsigned)s->slots[i].started;
  pthread_mutex_lock(&s->mu);
  while (s->writers_ready < started) pthread_cond_wait(&s->opened, &s->mu);
  pthread_mutex_unlock(&s->mu);
  for (unsigned i = 0; rc == 0 && i < s->nslots; i++) {
    if (s->slots[i].open_rc != 0) {
      rc = s->slots[i].open_rc;
      snprintf(err, errlen, "%s", s->slots[i].open_err);
    }
  }
  if (rc != 0) {
    stop_writers(s);
    store_free(s);
    return rc;
  }
  *out = s;
  return 0;
}

static int check_rows(const hop_ev_row *rows, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const hop_ev_row *r = &rows[i];
    if (!r->project || !r->domain || !r->run_name || !r->name) return HOP_EINVAL;
    /* The columns are INTEGER (int4 in PostgreSQL). */
    if (r->attempt > INT32_MAX || r->version > INT32_MAX) return HOP_EINVAL;
    if (!r->info && r->info_len) return HOP_EINVAL;
  }
  return 0;
}

int hop_store_submit(hop_store *s, const hop_ev_row *rows, size_t n, hop_store_done_fn fn,
                     void *user_data) {
  if (!s || !fn || (n && !rows)) return HOP_EINVAL;
  int rc = check_rows(rows, n);
  if (rc != 0) return rc;
  hop_store_job *j = NULL;
  if (n) {
    j = calloc(1, sizeof(*j));
    if (!j) return HOP_ENOMEM;
    j->rows = rows;
    j->n = n;
    j->fn = fn;
    j->user_data = user_data;
  }
  pthread_mutex_lock(&s->mu);
  if (s->closing) {
    pthread_mutex_unlock(&s->mu);
    free(j);
    return HOP_ESHUTDOWN;
  }
  if (!n) {
    s->st.batches++;
    pthread_mutex_unlock(&s->mu);
    hop_store_result res = {0, "", 0, 0};
    fn(user_data, &res);
    return 0;
  }
  if (n > s->cfg.max_queue_rows || s->st.queued_rows > s->cfg.max_queue_rows - n) {
    s->st.queue_rejections++;
    pthread_mutex_unlock(&s->mu);
    free(j);
    return HOP_EQUEUEFULL;
  }
  s->st.queued_rows += n;
  if (s->tail)
    s->tail->next = j;
  else
    s->head = j;
  s->tail = j;
  pthread_cond_signal(&s->work);
  pthread_mutex_unlock(&s->mu);
  return 0;
}

typedef struct insert_wait {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done;
  hop_store_result *res;
  char *msg;
  size_t msglen;
} insert_wait;

static void insert_done(void *ud, const hop_store_result *r) {
  insert_wait *w = ud;
  pthread_mutex_lock(&w->mu);
  *w->res = *r;
  if (w->msglen) {
    snprintf(w->msg, w->msglen, "%s", r->message ? r->message : "");
    w->res->message = w->msg;
  } else {
    w->res->message = "";
  }
  w->done = 1;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

int hop_store_insert(hop_store *s, const hop_ev_row *rows, size_t n, hop_store_result *res,
                     char *msg, size_t msglen) {
  if (!res) return HOP_EINVAL;
  memset(res, 0, sizeof(*res));
  res->message = "";
  if (msglen && !msg) return HOP_EINVAL;
  if (on_writer_thread) return HOP_ESTATE; /* would wait for itself */
  insert_wait w = {.done = 0, .res = res, .msg = msg, .msglen = msglen};
  pthread_mutex_init(&w.mu, NULL);
  pthread_cond_init(&w.cv, NULL);
  int rc = hop_store_submit(s, rows, n, insert_done, &w);
  if (rc == 0) {
    pthread_mutex_lock(&w.mu);
    while (!w.done) pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
  }
  pthread_cond_destroy(&w.cv);
  pthread_mutex_destroy(&w.mu);
  return rc;
}

void hop_store_get_stats(hop_store *s, hop_store_stats *out) {
  if (!s) {
    memset(out, 0, sizeof(*out));
    return;
  }
  pthread_mutex_lock(&s->mu);
  *out = s->st;
  pthread_mutex_unlock(&s->mu);
}

void hop_store_close(hop_store *s) {
  if (!s) return;
  stop_writers(s);
  store_free(s);
}

int hop_store_list(hop_store *s, const char *project, const char *domain, const char *run,
                   hop_store_row_fn fn, void *user_data, char *err, size_t errlen) {
  char dummy[1];
  if (!err || errlen == 0) {
    err = dummy;
    errlen = sizeof(dummy);
  }
  err[0] = '\0';
  if (!s || !fn) return HOP_EINVAL;
  int some = (project != NULL) + (domain != NULL) + (run != NULL);
  if (some != 0 && some != 3) {
    snprintf(err, errlen, "list: give project, domain and run together, or none");
    return HOP_EINVAL;
  }
  pthread_mutex_lock(&s->reader_mu);
  int rc = s->eng->list(s->eng_state, project, domain, run, fn, user_data, err, errlen);
  pthread_mutex_unlock(&s->reader_mu);
  return rc;
}

int hop_store_count(hop_store *s, uint64_t *rows, char *err, size_t errlen) {
  char dummy[1];
  if (!err || errlen == 0) {
    err = dummy;
    errlen = sizeof(dummy);
  }
  err[0] = '\0';
  if (!s || !rows) return HOP_EINVAL;
  pthread_mutex_lock(&s->reader_mu);
  int rc = s->eng->count(s->eng_state, rows, err, errlen);
  pthread_mutex_unlock(&s->reader_mu);
  return rc;
}
