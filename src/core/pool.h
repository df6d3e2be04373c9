/* hop_pool: freed blocks kept by size class for reuse by ONE thread (a worker's loop).
 * With 100 streams in flight, malloc's own per-thread cache (7 blocks a size) misses and
 * every request pays its slow path; a pool hands the same blocks round instead. At most
 * |max_bytes| are kept (the rest go back to malloc); blocks over the largest class are plain
 * malloc. Every block carries a 16-byte header naming its class.
 * Thread rules: everything but hop_pool_free_elsewhere on the owning thread only. */
#ifndef HOP_CORE_POOL_H
#define HOP_CORE_POOL_H

#include <stddef.h>

#include "core/poison.h"

#define HOP_POOL_CLASSES 15

typedef struct hop_pool {
  void *free[HOP_POOL_CLASSES]; /* singly linked through each block's first word */
  size_t kept, max;             /* bytes held in |free| lists; cap on them */
  unsigned char cls[257];       /* class of a size, by (size + 15) / 16 */
} hop_pool;

void hop_pool_init(hop_pool *p, size_t max_bytes);
/* hop_pool_alloc(p, n) and hop_pool_free(p, ptr) are inline, below. Allocations are NULL
 * when out of memory, aligned for any scalar type (16). */
void *hop_pool_calloc(hop_pool *p, size_t nmemb, size_t size);
/* A block of exactly |n| bytes (plus the header), not rounded up to a class and never kept
 * on free: for long-lived blocks, where a class's slack would be paid for their lifetime. */
void *hop_pool_alloc_exact(hop_pool *p, size_t n);
void *hop_pool_realloc(hop_pool *p, void *ptr, size_t n);
/* Frees a pool block from any thread, straight back to malloc (the pool is not touched). */
void hop_pool_free_elsewhere(void *ptr);
/* Frees every kept block. The pool stays usable. */
void hop_pool_drain(hop_pool *p);

/* ---- the common cases, inline (a stream costs nghttp2 ~15 allocations and frees) ---- */

#define HOP_POOL_HDR 16    /* the block header: its class, its usable size */
#define HOP_POOL_BIG 0xffu /* the class of a block bigger than every class */
extern const size_t hop_pool_class_size[HOP_POOL_CLASSES];
void *hop_pool_alloc_new(hop_pool *p, size_t n); /* no kept block of that class */
void hop_pool_free_block(void *ptr);             /* back to malloc */

static inline void *hop_pool_alloc(hop_pool *p, size_t n) {
  if (n <= 4096) {
    unsigned c = p->cls[(n + 15) / 16];
    unsigned char *b = p->free[c];
    if (b) {
      HOP_UNPOISON(b, HOP_POOL_HDR + hop_pool_class_size[c]);
      p->free[c] = *(void **)(b + HOP_POOL_HDR);
      p->kept -= hop_pool_class_size[c] + HOP_POOL_HDR;
      return b + HOP_POOL_HDR;
    }
  }
  return hop_pool_alloc_new(p, n);
}

static inline void hop_pool_free(hop_pool *p, void *ptr) {
  if (!ptr) return;
  unsigned char *b = (unsigned char *)ptr - HOP_POOL_HDR;
  size_t c = ((const size_t *)(void *)b)[0], size = ((const size_t *)(void *)b)[1];
  if (c == HOP_POOL_BIG || p->kept + HOP_POOL_HDR + size > p->max) {
    hop_pool_free_block(ptr);
    return;
  }
  *(void **)ptr = p->free[c];
  p->free[c] = b;
  p->kept += HOP_POOL_HDR + size;
  HOP_POISON((unsigned char *)ptr + sizeof(void *), size - sizeof(void *));
}

#endif
