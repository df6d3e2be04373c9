/* Shared by fuzz_server_h1.c and fuzz_server_h2.c: the real server (hop_server with the RPC
 * Echo service, /healthz, /readyz, a handler answering on a later loop turn and the 404
 * fallback), started inline on the fuzzer's thread (hop_server_start_inline), and one
 * connection per input over a socketpair (hop_conn_adopt): the input is written, the loop
 * runs until the server is quiet (answers read back), then EOF; the server must close the
 * connection within a bounded number of loop turns (else abort: a hang). */
#ifndef HOP_FUZZ_SERVER_HARNESS_H
#define HOP_FUZZ_SERVER_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "hopwire/error.h"
#include "server/server_internal.h"

/* apps/bench/echo.h (not included: hopwire/rpc.h brings the client's hop_response, which
 * server_internal.h defines differently). */
typedef struct hop_rpc_server hop_rpc_server;
int hop_bench_echo_attach(hop_server *s, uint64_t delay_ms, hop_rpc_server **out);

static hop_server *g_srv;
static uv_loop_t *g_loop;
static hop_worker *g_w;

static void later_fire(uv_timer_t *t) {
  hop_request *r = t->data;
  static const char body[] = "later";
  hop_header h = HOP_HEADER("x-later", "1");
  hop_header tr = HOP_HEADER("x-trailer", "t");
  hop_request_respond(r, 200, &h, 1, body, sizeof(body) - 1, &tr, 1);
  uv_close((uv_handle_t *)t, (uv_close_cb)free);
}

/* Answers on the next loop turn (the connection may be gone by then: a detached request). */
static void later(hop_request *r, void *ud) {
  uv_timer_t *t = malloc(sizeof(*t));
  if (!t) {
    hop_request_respond(r, 500, NULL, 0, NULL, 0, NULL, 0);
    return;
  }
  uv_timer_init(hop_request_loop(r), t);
  t->data = r;
  uv_timer_start(t, later_fire, 0, 0);
}

static void harness_init(void) {
  if (g_srv) return;
  signal(SIGPIPE, SIG_IGN);
  hop_log_set_level(-1); /* quiet: the fuzzer's output is the report */
  hop_server_config cfg;
  hop_server_config_init(&cfg);
  cfg.threads = 1;
  cfg.max_header_list_size = 16 * 1024;
  cfg.max_body_size = 64 * 1024;
  cfg.max_conn_body_buffer = 256 * 1024;
  cfg.max_body_buffer = 1024 * 1024;
  hop_rpc_server *rs;
  if (hop_server_new(&g_srv, &cfg) || hop_bench_echo_attach(g_srv, 0, &rs) ||
      hop_server_handle(g_srv, "/later", later, NULL) || hop_server_start_inline(g_srv, &g_loop))
    abort();
  g_w = g_srv->workers[0];
}

/* Runs the loop once without blocking and reads back what the server wrote; returns the
 * bytes read (0 when nothing came). */
static size_t turn(int fd) {
  uv_run(g_loop, UV_RUN_NOWAIT);
  size_t got = 0;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    got += (size_t)n;
  }
  return got;
}

static int server_busy(void) { return g_w->dirty != NULL || uv_is_active((uv_handle_t *)&g_w->flush); }

static void harness_run(const uint8_t *pre, size_t pre_len, const uint8_t *data, size_t size) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) abort();
  fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
  if (hop_conn_adopt(g_w, sv[0]) != HOP_OK) abort();
  const uint8_t *parts[2] = {pre, data};
  size_t lens[2] = {pre_len, size};
  for (int k = 0; k < 2; k++) {
    size_t off = 0;
    int stuck = 0;
    while (off < lens[k] && stuck < 1000) {
      ssize_t n = write(sv[1], parts[k] + off, lens[k] - off);
      if (n > 0) {
        off += (size_t)n;
        stuck = 0;
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        break; /* the server closed: the rest is not read */
      } else {
        turn(sv[1]);
        stuck++;
      }
    }
  }
  /* Until quiet: nothing more written back and nothing left to flush, twice in a row. */
  for (int quiet = 0, i = 0; quiet < 2 && i < 10000; i++)
    quiet = (turn(sv[1]) == 0 && !server_busy()) ? quiet + 1 : 0;
  shutdown(sv[1], SHUT_WR);
  int i = 0;
  for (; g_w->nconns && i < 10000; i++) turn(sv[1]);
  if (g_w->nconns) abort(); /* EOF did not close the connection: a hang */
  for (int k = 0; k < 4; k++) turn(sv[1]); /* close callbacks, cancel notices, late answers */
  close(sv[1]);
}

#endif
