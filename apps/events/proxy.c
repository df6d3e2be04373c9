/* The events-proxy hop: see proxy.h. */
#include "events/proxy.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events/codec.h"
#include "events/prom.h"
#include "events/runsvc.h"
#include "hopwire/error.h"
#include "hopwire/rpc.h"

struct hop_proxy {
  hop_proxy_config cfg;
  char host[256];
  char *url;
  hop_target *target; /* url + the run-service's procedure, parsed once */
  hop_server *server;
  hop_rpc_server *rpc;
  hop_client *client;
  int waited;
  atomic_uint_fast64_t requests, ok, invalid, empty, downstream_failed, downstream_inband;
  atomic_uint_fast64_t events_received, events_forwarded;
};

typedef struct px_call {
  hop_proxy *px;
  hop_rpc_request *rq;
  int json;
  size_t events;
} px_call;

#define PX_ADD(f, n) atomic_fetch_add_explicit(&px->f, (n), memory_order_relaxed)

static uint64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts); /* hop's clock (rpc.h: deadlines on it) */
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void hop_proxy_config_init(hop_proxy_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  hop_server_config_init(&cfg->server);
  /* A Flyte executor has up to 512 reconcilers, each with a Record in flight: advertise
   * enough streams that they all share one h2c connection (hopwire serve keeps 100). */
  cfg->server.max_concurrent_streams = 1024;
  hop_client_config_init(&cfg->client);
  cfg->client.http = HOP_HTTP_H2C;
  cfg->run_service_url = "http://127.0.0.1:8090";
  cfg->default_timeout_ms = 30000;
  cfg->max_message_size = 64u * 1024u * 1024u;
  cfg->max_events = 1000000;
}

/* RecordResponse is empty: no bytes in proto, "{}" in JSON. */
static void reply_ok(hop_rpc_request *rq, int json) {
  if (json) hop_rpc_reply(rq, "{}", 2);
  else hop_rpc_reply(rq, "", 0);
}

/* Runs on the client's loop thread. */
static void on_downstream(const hop_rpc_result *res, void *ud) {
  px_call *c = ud;
  hop_proxy *px = c->px;
  char m[600];
  if (res->code != HOP_CODE_OK) {
    PX_ADD(downstream_failed, 1);
    if (res->err) snprintf(m, sizeof(m), "run service call failed: %s (%s)", hop_strerror(res->err),
                           hop_code_name(res->code));
    else snprintf(m, sizeof(m), "run service call failed: %s: %s", hop_code_name(res->code),
                  res->error_message ? res->error_message : "");
    hop_rpc_fail(c->rq, HOP_CODE_INTERNAL, m, NULL, 0);
    free(c);
    return;
  }
  int32_t code = 0;
  char msg[512];
  if (hop_ev_status_decode(res->message, res->message_len, &code, msg, sizeof(msg))) {
    PX_ADD(downstream_failed, 1);
    hop_rpc_fail(c->rq, HOP_CODE_INTERNAL,
                 "run service call failed: undecodable RecordActionEventsResponse", NULL, 0);
  } else if (code != 0) {
    PX_ADD(downstream_inband, 1);
    snprintf(m, sizeof(m), "run service failed: %s", msg);
    hop_rpc_fail(c->rq, HOP_CODE_INTERNAL, m, NULL, 0);
  } else {
    PX_ADD(ok, 1);
    PX_ADD(events_forwarded, c->events);
    reply_ok(c->rq, c->json);
  }
  free(c);
}

