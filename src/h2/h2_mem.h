/* libnghttp2's allocator (nghttp2_mem) over a hop_pool (core/pool.h): every stream makes a
 * session allocate and free a handful of small blocks (stream, outbound items, header
 * buffers), which miss malloc's per-thread cache with 100 streams in flight. Server workers
 * and clients pass their loop's pool; the pool's thread rules apply (its loop thread only).
 * nghttp2_session_*_new3 copies the struct, so a value on the stack will do. */
#ifndef HOP_H2_MEM_H
#define HOP_H2_MEM_H

#include <nghttp2/nghttp2.h>

#include "core/pool.h"

nghttp2_mem hop_h2_mem(hop_pool *pool);

#endif
