/* apps/common: the applications' duration flags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/duration.h"
#include "hopwire/error.h"

static void durations(void **state) {
  (void)state;
  uint64_t us;
  assert_int_equal(hop_parse_duration("10s", 1000, &us), 0);
  assert_int_equal(us, 10000000);
  assert_int_equal(hop_parse_duration("1.5ms", 1000, &us), 0);
  assert_int_equal(us, 1500);
  assert_int_equal(hop_parse_duration("7", 1000, &us), 0);
  assert_int_equal(us, 7000);
  assert_int_equal(hop_parse_duration("2m", 1, &us), 0);
  assert_int_equal(us, 120000000);
  assert_int_equal(hop_parse_duration("1h", 1, &us), 0);
  assert_int_equal(us, 3600000000ull);
  assert_int_equal(hop_parse_duration("500us", 1000, &us), 0);
  assert_int_equal(us, 500);
  assert_int_equal(hop_parse_duration("fast", 1, &us), HOP_EINVAL);
  assert_int_equal(hop_parse_duration("-1s", 1, &us), HOP_EINVAL);
  assert_int_equal(hop_parse_duration("1d", 1, &us), HOP_EINVAL);
  assert_int_equal(hop_parse_duration("", 1, &us), HOP_EINVAL);
  assert_int_equal(hop_parse_duration("1e12h", 1, &us), HOP_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(durations)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
