#include "core/arena.h"

#include <stdlib.h>
#include <string.h>

#define HOP_ARENA_ALIGN 16
#define HOP_ARENA_CHUNK_MIN 4096

struct hop_arena_chunk {
  hop_arena_chunk *next;
  size_t size; /* whole chunk, header included: counted in heap */
  _Alignas(HOP_ARENA_ALIGN) uint8_t data[];
};

static uint8_t *align_up(uint8_t *p) {
  uintptr_t u = (uintptr_t)p;
  return (uint8_t *)((u + HOP_ARENA_ALIGN - 1) & ~(uintptr_t)(HOP_ARENA_ALIGN - 1));
}

void hop_arena_init(hop_arena *a, void *first, size_t first_len, size_t max) {
  a->ptr = first ? align_up(first) : NULL;
  a->end = first ? (uint8_t *)first + first_len : NULL;
  if (a->ptr > a->end) a->ptr = a->end;
  a->chunks = NULL;
  a->heap = 0;
  a->max = max;
}

void *hop_arena_alloc_slow(hop_arena *a, size_t n) {
  if (n == 0) n = 1;
  if (a->ptr && n <= (size_t)(a->end - a->ptr)) {
    void *p = a->ptr;
    /* The next allocation starts aligned; |end| may be unaligned (caller's storage). */
    size_t step = (n + HOP_ARENA_ALIGN - 1) & ~(size_t)(HOP_ARENA_ALIGN - 1);
    a->ptr = step <= (size_t)(a->end - a->ptr) ? a->ptr + step : a->end;
    return p;
  }
  if (n > SIZE_MAX / 2) return NULL;
  size_t want = n + sizeof(hop_arena_chunk) + HOP_ARENA_ALIGN;
  /* Growing chunks keep the chunk count logarithmic in what the arena holds. */
  size_t size = a->heap > HOP_ARENA_CHUNK_MIN ? a->heap : HOP_ARENA_CHUNK_MIN;
  if (size < want) size = want;
  if (a->heap >= a->max || want > a->max - a->heap) return NULL;
  if (size > a->max - a->heap) size = a->max - a->heap; /* still >= want */
  hop_arena_chunk *c = malloc(size);
  if (!c) return NULL;
  c->next = a->chunks;
  c->size = size;
  a->chunks = c;
  a->heap += size;
  a->ptr = c->data;
  a->end = (uint8_t *)c + size;
  return hop_arena_alloc_slow(a, n);
}

char *hop_arena_strndup(hop_arena *a, const void *p, size_t n) {
  if (n == SIZE_MAX) return NULL;
  char *s = hop_arena_alloc(a, n + 1);
  if (!s) return NULL;
  if (n) memcpy(s, p, n);
  s[n] = 0;
  return s;
}

void hop_arena_free(hop_arena *a) {
  hop_arena_chunk *c = a->chunks;
  while (c) {
    hop_arena_chunk *next = c->next;
    free(c);
    c = next;
  }
  a->chunks = NULL;
  a->heap = 0;
  a->ptr = a->end = NULL;
}
