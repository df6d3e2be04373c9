/* hop_mailbox: a bounded multi-producer queue into one libuv loop.
 *
 * Producers (any thread) hop_mailbox_post(); the owning loop is woken by a uv_async and runs
 * |fn| for each message in FIFO order. The mailbox is the only object that crosses threads.
 * Posting to a full mailbox fails with HOP_EQUEUEFULL (never grows past |capacity|);
 * posting after close fails with HOP_ESHUTDOWN. */
#ifndef HOP_LOOP_MAILBOX_H
#define HOP_LOOP_MAILBOX_H

#include <pthread.h>
#include <stddef.h>
#include <uv.h>

typedef void (*hop_mailbox_fn)(void *msg, void *user_data);

typedef struct hop_mailbox_node {
  struct hop_mailbox_node *next;
} hop_mailbox_node;

typedef struct hop_mailbox {
  uv_async_t async;
  pthread_mutex_t mu;
  hop_mailbox_node *head, *tail; /* messages embed a hop_mailbox_node first */
  size_t len, capacity;
  int closed;
  hop_mailbox_fn fn;
  void *user_data;
  void (*on_closed)(struct hop_mailbox *);
} hop_mailbox;

/* On the loop's thread. Messages must start with a hop_mailbox_node. */
int hop_mailbox_init(hop_mailbox *mb, uv_loop_t *loop, size_t capacity, hop_mailbox_fn fn,
                     void *user_data);
/* Any thread. |msg| must begin with a hop_mailbox_node; ownership passes on success. */
int hop_mailbox_post(hop_mailbox *mb, void *msg);
/* On the loop's thread: refuses new posts, runs what is queued, closes the async handle;
 * |on_closed| (may be NULL) fires from the close callback, after which |mb| may be freed. */
void hop_mailbox_close(hop_mailbox *mb, void (*on_closed)(hop_mailbox *));

#endif
