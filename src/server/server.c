/* hop_server: configuration, workers (thread + loop + SO_REUSEPORT listener), lifecycle
 * (start, graceful drain, stop, wait, free) and stats. */
#include <errno.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/clock.h"
#include "core/log.h"
#include "hopwire/error.h"
#include "server/server_internal.h"

void hop_server_config_init(hop_server_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->host = "127.0.0.1";
  cfg->port = 0;
  cfg->threads = 0;
  cfg->max_connections = 10000;
  cfg->max_concurrent_streams = 100;
  cfg->max_header_list_size = 64 * 1024;
  cfg->max_body_size = 4 * 1024 * 1024;
  cfg->header_timeout_ms = 10000;
  cfg->body_timeout_ms = 30000;
  cfg->idle_timeout_ms = 120000;
  cfg->drain_timeout_ms = 10000;
  cfg->max_empty_frames = 10;
  cfg->max_control_per_sec = 100;
  cfg->max_resets_sent_burst = 200;
  cfg->max_resets_sent_rate = 20;
  cfg->handle_signals = 0;
  cfg->builtin_routes = 1;
  cfg->max_pending_answers = 65536;
  cfg->answer_wait_ms = 100;
  cfg->max_conn_body_buffer = 16 * 1024 * 1024;
  cfg->max_body_buffer = 256 * 1024 * 1024;
}

/* ---- the server-wide body budget ---- */

static hop_body_budget *budget_new(size_t max) {
  hop_body_budget *b = malloc(sizeof(*b));
  if (!b) return NULL;
  atomic_init(&b->used, 0);
  b->max = max;
  atomic_init(&b->refs, 1);
  return b;
}

static void budget_unref(hop_body_budget *b) {
  if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) free(b);
}

int hop_body_charge(hop_body_budget *b, size_t n) {
  size_t cur = atomic_load_explicit(&b->used, memory_order_relaxed);
  do {
    if (b->max && (cur > b->max || n > b->max - cur)) return -1;
  } while (!atomic_compare_exchange_weak_explicit(&b->used, &cur, cur + n, memory_order_relaxed,
                                                  memory_order_relaxed));
  return 0;
}

void hop_body_release(hop_body_budget *b, size_t n) {
  if (n) atomic_fetch_sub_explicit(&b->used, n, memory_order_relaxed);
}

int hop_server_new(hop_server **out, const hop_server_config *cfg) {
  if (!out || !cfg) return HOP_EINVAL;
  if (!cfg->max_connections || !cfg->max_concurrent_streams || !cfg->max_header_list_size)
    return HOP_EINVAL;
  hop_server *s = calloc(1, sizeof(*s));
  if (!s) return HOP_ENOMEM;
  s->cfg = *cfg;
  s->host = strdup(cfg->host && *cfg->host ? cfg->host : "127.0.0.1");
  s->budget = budget_new(cfg->max_body_buffer);
  if (!s->host || !s->budget || pthread_mutex_init(&s->ctl_mu, NULL)) {
    free(s->host);
    free(s->budget);
    free(s);
    return HOP_ENOMEM;
  }
  s->cfg.host = s->host;
  if (!s->cfg.threads) {
    unsigned n = uv_available_parallelism();
    s->cfg.threads = n ? n : 1;
  }
  if (s->cfg.threads > 256) s->cfg.threads = 256;
  if (!s->cfg.header_timeout_ms) s->cfg.header_timeout_ms = 10000;
  if (!s->cfg.body_timeout_ms) s->cfg.body_timeout_ms = 30000;
  if (!s->cfg.idle_timeout_ms) s->cfg.idle_timeout_ms = 120000;
  if (!s->cfg.drain_timeout_ms) s->cfg.drain_timeout_ms = 10000;
  if (!s->cfg.max_control_per_sec) s->cfg.max_control_per_sec = 100;
  if (!s->cfg.max_resets_sent_burst) s->cfg.max_resets_sent_burst = 200;
  if (!s->cfg.max_pending_answers) s->cfg.max_pending_answers = 65536;
  hop_h2_limits_init(&s->h2);
  s->h2.max_concurrent_streams = s->cfg.max_concurrent_streams;
  s->h2.max_header_list_size =
      s->cfg.max_header_list_size > UINT32_MAX ? UINT32_MAX : (uint32_t)s->cfg.max_header_list_size;
  atomic_init(&s->drain_timeout_ms, s->cfg.drain_timeout_ms);
  *out = s;
  return HOP_OK;
}

