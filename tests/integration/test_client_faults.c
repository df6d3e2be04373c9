/* Client fault handling against scripted peers (tests/peers/h2_fault_peer.py), `hopwire
 * serve` and the Node.js peer: GOAWAY and REFUSED_STREAM retried transparently, resets not
 * replayed unless replayable, truncated responses never succeed, black holes and dead peers
 * closed by the handshake / PING timeouts, refused dials, deadlines, cancel from another
 * thread, shutdown with calls pending.
 * ctest: RUN_SERIAL
 * ctest: TIMEOUT=180 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdatomic.h>

#include "test_client_util.h"

typedef struct cb_rec {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int n, ok, fails;
  int errs[64];
  unsigned attempts[64];
  long done_ms[64];
} cb_rec;

static void rec_init(cb_rec *r) {
  memset(r, 0, sizeof(*r));
  pthread_mutex_init(&r->mu, NULL);
  pthread_cond_init(&r->cv, NULL);
}

static void rec_cb(hop_call *call, int err, const hop_response *resp, void *ud) {
  cb_rec *r = ud;
  pthread_mutex_lock(&r->mu);
  int i = r->n++;
  if (i < 64) {
    r->errs[i] = err;
    r->attempts[i] = hop_call_attempts(call);
    r->done_ms[i] = tc_now_ms();
  }
  if (err == HOP_OK && resp->status == 200) r->ok++;
  else r->fails++;
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
}

static int rec_wait(cb_rec *r, int n, int timeout_ms) {
  long end = tc_now_ms() + timeout_ms;
  pthread_mutex_lock(&r->mu);
  while (r->n < n && tc_now_ms() < end) {
    pthread_mutex_unlock(&r->mu);
    usleep(2000);
    pthread_mutex_lock(&r->mu);
  }
  int got = r->n;
  pthread_mutex_unlock(&r->mu);
  return got >= n ? 0 : -1;
}

static hop_client *h2_client(void (*tweak)(hop_client_config *)) {
  return tc_client(HOP_HTTP_H2C, tweak);
}

static void start_ids(hop_client *c, const char *url, int n, int replayable, cb_rec *r,
                      const char *prefix) {
  for (int i = 0; i < n; i++) {
    char id[32];
    snprintf(id, sizeof(id), "%s%d", prefix, i);
    hop_header hs[] = {{"x-id", 4, id, strlen(id)}};
    hop_call_opts o = {.url = url, .headers = hs, .nheaders = 1, .body = id, .body_len = strlen(id),
                       .timeout_ms = 10000, .replayable = replayable};
    assert_int_equal(hop_call_start(c, &o, rec_cb, r, NULL), HOP_OK);
  }
}

/* how many times the peer logged |id| as processed */
static int log_count(const char *path, const char *id) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  char line[256];
  int n = 0;
  while (fgets(line, sizeof(line), f)) {
    char *sp = strchr(line, ' ');
    if (!sp) continue;
    sp++;
    sp[strcspn(sp, "\n")] = '\0';
    if (strcmp(sp, id) == 0) n++;
  }
  fclose(f);
  return n;
}

static void tmp_log(char *buf, size_t len, const char *tag) {
  snprintf(buf, len, "/tmp/hop-client-%s-%d.log", tag, (int)getpid());
  unlink(buf);
}

/* A fault peer running |scenario| (logging to |logf|) and an h2c client aimed at it. */
typedef struct fault_env {
  char logf[128], url[128];
  hop_child ch;
  hop_client *c;
} fault_env;

/* |logged|: the peer logs to a temp file (e->logf); otherwise it logs nowhere. */
static void fault_open(fault_env *e, const char *scenario, int logged,
                       void (*tweak)(hop_client_config *)) {
  e->logf[0] = '\0';
  if (logged) tmp_log(e->logf, sizeof(e->logf), scenario);
  assert_int_equal(tc_spawn_fault(&e->ch, scenario, logged ? e->logf : NULL), 0);
  e->c = h2_client(tweak);
  snprintf(e->url, sizeof(e->url), "http://127.0.0.1:%u/echo", e->ch.port);
}

static void fault_start(fault_env *e, const char *scenario, void (*tweak)(hop_client_config *)) {
  fault_open(e, scenario, 1, tweak);
}

