#include "h2/h2_mem.h"

static void *mem_malloc(size_t n, void *ud) { return hop_pool_alloc(ud, n); }
static void mem_free(void *p, void *ud) { hop_pool_free(ud, p); }
static void *mem_calloc(size_t k, size_t n, void *ud) { return hop_pool_calloc(ud, k, n); }
static void *mem_realloc(void *p, size_t n, void *ud) { return hop_pool_realloc(ud, p, n); }

nghttp2_mem hop_h2_mem(hop_pool *pool) {
  return (nghttp2_mem){pool, mem_malloc, mem_free, mem_calloc, mem_realloc};
}
