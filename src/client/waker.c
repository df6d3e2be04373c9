#include "client/waker.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hopwire/error.h"

static long futex(atomic_uint *word, int op, unsigned val) {
  return syscall(SYS_futex, word, op, val, NULL, NULL, 0);
}

void hop_wait_init(hop_wait *w) {
  atomic_init(&w->done, 0);
  w->next = NULL;
}

void hop_wait_block(hop_wait *w) {
  while (atomic_load_explicit(&w->done, memory_order_acquire) == 0)
    futex(&w->done, FUTEX_WAIT_PRIVATE, 0);
}

/* A wake landing after the caller returned (it saw done without sleeping) hits a dead stack
 * word at worst: futex waiters tolerate spurious wake-ups. */
void hop_wait_wake(hop_wait *w) {
  atomic_store_explicit(&w->done, 1, memory_order_release);
  futex(&w->done, FUTEX_WAKE_PRIVATE, 1);
}

static void wake_list(hop_wait *w) {
  while (w) {
    hop_wait *next = w->next; /* read first: once done is set the caller may return */
    hop_wait_wake(w);
    w = next;
  }
}

static void *waker_main(void *arg) {
  hop_waker *k = arg;
  pthread_setname_np(pthread_self(), "hop-waker"); /* for top -H and gdb */
  for (;;) {
    unsigned seq = atomic_load(&k->seq);
    hop_wait *list = atomic_exchange(&k->head, NULL);
    if (list) {
      wake_list(list);
      continue;
    }
    if (atomic_load(&k->stop)) break;
    atomic_store(&k->sleeping, 1);
    if (atomic_load(&k->head) == NULL && !atomic_load(&k->stop) && atomic_load(&k->seq) == seq)
      futex(&k->seq, FUTEX_WAIT_PRIVATE, seq);
    atomic_store(&k->sleeping, 0);
  }
  wake_list(atomic_exchange(&k->head, NULL));
  return NULL;
}

void hop_waker_init(hop_waker *k) {
  atomic_init(&k->head, NULL);
  atomic_init(&k->seq, 0);
  atomic_init(&k->sleeping, 0);
  atomic_init(&k->stop, 0);
  atomic_init(&k->running, 0);
  k->local = NULL;
  pthread_mutex_init(&k->start_mu, NULL);
}

int hop_waker_start(hop_waker *k) {
  if (atomic_load_explicit(&k->running, memory_order_acquire)) return HOP_OK;
  int rv = HOP_OK;
  pthread_mutex_lock(&k->start_mu);
  if (!atomic_load(&k->running) && !atomic_load(&k->stop)) {
    if (pthread_create(&k->thread, NULL, waker_main, k) == 0) atomic_store(&k->running, 1);
    else rv = HOP_ENOMEM;
  }
  pthread_mutex_unlock(&k->start_mu);
  return rv;
}

void hop_waker_add(hop_waker *k, hop_wait *w) {
  if (!atomic_load_explicit(&k->running, memory_order_acquire)) {
    hop_wait_wake(w);
    return;
  }
  w->next = k->local;
  k->local = w;
}

void hop_waker_flush(hop_waker *k) {
  hop_wait *first = k->local;
  if (!first) return;
  k->local = NULL;
  if (!first->next && atomic_load(&k->sleeping)) {
    /* One caller and the waker asleep: waking it would cost the same FUTEX_WAKE as waking
     * the caller, plus a thread hop on the caller's latency. */
    hop_wait_wake(first);
    return;
  }
  hop_wait *last = first;
  while (last->next) last = last->next;
  hop_wait *old = atomic_load(&k->head);
  do last->next = old;
  while (!atomic_compare_exchange_weak(&k->head, &old, first));
  atomic_fetch_add(&k->seq, 1);
  if (atomic_load(&k->sleeping)) futex(&k->seq, FUTEX_WAKE_PRIVATE, 1);
}

void hop_waker_stop(hop_waker *k) {
  pthread_mutex_lock(&k->start_mu);
  atomic_store(&k->stop, 1);
  int running = atomic_load(&k->running);
  pthread_mutex_unlock(&k->start_mu);
  if (running) {
    wake_list(k->local); /* not flushed: the loop is gone */
    k->local = NULL;
    atomic_fetch_add(&k->seq, 1);
    futex(&k->seq, FUTEX_WAKE_PRIVATE, 1);
    pthread_join(k->thread, NULL);
  }
  pthread_mutex_destroy(&k->start_mu);
}
