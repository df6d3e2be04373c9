#include "loop/mailbox.h"

#include "hopwire/error.h"

static void mailbox_drain(hop_mailbox *mb) {
  for (;;) {
    pthread_mutex_lock(&mb->mu);
    hop_mailbox_node *n = mb->head;
    mb->head = NULL;
    mb->tail = NULL;
    mb->len = 0;
    pthread_mutex_unlock(&mb->mu);
    if (!n) return;
    while (n) {
      hop_mailbox_node *next = n->next;
      mb->fn(n, mb->user_data);
      n = next;
    }
  }
}

static void on_async(uv_async_t *a) { mailbox_drain((hop_mailbox *)a->data); }

int hop_mailbox_init(hop_mailbox *mb, uv_loop_t *loop, size_t capacity, hop_mailbox_fn fn,
                     void *user_data) {
  mb->head = mb->tail = NULL;
  mb->len = 0;
  mb->capacity = capacity;
  mb->closed = 0;
  mb->fn = fn;
  mb->user_data = user_data;
  mb->on_closed = NULL;
  if (pthread_mutex_init(&mb->mu, NULL) != 0) return HOP_ENOMEM;
  int rv = uv_async_init(loop, &mb->async, on_async);
  if (rv) {
    pthread_mutex_destroy(&mb->mu);
    return hop_err_from_uv(rv);
  }
  mb->async.data = mb;
  return HOP_OK;
}

int hop_mailbox_post(hop_mailbox *mb, void *msg) {
  hop_mailbox_node *n = msg;
  n->next = NULL;
  pthread_mutex_lock(&mb->mu);
  if (mb->closed) {
    pthread_mutex_unlock(&mb->mu);
    return HOP_ESHUTDOWN;
  }
  if (mb->len >= mb->capacity) {
    pthread_mutex_unlock(&mb->mu);
    return HOP_EQUEUEFULL;
  }
  if (mb->tail) mb->tail->next = n;
  else mb->head = n;
  mb->tail = n;
  mb->len++;
  /* uv_async_send under the lock: close cannot race past us (close takes the lock first). */
  uv_async_send(&mb->async);
  pthread_mutex_unlock(&mb->mu);
  return HOP_OK;
}

static void on_async_closed(uv_handle_t *h) {
  hop_mailbox *mb = h->data;
  pthread_mutex_destroy(&mb->mu);
  if (mb->on_closed) mb->on_closed(mb);
}

void hop_mailbox_close(hop_mailbox *mb, void (*on_closed)(hop_mailbox *)) {
  pthread_mutex_lock(&mb->mu);
  mb->closed = 1;
  pthread_mutex_unlock(&mb->mu);
  mailbox_drain(mb);
  mb->on_closed = on_closed;
  uv_close((uv_handle_t *)&mb->async, on_async_closed);
}
