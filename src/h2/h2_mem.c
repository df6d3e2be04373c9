#include "h2/h2_mem.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Blocks below this stay in the pool: small ones share pages with their neighbours anyway. */
#define REGION_MIN 1024
/* libnghttp2's frame buffer chunk (NGHTTP2_FRAMEBUF_CHUNKLEN, 16 KiB + frame header): its
 * bytes are dead once nghttp2_session_mem_send returned 0. Every other block is state. */
#define FRAMES_MIN (16u << 10)
/* Layout unit. With larger pages (16/64 KiB) madvise refuses the unaligned range (EINVAL)
 * and the frame buffer just stays resident. */
#define PAGE 4096u

static int in_region(const hop_h2_mem *m, const void *p) {
  return (uintptr_t)p - (uintptr_t)m->base < HOP_H2_REGION;
}

/* |n| bytes of the region, or NULL when they do not fit. Blocks of a page or more own
 * whole pages (so that releasing one never touches a neighbour); smaller ones do not
 * straddle a page. Never handed out before, so zero. */
static void *region_take(hop_h2_mem *m, size_t n) {
  if (!m->base) return NULL;
  size_t off = (m->used + 15) & ~(size_t)15;
  if (n >= PAGE || (off % PAGE) + n > PAGE) off = (off + PAGE - 1) & ~(size_t)(PAGE - 1);
  if (n > HOP_H2_REGION - off) return NULL;
  m->used = (uint32_t)(off + (n >= PAGE ? (n + PAGE - 1) & ~(size_t)(PAGE - 1) : n));
  if (n >= FRAMES_MIN && !m->frames_len) {
    m->frames = (uint32_t)off;
    m->frames_len = m->used - (uint32_t)off;
    m->frames_dirty = 1;
  }
  return m->base + off;
}

/* A large block at session creation: from the region, else from the pool. The first is
 * the session struct itself, written whole at once: no page of its own, and not rounded up
 * to a pool class either (it lives as long as the connection). */
static void *region_alloc(hop_h2_mem *m, size_t n) {
  if (!m->first_seen) {
    m->first_seen = 1;
    return hop_pool_alloc_exact(m->pool, n);
  }
  void *p = region_take(m, n);
  return p ? p : hop_pool_alloc(m->pool, n);
}

static void *mem_malloc(size_t n, void *ud) {
  hop_h2_mem *m = ud;
  if (m->open && n >= REGION_MIN) return region_alloc(m, n);
  return hop_pool_alloc(m->pool, n);
}

static void *mem_calloc(size_t k, size_t n, void *ud) {
  hop_h2_mem *m = ud;
  if (m->open && n && k <= SIZE_MAX / n && k * n >= REGION_MIN) {
    uint8_t *p = region_alloc(m, k * n);
    if (p && !in_region(m, p)) memset(p, 0, k * n); /* region pages are zero already */
    return p;
  }
  return hop_pool_calloc(m->pool, k, n);
}

static void mem_free(void *p, void *ud) {
  hop_h2_mem *m = ud;
  if (in_region(m, p)) return; /* a resized table: the region dies with the session */
  hop_pool_free(m->pool, p);
}

static void *mem_realloc(void *p, size_t n, void *ud) {
  hop_h2_mem *m = ud;
  if (!p) return mem_malloc(n, ud); /* how nghttp2_bufs allocates the frame buffer */
  if (!in_region(m, p)) return hop_pool_realloc(m->pool, p, n);
  /* A region block's size is not kept: copy up to |n| bytes, as far as the region goes
   * (past the block's end that is harmless reading of our own pages). */
  size_t left = (size_t)(m->base + HOP_H2_REGION - (uint8_t *)p);
  void *v = hop_pool_alloc(m->pool, n);
  if (v) memcpy(v, p, n < left ? n : left);
  return v;
}

nghttp2_mem hop_h2_mem_init(hop_h2_mem *m, hop_pool *pool) {
  memset(m, 0, sizeof(*m));
  m->pool = pool;
  void *b = mmap(NULL, HOP_H2_REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (b != MAP_FAILED) {
    m->base = b;
    m->open = 1;
  }
  return (nghttp2_mem){m, mem_malloc, mem_free, mem_calloc, mem_realloc};
}

void hop_h2_mem_opened(hop_h2_mem *m) { m->open = 0; }

void *hop_h2_mem_zalloc(hop_h2_mem *m, size_t n) {
  void *p = region_take(m, n);
  if (p || m->extra) return p;
  return m->extra = hop_pool_calloc(m->pool, 1, n);
}

static int page_zero(const uint8_t *p) {
  const uint64_t *w = (const uint64_t *)p;
  for (size_t i = 0; i < PAGE / sizeof(*w); i++)
    if (w[i]) return 0;
  return 1;
}

void hop_h2_mem_release(hop_h2_mem *m) {
  if (!m->frames_dirty || !m->frames_len) return;
  m->frames_dirty = 0;
  madvise(m->base + m->frames, m->frames_len, MADV_DONTNEED); /* its own pages only */
  /* Other pages that hold only zeros (the stream map once every stream is gone) are the
   * same to their owners as fresh ones: give them back too. A scan per idle spell. */
  for (uint32_t off = 0; off < m->used; off += PAGE)
    if ((off < m->frames || off >= m->frames + m->frames_len) && page_zero(m->base + off))
      madvise(m->base + off, PAGE, MADV_DONTNEED);
}

void hop_h2_mem_fini(hop_h2_mem *m) {
  hop_pool_free(m->pool, m->extra);
  m->extra = NULL;
  if (m->base) munmap(m->base, HOP_H2_REGION);
  m->base = NULL;
  m->frames = m->frames_len = 0;
}
