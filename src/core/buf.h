/* hop_buf: a growable byte buffer with a hard cap. Appending past the cap fails with
 * HOP_ETOOBIG and leaves the buffer unchanged; allocation failure returns HOP_ENOMEM. */
#ifndef HOP_CORE_BUF_H
#define HOP_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct hop_buf {
  uint8_t *data;
  size_t len;  /* bytes held */
  size_t cap;  /* bytes allocated */
  size_t max;  /* hard limit on len */
} hop_buf;

void hop_buf_init(hop_buf *b, size_t max);
void hop_buf_free(hop_buf *b);
/* Keeps the allocation, drops the content. */
static inline void hop_buf_clear(hop_buf *b) { b->len = 0; }
/* Makes room for |n| more bytes (within max). */
int hop_buf_reserve(hop_buf *b, size_t n);
int hop_buf_append(hop_buf *b, const void *p, size_t n);
/* hop_buf_reserve, without the call when the room is there already. */
static inline int hop_buf_room(hop_buf *b, size_t n) {
  if (b->cap - b->len >= n && n <= b->max && b->len <= b->max - n) return 0;
  return hop_buf_reserve(b, n);
}
int hop_buf_appendf(hop_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Removes the first |n| bytes. */
void hop_buf_consume(hop_buf *b, size_t n);
/* Hands the bytes to the caller (who frees them); the buffer becomes empty. */
uint8_t *hop_buf_steal(hop_buf *b, size_t *len);

#endif
