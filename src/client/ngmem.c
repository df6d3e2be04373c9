#include "client/ngmem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/poison.h"

#define HDR 16u                 /* class and size, keeps the 16-byte alignment */
#define MIN_SHIFT 5             /* the smallest block: 32 bytes with the header */
#define NCLASS 8                /* 32 .. 4096 */
#define BIG 0xffu
#define KEEP_BYTES (64u << 10)  /* kept free per class */

typedef struct blk_hdr {
  uint32_t cls;
  uint32_t pad;
  uint64_t size; /* usable bytes */
} blk_hdr;

typedef struct free_blk {
  struct free_blk *next;
} free_blk;

struct hop_ngmem {
  nghttp2_mem mem;
  free_blk *free[NCLASS];
  uint32_t nfree[NCLASS];
};

static unsigned class_of(size_t need) {
  if (need <= (1u << MIN_SHIFT)) return 0;
  return (unsigned)(64 - __builtin_clzll((unsigned long long)(need - 1))) - MIN_SHIFT;
}

static void *ng_malloc(size_t size, void *ud) {
  hop_ngmem *m = ud;
  if (size > SIZE_MAX - HDR) return NULL;
  size_t need = size + HDR;
  unsigned k = need <= (1u << (MIN_SHIFT + NCLASS - 1)) ? class_of(need) : BIG;
  blk_hdr *h;
  if (k != BIG && m->free[k]) {
    free_blk *f = m->free[k];
    HOP_UNPOISON(f, (size_t)1 << (MIN_SHIFT + k));
    m->free[k] = f->next;
    m->nfree[k]--;
    h = (blk_hdr *)f;
  } else {
    h = malloc(k == BIG ? need : (size_t)1 << (MIN_SHIFT + k));
    if (!h) return NULL;
  }
  h->cls = k;
  h->size = k == BIG ? size : ((size_t)1 << (MIN_SHIFT + k)) - HDR;
  return (char *)h + HDR;
}

static void ng_free(void *p, void *ud) {
  hop_ngmem *m = ud;
  if (!p) return;
  blk_hdr *h = (blk_hdr *)((char *)p - HDR);
  unsigned k = h->cls;
  size_t bytes = (size_t)1 << (MIN_SHIFT + (k == BIG ? 0 : k));
  if (k == BIG || (size_t)m->nfree[k] * bytes >= KEEP_BYTES) {
    free(h);
    return;
  }
  free_blk *f = (free_blk *)h;
  f->next = m->free[k];
  m->free[k] = f;
  m->nfree[k]++;
  HOP_POISON(f, bytes);
}

static void *ng_calloc(size_t n, size_t size, void *ud) {
  if (size && n > SIZE_MAX / size) return NULL;
  void *p = ng_malloc(n * size, ud);
  if (p) memset(p, 0, n * size);
  return p;
}

static void *ng_realloc(void *p, size_t size, void *ud) {
  if (!p) return ng_malloc(size, ud);
  if (size == 0) {
    ng_free(p, ud);
    return NULL;
  }
  blk_hdr *h = (blk_hdr *)((char *)p - HDR);
  if (h->cls != BIG && size <= h->size) return p;
  void *q = ng_malloc(size, ud);
  if (!q) return NULL;
  memcpy(q, p, h->size < size ? h->size : size);
  ng_free(p, ud);
  return q;
}

hop_ngmem *hop_ngmem_new(void) {
  hop_ngmem *m = calloc(1, sizeof(*m));
  if (!m) return NULL;
  m->mem = (nghttp2_mem){m, ng_malloc, ng_free, ng_calloc, ng_realloc};
  return m;
}

void hop_ngmem_free(hop_ngmem *m) {
  if (!m) return;
  for (unsigned k = 0; k < NCLASS; k++) {
    while (m->free[k]) {
      free_blk *f = m->free[k];
      HOP_UNPOISON(f, (size_t)1 << (MIN_SHIFT + k));
      m->free[k] = f->next;
      free(f);
    }
  }
  free(m);
}

nghttp2_mem *hop_ngmem_mem(hop_ngmem *m) { return &m->mem; }
