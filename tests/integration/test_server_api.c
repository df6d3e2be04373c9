/* Server API in-process: port 0, routes and fallback, stats counters, answering from
 * another thread, answering after the connection died or the server was freed, trailers
 * on h2c (via nghttp), graceful shutdown with a request in flight, cancellation notices
 * (peer close, peer reset, stop, drain deadline), a full answer mailbox (bounded wait, 503). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hopwire/error.h"
#include "hopwire/server.h"

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int dial(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Sends |req| and reads one response with a content-length body into |out|. Returns the
 * status, or -1. */
static int roundtrip(int fd, const char *req, char *out, size_t outlen) {
  if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) return -1;
  size_t len = 0;
  char *end = NULL;
  while (!(end = strstr(out, "\r\n\r\n"))) {
    if (len + 1 >= outlen) return -1;
    ssize_t n = read(fd, out + len, outlen - len - 1);
    if (n <= 0) return -1;
    len += (size_t)n;
    out[len] = 0;
  }
  const char *cl = strcasestr(out, "content-length: ");
  size_t body = cl ? strtoul(cl + 16, NULL, 10) : 0;
  size_t need = (size_t)(end + 4 - out) + body;
  while (len < need) {
    ssize_t n = read(fd, out + len, outlen - len - 1);
    if (n <= 0) return -1;
    len += (size_t)n;
    out[len] = 0;
  }
  return atoi(out + 9);
}

static hop_server *start(hop_server_config *cfg, const char *path, hop_handler_fn fn, void *ud) {
  hop_server *s = NULL;
  assert_int_equal(hop_server_new(&s, cfg), HOP_OK);
  if (path) assert_int_equal(hop_server_handle(s, path, fn, ud), HOP_OK);
  assert_int_equal(hop_server_start(s), HOP_OK);
  assert_true(hop_server_port(s) != 0);
  return s;
}

static void hello(hop_request *r, void *ud) {
  (void)ud;
  hop_header h[] = {HOP_HEADER("x-path", "yes")};
  char body[256];
  snprintf(body, sizeof(body), "%s %s q=%s auth=%s ua=%s", hop_request_method(r), hop_request_path(r),
           hop_request_query(r), hop_request_authority(r),
           hop_request_header(r, "User-Agent") ? hop_request_header(r, "User-Agent") : "-");
  hop_request_respond(r, 200, h, 1, body, strlen(body), NULL, 0);
}

static void fallback(hop_request *r, void *ud) {
  (void)ud;
  hop_request_respond(r, 418, NULL, 0, "teapot", 6, NULL, 0);
}

static void with_trailers(hop_request *r, void *ud) {
  (void)ud;
  hop_header h[] = {HOP_HEADER("content-type", "text/plain")};
  hop_header t[] = {HOP_HEADER("x-trailer", "yes"), HOP_HEADER("X-Upper", "Case")};
  hop_request_respond(r, 200, h, 1, "body", 4, t, 2);
}

