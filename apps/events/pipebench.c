/* hopwire pipeline-bench: see pipebench.h. */
#include "events/pipebench.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/child.h"
#include "events/codec.h"
#include "events/eventgen.h"
#include "events/prom.h"
#include "events/proxy.h"
#include "events/runsvc.h"
#include "events/store.h"
#include "hopwire/client.h"
#include "hopwire/error.h"
#include "hopwire/rpc.h"
#include "hopwire/stats.h"

enum { PB_CEILING, PB_GC_ON, PB_GC_OFF, PB_PROXY };
static const char *const mode_names[HOP_PIPEBENCH_MODES] = {"ceiling", "gc-on", "gc-off", "proxy"};
static const char *const mode_desc[HOP_PIPEBENCH_MODES] = {
    "store API, no network (group commit)", "run-service, h2c, group commit on",
    "run-service, h2c, group commit off", "events-proxy -> run-service, h2c"};

typedef struct pb_result {
  int ran;
  uint64_t calls, failed, events;
  double elapsed_s, events_per_s, commits_per_s, cpu_bench_s, cpu_services_s;
  uint64_t commits, dials_proxy_run, dials_bench;
  hop_latency lat;
  char first_error[640];
} pb_result;

typedef struct pb_shared {
  const hop_pipebench_config *cfg;
  int mode;
  hop_evgen_config gen;
  hop_store *store;
  hop_client *client;
  char base_url[64];
  const char *procedure;
  uint64_t deadline_us;
  atomic_uint_fast64_t calls, failed, events;
  pthread_mutex_t mu;
  char first_error[640];
} pb_shared;

typedef struct pb_caller {
  pb_shared *sh;
  unsigned idx;
  uint64_t action;
  unsigned seq;
  hop_hist *hist;
  pthread_t th;
  hop_evgen_key *keys;
  uint8_t *infos;  /* batch x HOP_EVGEN_MAX_EVENT_BYTES */
  size_t *lens;
  uint8_t *body;   /* the framed request */
  hop_ev_row *rows;
} pb_caller;

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void hop_pipebench_config_init(hop_pipebench_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->callers = 32;
  cfg->batch = 400;
  cfg->duration_ms = 5000;
  cfg->modes = (1u << HOP_PIPEBENCH_MODES) - 1;
}

static void note_error(pb_shared *sh, const char *msg) {
  pthread_mutex_lock(&sh->mu);
  if (!sh->first_error[0]) snprintf(sh->first_error, sizeof(sh->first_error), "%s", msg);
  pthread_mutex_unlock(&sh->mu);
}

/* The next |batch| events of this caller's actions (idx, idx + C, ...): keys, bytes. */
static size_t fill(pb_caller *c) {
  const pb_shared *sh = c->sh;
  size_t n = 0;
  while (n < sh->cfg->batch) {
    if (c->seq >= hop_evgen_action_events(&sh->gen, c->action)) {
      c->action += sh->cfg->callers;
      c->seq = 0;
    }
    uint8_t *buf = c->infos + n * HOP_EVGEN_MAX_EVENT_BYTES;
    int len = hop_evgen_encode(&sh->gen, c->action, c->seq, 0, buf, HOP_EVGEN_MAX_EVENT_BYTES);
    if (len < 0 || hop_evgen_key_of(&sh->gen, c->action, c->seq, &c->keys[n])) {
      c->seq++;
      continue;
    }
    c->lens[n] = (size_t)len;
    c->seq++;
    n++;
  }
  return n;
}

/* RecordActionEventsRequest / RecordRequest: each event as field 1, wire type 2. */
static size_t frame(pb_caller *c, size_t n) {
  size_t off = 0;
  for (size_t i = 0; i < n; i++) {
    c->body[off++] = 0x0a;
    size_t l = c->lens[i];
    while (l >= 0x80) {
      c->body[off++] = (uint8_t)(l | 0x80);
      l >>= 7;
    }
    c->body[off++] = (uint8_t)l;
    memcpy(c->body + off, c->infos + i * HOP_EVGEN_MAX_EVENT_BYTES, c->lens[i]);
    off += c->lens[i];
  }
  return off;
}

