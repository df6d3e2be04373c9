/* libnghttp2's allocator (nghttp2_mem) for one session, over a hop_pool (core/pool.h):
 * every stream makes a session allocate and free a handful of small blocks (stream,
 * outbound items, header buffers), which miss malloc's per-thread cache with 100 streams in
 * flight. Server workers and clients pass their loop's pool; the pool's thread rules apply
 * (its loop thread only).
 *
 * Idle connections: a session allocates ~25 KiB at creation, most of it never or rarely
 * written (the 16 KiB frame buffer, the HPACK tables, the stream map). Those large blocks,
 * and the frame gate's tables, come from a per-session region of fresh anonymous pages
 * (HOP_H2_REGION), so pages nobody wrote are not resident; hop_h2_mem_release gives the
 * frame buffer's pages back to the kernel while the session has nothing to send (nginx's
 * habit: buffers come with writing), and any page back to all zeros. The session struct
 * itself (nghttp2's first large block; written whole at once) stays an exact heap block.
 * Costs per connection, not per call: an mmap and a munmap (adjacent regions merge into one
 * mapping), a few page faults once written, again after each release. Without the region
 * (mmap failed, e.g. at vm.max_map_count) everything comes from the pool, as before.
 *
 * The struct must outlive the session (nghttp2_session_*_new3 copies the nghttp2_mem, whose
 * user data points here): embed it in the connection. */
#ifndef HOP_H2_MEM_H
#define HOP_H2_MEM_H

#include <nghttp2/nghttp2.h>
#include <stdint.h>

#include "core/pool.h"

#define HOP_H2_REGION (32u << 10) /* per session: gate and HPACK tables, stream map, frame buffer */

typedef struct hop_h2_mem {
  hop_pool *pool;
  uint8_t *base;     /* HOP_H2_REGION bytes of fresh pages, or NULL */
  void *extra;       /* hop_h2_mem_zalloc's block when it is not in the region */
  uint32_t used;     /* bump offset: a region block is not reused (it lives as the session) */
  uint32_t frames;   /* offset of the frame buffer's pages in the region, */
  uint32_t frames_len; /* and their length (0: not in the region) */
  uint8_t open;      /* session being created: its large blocks go to the region */
  uint8_t first_seen; /* the session struct itself (its first large block) was served */
  uint8_t frames_dirty; /* the frame buffer was written since the last release (owners set
                           it whenever nghttp2_session_mem_send returns bytes) */
} hop_h2_mem;

/* Maps the region (no error: without it the pool serves everything) and returns the
 * allocator to pass to nghttp2_session_*_new3. Call hop_h2_mem_opened after that call. */
nghttp2_mem hop_h2_mem_init(hop_h2_mem *m, hop_pool *pool);
/* |n| zeroed bytes living until hop_h2_mem_fini: fresh pages of the region (resident only
 * once written) when they fit, else a pool block. NULL without memory. One such block per
 * session (the frame gate's tables); asked before the session, it shares the HPACK tables'
 * page. */
void *hop_h2_mem_zalloc(hop_h2_mem *m, size_t n);
/* The session exists: later allocations (per stream, per frame) go to the pool only. */
void hop_h2_mem_opened(hop_h2_mem *m);
/* Call only when the session's frame buffer holds nothing: the last
 * nghttp2_session_mem_send returned 0 (mid-sequence it may hold the rest of a header block).
 * When frames were written since the last release: gives the frame buffer's pages and every
 * all-zero page of the region back to the kernel (madvise; a scan of the other pages). */
void hop_h2_mem_release(hop_h2_mem *m);
/* After nghttp2_session_del: unmaps the region. */
void hop_h2_mem_fini(hop_h2_mem *m);

#endif
