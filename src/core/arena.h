/* hop_arena: a bump allocator for memory that dies all at once (one request, one stream).
 * It starts in caller-provided storage (often inline in the owning struct, so the common
 * case costs no allocation) and continues in heap chunks, never more than |max| heap bytes
 * in all: past that, or when malloc fails, hop_arena_alloc returns NULL and the arena is
 * unchanged. Nothing is freed one by one; hop_arena_free releases every chunk.
 * Not thread-safe: one owner at a time (hand-offs need their own happens-before). */
#ifndef HOP_CORE_ARENA_H
#define HOP_CORE_ARENA_H

#include <stddef.h>
#include <stdint.h>

typedef struct hop_arena_chunk hop_arena_chunk;

typedef struct hop_arena {
  uint8_t *ptr, *end;      /* free space of the current block */
  hop_arena_chunk *chunks; /* heap chunks, newest first */
  size_t heap, max;        /* heap bytes taken in chunks; cap on them */
} hop_arena;

/* |first| (may be NULL with |first_len| 0) is used before any heap chunk; it must outlive
 * the arena and is never freed by it. */
void hop_arena_init(hop_arena *a, void *first, size_t first_len, size_t max);
/* |n| bytes aligned for any scalar type (16), or NULL (cap or out of memory). */
void *hop_arena_alloc_slow(hop_arena *a, size_t n);
static inline void *hop_arena_alloc(hop_arena *a, size_t n) {
  /* Fast path inline: the common request takes ~20 small pieces from the first block. */
  size_t step = (n + 15) & ~(size_t)15;
  if (n && step >= n && a->ptr && step <= (size_t)(a->end - a->ptr)) {
    void *p = a->ptr;
    a->ptr += step;
    return p;
  }
  return hop_arena_alloc_slow(a, n);
}
/* A copy of |p|[0..n) followed by a NUL, or NULL. */
char *hop_arena_strndup(hop_arena *a, const void *p, size_t n);
/* Frees the heap chunks; the arena is empty (reusable after hop_arena_init). */
void hop_arena_free(hop_arena *a);

#endif