static void *caller_main(void *arg) {
  pb_caller *c = arg;
  pb_shared *sh = c->sh;
  char msg[600];
  while (now_us() < sh->deadline_us) {
    size_t n = fill(c);
    uint64_t t0 = now_us();
    int ok = 0;
    if (sh->mode == PB_CEILING) {
      for (size_t i = 0; i < n; i++) {
        hop_ev_row *r = &c->rows[i];
        const hop_evgen_key *k = &c->keys[i];
        r->project = k->project;
        r->domain = k->domain;
        r->run_name = k->run_name;
        r->name = k->name;
        r->attempt = k->attempt;
        r->phase = k->phase;
        r->version = k->version;
        r->info = c->infos + i * HOP_EVGEN_MAX_EVENT_BYTES;
        r->info_len = c->lens[i];
        r->error_kind = hop_ev_error_kind_name(k->error_kind >= 0 ? k->error_kind : 0);
        if (k->error_kind < 0) r->error_kind = NULL;
      }
      hop_store_result res;
      char m[256];
      int rv = hop_store_insert(sh->store, c->rows, n, &res, m, sizeof(m));
      if (rv) snprintf(msg, sizeof(msg), "store: %s", hop_strerror(rv));
      else if (res.code) snprintf(msg, sizeof(msg), "store: code %d: %s", res.code, m);
      else ok = 1;
    } else {
      size_t len = frame(c, n);
      hop_rpc_call_opts o;
      hop_rpc_call_opts_init(&o);
      o.base_url = sh->base_url;
      o.procedure = sh->procedure;
      o.message = c->body;
      o.message_len = len;
      o.timeout_ms = 30000;
      hop_rpc_result res;
      int rv = hop_rpc_call(sh->client, &o, &res);
      if (rv) {
        snprintf(msg, sizeof(msg), "call: %s", hop_strerror(rv));
      } else if (res.code != HOP_CODE_OK) {
        snprintf(msg, sizeof(msg), "%s: %s", hop_code_name(res.code), res.error_message);
      } else if (sh->mode != PB_PROXY) {
        int32_t code = 0;
        char sm[400];
        if (hop_ev_status_decode(res.message, res.message_len, &code, sm, sizeof(sm)))
          snprintf(msg, sizeof(msg), "undecodable RecordActionEventsResponse");
        else if (code) snprintf(msg, sizeof(msg), "in-band status %d: %s", code, sm);
        else ok = 1;
      } else {
        ok = 1;
      }
      if (!rv) hop_rpc_result_free(&res);
    }
    uint64_t t1 = now_us();
    atomic_fetch_add(&sh->calls, 1);
    if (ok) {
      atomic_fetch_add(&sh->events, n);
      hop_hist_record(c->hist, t1 - t0);
    } else {
      atomic_fetch_add(&sh->failed, 1);
      note_error(sh, msg);
    }
  }
  return NULL;
}

/* A counter from a service's /metrics (0 when unreadable). */
static uint64_t scrape_counter(hop_client *cl, uint16_t port, const char *name) {
  char *text = NULL;
  hop_prom_fetch(cl, port, &text);
  uint64_t v = (uint64_t)hop_prom_value(text, name);
  free(text);
  return v;
}

static void store_url_for(const hop_pipebench_config *cfg, const char *tmpdir, int mode,
                          char *out, size_t n) {
  if (!cfg->store) snprintf(out, n, "sqlite:%s/%s.db", tmpdir, mode_names[mode]);
  else if (!strncmp(cfg->store, "sqlite:", 7)) snprintf(out, n, "%s-%s", cfg->store, mode_names[mode]);
  else snprintf(out, n, "%s", cfg->store);
}

