/* gzip compress / bounded decompress. */
#include "rpc/gzip.h"

#include <stdlib.h>
#include <zlib.h>

#include "hopwire/error.h"

int hop_gzip_compress(const void *in, size_t len, hop_buf *out) {
  z_stream zs = {0};
  /* windowBits 15 + 16: gzip wrapper; level 6 like Go's and Node's default */
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return HOP_ENOMEM;
  size_t bound = deflateBound(&zs, (uLong)len);
  size_t start = out->len;
  /* Highly compressible input fits far below its bound: try within the cap. */
  if (bound > out->max - start) bound = out->max - start;
  int rc = hop_buf_reserve(out, bound);
  if (rc) {
    deflateEnd(&zs);
    return rc;
  }
  zs.next_in = (Bytef *)in;
  zs.avail_in = (uInt)len;
  zs.next_out = out->data + start;
  zs.avail_out = (uInt)bound;
  int zr = deflate(&zs, Z_FINISH);
  size_t produced = bound - zs.avail_out;
  deflateEnd(&zs);
  if (zr != Z_STREAM_END) return zr == Z_OK || zr == Z_BUF_ERROR ? HOP_ETOOBIG : HOP_ENOMEM;
  out->len = start + produced;
  return HOP_OK;
}

int hop_gzip_decompress(const void *in, size_t len, size_t max_out, uint8_t **out,
                        size_t *out_len) {
  z_stream zs = {0};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return HOP_ENOMEM;
  /* Grow geometrically from a guess; never allocate past max_out + 1 (the extra byte is
   * how we learn the stream is longer than allowed). */
  size_t cap = len * 4 + 64;
  if (cap > max_out + 1) cap = max_out + 1;
  uint8_t *buf = malloc(cap ? cap : 1);
  if (!buf) {
    inflateEnd(&zs);
    return HOP_ENOMEM;
  }
  size_t have = 0;
  zs.next_in = (Bytef *)in;
  zs.avail_in = (uInt)len;
  int rc = HOP_OK;
  for (;;) {
    if (have == cap) {
      if (cap >= max_out + 1) {
        rc = HOP_ETOOBIG;
        break;
      }
      size_t ncap = cap * 2;
      if (ncap > max_out + 1) ncap = max_out + 1;
      uint8_t *nb = realloc(buf, ncap);
      if (!nb) {
        rc = HOP_ENOMEM;
        break;
      }
      buf = nb;
      cap = ncap;
    }
    zs.next_out = buf + have;
    zs.avail_out = (uInt)(cap - have);
    int zr = inflate(&zs, Z_NO_FLUSH);
    have = cap - zs.avail_out;
    if (have > max_out) {
      rc = HOP_ETOOBIG;
      break;
    }
    if (zr == Z_STREAM_END) {
      if (zs.avail_in != 0) rc = HOP_EPROTO; /* trailing bytes after the gzip member */
      break;
    }
    if (zr == Z_BUF_ERROR && zs.avail_in == 0) {
      rc = HOP_EPROTO; /* truncated stream */
      break;
    }
    if (zr != Z_OK && zr != Z_BUF_ERROR) {
      rc = zr == Z_MEM_ERROR ? HOP_ENOMEM : HOP_EPROTO;
      break;
    }
  }
  inflateEnd(&zs);
  if (rc) {
    free(buf);
    return rc;
  }
  *out = buf;
  *out_len = have;
  return HOP_OK;
}
