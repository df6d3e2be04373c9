/* RPC handlers that complete from another thread: replies and errors (with details) made on
 * a foreign thread reach the client; a deadline that expires while the foreign thread holds
 * the request answers deadline_exceeded on time, and the late reply (which still reads the
 * request's metadata and message) is harmless. Run under ASan to catch use-after-free. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "hopwire/client.h"
#include "hopwire/error.h"
#include "hopwire/rpc.h"
#include "hopwire/server.h"

#define QCAP 1024

static hop_server *srv;
static hop_rpc_server *rs;
static hop_client *cli;
static char base[64];

/* A queue of requests for the foreign thread. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static hop_rpc_request *q[QCAP];
static size_t qlen;
static int quit;
static pthread_t worker;
static atomic_int completed;

static void *work(void *arg) {
  for (;;) {
    pthread_mutex_lock(&mu);
    while (!qlen && !quit) pthread_cond_wait(&cv, &mu);
    if (!qlen && quit) {
      pthread_mutex_unlock(&mu);
      return NULL;
    }
    hop_rpc_request *rq = q[0];
    memmove(q, q + 1, --qlen * sizeof(q[0]));
    pthread_mutex_unlock(&mu);
    size_t len;
    const uint8_t *m = hop_rpc_request_message(rq, &len);
    /* first byte: delay in 10 ms units; 'F' fails */
    unsigned delay = len ? m[0] : 0;
    if (delay && delay != 'F') {
      struct timespec ts = {0, (long)delay * 10 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
    const char *tag = hop_rpc_request_header(rq, "x-tag");
    char out[256];
    int n = snprintf(out, sizeof(out), "%.*s|%s", (int)len, (const char *)m, tag ? tag : "-");
    if (delay == 'F') {
      hop_rpc_detail d = {"t.Why", 5, (const uint8_t *)"because", 7};
      hop_rpc_fail(rq, HOP_CODE_ABORTED, out, &d, 1);
    } else {
      hop_header md = HOP_HEADER("x-served-by", "worker");
      hop_rpc_reply_md(rq, out, (size_t)n, &md, 1);
    }
    atomic_fetch_add(&completed, 1);
  }
}

static void offthread(hop_rpc_request *rq, void *ud) {
  pthread_mutex_lock(&mu);
  if (qlen == QCAP) {
    pthread_mutex_unlock(&mu);
    hop_rpc_fail(rq, HOP_CODE_RESOURCE_EXHAUSTED, "queue full", NULL, 0);
    return;
  }
  q[qlen++] = rq;
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&mu);
}

static int setup(void **state) {
  hop_server_config cfg;
  hop_server_config_init(&cfg);
  cfg.threads = 2;
  if (hop_server_new(&srv, &cfg) || hop_rpc_server_new(&rs, srv, NULL)) return -1;
  if (hop_rpc_server_handle(rs, "/t.T/Off", offthread, NULL, 0)) return -1;
  if (hop_server_start(srv)) return -1;
  snprintf(base, sizeof(base), "http://127.0.0.1:%u", hop_server_port(srv));
  hop_client_config cc;
  hop_client_config_init(&cc);
  cc.http = HOP_HTTP_H2C;
  if (hop_client_new(&cli, &cc)) return -1;
  return pthread_create(&worker, NULL, work, NULL);
}

static int teardown(void **state) {
  pthread_mutex_lock(&mu);
  quit = 1;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  pthread_join(worker, NULL);
  hop_client_free(cli);
  hop_server_stop(srv);
  hop_server_wait(srv);
  hop_server_free(srv);
  hop_rpc_server_free(rs);
  return 0;
}

static void call(const char *msg, size_t len, uint64_t timeout_ms, hop_rpc_protocol p,
                 hop_rpc_result *r) {
  hop_rpc_call_opts o;
  hop_rpc_call_opts_init(&o);
  o.base_url = base;
  o.procedure = "/t.T/Off";
  o.protocol = p;
  o.message = msg;
  o.message_len = len;
  o.timeout_ms = timeout_ms;
  hop_header md = HOP_HEADER("x-tag", "t1");
  o.metadata = &md;
  o.nmetadata = 1;
  assert_int_equal(hop_rpc_call(cli, &o, r), HOP_OK);
}

