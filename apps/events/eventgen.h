/* Realistic Flyte ActionEvents for load: what an executor's TaskAction reconcilers emit.
 *
 * Everything is a pure function of (config, action index, event index), so a run is
 * reproducible and every event's store key is known in advance: a caller can check each
 * acknowledged key against the store afterwards.
 *
 * Plan per action (Flyte's phaseToActionPhase sequence):
 *   most:        QUEUED, INITIALIZING, RUNNING, SUCCEEDED                       (attempt 1)
 *   fail_pct %:  QUEUED, INITIALIZING, RUNNING, FAILED (ErrorInfo USER or SYSTEM), then the
 *                retry QUEUED, INITIALIZING, RUNNING, SUCCEEDED as attempt 2
 *   abort_pct %: QUEUED, INITIALIZING, RUNNING, ABORTED (updated_time = the abort time)
 * Each event carries org "" (as Flyte's executor sends), two TaskLogs (uri, name, ttl), a log
 * context with one pod (namespace, pod name, a container with its process start time), output
 * references and a cluster event; 400-700 bytes encoded.
 *
 * Threads: every function is reentrant. */
#ifndef HOP_APPS_EVENTS_EVENTGEN_H
#define HOP_APPS_EVENTS_EVENTGEN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HOP_EVGEN_MAX_EVENTS 8     /* events per action, at most (failed + retried) */
#define HOP_EVGEN_MAX_EVENT_BYTES 1024

typedef struct hop_evgen_config {
  uint64_t seed;            /* 1 */
  uint32_t fail_pct;        /* share of actions that fail once, then succeed; 10 */
  uint32_t abort_pct;       /* share of actions aborted; 5 */
  uint32_t actions_per_run; /* actions grouped under one run name; 16 */
  uint32_t projects;        /* distinct projects; 4 */
  int64_t base_unix_s;      /* event times start here; 1767225600 (2026-01-01) */
} hop_evgen_config;

void hop_evgen_config_init(hop_evgen_config *cfg);

/* One event's key, as the run-service's primary key (plus org, always ""). */
typedef struct hop_evgen_key {
  char project[32];
  char domain[16];
  char run_name[32];  /* <= 30 chars, Flyte's limit */
  char name[32];      /* the action; <= 30 chars */
  uint32_t attempt;
  int32_t phase;      /* ActionPhase number */
  uint32_t version;
  int32_t error_kind; /* ErrorInfo.Kind when the event carries one, else -1 */
} hop_evgen_key;

/* Number of events of |action| (4 or 8). */
unsigned hop_evgen_action_events(const hop_evgen_config *cfg, uint64_t action);

/* The key of event |seq| (< hop_evgen_action_events) of |action|. Returns 0 or -1. */
int hop_evgen_key_of(const hop_evgen_config *cfg, uint64_t action, unsigned seq,
                     hop_evgen_key *out);

/* Encodes event |seq| of |action| into |buf| (|cap| bytes; 1024 always suffices), byte for
 * byte what protoc-c's pack of the same messages gives (hop_evgen_encode_protoc), written
 * by hand back to front (hop_evgen_action_init + hop_evgen_action_encode: a caller with many
 * events of one action should keep the hop_evgen_action). |reported_unix_us| is the executor's observe time (0: derived from
 * the plan, so the bytes are reproducible). Returns the length, or -1 (bad index, too small
 * a buffer; |buf| may then hold garbage). */
int hop_evgen_encode(const hop_evgen_config *cfg, uint64_t action, unsigned seq,
                     int64_t reported_unix_us, uint8_t *buf, size_t cap);

/* One action's events, prepared once: the parts that do not change from one phase to the
 * next (the identifier, the log links and context, the output references, rebuilt once when
 * a failed action is retried as attempt 2) are kept encoded, so an event costs a copy and
 * the fields that change. The executor keeps one per reconciler. Caller-allocated (about
 * 1.1 KB); the fields are internal. Not shared: one thread at a time. */
typedef struct hop_evgen_action {
  uint64_t action, h, run;
  int64_t start_us;
  unsigned plan, nev, proj, name_idx, seed_hex;
  uint32_t parts_attempt; /* the attempt the parts are built for; 0: none */
  uint16_t id_len, logs_len, outs_len;
  uint8_t id[128], logs[640], outs[256]; /* fit the longest keys (30-char run names) */
} hop_evgen_action;

void hop_evgen_action_init(hop_evgen_action *a, const hop_evgen_config *cfg, uint64_t action);

/* hop_evgen_encode(cfg, a's action, seq, ...) byte for byte, from the prepared parts (built
 * here on first use and when the attempt changes, so |a| is written). */
int hop_evgen_action_encode(hop_evgen_action *a, unsigned seq, int64_t reported_unix_us,
                            uint8_t *buf, size_t cap);

/* The reference for the tests: the same event built as protoc-c messages (strings by
 * snprintf) and packed by protobuf_c_message_pack, as eventgen first encoded it; about 15x the
 * CPU of hop_evgen_action_encode (docs/pipeline.md, "CPU per event"). Same arguments and results. */
int hop_evgen_encode_protoc(const hop_evgen_config *cfg, uint64_t action, unsigned seq,
                            int64_t reported_unix_us, uint8_t *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