static void fault_stop(fault_env *e) {
  hop_client_free(e->c);
  hop_child_stop(&e->ch, SIGTERM, 3000);
  if (e->logf[0]) unlink(e->logf);
}

/* D1: GOAWAY with a last stream id: the unprocessed calls move to a new connection, each
 * call runs exactly once. With an error code (goaway-calm: ENHANCE_YOUR_CALM) the new dial
 * waits out the origin's backoff first; either way the connection answered streams, so it
 * is no refused dial. */
static void goaway_retried(const char *scenario) {
  fault_env e;
  fault_start(&e, scenario, NULL);
  hop_client *c = e.c;
  cb_rec r;
  rec_init(&r);
  start_ids(c, e.url, 10, 0, &r, "g"); /* not replayable: only unprocessed ones may move */
  assert_int_equal(rec_wait(&r, 10, 10000), 0);
  assert_int_equal(r.ok, 10);
  hop_client_stats s;
  hop_client_get_stats(c, &s);
  tc_print_stats(scenario, c);
  assert_int_equal(s.goaways_received, 1);
  assert_true(s.retries >= 1);
  assert_int_equal(s.dials_started, 2);
  assert_int_equal(s.dials_failed, 0);
  for (int i = 0; i < 10; i++) {
    char id[16];
    snprintf(id, sizeof(id), "g%d", i);
    assert_int_equal(log_count(e.logf, id), 1); /* each ran exactly once */
  }
  fault_stop(&e);
}

static void test_goaway_unprocessed_retried(void **state) { goaway_retried("goaway"); }
static void test_goaway_calm_unprocessed_retried(void **state) { goaway_retried("goaway-calm"); }

typedef struct storm {
  pthread_mutex_t mu;
  int n, goaway, other, first_other;
  long max_ms;
} storm;

typedef struct storm_call {
  storm *st;
  long t0;
} storm_call;

static void storm_cb(hop_call *call, int err, const hop_response *resp, void *ud) {
  storm_call *sc = ud;
  storm *st = sc->st;
  pthread_mutex_lock(&st->mu);
  st->n++;
  if (err == HOP_EGOAWAY) {
    st->goaway++;
  } else {
    st->other++;
    if (!st->first_other) st->first_other = err ? err : -1;
  }
  long el = tc_now_ms() - sc->t0;
  if (el > st->max_ms) st->max_ms = el;
  pthread_mutex_unlock(&st->mu);
}

/* A peer that answers every connection with SETTINGS + GOAWAY(error, last 0): each such
 * connection is a refused dial. Calls keep coming for 3 s: the origin's backoff grows
 * (it resets only once a connection answers a call), so dials stay few; every call ends
 * with HOP_EGOAWAY within one backoff, none hangs, nothing dials once no call waits. */
static void goaway_storm(const char *scenario) {
  fault_env e;
  fault_start(&e, scenario, NULL);
  hop_client *c = e.c;
  enum { N = 150 };
  static storm_call calls[N];
  storm st = {.n = 0};
  pthread_mutex_init(&st.mu, NULL);
  long t0 = tc_now_ms();
  for (int i = 0; i < N; i++) { /* one call every 20 ms */
    long at = t0 + 20L * i;
    while (tc_now_ms() < at) usleep(1000);
    calls[i] = (storm_call){&st, tc_now_ms()};
    hop_call_opts o = {.url = e.url, .body = "x", .body_len = 1, .timeout_ms = 10000};
    assert_int_equal(hop_call_start(c, &o, storm_cb, &calls[i], NULL), HOP_OK);
  }
  hop_client_stats s;
  hop_client_get_stats(c, &s);
  uint64_t window_dials = s.dials_started;
  long end = tc_now_ms() + 5000;
  for (;;) {
    pthread_mutex_lock(&st.mu);
    int n = st.n;
    pthread_mutex_unlock(&st.mu);
    if (n == N || tc_now_ms() > end) break;
    usleep(5000);
  }
  usleep(500000); /* nothing waits now: no more dials */
  hop_client_get_stats(c, &s);
  tc_print_stats(scenario, c);
  fprintf(stderr, "[%s] window dials=%llu calls=%d goaway=%d other=%d (%s) max=%ldms\n", scenario,
          (unsigned long long)window_dials, st.n, st.goaway, st.other,
          hop_err_name(st.first_other), st.max_ms);
  hop_client_stats s2;
  usleep(300000);
  hop_client_get_stats(c, &s2);
  int peer_conns = log_count(e.logf, "conn");
  fault_stop(&e); /* before asserting: a failure leaves no peer behind */
  pthread_mutex_destroy(&st.mu);
  assert_int_equal(st.n, N);
  assert_int_equal(st.goaway, N);
  /* backoff 25-50 ms doubling to a 1-2 s cap: 6 to 8 dials in 3 s (it was ~40 when every
   * SETTINGS reset the backoff) */
  assert_true(window_dials >= 4 && window_dials <= 10);
  assert_true(s.dials_started <= window_dials + 2);
  assert_int_equal(s.dials_failed, s.dials_started);
  assert_int_equal(s.goaways_received, s.dials_started);
  assert_int_equal(peer_conns, (int)s.dials_started);
  assert_true(st.max_ms < 3000); /* at most one capped backoff, then the cause */
  assert_int_equal(s.calls_queued, 0);
  assert_int_equal(s2.dials_started, s.dials_started);
}

