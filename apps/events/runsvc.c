/* The run-service hop: see runsvc.h. */
#include "events/runsvc.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/codec.h"
#include "events/prom.h"
#include "hopwire/error.h"
#include "hopwire/rpc.h"

struct hop_runsvc {
  hop_runsvc_config cfg;
  char host[256];
  hop_server *server;
  hop_rpc_server *rpc;
  hop_store *store;
  int waited;
  atomic_uint_fast64_t requests, ok, invalid, store_failed, queue_full, shutting_down;
  atomic_uint_fast64_t events_received;
  atomic_uint_fast64_t req_events[HOP_STORE_SIZE_BUCKETS]; /* events per request */
  atomic_uint_fast64_t req_events_sum;
};

/* One RecordActionEvents between decode and answer. The rows point into the request's
 * message (or |bin|, its JSON converted), which stays valid until the reply. */
typedef struct rs_call {
  hop_runsvc *rs;
  hop_rpc_request *rq;
  int json;
  uint8_t *bin;
  hop_ev_batch batch;
} rs_call;

#define RS_ADD(f) atomic_fetch_add_explicit(&rs->f, 1, memory_order_relaxed)

void hop_runsvc_config_init(hop_runsvc_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  hop_server_config_init(&cfg->server);
  /* A Flyte executor has up to 512 reconcilers, each with a Record in flight: advertise
   * enough streams that they all share one h2c connection (hopwire serve keeps 100). */
  cfg->server.max_concurrent_streams = 1024;
  hop_store_config_init(&cfg->store);
  cfg->max_message_size = 64u * 1024u * 1024u;
  cfg->max_events = 1000000;
}

/* Answers |rq| in-band: RecordActionEventsResponse{status{code, message}} in its codec. */
static void reply_status(hop_rpc_request *rq, int json, int code, const char *message) {
  if (json) {
    char *out = NULL;
    size_t n = 0;
    if (hop_ev_status_response_json(code, message, &out, &n)) {
      hop_rpc_fail(rq, HOP_CODE_INTERNAL, "run-service: out of memory encoding the answer", NULL, 0);
      return;
    }
    hop_rpc_reply(rq, out, n);
    free(out);
  } else {
    uint8_t *out = NULL;
    size_t n = 0;
    if (hop_ev_status_response(code, message, &out, &n)) {
      hop_rpc_fail(rq, HOP_CODE_INTERNAL, "run-service: out of memory encoding the answer", NULL, 0);
      return;
    }
    hop_rpc_reply(rq, out, n);
    free(out);
  }
}

static void call_free(rs_call *c) {
  hop_ev_batch_free(&c->batch);
  free(c->bin);
  free(c);
}

static void count_size(hop_runsvc *rs, size_t n) {
  size_t i = 0;
  while (i + 1 < HOP_STORE_SIZE_BUCKETS && n > hop_store_size_bounds[i]) i++;
  atomic_fetch_add_explicit(&rs->req_events[i], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&rs->req_events_sum, n, memory_order_relaxed);
}

/* Runs on a store writer thread after COMMIT (or the failure). */
static void on_committed(void *ud, const hop_store_result *res) {
  rs_call *c = ud;
  hop_runsvc *rs = c->rs;
  if (res->code == 0) RS_ADD(ok);
  else RS_ADD(store_failed);
  reply_status(c->rq, c->json, res->code, res->message);
  call_free(c);
}

