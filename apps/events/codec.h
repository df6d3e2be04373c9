/* Flyte's event messages on the wire: what the two hops decode and answer.
 *
 * Messages are protoc-c types generated from proto/ (build/gen/proto/flyteidl2/...), never
 * hand-encoded. The one shortcut is deliberate and documented: RecordRequest and
 * RecordActionEventsRequest are the same on the wire (repeated ActionEvent events = 1), so a
 * body that decodes as one is forwarded unchanged as the other, and each event's bytes are
 * kept exactly as received (unknown fields included) to be stored as `info`.
 *
 * Threads: every function is reentrant; the only shared state is the wire check's per-type
 * tables, built once under pthread_once and read only after. */
#ifndef HOP_APPS_EVENTS_CODEC_H
#define HOP_APPS_EVENTS_CODEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One ActionEvent as the run-service stores it (Flyte's action_events row). */
typedef struct hop_ev_row {
  const char *project;    /* id.run.project, NUL-terminated */
  const char *domain;     /* id.run.domain */
  const char *run_name;   /* id.run.name */
  const char *name;       /* id.name (the action) */
  uint32_t attempt;
  int32_t phase;          /* flyteidl2.common.ActionPhase number */
  uint32_t version;
  const uint8_t *info;    /* the event's serialized bytes exactly as received */
  size_t info_len;
  const char *error_kind; /* ErrorInfo.Kind enum name ("KIND_USER") when error_info is
                             set, else NULL; static storage (a number with no name is
                             its decimal, "7", as Go's String(), kept in the batch's mem) */
} hop_ev_row;

/* The events of one request. |rows[i].info| points into the body that was decoded (it must
 * outlive the batch); the strings live in |mem|, freed by hop_ev_batch_free. */
typedef struct hop_ev_batch {
  hop_ev_row *rows;
  size_t n;
  void *mem;
} hop_ev_batch;

/* Decodes a RecordRequest / RecordActionEventsRequest in protobuf binary. Every event is
 * checked field by field against protoc-c's generated descriptors (wire types, lengths, and
 * valid UTF-8 in every string field, nested ones too, as proto3 requires and Go enforces);
 * the keys are then read from the checked bytes without unpacking (no allocation per
 * event). Unknown fields are allowed (and kept in info). More
 * than |max_events| events (0 = no cap) fails. Returns 0, or -1 with a message in |err|
 * that names the cause and the event ("event 3: id.run.project: invalid UTF-8",
 * "truncated message", "field 1: wrong wire type 0"); |out| is then empty. */
int hop_ev_decode(const uint8_t *body, size_t len, size_t max_events, hop_ev_batch *out,
                  char *err, size_t errlen);
void hop_ev_batch_free(hop_ev_batch *b);

/* The same checks as hop_ev_decode, with the same errors, without building rows: no
 * allocation (the events-proxy only needs to know the body decodes, and how many events it
 * carries). Returns 0 with *nevents, or -1 with |err| set. */
int hop_ev_validate(const uint8_t *body, size_t len, size_t max_events, size_t *nevents,
                    char *err, size_t errlen);

/* Connect's JSON codec: a RecordRequest / RecordActionEventsRequest in the proto3 JSON
 * mapping (lowerCamelCase or original field names, enums by name or number, 64-bit ints as
 * strings or numbers, Timestamp as RFC 3339, Duration as "1.5s", unknown fields rejected as
 * Go's protojson does) converted to protobuf binary. At most |max_out| output bytes (0 = no
 * cap).
 * *out is malloc'd (free()). Returns 0, or -1 with a message in |err|. */
int hop_ev_json_to_request(const char *json, size_t len, size_t max_out, uint8_t **out,
                           size_t *out_len, char *err, size_t errlen);

/* RecordActionEventsResponse{status{code, message}} in binary / in JSON. *out is malloc'd.
 * Code 0 with a NULL or empty message encodes an empty Status, as Flyte's. Returns 0 or -1
 * (no memory). */
int hop_ev_status_response(int32_t code, const char *message, uint8_t **out, size_t *out_len);
int hop_ev_status_response_json(int32_t code, const char *message, char **out,
                                size_t *out_len);
/* Decodes a binary RecordActionEventsResponse: *code and the message (truncated to
 * |message_len| - 1 bytes, NUL-terminated). A missing status is code 0. Returns 0, or -1
 * when the body does not decode. */
int hop_ev_status_decode(const uint8_t *body, size_t len, int32_t *code, char *message,
                         size_t message_len);

/* One ActionEvent (binary) as proto3 JSON on one line (for `hopwire events`): field names in
 * lowerCamelCase, enums by name, Timestamps RFC 3339. *out is malloc'd and NUL-terminated.
 * Returns 0, or -1 when the bytes do not decode. */
int hop_ev_event_to_json(const uint8_t *info, size_t len, char **out, size_t *out_len);

/* ActionPhase and ErrorInfo.Kind names ("ACTION_PHASE_RUNNING", "KIND_USER"); NULL if the
 * number has no name. */
const char *hop_ev_phase_name(int32_t phase);
const char *hop_ev_error_kind_name(int32_t kind);

#ifdef __cplusplus
}
#endif
#endif
