/* hopwire client: lifecycle, the loop thread, the mailbox, deferred work, counters. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"
#include "core/clock.h"
#include "core/log.h"

#define HOP_CLIENT_MAILBOX_CAP 65536

void hop_client_config_init(hop_client_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->http = HOP_HTTP_AUTO;
  cfg->max_conns_per_origin = 0; /* resolved per protocol: h2 16, h1 unlimited */
  cfg->max_idle_h1_per_origin = 256;
  cfg->max_queued_calls = 10000;
  cfg->idle_timeout_ms = 90000;
  cfg->connect_timeout_ms = 10000;
  cfg->ping_interval_ms = 30000;
  cfg->ping_timeout_ms = 20000;
  cfg->h2_stream_window = 1u << 20;
  cfg->h2_conn_window = 16u << 20;
  cfg->max_response_size = 64u << 20;
  cfg->max_response_headers = 64u << 10;
  cfg->max_retries = 5;
  cfg->retry_backoff_ms = 10;
  cfg->resolve_interval_ms = 30000;
}

int client_on_loop_thread(hop_client *c) {
  return pthread_equal(pthread_self(), c->loop_tid); /* uv_thread_t is a pthread_t on Unix */
}

/* ---- deferred work: flushes and completions run after the current event ---------------- */

static void drain(hop_client *c) {
  if (c->in_drain) return;
  c->in_drain = 1;
  for (;;) {
    if (c->pump_list) {
      hop_origin *o = c->pump_list;
      c->pump_list = o->pump_next;
      o->pump_next = NULL;
      o->pump_scheduled = 0;
      origin_pump(o);
      continue;
    }
    if (c->done_head) {
      hop_call *call = c->done_head;
      if (!c->drain_now_valid) {
        c->drain_now_us = hop_now_us();
        c->drain_now_valid = 1;
      }
      c->done_head = call->done_next;
      if (!c->done_head) c->done_tail = NULL;
      call->done_next = NULL;
      call_run_completion(call);
      continue;
    }
    /* Flush last: completions start the next calls, and one write then carries all of
     * their frames (flushing first cost one write() per call). */
    if (c->dirty) {
      hop_conn *conn = c->dirty;
      c->dirty = conn->dirty_next;
      conn->dirty_next = NULL;
      conn->in_dirty = 0;
      conn_flush(conn);
      continue;
    }
    break;
  }
  hop_waker_flush(&c->waker); /* this iteration's blocking callers, in one hand-over */
  c->drain_now_valid = 0;
  c->in_drain = 0;
  if (c->kicked && !c->handles_closed) {
    c->kicked = 0;
    uv_prepare_stop(&c->prep);
    uv_check_stop(&c->check);
  }
}

static void on_prepare(uv_prepare_t *h) { drain(h->data); }
static void on_check(uv_check_t *h) { drain(h->data); }

void client_kick(hop_client *c) {
  if (c->kicked || c->in_drain || c->handles_closed) return;
  c->kicked = 1;
  uv_prepare_start(&c->prep, on_prepare);
  uv_check_start(&c->check, on_check);
}

/* ---- handles -------------------------------------------------------------------------- */

static void maybe_free(hop_client *c);

void client_handle_done(hop_client *c) {
  c->open_handles--;
  maybe_free(c);
}

void client_handle_closed(uv_handle_t *h) { client_handle_done(h->data); }

static void client_destroy(hop_client *c) {
  hop_waker_stop(&c->waker);
  while (c->origins) {
    hop_origin *o = c->origins;
    c->origins = o->next;
    origin_free(o);
  }
  hop_target_free(c->last_target);
  call_cache_free(c);
  hop_pool_drain(&c->ngpool); /* every session is gone with its connection */
  hop_hist_free(c->hist);
  free(c);
}

static void maybe_free(hop_client *c) {
  if (c->freeing && c->open_handles == 0) client_destroy(c);
}

/* ---- the tick: PING, idle, age, per connection ---------------------------------------- */

static void on_tick(uv_timer_t *t) {
  hop_client *c = t->data;
  uint64_t now = hop_now_ms();
  for (hop_origin *o = c->origins; o; o = o->next) {
    origin_tick(o, now);
    hop_conn *conn = o->conns;
    while (conn) {
      hop_conn *next = conn->next; /* conn_tick may close it */
      conn_tick(conn, now);
      conn = next;
    }
  }
  drain(c);
}

