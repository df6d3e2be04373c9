/* hopwire events-proxy: Flyte's EventsProxyService.Record, forwarded to a run-service. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cliargs.h"
#include "commands.h"
#include "events/proxy.h"
#include "hopwire/error.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: hopwire events-proxy --listen ADDR --run-service URL [options]\n"
          "\n"
          "Serves /flyteidl2.workflow.EventsProxyService/Record (Connect proto and JSON, gRPC,\n"
          "gRPC-Web; HTTP/1.1 and h2c on one port), plus GET /healthz, /readyz, /metrics.\n"
          "Each Record is forwarded as one /flyteidl2.workflow.InternalRunService/\n"
          "RecordActionEvents with the same events and the caller's remaining deadline:\n"
          "0 events -> OK without a call; undecodable -> invalid_argument; transport failure\n"
          "-> internal; in-band status != 0 -> internal 'run service failed: <message>'.\n"
          "Prints 'listening on HOST:PORT' once bound. SIGTERM/SIGINT drain.\n"
          "\n"
          "options:\n"
          "  --listen ADDR          HOST:PORT, [V6]:PORT or :PORT; port 0 = any (required)\n"
          "  --run-service URL      the run-service's base URL, http://HOST:PORT (required)\n"
          "  --http MODE            downstream transport: h2c (default: every concurrent call\n"
          "                         multiplexed on one connection), h1 (HTTP/1.1 pool of 256\n"
          "                         idle connections), h1-default (2 idle per host, as Go's\n"
          "                         http.DefaultClient), auto (h2c, falling back to HTTP/1.1)\n"
          "  --timeout DUR          downstream deadline when the caller sent none (default 30s)\n"
          "  --threads N            server worker threads (default: number of cores)\n"
          "  --max-message BYTES    request message after decompression (default 64m)\n"
          "  --max-streams N        SETTINGS_MAX_CONCURRENT_STREAMS (default 1024)\n"
          "  --drain-timeout DUR    graceful shutdown bound (default 10s)\n"
          "  --help                 this text\n");
}

int hop_cmd_events_proxy(int argc, char **argv) {
  hop_proxy_config cfg;
  hop_proxy_config_init(&cfg);
  cfg.server.handle_signals = 1;
  const char *listen = NULL, *url = NULL;
  char host[256];
  for (int i = 1; i < argc; i += 2) { /* every option takes a value */
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    }
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) {
      fprintf(stderr, "hopwire events-proxy: %s needs a value (or unknown option; see --help)\n", a);
      return 2;
    }
    uint64_t n = 0;
    int bad = 0;
    if (!strcmp(a, "--listen")) listen = v;
    else if (!strcmp(a, "--run-service")) url = v;
    else if (!strcmp(a, "--http")) {
      if (!strcmp(v, "h2c")) cfg.client.http = HOP_HTTP_H2C;
      else if (!strcmp(v, "auto")) cfg.client.http = HOP_HTTP_AUTO;
      else if (!strcmp(v, "h1") || !strcmp(v, "h1-pool")) cfg.client.http = HOP_HTTP_H1;
      else if (!strcmp(v, "h1-default")) cfg.client.http = HOP_HTTP_H1, cfg.client.max_idle_h1_per_origin = 2;
      else bad = 1;
    } else if (!strcmp(a, "--timeout")) bad = hop_cli_dur_ms(v, &cfg.default_timeout_ms) || !cfg.default_timeout_ms;
    else if (!strcmp(a, "--threads")) bad = hop_cli_u64(v, &n) || !n || n > 256 || !(cfg.server.threads = (unsigned)n);
    else if (!strcmp(a, "--max-message")) bad = hop_cli_bytes(v, &n) || n < 1024 || !(cfg.max_message_size = n);
    else if (!strcmp(a, "--max-streams")) bad = hop_cli_u64(v, &n) || !n || n > UINT32_MAX || !(cfg.server.max_concurrent_streams = (uint32_t)n);
    else if (!strcmp(a, "--drain-timeout")) bad = hop_cli_dur_ms(v, &cfg.server.drain_timeout_ms) || !cfg.server.drain_timeout_ms;
    else {
      fprintf(stderr, "hopwire events-proxy: unknown option '%s' (see --help)\n", a);
      return 2;
    }
    if (bad) {
      fprintf(stderr, "hopwire events-proxy: bad value for %s: '%s'\n", a, v);
      return 2;
    }
  }
  if (!listen || !url) {
    fprintf(stderr, "hopwire events-proxy: --listen ADDR and --run-service URL are required\n");
    return 2;
  }
  if (strncmp(url, "http://", 7) != 0) {
    fprintf(stderr, "hopwire events-proxy: bad --run-service URL '%s' (want http://HOST:PORT)\n", url);
    return 2;
  }
  if (hop_cli_listen(listen, host, sizeof(host), &cfg.server.port)) {
    fprintf(stderr, "hopwire events-proxy: bad --listen address '%s' (want HOST:PORT)\n", listen);
    return 2;
  }
  cfg.server.host = host;
  cfg.run_service_url = url;
  hop_proxy *px;
  char err[512] = "";
  int rv = hop_proxy_start(&px, &cfg, err, sizeof(err));
  if (rv) {
    fprintf(stderr, "hopwire events-proxy: %s\n", err[0] ? err : hop_strerror(rv));
    return 1;
  }
  char addr[300];
  hop_proxy_address(px, addr, sizeof(addr));
  printf("listening on %s\n", addr);
  fflush(stdout);
  hop_proxy_wait(px);
  hop_proxy_free(px);
  return 0;
}