static void routes_and_stats(void **state) {
  (void)state;
  hop_server_config cfg;
  hop_server_config_init(&cfg);
  cfg.threads = 2;
  hop_server *s = NULL;
  assert_int_equal(hop_server_new(&s, &cfg), HOP_OK);
  assert_int_equal(hop_server_handle(s, "/hello", hello, NULL), HOP_OK);
  assert_int_equal(hop_server_handle(s, "/hello", hello, NULL), HOP_EBUSY);
  assert_int_equal(hop_server_handle(s, "/trailers", with_trailers, NULL), HOP_OK);
  assert_int_equal(hop_server_set_fallback(s, fallback, NULL), HOP_OK);
  assert_int_equal(hop_server_start(s), HOP_OK);
  assert_int_equal(hop_server_handle(s, "/late", hello, NULL), HOP_ESTATE);
  char addr[64];
  assert_int_equal(hop_server_address(s, addr, sizeof(addr)), HOP_OK);
  char want[64];
  snprintf(want, sizeof(want), "127.0.0.1:%u", hop_server_port(s));
  assert_string_equal(addr, want);

  int fd = dial(hop_server_port(s));
  assert_true(fd >= 0);
  char buf[4096] = "";
  assert_int_equal(roundtrip(fd, "GET /hello?a=1 HTTP/1.1\r\nHost: h:1\r\nUser-Agent: t\r\n\r\n", buf, sizeof(buf)), 200);
  assert_non_null(strstr(buf, "x-path: yes\r\n"));
  assert_non_null(strstr(buf, "GET /hello q=a=1 auth=h:1 ua=t"));
  memset(buf, 0, sizeof(buf));
  assert_int_equal(roundtrip(fd, "GET /other HTTP/1.1\r\nHost: h\r\n\r\n", buf, sizeof(buf)), 418);
  memset(buf, 0, sizeof(buf));
  assert_int_equal(roundtrip(fd, "GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n", buf, sizeof(buf)), 200);
  memset(buf, 0, sizeof(buf));
  assert_int_equal(roundtrip(fd, "GET /readyz HTTP/1.1\r\nHost: h\r\n\r\n", buf, sizeof(buf)), 200);

  hop_server_stats st;
  hop_server_get_stats(s, &st);
  assert_int_equal(st.connections_h1, 1);
  assert_int_equal(st.connections_h2, 0);
  assert_int_equal(st.connections_total, 1);
  assert_int_equal(st.requests, 4);
  assert_int_equal(st.responses, 4);
  assert_true(st.bytes_in > 100 && st.bytes_out > 100);
  assert_int_equal(st.protocol_errors, 0);

  /* A malformed request counts as a protocol error and closes. */
  memset(buf, 0, sizeof(buf));
  assert_int_equal(roundtrip(fd, "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", buf, sizeof(buf)), 400);
  close(fd);
  for (int i = 0; i < 100; i++) {
    hop_server_get_stats(s, &st);
    if (st.connections_h1 == 0) break;
    sleep_ms(10);
  }
  assert_int_equal(st.connections_h1, 0);
  assert_int_equal(st.protocol_errors, 1);

  /* h2c through curl (prior knowledge): counted as an h2 connection and stream. */
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "curl -s --http2-prior-knowledge http://127.0.0.1:%u/hello", hop_server_port(s));
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  memset(buf, 0, sizeof(buf));
  size_t n = fread(buf, 1, sizeof(buf) - 1, p);
  assert_int_equal(pclose(p), 0);
  assert_true(n > 0);
  assert_non_null(strstr(buf, "GET /hello q= auth=127.0.0.1:"));
  for (int i = 0; i < 100; i++) {
    hop_server_get_stats(s, &st);
    if (st.connections_h2 == 0 && st.streams_open == 0) break;
    sleep_ms(10);
  }
  assert_int_equal(st.connections_total, 2);
  assert_int_equal(st.requests, 5);
  assert_int_equal(st.streams_open, 0);

  /* Trailers go out on h2c (names lower-cased), after the body; HTTP/1.1 drops them. */
  snprintf(cmd, sizeof(cmd), "nghttp -v http://127.0.0.1:%u/trailers", hop_server_port(s));
  p = popen(cmd, "r");
  assert_non_null(p);
  static char out[65536];
  n = fread(out, 1, sizeof(out) - 1, p);
  out[n] = 0;
  assert_int_equal(pclose(p), 0);
  char *body = strstr(out, "body");
  char *tr = strstr(out, "x-trailer: yes");
  assert_non_null(body);
  assert_non_null(tr);
  assert_true(tr > body);
  assert_non_null(strstr(out, "x-upper: Case"));
  fd = dial(hop_server_port(s));
  memset(buf, 0, sizeof(buf));
  assert_int_equal(roundtrip(fd, "GET /trailers HTTP/1.1\r\nHost: h\r\n\r\n", buf, sizeof(buf)), 200);
  assert_null(strstr(buf, "x-trailer"));
  assert_non_null(strstr(buf, "\r\n\r\nbody"));
  close(fd);

  hop_server_shutdown(s, 1000);
  assert_int_equal(hop_server_wait(s), HOP_OK);
  hop_server_free(s);
}

/* ---- per-request memory ---- */

/* Answers with |n| bytes of a pattern built in memory from hop_request_alloc, after checking
 * that small and large pieces are aligned and distinct and that an absurd size is refused.
 * x-headers: how many request headers the server kept (h2: past the 16 the arena starts
 * with), x-last: the value of the last one. */
