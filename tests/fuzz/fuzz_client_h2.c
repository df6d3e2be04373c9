/* libFuzzer: an h2c client connection fed arbitrary server bytes. A real hop_client runs on
 * the fuzzer's own loop (cfg.loop) and dials a loopback listener the harness owns; the
 * harness accepts, reads what the client sent, answers with the input, runs the loop until
 * quiet, resets the TCP connection (no TIME_WAIT) and frees the client: every call must have
 * completed exactly once (callbacks counted) and the loop must end (no handle left behind).
 * Covers the answer-to-preface check, the frame gate, the nghttp2 callbacks, responses,
 * trailers, GOAWAY handling and retries, resets and the close path. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "core/log.h"
#include "hopwire/client.h"
#include "hopwire/error.h"

static uv_loop_t g_loop;
static int g_lfd = -1;
static char g_url[2][96];
static int g_done;

static void init(void) {
  if (g_lfd >= 0) return;
  signal(SIGPIPE, SIG_IGN);
  hop_log_set_level(-1);
  if (uv_loop_init(&g_loop)) abort();
  g_lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof(a);
  if (g_lfd < 0 || bind(g_lfd, (struct sockaddr *)&a, sizeof(a)) || listen(g_lfd, 64) ||
      getsockname(g_lfd, (struct sockaddr *)&a, &al))
    abort();
  snprintf(g_url[0], sizeof(g_url[0]), "http://127.0.0.1:%u/hopwire.bench.v1.BenchService/Echo",
           ntohs(a.sin_port));
  snprintf(g_url[1], sizeof(g_url[1]), "http://127.0.0.1:%u/healthz", ntohs(a.sin_port));
}

static void on_done(hop_call *call, int err, const hop_response *resp, void *ud) {
  if (err == HOP_OK) {
    volatile size_t n = resp->body_len + resp->nheaders + resp->ntrailers;
    for (size_t i = 0; i < resp->nheaders; i++) n += resp->headers[i].value_len;
    (void)n;
  }
  g_done++;
}

/* Resets every connection waiting on the listener (retries of the calls). */
static void reset_pending(void) {
  for (;;) {
    int fd = accept4(g_lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) return;
    struct linger l = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    close(fd);
  }
}

static size_t drain(int fd) {
  char buf[65536];
  size_t got = 0;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    got += (size_t)n;
  }
  return got;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  init();
  hop_client_config cfg;
  hop_client_config_init(&cfg);
  cfg.loop = &g_loop;
  cfg.http = HOP_HTTP_H2C;
  cfg.max_retries = 1;
  cfg.max_response_size = 64 * 1024;
  cfg.max_response_headers = 8 * 1024;
  cfg.ping_interval_ms = 0;
  hop_client *c;
  if (hop_client_new(&c, &cfg)) abort();
  g_done = 0;
  static const hop_header hs[] = {HOP_HEADER("content-type", "application/proto")};
  for (int i = 0; i < 2; i++) {
    hop_call_opts o = {.url = g_url[i], .headers = hs, .nheaders = i == 0,
                       .method = i == 0 ? "POST" : "GET", .body = i == 0 ? "\x0a\x01x" : NULL,
                       .body_len = i == 0 ? 3 : 0, .timeout_ms = 5000};
    if (hop_call_start(c, &o, on_done, NULL, NULL)) abort();
  }
  int fd = -1;
  for (int i = 0; i < 1000 && fd < 0; i++) {
    uv_run(&g_loop, UV_RUN_NOWAIT);
    fd = accept4(g_lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  }
  if (fd < 0) abort(); /* the client never dialled */
  uv_run(&g_loop, UV_RUN_NOWAIT);
  drain(fd); /* preface and SETTINGS */
  size_t off = 0;
  for (int stuck = 0; off < size && stuck < 1000;) {
    ssize_t n = write(fd, data + off, size - off);
    if (n > 0) {
      off += (size_t)n;
      stuck = 0;
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
      break;
    } else {
      uv_run(&g_loop, UV_RUN_NOWAIT);
      drain(fd);
      stuck++;
    }
  }
  for (int quiet = 0, i = 0; quiet < 3 && i < 2000 && g_done < 2; i++) {
    uv_run(&g_loop, UV_RUN_NOWAIT);
    quiet = drain(fd) == 0 ? quiet + 1 : 0;
  }
  struct linger l = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  close(fd);
  for (int i = 0; i < 20 && g_done < 2; i++) {
    uv_run(&g_loop, UV_RUN_NOWAIT);
    reset_pending();
  }
  hop_client_free(c); /* fails what is left (HOP_ESHUTDOWN) */
  uv_run(&g_loop, UV_RUN_DEFAULT); /* returns once every handle of the client closed */
  reset_pending();
  if (g_done != 2) abort(); /* a call completed twice or never */
  return 0;
}