static void on_record(hop_rpc_request *rq, void *ud) {
  hop_runsvc *rs = ud;
  RS_ADD(requests);
  rs_call *c = calloc(1, sizeof(*c));
  if (!c) {
    hop_rpc_fail(rq, HOP_CODE_RESOURCE_EXHAUSTED, "run-service: out of memory", NULL, 0);
    return;
  }
  c->rs = rs;
  c->rq = rq;
  c->json = hop_rpc_request_codec(rq) == HOP_CODEC_JSON;
  size_t len = 0;
  const uint8_t *msg = hop_rpc_request_message(rq, &len);
  char err[256];
  if (c->json) {
    size_t blen = 0;
    if (hop_ev_json_to_request((const char *)msg, len, rs->cfg.max_message_size, &c->bin, &blen,
                               err, sizeof(err))) {
      RS_ADD(invalid);
      char m[320];
      snprintf(m, sizeof(m), "invalid RecordActionEventsRequest JSON: %s", err);
      hop_rpc_fail(rq, HOP_CODE_INVALID_ARGUMENT, m, NULL, 0);
      call_free(c);
      return;
    }
    msg = c->bin;
    len = blen;
  }
  if (hop_ev_decode(msg, len, rs->cfg.max_events, &c->batch, err, sizeof(err))) {
    RS_ADD(invalid);
    char m[320];
    snprintf(m, sizeof(m), "invalid RecordActionEventsRequest: %s", err);
    hop_rpc_fail(rq, HOP_CODE_INVALID_ARGUMENT, m, NULL, 0);
    call_free(c);
    return;
  }
  atomic_fetch_add_explicit(&rs->events_received, c->batch.n, memory_order_relaxed);
  count_size(rs, c->batch.n);
  if (c->batch.n == 0) { /* Flyte: empty events is success, nothing to store */
    RS_ADD(ok);
    reply_status(rq, c->json, 0, NULL);
    call_free(c);
    return;
  }
  int rv = hop_store_submit(rs->store, c->batch.rows, c->batch.n, on_committed, c);
  if (rv == 0) return;
  char m[160];
  int code = HOP_CODE_INTERNAL;
  if (rv == HOP_EQUEUEFULL) {
    RS_ADD(queue_full);
    code = HOP_CODE_RESOURCE_EXHAUSTED;
    hop_store_stats st;
    hop_store_get_stats(rs->store, &st);
    snprintf(m, sizeof(m), "store queue full (%llu rows pending, limit %zu): retry later",
             (unsigned long long)st.queued_rows, rs->cfg.store.max_queue_rows);
  } else if (rv == HOP_ESHUTDOWN) {
    RS_ADD(shutting_down);
    code = HOP_CODE_UNAVAILABLE;
    snprintf(m, sizeof(m), "run-service is shutting down");
  } else {
    RS_ADD(store_failed);
    snprintf(m, sizeof(m), "store: %s", hop_strerror(rv));
  }
  reply_status(rq, c->json, code, m);
  call_free(c);
}

static void on_metrics(hop_request *req, void *ud) {
  hop_runsvc *rs = ud;
  char *buf = malloc(64 * 1024);
  if (!buf) {
    hop_request_respond(req, 503, NULL, 0, "out of memory\n", 14, NULL, 0);
    return;
  }
  size_t n = hop_runsvc_metrics(rs, buf, 64 * 1024);
  hop_header h[] = {HOP_HEADER("content-type", "text/plain; version=0.0.4; charset=utf-8")};
  hop_request_respond(req, 200, h, 1, buf, n, NULL, 0);
  free(buf);
}

int hop_runsvc_start(hop_runsvc **out, const hop_runsvc_config *cfg, char *err, size_t errlen) {
  *out = NULL;
  hop_runsvc *rs = calloc(1, sizeof(*rs));
  if (!rs) return HOP_ENOMEM;
  rs->cfg = *cfg;
  if (cfg->server.host) {
    snprintf(rs->host, sizeof(rs->host), "%s", cfg->server.host);
    rs->cfg.server.host = rs->host;
  }
  if (rs->cfg.server.max_body_size < rs->cfg.max_message_size)
    rs->cfg.server.max_body_size = rs->cfg.max_message_size;
  if (rs->cfg.server.max_conn_body_buffer && rs->cfg.server.max_conn_body_buffer < rs->cfg.server.max_body_size)
    rs->cfg.server.max_conn_body_buffer = rs->cfg.server.max_body_size;
  if (rs->cfg.server.max_body_buffer && rs->cfg.server.max_body_buffer < rs->cfg.server.max_body_size)
    rs->cfg.server.max_body_buffer = rs->cfg.server.max_body_size;
  int rv = hop_store_open(&rs->store, &rs->cfg.store, err, errlen);
  if (rv) {
    free(rs);
    return rv;
  }
  hop_rpc_server_config rc;
  hop_rpc_server_config_init(&rc);
  rc.max_message_size = rs->cfg.max_message_size;
  /* The answer is a few bytes: gzip would only grow it, and zlib's per-stream reset
   * clears 64 KiB of tables (~65,000 instructions per RPC). */
  rc.compress_min_bytes = 1024;
  rv = hop_server_new(&rs->server, &rs->cfg.server);
  if (!rv) rv = hop_rpc_server_new(&rs->rpc, rs->server, &rc);
  if (!rv) rv = hop_rpc_server_handle(rs->rpc, HOP_RUNSVC_PROCEDURE, on_record, rs, 0);
  if (!rv) rv = hop_server_handle(rs->server, "/metrics", on_metrics, rs);
  if (!rv) {
    rv = hop_server_start(rs->server);
    if (rv) snprintf(err, errlen, "cannot listen on %s:%u: %s", rs->cfg.server.host ? rs->cfg.server.host : "127.0.0.1",
                     rs->cfg.server.port, hop_strerror(rv));
  } else {
    snprintf(err, errlen, "cannot set up the server: %s", hop_strerror(rv));
  }
  if (rv) {
    if (rs->server) hop_server_free(rs->server);
    hop_rpc_server_free(rs->rpc);
    hop_store_close(rs->store);
    free(rs);
    return rv;
  }
  *out = rs;
  return 0;
}

int hop_runsvc_address(const hop_runsvc *rs, char *buf, size_t len) {
  return hop_server_address(rs->server, buf, len);
}

