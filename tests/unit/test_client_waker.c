/* Unit tests (no sockets): the client's waker thread, which wakes blocking callers for the
 * loop thread in batches. A test thread plays the loop: it adds waiters and flushes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "client/waker.h"
#include "hopwire/error.h"

#define NCALLERS 64
#define ROUNDS 200

typedef struct caller {
  hop_wait w;
  atomic_int ready;   /* the caller is about to block on w */
  atomic_int woken;   /* it returned from hop_wait_block */
  int rounds;
  pthread_t t;
} caller;

static void *caller_main(void *arg) {
  caller *c = arg;
  for (int i = 0; i < c->rounds; i++) {
    hop_wait_init(&c->w);
    atomic_store(&c->ready, 1);
    hop_wait_block(&c->w);
    atomic_store(&c->ready, 0);
    atomic_fetch_add(&c->woken, 1);
  }
  return NULL;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* waits up to ~5 s for *v == want; returns whether it came */
static int eventually(atomic_int *v, int want) {
  for (int i = 0; i < 5000; i++) {
    if (atomic_load(v) == want) return 1;
    sleep_ms(1);
  }
  return atomic_load(v) == want;
}

/* one caller thread for one round, returned once it is about to block */
static void start_one_caller(caller *c) {
  c->rounds = 1;
  atomic_init(&c->ready, 0);
  atomic_init(&c->woken, 0);
  assert_int_equal(pthread_create(&c->t, NULL, caller_main, c), 0);
  assert_true(eventually(&c->ready, 1));
}

/* Many callers, many rounds, batches of every size: each wake reaches its caller once, and
 * no caller wakes before its batch was flushed. */
static void test_batches_wake_every_caller(void **state) {
  (void)state;
  hop_waker k;
  hop_waker_init(&k);
  assert_int_equal(hop_waker_start(&k), HOP_OK);
  assert_int_equal(hop_waker_start(&k), HOP_OK); /* idempotent */
  static caller cs[NCALLERS];
  for (int i = 0; i < NCALLERS; i++) {
    atomic_init(&cs[i].ready, 0);
    atomic_init(&cs[i].woken, 0);
    cs[i].rounds = ROUNDS;
    assert_int_equal(pthread_create(&cs[i].t, NULL, caller_main, &cs[i]), 0);
  }
  for (int r = 0; r < ROUNDS; r++) {
    for (int i = 0; i < NCALLERS; i++) assert_true(eventually(&cs[i].ready, 1));
    /* add all, but flush in batches of r % 7 + 1: queued and unflushed callers stay asleep */
    int batch = r % 7 + 1;
    for (int i = 0; i < NCALLERS; i++) {
      atomic_store(&cs[i].ready, 0);
      hop_waker_add(&k, &cs[i].w);
      if ((i + 1) % batch == 0 || i == NCALLERS - 1) hop_waker_flush(&k);
    }
    for (int i = 0; i < NCALLERS; i++) assert_true(eventually(&cs[i].woken, r + 1));
  }
  for (int i = 0; i < NCALLERS; i++) pthread_join(cs[i].t, NULL);
  hop_waker_stop(&k);
}

/* A queued but unflushed waiter is not woken; flush wakes it. */
static void test_unflushed_stays_asleep(void **state) {
  (void)state;
  hop_waker k;
  hop_waker_init(&k);
  assert_int_equal(hop_waker_start(&k), HOP_OK);
  caller c;
  start_one_caller(&c);
  hop_waker_add(&k, &c.w);
  sleep_ms(50);
  assert_int_equal(atomic_load(&c.woken), 0);
  hop_waker_flush(&k);
  assert_true(eventually(&c.woken, 1));
  pthread_join(c.t, NULL);
  hop_waker_stop(&k);
}

/* Without a running waker thread, add wakes at once (the fallback when the thread could not
 * start); stop on a never-started waker is fine. */
static void test_not_started_wakes_directly(void **state) {
  (void)state;
  hop_waker k;
  hop_waker_init(&k);
  caller c;
  start_one_caller(&c);
  hop_waker_add(&k, &c.w);
  assert_true(eventually(&c.woken, 1));
  pthread_join(c.t, NULL);
  hop_waker_stop(&k);
}

/* stop wakes what was queued and never flushed, then joins. */
static void test_stop_wakes_leftovers(void **state) {
  (void)state;
  hop_waker k;
  hop_waker_init(&k);
  assert_int_equal(hop_waker_start(&k), HOP_OK);
  caller c;
  start_one_caller(&c);
  hop_waker_add(&k, &c.w);
  hop_waker_stop(&k);
  assert_true(eventually(&c.woken, 1));
  pthread_join(c.t, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_batches_wake_every_caller),
      cmocka_unit_test(test_unflushed_stays_asleep),
      cmocka_unit_test(test_not_started_wakes_directly),
      cmocka_unit_test(test_stop_wakes_leftovers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
