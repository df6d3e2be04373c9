/* Integration: the simulated executor (apps/events/executor.h) against a fake events-proxy in
 * this process (hop_server + hop_rpc_server answering EventsProxyService/Record on 127.0.0.1,
 * port 0). The fake decodes every request with protoc-c and asserts Flyte's traffic: 1..400
 * events per Record, Connect-Timeout-Ms ~30000, org "", attempts and phases in each action's
 * plan order (no gaps, no reordering), 400-700 bytes per event. It can fail the first K
 * Records (Connect internal) to make the executor re-emit.
 *
 * `test_pipeline_executor --serve [--fail-first K] [--delay-us D] [--light]` runs the fake alone
 * (prints "listening on 127.0.0.1:PORT", stops on SIGTERM or SIGINT): the CLI script test
 * and measurements use it.
 *
 * ctest: RUN_SERIAL */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "events/eventgen.h"
#include "events/executor.h"
#include "flyteidl2/workflow/events_proxy_service.pb-c.h"
#include "hopwire/error.h"
#include "hopwire/rpc.h"
#include "hopwire/server.h"

#define MAX_ACTIONS 4096

typedef struct fake_proxy {
  hop_server *srv;
  hop_rpc_server *rs;
  char base[64];
  hop_evgen_config gen;
  pthread_mutex_t mu;
  int fail_first; /* the first K Records fail with Connect internal */
  uint64_t delay_us;
  /* what was seen */
  uint64_t records, failed, events, min_n, max_n, min_bytes, max_bytes;
  uint64_t timeout_min, timeout_max, no_timeout;
  uint64_t bad_org, bad_order, bad_decode, bad_key, dups;
  uint8_t next_seq[MAX_ACTIONS];
  int light; /* serve --light: count the framing only (measurements: the proxy's CPU out of
                the way) */
} fake_proxy;

static int64_t hdr_num(const char *v) { return v ? strtoll(v, NULL, 10) : -1; }

/* Action index and plan position of an event; -1 if it is not one the generator makes. */
static int locate(fake_proxy *p, const Flyteidl2__Workflow__ActionEvent *e, uint64_t *action,
                  unsigned *seq) {
  if (!e->id || !e->id->run) return -1;
  const char *dash = strrchr(e->id->run->name, '-');
  if (!dash || e->id->name[0] != 'a') return -1;
  uint64_t run = strtoull(dash + 1, NULL, 10);
  uint64_t a = run * p->gen.actions_per_run + strtoull(e->id->name + 1, NULL, 10);
  unsigned n = hop_evgen_action_events(&p->gen, a);
  for (unsigned s = 0; s < n; s++) {
    hop_evgen_key k;
    hop_evgen_key_of(&p->gen, a, s, &k);
    if (k.attempt == e->attempt && k.phase == (int32_t)e->phase && k.version == e->version &&
        !strcmp(k.run_name, e->id->run->name) && !strcmp(k.project, e->id->run->project) &&
        !strcmp(k.domain, e->id->run->domain) && !strcmp(k.name, e->id->name)) {
      *action = a;
      *seq = s;
      return 0;
    }
  }
  return -1;
}

typedef struct delayed {
  uv_timer_t t;
  hop_rpc_request *rq;
  int fail;
} delayed;

static void answer(hop_rpc_request *rq, int fail) {
  if (fail)
    hop_rpc_fail(rq, HOP_CODE_INTERNAL, "run service failed: injected", NULL, 0);
  else
    hop_rpc_reply(rq, "", 0); /* an empty RecordResponse */
}

static void on_delay_close(uv_handle_t *h) { free(h->data); }
static void on_delay(uv_timer_t *t) {
  delayed *d = t->data;
  answer(d->rq, d->fail);
  t->data = d;
  uv_close((uv_handle_t *)t, on_delay_close);
}

