/* hopwire demo: see demo.h. */
#include "events/demo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/child.h"
#include "events/eventgen.h"
#include "events/executor.h"
#include "events/keyset.h"
#include "events/prom.h"
#include "events/store.h"
#include "hopwire/client.h"
#include "hopwire/error.h"
#include "hopwire/stats.h"

typedef struct design {
  int id;
  const char *name;
  int no_batch;
  hop_batch_policy policy;
  hop_exec_http http;
  const char *proxy_http;
  int group_commit;
} design;

static const design designs[HOP_DEMO_DESIGNS] = {
    {1, "per-event, HTTP/1.1 2 idle/host, 1 INSERT/event", 1, HOP_BATCH_ADAPTIVE,
     HOP_EXEC_H1_DEFAULT, "h1-default", 0},
    {2, "per-event, h2c", 1, HOP_BATCH_ADAPTIVE, HOP_EXEC_H2C, "h2c", 0},
    {3, "Flyte batcher, HTTP/1.1", 0, HOP_BATCH_FLYTE, HOP_EXEC_H1_DEFAULT, "h1-default", 0},
    {4, "Flyte batcher, h2c, multi-row INSERT", 0, HOP_BATCH_FLYTE, HOP_EXEC_H2C, "h2c", 0},
    {5, "hopwire: adaptive, h2c, group commit", 0, HOP_BATCH_ADAPTIVE, HOP_EXEC_H2C, "h2c", 1},
};

typedef struct outcome {
  int ran;
  char error[256];          /* why the design could not run ("" when it did) */
  hop_exec_result ex;
  double exec_cpu_s, proxy_cpu_s, run_cpu_s;
  uint64_t exec_rss_kib, proxy_rss_kib, run_rss_kib;
  uint64_t dials_proxy_run;
  uint64_t duplicates;
  uint64_t store_txns;
  long time_wait;
  uint64_t rows;
  uint64_t lost;
} outcome;

void hop_demo_config_init(hop_demo_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->actions = 4000;
  cfg->concurrency = 512;
  cfg->designs = (1u << HOP_DEMO_DESIGNS) - 1;
}

/* ---- the store check: every acknowledged key present ---- */

typedef struct check_ctx {
  hop_keyset *acked;
  uint64_t rows;
} check_ctx;

static int on_stored(void *ud, const hop_ev_row *row) {
  check_ctx *c = ud;
  char k[256];
  hop_event_key_str(k, sizeof(k), row->project, row->domain, row->run_name, row->name, row->attempt,
          row->phase, row->version);
  c->rows++;
  size_t i = hop_keyset_find(c->acked, k, 0);
  if (i != SIZE_MAX) c->acked->hits[i] = 1;
  return 0;
}

/* Counts the rows of the design's runs and the acknowledged events missing from them. */
static int check_store(const char *url, const hop_exec_config *ec, const hop_exec_result *ex,
                       outcome *o, char *err, size_t errlen) {
  hop_keyset acked, runs;
  if (hop_keyset_init(&acked, ex->acknowledged + 1) || hop_keyset_init(&runs, ex->actions / 4 + 16)) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  char k[256];
  for (uint64_t a = 0; a < ex->actions; a++) {
    unsigned ne = hop_evgen_action_events(&ec->gen, a);
    for (unsigned s = 0; s < ne; s++) {
      hop_evgen_key key;
      if (hop_evgen_key_of(&ec->gen, a, s, &key)) continue;
      if (s == 0) {
        snprintf(k, sizeof(k), "%s\x1f%s\x1f%s", key.project, key.domain, key.run_name);
        hop_keyset_find(&runs, k, 1);
      }
      if (!hop_exec_acked(ex, a, s)) continue;
      hop_event_key_str(k, sizeof(k), key.project, key.domain, key.run_name, key.name, key.attempt,
              key.phase, key.version);
      hop_keyset_find(&acked, k, 1);
    }
  }
  hop_store_config sc;
  hop_store_config_init(&sc);
  sc.url = url;
  sc.writers = 1;
  hop_store *st = NULL;
  int rv = hop_store_open(&st, &sc, err, errlen);
  int opened = rv == 0;
  check_ctx cc = {&acked, 0};
  for (size_t i = 0; rv == 0 && i < runs.cap; i++) {
    if (!runs.slot[i]) continue;
    char p[64], d[64], r[64];
    if (sscanf(runs.slot[i], "%63[^\x1f]\x1f%63[^\x1f]\x1f%63s", p, d, r) != 3) continue;
    rv = hop_store_list(st, p, d, r, on_stored, &cc, err, errlen);
  }
  if (opened) hop_store_close(st);
  uint64_t found = 0;
  for (size_t i = 0; i < acked.cap; i++) found += acked.hits[i];
  o->rows = cc.rows;
  o->lost = acked.n - found;
  hop_keyset_free(&acked);
  hop_keyset_free(&runs);
  return rv ? -1 : 0;
}

