/* hop_pool: freed blocks kept by size class for reuse by ONE thread (a worker's loop).
 * With 100 streams in flight, malloc's own per-thread cache (7 blocks a size) misses and
 * every request pays its slow path; a pool hands the same blocks round instead. At most
 * |max_bytes| are kept (the rest go back to malloc); blocks over the largest class are plain
 * malloc. Every block carries a 16-byte header naming its class.
 * Thread rules: everything but hop_pool_free_elsewhere on the owning thread only. */
#ifndef HOP_CORE_POOL_H
#define HOP_CORE_POOL_H

#include <stddef.h>

#define HOP_POOL_CLASSES 15

typedef struct hop_pool {
  void *free[HOP_POOL_CLASSES]; /* singly linked through each block's first word */
  size_t kept, max;             /* bytes held in |free| lists; cap on them */
  unsigned char cls[257];       /* class of a size, by (size + 15) / 16 */
} hop_pool;

void hop_pool_init(hop_pool *p, size_t max_bytes);
/* NULL when out of memory. Aligned for any scalar type (16). */
void *hop_pool_alloc(hop_pool *p, size_t n);
void *hop_pool_calloc(hop_pool *p, size_t nmemb, size_t size);
/* A block of exactly |n| bytes (plus the header), not rounded up to a class and never kept
 * on free: for long-lived blocks, where a class's slack would be paid for their lifetime. */
void *hop_pool_alloc_exact(hop_pool *p, size_t n);
void *hop_pool_realloc(hop_pool *p, void *ptr, size_t n);
void hop_pool_free(hop_pool *p, void *ptr);
/* Frees a pool block from any thread, straight back to malloc (the pool is not touched). */
void hop_pool_free_elsewhere(void *ptr);
/* Frees every kept block. The pool stays usable. */
void hop_pool_drain(hop_pool *p);

#endif
