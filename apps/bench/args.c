/* hopwire bench: command-line flags. Pure: no I/O but the usage text. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "common/duration.h"
#include "hopwire/client.h"
#include "hopwire/error.h"

static const char *const mode_names[HOP_BENCH_NMODES] = {"h1-default", "h1-pool", "h2c"};

const char *hop_bench_mode_name(hop_bench_mode m) {
  return (unsigned)m < HOP_BENCH_NMODES ? mode_names[m] : "?";
}

void hop_bench_opts_init(hop_bench_opts *o) {
  memset(o, 0, sizeof(*o));
  o->modes = (1u << HOP_BENCH_NMODES) - 1;
  o->concurrency = 200;
  o->duration_us = 10ull * 1000000ull;
  o->warmup_us = 1000000ull;
  o->dial_cost_us = 1000;
  o->server_delay_us = 1000;
  o->payload = 100;
  o->callers = HOP_BENCH_CALLERS_ASYNC;
  o->max_streams = 1000;
  o->call_timeout_us = 30ull * 1000000ull;
  o->progress = -1;
}

void hop_bench_usage(FILE *f) {
  fprintf(f,
          "usage: hopwire bench [--mode h1-default|h1-pool|h2c|all] [--concurrency 200]\n"
          "                     [--duration 10s | --requests N] [--warmup 1s] [--dial-cost 1ms]\n"
          "                     [--server-delay 1ms] [--payload 100] [--target URL] [--json]\n"
          "                     [--plot FILE.svg] [--callers async|blocking]\n"
          "\n"
          "Measures dials, throughput and latency of concurrent unary POSTs with three clients,\n"
          "each started cold: h1-default (HTTP/1.1, 2 idle conns per host, like Go's\n"
          "http.DefaultClient), h1-pool (HTTP/1.1, 256 idle per host) and h2c (hopwire's\n"
          "multiplexing client). Without --target a `hopwire serve` Echo server is started per mode.\n"
          "\n"
          "  --mode M           h1-default, h1-pool, h2c or all (default all, in that order)\n"
          "  --concurrency C    calls in flight (default 200, at most %u)\n"
          "  --duration D       measured time per mode after the warm-up (default 10s)\n"
          "  --requests N       measure N calls per mode instead of a duration (capped at 10 min)\n"
          "  --warmup D         load before measuring (default 1s); dials, CPU and RSS include it\n"
          "  --dial-cost D      modelled dial cost, waited before every connect (default 1ms)\n"
          "  --server-delay D   per-request delay of the spawned server (default 1ms)\n"
          "  --payload BYTES    request body size (default 100)\n"
          "  --target URL       measure this http:// URL (HTTP/1.1 and h2c) instead of spawning\n"
          "  --max-streams N    spawned server's MAX_CONCURRENT_STREAMS (default 1000)\n"
          "  --callers K        async: C calls kept in flight from the client's loop (default);\n"
          "                     blocking: C threads each looping the blocking call\n"
          "  --timeout D        per-call deadline (default 30s)\n"
          "  --json             one JSON object per mode per line on stdout, nothing else\n"
          "  --plot FILE.svg    write the latency CDF per mode (log time axis) as SVG\n"
          "  --progress / --no-progress   live progress line on stderr (default: if a tty)\n"
          "  --help             this text\n"
          "\n"
          "Durations take us, ms, s, m or h (a bare number is milliseconds).\n",
          HOP_BENCH_MAX_CONCURRENCY);
}

static int fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
  if (!s || !*s || *s == '-' || *s == '+') return -1;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

static int parse_dur(const char *s, uint64_t hi_us, uint64_t *out) {
  uint64_t us;
  if (hop_parse_duration(s, 1000, &us) != HOP_OK || us > hi_us) return -1;
  *out = us;
  return 0;
}

int hop_bench_parse_args(hop_bench_opts *o, int argc, char **argv, char *err, size_t errlen) {
  int have_duration = 0, have_requests = 0;
  err[0] = '\0';
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *val = NULL;
    char name[32];
    /* --flag=value and --flag value are both accepted. */
    const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
    if (eq) {
      size_t n = (size_t)(eq - a);
      if (n >= sizeof(name)) return fail(err, errlen, "unknown flag '%s'", a);
      memcpy(name, a, n);
      name[n] = '\0';
      val = eq + 1;
    } else {
      snprintf(name, sizeof(name), "%s", a);
    }
    if (strlen(a) >= sizeof(name) && !eq) return fail(err, errlen, "unknown flag '%s'", a);

    /* Flags without a value. */
    int is_bool = 1;
    if (!strcmp(name, "--help") || !strcmp(name, "-h")) o->help = 1;
    else if (!strcmp(name, "--json")) o->json = 1;
    else if (!strcmp(name, "--progress")) o->progress = 1;
    else if (!strcmp(name, "--no-progress")) o->progress = 0;
    else is_bool = 0;
    if (is_bool) {
      if (val) return fail(err, errlen, "%s takes no value", name);
      continue;
    }

    static const char *const with_value[] = {
        "--mode", "--concurrency", "--duration", "--requests", "--warmup", "--dial-cost",
        "--server-delay", "--payload", "--target", "--plot", "--callers", "--max-streams",
        "--timeout"};
    int known = 0;
    for (size_t k = 0; k < sizeof(with_value) / sizeof(with_value[0]); k++)
      if (!strcmp(name, with_value[k])) known = 1;
    if (!known) return fail(err, errlen, "unknown flag '%s' (see hopwire bench --help)", a);
    if (!val) {
      if (i + 1 >= argc) return fail(err, errlen, "%s needs a value", name);
      val = argv[++i];
    }

    uint64_t u;
    if (!strcmp(name, "--mode")) {
      if (!strcmp(val, "all")) {
        o->modes = (1u << HOP_BENCH_NMODES) - 1;
      } else {
        int m = -1;
        for (int k = 0; k < HOP_BENCH_NMODES; k++)
          if (!strcmp(val, mode_names[k])) m = k;
        if (m < 0)
          return fail(err, errlen, "--mode '%s': expected h1-default, h1-pool, h2c or all", val);
        o->modes = 1u << m;
      }
    } else if (!strcmp(name, "--concurrency")) {
      if (parse_u64(val, 1, HOP_BENCH_MAX_CONCURRENCY, &u))
        return fail(err, errlen, "--concurrency '%s': expected 1..%u", val,
                    HOP_BENCH_MAX_CONCURRENCY);
      o->concurrency = (uint32_t)u;
    } else if (!strcmp(name, "--duration")) {
      if (parse_dur(val, HOP_BENCH_MAX_DURATION_US, &u) || u == 0)
        return fail(err, errlen, "--duration '%s': expected a duration in (0, 1h], e.g. 10s", val);
      o->duration_us = u;
      have_duration = 1;
    } else if (!strcmp(name, "--requests")) {
      if (parse_u64(val, 1, HOP_BENCH_MAX_REQUESTS, &u))
        return fail(err, errlen, "--requests '%s': expected 1..%llu", val,
                    (unsigned long long)HOP_BENCH_MAX_REQUESTS);
      o->requests = u;
      have_requests = 1;
    } else if (!strcmp(name, "--warmup")) {
      if (parse_dur(val, 600ull * 1000000ull, &u))
        return fail(err, errlen, "--warmup '%s': expected a duration up to 10m, e.g. 1s", val);
      o->warmup_us = u;
    } else if (!strcmp(name, "--dial-cost")) {
      if (parse_dur(val, 10ull * 1000000ull, &u))
        return fail(err, errlen, "--dial-cost '%s': expected a duration up to 10s, e.g. 1ms", val);
      o->dial_cost_us = u;
    } else if (!strcmp(name, "--server-delay")) {
      if (parse_dur(val, 60ull * 1000000ull, &u))
        return fail(err, errlen, "--server-delay '%s': expected a duration up to 60s, e.g. 1ms",
                    val);
      o->server_delay_us = u;
      o->server_delay_set = 1;
    } else if (!strcmp(name, "--payload")) {
      if (parse_u64(val, 0, HOP_BENCH_MAX_PAYLOAD, &u))
        return fail(err, errlen, "--payload '%s': expected 0..%u bytes", val,
                    HOP_BENCH_MAX_PAYLOAD);
      o->payload = (size_t)u;
    } else if (!strcmp(name, "--target")) {
      int rc = hop_url_check(val, NULL);
      if (rc == HOP_EUNSUPPORTED)
        return fail(err, errlen, "--target '%s': only http:// (cleartext) is supported", val);
      if (rc != HOP_OK) return fail(err, errlen, "--target '%s': not an http:// URL", val);
      o->target = val;
    } else if (!strcmp(name, "--plot")) {
      if (!*val) return fail(err, errlen, "--plot needs a file name");
      o->plot = val;
    } else if (!strcmp(name, "--callers")) {
      if (!strcmp(val, "async")) o->callers = HOP_BENCH_CALLERS_ASYNC;
      else if (!strcmp(val, "blocking")) o->callers = HOP_BENCH_CALLERS_BLOCKING;
      else return fail(err, errlen, "--callers '%s': expected async or blocking", val);
    } else if (!strcmp(name, "--max-streams")) {
      if (parse_u64(val, 1, 1u << 30, &u))
        return fail(err, errlen, "--max-streams '%s': expected 1..%u", val, 1u << 30);
      o->max_streams = (uint32_t)u;
    } else if (!strcmp(name, "--timeout")) {
      if (parse_dur(val, 3600ull * 1000000ull, &u) || u < 1000)
        return fail(err, errlen, "--timeout '%s': expected a duration in [1ms, 1h]", val);
      o->call_timeout_us = u;
    }
  }
  if (have_duration && have_requests)
    return fail(err, errlen, "--duration and --requests exclude each other");
  if (have_requests) o->duration_us = 0;
  else o->requests = 0;
  if (o->target && o->server_delay_set)
    return fail(err, errlen, "--server-delay applies to the spawned server only, not to --target");
  return 0;
}
