/* A host name with several addresses (a Kubernetes headless service): connections spread over
 * all of them, the name is resolved again every resolve_interval_ms, and an address that
 * leaves the name gets no new calls (its connection drains and closes).
 *
 * The test runs in a private mount namespace with its own /etc/hosts (bind-mounted over the
 * real one, visible to this process only), where multi.hopwire.test is 127.0.0.1, .2 and .3:
 * three in-process servers, one per loopback address, on the same port. It needs root
 * (CAP_SYS_ADMIN), as in CI; without it the test fails and says why.
 * ctest: RUN_SERIAL
 * ctest: TIMEOUT=120 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sys/mount.h>
#include <uv.h>

#include "hopwire/server.h"
#include "test_client_util.h"

#define NAME "multi.hopwire.test"
#define NSRV 3
#define DELAY_MS 20

static char g_hosts[64]; /* our hosts file, bind-mounted on /etc/hosts */

/* Rewrites the file in place: the bind mount follows the inode, not the name. */
static int write_hosts(int naddrs) {
  char text[512];
  int len = snprintf(text, sizeof(text), "127.0.0.1 localhost\n::1 localhost\n");
  for (int i = 1; i <= naddrs; i++)
    len += snprintf(text + len, sizeof(text) - (size_t)len, "127.0.0.%d " NAME "\n", i);
  int fd = open(g_hosts, O_WRONLY | O_TRUNC);
  if (fd < 0) return -1;
  int ok = write(fd, text, (size_t)len) == len;
  close(fd);
  return ok ? 0 : -1;
}

/* ---- servers: Echo after a timer, so calls stay in flight and need several connections -- */

typedef struct delayed {
  uv_timer_t t;
  hop_request *req;
} delayed;

static void delayed_closed(uv_handle_t *h) { free(h->data); }

static void on_delay(uv_timer_t *t) {
  delayed *d = t->data;
  size_t n;
  const uint8_t *b = hop_request_body(d->req, &n);
  hop_request_respond(d->req, 200, NULL, 0, b, n, NULL, 0);
  uv_close((uv_handle_t *)t, delayed_closed);
}

static void echo_later(hop_request *req, void *ud) {
  (void)ud;
  delayed *d = malloc(sizeof(*d));
  if (!d) {
    hop_request_respond(req, 500, NULL, 0, NULL, 0, NULL, 0);
    return;
  }
  d->req = req;
  d->t.data = d;
  uv_timer_init(hop_request_loop(req), &d->t);
  uv_timer_start(&d->t, on_delay, DELAY_MS, 0);
}

static int server_on(hop_server **out, const char *host, uint16_t port) {
  hop_server_config cfg;
  hop_server_config_init(&cfg);
  cfg.host = host;
  cfg.port = port;
  cfg.threads = 1;
  cfg.max_concurrent_streams = 10; /* 60 calls need 6 connections */
  cfg.handle_signals = 0;
  hop_server *s = NULL;
  if (hop_server_new(&s, &cfg) != HOP_OK) return -1;
  if (hop_server_handle(s, "/echo", echo_later, NULL) != HOP_OK || hop_server_start(s) != HOP_OK) {
    hop_server_free(s);
    return -1;
  }
  *out = s;
  return 0;
}

/* One port free on all three addresses: 127.0.0.1 picks it, .2 and .3 try it. */
static uint16_t start_servers(hop_server *s[NSRV]) {
  static const char *hosts[NSRV] = {"127.0.0.1", "127.0.0.2", "127.0.0.3"};
  for (int attempt = 0; attempt < 10; attempt++) {
    memset(s, 0, NSRV * sizeof(*s));
    if (server_on(&s[0], hosts[0], 0) != 0) continue;
    uint16_t port = hop_server_port(s[0]);
    int ok = 1;
    for (int i = 1; i < NSRV && ok; i++) ok = server_on(&s[i], hosts[i], port) == 0;
    if (ok) return port;
    for (int i = 0; i < NSRV; i++)
      if (s[i]) hop_server_free(s[i]);
  }
  return 0;
}

static void stats(hop_server *s[NSRV], hop_server_stats st[NSRV]) {
  for (int i = 0; i < NSRV; i++) hop_server_get_stats(s[i], &st[i]);
}

static void load(hop_client *c, const char *url, tc_load *l) {
  memset(l, 0, sizeof(*l));
  l->c = c;
  l->total = 120;
  l->conc = 60;
  l->opts = (hop_call_opts){.url = url, .body = "0123456789", .body_len = 10, .timeout_ms = 20000};
  assert_int_equal(tc_load_run(l, 30000), 0);
  tc_print_load("resolve", l);
  assert_int_equal(l->ok, l->total);
  tc_load_destroy(l);
}