static int run_mode(const hop_pipebench_config *cfg, int mode, const char *tmpdir, uint64_t seed,
                    pb_result *out) {
  char url[1024];
  store_url_for(cfg, tmpdir, mode, url, sizeof(url));
  pb_shared sh;
  memset(&sh, 0, sizeof(sh));
  sh.cfg = cfg;
  sh.mode = mode;
  pthread_mutex_init(&sh.mu, NULL);
  hop_evgen_config_init(&sh.gen);
  sh.gen.seed = seed + (uint64_t)mode * 7919u;
  hop_child rs = {.pid = -1}, px = {.pid = -1};
  hop_client *scraper = NULL;
  int rv = 0;
  char err[512] = "";
  hop_client_config cc;
  hop_client_config_init(&cc);
  if (mode == PB_CEILING) {
    hop_store_config sc;
    hop_store_config_init(&sc);
    sc.url = url;
    if (cfg->writers) sc.writers = cfg->writers;
    rv = hop_store_open(&sh.store, &sc, err, sizeof(err));
  } else {
    char writers[16];
    snprintf(writers, sizeof(writers), "%u", cfg->writers ? cfg->writers : 4);
    char *args[] = {"run-service", "--listen", "127.0.0.1:0", "--store", url, "--group-commit",
                    mode == PB_GC_OFF ? "off" : "on", "--writers", writers, NULL};
    rv = hop_child_start(&rs, cfg->exe, args, !cfg->verbose, 15000, err, sizeof(err));
    char rsurl[64];
    snprintf(rsurl, sizeof(rsurl), "http://127.0.0.1:%u", rs.port);
    snprintf(sh.base_url, sizeof(sh.base_url), "%s", rsurl);
    sh.procedure = HOP_RUNSVC_PROCEDURE;
    if (!rv && mode == PB_PROXY) {
      char *pargs[] = {"events-proxy", "--listen", "127.0.0.1:0", "--run-service", rsurl, NULL};
      rv = hop_child_start(&px, cfg->exe, pargs, !cfg->verbose, 15000, err, sizeof(err));
      snprintf(sh.base_url, sizeof(sh.base_url), "http://127.0.0.1:%u", px.port);
      sh.procedure = HOP_PROXY_PROCEDURE;
    }
    cc.http = HOP_HTTP_H2C;
    if (!rv) rv = hop_client_new(&sh.client, &cc);
    hop_client_config sc2;
    hop_client_config_init(&sc2);
    sc2.http = HOP_HTTP_H1;
    if (!rv) rv = hop_client_new(&scraper, &sc2);
  }
  pb_caller *cs = calloc(cfg->callers, sizeof(*cs));
  if (!cs) rv = HOP_ENOMEM;
  uint64_t commits0 = 0;
  if (!rv && mode != PB_CEILING) commits0 = scrape_counter(scraper, rs.port, "hopwire_store_transactions_total");
  double cpu0 = hop_self_cpu_s(), scpu0 = hop_child_cpu_s(&rs) + hop_child_cpu_s(&px);
  uint64_t t0 = now_us();
  sh.deadline_us = t0 + cfg->duration_ms * 1000u;
  unsigned started = 0;
  for (unsigned i = 0; !rv && i < cfg->callers; i++) {
    pb_caller *c = &cs[i];
    c->sh = &sh;
    c->idx = i;
    c->action = i;
    c->hist = hop_hist_new();
    c->keys = calloc(cfg->batch, sizeof(*c->keys));
    c->infos = malloc((size_t)cfg->batch * HOP_EVGEN_MAX_EVENT_BYTES);
    c->lens = calloc(cfg->batch, sizeof(*c->lens));
    c->body = malloc((size_t)cfg->batch * (HOP_EVGEN_MAX_EVENT_BYTES + 8));
    c->rows = calloc(cfg->batch, sizeof(*c->rows));
    if (!c->hist || !c->keys || !c->infos || !c->lens || !c->body || !c->rows ||
        pthread_create(&c->th, NULL, caller_main, c)) {
      rv = HOP_ENOMEM;
      sh.deadline_us = 0;
      break;
    }
    started++;
  }
  hop_hist *all = hop_hist_new();
  for (unsigned i = 0; i < started; i++) pthread_join(cs[i].th, NULL);
  double elapsed = (double)(now_us() - t0) / 1e6;
  for (unsigned i = 0; i < cfg->callers && cs; i++) {
    if (all && cs[i].hist) hop_hist_merge(all, cs[i].hist);
    hop_hist_free(cs[i].hist);
    free(cs[i].keys);
    free(cs[i].infos);
    free(cs[i].lens);
    free(cs[i].body);
    free(cs[i].rows);
  }
  free(cs);
  out->cpu_bench_s = hop_self_cpu_s() - cpu0;
  out->cpu_services_s = hop_child_cpu_s(&rs) + hop_child_cpu_s(&px) - scpu0;
  if (mode == PB_CEILING && sh.store) {
    hop_store_stats st;
    hop_store_get_stats(sh.store, &st);
    out->commits = st.transactions;
    hop_store_close(sh.store);
  } else if (!rv) {
    out->commits = scrape_counter(scraper, rs.port, "hopwire_store_transactions_total") - commits0;
    if (mode == PB_PROXY)
      out->dials_proxy_run = scrape_counter(scraper, px.port, "hopwire_proxy_downstream_dials_total");
  }
  if (sh.client) {
    hop_client_stats cst;
    hop_client_get_stats(sh.client, &cst);
    out->dials_bench = cst.dials_started;
    hop_client_free(sh.client);
  }
  if (scraper) hop_client_free(scraper);
  if (px.pid > 0) hop_child_stop(&px, 15000);
  if (rs.pid > 0) hop_child_stop(&rs, 15000);
  out->calls = atomic_load(&sh.calls);
  out->failed = atomic_load(&sh.failed);
  out->events = atomic_load(&sh.events);
  out->elapsed_s = elapsed;
  out->events_per_s = elapsed > 0 ? (double)out->events / elapsed : 0;
  out->commits_per_s = elapsed > 0 ? (double)out->commits / elapsed : 0;
  if (all) hop_hist_summary(all, &out->lat);
  hop_hist_free(all);
  snprintf(out->first_error, sizeof(out->first_error), "%s", rv ? err : sh.first_error);
  if (rv && !out->first_error[0]) snprintf(out->first_error, sizeof(out->first_error), "%s", hop_strerror(rv));
  pthread_mutex_destroy(&sh.mu);
  if (!cfg->store) {
    char p[600];
    static const char *const sfx[] = {"", "-wal", "-shm"};
    for (int s = 0; s < 3; s++) {
      snprintf(p, sizeof(p), "%s/%s.db%s", tmpdir, mode_names[mode], sfx[s]);
      unlink(p);
    }
  }
  out->ran = rv == 0;
  return rv ? -1 : 0;
}