int hop_server_handle(hop_server *s, const char *path, hop_handler_fn fn, void *user_data) {
  if (!s || !path || !fn || path[0] != '/') return HOP_EINVAL;
  if (s->started) return HOP_ESTATE;
  for (size_t i = 0; i < s->nroutes; i++)
    if (!strcmp(s->routes[i].path, path)) return HOP_EBUSY;
  hop_route *nr = realloc(s->routes, (s->nroutes + 1) * sizeof(*nr));
  if (!nr) return HOP_ENOMEM;
  s->routes = nr;
  char *p = strdup(path);
  if (!p) return HOP_ENOMEM;
  s->routes[s->nroutes++] = (hop_route){p, fn, user_data};
  return HOP_OK;
}

int hop_server_set_fallback(hop_server *s, hop_handler_fn fn, void *user_data) {
  if (!s) return HOP_EINVAL;
  if (s->started) return HOP_ESTATE;
  s->fallback = fn;
  s->fallback_data = user_data;
  return HOP_OK;
}

/* ---- workers ---- */

static void worker_free(hop_worker *w) {
  budget_unref(w->budget);
  hop_pool_drain(&w->pool); /* last reference: no loop uses it any more */
  pthread_mutex_destroy(&w->post_mu);
  free(w->rbuf);
  free(w);
}

void hop_worker_unref(hop_worker *w) {
  if (atomic_fetch_sub_explicit(&w->refs, 1, memory_order_acq_rel) == 1) worker_free(w);
}

void hop_worker_poke(hop_worker *w) {
  pthread_mutex_lock(&w->s->ctl_mu);
  if (w->control_open) uv_async_send(&w->control);
  pthread_mutex_unlock(&w->s->ctl_mu);
}

static void close_listener(hop_worker *w) {
  if (!w->listening) return;
  w->listening = 0;
  uv_close((uv_handle_t *)&w->listener, NULL);
}

/* Fallback for handlers that do not use hop_request_on_cancel (e.g. the RPC layer's
 * deadline timers): their one-shot timers (an answer delay, a downstream deadline) would keep
 * a finished worker's loop alive after every request was canceled: fire them now (their
 * answers are no-ops) so that a stop is immediate. Rearmed ones are stopped shortly after. */
static int foreign_timer(hop_worker *w, uv_handle_t *h) {
  return h->type == UV_TIMER && !uv_is_closing(h) && uv_is_active(h) &&
         h != (uv_handle_t *)&w->sweep && h != (uv_handle_t *)&w->goaway;
}

static void fast_forward(uv_handle_t *h, void *arg) {
  hop_worker *w = arg;
  if (!foreign_timer(w, h)) return;
  uv_timer_set_repeat((uv_timer_t *)h, 1);
  if (uv_timer_again((uv_timer_t *)h) == 0) w->fast_forwarded++;
}

static void stop_rearmed(uv_handle_t *h, void *arg) {
  hop_worker *w = arg;
  if (!foreign_timer(w, h) || uv_timer_get_repeat((uv_timer_t *)h) != 1) return;
  uv_timer_set_repeat((uv_timer_t *)h, 0);
  uv_timer_stop((uv_timer_t *)h);
}

static void on_reaper(uv_timer_t *t) {
  hop_worker *w = t->data;
  uv_walk(&w->loop, stop_rearmed, w);
  uv_close((uv_handle_t *)t, NULL);
}