static void on_record(hop_rpc_request *rq, void *ud) {
  hop_proxy *px = ud;
  PX_ADD(requests, 1);
  int json = hop_rpc_request_codec(rq) == HOP_CODEC_JSON;
  size_t len = 0;
  const uint8_t *msg = hop_rpc_request_message(rq, &len);
  uint8_t *bin = NULL;
  char err[256], m[320];
  if (json) {
    size_t blen = 0;
    if (hop_ev_json_to_request((const char *)msg, len, px->cfg.max_message_size, &bin, &blen, err,
                               sizeof(err))) {
      PX_ADD(invalid, 1);
      snprintf(m, sizeof(m), "invalid RecordRequest JSON: %s", err);
      hop_rpc_fail(rq, HOP_CODE_INVALID_ARGUMENT, m, NULL, 0);
      return;
    }
    msg = bin;
    len = blen;
  }
  size_t n = 0;
  if (hop_ev_validate(msg, len, px->cfg.max_events, &n, err, sizeof(err))) {
    PX_ADD(invalid, 1);
    snprintf(m, sizeof(m), "invalid RecordRequest: %s", err);
    hop_rpc_fail(rq, HOP_CODE_INVALID_ARGUMENT, m, NULL, 0);
    free(bin);
    return;
  }
  PX_ADD(events_received, n);
  if (n == 0) { /* Flyte: OK without calling the run service */
    PX_ADD(empty, 1);
    PX_ADD(ok, 1);
    reply_ok(rq, json);
    free(bin);
    return;
  }
  px_call *c = malloc(sizeof(*c));
  if (!c) {
    free(bin);
    hop_rpc_fail(rq, HOP_CODE_RESOURCE_EXHAUSTED, "events-proxy: out of memory", NULL, 0);
    return;
  }
  c->px = px;
  c->rq = rq;
  c->json = json;
  c->events = n;
  hop_rpc_call_opts o;
  hop_rpc_call_opts_init(&o);
  o.target = px->target;
  o.message = msg; /* unchanged: both requests carry the events as field 1 */
  o.message_len = len;
  o.idempotent = 1; /* first write wins: a replay stores nothing twice */
  uint64_t dl = hop_rpc_request_deadline_us(rq);
  if (dl) {
    uint64_t now = mono_us();
    o.timeout_ms = dl > now ? (dl - now + 999) / 1000 : 1;
  } else {
    o.timeout_ms = px->cfg.default_timeout_ms;
  }
  int rv = hop_rpc_call_start(px->client, &o, on_downstream, c, NULL);
  free(bin); /* the call copied the message */
  if (rv) {
    PX_ADD(downstream_failed, 1);
    snprintf(m, sizeof(m), "run service call failed: %s", hop_strerror(rv));
    hop_rpc_fail(rq, HOP_CODE_INTERNAL, m, NULL, 0);
    free(c);
  }
}

static void on_metrics(hop_request *req, void *ud) {
  hop_proxy *px = ud;
  char *buf = malloc(64 * 1024);
  if (!buf) {
    hop_request_respond(req, 503, NULL, 0, "out of memory\n", 14, NULL, 0);
    return;
  }
  size_t n = hop_proxy_metrics(px, buf, 64 * 1024);
  hop_header h[] = {HOP_HEADER("content-type", "text/plain; version=0.0.4; charset=utf-8")};
  hop_request_respond(req, 200, h, 1, buf, n, NULL, 0);
  free(buf);
}

int hop_proxy_start(hop_proxy **out, const hop_proxy_config *cfg, char *err, size_t errlen) {
  *out = NULL;
  hop_proxy *px = calloc(1, sizeof(*px));
  if (!px) return HOP_ENOMEM;
  px->cfg = *cfg;
  if (cfg->server.host) {
    snprintf(px->host, sizeof(px->host), "%s", cfg->server.host);
    px->cfg.server.host = px->host;
  }
  if (px->cfg.server.max_body_size < px->cfg.max_message_size)
    px->cfg.server.max_body_size = px->cfg.max_message_size;
  if (px->cfg.server.max_conn_body_buffer && px->cfg.server.max_conn_body_buffer < px->cfg.server.max_body_size)
    px->cfg.server.max_conn_body_buffer = px->cfg.server.max_body_size;
  if (px->cfg.server.max_body_buffer && px->cfg.server.max_body_buffer < px->cfg.server.max_body_size)
    px->cfg.server.max_body_buffer = px->cfg.server.max_body_size;
  px->url = strdup(cfg->run_service_url ? cfg->run_service_url : "http://127.0.0.1:8090");
  if (!px->url) {
    free(px);
    return HOP_ENOMEM;
  }
  /* The downstream URL is parsed once here, so a bad one fails at start, not per call. */
  size_t bl = strlen(px->url);
  while (bl && px->url[bl - 1] == '/') bl--;
  char full[1024];
  int rv = bl + sizeof(HOP_RUNSVC_PROCEDURE) <= sizeof(full) ? 0 : HOP_EURL;
  if (!rv) {
    snprintf(full, sizeof(full), "%.*s%s", (int)bl, px->url, HOP_RUNSVC_PROCEDURE);
    rv = hop_target_new(&px->target, full);
  }
  if (rv) {
    snprintf(err, errlen, "bad run-service URL '%s': %s", px->url, hop_strerror(rv));
    free(px->url);
    free(px);
    return rv;
  }
  /* The downstream answer may be as large as a status message; requests as large as ours. */
  px->cfg.client.loop = NULL;
  rv = hop_client_new(&px->client, &px->cfg.client);
  if (rv) {
    snprintf(err, errlen, "cannot start the downstream client: %s", hop_strerror(rv));
    hop_target_free(px->target);
    free(px->url);
    free(px);
    return rv;
  }
  hop_rpc_server_config rc;
  hop_rpc_server_config_init(&rc);
  rc.max_message_size = px->cfg.max_message_size;
  /* The answer is a few bytes: gzip would only grow it, and zlib's per-stream reset
   * clears 64 KiB of tables (~65,000 instructions per RPC). */
  rc.compress_min_bytes = 1024;
  rv = hop_server_new(&px->server, &px->cfg.server);
  if (!rv) rv = hop_rpc_server_new(&px->rpc, px->server, &rc);
  if (!rv) rv = hop_rpc_server_handle(px->rpc, HOP_PROXY_PROCEDURE, on_record, px, 0);
  if (!rv) rv = hop_server_handle(px->server, "/metrics", on_metrics, px);
  if (!rv) {
    rv = hop_server_start(px->server);
    if (rv) snprintf(err, errlen, "cannot listen on %s:%u: %s", px->cfg.server.host ? px->cfg.server.host : "127.0.0.1",
                     px->cfg.server.port, hop_strerror(rv));
  } else {
    snprintf(err, errlen, "cannot set up the server: %s", hop_strerror(rv));
  }
  if (rv) {
    if (px->server) hop_server_free(px->server);
    hop_rpc_server_free(px->rpc);
    hop_client_free(px->client);
    hop_target_free(px->target);
    free(px->url);
    free(px);
    return rv;
  }
  *out = px;
  return 0;
}