static double fin(double v) { return isfinite(v) ? v : 0.0; }

int hop_pipebench_run(const hop_pipebench_config *cfg, FILE *out) {
  char tmpdir[] = "/tmp/hopwire-pipebench.XXXXXX";
  if (!mkdtemp(tmpdir)) {
    perror("hopwire pipeline-bench: mkdtemp");
    return -1;
  }
  uint64_t seed = cfg->seed ? cfg->seed : (uint64_t)time(NULL) * 1000003u + (uint64_t)getpid();
  pb_result rs[HOP_PIPEBENCH_MODES];
  memset(rs, 0, sizeof(rs));
  int failed = 0;
  for (int m = 0; m < HOP_PIPEBENCH_MODES; m++) {
    if (!(cfg->modes & (1u << m))) continue;
    if (!cfg->json) fprintf(stderr, "%s: %s ...\n", mode_names[m], mode_desc[m]);
    if (run_mode(cfg, m, tmpdir, seed, &rs[m])) {
      fprintf(stderr, "hopwire pipeline-bench: %s failed: %s\n", mode_names[m], rs[m].first_error);
      failed = 1;
      continue;
    }
    if (rs[m].failed) failed = 1;
    if (cfg->json)
      fprintf(out,
              "{\"mode\":\"%s\",\"callers\":%u,\"batch\":%u,\"calls\":%llu,\"failed\":%llu,"
              "\"events\":%llu,\"events_per_s\":%.1f,\"commits\":%llu,\"commits_per_s\":%.1f,"
              "\"p50_us\":%llu,\"p99_us\":%llu,\"max_us\":%llu,\"dials_proxy_run_service\":%llu,"
              "\"dials\":%llu,\"cpu_bench_s\":%.3f,\"cpu_services_s\":%.3f,\"elapsed_s\":%.3f}\n",
              mode_names[m], cfg->callers, cfg->batch, (unsigned long long)rs[m].calls,
              (unsigned long long)rs[m].failed, (unsigned long long)rs[m].events,
              fin(rs[m].events_per_s), (unsigned long long)rs[m].commits, fin(rs[m].commits_per_s),
              (unsigned long long)rs[m].lat.p50_us, (unsigned long long)rs[m].lat.p99_us,
              (unsigned long long)rs[m].lat.max_us, (unsigned long long)rs[m].dials_proxy_run,
              (unsigned long long)rs[m].dials_bench, fin(rs[m].cpu_bench_s),
              fin(rs[m].cpu_services_s), fin(rs[m].elapsed_s));
    fflush(out);
  }
  if (!cfg->json) {
    fprintf(out, "hopwire pipeline-bench: %u callers x %u-event calls, %.1f s per mode, store %s\n\n",
            cfg->callers, cfg->batch, (double)cfg->duration_ms / 1000.0,
            cfg->store ? cfg->store : "sqlite (temp file, synchronous=full)");
    fprintf(out, "%-8s %-38s %10s %9s %9s %9s %7s %6s %12s\n", "mode", "", "events/s", "commits/s",
            "p50 ms", "p99 ms", "errors", "dials", "CPU bench/svc");
    for (int m = 0; m < HOP_PIPEBENCH_MODES; m++) {
      if (!rs[m].ran) continue;
      char cpu[32];
      snprintf(cpu, sizeof(cpu), "%.1f/%.1f", rs[m].cpu_bench_s, rs[m].cpu_services_s);
      fprintf(out, "%-8s %-38s %10.0f %9.1f %9.1f %9.1f %7llu %6llu %12s\n", mode_names[m],
              mode_desc[m], fin(rs[m].events_per_s), fin(rs[m].commits_per_s),
              (double)rs[m].lat.p50_us / 1e3, (double)rs[m].lat.p99_us / 1e3,
              (unsigned long long)rs[m].failed,
              (unsigned long long)(m == PB_PROXY ? rs[m].dials_proxy_run : rs[m].dials_bench), cpu);
    }
    fprintf(out, "\n");
    if (rs[PB_CEILING].ran && rs[PB_GC_ON].ran && rs[PB_CEILING].events_per_s > 0)
      fprintf(out, "run-service (group commit) / ceiling: %.0f %%\n",
              100.0 * rs[PB_GC_ON].events_per_s / rs[PB_CEILING].events_per_s);
    if (rs[PB_GC_ON].ran && rs[PB_GC_OFF].ran && rs[PB_GC_OFF].events_per_s > 0)
      fprintf(out, "group commit on / off: %.2fx events/s, %.1f vs %.1f commits/s\n",
              rs[PB_GC_ON].events_per_s / rs[PB_GC_OFF].events_per_s, rs[PB_GC_ON].commits_per_s,
              rs[PB_GC_OFF].commits_per_s);
    if (rs[PB_GC_ON].ran && rs[PB_PROXY].ran && rs[PB_GC_ON].events_per_s > 0)
      fprintf(out, "through the proxy / run-service alone: %.0f %%, %llu dial(s) proxy -> run-service\n",
              100.0 * rs[PB_PROXY].events_per_s / rs[PB_GC_ON].events_per_s,
              (unsigned long long)rs[PB_PROXY].dials_proxy_run);
    for (int m = 0; m < HOP_PIPEBENCH_MODES; m++)
      if (rs[m].failed && rs[m].first_error[0])
        fprintf(out, "%s: first error: %s\n", mode_names[m], rs[m].first_error);
  }
  rmdir(tmpdir);
  return failed ? 1 : 0;
}