static void maybe_finish(hop_worker *w) {
  hop_server *s = w->s;
  if (w->finishing || w->nconns) return;
  if (!w->drain_started && !atomic_load(&s->stopping)) return;
  /* Worker 0 owns the signal handlers: it stays until the others are done, so a second
   * signal still means "stop now" rather than the default action. */
  if (w->idx == 0 && atomic_load(&s->workers_running) > 1) return;
  w->finishing = 1;
  /* Every connection is gone: the last cancel notices run now, before the handles close,
   * so that handlers can stop their timers (then nothing is left to fast-forward). */
  hop_worker_fire_cancels(w);
  close_listener(w);
  uv_close((uv_handle_t *)&w->sweep, NULL);
  uv_close((uv_handle_t *)&w->flush, NULL);
  if (w->signals) {
    uv_close((uv_handle_t *)&w->sigterm, NULL);
    uv_close((uv_handle_t *)&w->sigint, NULL);
  }
  uv_timer_stop(&w->goaway);
  w->fast_forwarded = 0;
  uv_walk(&w->loop, fast_forward, w);
  if (w->fast_forwarded)
    uv_timer_start(&w->goaway, on_reaper, 20, 0); /* the goaway timer becomes the reaper */
  else
    uv_close((uv_handle_t *)&w->goaway, NULL);
  pthread_mutex_lock(&s->ctl_mu);
  w->control_open = 0;
  uv_close((uv_handle_t *)&w->control, NULL);
  unsigned left = atomic_fetch_sub(&s->workers_running, 1) - 1;
  if (w->idx != 0 && left >= 1 && s->workers[0]->control_open) uv_async_send(&s->workers[0]->control);
  pthread_mutex_unlock(&s->ctl_mu);
  /* Every connection is closed (requests detached): late answers now free themselves. */
  pthread_mutex_lock(&w->post_mu);
  w->mb_open = 0;
  pthread_mutex_unlock(&w->post_mu);
  hop_mailbox_close(&w->mb, NULL);
  hop_worker_answer_overflow(w); /* detached by now: just freed */
}

void hop_worker_conn_closed(hop_worker *w) { maybe_finish(w); }

static void close_all(hop_worker *w) {
  hop_conn *c = w->conns;
  while (c) {
    hop_conn *next = c->next;
    hop_conn_close(c);
    c = next;
  }
}

static void on_goaway_timer(uv_timer_t *t) {
  hop_worker *w = t->data;
  for (hop_conn *c = w->conns, *next; c; c = next) {
    next = c->next;
    if (c->proto == HOP_CONN_H2) hop_h2_conn_drain(c, 1);
  }
}

static void start_drain(hop_worker *w) {
  hop_server *s = w->s;
  w->drain_started = 1;
  close_listener(w);
  w->drain_deadline_ms = hop_now_ms() + atomic_load(&s->drain_timeout_ms);
  for (hop_conn *c = w->conns, *next; c; c = next) {
    next = c->next;
    hop_conn_begin_drain(c);
  }
  uv_timer_start(&w->goaway, on_goaway_timer, HOP_SRV_GOAWAY_DELAY_MS, 0);
}

static void on_control(uv_async_t *a) {
  hop_worker *w = a->data;
  hop_server *s = w->s;
  hop_worker_answer_overflow(w);
  if (w->finishing) return;
  if (atomic_load(&s->stopping)) {
    w->drain_started = 1;
    close_listener(w);
    close_all(w);
  } else if (atomic_load(&s->draining) && !w->drain_started) {
    start_drain(w);
  }
  maybe_finish(w);
}

static void on_sweep(uv_timer_t *t) {
  hop_worker *w = t->data;
  uint64_t now = hop_now_ms();
  if (w->drain_started && now >= w->drain_deadline_ms) {
    close_all(w);
    maybe_finish(w);
    return;
  }
  for (hop_conn *c = w->conns, *next; c; c = next) {
    next = c->next;
    hop_conn_sweep(c, now);
  }
}