static void test_goaway_calm_every_conn(void **state) { goaway_storm("calm"); }
static void test_goaway_protocol_error_every_conn(void **state) { goaway_storm("protoerr"); }

static void ping_200ms(hop_client_config *cfg) {
  cfg->ping_interval_ms = 200;
  cfg->ping_timeout_ms = 2000;
}

/* GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings") doubles the PING interval: on the next
 * connection the first PING comes after ~400 ms of silence, not ~200. */
static void test_too_many_pings_doubles_interval(void **state) {
  fault_env e;
  fault_start(&e, "pingstrike", ping_200ms);
  hop_client *c = e.c;
  hop_call_opts o = {.url = e.url, .body = "x", .body_len = 1, .timeout_ms = 5000};
  hop_result res;
  assert_int_equal(hop_client_do(c, &o, &res), HOP_OK);
  hop_result_free(&res);
  hop_client_stats s;
  long end = tc_now_ms() + 3000;
  do { /* the first PING, ~200 ms later, draws the GOAWAY */
    usleep(20000);
    hop_client_get_stats(c, &s);
  } while (s.goaways_received == 0 && tc_now_ms() < end);
  assert_int_equal(s.goaways_received, 1);
  usleep(100000);
  assert_int_equal(hop_client_do(c, &o, &res), HOP_OK); /* a second connection */
  hop_result_free(&res);
  usleep(1100000); /* two PINGs at the doubled interval */
  hop_client_get_stats(c, &s);
  tc_print_stats("pingstrike", c);
  FILE *f = fopen(e.logf, "r");
  char line[128];
  int pings = 0, bad = 0, conn, gap;
  while (f && fgets(line, sizeof(line), f)) {
    if (sscanf(line, "%d ping %d", &conn, &gap) != 2) continue;
    fprintf(stderr, "[pingstrike] conn %d: PING after %d ms of silence\n", conn, gap);
    pings++;
    if (conn != 2 || gap < 380 || gap >= 1000) bad++; /* 200 ms would be the old interval */
  }
  if (f) fclose(f);
  fault_stop(&e);
  assert_int_equal(s.dials_started, 2);
  assert_true(pings >= 1 && pings <= 3);
  assert_int_equal(bad, 0);
}

/* D3: REFUSED_STREAM is retried even for non-replayable calls. */
static void test_refused_stream_retried(void **state) {
  fault_env e;
  fault_start(&e, "refused", NULL);
  cb_rec r;
  rec_init(&r);
  start_ids(e.c, e.url, 5, 0, &r, "r");
  assert_int_equal(rec_wait(&r, 5, 10000), 0);
  assert_int_equal(r.ok, 5);
  for (int i = 0; i < 5; i++) assert_int_equal(r.attempts[i], 2);
  for (int i = 0; i < 5; i++) {
    char id[16];
    snprintf(id, sizeof(id), "r%d", i);
    assert_int_equal(log_count(e.logf, id), 1);
  }
  fault_stop(&e);
}