/* ---- one design ---- */

static void store_url_for(const hop_demo_config *cfg, const char *tmpdir, int id, char *out,
                          size_t n) {
  if (!cfg->store) {
    snprintf(out, n, "sqlite:%s/design%d.db", tmpdir, id);
  } else if (!strncmp(cfg->store, "sqlite:", 7)) {
    const char *path = cfg->store + 7;
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash))
      snprintf(out, n, "sqlite:%.*s-d%d%s", (int)(dot - path), path, id, dot);
    else
      snprintf(out, n, "sqlite:%s-d%d", path, id);
  } else {
    snprintf(out, n, "%s", cfg->store); /* PostgreSQL: shared; the runs differ per design */
  }
}

static int run_design(const hop_demo_config *cfg, const design *d, const char *tmpdir,
                      uint64_t seed, hop_client *scraper, outcome *o) {
  char url[1024], threads[16], run_url[64], target[64];
  store_url_for(cfg, tmpdir, d->id, url, sizeof(url));
  snprintf(threads, sizeof(threads), "%u", cfg->service_threads);
  hop_child rs = {.pid = -1}, px = {.pid = -1};
  char *rs_args[16] = {"run-service", "--listen", "127.0.0.1:0", "--store", url, "--group-commit",
                       d->group_commit ? "on" : "off"};
  size_t na = 7;
  if (cfg->service_threads) rs_args[na++] = "--threads", rs_args[na++] = threads;
  rs_args[na] = NULL;
  if (hop_child_start(&rs, cfg->exe, rs_args, !cfg->verbose, 15000, o->error, sizeof(o->error)))
    return -1;
  snprintf(run_url, sizeof(run_url), "http://127.0.0.1:%u", rs.port);
  char *px_args[16] = {"events-proxy", "--listen", "127.0.0.1:0", "--run-service", run_url,
                       "--http", (char *)d->proxy_http};
  na = 7;
  if (cfg->service_threads) px_args[na++] = "--threads", px_args[na++] = threads;
  px_args[na] = NULL;
  if (hop_child_start(&px, cfg->exe, px_args, !cfg->verbose, 15000, o->error, sizeof(o->error))) {
    hop_child_stop(&rs, 10000);
    return -1;
  }
  snprintf(target, sizeof(target), "http://127.0.0.1:%u", px.port);

  hop_exec_config ec;
  hop_exec_config_init(&ec);
  ec.target = target;
  ec.actions = cfg->actions;
  ec.concurrency = cfg->concurrency;
  ec.no_batch = d->no_batch;
  ec.policy = d->policy;
  ec.http = d->http;
  ec.deadline_ms = cfg->duration_ms;
  ec.gen.seed = seed + (uint64_t)d->id; /* distinct run names per design */
  double cpu0 = hop_self_cpu_s();
  int rv = hop_exec_run(&ec, &o->ex);
  o->exec_cpu_s = hop_self_cpu_s() - cpu0;
  o->exec_rss_kib = o->ex.rss_kib;
  if (rv) snprintf(o->error, sizeof(o->error), "executor: %s", hop_strerror(rv));

  o->time_wait = hop_time_wait_count(px.port) + hop_time_wait_count(rs.port);
  char *pm = NULL, *rm = NULL;
  hop_prom_fetch(scraper, px.port, &pm);
  hop_prom_fetch(scraper, rs.port, &rm);
  o->dials_proxy_run = (uint64_t)hop_prom_value(pm, "hopwire_proxy_downstream_dials_total");
  o->duplicates = (uint64_t)hop_prom_value(rm, "hopwire_store_duplicates_total");
  o->store_txns = (uint64_t)hop_prom_value(rm, "hopwire_store_transactions_total");
  free(pm);
  free(rm);
  o->proxy_cpu_s = hop_child_cpu_s(&px);
  o->run_cpu_s = hop_child_cpu_s(&rs);
  o->proxy_rss_kib = hop_child_rss_kib(&px, 1);
  o->run_rss_kib = hop_child_rss_kib(&rs, 1);
  int pst = hop_child_stop(&px, 15000);
  int rst = hop_child_stop(&rs, 15000);
  if (!rv && (pst != 0 || rst != 0)) {
    snprintf(o->error, sizeof(o->error), "services did not drain cleanly (proxy exit %d, "
             "run-service exit %d)", pst, rst);
    rv = -1;
  }
  if (!rv && check_store(url, &ec, &o->ex, o, o->error, sizeof(o->error))) rv = -1;
  o->ran = rv == 0;
  return rv ? -1 : 0;
}