int hop_proxy_address(const hop_proxy *px, char *buf, size_t len) {
  return hop_server_address(px->server, buf, len);
}

uint16_t hop_proxy_port(const hop_proxy *px) { return hop_server_port(px->server); }

void hop_proxy_shutdown(hop_proxy *px, uint64_t drain_ms) { hop_server_shutdown(px->server, drain_ms); }

void hop_proxy_wait(hop_proxy *px) {
  if (px->waited) return;
  hop_server_wait(px->server);
  px->waited = 1;
}

void hop_proxy_free(hop_proxy *px) {
  if (!px) return;
  if (!px->waited) {
    hop_server_shutdown(px->server, 0);
    hop_proxy_wait(px);
  }
  /* The server is stopped: no handler can start a call any more. Calls still in flight fail
   * with HOP_ESHUTDOWN; their hop_rpc_fail on a stopped server's requests is a no-op. */
  hop_client_free(px->client);
  hop_server_free(px->server);
  hop_rpc_server_free(px->rpc);
  hop_target_free(px->target);
  free(px->url);
  free(px);
}

#define LD(f) atomic_load_explicit(&px->f, memory_order_relaxed)

void hop_proxy_get_stats(hop_proxy *px, hop_proxy_stats *out) {
  memset(out, 0, sizeof(*out));
  out->requests = LD(requests);
  out->ok = LD(ok);
  out->invalid = LD(invalid);
  out->empty = LD(empty);
  out->downstream_failed = LD(downstream_failed);
  out->downstream_inband = LD(downstream_inband);
  out->events_received = LD(events_received);
  out->events_forwarded = LD(events_forwarded);
  hop_client_get_stats(px->client, &out->client);
}

size_t hop_proxy_metrics(hop_proxy *px, char *buf, size_t cap) {
  hop_proxy_stats st;
  hop_proxy_get_stats(px, &st);
  hop_server_stats ss;
  hop_server_get_stats(px->server, &ss);
  hop_prom p;
  hop_prom_init(&p, buf, cap);
  const char *r = "hopwire_proxy_requests_total";
  hop_prom_family(&p, r, "counter", "Record calls by result");
  hop_prom_sample(&p, r, "result=\"ok\"", (double)st.ok);
  hop_prom_sample(&p, r, "result=\"invalid_argument\"", (double)st.invalid);
  hop_prom_sample(&p, r, "result=\"downstream_error\"", (double)st.downstream_failed);
  hop_prom_sample(&p, r, "result=\"run_service_failed\"", (double)st.downstream_inband);
  hop_prom_counter(&p, "hopwire_proxy_empty_requests_total", "Records with no events (OK, not forwarded)",
                   st.empty);
  hop_prom_counter(&p, "hopwire_proxy_events_received_total", "events in decoded Records",
                   st.events_received);
  hop_prom_counter(&p, "hopwire_proxy_events_forwarded_total",
                   "events acknowledged by the run-service", st.events_forwarded);
  hop_prom_client(&p, "hopwire_proxy_downstream", &st.client);
  hop_prom_server(&p, &ss);
  return p.len;
}
