/* Core: hop_arena, the capped bump allocator behind per-request memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/arena.h"

static void inline_first_then_heap(void **state) {
  (void)state;
  uint8_t first[256];
  hop_arena a;
  hop_arena_init(&a, first, sizeof(first), 1 << 20);
  uint8_t *p = hop_arena_alloc(&a, 100);
  assert_non_null(p);
  assert_true(p >= first && p + 100 <= first + sizeof(first));
  assert_int_equal((uintptr_t)p % 16, 0);
  uint8_t *q = hop_arena_alloc(&a, 10);
  assert_true(q >= p + 100 && q + 10 <= first + sizeof(first)); /* no overlap */
  assert_int_equal((uintptr_t)q % 16, 0);
  assert_int_equal(a.heap, 0); /* nothing from the heap yet */
  memset(p, 1, 100);
  memset(q, 2, 10);
  uint8_t *big = hop_arena_alloc(&a, 1000); /* does not fit the inline block */
  assert_non_null(big);
  assert_true(big < first || big >= first + sizeof(first));
  assert_true(a.heap >= 1000);
  memset(big, 3, 1000);
  assert_int_equal(p[99], 1);
  assert_int_equal(q[9], 2);
  char *s = hop_arena_strndup(&a, "hello world", 5);
  assert_string_equal(s, "hello");
  hop_arena_free(&a);
  assert_int_equal(a.heap, 0);
  assert_null(a.chunks);
}

static void cap_refuses_and_leaves_arena_usable(void **state) {
  (void)state;
  hop_arena a;
  hop_arena_init(&a, NULL, 0, 8192);
  assert_null(hop_arena_alloc(&a, 9000)); /* over the cap on its own */
  assert_int_equal(a.heap, 0);
  void *p = hop_arena_alloc(&a, 3000);
  assert_non_null(p);
  size_t heap = a.heap;
  assert_true(heap <= 8192);
  /* Fill up to the cap: every success stays within it, then NULL with nothing changed. */
  int refused = 0;
  for (int i = 0; i < 100 && !refused; i++) {
    void *r = hop_arena_alloc(&a, 1000);
    assert_true(a.heap <= 8192);
    if (!r) refused = 1;
    else memset(r, 0xab, 1000);
  }
  assert_true(refused);
  heap = a.heap;
  assert_null(hop_arena_alloc(&a, 8192));
  assert_int_equal(a.heap, heap);
  assert_non_null(hop_arena_alloc(&a, 1)); /* small ones may still fit a chunk's tail */
  hop_arena_free(&a);
  hop_arena_init(&a, NULL, 0, 0); /* cap 0: heap never used */
  assert_null(hop_arena_alloc(&a, 1));
  hop_arena_free(&a);
}

static void many_small_allocations_are_distinct(void **state) {
  (void)state;
  uint8_t first[64];
  hop_arena a;
  hop_arena_init(&a, first + 1, sizeof(first) - 1, 1 << 20); /* unaligned storage */
  uint32_t *v[2000];
  for (uint32_t i = 0; i < 2000; i++) {
    v[i] = hop_arena_alloc(&a, sizeof(uint32_t) * 3);
    assert_non_null(v[i]);
    assert_int_equal((uintptr_t)v[i] % 16, 0);
    v[i][0] = v[i][1] = v[i][2] = i;
  }
  for (uint32_t i = 0; i < 2000; i++) assert_true(v[i][0] == i && v[i][2] == i);
  assert_true(a.heap < 2000 * 16 * 2); /* chunks, not one allocation per call */
  hop_arena_free(&a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(inline_first_then_heap),
      cmocka_unit_test(cap_refuses_and_leaves_arena_usable),
      cmocka_unit_test(many_small_allocations_are_distinct),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