/* D4: RST_STREAM(INTERNAL_ERROR) after processing: no hidden replay unless replayable. */
static void test_reset_not_replayed(void **state) {
  fault_env e;
  fault_start(&e, "reset", NULL);
  cb_rec r;
  rec_init(&r);
  start_ids(e.c, e.url, 1, 0, &r, "n");
  assert_int_equal(rec_wait(&r, 1, 10000), 0);
  assert_int_equal(r.errs[0], HOP_ERESET);
  assert_int_equal(log_count(e.logf, "n0"), 1);
  start_ids(e.c, e.url, 1, 1, &r, "y");
  assert_int_equal(rec_wait(&r, 2, 10000), 0);
  assert_int_equal(r.errs[1], HOP_OK);
  assert_int_equal(r.attempts[1], 2);
  assert_int_equal(log_count(e.logf, "y0"), 2); /* replayable: at least once, here twice */
  fault_stop(&e);
}

/* D6: a response cut mid-body never completes as a success. */
static void test_truncated_response_fails(void **state) {
  fault_env e;
  fault_open(&e, "truncate", 0, NULL);
  hop_header hs[] = {HOP_HEADER("x-id", "t0")};
  hop_call_opts o = {.url = e.url, .headers = hs, .nheaders = 1, .body = "abc", .body_len = 3,
                     .timeout_ms = 5000};
  hop_result res;
  int rv = hop_client_do(e.c, &o, &res);
  assert_true(rv == HOP_ECONNRESET || rv == HOP_ERESET || rv == HOP_EPROTO);
  hop_result_free(&res);
  fault_stop(&e);
}

/* A peer answering with garbage fails the dial (HOP_EPROTO) and the origin backs off: no
 * redial storm. */
static void test_garbage_peer_fails_dial(void **state) {
  fault_env e;
  fault_open(&e, "garbage", 0, NULL);
  hop_call_opts o = {.url = e.url, .body = "x", .body_len = 1, .timeout_ms = 5000};
  hop_result res;
  assert_int_equal(hop_client_do(e.c, &o, &res), HOP_EPROTO);
  usleep(100000);
  hop_client_stats s = tc_stats(e.c);
  assert_int_equal(s.dials_started, 1);
  assert_int_equal(s.dials_failed, 1);
  fault_stop(&e);
}

static void small_headers(hop_client_config *cfg) { cfg->max_response_headers = 1024; }

/* D12: response headers over the cap fail that call (HOP_ETOOBIG); the connection lives on. */
static void test_response_header_cap_h2(void **state) {
  fault_env e;
  fault_open(&e, "bigheader", 0, small_headers);
  hop_header big[] = {HOP_HEADER("x-id", "big1")};
  hop_call_opts o = {.url = e.url, .headers = big, .nheaders = 1, .body = "x", .body_len = 1,
                     .timeout_ms = 5000};
  hop_result res;
  assert_int_equal(hop_client_do(e.c, &o, &res), HOP_ETOOBIG);
  hop_header small[] = {HOP_HEADER("x-id", "small1")};
  o.headers = small;
  assert_int_equal(hop_client_do(e.c, &o, &res), HOP_OK);
  assert_int_equal(res.status, 200);
  hop_result_free(&res);
  assert_int_equal(tc_stats(e.c).dials_started, 1);
  fault_stop(&e);
}

/* D12: a CONTINUATION flood trips libnghttp2's max_continuations: the call fails cleanly. */
static void test_continuation_flood(void **state) {
  fault_env e;
  fault_open(&e, "continuation", 0, NULL);
  hop_header hs[] = {HOP_HEADER("x-id", "c1")};
  hop_call_opts o = {.url = e.url, .headers = hs, .nheaders = 1, .body = "x", .body_len = 1,
                     .timeout_ms = 5000};
  tc_expect_call_error(e.c, &o, HOP_EPROTO, 0, 2000);
  fault_stop(&e);
}

static void short_connect(hop_client_config *cfg) { cfg->connect_timeout_ms = 300; }

/* D9: accepts TCP, never speaks: the handshake (first SETTINGS) timeout ends it. */
static void test_black_hole_times_out(void **state) {
  fault_env e;
  fault_open(&e, "blackhole", 0, short_connect);
  hop_call_opts o = {.url = e.url, .body = "x", .body_len = 1, .timeout_ms = 10000};
  tc_expect_call_error(e.c, &o, HOP_ECONNTIMEDOUT, 250, 3000);
  hop_client_stats s = tc_stats(e.c);
  assert_int_equal(s.dials_failed, 1);
  assert_int_equal(s.conns_open_h2, 0);
  fault_stop(&e);
}

