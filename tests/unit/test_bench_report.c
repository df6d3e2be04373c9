/* bench: the /proc parsers it uses (apps/common: TIME_WAIT, RSS) and the writers (JSON line
 * shape, table, SVG). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bench/bench.h"
#include "common/child.h"

static const char tcp4[] =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
    "timeout inode\n"
    "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        "
    "0 1 1 0000000000000000 100 0 0 10 0\n"
    "   1: 0100007F:1F90 0100007F:D431 06 00000000:00000000 03:00001770 00000000     0        "
    "0 0 3 0000000000000000\n"
    "   2: 0100007F:D432 0100007F:1F90 06 00000000:00000000 03:00001770 00000000     0        "
    "0 0 3 0000000000000000\n"
    "   3: 0100007F:D433 0100007F:0050 06 00000000:00000000 03:00001770 00000000     0        "
    "0 0 3 0000000000000000\n"
    "   4: 0100007F:D434 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        "
    "0 5 1 0000000000000000 20 4 30 10 -1\n";

static const char tcp6[] =
    "  sl  local_address                         remote_address                        st "
    "tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: 00000000000000000000000001000000:1F90 00000000000000000000000001000000:C000 06 "
    "00000000:00000000 03:00000C3A 00000000     0        0 0 3 0000000000000000\n";

static long count(const char *text, uint16_t port) {
  FILE *f = fmemopen((void *)text, strlen(text), "r");
  assert_non_null(f);
  long n = hop_time_wait_in(f, port);
  fclose(f);
  return n;
}

static void time_wait_parse(void **state) {
  (void)state;
  assert_int_equal(count(tcp4, 0x1F90), 2); /* server side and client side, not LISTEN/ESTAB */
  assert_int_equal(count(tcp4, 0x50), 1);
  assert_int_equal(count(tcp4, 0), 3);
  assert_int_equal(count(tcp4, 1234), 0);
  assert_int_equal(count(tcp6, 0x1F90), 1);
  assert_int_equal(count("garbage header\n1: x y 06\n", 0), -1);
  assert_int_equal(count("", 0), 0);
  /* The live tables parse (whatever their content). */
  assert_true(hop_time_wait_count(0) >= 0);
}

static void rss_and_cpu(void **state) {
  (void)state;
  static const char status[] = "Name:\tx\nVmPeak:\t  9999 kB\nVmHWM:\t    4321 kB\n"
                               "VmRSS:\t    1234 kB\n";
  assert_int_equal(hop_status_kib(status, "VmHWM"), 4321);
  assert_int_equal(hop_status_kib(status, "VmRSS"), 1234);
  assert_int_equal(hop_status_kib(status, "VmSwap"), 0);
  assert_int_equal(hop_status_kib(status, "VmHW"), 0); /* a prefix of a key is not the key */
  uint64_t rss = hop_self_rss_kib(0), hwm = hop_self_rss_kib(1);
  assert_true(rss > 0);
  assert_true(hwm >= rss);
  /* Touch 32 MiB, then the peak must show it; a reset brings it back down. */
  size_t big = 32u << 20;
  char *p = malloc(big);
  assert_non_null(p);
  memset(p, 1, big);
  assert_true(hop_self_rss_kib(1) >= rss + (big >> 10) / 2);
  free(p);
  /* ASan keeps freed memory in quarantine: the drop is only visible without it. */
  const char *san = getenv("HOP_SANITIZE");
  int sanitized = san && (!strcmp(san, "1") || !strcmp(san, "ON"));
  if (hop_self_rss_reset_peak() == 0 && !sanitized) assert_true(hop_self_rss_kib(1) < rss + (big >> 10) / 2);
  volatile double x = 0;
  double c0 = hop_self_cpu_s();
  for (long i = 0; i < 20000000; i++) x += (double)i;
  assert_true(hop_self_cpu_s() > c0);
}

static void fill(hop_bench_result *r, hop_bench_mode m, uint64_t scale) {
  memset(r, 0, sizeof(*r));
  r->mode = m;
  r->hist = hop_hist_new();
  assert_non_null(r->hist);
  for (uint64_t v = 1; v <= 1000; v++) hop_hist_record(r->hist, v * scale);
  r->requests = 1000;
  r->errors = m == HOP_BENCH_H1_DEFAULT ? 3 : 0;
  r->dials = m == HOP_BENCH_H2C ? 1 : 2443;
  r->rps = 12345.67;
  hop_hist_summary(r->hist, &r->lat);
  r->cpu_s = 1.5;
  r->time_wait = 17;
  r->rss_kb = 9000;
}

