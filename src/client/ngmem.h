/* A size-class free-list allocator for libnghttp2 (nghttp2_mem), shared by a client's
 * sessions. Every stream makes nghttp2 allocate and free a handful of small blocks (stream,
 * outbound items, header copies); with 100 streams in flight they miss glibc's per-thread
 * cache and cost more than the HTTP/2 work itself. Blocks of up to 4 KiB are kept on one
 * list per power-of-two size, each list capped (64 KiB per size), so a client keeps at most
 * 512 KiB; larger blocks go straight to malloc. Loop thread only. */
#ifndef HOP_CLIENT_NGMEM_H
#define HOP_CLIENT_NGMEM_H

#include <nghttp2/nghttp2.h>

typedef struct hop_ngmem hop_ngmem;

hop_ngmem *hop_ngmem_new(void); /* NULL: out of memory */
/* After every session that used it was deleted. */
void hop_ngmem_free(hop_ngmem *m);
/* The allocator to pass to nghttp2_session_client_new3; lives as long as |m|. */
nghttp2_mem *hop_ngmem_mem(hop_ngmem *m);

#endif