static void fast_ping(hop_client_config *cfg) {
  cfg->ping_interval_ms = 100;
  cfg->ping_timeout_ms = 200;
}

/* D9: SETTINGS, then silence: the unanswered PING closes the connection. */
static void test_dead_peer_ping_timeout(void **state) {
  fault_env e;
  fault_open(&e, "stall", 0, fast_ping);
  hop_call_opts o = {.url = e.url, .body = "x", .body_len = 1, .timeout_ms = 10000};
  tc_expect_call_error(e.c, &o, HOP_EPINGTIMEOUT, 250, 3000);
  hop_client_stats s = tc_stats(e.c);
  assert_int_equal(s.pings_timed_out, 1);
  assert_int_equal(s.conns_open_h2, 0);
  fault_stop(&e);
}

static void test_connection_refused(void **state) {
  int port = tc_free_port();
  hop_client *c = h2_client(NULL);
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo", port);
  hop_call_opts o = {.url = url, .timeout_ms = 5000};
  hop_result res;
  long t0 = tc_now_ms();
  assert_int_equal(hop_client_do(c, &o, &res), HOP_ECONNREFUSED);
  /* the second call waits out the origin's backoff, dials again, learns the cause */
  assert_int_equal(hop_client_do(c, &o, &res), HOP_ECONNREFUSED);
  assert_true(tc_now_ms() - t0 < 3000);
  hop_client_stats s;
  hop_client_get_stats(c, &s);
  assert_int_equal(s.dials_started, 2);
  assert_int_equal(s.dials_failed, 2);
  hop_client_free(c);
}

static void test_deadline_expires(void **state) {
  hop_child ch;
  assert_int_equal(tc_spawn_node(&ch, 100, 3000), 0);
  hop_client *c = h2_client(NULL);
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/echo", ch.port);
  hop_call_opts o = {.url = url, .body = "x", .body_len = 1, .timeout_ms = 200};
  tc_expect_call_error(c, &o, HOP_ETIMEDOUT, 190, 1500);
  hop_result res;
  /* the connection survives the RST_STREAM(CANCEL): the next call uses it */
  o.timeout_ms = 0;
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/stats", ch.port);
  o.method = "GET";
  o.body_len = 0;
  o.body = NULL;
  assert_int_equal(hop_client_do(c, &o, &res), HOP_OK);
  assert_int_equal(res.status, 200);
  hop_result_free(&res);
  hop_client_stats s;
  hop_client_get_stats(c, &s);
  assert_int_equal(s.dials_started, 1);
  hop_client_free(c);
  hop_child_stop(&ch, SIGTERM, 3000);
}

typedef struct cancel_arg {
  hop_call *call;
} cancel_arg;

static void *cancel_thread(void *p) {
  cancel_arg *a = p;
  usleep(100000);
  hop_call_cancel(a->call);
  hop_call_cancel(a->call); /* twice: still completes once */
  return NULL;
}

static void test_cancel_from_other_thread(void **state) {
  hop_child ch;
  assert_int_equal(tc_spawn_node(&ch, 100, 3000), 0);
  hop_client *c = h2_client(NULL);
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/echo", ch.port);
  cb_rec r;
  rec_init(&r);
  hop_call_opts o = {.url = url, .body = "x", .body_len = 1, .timeout_ms = 10000};
  cancel_arg a;
  long t0 = tc_now_ms();
  assert_int_equal(hop_call_start(c, &o, rec_cb, &r, &a.call), HOP_OK);
  pthread_t th;
  pthread_create(&th, NULL, cancel_thread, &a);
  assert_int_equal(rec_wait(&r, 1, 5000), 0);
  pthread_join(th, NULL);
  assert_int_equal(r.errs[0], HOP_ECANCELED);
  assert_true(r.done_ms[0] - t0 < 1500);
  hop_call_cancel(a.call); /* after completion: a no-op */
  usleep(50000);
  assert_int_equal(r.n, 1);
  hop_call_release(a.call);
  hop_client_free(c);
  hop_child_stop(&ch, SIGTERM, 3000);
}