/* ---- reports ---- */

static double fin(double v) { return isfinite(v) ? v : 0.0; }

static void write_json(FILE *f, const design *d, const outcome *o) {
  const hop_exec_result *e = &o->ex;
  fprintf(f,
          "{\"design\":%d,\"name\":\"%s\",\"actions\":%llu,\"events\":%llu,\"acknowledged\":%llu,"
          "\"events_per_s\":%.1f,\"p50_us\":%llu,\"p90_us\":%llu,\"p99_us\":%llu,\"max_us\":%llu,"
          "\"rpcs\":%llu,\"mean_batch\":%.1f,\"dials_executor_proxy\":%llu,"
          "\"dials_proxy_run_service\":%llu,\"time_wait\":%ld,\"rows\":%llu,\"duplicates\":%llu,"
          "\"lost\":%llu,\"errors\":%llu,\"re_emits\":%llu,\"transactions\":%llu,\"cpu_s\":%.3f,"
          "\"cpu_executor_s\":%.3f,\"cpu_proxy_s\":%.3f,\"cpu_run_service_s\":%.3f,"
          "\"rss_executor_kib\":%llu,\"rss_proxy_kib\":%llu,\"rss_run_service_kib\":%llu,"
          "\"elapsed_s\":%.3f}\n",
          d->id, d->name, (unsigned long long)e->actions, (unsigned long long)e->events,
          (unsigned long long)e->acknowledged, fin(e->events_per_s),
          (unsigned long long)e->latency.p50_us, (unsigned long long)e->latency.p90_us,
          (unsigned long long)e->latency.p99_us, (unsigned long long)e->latency.max_us,
          (unsigned long long)e->rpcs, fin(e->mean_batch), (unsigned long long)e->dials,
          (unsigned long long)o->dials_proxy_run, o->time_wait, (unsigned long long)o->rows,
          (unsigned long long)o->duplicates, (unsigned long long)o->lost,
          (unsigned long long)e->errors, (unsigned long long)e->re_emits,
          (unsigned long long)o->store_txns,
          fin(o->exec_cpu_s + o->proxy_cpu_s + o->run_cpu_s), fin(o->exec_cpu_s),
          fin(o->proxy_cpu_s), fin(o->run_cpu_s), (unsigned long long)o->exec_rss_kib,
          (unsigned long long)o->proxy_rss_kib, (unsigned long long)o->run_rss_kib,
          fin(e->elapsed_s));
}

static void fmt_ms(char *out, size_t n, uint64_t us) {
  if (us >= 100000) snprintf(out, n, "%.0f", (double)us / 1000.0);
  else snprintf(out, n, "%.1f", (double)us / 1000.0);
}

