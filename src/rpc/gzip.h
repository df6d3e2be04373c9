/* gzip for RPC messages (zlib). Decompression is bounded: it stops as soon as the output
 * would pass |max_out| (a gzip bomb costs at most max_out bytes of memory). */
#ifndef HOP_RPC_GZIP_H
#define HOP_RPC_GZIP_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Appends the gzip of |in| to |out| (bounded by out->max). HOP_OK, HOP_ETOOBIG, HOP_ENOMEM. */
int hop_gzip_compress(const void *in, size_t len, hop_buf *out);
/* Inflates a gzip stream into a new malloc'd buffer (*out, *out_len; *out non-NULL even for
 * an empty result). HOP_ETOOBIG past |max_out|, HOP_EPROTO for a corrupt or truncated
 * stream or trailing garbage, HOP_ENOMEM. */
int hop_gzip_decompress(const void *in, size_t len, size_t max_out, uint8_t **out,
                        size_t *out_len);

#endif
