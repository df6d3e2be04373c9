/* hopwire bench: HTTP/1.1 pools vs h2c, one fresh client per mode (see apps/bench/bench.h). */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/echo.h"
#include "commands.h"
#include "common/child.h"
#include "hopwire/client.h"

static void progress_line(hop_bench_mode mode, double elapsed_s, int warming, uint64_t done,
                          uint64_t errors, uint64_t dials, void *user_data) {
  (void)user_data;
  fprintf(stderr, "\r\033[K  %-10s %s %6.1fs  %10llu calls  %6llu errors  %7llu dials",
          hop_bench_mode_name(mode), warming ? "warm-up" : "running", elapsed_s,
          (unsigned long long)done, (unsigned long long)errors, (unsigned long long)dials);
  fflush(stderr);
}

/* h1-default opens a connection per call beyond 2 idle ones: make room for C of them. */
static void raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

int hop_cmd_bench(int argc, char **argv) {
  hop_bench_opts o;
  char err[256];
  hop_bench_opts_init(&o);
  if (hop_bench_parse_args(&o, argc, argv, err, sizeof(err)) != 0) {
    fprintf(stderr, "hopwire bench: %s\n", err);
    return 2;
  }
  if (o.help) {
    hop_bench_usage(stdout);
    return 0;
  }
  int progress = o.progress < 0 ? isatty(STDERR_FILENO) : o.progress;
  raise_nofile();

  char exe[PATH_MAX];
  if (hop_self_exe(exe, sizeof(exe))) {
    fprintf(stderr, "hopwire bench: cannot find my own executable to start the server\n");
    return 1;
  }

  hop_bench_result results[HOP_BENCH_NMODES];
  size_t nres = 0;
  int rc = 0;
  for (int m = 0; m < HOP_BENCH_NMODES && rc == 0; m++) {
    if (!(o.modes & (1u << m))) continue;
    hop_child srv = {.pid = -1, .out_fd = -1};
    char url[512];
    uint16_t port = 0;
    if (o.target) {
      snprintf(url, sizeof(url), "%s", o.target);
      hop_url_check(o.target, &port); /* the flag parser accepted it already */
    } else {
      /* A fresh server per mode: TIME_WAIT sockets and server state of one mode never
       * leak into the next. */
      if (hop_bench_server_start(&srv, exe, o.server_delay_us, o.max_streams, err,
                                 sizeof(err)) != 0) {
        fprintf(stderr, "hopwire bench: cannot start the server: %s\n", err);
        rc = 1;
        break;
      }
      port = srv.port;
      snprintf(url, sizeof(url), "http://127.0.0.1:%u" HOP_BENCH_ECHO_PATH, port);
    }
    hop_bench_result *r = &results[nres];
    int run = hop_bench_run_mode(&o, (hop_bench_mode)m, url, port,
                                 progress ? progress_line : NULL, NULL, r);
    if (progress) fprintf(stderr, "\r\033[K");
    if (!o.target) hop_child_stop(&srv, 5000);
    if (run != 0) {
      fprintf(stderr, "hopwire bench: %s: %s: %s\n", hop_bench_mode_name((hop_bench_mode)m),
              url, r->first_error[0] ? r->first_error : "failed");
      hop_bench_result_free(r);
      rc = 1;
      break;
    }
    nres++;
    if (o.json) {
      hop_bench_write_json(stdout, r);
      fflush(stdout);
      if (r->errors && r->first_error[0]) /* the table names it; JSON has no room for it */
        fprintf(stderr, "hopwire bench: %s: %llu errors, the first: %s\n",
                hop_bench_mode_name(r->mode), (unsigned long long)r->errors, r->first_error);
    } else if (progress) {
      fprintf(stderr, "  %-10s done: %llu calls, %.0f req/s, %llu dials\n",
              hop_bench_mode_name(r->mode), (unsigned long long)r->requests, r->rps,
              (unsigned long long)r->dials);
    }
  }

  if (rc == 0 && !o.json) {
    if (progress) fprintf(stderr, "\n");
    hop_bench_write_table(stdout, results, nres, &o);
  }
  if (rc == 0 && o.plot) {
    char sub[700];
    int len = snprintf(sub, sizeof(sub), "%u %s callers, dial cost %llu us, ", o.concurrency,
                       o.callers == HOP_BENCH_CALLERS_BLOCKING ? "blocking" : "async",
                       (unsigned long long)o.dial_cost_us);
    if (o.target) snprintf(sub + len, sizeof(sub) - (size_t)len, "target %s", o.target);
    else snprintf(sub + len, sizeof(sub) - (size_t)len, "server delay %llu us",
                  (unsigned long long)o.server_delay_us);
    FILE *f = fopen(o.plot, "w");
    int bad = !f;
    if (f) {
      bad = hop_bench_write_svg(f, results, nres, sub) != 0;
      bad |= fclose(f) != 0;
    }
    if (bad) {
      fprintf(stderr, "hopwire bench: cannot write %s\n", o.plot);
      rc = 1;
    }
  }
  for (size_t i = 0; i < nres; i++) hop_bench_result_free(&results[i]);
  return rc;
}