static void write_table(FILE *f, const hop_demo_config *cfg, const outcome *os, const char *store) {
  fprintf(f, "hopwire demo: %llu actions per design, %u reconcilers, store %s\n\n",
          (unsigned long long)cfg->actions, cfg->concurrency, store);
  fprintf(f, "%-2s %-44s %9s %7s %7s %7s %6s %6s %5s %7s %7s %5s %5s %13s\n", "#", "design",
          "events/s", "p50 ms", "p99 ms", "RPCs", "dials", "dials", "TIME_", "rows", "dups",
          "lost", "re-", "CPU s");
  fprintf(f, "%-2s %-44s %9s %7s %7s %7s %6s %6s %5s %7s %7s %5s %5s %13s\n", "", "", "", "", "",
          "", "ex->px", "px->rs", "WAIT", "", "", "", "emits", "exec/px/rs");
  for (int i = 0; i < HOP_DEMO_DESIGNS; i++) {
    const design *d = &designs[i];
    const outcome *o = &os[i];
    if (!(cfg->designs & (1u << i))) continue;
    if (!o->ran && o->error[0]) {
      fprintf(f, "%-2d %-44s  failed: %s\n", d->id, d->name, o->error);
      continue;
    }
    char p50[16], p99[16], cpu[32];
    fmt_ms(p50, sizeof(p50), o->ex.latency.p50_us);
    fmt_ms(p99, sizeof(p99), o->ex.latency.p99_us);
    snprintf(cpu, sizeof(cpu), "%.1f/%.1f/%.1f", o->exec_cpu_s, o->proxy_cpu_s, o->run_cpu_s);
    fprintf(f, "%-2d %-44s %9.0f %7s %7s %7llu %6llu %6llu %5ld %7llu %7llu %5llu %5llu %13s\n",
            d->id, d->name, fin(o->ex.events_per_s), p50, p99, (unsigned long long)o->ex.rpcs,
            (unsigned long long)o->ex.dials, (unsigned long long)o->dials_proxy_run, o->time_wait,
            (unsigned long long)o->rows, (unsigned long long)o->duplicates,
            (unsigned long long)o->lost, (unsigned long long)o->ex.re_emits, cpu);
  }
  const outcome *o1 = &os[0], *o4 = &os[3], *o5 = &os[4];
  fprintf(f, "\n");
  if (o1->ran && o5->ran && o1->ex.events_per_s > 0)
    fprintf(f, "design 5 vs 1: %.1fx events/s, p99 %.1f ms vs %.1f ms\n",
            o5->ex.events_per_s / o1->ex.events_per_s, (double)o5->ex.latency.p99_us / 1000.0,
            (double)o1->ex.latency.p99_us / 1000.0);
  if (o4->ran && o5->ran && o4->ex.events_per_s > 0)
    fprintf(f, "design 5 vs 4: %.2fx events/s, p50 %.1f ms vs %.1f ms\n",
            o5->ex.events_per_s / o4->ex.events_per_s, (double)o5->ex.latency.p50_us / 1000.0,
            (double)o4->ex.latency.p50_us / 1000.0);
  fprintf(f, "memory (peak RSS KiB, executor/proxy/run-service):");
  for (int i = 0; i < HOP_DEMO_DESIGNS; i++)
    if (os[i].ran)
      fprintf(f, " %d: %llu/%llu/%llu", designs[i].id, (unsigned long long)os[i].exec_rss_kib,
              (unsigned long long)os[i].proxy_rss_kib, (unsigned long long)os[i].run_rss_kib);
  fprintf(f, "\n");
}

static const char *const colors[HOP_DEMO_DESIGNS] = {"#d62728", "#ff7f0e", "#9467bd", "#8c564b",
                                                     "#1f77b4"};