static void test_free_fails_pending(void **state) {
  hop_child ch;
  assert_int_equal(tc_spawn_node(&ch, 100, 3000), 0);
  hop_client *c = h2_client(NULL);
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/echo", ch.port);
  cb_rec r;
  rec_init(&r);
  start_ids(c, url, 20, 0, &r, "s");
  usleep(200000);
  hop_client_free(c);
  assert_int_equal(r.n, 20);
  for (int i = 0; i < 20; i++) assert_int_equal(r.errs[i], HOP_ESHUTDOWN);
  hop_child_stop(&ch, SIGTERM, 3000);
}

/* Blocking callers parked in hop_client_do when the client is freed: each returns
 * HOP_ESHUTDOWN promptly (the waker thread wakes them before it is joined). */
typedef struct blocked_arg {
  hop_client *c;
  const char *url;
  int err;
  long done_ms;
} blocked_arg;

static void *blocked_caller(void *p) {
  blocked_arg *a = p;
  hop_call_opts o = {.url = a->url, .body = "x", .body_len = 1, .timeout_ms = 10000};
  hop_result res;
  a->err = hop_client_do(a->c, &o, &res);
  a->done_ms = tc_now_ms();
  hop_result_free(&res);
  return NULL;
}

static void test_free_wakes_blocked_callers(void **state) {
  hop_child ch;
  assert_int_equal(tc_spawn_node(&ch, 100, 3000), 0);
  hop_client *c = h2_client(NULL);
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/echo", ch.port);
  enum { N = 8 };
  blocked_arg a[N];
  pthread_t th[N];
  for (int i = 0; i < N; i++) {
    a[i] = (blocked_arg){.c = c, .url = url, .err = 1};
    assert_int_equal(pthread_create(&th[i], NULL, blocked_caller, &a[i]), 0);
  }
  usleep(300000); /* all parked: the peer answers after 3 s */
  long t0 = tc_now_ms();
  hop_client_free(c);
  struct timespec dl;
  clock_gettime(CLOCK_REALTIME, &dl);
  dl.tv_sec += 5;
  for (int i = 0; i < N; i++) {
    assert_int_equal(pthread_timedjoin_np(th[i], NULL, &dl), 0); /* never a hang */
    assert_int_equal(a[i].err, HOP_ESHUTDOWN);
    assert_true(a[i].done_ms - t0 < 1500);
  }
  hop_child_stop(&ch, SIGTERM, 3000);
}

/* ---- hopwire serve: SIGKILL + restart, graceful drain ------------------------------------ */

static int spawn_serve_on(hop_child *ch, int port, const char *delay) {
  char listen[64];
  snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
  char *argv[] = {(char *)hop_test_cli(), "serve", "--listen", listen, "--threads", "1",
                  "--delay", (char *)delay, "--drain-timeout", "5s", NULL};
  return hop_child_spawn(ch, argv, 1);
}

typedef struct worker {
  hop_client *c;
  const char *url;
  atomic_int *stop;
  atomic_int ok;
  int fail, unclear, calls;
  int last_ok_after_restart;
} worker;

static void *worker_main(void *p) {
  worker *w = p;
  while (!*w->stop && w->calls < 100000) {
    hop_call_opts o = {.url = w->url, .body = "ping", .body_len = 4, .timeout_ms = 3000,
                       .replayable = 1};
    hop_result r;
    int rv = hop_client_do(w->c, &o, &r);
    w->calls++;
    if (rv == HOP_OK && r.status == 200 && r.body_len == 4) atomic_fetch_add(&w->ok, 1);
    else if (rv == HOP_ECONNREFUSED || rv == HOP_ECONNRESET || rv == HOP_ETIMEDOUT ||
             rv == HOP_EGOAWAY || rv == HOP_ERESET || rv == HOP_ECONNTIMEDOUT ||
             rv == HOP_EREFUSED)
      w->fail++;
    else
      w->unclear++;
    hop_result_free(&r);
  }
  return NULL;
}