static void mem_handler(hop_request *r, void *ud) {
  (void)ud;
  size_t n = (size_t)strtoul(hop_request_query(r), NULL, 10);
  uint8_t *small = hop_request_alloc(r, 24);
  uint8_t *big = hop_request_alloc(r, n ? n : 1);
  int ok = small && big && (uintptr_t)small % 16 == 0 && (uintptr_t)big % 16 == 0 &&
           (big >= small + 24 || big + n <= small) && !hop_request_alloc(r, (size_t)1 << 40);
  memset(small, 0x55, 24);
  for (size_t i = 0; big && i < n; i++) big[i] = (uint8_t)('a' + i % 26);
  for (size_t i = 0; small && i < 24; i++) ok = ok && small[i] == 0x55; /* |big| overlapped? */
  size_t nh;
  const hop_header *hs = hop_request_headers(r, &nh);
  char count[32], ok_s[2] = {ok ? '1' : '0', 0};
  snprintf(count, sizeof(count), "%zu", nh);
  hop_header h[] = {{"x-ok", 4, ok_s, 1},
                    {"x-headers", 9, count, strlen(count)},
                    {"x-last", 6, nh ? hs[nh - 1].value : "", nh ? hs[nh - 1].value_len : 0}};
  hop_request_respond(r, 200, h, 3, big, n, NULL, 0);
}

static void request_memory(void **state) {
  (void)state;
  hop_server_config cfg;
  hop_server_config_init(&cfg);
  cfg.threads = 1;
  hop_server *s = NULL;
  assert_int_equal(hop_server_new(&s, &cfg), HOP_OK);
  assert_int_equal(hop_server_handle(s, "/mem", mem_handler, NULL), HOP_OK);
  assert_int_equal(hop_server_start(s), HOP_OK);
  static char out[400000];
  /* Sizes inside the inline arena, past it, and an answer past the arena's answer limit
   * (its own allocation); h2 with 40 extra headers (the header array grows in the arena). */
  const size_t sizes[] = {10, 5000, 100000};
  for (size_t k = 0; k < 3; k++) {
    for (int h2 = 0; h2 < 2; h2++) {
      char cmd[2048];
      int len = snprintf(cmd, sizeof(cmd), "curl -s -i %s 'http://127.0.0.1:%u/mem?%zu'",
                         h2 ? "--http2-prior-knowledge" : "--http1.1", hop_server_port(s), sizes[k]);
      for (int i = 0; i < 40; i++)
        len += snprintf(cmd + len, sizeof(cmd) - (size_t)len, " -H 'x-h%d: v%d'", i, i);
      FILE *p = popen(cmd, "r");
      assert_non_null(p);
      size_t n = fread(out, 1, sizeof(out) - 1, p);
      out[n] = 0;
      assert_int_equal(pclose(p), 0);
      assert_non_null(strstr(out, "x-ok: 1\r\n"));
      assert_non_null(strstr(out, "x-last: v39\r\n"));
      char *hc = strstr(out, "x-headers: ");
      assert_non_null(hc);
      assert_true(strtoul(hc + 11, NULL, 10) >= 42); /* user-agent, accept (h1: host) + 40 */
      char *body = strstr(out, "\r\n\r\n");
      assert_non_null(body);
      body += 4;
      assert_int_equal((size_t)(out + n - body), sizes[k]);
      for (size_t i = 0; i < sizes[k]; i++)
        if (body[i] != (char)('a' + i % 26)) fail_msg("byte %zu of %zu (h2 %d)", i, sizes[k], h2);
    }
  }
  hop_server_shutdown(s, 1000);
  assert_int_equal(hop_server_wait(s), HOP_OK);
  hop_server_free(s);
}

/* ---- answers from other threads ---- */

typedef struct parked {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  hop_request *req[8];
  int n;
} parked;

static void park(hop_request *r, void *ud) {
  parked *p = ud;
  pthread_mutex_lock(&p->mu);
  if (p->n < 8) p->req[p->n++] = r;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
}

static hop_request *wait_parked(parked *p, int idx) {
  pthread_mutex_lock(&p->mu);
  struct timespec dl;
  clock_gettime(CLOCK_REALTIME, &dl);
  dl.tv_sec += 5;
  while (p->n <= idx)
    if (pthread_cond_timedwait(&p->cv, &p->mu, &dl)) break;
  hop_request *r = p->n > idx ? p->req[idx] : NULL;
  pthread_mutex_unlock(&p->mu);
  return r;
}

static hop_server *start_parked(parked *p, unsigned threads) {
  hop_server_config cfg;
  hop_server_config_init(&cfg);
  cfg.threads = threads;
  return start(&cfg, "/park", park, p);
}

