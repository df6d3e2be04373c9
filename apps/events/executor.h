/* A simulated Flyte executor: C reconcilers working through N actions, each emitting its
 * phase sequence (events/eventgen.h) to an events-proxy and waiting for every Record's
 * acknowledgement before the next event, as Flyte's TaskAction reconciler does.
 *
 * Transport: through hop_event_batcher (Flyte's eventBatcher, or the adaptive policy), or
 * --no-batch: one Record RPC per event (Flyte before PR #7658). A failed Record is re-emitted
 * with jittered exponential backoff (Flyte requeues the reconcile; duplicates are absorbed by
 * the store's first-write-wins), at most max_tries times or until the run's deadline.
 *
 * Reconcilers: async state machines on one libuv loop that also runs the client (default;
 * callbacks, timers, no thread per reconciler), or one thread each blocking in
 * hop_event_record / hop_rpc_call (HOP_EXEC_THREADS), for comparison.
 *
 * Threads: hop_exec_run blocks the calling thread until the run ends; the acked bitmap is
 * the caller's afterwards. Runs are independent (several may run in one process). */
#ifndef HOP_APPS_EVENTS_EXECUTOR_H
#define HOP_APPS_EVENTS_EXECUTOR_H

#include <stddef.h>
#include <stdint.h>

#include "events/eventgen.h"
#include "hopwire/events.h"
#include "hopwire/stats.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hop_exec_http {
  HOP_EXEC_H1_DEFAULT = 0, /* HTTP/1.1, 2 idle connections per host (Go's DefaultClient) */
  HOP_EXEC_H1_POOL = 1,    /* HTTP/1.1, 256 idle */
  HOP_EXEC_H2C = 2         /* HTTP/2 prior knowledge */
} hop_exec_http;

typedef enum hop_exec_mode {
  HOP_EXEC_ASYNC = 0,  /* reconcilers as state machines on the client's loop */
  HOP_EXEC_THREADS = 1 /* one blocking thread per reconciler */
} hop_exec_mode;

typedef struct hop_exec_config {
  const char *target;        /* events-proxy base URL, "http://127.0.0.1:8092" */
  uint64_t actions;          /* 1000 */
  uint32_t concurrency;      /* reconcilers; 512 (Flyte's maxConcurrentReconciles) */
  int no_batch;              /* 1: one Record per event */
  hop_batch_policy policy;   /* HOP_BATCH_ADAPTIVE */
  uint32_t batch_max;        /* events per Record; 0 = the policy's default (400) */
  int64_t batch_delay_us;    /* -1 = the policy's default (FLYTE 25 ms, ADAPTIVE 0) */
  uint32_t max_inflight;     /* ADAPTIVE RPCs in flight; 0 = the batcher's default */
  hop_exec_http http;        /* HOP_EXEC_H2C */
  hop_exec_mode mode;        /* HOP_EXEC_ASYNC */
  uint64_t record_timeout_ms; /* per Record (Connect-Timeout-Ms); 30000 */
  uint64_t deadline_ms;      /* the whole run; 0 = none. Past it nothing is re-emitted */
  uint32_t max_tries;        /* per event, first emission included; 60 */
  uint64_t backoff_base_ms;  /* 10, doubling ... */
  uint64_t backoff_cap_ms;   /* ... to 1000, full jitter */
  hop_evgen_config gen;      /* the events (seed, shares) */
} hop_exec_config;

void hop_exec_config_init(hop_exec_config *cfg);

typedef struct hop_exec_result {
  uint64_t actions;
  uint64_t planned;      /* events of every action's plan */
  uint64_t events;       /* distinct events produced (emitted at least once) */
  uint64_t acknowledged; /* distinct events whose Record succeeded */
  uint64_t records;      /* Record calls as the reconcilers made them (events + re-emits) */
  uint64_t rpcs;         /* Record RPCs on the wire (batches, or records with --no-batch) */
  uint64_t dials;        /* connections the client opened */
  uint64_t errors;       /* failed Record calls */
  uint64_t re_emits;     /* emissions after a failure */
  uint64_t max_batch;    /* largest batch (1 with --no-batch) */
  double mean_batch;     /* events per RPC */
  double elapsed_s, events_per_s, cpu_s;
  uint64_t rss_kib;      /* peak RSS of the process */
  uint32_t min_event_bytes, max_event_bytes;
  hop_latency latency;   /* per Record call as a reconciler sees it, microseconds */
  hop_hist *hist;        /* the same as a histogram (owned; freed by hop_exec_result_free) */
  /* Acknowledged events: bit (action * HOP_EVGEN_MAX_EVENTS + seq), malloc'd; release
   * with hop_exec_result_free. */
  uint8_t *acked;
  uint64_t acked_bits;
} hop_exec_result;

/* Runs the executor to completion (every action done, or the deadline). Returns 0 (see
 * res->acknowledged vs res->events for the outcome) or a negative hop_err when it could not
 * start (bad config, no memory, client creation). Fills |res| either way (zeroed on error). */
int hop_exec_run(const hop_exec_config *cfg, hop_exec_result *res);

/* 1 when event |seq| of |action| was acknowledged. */
int hop_exec_acked(const hop_exec_result *res, uint64_t action, unsigned seq);
void hop_exec_result_free(hop_exec_result *res);

const char *hop_exec_http_name(hop_exec_http h); /* "h1-default", "h1-pool", "h2c" */

#ifdef __cplusplus
}
#endif
#endif
