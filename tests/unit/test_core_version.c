/* Core: hop_version() and the generated version.h agree with each other. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "hopwire/hopwire.h"

static void version_matches_header(void **state) {
  (void)state;
  assert_string_equal(hop_version(), HOP_VERSION_STRING);
  assert_int_equal(hop_version_num(), HOP_VERSION_NUM);
  char s[64];
  snprintf(s, sizeof(s), "%d.%d.%d", HOP_VERSION_MAJOR, HOP_VERSION_MINOR, HOP_VERSION_PATCH);
  assert_string_equal(s, HOP_VERSION_STRING);
  assert_int_equal(HOP_VERSION_NUM >> 16, HOP_VERSION_MAJOR);
  assert_int_equal((HOP_VERSION_NUM >> 8) & 0xff, HOP_VERSION_MINOR);
  assert_int_equal(HOP_VERSION_NUM & 0xff, HOP_VERSION_PATCH);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(version_matches_header)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