uint16_t hop_runsvc_port(const hop_runsvc *rs) { return hop_server_port(rs->server); }

void hop_runsvc_shutdown(hop_runsvc *rs, uint64_t drain_ms) { hop_server_shutdown(rs->server, drain_ms); }

void hop_runsvc_wait(hop_runsvc *rs) {
  if (rs->waited) return;
  hop_server_wait(rs->server);
  /* Requests still queued (their connections may be gone) are committed, not dropped: an
   * unanswered batch is re-sent by its producer and absorbed as duplicates. */
  hop_store_close(rs->store);
  rs->store = NULL;
  rs->waited = 1;
}

void hop_runsvc_free(hop_runsvc *rs) {
  if (!rs) return;
  if (!rs->waited) {
    hop_server_shutdown(rs->server, 0);
    hop_runsvc_wait(rs);
  }
  hop_server_free(rs->server);
  hop_rpc_server_free(rs->rpc);
  free(rs);
}

#define LD(f) atomic_load_explicit(&rs->f, memory_order_relaxed)

void hop_runsvc_get_stats(hop_runsvc *rs, hop_runsvc_stats *out) {
  memset(out, 0, sizeof(*out));
  out->requests = LD(requests);
  out->ok = LD(ok);
  out->invalid = LD(invalid);
  out->store_failed = LD(store_failed);
  out->queue_full = LD(queue_full);
  out->shutting_down = LD(shutting_down);
  out->events_received = LD(events_received);
  if (rs->store) hop_store_get_stats(rs->store, &out->store);
}

size_t hop_runsvc_metrics(hop_runsvc *rs, char *buf, size_t cap) {
  hop_runsvc_stats st;
  hop_runsvc_get_stats(rs, &st);
  hop_server_stats ss;
  hop_server_get_stats(rs->server, &ss);
  hop_prom p;
  hop_prom_init(&p, buf, cap);
  hop_prom_family(&p, "hopwire_runsvc_requests_total", "counter",
                  "RecordActionEvents calls by result");
  hop_prom_sample(&p, "hopwire_runsvc_requests_total", "result=\"ok\"", (double)st.ok);
  hop_prom_sample(&p, "hopwire_runsvc_requests_total", "result=\"invalid_argument\"", (double)st.invalid);
  hop_prom_sample(&p, "hopwire_runsvc_requests_total", "result=\"store_error\"", (double)st.store_failed);
  hop_prom_sample(&p, "hopwire_runsvc_requests_total", "result=\"queue_full\"", (double)st.queue_full);
  hop_prom_sample(&p, "hopwire_runsvc_requests_total", "result=\"shutting_down\"", (double)st.shutting_down);
  hop_prom_counter(&p, "hopwire_runsvc_events_received_total", "events in decoded requests",
                   st.events_received);
  hop_prom_counter(&p, "hopwire_store_rows_inserted_total", "rows inserted (new keys)",
                   st.store.rows_inserted);
  hop_prom_counter(&p, "hopwire_store_duplicates_total",
                   "rows ignored because their key was already stored (first write wins)",
                   st.store.duplicates);
  hop_prom_counter(&p, "hopwire_store_transactions_total", "committed transactions",
                   st.store.transactions);
  hop_prom_counter(&p, "hopwire_store_errors_total", "failed transactions", st.store.errors);
  hop_prom_counter(&p, "hopwire_store_queue_rejections_total", "batches refused: queue full",
                   st.store.queue_rejections);
  hop_prom_counter(&p, "hopwire_store_reconnects_total", "database reconnections",
                   st.store.reconnects);
  hop_prom_gauge(&p, "hopwire_store_queued_rows", "rows submitted, not yet committed",
                 (double)st.store.queued_rows);
  uint64_t sizes[HOP_STORE_SIZE_BUCKETS];
  for (size_t i = 0; i < HOP_STORE_SIZE_BUCKETS; i++)
    sizes[i] = atomic_load_explicit(&rs->req_events[i], memory_order_relaxed);
  hop_prom_histogram(&p, "hopwire_runsvc_request_events", "events per RecordActionEvents call",
                     hop_store_size_bounds, sizes, HOP_STORE_SIZE_BUCKETS,
                     (double)LD(req_events_sum), 1.0);
  hop_prom_histogram(&p, "hopwire_store_transaction_rows", "rows per committed transaction",
                     hop_store_size_bounds, st.store.txn_rows_count, HOP_STORE_SIZE_BUCKETS,
                     (double)st.store.txn_rows_sum, 1.0);
  hop_prom_histogram(&p, "hopwire_store_commit_seconds", "transaction latency, BEGIN to COMMIT",
                     hop_store_lat_bounds_us, st.store.commit_lat_count, HOP_STORE_LAT_BUCKETS,
                     (double)st.store.commit_lat_sum_us, 1e6);
  hop_prom_server(&p, &ss);
  return p.len;
}