/* Latency CDF per design (log time axis) and an events/s bar per design. */
static int write_svg(const char *path, const hop_demo_config *cfg, const outcome *os) {
  FILE *f = fopen(path, "we");
  if (!f) return -1;
  const double W = 900, H = 760, L = 70, T = 60, pw = 560, ph = 380, BT = 520, bh = 200;
  uint64_t lo = UINT64_MAX, hi = 0;
  for (int i = 0; i < HOP_DEMO_DESIGNS; i++) {
    const hop_hist *h = os[i].ex.hist;
    if (!os[i].ran || !h || !hop_hist_count(h)) continue;
    if (hop_hist_min(h) < lo) lo = hop_hist_min(h);
    if (hop_hist_max(h) > hi) hi = hop_hist_max(h);
  }
  if (hi == 0) lo = 1, hi = 10;
  if (lo < 1) lo = 1;
  double dlo = floor(log10((double)lo)), dhi = ceil(log10((double)hi));
  if (dhi <= dlo) dhi = dlo + 1;
#define XOF(us) (L + (log10((double)(us) < 1 ? 1.0 : (double)(us)) - dlo) / (dhi - dlo) * pw)
#define YOF(q) (T + ph - (q) * ph)
  fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
             "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" "
             "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
          W, H, W, H);
  fprintf(f, "<text x=\"%.0f\" y=\"24\" font-size=\"16\" font-weight=\"bold\">hopwire demo: "
             "Record latency CDF and events/s per design</text>\n", L);
  fprintf(f, "<text x=\"%.0f\" y=\"44\" fill=\"#444\">%llu actions per design, %u reconcilers"
             "</text>\n", L, (unsigned long long)cfg->actions, cfg->concurrency);
  fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
             "stroke=\"#888\"/>\n", L, T, pw, ph);
  for (double dd = dlo; dd <= dhi + 1e-9; dd += 1) {
    double us = pow(10, dd), x = XOF(us);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#ddd\"/>\n", x, T,
            x, T + ph);
    if (us >= 1e6) fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%gs</text>\n", x, T + ph + 16, us / 1e6);
    else if (us >= 1e3) fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%gms</text>\n", x, T + ph + 16, us / 1e3);
    else fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%gus</text>\n", x, T + ph + 16, us);
  }
  static const double qs[] = {0, 0.5, 0.9, 0.99};
  for (size_t k = 0; k < 4; k++)
    fprintf(f, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
               "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%g%%</text>\n",
            L, YOF(qs[k]), L + pw, YOF(qs[k]), L - 6, YOF(qs[k]) + 4, qs[k] * 100);
  double maxrate = 1;
  for (int i = 0; i < HOP_DEMO_DESIGNS; i++)
    if (os[i].ran && os[i].ex.events_per_s > maxrate) maxrate = os[i].ex.events_per_s;
  int legend = 0;
  for (int i = 0; i < HOP_DEMO_DESIGNS; i++) {
    const hop_hist *h = os[i].ex.hist;
    if (!os[i].ran || !h || !hop_hist_count(h)) continue;
    uint64_t total = hop_hist_count(h), upper, count, cum = 0;
    size_t it = 0;
    double py = YOF(0.0);
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", colors[i]);
    while (hop_hist_next(h, &it, &upper, &count)) {
      double x = XOF(upper);
      fprintf(f, "%.1f,%.1f ", x, py);
      cum += count;
      py = YOF((double)cum / (double)total);
      fprintf(f, "%.1f,%.1f ", x, py);
    }
    fputs("\"/>\n", f);
    double ly = T + 10 + 44.0 * legend++, lx = L + pw + 16;
    fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"%s\" "
               "stroke-width=\"3\"/><text x=\"%.0f\" y=\"%.0f\" font-weight=\"bold\">%d: %s</text>"
               "<text x=\"%.0f\" y=\"%.0f\" fill=\"#444\">p50 %.1f ms, p99 %.1f ms</text>\n",
            lx, ly, lx + 20, ly, colors[i], lx + 26, ly + 4, designs[i].id, designs[i].name,
            lx + 26, ly + 20, (double)os[i].ex.latency.p50_us / 1e3,
            (double)os[i].ex.latency.p99_us / 1e3);
    /* The bar. */
    double bw = pw / HOP_DEMO_DESIGNS * 0.6;
    double bx = L + pw / HOP_DEMO_DESIGNS * (i + 0.2);
    double bhgt = os[i].ex.events_per_s / maxrate * bh;
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>"
               "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f/s</text>"
               "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">design %d</text>\n",
            bx, BT + bh - bhgt, bw, bhgt, colors[i], bx + bw / 2, BT + bh - bhgt - 4,
            fin(os[i].ex.events_per_s), bx + bw / 2, BT + bh + 16, designs[i].id);
  }
  fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#888\"/>\n", L,
          BT + bh, L + pw, BT + bh);
  fputs("</svg>\n", f);