static void on_connection(uv_stream_t *l, int status) {
  hop_worker *w = l->data;
  if (status < 0) return;
  hop_conn_accept(w);
}

static void on_mail(void *msg, void *ud) { hop_request_deliver(msg); }

static void on_signal(uv_signal_t *h, int signum) {
  hop_worker *w = h->data;
  hop_server *s = w->s;
  if (!atomic_load(&s->draining)) {
    hop_log_info("server: signal %d: draining", signum);
    hop_server_shutdown(s, 0);
  } else {
    hop_log_info("server: second signal %d: stopping now", signum);
    hop_server_stop(s);
  }
}

static int make_addr(const char *host, uint16_t port, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof(*ss));
  if (strchr(host, ':')) return uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss);
  if (!strcmp(host, "localhost")) host = "127.0.0.1";
  return uv_ip4_addr(host, port, (struct sockaddr_in *)ss);
}

static int listen_on(hop_worker *w, uint16_t port) {
  struct sockaddr_storage ss;
  int rv = make_addr(w->s->host, port, &ss);
  if (rv) return HOP_EINVAL;
  rv = uv_tcp_init_ex(&w->loop, &w->listener, ss.ss_family);
  if (rv) return hop_err_from_uv(rv);
  w->listener.data = w;
  w->listening = 1;
  uv_os_fd_t fd;
  int one = 1;
  if (uv_fileno((uv_handle_t *)&w->listener, &fd) == 0)
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  rv = uv_tcp_bind(&w->listener, (const struct sockaddr *)&ss, 0);
  if (!rv) rv = uv_listen((uv_stream_t *)&w->listener, 1024, on_connection);
  if (rv) return rv == UV_EADDRINUSE ? HOP_EADDRINUSE : hop_err_from_uv(rv);
  return HOP_OK;
}

static uint64_t sweep_interval(const hop_server_config *c) {
  uint64_t m = c->header_timeout_ms;
  if (c->body_timeout_ms < m) m = c->body_timeout_ms;
  if (c->idle_timeout_ms < m) m = c->idle_timeout_ms;
  if (c->drain_timeout_ms < m) m = c->drain_timeout_ms;
  m /= 4;
  if (m < 10) m = 10;
  if (m > 1000) m = 1000;
  return m;
}

/* Creates worker |i|'s loop and handles (on the calling thread; the loop is not running). */
static int worker_init(hop_server *s, unsigned i, hop_worker **out) {
  hop_worker *w = calloc(1, sizeof(*w));
  if (!w) return HOP_ENOMEM;
  w->s = s;
  w->idx = i;
  w->answer_wait_ms = s->cfg.answer_wait_ms;
  atomic_init(&w->refs, 1);
  hop_pool_init(&w->pool, HOP_SRV_POOL_KEEP);
  w->rbuf = malloc(HOP_SRV_READ_BUF);
  if (!w->rbuf || pthread_mutex_init(&w->post_mu, NULL)) {
    free(w->rbuf);
    free(w);
    return HOP_ENOMEM;
  }
  w->budget = s->budget;
  atomic_fetch_add_explicit(&s->budget->refs, 1, memory_order_relaxed);
  int rv = uv_loop_init(&w->loop);
  if (rv) {
    worker_free(w);
    return hop_err_from_uv(rv);
  }
  *out = w;
  uv_async_init(&w->loop, &w->control, on_control);
  w->control.data = w;
  w->control_open = 1;
  uv_timer_init(&w->loop, &w->sweep);
  w->sweep.data = w;
  uv_timer_init(&w->loop, &w->goaway);
  w->goaway.data = w;
  uv_idle_init(&w->loop, &w->flush);
  w->flush.data = w;
  rv = hop_mailbox_init(&w->mb, &w->loop, s->cfg.max_pending_answers, on_mail, w);
  if (rv) return rv;
  w->mb_open = 1;
  if (i == 0 && s->cfg.handle_signals) {
    uv_signal_init(&w->loop, &w->sigterm);
    uv_signal_init(&w->loop, &w->sigint);
    w->sigterm.data = w->sigint.data = w;
    uv_signal_start(&w->sigterm, on_signal, SIGTERM);
    uv_signal_start(&w->sigint, on_signal, SIGINT);
    w->signals = 1;
  }
  rv = listen_on(w, i == 0 ? s->cfg.port : s->port);
  if (rv) return rv;
  if (i == 0) {
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    uv_tcp_getsockname(&w->listener, (struct sockaddr *)&ss, &len);
    s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
  }
  uint64_t tick = sweep_interval(&s->cfg);
  uv_timer_start(&w->sweep, on_sweep, tick, tick);
  return HOP_OK;
}

