/* bench: flag parsing - defaults, every flag, and bad input rejected with a cause. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bench/bench.h"

static int parse(hop_bench_opts *o, char *err, size_t errlen, ...) {
  char *argv[64];
  int argc = 0;
  argv[argc++] = "bench";
  va_list ap;
  va_start(ap, errlen);
  for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 63;) argv[argc++] = a;
  va_end(ap);
  argv[argc] = NULL;
  hop_bench_opts_init(o);
  return hop_bench_parse_args(o, argc, argv, err, errlen);
}

static void defaults(void **state) {
  (void)state;
  hop_bench_opts o;
  char err[256];
  assert_int_equal(parse(&o, err, sizeof(err), NULL), 0);
  assert_int_equal(o.modes, 7);
  assert_int_equal(o.concurrency, 200);
  assert_int_equal(o.duration_us, 10000000);
  assert_int_equal(o.requests, 0);
  assert_int_equal(o.warmup_us, 1000000);
  assert_int_equal(o.dial_cost_us, 1000);
  assert_int_equal(o.server_delay_us, 1000);
  assert_int_equal(o.payload, 100);
  assert_null(o.target);
  assert_int_equal(o.json, 0);
  assert_null(o.plot);
  assert_int_equal(o.callers, HOP_BENCH_CALLERS_ASYNC);
  assert_int_equal(o.help, 0);
}

static void every_flag(void **state) {
  (void)state;
  hop_bench_opts o;
  char err[256];
  assert_int_equal(parse(&o, err, sizeof(err), "--mode", "h2c", "--concurrency", "50",
                         "--requests", "2000", "--warmup", "0", "--dial-cost=2ms",
                         "--server-delay", "500us", "--payload", "0", "--json", "--plot",
                         "x.svg", "--callers", "blocking", "--max-streams", "100", "--timeout",
                         "5s", "--no-progress", NULL),
                   0);
  assert_int_equal(o.modes, 1u << HOP_BENCH_H2C);
  assert_int_equal(o.concurrency, 50);
  assert_int_equal(o.requests, 2000);
  assert_int_equal(o.duration_us, 0);
  assert_int_equal(o.warmup_us, 0);
  assert_int_equal(o.dial_cost_us, 2000);
  assert_int_equal(o.server_delay_us, 500);
  assert_int_equal(o.payload, 0);
  assert_int_equal(o.json, 1);
  assert_string_equal(o.plot, "x.svg");
  assert_int_equal(o.callers, HOP_BENCH_CALLERS_BLOCKING);
  assert_int_equal(o.max_streams, 100);
  assert_int_equal(o.call_timeout_us, 5000000);
  assert_int_equal(o.progress, 0);

  assert_int_equal(parse(&o, err, sizeof(err), "--mode", "h1-default", NULL), 0);
  assert_int_equal(o.modes, 1u << HOP_BENCH_H1_DEFAULT);
  assert_int_equal(parse(&o, err, sizeof(err), "--mode", "h1-pool", "--duration", "1.5s", NULL),
                   0);
  assert_int_equal(o.modes, 1u << HOP_BENCH_H1_POOL);
  assert_int_equal(o.duration_us, 1500000);
  assert_int_equal(parse(&o, err, sizeof(err), "--mode=all", "--target",
                         "http://127.0.0.1:8080/x.Y/Z", NULL),
                   0);
  assert_int_equal(o.modes, 7);
  assert_string_equal(o.target, "http://127.0.0.1:8080/x.Y/Z");
  assert_int_equal(parse(&o, err, sizeof(err), "--help", NULL), 0);
  assert_int_equal(o.help, 1);
}

/* Each bad input fails with a message that names the flag. */
static void bad_flags(void **state) {
  (void)state;
  static const struct {
    const char *a, *b, *needle;
  } cases[] = {
      {"--bogus", NULL, "--bogus"},
      {"--mode", "h3", "--mode"},
      {"--mode", NULL, "needs a value"},
      {"--concurrency", "0", "--concurrency"},
      {"--concurrency", "-5", "--concurrency"},
      {"--concurrency", "1x", "--concurrency"},
      {"--concurrency", "10001", "--concurrency"},
      {"--duration", "0", "--duration"},
      {"--duration", "10 parsecs", "--duration"},
      {"--duration", "2h", "--duration"},
      {"--requests", "0", "--requests"},
      {"--requests", "many", "--requests"},
      {"--warmup", "-1s", "--warmup"},
      {"--dial-cost", "1 fortnight", "--dial-cost"},
      {"--server-delay", "x", "--server-delay"},
      {"--payload", "99999999999", "--payload"},
      {"--target", "ftp://x/", "--target"},
      {"--target", "https://example.com/", "http://"},
      {"--target", "http://", "--target"},
      {"--callers", "threads", "--callers"},
      {"--json=1", NULL, "takes no value"},
      {"positional", NULL, "positional"},
      {"--timeout", "0", "--timeout"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    hop_bench_opts o;
    char err[256];
    int rc = parse(&o, err, sizeof(err), cases[i].a, cases[i].b, NULL);
    if (rc != -1 || !strstr(err, cases[i].needle))
      fail_msg("case %zu (%s %s): rc %d, err '%s'", i, cases[i].a, cases[i].b ? cases[i].b : "",
               rc, err);
    assert_non_null(strchr(err, '\0'));
    assert_null(strchr(err, '\n')); /* one line */
  }
  hop_bench_opts o;
  char err[256];
  assert_int_equal(parse(&o, err, sizeof(err), "--duration", "1s", "--requests", "5", NULL), -1);
  assert_non_null(strstr(err, "exclude"));
  assert_int_equal(parse(&o, err, sizeof(err), "--target", "http://127.0.0.1:1/",
                         "--server-delay", "1ms", NULL),
                   -1);
  assert_non_null(strstr(err, "--server-delay"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(defaults),
      cmocka_unit_test(every_flag),
      cmocka_unit_test(bad_flags),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