/* Writes |req| on |fd| and returns the request parked as number |idx|. */
static hop_request *send_parked(int fd, const char *req, parked *p, int idx) {
  assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
  hop_request *r = wait_parked(p, idx);
  assert_non_null(r);
  return r;
}

static void *answer_later(void *arg) {
  hop_request *r = arg;
  sleep_ms(50);
  size_t len;
  const uint8_t *b = hop_request_body(r, &len);
  hop_request_respond(r, 201, NULL, 0, b, len, NULL, 0);
  return NULL;
}

static void respond_from_other_thread(void **state) {
  (void)state;
  parked p = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
  hop_server *s = start_parked(&p, 2);
  int fd = dial(hop_server_port(s));
  assert_true(fd >= 0);
  char buf[4096] = "";
  const char *req = "POST /park HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nping";
  pthread_t t;
  /* The request is parked by the handler; a thread of ours answers it 50 ms later. */
  hop_request *r = send_parked(fd, req, &p, 0);
  assert_int_equal(hop_request_protocol(r), HOP_PROTO_H1);
  assert_int_equal(hop_request_canceled(r), 0);
  pthread_create(&t, NULL, answer_later, r);
  assert_int_equal(roundtrip(fd, "", buf, sizeof(buf)), 201);
  assert_non_null(strstr(buf, "\r\n\r\nping"));
  pthread_join(t, NULL);

  /* The client goes away: the request is marked canceled and a late answer is a no-op. */
  r = send_parked(fd, req, &p, 1);
  close(fd);
  int canceled = 0;
  for (int i = 0; i < 200 && !canceled; i++) {
    canceled = hop_request_canceled(r);
    if (!canceled) sleep_ms(10);
  }
  assert_int_equal(canceled, 1);
  pthread_create(&t, NULL, answer_later, r);
  pthread_join(t, NULL);

  /* A request still parked when the server is stopped and freed: answering it afterwards
   * is safe (the worker's memory outlives its requests). */
  fd = dial(hop_server_port(s));
  r = send_parked(fd, req, &p, 2);
  hop_server_stop(s);
  assert_int_equal(hop_server_wait(s), HOP_OK);
  hop_server_free(s);
  assert_int_equal(hop_request_canceled(r), 1);
  pthread_create(&t, NULL, answer_later, r);
  pthread_join(t, NULL);
  close(fd);
}

/* ---- the server-wide body budget, seen through the stats ---- */

static void body_budget_stats(void **state) {
  (void)state;
  parked p = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
  hop_server_config cfg;
  hop_server_config_init(&cfg);
  cfg.threads = 2;
  cfg.max_body_buffer = 1000;
  hop_server *s = start(&cfg, "/park", park, &p);
  char body[600], req[800], buf[4096];
  memset(body, 'b', sizeof(body));
  snprintf(req, sizeof(req), "POST /park HTTP/1.1\r\nHost: h\r\nContent-Length: 600\r\n\r\n%.600s", body);
  hop_server_stats st;

  /* A parked request holds its 600 bytes until answered. */
  int fd1 = dial(hop_server_port(s));
  hop_request *r = send_parked(fd1, req, &p, 0);
  hop_server_get_stats(s, &st);
  assert_int_equal(st.body_buffered, 600);
  assert_int_equal(st.body_refusals, 0);

  /* 600 more do not fit in 1000: 503 and close, counted; nothing stays charged for it. */
  int fd2 = dial(hop_server_port(s));
  buf[0] = 0;
  assert_int_equal(roundtrip(fd2, req, buf, sizeof(buf)), 503);
  assert_non_null(strstr(buf, "connection: close"));
  close(fd2);
  hop_server_get_stats(s, &st);
  assert_int_equal(st.body_refusals, 1);
  for (int i = 0; i < 200 && st.body_buffered != 600; i++) {
    sleep_ms(10);
    hop_server_get_stats(s, &st);
  }
  assert_int_equal(st.body_buffered, 600);

  /* Answering releases the charge; the next body fits again. */
  assert_int_equal(hop_request_respond(r, 200, NULL, 0, NULL, 0, NULL, 0), HOP_OK);
  buf[0] = 0;
  assert_int_equal(roundtrip(fd1, "", buf, sizeof(buf)), 200);
  hop_server_get_stats(s, &st);
  assert_int_equal(st.body_buffered, 0);
  r = send_parked(fd1, req, &p, 1);
  hop_server_get_stats(s, &st);
  assert_int_equal(st.body_buffered, 600);
  /* The client goes away with the request unanswered: the charge stays until the answer. */
  close(fd1);
  assert_int_equal(hop_request_respond(r, 200, NULL, 0, NULL, 0, NULL, 0), HOP_OK);
  for (int i = 0; i < 200 && st.body_buffered != 0; i++) {
    sleep_ms(10);
    hop_server_get_stats(s, &st);
  }
  assert_int_equal(st.body_buffered, 0);
  hop_server_stop(s);
  assert_int_equal(hop_server_wait(s), HOP_OK);
  hop_server_free(s);
}