static void replies_from_another_thread(void **state) {
  for (int p = HOP_RPC_CONNECT; p <= HOP_RPC_GRPC_WEB; p++) {
    hop_rpc_result r;
    call("\x01x", 2, 0, (hop_rpc_protocol)p, &r);
    assert_int_equal(r.code, HOP_CODE_OK);
    assert_int_equal(r.message_len, 5);
    assert_memory_equal(r.message, "\x01x|t1", 5);
    assert_string_equal(hop_headers_get(r.headers, r.nheaders, "x-served-by", NULL), "worker");
    hop_rpc_result_free(&r);
    /* with a generous deadline: the foreign reply wins */
    call("\x01y", 2, 5000, (hop_rpc_protocol)p, &r);
    assert_int_equal(r.code, HOP_CODE_OK);
    assert_memory_equal(r.message, "\x01y|t1", 5);
    hop_rpc_result_free(&r);
    call("F", 1, 5000, (hop_rpc_protocol)p, &r);
    assert_int_equal(r.code, HOP_CODE_ABORTED);
    assert_string_equal(r.error_message, "F|t1");
    assert_int_equal(r.ndetails, 1);
    assert_memory_equal(r.details[0].value, "because", 7);
    hop_rpc_result_free(&r);
  }
}

static void deadline_while_held(void **state) {
  int before = atomic_load(&completed);
  for (int p = HOP_RPC_CONNECT; p <= HOP_RPC_GRPC_WEB; p++) {
    hop_rpc_result r;
    uint64_t t0 = hop_now_ms();
    call("\x32z", 2, 50, (hop_rpc_protocol)p, &r); /* held 500 ms, deadline 50 ms */
    uint64_t took = hop_now_ms() - t0;
    assert_int_equal(r.code, HOP_CODE_DEADLINE_EXCEEDED);
    assert_true(took >= 45 && took < 400);
    hop_rpc_result_free(&r);
  }
  /* the late replies happen (reading the copied metadata and message) */
  for (int i = 0; i < 300 && atomic_load(&completed) < before + 3; i++) {
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  assert_int_equal(atomic_load(&completed), before + 3);
  hop_rpc_server_stats st;
  hop_rpc_server_get_stats(rs, &st);
  assert_true(st.deadline_exceeded >= 3);
  /* and the server goes on serving */
  hop_rpc_result r;
  call("\x00ok", 3, 1000, HOP_RPC_CONNECT, &r);
  assert_int_equal(r.code, HOP_CODE_OK);
  hop_rpc_result_free(&r);
}

/* A call with a deadline copies its message (the deadline may answer while the handler
 * reads it); a reply from another thread leaves the timer until the deadline, but must free
 * the copy at once: a proxy forwarding 150 KB batches with 30 s deadlines held every batch
 * of the last 30 s. 16 x 1 MiB, 30 s deadlines: the heap may not keep them. */
static void offthread_reply_frees_copies(void **state) {
  size_t len = 1 << 20;
  char *big = calloc(1, len); /* first byte 0: no delay */
  assert_non_null(big);
  hop_rpc_result r;
  call(big, len, 30000, HOP_RPC_CONNECT, &r); /* warm: connection, buffers, pools */
  hop_rpc_result_free(&r);
  struct mallinfo2 before = mallinfo2();
  for (int i = 0; i < 16; i++) {
    call(big, len, 30000, (hop_rpc_protocol)(HOP_RPC_CONNECT + i % 3), &r);
    assert_int_equal(r.code, HOP_CODE_OK);
    hop_rpc_result_free(&r);
  }
  struct mallinfo2 after = mallinfo2();
  size_t grown = after.uordblks > before.uordblks ? after.uordblks - before.uordblks : 0;
  size_t mapped = after.hblkhd > before.hblkhd ? after.hblkhd - before.hblkhd : 0;
  assert_true(grown + mapped < (4u << 20));
  free(big);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(replies_from_another_thread),
      cmocka_unit_test(deadline_while_held),
      cmocka_unit_test(offthread_reply_frees_copies),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
