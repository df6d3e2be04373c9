/* hopwire serve: an HTTP/1.1 + h2c server with the benchmark Echo service. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/echo.h"
#include "cliargs.h"
#include "commands.h"
#include "events/prom.h"
#include "hopwire/error.h"
#include "hopwire/server.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: hopwire serve --listen ADDR [options]\n"
          "\n"
          "Serves HTTP/1.1 and h2c (prior knowledge) on one plaintext port, with\n"
          "the RPC /hopwire.bench.v1.BenchService/Echo (the request message back, in\n"
          "Connect, gRPC and gRPC-Web, proto or JSON) and\n"
          "GET /healthz, /readyz and /metrics (Prometheus text).\n"
          "Prints 'listening on HOST:PORT' once bound.\n"
          "SIGTERM/SIGINT drain gracefully (exit 0); a second signal stops at once.\n"
          "\n"
          "options:\n"
          "  --listen ADDR            HOST:PORT, [V6]:PORT or :PORT (all interfaces); port 0 = any\n"
          "  --threads N              worker threads (default: number of cores)\n"
          "  --delay DUR              answer Echo after DUR (a timer; default 0)\n"
          "  --max-conns N            open connections, whole server (default 10000)\n"
          "  --max-streams N          SETTINGS_MAX_CONCURRENT_STREAMS (default 100)\n"
          "  --max-header-list BYTES  request header list, name+value+32 each (default 64k)\n"
          "  --max-body BYTES         request body (default 4m)\n"
          "  --max-conn-body BYTES    h2: request bodies buffered per connection; a stream\n"
          "                           past it is refused (default 16m; 0 = no budget)\n"
          "  --max-body-buffer BYTES  request bodies buffered by the whole server (h2: stream\n"
          "                           refused; HTTP/1.1: 503 + close) (default 256m; 0 = none)\n"
          "  --header-timeout DUR     whole request head must arrive within (default 10s)\n"
          "  --body-timeout DUR       whole request body must arrive within (default 30s)\n"
          "  --idle-timeout DUR       connection without requests (default 120s)\n"
          "  --drain-timeout DUR      graceful shutdown bound (default 10s)\n"
          "h2 flood limits (the connection ends with GOAWAY(ENHANCE_YOUR_CALM)):\n"
          "  --max-empty-frames N     empty DATA/HEADERS/CONTINUATION frames without END_STREAM\n"
          "                           in a row (default 10)\n"
          "  --max-control-rate N     non-ACK SETTINGS + PING frames per second (default 100)\n"
          "  --max-resets-sent B/R    RST_STREAM the server may send: burst B, refilled R per\n"
          "                           second (default 200/20)\n"
          "  --help                   this text\n"
          "\n"
          "DUR: 250ms, 1.5s, 2m, 500us (a bare number is seconds). BYTES: 4096, 64k, 4m.\n");
}

/* "BURST/RATE": BURST >= 1, RATE >= 0 (0 = the burst is all there is). */
static int parse_bucket(const char *s, uint32_t *burst, uint32_t *rate) {
  char b[32];
  const char *slash = strchr(s, '/');
  uint64_t vb, vr;
  if (!slash || (size_t)(slash - s) >= sizeof(b)) return -1;
  memcpy(b, s, (size_t)(slash - s));
  b[slash - s] = 0;
  if (hop_cli_u64(b, &vb) || hop_cli_u64(slash + 1, &vr) || !vb || vb > UINT32_MAX || vr > UINT32_MAX)
    return -1;
  *burst = (uint32_t)vb;
  *rate = (uint32_t)vr;
  return 0;
}

/* ---- The benchmark Echo (apps/bench/echo.c), answering the request
 * message unchanged in Connect, gRPC and gRPC-Web, proto or JSON, after --delay (a timer). ---- */

static hop_rpc_server *echo_rpc; /* freed after the server */

static int register_echo(hop_server *s, uint64_t *delay_ms) {
  return hop_bench_echo_attach(s, *delay_ms, &echo_rpc);
}

/* GET /metrics: the server's counters in the Prometheus text format. */
static void on_metrics(hop_request *req, void *ud) {
  hop_server *s = ud;
  hop_server_stats st;
  hop_server_get_stats(s, &st);
  char buf[8192];
  hop_prom p;
  hop_prom_init(&p, buf, sizeof(buf));
  hop_prom_server(&p, &st);
  hop_header h[] = {HOP_HEADER("content-type", "text/plain; version=0.0.4; charset=utf-8")};
  hop_request_respond(req, 200, h, 1, buf, p.len, NULL, 0);
}

/* ---- */