/* ---- graceful shutdown with a request in flight ---- */

static void shutdown_waits_for_inflight(void **state) {
  (void)state;
  parked p = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
  hop_server *s = start_parked(&p, 1);
  int fd = dial(hop_server_port(s));
  int idle = dial(hop_server_port(s));
  assert_true(fd >= 0 && idle >= 0);
  char buf[4096] = "";
  hop_request *r = send_parked(fd, "POST /park HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx", &p, 0);
  /* A request whose head is still arriving when the drain starts is finished, answered
   * 503 by /readyz, with Connection: close. */
  int partial = dial(hop_server_port(s));
  assert_true(partial >= 0);
  const char *head = "GET /readyz HTTP/1.1\r\nHost: h\r\n";
  assert_int_equal(write(partial, head, strlen(head)), (ssize_t)strlen(head));
  sleep_ms(50);
  hop_server_shutdown(s, 5000);
  sleep_ms(100);
  assert_int_equal(roundtrip(partial, "\r\n", buf, sizeof(buf)), 503);
  assert_non_null(strstr(buf, "connection: close\r\n"));
  assert_non_null(strstr(buf, "\r\n\r\ndraining"));
  close(partial);
  memset(buf, 0, sizeof(buf));
  /* New connections are refused (listener closed); the idle one was closed. */
  assert_int_equal(dial(hop_server_port(s)), -1);
  assert_int_equal(read(idle, buf, sizeof(buf)), 0);
  close(idle);
  pthread_t t;
  pthread_create(&t, NULL, answer_later, r);
  assert_int_equal(roundtrip(fd, "", buf, sizeof(buf)), 201);
  assert_non_null(strstr(buf, "connection: close\r\n"));
  pthread_join(t, NULL);
  assert_int_equal(read(fd, buf, sizeof(buf)), 0); /* closed after the answer */
  close(fd);
  assert_int_equal(hop_server_wait(s), HOP_OK);
  hop_server_stats st;
  hop_server_get_stats(s, &st);
  assert_int_equal(st.responses, 2);
  hop_server_free(s);
}

/* ---- drain timeout bounds an unanswered request ---- */

static void drain_timeout_bounds(void **state) {
  (void)state;
  parked p = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
  hop_server *s = start_parked(&p, 2);
  int fd = dial(hop_server_port(s));
  hop_request *r = send_parked(fd, "POST /park HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx", &p, 0);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  hop_server_shutdown(s, 300);
  assert_int_equal(hop_server_wait(s), HOP_OK);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
  assert_true(ms >= 250 && ms < 2000);
  assert_int_equal(hop_request_canceled(r), 1);
  char buf[64];
  assert_true(read(fd, buf, sizeof(buf)) <= 0);
  close(fd);
  hop_request_respond(r, 200, NULL, 0, NULL, 0, NULL, 0); /* after wait: no-op */
  hop_server_free(s);
}

static void wait_requests(hop_server *s, uint64_t n) {
  hop_server_stats st;
  for (int i = 0; i < 300; i++) {
    hop_server_get_stats(s, &st);
    if (st.requests >= n) break;
    sleep_ms(10);
  }
  assert_int_equal(st.requests, n);
}