static void on_record(hop_rpc_request *rq, void *ud) {
  fake_proxy *p = ud;
  size_t len;
  const uint8_t *body = hop_rpc_request_message(rq, &len);
  int fail = 0;
  int64_t tmo = hdr_num(hop_rpc_request_header(rq, "connect-timeout-ms"));
  /* event sizes from the framing (0x0a varint len ...) */
  uint64_t mn = UINT64_MAX, mx = 0;
  for (size_t i = 0; i < len;) {
    if (body[i++] != 0x0a) break;
    uint64_t v = 0;
    for (int s = 0; i < len && s < 64; s += 7) {
      uint8_t c = body[i++];
      v |= (uint64_t)(c & 0x7f) << s;
      if (!(c & 0x80)) break;
    }
    if (v < mn) mn = v;
    if (v > mx) mx = v;
    i += v;
  }
  if (p->light) {
    pthread_mutex_lock(&p->mu);
    fail = p->records < (uint64_t)p->fail_first;
    p->records++;
    p->failed += fail;
    pthread_mutex_unlock(&p->mu);
    if (!p->delay_us) {
      answer(rq, fail);
      return;
    }
  }
  Flyteidl2__Workflow__RecordRequest *req =
      p->light ? NULL : flyteidl2__workflow__record_request__unpack(NULL, len, body);
  if (p->light) goto reply;
  pthread_mutex_lock(&p->mu);
  fail = p->records < (uint64_t)p->fail_first;
  p->records++;
  if (tmo < 0) p->no_timeout++;
  if (tmo >= 0 && (uint64_t)tmo < p->timeout_min) p->timeout_min = (uint64_t)tmo;
  if (tmo >= 0 && (uint64_t)tmo > p->timeout_max) p->timeout_max = (uint64_t)tmo;
  if (!req) {
    p->bad_decode++;
  } else {
    if (req->n_events < p->min_n) p->min_n = req->n_events;
    if (req->n_events > p->max_n) p->max_n = req->n_events;
    if (mn < p->min_bytes) p->min_bytes = mn;
    if (mx > p->max_bytes) p->max_bytes = mx;
    if (fail) {
      p->failed++;
    } else {
      for (size_t i = 0; i < req->n_events; i++) {
        const Flyteidl2__Workflow__ActionEvent *e = req->events[i];
        p->events++;
        if (!e->id || !e->id->run || strcmp(e->id->run->org, "") || e->attempt < 1) p->bad_org++;
        uint64_t a;
        unsigned s;
        if (locate(p, e, &a, &s) || a >= MAX_ACTIONS) {
          p->bad_key++;
          continue;
        }
        if (s == p->next_seq[a])
          p->next_seq[a]++;
        else if (s < p->next_seq[a])
          p->dups++; /* a re-emit whose first answer was lost: allowed, absorbed by the store */
        else
          p->bad_order++;
      }
    }
  }
  pthread_mutex_unlock(&p->mu);
  if (req) flyteidl2__workflow__record_request__free_unpacked(req, NULL);
reply:
  if (p->delay_us) {
    delayed *d = calloc(1, sizeof(*d));
    if (d && uv_timer_init(hop_rpc_request_loop(rq), &d->t) == 0) {
      d->rq = rq;
      d->fail = fail;
      d->t.data = d;
      uv_timer_start(&d->t, on_delay, p->delay_us / 1000 ? p->delay_us / 1000 : 1, 0);
      return;
    }
    free(d);
  }
  answer(rq, fail);
}

static int proxy_start(fake_proxy *p, int fail_first, uint64_t delay_us, int light) {
  memset(p, 0, sizeof(*p));
  pthread_mutex_init(&p->mu, NULL);
  hop_evgen_config_init(&p->gen);
  p->fail_first = fail_first;
  p->delay_us = delay_us;
  p->light = light;
  p->min_n = p->min_bytes = p->timeout_min = UINT64_MAX;
  hop_server_config cfg;
  hop_server_config_init(&cfg);
  cfg.host = "127.0.0.1";
  cfg.port = 0;
  cfg.threads = 1;
  cfg.max_concurrent_streams = 1000;
  if (hop_server_new(&p->srv, &cfg) || hop_rpc_server_new(&p->rs, p->srv, NULL)) return -1;
  if (hop_rpc_server_handle(p->rs, HOP_EVENTS_RECORD_PROCEDURE, on_record, p, 0)) return -1;
  if (hop_server_start(p->srv)) return -1;
  snprintf(p->base, sizeof(p->base), "http://127.0.0.1:%u", hop_server_port(p->srv));
  return 0;
}