/* ---- --mode codec: CPU per event of eventgen and the codec (see pipebench.h) ---- */

typedef struct cb_state {
  hop_evgen_config gen;
  unsigned batch;
  uint64_t action; /* the next event: event |seq| of |action| */
  unsigned seq, nev;
  hop_evgen_action act; /* |action|, prepared as the executor's reconciler holds it */
  uint64_t clock_us; /* the executor's observe time, advanced 1 ms per event */
  uint8_t *slot;     /* one encoded event, as the executor's reconciler holds it */
  uint8_t *body;     /* a request of |batch| framed events */
  size_t *off, *lens; /* each event's offset and length in |body| */
  uint64_t *actions;  /* each event's action and index, for the check */
  unsigned *seqs;
  size_t body_len, n;
  hop_ev_batch decoded;
  size_t validated;
  int failed;
  char err[256];
} cb_state;

static double cb_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The next |want| events, framed as the batcher frames them (0x0a, varint length, bytes). */
__attribute__((noinline)) static void codecbench_generate(cb_state *s, size_t want) {
  size_t off = 0;
  s->n = 0;
  while (s->n < want) {
    if (s->seq == s->nev) {
      s->action++;
      s->seq = 0;
      hop_evgen_action_init(&s->act, &s->gen, s->action);
      s->nev = s->act.nev;
    }
    int len = hop_evgen_action_encode(&s->act, s->seq, (int64_t)s->clock_us, s->slot,
                                      HOP_EVGEN_MAX_EVENT_BYTES);
    s->clock_us += 1000;
    if (len < 0) {
      s->failed = 1;
      snprintf(s->err, sizeof s->err, "hop_evgen_encode(action %llu, event %u) failed",
               (unsigned long long)s->action, s->seq);
      return;
    }
    s->body[off++] = 0x0a;
    size_t l = (size_t)len;
    while (l >= 0x80) {
      s->body[off++] = (uint8_t)(l | 0x80);
      l >>= 7;
    }
    s->body[off++] = (uint8_t)l;
    memcpy(s->body + off, s->slot, (size_t)len);
    s->off[s->n] = off;
    s->lens[s->n] = (size_t)len;
    off += (size_t)len;
    s->actions[s->n] = s->action;
    s->seqs[s->n] = s->seq;
    s->seq++;
    s->n++;
  }
  s->body_len = off;
}