static long elapsed_ms(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* ---- a handler's own timer does not hold a stopped worker ---- */

typedef struct slow {
  uv_timer_t t;
  hop_request *r;
  pthread_t loop_thread;
} slow;

static atomic_int slow_fired;

static void on_slow(uv_timer_t *t) {
  slow *d = (slow *)t;
  atomic_fetch_add(&slow_fired, 1);
  hop_request_respond(d->r, 200, NULL, 0, "late", 4, NULL, 0);
  uv_close((uv_handle_t *)t, (uv_close_cb)free);
}

static void slow_handler(hop_request *r, void *ud) {
  (void)ud;
  slow *d = malloc(sizeof(*d));
  uv_timer_init(hop_request_loop(r), &d->t);
  d->r = r;
  uv_timer_start(&d->t, on_slow, 10000, 0);
}

static void stop_with_handler_timers(void **state) {
  (void)state;
  hop_server_config cfg;
  hop_server_config_init(&cfg);
  cfg.threads = 2;
  hop_server *s = start(&cfg, "/slow", slow_handler, NULL);
  int fds[4];
  const char *req = "GET /slow HTTP/1.1\r\nHost: h\r\n\r\n";
  for (int i = 0; i < 4; i++) {
    fds[i] = dial(hop_server_port(s));
    assert_true(fds[i] >= 0);
    assert_int_equal(write(fds[i], req, strlen(req)), (ssize_t)strlen(req));
  }
  wait_requests(s, 4);
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  hop_server_stop(s);
  assert_int_equal(hop_server_wait(s), HOP_OK);
  assert_true(elapsed_ms(&t0) < 1000);
  hop_server_stats st;
  assert_int_equal(atomic_load(&slow_fired), 4); /* fired early, answers discarded */
  hop_server_get_stats(s, &st);
  assert_int_equal(st.responses, 0);
  hop_server_free(s);
  for (int i = 0; i < 4; i++) close(fds[i]);
}

/* ---- cancellation notices ---- */

static atomic_int cancel_fired, cancel_on_loop;
static _Atomic(hop_request *) last_cancelable;
/* The test thread calls hop_request_on_cancel on a live request from the wrong thread; this
 * flag (stored after, loaded by the notice before the request is freed) orders that read
 * before the free for ThreadSanitizer, which cannot see the socket close between them. */
static atomic_int foreign_checked;

static int wait_fired(int n) {
  for (int i = 0; i < 300 && atomic_load(&cancel_fired) < n; i++) sleep_ms(10);
  return atomic_load(&cancel_fired);
}

static void on_cancel_notice(hop_request *r, void *ud) {
  slow *d = ud;
  /* On the loop thread, with the request it was registered for, already canceled (no
   * cmocka asserts here: this is not the test's thread). */
  if (r == d->r && hop_request_canceled(r) && pthread_equal(pthread_self(), d->loop_thread))
    atomic_fetch_add(&cancel_on_loop, 1);
  atomic_fetch_add(&cancel_fired, 1);
  (void)atomic_load(&foreign_checked);
  /* Stop the work and answer at once: the answer is discarded, the request freed. */
  uv_timer_stop(&d->t);
  if (hop_request_respond(r, 499, NULL, 0, NULL, 0, NULL, 0) != HOP_OK) atomic_fetch_add(&cancel_fired, 100);
  uv_close((uv_handle_t *)&d->t, (uv_close_cb)free);
}

/* Answers after ?ms=N (default 10 s) unless canceled first. */
static void cancelable_handler(hop_request *r, void *ud) {
  (void)ud;
  slow *d = malloc(sizeof(*d));
  if (!d) abort();
  uv_timer_init(hop_request_loop(r), &d->t);
  d->r = r;
  d->loop_thread = pthread_self();
  const char *q = hop_request_query(r);
  uint64_t ms = !strncmp(q, "ms=", 3) ? strtoull(q + 3, NULL, 10) : 10000;
  if (hop_request_on_cancel(r, on_cancel_notice, d) != HOP_OK) abort();
  atomic_store(&last_cancelable, r);
  uv_timer_start(&d->t, on_slow, ms, 0);
}

/* h2c by hand: preface, empty SETTINGS, HEADERS(GET /cancel, END_STREAM) on stream 1. */
static int h2_send_cancelable(int fd) {
  static const uint8_t pre[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                               "\x00\x00\x00\x04\x00\x00\x00\x00\x00";
  static const uint8_t hpack[] = {0x82, 0x86, 0x44, 7, '/', 'c', 'a', 'n', 'c', 'e', 'l', 0x41, 1, 'h'};
  uint8_t f[9 + sizeof(hpack)] = {0, 0, sizeof(hpack), 0x1, 0x5, 0, 0, 0, 1};
  memcpy(f + 9, hpack, sizeof(hpack));
  if (write(fd, pre, sizeof(pre) - 1) != (ssize_t)sizeof(pre) - 1) return -1;
  return write(fd, f, sizeof(f)) == (ssize_t)sizeof(f) ? 0 : -1;
}

static void cancel_notices(void **state) {
  (void)state;
  hop_server_config cfg;
  hop_server_config_init(&cfg);
  cfg.threads = 1;
  hop_server *s = start(&cfg, "/cancel", cancelable_handler, NULL);
  uint64_t nreq = 0;
  int timers0 = atomic_load(&slow_fired);

  /* Answered normally: the notice never fires, even when the client then goes away. */
  int fd = dial(hop_server_port(s));
  char buf[4096] = "";
  assert_int_equal(roundtrip(fd, "GET /cancel?ms=10 HTTP/1.1\r\nHost: h\r\n\r\n", buf, sizeof(buf)), 200);
  nreq++;
  close(fd);

  /* HTTP/1.1 client closes: the notice fires once, on the loop thread. */
  fd = dial(hop_server_port(s));
  const char *req = "GET /cancel HTTP/1.1\r\nHost: h\r\n\r\n";
  assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
  wait_requests(s, ++nreq);
  /* Only the handler's loop thread may register. */
  assert_int_equal(hop_request_on_cancel(atomic_load(&last_cancelable), on_cancel_notice, NULL),
                   HOP_ESTATE);
  assert_int_equal(hop_request_on_cancel(NULL, on_cancel_notice, NULL), HOP_EINVAL);
  atomic_store(&foreign_checked, 1);
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  close(fd);
  assert_int_equal(wait_fired(1), 1);
  assert_true(elapsed_ms(&t0) < 2000);
  assert_int_equal(atomic_load(&cancel_on_loop), 1);

  /* h2c: the peer resets the stream. */
  fd = dial(hop_server_port(s));
  assert_int_equal(h2_send_cancelable(fd), 0);
  wait_requests(s, ++nreq);
  static const uint8_t rst[] = {0, 0, 4, 0x3, 0, 0, 0, 0, 1, 0, 0, 0, 0x8 /* CANCEL */};
  assert_int_equal(write(fd, rst, sizeof(rst)), (ssize_t)sizeof(rst));
  assert_int_equal(wait_fired(2), 2);
  hop_server_stats st;
  hop_server_get_stats(s, &st);
  assert_int_equal(st.resets_received, 1);
  assert_int_equal(st.responses, 1); /* only the normal answer went out */

  /* hop_server_stop with two requests in flight: both notified, and their timers were
   * stopped by the handler, not fast-forwarded by the worker. */
  int fds[2];
  for (int i = 0; i < 2; i++) {
    fds[i] = dial(hop_server_port(s));
    assert_int_equal(write(fds[i], req, strlen(req)), (ssize_t)strlen(req));
  }
  nreq += 2;
  wait_requests(s, nreq);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  hop_server_stop(s);
  assert_int_equal(hop_server_wait(s), HOP_OK);
  assert_true(elapsed_ms(&t0) < 1000);
  assert_int_equal(atomic_load(&cancel_fired), 4);
  assert_int_equal(atomic_load(&cancel_on_loop), 4);
  assert_int_equal(atomic_load(&slow_fired) - timers0, 1); /* the normal answer only */
  hop_server_free(s);
  for (int i = 0; i < 2; i++) close(fds[i]);
  close(fd);

  /* Graceful drain: the notice fires at the drain deadline. */
  s = start(&cfg, "/cancel", cancelable_handler, NULL);
  fd = dial(hop_server_port(s));
  assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
  wait_requests(s, 1);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  hop_server_shutdown(s, 300);
  assert_int_equal(wait_fired(5), 5);
  long ms = elapsed_ms(&t0);
  assert_true(ms >= 250 && ms < 2000);
  assert_int_equal(hop_server_wait(s), HOP_OK);
  assert_int_equal(atomic_load(&slow_fired) - timers0, 1);
  hop_server_free(s);
  close(fd);
}

/* ---- a full answer mailbox: bounded wait, then 503 ---- */

static atomic_int loop_blocked, loop_release;

/* Holds the worker loop (so that the mailbox is not drained) until the test releases it. */
static void block_loop(hop_request *r, void *ud) {
  (void)ud;
  atomic_store(&loop_blocked, 1);
  for (int i = 0; i < 5000 && !atomic_load(&loop_release); i++) sleep_ms(1);
  hop_request_respond(r, 200, NULL, 0, "unblocked", 9, NULL, 0);
}

static void mailbox_full(void **state) {
  (void)state;
  parked p = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
  hop_server_config cfg;
  hop_server_config_init(&cfg);
  cfg.threads = 1;
  cfg.max_pending_answers = 1;
  cfg.answer_wait_ms = 50;
  hop_server *s = NULL;
  assert_int_equal(hop_server_new(&s, &cfg), HOP_OK);
  assert_int_equal(hop_server_handle(s, "/park", park, &p), HOP_OK);
  assert_int_equal(hop_server_handle(s, "/block", block_loop, NULL), HOP_OK);
  assert_int_equal(hop_server_start(s), HOP_OK);
  const char *req = "POST /park HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx";
  int fd1 = dial(hop_server_port(s)), fd2 = dial(hop_server_port(s)), fd3 = dial(hop_server_port(s));
  hop_request *r1 = send_parked(fd1, req, &p, 0);
  hop_request *r2 = send_parked(fd2, req, &p, 1);
  const char *block = "GET /block HTTP/1.1\r\nHost: h\r\n\r\n";
  assert_int_equal(write(fd3, block, strlen(block)), (ssize_t)strlen(block));
  for (int i = 0; i < 500 && !atomic_load(&loop_blocked); i++) sleep_ms(1);
  assert_int_equal(atomic_load(&loop_blocked), 1);
  /* The first answer fills the mailbox; the second waits its 50 ms, then is dropped. */
  assert_int_equal(hop_request_respond(r1, 200, NULL, 0, "one", 3, NULL, 0), HOP_OK);
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(hop_request_respond(r2, 200, NULL, 0, "two", 3, NULL, 0), HOP_EQUEUEFULL);
  long ms = elapsed_ms(&t0);
  assert_true(ms >= 45 && ms < 1000);
  hop_server_stats st;
  hop_server_get_stats(s, &st);
  assert_int_equal(st.answers_dropped, 1);
  atomic_store(&loop_release, 1);
  char buf[4096] = "";
  assert_int_equal(roundtrip(fd1, "", buf, sizeof(buf)), 200);
  assert_non_null(strstr(buf, "\r\n\r\none"));
  memset(buf, 0, sizeof(buf));
  assert_int_equal(roundtrip(fd2, "", buf, sizeof(buf)), 503);
  assert_non_null(strstr(buf, "retry-after: 1\r\n"));
  assert_non_null(strstr(buf, "connection: keep-alive\r\n")); /* the connection goes on */
  memset(buf, 0, sizeof(buf));
  assert_int_equal(roundtrip(fd3, "", buf, sizeof(buf)), 200);
  memset(buf, 0, sizeof(buf));
  assert_int_equal(roundtrip(fd2, "GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n", buf, sizeof(buf)), 200);
  hop_server_get_stats(s, &st);
  assert_int_equal(st.responses, 4);
  close(fd1);
  close(fd2);
  close(fd3);
  hop_server_free(s);
}

/* ---- start failures clean up ---- */

static void port_in_use(void **state) {
  (void)state;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(listen(fd, 1), 0);
  socklen_t len = sizeof(a);
  getsockname(fd, (struct sockaddr *)&a, &len);
  hop_server_config cfg;
  hop_server_config_init(&cfg);
  cfg.threads = 3;
  cfg.port = ntohs(a.sin_port);
  hop_server *s = NULL;
  assert_int_equal(hop_server_new(&s, &cfg), HOP_OK);
  assert_int_equal(hop_server_start(s), HOP_EADDRINUSE);
  assert_int_equal(hop_server_wait(s), HOP_ESTATE);
  hop_server_shutdown(s, 0); /* no-ops on a server that never started */
  hop_server_stop(s);
  hop_server_free(s);
  close(fd);
  cfg.port = 0;
  cfg.host = "not-an-address";
  assert_int_equal(hop_server_new(&s, &cfg), HOP_OK);
  assert_int_equal(hop_server_start(s), HOP_EINVAL);
  hop_server_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(routes_and_stats),
      cmocka_unit_test(respond_from_other_thread),
      cmocka_unit_test(request_memory),
      cmocka_unit_test(body_budget_stats),
      cmocka_unit_test(shutdown_waits_for_inflight),
      cmocka_unit_test(drain_timeout_bounds),
      cmocka_unit_test(stop_with_handler_timers),
      cmocka_unit_test(cancel_notices),
      cmocka_unit_test(mailbox_full),
      cmocka_unit_test(port_in_use),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