/* Exactly the 12 keys, in order, every value a JSON number except mode; one line. */
static void json_shape(void **state) {
  (void)state;
  hop_bench_result r;
  fill(&r, HOP_BENCH_H1_POOL, 10);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  hop_bench_write_json(f, &r);
  fclose(f);
  assert_int_equal(buf[len - 1], '\n');
  assert_ptr_equal(strchr(buf, '\n'), buf + len - 1);
  static const char *const keys[] = {"mode",   "requests", "errors", "dials",
                                     "rps",    "p50_us",   "p90_us", "p99_us",
                                     "max_us", "cpu_s",    "time_wait", "rss_kb"};
  const char *p = buf;
  assert_int_equal(*p++, '{');
  for (size_t k = 0; k < 12; k++) {
    char want[32];
    snprintf(want, sizeof(want), "\"%s\":", keys[k]);
    assert_memory_equal(p, want, strlen(want));
    p += strlen(want);
    if (k == 0) {
      assert_memory_equal(p, "\"h1-pool\"", 9);
      p += 9;
    } else {
      char *end;
      strtod(p, &end);
      assert_true(end > p);
      p = end;
    }
    assert_int_equal(*p++, k == 11 ? '}' : ',');
  }
  assert_int_equal(*p, '\n');
  assert_non_null(strstr(buf, "\"requests\":1000,"));
  assert_non_null(strstr(buf, "\"rps\":12345.7,"));
  assert_non_null(strstr(buf, "\"time_wait\":17,"));
  free(buf);
  hop_bench_result_free(&r);
}

static void table_and_svg(void **state) {
  (void)state;
  hop_bench_result rs[3];
  fill(&rs[0], HOP_BENCH_H1_DEFAULT, 100);
  fill(&rs[1], HOP_BENCH_H1_POOL, 20);
  fill(&rs[2], HOP_BENCH_H2C, 10);
  hop_bench_opts o;
  hop_bench_opts_init(&o);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  hop_bench_write_table(f, rs, 3, &o);
  fclose(f);
  assert_non_null(strstr(buf, "h1-default"));
  assert_non_null(strstr(buf, "2443"));
  assert_non_null(strstr(buf, "TIME_WAIT"));
  free(buf);

  f = open_memstream(&buf, &len);
  assert_int_equal(hop_bench_write_svg(f, rs, 3, "a <subtitle> & \"quotes\""), 0);
  fclose(f);
  assert_memory_equal(buf, "<?xml", 5);
  assert_non_null(strstr(buf, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
  assert_non_null(strstr(buf, "a &lt;subtitle&gt; &amp; &quot;quotes&quot;"));
  assert_null(strstr(buf, "<subtitle>"));
  assert_non_null(strstr(buf, "</svg>\n"));
  /* One curve per mode, and decade labels of a log axis (1us .. 100ms here). */
  size_t curves = 0;
  for (const char *p = buf; (p = strstr(p, "<polyline")); p++) curves++;
  assert_int_equal(curves, 3);
  assert_non_null(strstr(buf, ">1ms<"));
  assert_non_null(strstr(buf, ">100ms<"));
  /* Every opened element is closed: count '<' tags that are not self-closing. */
  long depth = 0;
  for (const char *p = buf; (p = strchr(p, '<')); p++) {
    if (p[1] == '?') continue;
    const char *gt = strchr(p, '>');
    assert_non_null(gt);
    if (p[1] == '/') depth--;
    else if (gt[-1] != '/') depth++;
  }
  assert_int_equal(depth, 0);
  free(buf);
  /* Empty results still give a valid document. */
  f = open_memstream(&buf, &len);
  assert_int_equal(hop_bench_write_svg(f, rs, 0, NULL), 0);
  fclose(f);
  assert_non_null(strstr(buf, "</svg>"));
  free(buf);
  for (int i = 0; i < 3; i++) hop_bench_result_free(&rs[i]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(time_wait_parse),
      cmocka_unit_test(rss_and_cpu),
      cmocka_unit_test(json_shape),
      cmocka_unit_test(table_and_svg),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