static void test_spread_and_reresolve(void **state) {
  (void)state;
  assert_int_equal(write_hosts(3), 0);
  hop_server *s[NSRV];
  uint16_t port = start_servers(s);
  assert_true(port != 0);
  hop_client_config cfg;
  hop_client_config_init(&cfg);
  cfg.http = HOP_HTTP_H2C;
  cfg.resolve_interval_ms = 300;
  hop_client *c = tc_client_from(&cfg);
  char url[128];
  snprintf(url, sizeof(url), "http://" NAME ":%u/echo", port);

  /* 60 in flight at 10 streams each: 1 dial, its SETTINGS, then 5 more, round-robin */
  tc_load l;
  load(c, url, &l);
  tc_print_stats("resolve-3", c);
  hop_client_stats cs;
  hop_client_get_stats(c, &cs);
  assert_int_equal(cs.dials_started, 6);
  assert_int_equal(cs.dials_failed, 0);
  hop_server_stats a[NSRV];
  stats(s, a);
  for (int i = 0; i < NSRV; i++) {
    fprintf(stderr, "[resolve] 127.0.0.%d: conns=%llu requests=%llu\n", i + 1,
            (unsigned long long)a[i].connections_total, (unsigned long long)a[i].requests);
    assert_int_equal(a[i].connections_total, 2);
    assert_true(a[i].requests >= 10);
  }
  assert_int_equal(a[0].requests + a[1].requests + a[2].requests, 120);

  /* 127.0.0.3 leaves the name: after the next resolve its connections drain and close */
  assert_int_equal(write_hosts(2), 0);
  long end = tc_now_ms() + 5000;
  hop_server_stats b[NSRV];
  do {
    usleep(20000);
    stats(s, b);
  } while (b[2].connections_h2 > 0 && tc_now_ms() < end);
  assert_int_equal(b[2].connections_h2, 0);
  assert_int_equal(b[0].connections_h2 + b[1].connections_h2, 4);

  /* new calls and new connections only reach the remaining two */
  load(c, url, &l);
  tc_print_stats("resolve-2", c);
  stats(s, b);
  for (int i = 0; i < NSRV; i++)
    fprintf(stderr, "[resolve] 127.0.0.%d: conns=%llu requests=%llu\n", i + 1,
            (unsigned long long)b[i].connections_total, (unsigned long long)b[i].requests);
  assert_int_equal(b[2].requests, a[2].requests);
  assert_int_equal(b[2].connections_total, a[2].connections_total);
  assert_int_equal(b[0].requests + b[1].requests, a[0].requests + a[1].requests + 120);
  assert_true(b[0].requests > a[0].requests && b[1].requests > a[1].requests);
  /* 4 connections carry 40: two more dials, one per remaining address */
  hop_client_get_stats(c, &cs);
  assert_int_equal(cs.dials_started, 8);
  assert_int_equal(b[0].connections_total + b[1].connections_total, 6);

  hop_client_free(c);
  for (int i = 0; i < NSRV; i++) hop_server_free(s[i]);
}

/* A private mount namespace with our /etc/hosts, made before any thread exists (unshare
 * of the filesystem namespace needs a single-threaded process). */
static int private_hosts(void) {
  snprintf(g_hosts, sizeof(g_hosts), "/tmp/hop-hosts-XXXXXX");
  int fd = mkstemp(g_hosts);
  if (fd < 0) return -1;
  close(fd);
  if (write_hosts(3) != 0) return -1;
  if (unshare(CLONE_NEWNS) != 0) {
    fprintf(stderr,
            "test_client_resolve: unshare(CLONE_NEWNS) failed: %s. This test needs root "
            "(CAP_SYS_ADMIN) to give itself a private /etc/hosts; CI runs it as root.\n",
            strerror(errno));
    return -1;
  }
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
      mount(g_hosts, "/etc/hosts", NULL, MS_BIND, NULL) != 0) {
    fprintf(stderr, "test_client_resolve: bind-mounting %s on /etc/hosts failed: %s\n", g_hosts,
            strerror(errno));
    return -1;
  }
  return 0;
}

int main(void) {
  int ok = private_hosts() == 0;
  int rv = 1;
  if (ok) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_spread_and_reresolve)};
    rv = cmocka_run_group_tests(tests, NULL, NULL);
  }
  if (g_hosts[0]) unlink(g_hosts);
  return rv;
}
