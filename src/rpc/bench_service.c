/* The benchmark Echo service on the RPC router. */
#include "rpc/bench_service.h"

#include <stdlib.h>

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

int hop_rpc_bench_register(hop_rpc_server *rs, uint64_t delay_ms) {
  return hop_rpc_server_handle(rs, HOP_BENCH_ECHO_PATH, echo, (void *)(uintptr_t)delay_ms,
                               HOP_RPC_IDEMPOTENT);
}

int hop_rpc_bench_attach(hop_server *s, uint64_t delay_ms, hop_rpc_server **out) {
  hop_rpc_server *rs;
  int rc = hop_rpc_server_new(&rs, s, NULL);
  if (rc) return rc;
  rc = hop_rpc_bench_register(rs, delay_ms);
  if (rc) {
    hop_rpc_server_free(rs);
    return rc;
  }
  *out = rs;
  return HOP_OK;
}
