#include "core/pool.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/poison.h"

/* A kept block is poisoned past its link word: use after free still reports under ASan. */
#define POISON(p, n) HOP_POISON(p, n)
#define UNPOISON(p, n) HOP_UNPOISON(p, n)

#define HDR HOP_POOL_HDR
#define BIG HOP_POOL_BIG

const size_t hop_pool_class_size[HOP_POOL_CLASSES] = {32,  48,  64,   96,   128,  192,  256, 384,
                                                      512, 768, 1024, 1536, 2048, 3072, 4096};
#define class_size hop_pool_class_size

typedef struct hdr {
  size_t cls; /* index into class_size, or BIG */
  size_t size; /* usable bytes: class_size[cls], or the size asked for */
} hdr;

static unsigned class_of(const hop_pool *p, size_t n) {
  return n <= 4096 ? p->cls[(n + 15) / 16] : BIG;
}

void hop_pool_init(hop_pool *p, size_t max_bytes) {
  memset(p, 0, sizeof(*p));
  p->max = max_bytes;
  for (size_t i = 0, c = 0; i < sizeof(p->cls); i++) {
    while (i * 16 > class_size[c]) c++; /* the largest class is 4096 = 256 * 16 */
    p->cls[i] = (unsigned char)c;
  }
}

void *hop_pool_alloc_new(hop_pool *p, size_t n) {
  unsigned c = class_of(p, n);
  size_t size = c == BIG ? n : class_size[c];
  if (size > SIZE_MAX - HDR) return NULL;
  hdr *h = malloc(HDR + size);
  if (!h) return NULL;
  h->cls = c;
  h->size = size;
  return (uint8_t *)h + HDR;
}

void hop_pool_free_block(void *ptr) { free((uint8_t *)ptr - HDR); }

void *hop_pool_alloc_exact(hop_pool *p, size_t n) {
  (void)p;
  if (n > SIZE_MAX - HDR) return NULL;
  hdr *h = malloc(HDR + n);
  if (!h) return NULL;
  h->cls = BIG; /* freed straight back to malloc, like a block over the largest class */
  h->size = n;
  return (uint8_t *)h + HDR;
}

void *hop_pool_calloc(hop_pool *p, size_t nmemb, size_t size) {
  if (size && nmemb > SIZE_MAX / size) return NULL;
  void *v = hop_pool_alloc(p, nmemb * size);
  if (v) memset(v, 0, nmemb * size);
  return v;
}

void *hop_pool_realloc(hop_pool *p, void *ptr, size_t n) {
  if (!ptr) return hop_pool_alloc(p, n);
  hdr *h = (hdr *)((uint8_t *)ptr - HDR);
  if (n <= h->size) return ptr;
  void *v = hop_pool_alloc(p, n);
  if (!v) return NULL; /* |ptr| stays valid, as with realloc */
  memcpy(v, ptr, h->size);
  hop_pool_free(p, ptr);
  return v;
}

void hop_pool_free_elsewhere(void *ptr) {
  if (ptr) free((uint8_t *)ptr - HDR);
}

void hop_pool_drain(hop_pool *p) {
  for (unsigned c = 0; c < HOP_POOL_CLASSES; c++) {
    uint8_t *b = p->free[c];
    while (b) {
      UNPOISON(b, HDR + class_size[c]);
      uint8_t *next = *(void **)(b + HDR);
      free(b);
      b = next;
    }
    p->free[c] = NULL;
  }
  p->kept = 0;
}
