/* The benchmark Echo service on the RPC router: see echo.h. */
#include "bench/echo.h"

#include <stdlib.h>
#include <string.h>

#include "hopwire/error.h"

typedef struct echo_delay {
  uv_timer_t timer; /* first: the close callback frees the whole struct */
  hop_rpc_request *rq;
} echo_delay;

static void echo_now(hop_rpc_request *rq) {
  size_t len;
  const uint8_t *m = hop_rpc_request_message(rq, &len);
  hop_rpc_reply(rq, m, len);
}

static void on_delay(uv_timer_t *t) {
  echo_delay *d = (echo_delay *)t;
  echo_now(d->rq);
  uv_close((uv_handle_t *)t, (uv_close_cb)free);
}

static void echo(hop_rpc_request *rq, void *ud) {
  uint64_t delay_ms = (uint64_t)(uintptr_t)ud;
  if (!delay_ms) {
    echo_now(rq);
    return;
  }
  echo_delay *d = malloc(sizeof(*d));
  if (!d || uv_timer_init(hop_rpc_request_loop(rq), &d->timer)) {
    free(d);
    hop_rpc_fail(rq, HOP_CODE_RESOURCE_EXHAUSTED, "out of memory", NULL, 0);
    return;
  }
  d->rq = rq;
  uv_timer_start(&d->timer, on_delay, delay_ms, 0);
}

/* Raw HTTP clients (h2load, curl without an RPC content type): the body back, same delay. */
typedef struct raw_delay {
  uv_timer_t timer;
  hop_request *req;
} raw_delay;

static void raw_now(hop_request *req) {
  size_t len;
  const uint8_t *body = hop_request_body(req, &len);
  hop_header h = HOP_HEADER("content-type", "application/proto");
  hop_request_respond(req, 200, &h, 1, body, len, NULL, 0);
}

static void on_raw_delay(uv_timer_t *t) {
  raw_delay *d = (raw_delay *)t;
  raw_now(d->req);
  uv_close((uv_handle_t *)t, (uv_close_cb)free);
}

/* The peer went away or the server stops: answer now (discarded) instead of holding the
 * timer until the delay ends. */
static void on_raw_cancel(hop_request *req, void *ud) {
  raw_delay *d = ud;
  uv_timer_stop(&d->timer);
  on_raw_delay(&d->timer);
}

static void raw_echo(hop_request *req, void *ud) {
  uint64_t delay_ms = (uint64_t)(uintptr_t)ud;
  if (strcmp(hop_request_method(req), "POST") != 0) {
    hop_header h = HOP_HEADER("allow", "POST");
    hop_request_respond(req, 405, &h, 1, NULL, 0, NULL, 0);
    return;
  }
  if (!delay_ms) {
    raw_now(req);
    return;
  }
  raw_delay *d = malloc(sizeof(*d));
  if (!d || uv_timer_init(hop_request_loop(req), &d->timer)) {
    free(d);
    hop_request_respond(req, 503, NULL, 0, NULL, 0, NULL, 0);
    return;
  }
  d->req = req;
  hop_request_on_cancel(req, on_raw_cancel, d);
  uv_timer_start(&d->timer, on_raw_delay, delay_ms, 0);
}

int hop_bench_echo_register(hop_rpc_server *rs, uint64_t delay_ms) {
  int rc = hop_rpc_server_handle(rs, HOP_BENCH_ECHO_PATH, echo, (void *)(uintptr_t)delay_ms,
                                 HOP_RPC_IDEMPOTENT);
  if (!rc) rc = hop_rpc_server_set_raw(rs, HOP_BENCH_ECHO_PATH, raw_echo, (void *)(uintptr_t)delay_ms);
  return rc;
}

int hop_bench_echo_attach(hop_server *s, uint64_t delay_ms, hop_rpc_server **out) {
  hop_rpc_server *rs;
  int rc = hop_rpc_server_new(&rs, s, NULL);
  if (rc) return rc;
  rc = hop_bench_echo_register(rs, delay_ms);
  if (rc) {
    hop_rpc_server_free(rs);
    return rc;
  }
  *out = rs;
  return HOP_OK;
}