static void proxy_stop(fake_proxy *p) {
  hop_server_stop(p->srv);
  hop_server_wait(p->srv);
  hop_server_free(p->srv);
  hop_rpc_server_free(p->rs);
  pthread_mutex_destroy(&p->mu);
}

/* Runs the executor; asserts the traffic and that every planned event was acknowledged. */
static void run_and_check(hop_exec_config *c, int fail_first, uint64_t delay_us,
                          unsigned max_batch_allowed, hop_exec_result *out) {
  static fake_proxy p;
  assert_int_equal(proxy_start(&p, fail_first, delay_us, 0), 0);
  c->target = p.base;
  hop_exec_result r;
  assert_int_equal(hop_exec_run(c, &r), HOP_OK);
  print_message("%-9s %-10s %-9s C=%-4u: %llu events, %llu rpcs (mean %.1f, max %llu), "
                "%llu dials, %llu errors, %llu re-emits, %.0f ev/s, p99 %llu us, cpu %.2f s\n",
                c->no_batch ? "no-batch" : c->policy == HOP_BATCH_FLYTE ? "flyte" : "adaptive",
                hop_exec_http_name(c->http), c->mode == HOP_EXEC_THREADS ? "threads" : "async",
                c->concurrency, (unsigned long long)r.events, (unsigned long long)r.rpcs,
                r.mean_batch, (unsigned long long)r.max_batch, (unsigned long long)r.dials,
                (unsigned long long)r.errors, (unsigned long long)r.re_emits, r.events_per_s,
                (unsigned long long)r.latency.p99_us, r.cpu_s);
  proxy_stop(&p);
  /* the executor's own account */
  assert_int_equal(r.events, r.planned);
  assert_int_equal(r.acknowledged, r.planned);
  assert_int_equal(r.records, r.events + r.re_emits);
  assert_true(r.min_event_bytes >= 400 && r.max_event_bytes <= 700);
  for (uint64_t a = 0; a < c->actions; a++)
    for (unsigned s = 0; s < hop_evgen_action_events(&c->gen, a); s++)
      assert_true(hop_exec_acked(&r, a, s));
  assert_false(hop_exec_acked(&r, c->actions, 0));
  /* what the proxy saw */
  assert_int_equal(p.bad_decode, 0);
  assert_int_equal(p.bad_org, 0);
  assert_int_equal(p.bad_key, 0);
  assert_int_equal(p.bad_order, 0);
  assert_int_equal(p.no_timeout, 0);
  assert_true(p.timeout_max <= 30000 && p.timeout_min >= 25000);
  assert_true(p.min_n >= 1 && p.max_n <= max_batch_allowed);
  assert_true(p.min_bytes >= 400 && p.max_bytes <= 700);
  assert_int_equal(p.failed, (uint64_t)fail_first);
  assert_int_equal(p.records, r.rpcs);
  assert_int_equal(p.events, r.planned + p.dups);
  for (uint64_t a = 0; a < c->actions; a++)
    assert_int_equal(p.next_seq[a], hop_evgen_action_events(&c->gen, a));
  if (fail_first) {
    assert_true(r.errors >= 1);
    assert_true(r.re_emits >= 1);
  } else {
    assert_int_equal(r.errors, 0);
    assert_int_equal(r.re_emits, 0);
  }
  if (out)
    *out = r;
  else
    hop_exec_result_free(&r);
}

static void base_cfg(hop_exec_config *c, uint64_t actions, uint32_t conc) {
  hop_exec_config_init(c);
  c->actions = actions;
  c->concurrency = conc;
  c->deadline_ms = 60000;
}

static void test_adaptive_h2c(void **state) {
  hop_exec_config c;
  base_cfg(&c, 1000, 512);
  hop_exec_result r;
  run_and_check(&c, 0, 1000, 400, &r);
  assert_true(r.mean_batch > 2); /* 512 reconcilers behind a 1 ms proxy: batches form */
  assert_int_equal(r.dials, 1);
  hop_exec_result_free(&r);
}