/* Undoes worker_init on a loop that never ran. */
static void worker_abort(hop_worker *w) {
  hop_server *s = w->s;
  w->drain_started = 1;
  atomic_store(&s->workers_running, 1); /* let maybe_finish run for any index */
  if (!w->mb_open) {
    /* mailbox never initialised: fake the pieces maybe_finish touches */
    w->finishing = 1;
    close_listener(w);
    uv_close((uv_handle_t *)&w->sweep, NULL);
    uv_close((uv_handle_t *)&w->goaway, NULL);
    uv_close((uv_handle_t *)&w->flush, NULL);
    uv_close((uv_handle_t *)&w->control, NULL);
    w->control_open = 0;
  } else {
    maybe_finish(w);
  }
  uv_run(&w->loop, UV_RUN_DEFAULT);
  uv_loop_close(&w->loop);
  hop_worker_unref(w);
}

static void worker_main(void *arg) {
  hop_worker *w = arg;
  w->tid = uv_thread_self();
  uv_run(&w->loop, UV_RUN_DEFAULT);
  int rv = uv_loop_close(&w->loop);
  if (rv) hop_log_warn("server: worker %u: loop not empty at exit (%s)", w->idx, uv_strerror(rv));
  w->finished = 1;
}

int hop_server_start(hop_server *s) {
  if (!s) return HOP_EINVAL;
  if (s->started) return HOP_ESTATE;
  /* A peer closing while we write must not kill the process: ignore SIGPIPE unless the
   * application installed its own handler. */
  struct sigaction sa;
  if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) signal(SIGPIPE, SIG_IGN);
  int rv = hop_h2_server_init(s);
  if (rv) return rv;
  s->workers = calloc(s->cfg.threads, sizeof(*s->workers));
  if (!s->workers) {
    hop_h2_server_free(s);
    return HOP_ENOMEM;
  }
  unsigned n = 0;
  for (; n < s->cfg.threads; n++) {
    hop_worker *w = NULL;
    rv = worker_init(s, n, &w);
    if (rv) {
      if (w) worker_abort(w);
      break;
    }
    s->workers[n] = w;
  }
  if (rv) {
    /* Highest first: a worker's teardown may poke worker 0. */
    for (unsigned i = n; i-- > 0;) worker_abort(s->workers[i]);
    free(s->workers);
    s->workers = NULL;
    hop_h2_server_free(s);
    return rv;
  }
  s->nworkers = n;
  atomic_store(&s->workers_running, n);
  s->started = 1;
  for (unsigned i = 0; i < n; i++) {
    rv = uv_thread_create(&s->workers[i]->thread, worker_main, s->workers[i]);
    if (rv) {
      /* Could not start every thread: stop those that run. */
      hop_log_error("server: thread: %s", uv_strerror(rv));
      s->nworkers = i;
      atomic_store(&s->workers_running, i);
      hop_server_stop(s);
      hop_server_wait(s);
      for (unsigned j = n; j-- > i;) {
        worker_abort(s->workers[j]);
        s->workers[j] = NULL;
      }
      return hop_err_from_uv(rv);
    }
  }
  return HOP_OK;
}

