/* Core: hop_pool, the per-thread block cache behind per-request memory and nghttp2's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/pool.h"

static void freed_blocks_are_reused_up_to_the_cap(void **state) {
  (void)state;
  hop_pool p;
  hop_pool_init(&p, 1000);
  void *a = hop_pool_alloc(&p, 100);
  assert_non_null(a);
  assert_int_equal((uintptr_t)a % 16, 0);
  memset(a, 1, 100);
  hop_pool_free(&p, a);
  assert_true(p.kept > 0 && p.kept <= 1000);
  void *b = hop_pool_alloc(&p, 120); /* same class (97..128): the same block again */
  assert_ptr_equal(a, b);
  assert_int_equal(p.kept, 0);
  /* More freed than the cap allows: the pool keeps at most 1000 bytes. */
  void *v[20];
  for (int i = 0; i < 20; i++) assert_non_null(v[i] = hop_pool_alloc(&p, 100));
  for (int i = 0; i < 20; i++) hop_pool_free(&p, v[i]);
  assert_true(p.kept <= 1000);
  hop_pool_free(&p, b);
  hop_pool_drain(&p);
  assert_int_equal(p.kept, 0);
}

static void calloc_realloc_and_big_blocks(void **state) {
  (void)state;
  hop_pool p;
  hop_pool_init(&p, 1 << 20);
  uint8_t *a = hop_pool_alloc(&p, 64);
  memset(a, 0xee, 64);
  hop_pool_free(&p, a);
  uint8_t *z = hop_pool_calloc(&p, 8, 8); /* reuses the dirty block: must be zeroed */
  for (int i = 0; i < 64; i++) assert_int_equal(z[i], 0);
  for (int i = 0; i < 64; i++) z[i] = (uint8_t)i;
  uint8_t *r = hop_pool_realloc(&p, z, 5000); /* past the largest class: plain malloc */
  assert_non_null(r);
  for (int i = 0; i < 64; i++) assert_int_equal(r[i], i);
  memset(r, 0, 5000);
  size_t kept = p.kept;
  hop_pool_free(&p, r); /* big: not kept */
  assert_int_equal(p.kept, kept);
  assert_null(hop_pool_calloc(&p, SIZE_MAX / 2, 4)); /* overflow refused */
  void *e = hop_pool_alloc(&p, 10);
  hop_pool_free_elsewhere(e); /* back to malloc, pool untouched */
  assert_int_equal(p.kept, kept);
  hop_pool_drain(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(freed_blocks_are_reused_up_to_the_cap),
      cmocka_unit_test(calloc_realloc_and_big_blocks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
