/* hopwire events: a batcher for Flyte ActionEvents (what an executor's reconcilers emit).
 *
 * Any number of threads record events (each a serialized flyteidl2.workflow.ActionEvent);
 * the batcher groups them into RecordRequest RPCs (repeated ActionEvent events = 1) to an
 * events-proxy and completes every recorder of a batch with that batch's result: Flyte's
 * semantics, synchronous and at-least-once (a recorder whose batch failed re-emits; the
 * store's first-write-wins absorbs the duplicates).
 *
 * Policies:
 * - HOP_BATCH_FLYTE: Flyte's eventBatcher (executor/pkg/controller/event_batcher.go): a
 *   batch leaves at max_batch_events or max_delay_us after its first event, at most
 *   flush_workers RPCs in flight.
 * - HOP_BATCH_ADAPTIVE (default): no fixed wait. While fewer than max_inflight RPCs are in
 *   flight a batch leaves at once with whatever is queued (a lone event costs one round
 *   trip); while they are, events accumulate, so batches grow with load up to
 *   max_batch_events ("Nagle for RPCs"). A queue of more than 64 events is spread over the
 *   free slots, at least 64 a batch, so a burst moves through the hops as a pipeline.
 *
 * Threads: record calls from any thread; callbacks run on the batcher's transport thread (the
 * hop_client loop, or whatever thread the custom send completes on), or on the batcher's own
 * thread for events that never left (deadline, shutdown, a send that failed at once); never
 * inside a record call. A callback may record again (async: without waiting for queue room,
 * HOP_EQUEUEFULL at once when full; the blocking record returns HOP_ESTATE there).
 *
 * Wire: the body is a RecordRequest encoded by concatenation, 0x0a <varint len> <event> per
 * event (field 1, wire type 2: exactly protobuf's encoding of the repeated field). */
#ifndef HOPWIRE_EVENTS_H
#define HOPWIRE_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "hopwire/client.h"
#include "hopwire/export.h"
#include "hopwire/rpc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hop_event_batcher hop_event_batcher;

typedef enum hop_batch_policy {
  HOP_BATCH_ADAPTIVE = 0,
  HOP_BATCH_FLYTE = 1
} hop_batch_policy;

#define HOP_EVENTS_RECORD_PROCEDURE "/flyteidl2.workflow.EventsProxyService/Record"

/* A custom transport (tests, or a caller's own RPC stack): send |body| (a serialized
 * RecordRequest) and call |done| exactly once, from any thread, with err = HOP_OK and the
 * RPC's code (HOP_CODE_OK = acknowledged), or a negative hop_err. Returning an error means
 * |done| never fires (the batch fails with that error). */
typedef void (*hop_batch_done_fn)(void *batch_ctx, int err, hop_code code, const char *message);
typedef int (*hop_batch_send_fn)(void *user_data, const uint8_t *body, size_t len,
                                 uint64_t timeout_ms, hop_batch_done_fn done, void *batch_ctx);

typedef struct hop_event_batcher_config {
  hop_batch_policy policy;
  uint32_t max_batch_events; /* 400 */
  size_t max_batch_bytes;    /* request body cap; 4 MiB - 64 KiB (under the 4 MiB default
                                message limit). A larger single event is refused */
  uint64_t max_delay_us;     /* FLYTE: 25 ms after a batch's first event. ADAPTIVE: a
                                linger applied only while RPCs are in flight; 0 */
  uint32_t flush_workers;    /* FLYTE: concurrent RPCs; 32 */
  uint32_t max_inflight;     /* ADAPTIVE: RPCs in flight before events accumulate; 4
                                (measured: 512 reconcilers into events-proxy + run-service
                                + SQLite, 1..16 within noise, 4 best or tied with the
                                fewest RPCs after 1-2; 16 lost ~25 %) */
  uint32_t queue_depth;      /* events queued and not yet sent; 8192. Full: a recorder
                                waits for room until its own deadline, then HOP_EQUEUEFULL */
  uint64_t flush_timeout_ms; /* per-RPC deadline (Connect-Timeout-Ms); 30000 */
  /* Transport: hop_rpc calls through |client| (not owned) to base_url + procedure, or the
   * custom |send| when set. */
  hop_client *client;
  const char *base_url;      /* "http://127.0.0.1:8092"; copied */
  const char *procedure;     /* HOP_EVENTS_RECORD_PROCEDURE by default; copied */
  hop_rpc_protocol protocol; /* HOP_RPC_CONNECT */
  hop_batch_send_fn send;
  void *send_user_data;
  size_t max_queue_bytes;    /* framed event bytes queued; 64 MiB. Full as queue_depth */
} hop_event_batcher_config;