int hop_server_start_inline(hop_server *s, uv_loop_t **loop) {
  if (!s || !loop) return HOP_EINVAL;
  if (s->started) return HOP_ESTATE;
  s->cfg.threads = 1;
  int rv = hop_h2_server_init(s);
  if (rv) return rv;
  s->workers = calloc(1, sizeof(*s->workers));
  hop_worker *w = NULL;
  rv = s->workers ? worker_init(s, 0, &w) : HOP_ENOMEM;
  if (rv) {
    if (w) worker_abort(w);
    free(s->workers);
    s->workers = NULL;
    hop_h2_server_free(s);
    return rv;
  }
  s->workers[0] = w;
  s->nworkers = 1;
  atomic_store(&s->workers_running, 1);
  s->started = 1;
  s->joined = 1; /* no thread to join */
  w->tid = uv_thread_self();
  *loop = &w->loop;
  return HOP_OK;
}

uint16_t hop_server_port(const hop_server *s) { return s ? s->port : 0; }

int hop_server_address(const hop_server *s, char *buf, size_t len) {
  if (!s || !buf) return HOP_EINVAL;
  int n = strchr(s->host, ':') ? snprintf(buf, len, "[%s]:%u", s->host, s->port)
                               : snprintf(buf, len, "%s:%u", s->host, s->port);
  return n < 0 || (size_t)n >= len ? HOP_ETOOBIG : HOP_OK;
}

void hop_server_shutdown(hop_server *s, uint64_t drain_timeout_ms) {
  if (!s || !s->started) return;
  if (drain_timeout_ms && !atomic_load(&s->draining))
    atomic_store(&s->drain_timeout_ms, drain_timeout_ms);
  atomic_store(&s->draining, 1);
  for (unsigned i = 0; i < s->nworkers; i++) hop_worker_poke(s->workers[i]);
}

void hop_server_stop(hop_server *s) {
  if (!s || !s->started) return;
  atomic_store(&s->draining, 1);
  atomic_store(&s->stopping, 1);
  for (unsigned i = 0; i < s->nworkers; i++) hop_worker_poke(s->workers[i]);
}

int hop_server_wait(hop_server *s) {
  if (!s || !s->started) return HOP_ESTATE;
  if (s->joined) return HOP_OK;
  for (unsigned i = 0; i < s->nworkers; i++) uv_thread_join(&s->workers[i]->thread);
  s->joined = 1;
  return HOP_OK;
}

void hop_server_free(hop_server *s) {
  if (!s) return;
  if (s->started && !s->joined) {
    hop_server_stop(s);
    hop_server_wait(s);
  }
  for (unsigned i = 0; i < s->nworkers; i++) hop_worker_unref(s->workers[i]);
  free(s->workers);
  hop_h2_server_free(s);
  for (size_t i = 0; i < s->nroutes; i++) free(s->routes[i].path);
  free(s->routes);
  pthread_mutex_destroy(&s->ctl_mu);
  budget_unref(s->budget);
  free(s->host);
  free(s);
}

void hop_server_get_stats(hop_server *s, hop_server_stats *out) {
  memset(out, 0, sizeof(*out));
  if (!s) return;
#define SUM(f) out->f += atomic_load_explicit(&w->stats.f, memory_order_relaxed)
  for (unsigned i = 0; i < s->nworkers; i++) {
    hop_worker *w = s->workers[i];
    SUM(connections_h1);
    SUM(connections_h2);
    SUM(connections_total);
    SUM(connections_rejected);
    SUM(streams_open);
    SUM(requests);
    SUM(responses);
    SUM(resets_sent);
    SUM(resets_received);
    SUM(goaways_sent);
    SUM(bytes_in);
    SUM(bytes_out);
    SUM(protocol_errors);
    SUM(answers_dropped);
    SUM(body_refusals);
  }
#undef SUM
  out->body_buffered = atomic_load_explicit(&s->budget->used, memory_order_relaxed);
}