static uint64_t tick_interval(const hop_client_config *cfg) {
  uint64_t t = 1000;
  uint64_t v[] = {cfg->ping_interval_ms, cfg->ping_timeout_ms, cfg->idle_timeout_ms,
                  cfg->max_conn_age_ms, cfg->resolve_interval_ms};
  for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
    if (v[i] && v[i] / 4 < t) t = v[i] / 4;
  return t < 10 ? 10 : t;
}

/* ---- mailbox ------------------------------------------------------------------------- */

static void on_msg(void *m, void *ud) {
  call_msg *msg = m;
  hop_client *c = ud;
  hop_call *call = msg->call;
  if (msg->kind == MSG_START) {
    if (c->shutting_down) call_complete(call, HOP_ESHUTDOWN);
    else call_on_start(call, 0);
  } else {
    if (!c->shutting_down) call_on_cancel(call, HOP_ECANCELED);
    call_unref(call); /* the ref hop_call_cancel took for the message */
  }
  client_kick(c);
}

static void on_mailbox_closed(hop_mailbox *mb) {
  hop_client *c = (hop_client *)((char *)mb - offsetof(hop_client, mb));
  c->open_handles--;
  maybe_free(c);
}

static void shutdown_now(hop_client *c) {
  if (c->shutting_down) return;
  c->shutting_down = 1;
  for (hop_origin *o = c->origins; o; o = o->next) origin_shutdown(o);
  hop_mailbox_close(&c->mb, on_mailbox_closed); /* queued starts complete: HOP_ESHUTDOWN */
  drain(c);
  c->handles_closed = 1; /* no more kicks: the prepare/check handles are closing */
  uv_timer_stop(&c->tick);
  uv_close((uv_handle_t *)&c->tick, client_handle_closed);
  deadline_close(c);
  uv_close((uv_handle_t *)&c->prep, client_handle_closed);
  uv_close((uv_handle_t *)&c->check, client_handle_closed);
  if (c->own_thread) uv_close((uv_handle_t *)&c->stop_async, client_handle_closed);
}

static void on_stop(uv_async_t *a) { shutdown_now(a->data); }

static void loop_thread(void *arg) {
  hop_client *c = arg;
  c->loop_tid = uv_thread_self(); /* before anyone may compare against it */
  uv_sem_post(&c->started);
  uv_run(c->loop, UV_RUN_DEFAULT);
}

