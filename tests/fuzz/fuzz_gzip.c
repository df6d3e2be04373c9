/* libFuzzer: bounded gzip inflate (src/rpc/gzip.c) with the cap the first two bytes choose
 * (0..65535 bytes of output): a bomb never costs more than the cap, a corrupt or truncated
 * stream is HOP_EPROTO, never a crash. Valid inputs are re-compressed and inflated again. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "hopwire/error.h"
#include "rpc/gzip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  size_t cap = (size_t)data[0] << 8 | data[1];
  data += 2;
  size -= 2;
  uint8_t *out = NULL;
  size_t out_len = 0;
  int rv = hop_gzip_decompress(data, size, cap, &out, &out_len);
  if (rv == HOP_OK) {
    if (out_len > cap) abort();
    hop_buf z;
    hop_buf_init(&z, 1 << 20);
    if (hop_gzip_compress(out, out_len, &z) == HOP_OK) {
      uint8_t *again = NULL;
      size_t again_len = 0;
      if (hop_gzip_decompress(z.data, z.len, cap, &again, &again_len) != HOP_OK ||
          again_len != out_len || (out_len && memcmp(again, out, out_len) != 0))
        abort(); /* the round trip must give the same bytes */
      free(again);
    }
    hop_buf_free(&z);
  }
  free(out);
  return 0;
}