__attribute__((noinline)) static void codecbench_validate(cb_state *s) {
  if (hop_ev_validate(s->body, s->body_len, 0, &s->validated, s->err, sizeof s->err))
    s->failed = 1;
}

__attribute__((noinline)) static void codecbench_decode(cb_state *s) {
  if (hop_ev_decode(s->body, s->body_len, 0, &s->decoded, s->err, sizeof s->err)) {
    s->failed = 1;
    return;
  }
  /* checked outside the stage: the rows are kept until codecbench_check frees them */
}

static int str_is(const char *a, const char *b) { return a && b && !strcmp(a, b); }

/* Not a stage: the decoded rows against the generator's keys and bytes. */
static void codecbench_check(cb_state *s) {
  if (!s->failed && s->validated != s->n) {
    snprintf(s->err, sizeof s->err, "validate counted %zu events, want %zu", s->validated, s->n);
    s->failed = 1;
  }
  if (!s->failed && s->decoded.n != s->n) {
    snprintf(s->err, sizeof s->err, "decode gave %zu rows, want %zu", s->decoded.n, s->n);
    s->failed = 1;
  }
  for (size_t i = 0; !s->failed && i < s->n; i++) {
    const hop_ev_row *r = &s->decoded.rows[i];
    hop_evgen_key kk, *k = &kk;
    if (hop_evgen_key_of(&s->gen, s->actions[i], s->seqs[i], k)) {
      snprintf(s->err, sizeof s->err, "hop_evgen_key_of failed for row %zu", i);
      s->failed = 1;
      break;
    }
    const char *kind = k->error_kind >= 0 ? hop_ev_error_kind_name(k->error_kind) : NULL;
    if (!str_is(r->project, k->project) || !str_is(r->domain, k->domain) ||
        !str_is(r->run_name, k->run_name) || !str_is(r->name, k->name) ||
        r->attempt != k->attempt || r->phase != k->phase || r->version != k->version ||
        (kind ? !str_is(r->error_kind, kind) : r->error_kind != NULL) ||
        r->info != s->body + s->off[i] || r->info_len != s->lens[i]) {
      snprintf(s->err, sizeof s->err, "row %zu does not match the generator's key or bytes", i);
      s->failed = 1;
    }
  }
  hop_ev_batch_free(&s->decoded);
}