/* Fills |cfg| with |policy|'s defaults (the numbers above). */
HOP_EXPORT void hop_event_batcher_config_init(hop_event_batcher_config *cfg, hop_batch_policy policy);

/* Creates a batcher (starts its thread). Returns 0 or a negative hop_err (HOP_EINVAL: no
 * transport, a zero cap). */
HOP_EXPORT int hop_event_batcher_new(hop_event_batcher **out, const hop_event_batcher_config *cfg);

/* The outcome of one recorded event: err = HOP_OK and code = HOP_CODE_OK when its batch was
 * acknowledged; err = HOP_ERPC with the RPC's code and message when the peer answered an
 * error; another negative hop_err (HOP_ETIMEDOUT, HOP_EQUEUEFULL, HOP_ESHUTDOWN, a transport
 * error) otherwise. |message| is "" when none; borrowed for the callback only. */
typedef struct hop_event_result {
  int err;
  hop_code code;
  const char *message;
  uint32_t batch_events;     /* events in the batch that carried it (0 if it left in none) */
} hop_event_result;

typedef void (*hop_event_record_cb)(const hop_event_result *res, void *user_data);

/* Records one event (|event| copied) and calls |cb| once with its batch's result. |timeout_ms|
 * (0 = the flush timeout) bounds the wait for queue room (then HOP_EQUEUEFULL, returned) and
 * the time queued (then the callback gets HOP_ETIMEDOUT); a batch's RPC deadline is the flush
 * timeout, cut to the latest deadline of its recorders, so every record completes by
 * max(its deadline, that of its batch-mates). An event whose framed size (len + 1 + varint)
 * exceeds max_batch_bytes: HOP_ETOOBIG. On error the callback never fires. */
HOP_EXPORT int hop_event_record_async(hop_event_batcher *b, const void *event, size_t len,
                           uint64_t timeout_ms, hop_event_record_cb cb, void *user_data);

/* Records one event and blocks until its batch is acknowledged or fails. Returns the
 * result's err (HOP_OK = acknowledged); *code_out (may be NULL) gets the RPC code. Not from
 * a batcher callback. */
HOP_EXPORT int hop_event_record(hop_event_batcher *b, const void *event, size_t len, uint64_t timeout_ms,
                     hop_code *code_out);

typedef struct hop_event_batcher_stats {
  uint64_t recorded;          /* events accepted */
  uint64_t acknowledged;      /* events whose batch succeeded */
  uint64_t failed;            /* events completed with an error */
  uint64_t batches_sent, batches_ok, batches_failed;
  uint64_t queued;            /* events waiting now */
  uint64_t inflight;          /* RPCs in flight now */
  uint64_t max_batch;         /* largest batch sent */
} hop_event_batcher_stats;

/* Any thread. */
HOP_EXPORT void hop_event_batcher_get_stats(hop_event_batcher *b, hop_event_batcher_stats *out);

/* Stops: events still queued and batches in flight are completed (in flight: by their RPC,
 * bounded by the flush timeout; queued: with HOP_ESHUTDOWN), then the thread is joined.
 * Not from a batcher callback. */
HOP_EXPORT void hop_event_batcher_free(hop_event_batcher *b);

#ifdef __cplusplus
}
#endif
#endif
