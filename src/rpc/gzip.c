/* gzip compress / bounded decompress. */
#include "rpc/gzip.h"

#include <pthread.h>
#include <stdlib.h>
#include <zlib.h>

#include "hopwire/error.h"

/* zlib's stream setup (deflateInit2 allocates ~260 KiB and clears tables) costs far more
 * than compressing a small RPC message: each thread keeps one deflate and one inflate stream
 * and resets them between messages. Freed by the thread-exit destructor. */
typedef struct zcache {
  z_stream def, inf;
  int def_ok, inf_ok;
} zcache;

static pthread_key_t zkey;
static pthread_once_t zonce = PTHREAD_ONCE_INIT;

static void zcache_free(void *p) {
  zcache *z = p;
  if (z->def_ok) deflateEnd(&z->def);
  if (z->inf_ok) inflateEnd(&z->inf);
  free(z);
}

static void zkey_init(void) { pthread_key_create(&zkey, zcache_free); }

static zcache *zcache_get(void) {
  pthread_once(&zonce, zkey_init);
  zcache *z = pthread_getspecific(zkey);
  if (!z) {
    z = calloc(1, sizeof(*z));
    if (!z || pthread_setspecific(zkey, z)) {
      free(z);
      return NULL;
    }
  }
  return z;
}

static z_stream *deflater(void) {
  zcache *z = zcache_get();
  if (!z) return NULL;
  if (z->def_ok) {
    deflateReset(&z->def);
    return &z->def;
  }
  /* windowBits 15 + 16: gzip wrapper; level 6 like Go's and Node's default */
  if (deflateInit2(&z->def, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return NULL;
  z->def_ok = 1;
  return &z->def;
}

static z_stream *inflater(void) {
  zcache *z = zcache_get();
  if (!z) return NULL;
  if (z->inf_ok) {
    inflateReset(&z->inf);
    return &z->inf;
  }
  if (inflateInit2(&z->inf, 15 + 16) != Z_OK) return NULL;
  z->inf_ok = 1;
  return &z->inf;
}

int hop_gzip_compress(const void *in, size_t len, hop_buf *out) {
  z_stream *zp = deflater();
  if (!zp) return HOP_ENOMEM;
  size_t bound = deflateBound(zp, (uLong)len);
  size_t start = out->len;
  /* Highly compressible input fits far below its bound: try within the cap. */
  if (bound > out->max - start) bound = out->max - start;
  int rc = hop_buf_reserve(out, bound);
  if (rc) return rc;
  zp->next_in = (Bytef *)in;
  zp->avail_in = (uInt)len;
  zp->next_out = out->data + start;
  zp->avail_out = (uInt)bound;
  int zr = deflate(zp, Z_FINISH);
  size_t produced = bound - zp->avail_out;
  if (zr != Z_STREAM_END) return zr == Z_OK || zr == Z_BUF_ERROR ? HOP_ETOOBIG : HOP_ENOMEM;
  out->len = start + produced;
  return HOP_OK;
}

int hop_gzip_decompress(const void *in, size_t len, size_t max_out, uint8_t **out,
                        size_t *out_len) {
  z_stream *zp = inflater();
  if (!zp) return HOP_ENOMEM;
  /* Grow geometrically from a guess; never allocate past max_out + 1 (the extra byte is
   * how we learn the stream is longer than allowed). */
  size_t cap = len * 4 + 64;
  if (cap > max_out + 1) cap = max_out + 1;
  uint8_t *buf = malloc(cap ? cap : 1);
  if (!buf) return HOP_ENOMEM;
  size_t have = 0;
  zp->next_in = (Bytef *)in;
  zp->avail_in = (uInt)len;
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
    zp->next_out = buf + have;
    zp->avail_out = (uInt)(cap - have);
    int zr = inflate(zp, Z_NO_FLUSH);
    have = cap - zp->avail_out;
    if (have > max_out) {
      rc = HOP_ETOOBIG;
      break;
    }
    if (zr == Z_STREAM_END) {
      if (zp->avail_in != 0) rc = HOP_EPROTO; /* trailing bytes after the gzip member */
      break;
    }
    if (zr == Z_BUF_ERROR && zp->avail_in == 0) {
      rc = HOP_EPROTO; /* truncated stream */
      break;
    }
    if (zr != Z_OK && zr != Z_BUF_ERROR) {
      rc = zr == Z_MEM_ERROR ? HOP_ENOMEM : HOP_EPROTO;
      break;
    }
  }
  if (rc) {
    free(buf);
    return rc;
  }
  *out = buf;
  *out_len = have;
  return HOP_OK;
}