#undef XOF
#undef YOF
  int bad = ferror(f);
  return fclose(f) || bad ? -1 : 0;
}

int hop_demo_run(const hop_demo_config *cfg, FILE *out) {
  char tmpdir[] = "/tmp/hopwire-demo.XXXXXX";
  if (!mkdtemp(tmpdir)) {
    perror("hopwire demo: mkdtemp");
    return -1;
  }
  hop_client_config cc;
  hop_client_config_init(&cc);
  cc.http = HOP_HTTP_H1;
  hop_client *scraper;
  if (hop_client_new(&scraper, &cc)) {
    fprintf(stderr, "hopwire demo: cannot start a client\n");
    rmdir(tmpdir);
    return -1;
  }
  uint64_t seed = cfg->seed ? cfg->seed : (uint64_t)time(NULL) * 1000003u + (uint64_t)getpid();
  outcome *os = calloc(HOP_DEMO_DESIGNS, sizeof(*os));
  if (!os) {
    hop_client_free(scraper);
    rmdir(tmpdir);
    return -1;
  }
  int failed = 0;
  for (int i = 0; i < HOP_DEMO_DESIGNS; i++) {
    if (!(cfg->designs & (1u << i))) continue;
    if (!cfg->json) {
      fprintf(stderr, "design %d: %s ...\n", designs[i].id, designs[i].name);
      fflush(stderr);
    }
    if (run_design(cfg, &designs[i], tmpdir, seed, scraper, &os[i])) {
      fprintf(stderr, "hopwire demo: design %d failed: %s\n", designs[i].id, os[i].error);
      failed = 1;
      continue;
    }
    const outcome *o = &os[i];
    if (o->lost || o->rows != o->ex.acknowledged || o->ex.acknowledged != o->ex.events) {
      fprintf(stderr,
              "hopwire demo: design %d check failed: %llu events, %llu acknowledged, %llu rows "
              "stored, %llu acknowledged events missing from the store\n",
              designs[i].id, (unsigned long long)o->ex.events,
              (unsigned long long)o->ex.acknowledged, (unsigned long long)o->rows,
              (unsigned long long)o->lost);
      failed = 1;
    }
    if (cfg->json) {
      write_json(out, &designs[i], o);
      fflush(out);
    }
  }
  char store[1100];
  if (cfg->store) snprintf(store, sizeof(store), "%s", cfg->store);
  else snprintf(store, sizeof(store), "sqlite (temp file per design, synchronous=full)");
  if (!cfg->json) write_table(out, cfg, os, store);
  if (cfg->plot && write_svg(cfg->plot, cfg, os)) {
    fprintf(stderr, "hopwire demo: cannot write %s\n", cfg->plot);
    failed = 1;
  }
  for (int i = 0; i < HOP_DEMO_DESIGNS; i++) hop_exec_result_free(&os[i].ex);
  free(os);
  hop_client_free(scraper);
  if (!cfg->store) { /* the temp stores */
    char p[600];
    for (int i = 0; i < HOP_DEMO_DESIGNS; i++) {
      static const char *const sfx[] = {"", "-wal", "-shm"};
      for (int s = 0; s < 3; s++) {
        snprintf(p, sizeof(p), "%s/design%d.db%s", tmpdir, i + 1, sfx[s]);
        unlink(p);
      }
    }
  }
  rmdir(tmpdir);
  return failed ? 1 : 0;
}
