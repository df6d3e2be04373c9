/* libFuzzer: the event codec's fast paths against their references, on arbitrary bytes.
 * Any disagreement aborts (a finding), as does a crash, a leak or a sanitizer report:
 *   - the wire check with its per-type tables vs the generic descriptor walk
 *     (hop_ev_wire_check_generic), as an ActionEvent and as a RecordActionEventsResponse:
 *     the same result and the same message;
 *   - hop_ev_validate vs hop_ev_decode on the bytes as a request body: the same result and
 *     event count; each decoded row's keys vs protoc-c's unpack of its event;
 *   - hop_ev_utf8_valid (ASCII fast path) vs a byte-wise UTF-8 check;
 *   - the first 32 bytes as an eventgen config, action, event and reported time:
 *     hop_evgen_encode and hop_evgen_action_encode vs the protoc-c reference
 *     (hop_evgen_encode_protoc), byte for byte. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/codec.h"
#include "events/codec_priv.h"
#include "events/eventgen.h"
#include "../lib/utf8_ref.h"
#include "flyteidl2/workflow/internal_run_service.pb-c.h"
#include "flyteidl2/workflow/run_definition.pb-c.h"

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_event_codec: %s\n", what);
    abort();
  }
}

static void tables_vs_generic(const uint8_t *data, size_t size,
                              const ProtobufCMessageDescriptor *d) {
  char e1[256] = "", e2[256] = "";
  int r1 = hop_ev_wire_check(data, size, d, e1, sizeof e1);
  int r2 = hop_ev_wire_check_generic(data, size, d, e2, sizeof e2);
  check(r1 == r2 && strcmp(e1, e2) == 0, "tables and generic walk disagree");
}

static void keys_vs_protoc(const hop_ev_row *row) {
  Flyteidl2__Workflow__ActionEvent *m =
      flyteidl2__workflow__action_event__unpack(NULL, row->info_len, row->info);
  if (!m) return; /* protoc-c's own limits; the wire check is not its mirror */
  const Flyteidl2__Common__RunIdentifier *run = m->id ? m->id->run : NULL;
  check(!strcmp(row->project, run ? run->project : "") &&
            !strcmp(row->domain, run ? run->domain : "") &&
            !strcmp(row->run_name, run ? run->name : "") &&
            !strcmp(row->name, m->id ? m->id->name : "") && row->attempt == m->attempt &&
            row->phase == (int32_t)m->phase && row->version == m->version,
        "decoded keys differ from protoc-c's");
  if (m->error_info) {
    const char *kn = hop_ev_error_kind_name(m->error_info->kind);
    char num[16];
    snprintf(num, sizeof num, "%d", (int)m->error_info->kind);
    check(row->error_kind && !strcmp(row->error_kind, kn ? kn : num), "error kind differs");
  } else {
    check(row->error_kind == NULL, "error kind without error_info");
  }
  flyteidl2__workflow__action_event__free_unpacked(m, NULL);
}

static uint64_t rd64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

static void eventgen_vs_protoc(const uint8_t *data, size_t size) {
  if (size < 32) return;
  hop_evgen_config cfg;
  hop_evgen_config_init(&cfg);
  cfg.seed = rd64(data);
  cfg.fail_pct = data[8] % 101;
  cfg.abort_pct = data[9] % 101;
  cfg.actions_per_run = data[10] & 1 ? (uint32_t)rd64(data + 16) : data[10] % 40;
  cfg.projects = data[11] & 1 ? (uint32_t)(rd64(data + 16) >> 32) : data[11] % 10;
  /* times whose microseconds fit int64 whatever the action: within +-2^50 s of 1970 */
  cfg.base_unix_s = (int64_t)(rd64(data + 16) % (1ull << 40)) - (1ll << 39);
  uint64_t action = rd64(data + 24) % 1000000000000ull;
  unsigned seq = data[12] % 8;
  int64_t reported = data[13] & 1 ? (int64_t)rd64(data + 24) : 0;
  uint8_t a[HOP_EVGEN_MAX_EVENT_BYTES], b[HOP_EVGEN_MAX_EVENT_BYTES], c[HOP_EVGEN_MAX_EVENT_BYTES];
  int na = hop_evgen_encode(&cfg, action, seq, reported, a, sizeof a);
  int nb = hop_evgen_encode_protoc(&cfg, action, seq, reported, b, sizeof b);
  hop_evgen_action act;
  hop_evgen_action_init(&act, &cfg, action);
  if (data[14] & 1) /* build the parts for the other attempt first */
    (void)hop_evgen_action_encode(&act, seq >= 4 ? 0 : 4, 0, c, sizeof c);
  int nc = hop_evgen_action_encode(&act, seq, reported, c, sizeof c);
  check(na == nb && nc == nb, "eventgen lengths differ from the reference");
  check(nb < 0 || (!memcmp(a, b, (size_t)nb) && !memcmp(c, b, (size_t)nb)),
        "eventgen bytes differ from the reference");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tables_vs_generic(data, size, &flyteidl2__workflow__action_event__descriptor);
  tables_vs_generic(data, size, &flyteidl2__workflow__record_action_events_response__descriptor);
  check(hop_ev_utf8_valid(data, size) == ref_utf8_valid(data, size), "UTF-8 checks disagree");

  hop_ev_batch batch;
  size_t n = 0;
  char de[256] = "", ve[256] = "";
  int rd = hop_ev_decode(data, size, 4096, &batch, de, sizeof de);
  int rv = hop_ev_validate(data, size, 4096, &n, ve, sizeof ve);
  /* the messages may differ: decode scans the whole outer message before the events,
   * validate checks each event as it reaches it */
  check(rd == rv, "validate and decode disagree");
  if (rd == 0) {
    check(n == batch.n, "validate and decode count differently");
    for (size_t i = 0; i < batch.n; i++) keys_vs_protoc(&batch.rows[i]);
    hop_ev_batch_free(&batch);
  }
  eventgen_vs_protoc(data, size);
  return 0;
}
