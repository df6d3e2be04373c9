/* The run-service hop: /flyteidl2.workflow.InternalRunService/RecordActionEvents, storing
 * each request's events in one transaction (hop_store) and answering in-band, as Flyte's
 * (flyte-event-hops.md section 4):
 * - the RPC itself succeeds; the result is RecordActionEventsResponse.status (code 0 on
 *   success; on failure a code and a message naming the cause: 13 with the database's error,
 *   8 when the store's queue is full, 14 while shutting down or the database is unreachable);
 * - empty `events` is success without touching the store;
 * - a body that does not decode, or a string that is not valid UTF-8, is the RPC error
 *   invalid_argument (as connect-go's decoding is) and nothing of it is stored.
 * Every request is answered only after its rows are committed.
 *
 * Served on one hop_server (HTTP/1.1 + h2c; Connect proto and JSON, gRPC, gRPC-Web) with
 * /healthz, /readyz and /metrics (Prometheus text).
 *
 * Threads: the handler runs on the server's workers; the answer is sent from the store's
 * writer thread (hop_rpc_reply posts it to the request's worker). */
#ifndef HOP_APPS_EVENTS_RUNSVC_H
#define HOP_APPS_EVENTS_RUNSVC_H

#include <stddef.h>
#include <stdint.h>

#include "events/store.h"
#include "hopwire/server.h"

#define HOP_RUNSVC_PROCEDURE "/flyteidl2.workflow.InternalRunService/RecordActionEvents"

typedef struct hop_runsvc hop_runsvc;

typedef struct hop_runsvc_config {
  hop_server_config server;   /* host, port, threads, limits; handle_signals for the CLI */
  hop_store_config store;
  size_t max_message_size;    /* request message, after decompression; 64 MiB (a 100,000-
                                 event call is ~50 MB) */
  size_t max_events;          /* events in one request; 1,000,000 (0 = no cap) */
} hop_runsvc_config;

/* Defaults: hop_server_config_init + hop_store_config_init, max_body_size raised to
 * max_message_size. */
void hop_runsvc_config_init(hop_runsvc_config *cfg);

/* Opens the store, starts the server. Returns 0, or a negative hop_err with |err| naming the
 * cause (the store cannot be opened, the address is taken). */
int hop_runsvc_start(hop_runsvc **out, const hop_runsvc_config *cfg, char *err, size_t errlen);
/* "host:port" of the listener. */
int hop_runsvc_address(const hop_runsvc *rs, char *buf, size_t len);
uint16_t hop_runsvc_port(const hop_runsvc *rs);
/* Graceful drain (any thread): new calls refused (GOAWAY), in-flight batches committed and
 * answered within |drain_ms| (0 = the server's drain_timeout_ms). */
void hop_runsvc_shutdown(hop_runsvc *rs, uint64_t drain_ms);
/* Blocks until the server stopped (drain done, or a signal's drain with handle_signals),
 * then commits what the store still holds and closes it. */
void hop_runsvc_wait(hop_runsvc *rs);
/* Stops if needed (as shutdown + wait) and frees. */
void hop_runsvc_free(hop_runsvc *rs);

typedef struct hop_runsvc_stats {
  uint64_t requests;          /* RecordActionEvents calls handled */
  uint64_t ok, invalid, store_failed, queue_full, shutting_down;
  uint64_t events_received;   /* events in decoded requests */
  hop_store_stats store;
} hop_runsvc_stats;
void hop_runsvc_get_stats(hop_runsvc *rs, hop_runsvc_stats *out);

/* The /metrics page into |buf| (NUL-terminated); returns its length. */
size_t hop_runsvc_metrics(hop_runsvc *rs, char *buf, size_t cap);

#endif
