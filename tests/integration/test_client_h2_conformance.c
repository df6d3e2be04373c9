/* The client's side of RFC 9113's stream-state and PRIORITY rules (src/h2/h2_gate.c), against
 * scripted servers that break them (tests/peers/h2_fault_peer.py): DATA or HEADERS on a
 * stream the server ended -> GOAWAY(STREAM_CLOSED); PRIORITY on stream 0 ->
 * GOAWAY(PROTOCOL_ERROR); PRIORITY making a stream depend on itself -> RST_STREAM
 * (PROTOCOL_ERROR). The call answered before the violation keeps its answer; the calls
 * still in flight fail with HOP_EPROTO ("protocol error"), never hang.
 * ctest: TIMEOUT=120 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdatomic.h>

#include "test_client_util.h"

typedef struct rec1 {
  atomic_int done;
  int err, status;
} rec1;

static void rec_cb(hop_call *call, int err, const hop_response *resp, void *ud) {
  rec1 *r = ud;
  r->err = err;
  r->status = err == HOP_OK ? resp->status : 0;
  atomic_store(&r->done, 1);
}

static int log_has(const char *path, const char *what) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  char line[256];
  int n = 0;
  while (fgets(line, sizeof(line), f)) {
    char *sp = strchr(line, ' ');
    if (!sp) continue;
    sp++;
    sp[strcspn(sp, "\n")] = '\0';
    if (strcmp(sp, what) == 0) n++;
  }
  fclose(f);
  return n;
}

static int wait_log(const char *path, const char *what, int timeout_ms) {
  long end = tc_now_ms() + timeout_ms;
  while (tc_now_ms() < end) {
    if (log_has(path, what)) return 1;
    usleep(5000);
  }
  return 0;
}

static void start_call(hop_client *c, const char *url, const char *id, rec1 *r) {
  hop_header hs[] = {{"x-id", 4, id, strlen(id)}};
  hop_call_opts o = {.url = url, .headers = hs, .nheaders = 1, .body = id, .body_len = strlen(id),
                     .timeout_ms = 8000};
  assert_int_equal(hop_call_start(c, &o, rec_cb, r, NULL), HOP_OK);
}

static int wait_done(rec1 *r, int timeout_ms) {
  long end = tc_now_ms() + timeout_ms;
  while (!atomic_load(&r->done) && tc_now_ms() < end) usleep(2000);
  return atomic_load(&r->done);
}

/* |reply|: what the client must send back ("goaway 5", "rst 1"); |answered|: the violating
 * call itself still succeeds (the answer came first); |conn_error|: the call in flight on the
 * same connection fails with HOP_EPROTO. */
static void violation(const char *scenario, const char *reply, int answered, int conn_error) {
  char logf[128], url[128];
  snprintf(logf, sizeof(logf), "/tmp/hop-client-conf-%s-%d.log", scenario, (int)getpid());
  unlink(logf);
  hop_child ch;
  assert_int_equal(tc_spawn_fault(&ch, scenario, logf), 0);
  hop_client *c = tc_client(HOP_HTTP_H2C, NULL);
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/echo", ch.port);
  rec1 hold = {0}, n = {0};
  start_call(c, url, "hold0", &hold);
  assert_true(wait_log(logf, "hold0", 5000)); /* in flight on the connection */
  start_call(c, url, "n0", &n);
  assert_true(wait_done(&n, 8000));
  if (answered) {
    assert_int_equal(n.err, HOP_OK);
    assert_int_equal(n.status, 200);
  } else {
    assert_int_equal(n.err, HOP_EPROTO);
  }
  assert_true(wait_log(logf, reply, 5000));
  if (conn_error) {
    assert_true(wait_done(&hold, 5000));
    assert_int_equal(hold.err, HOP_EPROTO);
  } else {
    assert_false(atomic_load(&hold.done)); /* a stream error: the connection lives on */
  }
  hop_client_free(c);
  if (!conn_error) assert_true(atomic_load(&hold.done)); /* failed by the free, not lost */
  hop_child_stop(&ch, SIGTERM, 3000);
  unlink(logf);
}

static void test_data_after_end_stream(void **state) {
  violation("data-after-end", "goaway 5", 1, 1);
}
static void test_headers_after_end_stream(void **state) {
  violation("headers-after-end", "goaway 5", 1, 1);
}
static void test_priority_stream_0(void **state) { violation("priority-zero", "goaway 1", 1, 1); }
static void test_priority_self_dependency(void **state) {
  violation("priority-self", "rst 1", 0, 0);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_data_after_end_stream),
      cmocka_unit_test(test_headers_after_end_stream),
      cmocka_unit_test(test_priority_stream_0),
      cmocka_unit_test(test_priority_self_dependency),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