static void test_flyte_h1_pool(void **state) {
  hop_exec_config c;
  base_cfg(&c, 300, 64);
  c.policy = HOP_BATCH_FLYTE;
  c.batch_delay_us = 5000;
  c.http = HOP_EXEC_H1_POOL;
  run_and_check(&c, 0, 0, 400, NULL);
}

static void test_batch_cap(void **state) {
  hop_exec_config c;
  base_cfg(&c, 400, 256);
  c.batch_max = 50;
  hop_exec_result r;
  run_and_check(&c, 0, 2000, 50, &r);
  assert_true(r.max_batch <= 50);
  hop_exec_result_free(&r);
}

static void test_no_batch_h1_default(void **state) {
  hop_exec_config c;
  base_cfg(&c, 100, 16);
  c.no_batch = 1;
  c.http = HOP_EXEC_H1_DEFAULT;
  hop_exec_result r;
  run_and_check(&c, 0, 0, 1, &r);
  assert_int_equal(r.rpcs, r.records);
  hop_exec_result_free(&r);
}

static void test_threads_mode(void **state) {
  hop_exec_config c;
  base_cfg(&c, 200, 32);
  c.mode = HOP_EXEC_THREADS;
  run_and_check(&c, 0, 0, 400, NULL);
  c.no_batch = 1;
  run_and_check(&c, 0, 0, 1, NULL);
}

/* The first K Records fail in-band: the executor re-emits until all are acknowledged. */
static void test_failures_re_emitted(void **state) {
  hop_exec_config c;
  base_cfg(&c, 200, 32);
  hop_exec_result r;
  run_and_check(&c, 5, 0, 400, &r);
  assert_true(r.re_emits >= 5);
  hop_exec_result_free(&r);
  base_cfg(&c, 60, 8);
  c.no_batch = 1;
  run_and_check(&c, 7, 0, 1, &r);
  assert_int_equal(r.errors, 7);
  assert_int_equal(r.re_emits, 7);
  hop_exec_result_free(&r);
}

/* No proxy: bounded by the run deadline, nothing acknowledged, no crash. */
static void test_unreachable_target_bounded(void **state) {
  hop_exec_config c;
  base_cfg(&c, 10, 4);
  c.target = "http://127.0.0.1:1";
  c.deadline_ms = 1500;
  c.record_timeout_ms = 1000;
  hop_exec_result r;
  assert_int_equal(hop_exec_run(&c, &r), HOP_OK);
  assert_int_equal(r.acknowledged, 0);
  assert_true(r.errors >= 1);
  assert_true(r.elapsed_s < 20);
  hop_exec_result_free(&r);
  c.concurrency = 0;
  assert_int_equal(hop_exec_run(&c, &r), HOP_EINVAL);
}

static int serve_main(int argc, char **argv) {
  int fail = 0;
  uint64_t delay = 0;
  int light = 0;
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--light")) light = 1;
    else if (!strcmp(argv[i], "--fail-first") && i + 1 < argc) fail = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--delay-us") && i + 1 < argc) delay = strtoull(argv[++i], NULL, 10);
  }
  static fake_proxy p;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL); /* the workers inherit it; sigwait below */
  if (proxy_start(&p, fail, delay, light)) return 1;
  printf("listening on 127.0.0.1:%u\n", hop_server_port(p.srv));
  fflush(stdout);
  int sig;
  sigwait(&set, &sig);
  pthread_mutex_lock(&p.mu);
  fprintf(stderr, "fake proxy: %llu records (%llu failed), %llu events, batches %llu..%llu\n",
          (unsigned long long)p.records, (unsigned long long)p.failed,
          (unsigned long long)p.events, (unsigned long long)(p.min_n == UINT64_MAX ? 0 : p.min_n),
          (unsigned long long)p.max_n);
  pthread_mutex_unlock(&p.mu);
  proxy_stop(&p);
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--serve")) return serve_main(argc, argv);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_adaptive_h2c),
      cmocka_unit_test(test_flyte_h1_pool),
      cmocka_unit_test(test_batch_cap),
      cmocka_unit_test(test_no_batch_h1_default),
      cmocka_unit_test(test_threads_mode),
      cmocka_unit_test(test_failures_re_emitted),
      cmocka_unit_test(test_unreachable_target_bounded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