int hop_client_new(hop_client **out, const hop_client_config *cfg) {
  if (!out) return HOP_EINVAL;
  *out = NULL;
  hop_client *c = calloc(1, sizeof(*c));
  if (!c) return HOP_ENOMEM;
  if (cfg) c->cfg = *cfg;
  else hop_client_config_init(&c->cfg);
  hop_waker_init(&c->waker);
  if (c->cfg.max_queued_calls == 0) c->cfg.max_queued_calls = 10000;
  if (c->cfg.connect_timeout_ms == 0) c->cfg.connect_timeout_ms = 10000;
  if (c->cfg.h2_stream_window == 0) c->cfg.h2_stream_window = 1u << 20;
  if (c->cfg.h2_conn_window == 0) c->cfg.h2_conn_window = 16u << 20;
  if (c->cfg.max_response_size == 0) c->cfg.max_response_size = 64u << 20;
  if (c->cfg.max_response_headers == 0) c->cfg.max_response_headers = 64u << 10;
  if (c->cfg.ping_interval_ms && c->cfg.ping_timeout_ms == 0) c->cfg.ping_timeout_ms = 20000;
  c->hist = hop_hist_new();
  /* nghttp2's blocks: the same cap the client's own free lists had (512 KiB) */
  hop_pool_init(&c->ngpool, 512u << 10);
  atomic_flag_clear(&c->hist_lock);
  if (!c->hist) {
    hop_waker_stop(&c->waker);
    free(c);
    return HOP_ENOMEM;
  }
  int rv;
  if (c->cfg.loop) {
    c->loop = c->cfg.loop;
    c->loop_tid = uv_thread_self();
  } else {
    c->own_thread = 1;
    c->loop = &c->own_loop;
    if ((rv = uv_loop_init(c->loop)) != 0) goto fail_hist;
  }
  if ((rv = hop_mailbox_init(&c->mb, c->loop, HOP_CLIENT_MAILBOX_CAP, on_msg, c)) != 0)
    goto fail_loop;
  uv_prepare_init(c->loop, &c->prep);
  uv_check_init(c->loop, &c->check);
  uv_timer_init(c->loop, &c->tick);
  c->prep.data = c->check.data = c->tick.data = c;
  uv_timer_start(&c->tick, on_tick, tick_interval(&c->cfg), tick_interval(&c->cfg));
  uv_unref((uv_handle_t *)&c->tick);
  deadline_init(c); /* a timer: cannot fail on an initialised loop */
  c->open_handles = 5; /* tick, deadlines, prepare, check, the mailbox's async */
  if (c->own_thread) {
    uv_async_init(c->loop, &c->stop_async, on_stop);
    c->stop_async.data = c;
    c->open_handles++;
    if (uv_sem_init(&c->started, 0) != 0 || uv_thread_create(&c->thread, loop_thread, c) != 0) {
      /* nothing ran yet: close by running the loop here */
      c->shutting_down = 1;
      hop_mailbox_close(&c->mb, NULL);
      uv_close((uv_handle_t *)&c->tick, NULL);
      uv_close((uv_handle_t *)&c->dl_timer, NULL);
      uv_close((uv_handle_t *)&c->prep, NULL);
      uv_close((uv_handle_t *)&c->check, NULL);
      uv_close((uv_handle_t *)&c->stop_async, NULL);
      uv_run(c->loop, UV_RUN_DEFAULT);
      uv_loop_close(c->loop);
      hop_hist_free(c->hist);
      hop_waker_stop(&c->waker);
      free(c);
      return HOP_ENOMEM;
    }
    uv_sem_wait(&c->started);
    uv_sem_destroy(&c->started);
  }
  *out = c;
  return HOP_OK;
fail_loop:
  if (c->own_thread) uv_loop_close(c->loop);
fail_hist:
  hop_hist_free(c->hist);
  hop_waker_stop(&c->waker);
  free(c);
  return hop_err_from_uv(rv);
}

void hop_client_free(hop_client *c) {
  if (!c) return;
  if (c->own_thread && client_on_loop_thread(c)) {
    /* from a callback on the client's own thread: it cannot join itself */
    hop_log_error("hop_client_free: called on the client's own I/O thread; ignored");
    return;
  }
  if (c->own_thread) {
    uv_async_send(&c->stop_async);
    uv_thread_join(&c->thread);
    /* every handle is closed once uv_run returned */
    uv_loop_close(c->loop);
    client_destroy(c);
    return;
  }
  /* caller's loop, on its thread: the struct goes when the last handle has closed */
  shutdown_now(c);
  c->freeing = 1;
  maybe_free(c);
}

/* ---- counters --------------------------------------------------------------------------- */

#define LD(f) atomic_load_explicit(&c->f, memory_order_relaxed)

void hop_client_get_stats(hop_client *c, hop_client_stats *out) {
  memset(out, 0, sizeof(*out));
  out->dials_started = LD(st_dials_started);
  out->dials_failed = LD(st_dials_failed);
  out->conns_open_h2 = LD(st_open_h2);
  out->conns_open_h1 = LD(st_open_h1);
  out->streams_in_flight = LD(st_in_flight);
  out->calls_queued = LD(st_queued);
  out->calls_started = LD(st_started);
  out->calls_ok = LD(st_ok);
  out->calls_failed = LD(st_failed);
  out->goaways_received = LD(st_goaways);
  out->retries = LD(st_retries);
  out->pings_timed_out = LD(st_pings_timed_out);
}

void hop_client_get_latency(hop_client *c, hop_latency *out) {
  hist_lock(c);
  hop_hist_summary(c->hist, out);
  hist_unlock(c);
}

void hop_client_copy_hist(hop_client *c, hop_hist *dst) {
  hist_lock(c);
  hop_hist_reset(dst);
  hop_hist_merge(dst, c->hist);
  hist_unlock(c);
}

void hop_client_reset_latency(hop_client *c) {
  hist_lock(c);
  hop_hist_reset(c->hist);
  hist_unlock(c);
}
