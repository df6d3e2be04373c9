/* hopwire run-service: Flyte's InternalRunService.RecordActionEvents into SQLite or PG. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cliargs.h"
#include "commands.h"
#include "events/runsvc.h"
#include "hopwire/error.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: hopwire run-service --listen ADDR [--store STORE] [options]\n"
          "\n"
          "Serves /flyteidl2.workflow.InternalRunService/RecordActionEvents (Connect proto and\n"
          "JSON, gRPC, gRPC-Web; HTTP/1.1 and h2c on one port), plus GET /healthz, /readyz and\n"
          "/metrics (Prometheus text). Each request's events are stored in one transaction in\n"
          "Flyte's action_events table (INSERT ... ON CONFLICT DO NOTHING: first write wins),\n"
          "and the request is answered after COMMIT, in-band: status.code 0, or 13 with the\n"
          "database's error, 8 when the store's queue is full, 14 while shutting down.\n"
          "Prints 'listening on HOST:PORT' once bound. SIGTERM/SIGINT drain: in-flight batches\n"
          "are committed and answered, new calls refused (GOAWAY); a second signal stops.\n"
          "\n"
          "options:\n"
          "  --listen ADDR          HOST:PORT, [V6]:PORT or :PORT; port 0 = any (required)\n"
          "  --store STORE          sqlite:PATH (default sqlite:hopwire-events.db) or a libpq\n"
          "                         URI postgres://... / postgresql://...\n"
          "  --threads N            server worker threads (default: number of cores)\n"
          "  --writers N            PostgreSQL connections, one writer thread each (default 4)\n"
          "  --group-commit on|off  merge requests queued while a transaction runs into the\n"
          "                         next one (default on); off = one transaction per request\n"
          "  --max-txn-rows N       group commit cap per transaction (default 20000)\n"
          "  --max-queue-rows N     rows accepted and not yet committed; past it requests are\n"
          "                         answered in-band resource_exhausted (default 262144)\n"
          "  --synchronous MODE     SQLite PRAGMA synchronous: off|normal|full|extra (default\n"
          "                         full: acknowledged events survive kill -9 and power loss)\n"
          "  --wal-gather on|off    SQLite, synchronous full/extra: write the WAL frames of a\n"
          "                         COMMIT in ~120 KiB writes, not two per page (default on)\n"
          "  --busy-timeout DUR     SQLite wait for another process's write lock (default 5s)\n"
          "  --commit-delay DUR     artificial delay before every COMMIT (tests; default 0)\n"
          "  --no-notify            PostgreSQL: no pg_notify('action_updates', ...) per action\n"
          "  --max-message BYTES    request message after decompression (default 64m)\n"
          "  --max-events N         events per request (default 1000000)\n"
          "  --max-streams N        SETTINGS_MAX_CONCURRENT_STREAMS (default 1024)\n"
          "  --drain-timeout DUR    graceful shutdown bound (default 10s)\n"
          "  --help                 this text\n"
          "\n"
          "DUR: 250ms, 1.5s, 2m (a bare number is seconds). BYTES: 4096, 64k, 4m.\n");
}

int hop_cmd_run_service(int argc, char **argv) {
  hop_runsvc_config cfg;
  hop_runsvc_config_init(&cfg);
  cfg.server.handle_signals = 1;
  const char *listen = NULL;
  char host[256];
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    }
    if (!strcmp(a, "--no-notify")) {
      cfg.store.notify = 0;
      continue;
    }
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) {
      fprintf(stderr, "hopwire run-service: %s needs a value (or unknown option; see --help)\n", a);
      return 2;
    }
    uint64_t n = 0;
    int bad = 0;
    if (!strcmp(a, "--listen")) listen = v;
    else if (!strcmp(a, "--store")) cfg.store.url = v;
    else if (!strcmp(a, "--threads")) bad = hop_cli_u64(v, &n) || !n || n > 256 || !(cfg.server.threads = (unsigned)n);
    else if (!strcmp(a, "--writers")) bad = hop_cli_u64(v, &n) || !n || n > 64 || !(cfg.store.writers = (unsigned)n);
    else if (!strcmp(a, "--group-commit")) bad = hop_cli_bool(v, &cfg.store.group_commit);
    else if (!strcmp(a, "--max-txn-rows")) bad = hop_cli_u64(v, &n) || !n || !(cfg.store.max_txn_rows = n);
    else if (!strcmp(a, "--max-queue-rows")) bad = hop_cli_u64(v, &n) || !n || !(cfg.store.max_queue_rows = n);
    else if (!strcmp(a, "--synchronous")) {
      static const char *modes[] = {"off", "normal", "full", "extra"};
      bad = 1;
      for (int m = 0; m < 4; m++)
        if (!strcmp(v, modes[m])) cfg.store.sqlite_synchronous = m, bad = 0;
    } else if (!strcmp(a, "--wal-gather")) bad = hop_cli_bool(v, &cfg.store.sqlite_gather_wal);
    else if (!strcmp(a, "--busy-timeout")) bad = hop_cli_dur_ms(v, &cfg.store.busy_timeout_ms);
    else if (!strcmp(a, "--commit-delay")) {
      bad = hop_cli_dur_ms(v, &n);
      cfg.store.commit_delay_us = n * 1000;
    } else if (!strcmp(a, "--max-message")) bad = hop_cli_bytes(v, &n) || n < 1024 || !(cfg.max_message_size = n);
    else if (!strcmp(a, "--max-events")) bad = hop_cli_u64(v, &n) || (cfg.max_events = n, 0);
    else if (!strcmp(a, "--max-streams")) bad = hop_cli_u64(v, &n) || !n || n > UINT32_MAX || !(cfg.server.max_concurrent_streams = (uint32_t)n);
    else if (!strcmp(a, "--drain-timeout")) bad = hop_cli_dur_ms(v, &cfg.server.drain_timeout_ms) || !cfg.server.drain_timeout_ms;
    else {
      fprintf(stderr, "hopwire run-service: unknown option '%s' (see --help)\n", a);
      return 2;
    }
    if (bad) {
      fprintf(stderr, "hopwire run-service: bad value for %s: '%s'\n", a, v);
      return 2;
    }
    i++;
  }
  if (!listen) {
    fprintf(stderr, "hopwire run-service: --listen ADDR is required (e.g. 127.0.0.1:8090)\n");
    return 2;
  }
  if (hop_cli_listen(listen, host, sizeof(host), &cfg.server.port)) {
    fprintf(stderr, "hopwire run-service: bad --listen address '%s' (want HOST:PORT)\n", listen);
    return 2;
  }
  cfg.server.host = host;
  hop_runsvc *rs;
  char err[512] = "";
  int rv = hop_runsvc_start(&rs, &cfg, err, sizeof(err));
  if (rv) {
    fprintf(stderr, "hopwire run-service: %s\n", err[0] ? err : hop_strerror(rv));
    return 1;
  }
  char addr[300];
  hop_runsvc_address(rs, addr, sizeof(addr));
  printf("listening on %s\n", addr);
  fflush(stdout);
  hop_runsvc_wait(rs);
  hop_runsvc_stats st;
  hop_runsvc_get_stats(rs, &st);
  fprintf(stderr, "hopwire run-service: stopped after %llu requests (%llu ok), %llu events\n",
          (unsigned long long)st.requests, (unsigned long long)st.ok,
          (unsigned long long)st.events_received);
  hop_runsvc_free(rs);
  return 0;
}