static void test_sigkill_and_restart(void **state) {
  hop_child a;
  assert_int_equal(spawn_serve_on(&a, 0, "1ms"), 0);
  int port = a.port;
  hop_client *c = h2_client(NULL);
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/hopwire.bench.v1.BenchService/Echo", port);
  atomic_int stop = 0;
  enum { NW = 16 };
  worker w[NW];
  pthread_t th[NW];
  for (int i = 0; i < NW; i++) {
    w[i] = (worker){.c = c, .url = url, .stop = &stop};
    pthread_create(&th[i], NULL, worker_main, &w[i]);
  }
  usleep(500000);
  hop_child_stop(&a, SIGKILL, 2000);
  usleep(300000);
  hop_child b;
  assert_int_equal(spawn_serve_on(&b, port, "1ms"), 0);
  usleep(300000);
  int ok_before_end = 0;
  for (int i = 0; i < NW; i++) ok_before_end += atomic_load(&w[i].ok);
  usleep(700000);
  stop = 1;
  long t0 = tc_now_ms();
  for (int i = 0; i < NW; i++) pthread_join(th[i], NULL); /* nothing hangs */
  assert_true(tc_now_ms() - t0 < 4000);
  int ok = 0, fail = 0, unclear = 0;
  for (int i = 0; i < NW; i++) {
    ok += w[i].ok;
    fail += w[i].fail;
    unclear += w[i].unclear;
  }
  tc_print_stats("sigkill", c);
  fprintf(stderr, "[sigkill] ok=%d clear-errors=%d unclear=%d\n", ok, fail, unclear);
  assert_int_equal(unclear, 0);
  assert_true(ok > ok_before_end); /* calls succeed again after the restart */
  hop_client_free(c);
  hop_child_stop(&b, SIGTERM, 5000);
}

/* A rolling restart: a new server shares the port (SO_REUSEPORT), the old one drains with
 * GOAWAY under load; replayable calls never fail. */
static void test_graceful_drain_under_load(void **state) {
  hop_child a;
  assert_int_equal(spawn_serve_on(&a, 0, "2ms"), 0);
  int port = a.port;
  hop_client *c = h2_client(NULL);
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/hopwire.bench.v1.BenchService/Echo", port);
  atomic_int stop = 0;
  enum { NW = 16 };
  worker w[NW];
  pthread_t th[NW];
  for (int i = 0; i < NW; i++) {
    w[i] = (worker){.c = c, .url = url, .stop = &stop};
    pthread_create(&th[i], NULL, worker_main, &w[i]);
  }
  usleep(400000);
  hop_child b;
  assert_int_equal(spawn_serve_on(&b, port, "2ms"), 0);
  int st = hop_child_stop(&a, SIGTERM, 8000); /* drains: GOAWAY, in-flight finish */
  assert_true(st >= 0);
  usleep(500000);
  stop = 1;
  for (int i = 0; i < NW; i++) pthread_join(th[i], NULL);
  int ok = 0, fail = 0, unclear = 0;
  for (int i = 0; i < NW; i++) {
    ok += w[i].ok;
    fail += w[i].fail;
    unclear += w[i].unclear;
  }
  hop_client_stats s;
  hop_client_get_stats(c, &s);
  tc_print_stats("drain", c);
  fprintf(stderr, "[drain] ok=%d failed=%d unclear=%d\n", ok, fail, unclear);
  assert_true(s.goaways_received >= 1);
  assert_true(s.dials_started >= 2);
  assert_int_equal(fail + unclear, 0);
  assert_true(ok > 100);
  hop_client_free(c);
  hop_child_stop(&b, SIGTERM, 5000);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_goaway_unprocessed_retried),
      cmocka_unit_test(test_goaway_calm_unprocessed_retried),
      cmocka_unit_test(test_goaway_calm_every_conn),
      cmocka_unit_test(test_goaway_protocol_error_every_conn),
      cmocka_unit_test(test_too_many_pings_doubles_interval),
      cmocka_unit_test(test_refused_stream_retried),
      cmocka_unit_test(test_reset_not_replayed),
      cmocka_unit_test(test_truncated_response_fails),
      cmocka_unit_test(test_black_hole_times_out),
      cmocka_unit_test(test_garbage_peer_fails_dial),
      cmocka_unit_test(test_response_header_cap_h2),
      cmocka_unit_test(test_continuation_flood),
      cmocka_unit_test(test_dead_peer_ping_timeout),
      cmocka_unit_test(test_connection_refused),
      cmocka_unit_test(test_deadline_expires),
      cmocka_unit_test(test_cancel_from_other_thread),
      cmocka_unit_test(test_free_fails_pending),
      cmocka_unit_test(test_free_wakes_blocked_callers),
      cmocka_unit_test(test_sigkill_and_restart),
      cmocka_unit_test(test_graceful_drain_under_load),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
