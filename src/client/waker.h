/* The waker: a helper thread that wakes blocking callers for the loop thread.
 *
 * Why: with 200 blocking callers the loop thread spent most of its time in FUTEX_WAKE
 * (try_to_wake_up, an IPI per wake on a VM), and that single thread bounded throughput.
 * The loop now hands each iteration's finished waiters over in one batch (one atomic
 * exchange, and one FUTEX_WAKE only when the waker sleeps); the waker pays the per-caller
 * wake on another core.
 *
 * Threads: hop_waker_add and hop_waker_flush run on the loop thread only; the waker thread
 * only pops. hop_waker_start and hop_waker_stop are serialised by the owner. */
#ifndef HOP_CLIENT_WAKER_H
#define HOP_CLIENT_WAKER_H

#include <pthread.h>
#include <stdatomic.h>

/* One blocking caller's wait word; lives on the caller's stack until done != 0. */
typedef struct hop_wait {
  atomic_uint done;
  struct hop_wait *next;
} hop_wait;

void hop_wait_init(hop_wait *w);
void hop_wait_block(hop_wait *w);  /* caller: sleeps until done */
void hop_wait_wake(hop_wait *w);   /* any thread: done = 1, wake the caller */

typedef struct hop_waker {
  _Atomic(hop_wait *) head;   /* handed-over batch, LIFO; the waker takes all */
  atomic_uint seq;            /* bumped by every hand-over: the waker's futex word */
  atomic_int sleeping;
  atomic_int stop;
  atomic_int running;         /* 1 once the thread is up; read by the loop thread */
  hop_wait *local;            /* loop thread: this iteration's batch */
  pthread_t thread;
  pthread_mutex_t start_mu;
} hop_waker;

void hop_waker_init(hop_waker *k);
/* Starts the thread once (any thread). 0, or a negative hop error (callers then fall back
 * to waking directly). */
int hop_waker_start(hop_waker *k);
/* Loop thread: queue |w| for waking (or wake it now when the waker is not running). */
void hop_waker_add(hop_waker *k, hop_wait *w);
/* Loop thread: hand this iteration's batch to the waker. */
void hop_waker_flush(hop_waker *k);
/* Wakes everything still queued, joins the thread. Not on the waker thread. */
void hop_waker_stop(hop_waker *k);

#endif
