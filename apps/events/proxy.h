/* The events-proxy hop: /flyteidl2.workflow.EventsProxyService/Record, forwarded as one
 * /flyteidl2.workflow.InternalRunService/RecordActionEvents with the same events, as
 * Flyte's (flyte-event-hops.md section 4): synchronous, no queue of its own.
 * - 0 events: OK without a downstream call;
 * - a body that does not decode (or invalid UTF-8): invalid_argument;
 * - a transport failure downstream: internal ("run service call failed: ...");
 * - an in-band status.code != 0: internal ("run service failed: <message>").
 * Both requests carry the events as field 1, so the body is forwarded unchanged once it is
 * known to decode (JSON bodies are converted to binary first). The caller's remaining
 * deadline is the downstream call's.
 *
 * Downstream calls go through one hop_client (its own I/O thread; by default h2c, so every
 * concurrent call shares one multiplexed connection), marked idempotent (first write wins
 * makes a replay harmless) so unprocessed calls are retried across GOAWAY and resets.
 *
 * Threads: handlers on the server's workers, downstream completions on the client's thread
 * (hop_rpc_reply from there posts the answer to the request's worker). */
#ifndef HOP_APPS_EVENTS_PROXY_H
#define HOP_APPS_EVENTS_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "hopwire/client.h"
#include "hopwire/server.h"

#define HOP_PROXY_PROCEDURE "/flyteidl2.workflow.EventsProxyService/Record"

typedef struct hop_proxy hop_proxy;

typedef struct hop_proxy_config {
  hop_server_config server;
  hop_client_config client;   /* the downstream client (http mode, pools, retries) */
  const char *run_service_url; /* "http://127.0.0.1:8090"; copied */
  uint64_t default_timeout_ms; /* downstream deadline when the caller sent none; 30000 */
  size_t max_message_size;     /* request message; 64 MiB */
  size_t max_events;           /* events in one Record; 1,000,000 (0 = no cap) */
} hop_proxy_config;

void hop_proxy_config_init(hop_proxy_config *cfg);

int hop_proxy_start(hop_proxy **out, const hop_proxy_config *cfg, char *err, size_t errlen);
int hop_proxy_address(const hop_proxy *p, char *buf, size_t len);
uint16_t hop_proxy_port(const hop_proxy *p);
void hop_proxy_shutdown(hop_proxy *p, uint64_t drain_ms);
/* Blocks until the server stopped, then frees the downstream client. */
void hop_proxy_wait(hop_proxy *p);
void hop_proxy_free(hop_proxy *p);

typedef struct hop_proxy_stats {
  uint64_t requests, ok, invalid, empty, downstream_failed, downstream_inband;
  uint64_t events_received, events_forwarded;
  hop_client_stats client;
} hop_proxy_stats;
void hop_proxy_get_stats(hop_proxy *p, hop_proxy_stats *out);
size_t hop_proxy_metrics(hop_proxy *p, char *buf, size_t cap);

#endif