int hop_pipebench_codec(const hop_pipebench_config *cfg, uint64_t events, FILE *out) {
  cb_state s;
  memset(&s, 0, sizeof s);
  hop_evgen_config_init(&s.gen);
  if (cfg->seed) s.gen.seed = cfg->seed;
  s.batch = cfg->batch ? cfg->batch : 400;
  s.clock_us = (uint64_t)s.gen.base_unix_s * 1000000u;
  hop_evgen_action_init(&s.act, &s.gen, 0);
  s.nev = s.act.nev;
  s.slot = malloc(HOP_EVGEN_MAX_EVENT_BYTES);
  s.body = malloc((size_t)s.batch * (HOP_EVGEN_MAX_EVENT_BYTES + 3));
  s.off = calloc(s.batch, sizeof *s.off);
  s.lens = calloc(s.batch, sizeof *s.lens);
  s.actions = calloc(s.batch, sizeof *s.actions);
  s.seqs = calloc(s.batch, sizeof *s.seqs);
  int rv = 0;
  if (!s.slot || !s.body || !s.off || !s.lens || !s.actions || !s.seqs) {
    fprintf(stderr, "hopwire pipeline-bench: out of memory\n");
    rv = -1;
    goto out;
  }
  double t_gen = 0, t_val = 0, t_dec = 0;
  uint64_t digest = 0xcbf29ce484222325ull, bytes = 0, done = 0; /* FNV-1a 64 */
  while (done < events && !s.failed) {
    size_t want = events - done < s.batch ? (size_t)(events - done) : s.batch;
    double t0 = cb_now_s();
    codecbench_generate(&s, want);
    double t1 = cb_now_s();
    if (s.failed) break;
    codecbench_validate(&s);
    double t2 = cb_now_s();
    if (s.failed) break;
    codecbench_decode(&s);
    double t3 = cb_now_s();
    codecbench_check(&s);
    t_gen += t1 - t0;
    t_val += t2 - t1;
    t_dec += t3 - t2;
    for (size_t i = 0; i < s.body_len; i++) digest = (digest ^ s.body[i]) * 0x100000001b3ull;
    bytes += s.body_len;
    done += s.n;
  }
  if (s.failed) {
    fprintf(stderr, "hopwire pipeline-bench: codec: %s\n", s.err);
    rv = 1;
    goto out;
  }
  double per = done ? 1e9 / (double)done : 0;
  if (cfg->json)
    fprintf(out,
            "{\"mode\":\"codec\",\"events\":%llu,\"batch\":%u,\"seed\":%llu,\"body_bytes\":%llu,"
            "\"digest\":\"%016llx\",\"generate_ns\":%.1f,\"validate_ns\":%.1f,"
            "\"decode_ns\":%.1f}\n",
            (unsigned long long)done, s.batch, (unsigned long long)s.gen.seed,
            (unsigned long long)bytes, (unsigned long long)digest, t_gen * per, t_val * per,
            t_dec * per);
  else
    fprintf(out,
            "hopwire pipeline-bench --mode codec: %llu events (seed %llu) in %u-event bodies, "
            "%llu bytes, digest %016llx\n"
            "  generate+encode %8.1f ns/event\n"
            "  validate        %8.1f ns/event\n"
            "  decode          %8.1f ns/event\n",
            (unsigned long long)done, (unsigned long long)s.gen.seed, s.batch,
            (unsigned long long)bytes, (unsigned long long)digest, t_gen * per, t_val * per,
            t_dec * per);
out:
  hop_ev_batch_free(&s.decoded);
  free(s.slot);
  free(s.body);
  free(s.off);
  free(s.lens);
  free(s.actions);
  free(s.seqs);
  return rv;
}