int hop_cmd_serve(int argc, char **argv) {
  hop_server_config cfg;
  hop_server_config_init(&cfg);
  cfg.handle_signals = 1;
  static uint64_t delay_ms = 0;
  char host[256] = "";
  const char *listen = NULL;
  for (int i = 1; i < argc; i += 2) { /* every option takes a value */
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    }
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    uint64_t n = 0;
    int bad = 0;
    if (!v) {
      fprintf(stderr, "hopwire serve: %s needs a value (or unknown option; see --help)\n", a);
      return 2;
    }
    if (!strcmp(a, "--listen")) listen = v;
    else if (!strcmp(a, "--threads")) bad = hop_cli_u64(v, &n) || n > 256 || !(cfg.threads = (unsigned)n);
    else if (!strcmp(a, "--delay")) bad = hop_cli_dur_ms(v, &delay_ms);
    else if (!strcmp(a, "--max-conns")) bad = hop_cli_u64(v, &n) || !n || n > UINT32_MAX || !(cfg.max_connections = (unsigned)n);
    else if (!strcmp(a, "--max-streams")) bad = hop_cli_u64(v, &n) || !n || n > UINT32_MAX || !(cfg.max_concurrent_streams = (uint32_t)n);
    else if (!strcmp(a, "--max-header-list")) bad = hop_cli_bytes(v, &n) || n < 256 || !(cfg.max_header_list_size = n);
    else if (!strcmp(a, "--max-body")) bad = hop_cli_bytes(v, &n) || (cfg.max_body_size = n, 0);
    else if (!strcmp(a, "--max-conn-body")) bad = hop_cli_bytes(v, &n) || (cfg.max_conn_body_buffer = n, 0);
    else if (!strcmp(a, "--max-body-buffer")) bad = hop_cli_bytes(v, &n) || (cfg.max_body_buffer = n, 0);
    else if (!strcmp(a, "--header-timeout")) bad = hop_cli_dur_ms(v, &cfg.header_timeout_ms) || !cfg.header_timeout_ms;
    else if (!strcmp(a, "--body-timeout")) bad = hop_cli_dur_ms(v, &cfg.body_timeout_ms) || !cfg.body_timeout_ms;
    else if (!strcmp(a, "--idle-timeout")) bad = hop_cli_dur_ms(v, &cfg.idle_timeout_ms) || !cfg.idle_timeout_ms;
    else if (!strcmp(a, "--drain-timeout")) bad = hop_cli_dur_ms(v, &cfg.drain_timeout_ms) || !cfg.drain_timeout_ms;
    else if (!strcmp(a, "--max-empty-frames")) bad = hop_cli_u64(v, &n) || !n || n > UINT32_MAX || !(cfg.max_empty_frames = (uint32_t)n);
    else if (!strcmp(a, "--max-control-rate")) bad = hop_cli_u64(v, &n) || !n || n > UINT32_MAX || !(cfg.max_control_per_sec = (uint32_t)n);
    else if (!strcmp(a, "--max-resets-sent")) bad = parse_bucket(v, &cfg.max_resets_sent_burst, &cfg.max_resets_sent_rate);
    else {
      fprintf(stderr, "hopwire serve: unknown option '%s' (see --help)\n", a);
      return 2;
    }
    if (bad) {
      fprintf(stderr, "hopwire serve: bad value for %s: '%s'\n", a, v);
      return 2;
    }
  }
  if (!listen) {
    fprintf(stderr, "hopwire serve: --listen ADDR is required (e.g. 127.0.0.1:8080)\n");
    return 2;
  }
  if (hop_cli_listen(listen, host, sizeof(host), &cfg.port)) {
    fprintf(stderr, "hopwire serve: bad --listen address '%s' (want HOST:PORT)\n", listen);
    return 2;
  }
  cfg.host = host;
  hop_server *s = NULL;
  int rv = hop_server_new(&s, &cfg);
  if (!rv) rv = register_echo(s, &delay_ms);
  if (!rv) rv = hop_server_handle(s, "/metrics", on_metrics, s);
  if (rv) {
    fprintf(stderr, "hopwire serve: %s\n", hop_strerror(rv));
    if (s) hop_server_free(s);
    hop_rpc_server_free(echo_rpc);
    return 1;
  }
  rv = hop_server_start(s);
  if (rv) {
    fprintf(stderr, "hopwire serve: cannot listen on %s: %s\n", listen, hop_strerror(rv));
    hop_server_free(s);
    hop_rpc_server_free(echo_rpc);
    return 1;
  }
  char addr[300];
  hop_server_address(s, addr, sizeof(addr));
  printf("listening on %s\n", addr);
  fflush(stdout);
  hop_server_wait(s);
  hop_server_free(s);
  hop_rpc_server_free(echo_rpc);
  return 0;
}
