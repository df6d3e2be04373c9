/* The event codec: golden bytes worked out by hand from field numbers and wire types, decoded
 * by hop_ev_decode and by protoc-c and packed back identically; unknown fields kept in info;
 * duplicates; 0 and 100,000 events; bad input with its exact error; proto3 JSON in and out;
 * status responses; enum names.
 *
 * Wire reminder: a tag is (field_number << 3 | wire_type) as a varint; wire types: 0 varint,
 * 1 fixed64, 2 length-delimited (varint length + bytes), 5 fixed32. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "events/codec.h"
#include "events/codec_priv.h"
#include "events/eventgen.h"
#include "utf8_ref.h"
/* start_time / end_time are deprecated in the proto; the tests still set them */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#include "flyteidl2/workflow/events_proxy_service.pb-c.h"
#include "flyteidl2/workflow/internal_run_service.pb-c.h"
#include "flyteidl2/workflow/run_definition.pb-c.h"

/* ---- golden messages ---- */

/* Event A: id{run{project "p", domain "d", name "r1"}, name "a0"}, attempt 1,
 * phase ACTION_PHASE_RUNNING (4), version 2. 24 bytes. */
static const uint8_t EV_A[] = {
    0x0a, 0x10,             /* field 1 (id) wire 2: (1<<3)|2 = 0x0a; length 16 */
    0x0a, 0x0a,             /*   ActionIdentifier field 1 (run) wire 2, length 10 */
    0x12, 0x01, 0x70,       /*     RunIdentifier field 2 (project) (2<<3)|2 = 0x12, len 1, "p" */
    0x1a, 0x01, 0x64,       /*     field 3 (domain) (3<<3)|2 = 0x1a, len 1, "d" */
    0x22, 0x02, 0x72, 0x31, /*     field 4 (name) (4<<3)|2 = 0x22, len 2, "r1" */
    0x12, 0x02, 0x61, 0x30, /*   ActionIdentifier field 2 (name) 0x12, len 2, "a0" */
    0x10, 0x01,             /* field 2 (attempt) wire 0: (2<<3)|0 = 0x10; value 1 */
    0x18, 0x04,             /* field 3 (phase) (3<<3)|0 = 0x18; 4 = RUNNING */
    0x20, 0x02,             /* field 4 (version) (4<<3)|0 = 0x20; value 2 */
};

/* RecordRequest{events: [A]}: field 1 wire 2 = 0x0a, length 24 = 0x18. */
static const uint8_t REQ_A[] = {
    0x0a, 0x18,
    0x0a, 0x10, 0x0a, 0x0a, 0x12, 0x01, 0x70, 0x1a, 0x01, 0x64, 0x22, 0x02, 0x72, 0x31,
    0x12, 0x02, 0x61, 0x30, 0x10, 0x01, 0x18, 0x04, 0x20, 0x02,
};

/* Event B: id{run{p, d, r1}, name "a1"}, attempt 2, phase ACTION_PHASE_FAILED (6),
 * updated_time 2026-12-03T17:00:00.123Z, error_info{message "oom", kind KIND_USER},
 * log_info [{uri "u", ttl 90s, ShowWhilePending true}]. 55 bytes. */
static const uint8_t EV_B[] = {
    0x0a, 0x10,                         /* id, length 16 */
    0x0a, 0x0a, 0x12, 0x01, 0x70, 0x1a, 0x01, 0x64, 0x22, 0x02, 0x72, 0x31, /* run (as A) */
    0x12, 0x02, 0x61, 0x31,             /* name "a1" */
    0x10, 0x02,                         /* attempt 2 */
    0x18, 0x06,                         /* phase 6 = FAILED; version 0 is not written */
    0x32, 0x0b,                         /* field 6 (updated_time) (6<<3)|2 = 0x32, length 11 */
    /* Timestamp field 1 (seconds) wire 0 = 0x08. 1796317200 = 0x6B11A010; its 7-bit groups,
     * low first: 0x10 0x40 0x46 0x58 0x06; all but the last get 0x80 */
    0x08, 0x90, 0xc0, 0xc6, 0xd8, 0x06,
    /* field 2 (nanos) 0x10. 123000000 = 0x0754D4C0: groups 0x40 0x29 0x53 0x3a */
    0x10, 0xc0, 0xa9, 0xd3, 0x3a,
    0x42, 0x07,                         /* field 8 (error_info) (8<<3)|2 = 0x42, length 7 */
    0x0a, 0x03, 0x6f, 0x6f, 0x6d,       /*   ErrorInfo field 1 (message) "oom" */
    0x10, 0x01,                         /*   field 2 (kind) = 1 KIND_USER */
    0x4a, 0x09,                         /* field 9 (log_info) (9<<3)|2 = 0x4a, length 9 */
    0x0a, 0x01, 0x75,                   /*   TaskLog field 1 (uri) "u" */
    0x22, 0x02, 0x08, 0x5a,             /*   field 4 (ttl) (4<<3)|2 = 0x22 len 2: Duration seconds 90 */
    0x28, 0x01,                         /*   field 5 (ShowWhilePending) (5<<3)|0 = 0x28, true */
};

/* Event A followed by two fields this schema does not know (a newer Flyte's):
 * field 99 varint: tag 99<<3|0 = 792 = 0x318 -> groups 0x18, 0x06 -> 0x98 0x06; value 7;
 * field 100 bytes: tag 100<<3|2 = 802 = 0x322 -> 0xa2 0x06; length 2, "hi". */
static const uint8_t EV_UNKNOWN[] = {
    0x0a, 0x10, 0x0a, 0x0a, 0x12, 0x01, 0x70, 0x1a, 0x01, 0x64, 0x22, 0x02, 0x72, 0x31,
    0x12, 0x02, 0x61, 0x30, 0x10, 0x01, 0x18, 0x04, 0x20, 0x02,
    0x98, 0x06, 0x07,
    0xa2, 0x06, 0x02, 0x68, 0x69,
};

/* Wraps events into a RecordRequest: 0x0a, one-byte length (< 128), bytes. */
static size_t wrap(uint8_t *out, const uint8_t *const *evs, const size_t *lens, size_t n) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    assert_true(lens[i] < 128);
    out[o++] = 0x0a;
    out[o++] = (uint8_t)lens[i];
    memcpy(out + o, evs[i], lens[i]);
    o += lens[i];
  }
  return o;
}

static size_t wrap1(uint8_t *out, const uint8_t *ev, size_t len) {
  return wrap(out, &ev, &len, 1);
}

/* ---- golden decode / encode ---- */

static void golden_simple(void **state) {
  (void)state;
  hop_ev_batch b;
  char err[160] = "";
  assert_int_equal(hop_ev_decode(REQ_A, sizeof REQ_A, 0, &b, err, sizeof err), 0);
  assert_int_equal(b.n, 1);
  assert_string_equal(b.rows[0].project, "p");
  assert_string_equal(b.rows[0].domain, "d");
  assert_string_equal(b.rows[0].run_name, "r1");
  assert_string_equal(b.rows[0].name, "a0");
  assert_int_equal(b.rows[0].attempt, 1);
  assert_int_equal(b.rows[0].phase, 4);
  assert_int_equal(b.rows[0].version, 2);
  assert_null(b.rows[0].error_kind);
  assert_ptr_equal(b.rows[0].info, REQ_A + 2); /* points into the body */
  assert_int_equal(b.rows[0].info_len, sizeof EV_A);
  assert_memory_equal(b.rows[0].info, EV_A, sizeof EV_A);
  hop_ev_batch_free(&b);
  assert_null(b.mem);

  /* protoc-c reads the same values */
  Flyteidl2__Workflow__ActionEvent *m =
      flyteidl2__workflow__action_event__unpack(NULL, sizeof EV_A, EV_A);
  assert_non_null(m);
  assert_string_equal(m->id->run->project, "p");
  assert_string_equal(m->id->run->org, "");
  assert_string_equal(m->id->name, "a0");
  assert_int_equal(m->phase, FLYTEIDL2__COMMON__ACTION_PHASE__ACTION_PHASE_RUNNING);
  flyteidl2__workflow__action_event__free_unpacked(m, NULL);

  /* and packs the message built field by field to the same bytes */
  Flyteidl2__Common__RunIdentifier run = FLYTEIDL2__COMMON__RUN_IDENTIFIER__INIT;
  Flyteidl2__Common__ActionIdentifier id = FLYTEIDL2__COMMON__ACTION_IDENTIFIER__INIT;
  Flyteidl2__Workflow__ActionEvent ev = FLYTEIDL2__WORKFLOW__ACTION_EVENT__INIT;
  run.project = "p", run.domain = "d", run.name = "r1";
  id.run = &run, id.name = "a0";
  ev.id = &id, ev.attempt = 1, ev.phase = 4, ev.version = 2;
  uint8_t out[64];
  assert_int_equal(flyteidl2__workflow__action_event__get_packed_size(&ev), sizeof EV_A);
  flyteidl2__workflow__action_event__pack(&ev, out);
  assert_memory_equal(out, EV_A, sizeof EV_A);
  Flyteidl2__Workflow__ActionEvent *evs[1] = {&ev};
  Flyteidl2__Workflow__RecordRequest req = FLYTEIDL2__WORKFLOW__RECORD_REQUEST__INIT;
  req.n_events = 1, req.events = evs;
  assert_int_equal(flyteidl2__workflow__record_request__pack(&req, out), sizeof REQ_A);
  assert_memory_equal(out, REQ_A, sizeof REQ_A);
}

static void golden_error_and_logs(void **state) {
  (void)state;
  uint8_t req[128];
  size_t n = wrap1(req, EV_B, sizeof EV_B);
  assert_int_equal(sizeof EV_B, 55);
  hop_ev_batch b;
  char err[160] = "";
  assert_int_equal(hop_ev_decode(req, n, 0, &b, err, sizeof err), 0);
  assert_int_equal(b.n, 1);
  assert_string_equal(b.rows[0].name, "a1");
  assert_int_equal(b.rows[0].attempt, 2);
  assert_int_equal(b.rows[0].phase, 6);
  assert_int_equal(b.rows[0].version, 0);
  assert_string_equal(b.rows[0].error_kind, "KIND_USER");
  assert_memory_equal(b.rows[0].info, EV_B, sizeof EV_B);
  hop_ev_batch_free(&b);

  Flyteidl2__Workflow__ActionEvent *m =
      flyteidl2__workflow__action_event__unpack(NULL, sizeof EV_B, EV_B);
  assert_non_null(m);
  assert_int_equal(m->updated_time->seconds, 1796317200);
  assert_int_equal(m->updated_time->nanos, 123000000);
  assert_string_equal(m->error_info->message, "oom");
  assert_int_equal(m->error_info->kind, 1);
  assert_int_equal(m->n_log_info, 1);
  assert_string_equal(m->log_info[0]->uri, "u");
  assert_int_equal(m->log_info[0]->ttl->seconds, 90);
  assert_true(m->log_info[0]->showwhilepending);
  uint8_t out[128];
  assert_int_equal(flyteidl2__workflow__action_event__pack(m, out), sizeof EV_B);
  assert_memory_equal(out, EV_B, sizeof EV_B);
  flyteidl2__workflow__action_event__free_unpacked(m, NULL);
}

static void unknown_fields_survive(void **state) {
  (void)state;
  uint8_t req[128];
  size_t n = wrap1(req, EV_UNKNOWN, sizeof EV_UNKNOWN);
  hop_ev_batch b;
  char err[160] = "";
  assert_int_equal(hop_ev_decode(req, n, 0, &b, err, sizeof err), 0);
  assert_int_equal(b.n, 1);
  assert_string_equal(b.rows[0].name, "a0");
  assert_int_equal(b.rows[0].info_len, sizeof EV_UNKNOWN);
  assert_memory_equal(b.rows[0].info, EV_UNKNOWN, sizeof EV_UNKNOWN);
  hop_ev_batch_free(&b);
  /* protoc-c keeps them too and writes them back after the known fields */
  Flyteidl2__Workflow__ActionEvent *m =
      flyteidl2__workflow__action_event__unpack(NULL, sizeof EV_UNKNOWN, EV_UNKNOWN);
  assert_non_null(m);
  assert_int_equal(m->base.n_unknown_fields, 2);
  uint8_t out[64];
  assert_int_equal(flyteidl2__workflow__action_event__pack(m, out), sizeof EV_UNKNOWN);
  assert_memory_equal(out, EV_UNKNOWN, sizeof EV_UNKNOWN);
  flyteidl2__workflow__action_event__free_unpacked(m, NULL);

  /* unknown fields of the outer message are skipped, of any wire type: field 2 varint
   * (0x10 0x05), field 3 fixed64 (0x19 + 8 bytes), field 4 fixed32 (0x25 + 4), field 5
   * group (0x2b start, inner field 1 varint 0x08 0x01, 0x2c end) */
  uint8_t outer[160];
  size_t o = 0;
  const uint8_t pre[] = {0x10, 0x05, 0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0x25, 1, 2, 3, 4,
                         0x2b, 0x08, 0x01, 0x2c};
  memcpy(outer, pre, sizeof pre);
  o = sizeof pre;
  o += wrap1(outer + o, EV_A, sizeof EV_A);
  assert_int_equal(hop_ev_decode(outer, o, 0, &b, err, sizeof err), 0);
  assert_int_equal(b.n, 1);
  assert_memory_equal(b.rows[0].info, EV_A, sizeof EV_A);
  hop_ev_batch_free(&b);
}

static void duplicates_and_empty(void **state) {
  (void)state;
  uint8_t req[128];
  const uint8_t *evs[3] = {EV_A, EV_B, EV_A};
  size_t lens[3] = {sizeof EV_A, sizeof EV_B, sizeof EV_A};
  size_t n = wrap(req, evs, lens, 3);
  hop_ev_batch b;
  char err[160] = "";
  assert_int_equal(hop_ev_decode(req, n, 0, &b, err, sizeof err), 0);
  assert_int_equal(b.n, 3); /* dedupe is the store's job: two identical rows */
  assert_string_equal(b.rows[0].name, "a0");
  assert_string_equal(b.rows[1].name, "a1");
  assert_string_equal(b.rows[2].name, "a0");
  assert_int_equal(b.rows[2].attempt, b.rows[0].attempt);
  assert_memory_equal(b.rows[2].info, b.rows[0].info, sizeof EV_A);
  hop_ev_batch_free(&b);

  /* max_events: 3 is fine, 2 is not */
  assert_int_equal(hop_ev_decode(req, n, 3, &b, err, sizeof err), 0);
  hop_ev_batch_free(&b);
  assert_int_equal(hop_ev_decode(req, n, 2, &b, err, sizeof err), -1);
  assert_string_equal(err, "too many events (more than 2)");
  assert_int_equal(b.n, 0);

  /* empty body: 0 events, success; same for a NULL body and an empty event (0a 00) */
  assert_int_equal(hop_ev_decode((const uint8_t *)"", 0, 0, &b, err, sizeof err), 0);
  assert_int_equal(b.n, 0);
  assert_null(b.rows);
  hop_ev_batch_free(&b);
  assert_int_equal(hop_ev_decode(NULL, 0, 0, &b, err, sizeof err), 0);
  assert_int_equal(b.n, 0);
  const uint8_t empty_ev[] = {0x0a, 0x00};
  assert_int_equal(hop_ev_decode(empty_ev, 2, 0, &b, err, sizeof err), 0);
  assert_int_equal(b.n, 1);
  assert_string_equal(b.rows[0].project, "");
  assert_int_equal(b.rows[0].info_len, 0);
  hop_ev_batch_free(&b);
}

/* ctest: TIMEOUT=120 */
static void hundred_thousand_events(void **state) {
  (void)state;
  enum { N = 100000 };
  Flyteidl2__Common__RunIdentifier run = FLYTEIDL2__COMMON__RUN_IDENTIFIER__INIT;
  run.project = "proj", run.domain = "dev", run.name = "run1";
  Flyteidl2__Common__ActionIdentifier *ids = calloc(N, sizeof *ids);
  Flyteidl2__Workflow__ActionEvent *evs = calloc(N, sizeof *evs);
  Flyteidl2__Workflow__ActionEvent **ptrs = calloc(N, sizeof *ptrs);
  char(*names)[16] = calloc(N, sizeof *names);
  assert_non_null(ids), assert_non_null(evs), assert_non_null(ptrs), assert_non_null(names);
  for (size_t i = 0; i < N; i++) {
    flyteidl2__common__action_identifier__init(&ids[i]);
    flyteidl2__workflow__action_event__init(&evs[i]);
    snprintf(names[i], sizeof names[i], "a%zu", i);
    ids[i].run = &run, ids[i].name = names[i];
    evs[i].id = &ids[i], evs[i].attempt = 1, evs[i].phase = (i % 10) + 1;
    evs[i].version = (uint32_t)i;
    ptrs[i] = &evs[i];
  }
  Flyteidl2__Workflow__RecordRequest req = FLYTEIDL2__WORKFLOW__RECORD_REQUEST__INIT;
  req.n_events = N, req.events = ptrs;
  size_t len = flyteidl2__workflow__record_request__get_packed_size(&req);
  uint8_t *body = malloc(len);
  assert_non_null(body);
  flyteidl2__workflow__record_request__pack(&req, body);
  hop_ev_batch b;
  char err[160] = "";
  assert_int_equal(hop_ev_decode(body, len, 0, &b, err, sizeof err), 0);
  assert_int_equal(b.n, N);
  size_t vn = 0;
  assert_int_equal(hop_ev_validate(body, len, 0, &vn, err, sizeof err), 0);
  assert_int_equal(vn, N);
  for (size_t i = 0; i < N; i += 9973) {
    assert_string_equal(b.rows[i].name, names[i]);
    assert_string_equal(b.rows[i].project, "proj");
    assert_int_equal(b.rows[i].version, i);
    assert_int_equal(b.rows[i].phase, (int)(i % 10) + 1);
  }
  assert_string_equal(b.rows[N - 1].name, "a99999");
  hop_ev_batch_free(&b);
  assert_int_equal(hop_ev_decode(body, len, 400, &b, err, sizeof err), -1);
  assert_string_equal(err, "too many events (more than 400)");
  free(body), free(names), free(ptrs), free(evs), free(ids);
}

/* ---- bad input ---- */

static void expect_fail(const uint8_t *body, size_t len, const char *want) {
  hop_ev_batch b;
  char err[200] = "";
  b.n = 99;
  assert_int_equal(hop_ev_decode(body, len, 0, &b, err, sizeof err), -1);
  assert_string_equal(err, want);
  assert_int_equal(b.n, 0);
  assert_null(b.mem);
  /* the proxy's allocation-free check refuses the same bytes with the same words */
  size_t n = 99;
  char verr[200] = "";
  assert_int_equal(hop_ev_validate(body, len, 0, &n, verr, sizeof verr), -1);
  assert_string_equal(verr, want);
  assert_int_equal(n, 0);
}

/* One event given as bytes, wrapped. The check without the per-type tables gives the same
 * words. */
static void expect_event_fail(const uint8_t *ev, size_t len, const char *want) {
  uint8_t req[256];
  size_t n = wrap1(req, ev, len);
  expect_fail(req, n, want);
  char e1[200] = "", e2[200] = "";
  assert_int_equal(
      hop_ev_wire_check(ev, len, &flyteidl2__workflow__action_event__descriptor, e1, sizeof e1),
      -1);
  assert_int_equal(hop_ev_wire_check_generic(ev, len, &flyteidl2__workflow__action_event__descriptor,
                                             e2, sizeof e2),
                   -1);
  assert_string_equal(e1, e2);
  assert_string_equal(e1, want + strlen("event 0: "));
}

static void bad_truncated(void **state) {
  (void)state;
  /* the outer length says 24 bytes, 23 follow */
  expect_fail(REQ_A, sizeof REQ_A - 1, "truncated message (event length 24, 23 bytes left)");
  /* cut inside the outer tag's length varint: 0x0a then 0x98 (continuation bit, no end) */
  const uint8_t cut_len[] = {0x0a, 0x98};
  expect_fail(cut_len, sizeof cut_len, "truncated message");
  /* an event whose id says 16 bytes but the event ends after 3 */
  const uint8_t short_id[] = {0x0a, 0x10, 0x0a, 0x0a, 0x12};
  expect_event_fail(short_id, sizeof short_id,
                    "event 0: id: truncated message (length 16, 3 bytes left)");
  /* deeper: RunIdentifier.project length 5, 1 byte left inside run */
  const uint8_t short_proj[] = {0x0a, 0x05, 0x0a, 0x03, 0x12, 0x05, 0x70};
  expect_event_fail(short_proj, sizeof short_proj,
                    "event 0: id.run.project: truncated message (length 5, 1 bytes left)");
  /* a fixed64 unknown field with 3 of its 8 bytes: field 20 wire 1 = (20<<3)|1 = 0xa1 0x01 */
  const uint8_t short_fixed[] = {0xa1, 0x01, 1, 2, 3};
  expect_event_fail(short_fixed, sizeof short_fixed, "event 0: (field 20): truncated message");
  /* a varint that never ends: attempt 0x10 then 0xff */
  const uint8_t open_varint[] = {0x10, 0xff};
  expect_event_fail(open_varint, sizeof open_varint, "event 0: attempt: truncated message");
}

static void bad_wire_types(void **state) {
  (void)state;
  /* outer: field 1 as a varint (0x08 = (1<<3)|0) */
  const uint8_t outer_varint[] = {0x08, 0x01};
  expect_fail(outer_varint, sizeof outer_varint, "field 1: wrong wire type 0");
  /* outer: field 1 as fixed32 (0x0d = (1<<3)|5) */
  const uint8_t outer_fixed[] = {0x0d, 1, 2, 3, 4};
  expect_fail(outer_fixed, sizeof outer_fixed, "field 1: wrong wire type 5");
  /* inner: attempt (uint32) length-delimited: 0x12 = (2<<3)|2, len 1, 0x01 */
  const uint8_t attempt_len[] = {0x12, 0x01, 0x01};
  expect_event_fail(attempt_len, sizeof attempt_len, "event 0: attempt: wrong wire type 2");
  /* inner: id (message) as a varint: 0x08 = (1<<3)|0 */
  const uint8_t id_varint[] = {0x08, 0x01};
  expect_event_fail(id_varint, sizeof id_varint, "event 0: id: wrong wire type 0");
  /* nested: id.name (string) as a varint: ActionIdentifier field 2 wire 0 = 0x10 */
  const uint8_t name_varint[] = {0x0a, 0x02, 0x10, 0x05};
  expect_event_fail(name_varint, sizeof name_varint, "event 0: id.name: wrong wire type 0");
  /* log_info[0].ShowWhilePending (bool) length-delimited: TaskLog field 5 wire 2 = 0x2a.
   * protobuf-c alone accepts this (it never checks a bool's wire type); Go rejects it. */
  const uint8_t bool_len[] = {0x4a, 0x03, 0x2a, 0x01, 0x01};
  Flyteidl2__Workflow__ActionEvent *m =
      flyteidl2__workflow__action_event__unpack(NULL, sizeof bool_len, bool_len);
  assert_non_null(m); /* the laxness this codec closes */
  flyteidl2__workflow__action_event__free_unpacked(m, NULL);
  expect_event_fail(bool_len, sizeof bool_len,
                    "event 0: log_info[0].ShowWhilePending: wrong wire type 2");
  /* the second log entry, as a fixed32 bool (0x2d = (5<<3)|5) */
  const uint8_t bool_fixed[] = {0x4a, 0x00, 0x4a, 0x05, 0x2d, 1, 0, 0, 0};
  expect_event_fail(bool_fixed, sizeof bool_fixed,
                    "event 0: log_info[1].ShowWhilePending: wrong wire type 5");
  /* wire types 6 and 7 do not exist; 3/4 (groups) are refused inside events */
  const uint8_t wt7[] = {0xa7, 0x01};
  expect_event_fail(wt7, sizeof wt7, "event 0: (field 20): invalid wire type");
  const uint8_t group[] = {0xa3, 0x01, 0xa4, 0x01};
  expect_event_fail(group, sizeof group,
                    "event 0: (field 20): groups (wire type 3/4) are not supported");
  /* field number 0 */
  const uint8_t f0[] = {0x02, 0x00};
  expect_event_fail(f0, sizeof f0, "event 0: invalid field number 0");
  expect_fail(f0, sizeof f0, "invalid field number 0");
}

static void bad_utf8(void **state) {
  (void)state;
  /* id.run.project = 0xff (never valid in UTF-8) */
  const uint8_t proj_ff[] = {0x0a, 0x05, 0x0a, 0x03, 0x12, 0x01, 0xff};
  expect_event_fail(proj_ff, sizeof proj_ff, "event 0: id.run.project: invalid UTF-8");
  /* id.name = "a" 0xc3 (a 2-byte sequence cut short) */
  const uint8_t name_cut[] = {0x0a, 0x04, 0x12, 0x02, 0x61, 0xc3};
  expect_event_fail(name_cut, sizeof name_cut, "event 0: id.name: invalid UTF-8");
  /* log_info[1].uri invalid, log_info[0] fine: the path names the nested field */
  const uint8_t log_uri[] = {0x4a, 0x03, 0x0a, 0x01, 0x75,  /* log_info[0].uri "u" */
                             0x4a, 0x04, 0x0a, 0x02, 0x75, 0x80}; /* "u" + lone continuation */
  expect_event_fail(log_uri, sizeof log_uri, "event 0: log_info[1].uri: invalid UTF-8");
  /* deep: log_context.pods[0].containers[0].container_name: LogContext field 1 (pods) 0x0a,
   * PodLogContext field 3 (containers) 0x1a, ContainerContext field 1 0x0a */
  const uint8_t deep[] = {0x52, 0x07, 0x0a, 0x05, 0x1a, 0x03, 0x0a, 0x01, 0xfe};
  expect_event_fail(deep, sizeof deep,
                    "event 0: log_context.pods[0].containers[0].container_name: invalid UTF-8");
  /* the second event of the batch is the bad one */
  uint8_t req[128];
  const uint8_t *evs[2] = {EV_A, proj_ff};
  size_t lens[2] = {sizeof EV_A, sizeof proj_ff};
  size_t n = wrap(req, evs, lens, 2);
  expect_fail(req, n, "event 1: id.run.project: invalid UTF-8");

  /* overlong forms, surrogates, past U+10FFFF: all invalid as in Go's utf8.Valid */
  static const struct { const char *s; int ok; } cases[] = {
      {"\xc0\xaf", 0},             /* "/" in 2 bytes */
      {"\xc1\xbf", 0},             /* U+007F in 2 bytes */
      {"\xe0\x80\xaf", 0},         /* "/" in 3 bytes */
      {"\xe0\x9f\xbf", 0},         /* U+07FF in 3 bytes */
      {"\xf0\x80\x80\xaf", 0},     /* "/" in 4 bytes */
      {"\xf0\x8f\xbf\xbf", 0},     /* U+FFFF in 4 bytes */
      {"\xed\xa0\x80", 0},         /* U+D800, a surrogate */
      {"\xed\xbf\xbf", 0},         /* U+DFFF */
      {"\xf4\x90\x80\x80", 0},     /* U+110000 */
      {"\xf8\x88\x80\x80\x80", 0}, /* 5-byte form */
      {"\xc2\x80", 1},             /* U+0080 */
      {"\xe0\xa0\x80", 1},         /* U+0800 */
      {"\xed\x9f\xbf", 1},         /* U+D7FF */
      {"\xee\x80\x80", 1},         /* U+E000 */
      {"\xf0\x9f\x98\x80", 1},     /* U+1F600 */
      {"\xf4\x8f\xbf\xbf", 1},     /* U+10FFFF */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t sl = strlen(cases[i].s);
    /* event: id{name = s}: 0x0a, len, 0x12, sl, s */
    uint8_t ev[16] = {0x0a, (uint8_t)(sl + 2), 0x12, (uint8_t)sl};
    memcpy(ev + 4, cases[i].s, sl);
    uint8_t r[32];
    size_t rn = wrap1(r, ev, sl + 4);
    hop_ev_batch b;
    char err[160] = "";
    int rc = hop_ev_decode(r, rn, 0, &b, err, sizeof err);
    assert_int_equal(rc, cases[i].ok ? 0 : -1);
    assert_int_equal(hop_ev_utf8_valid((const uint8_t *)cases[i].s, sl), cases[i].ok);
    if (rc == 0) {
      assert_string_equal(b.rows[0].name, cases[i].s);
      hop_ev_batch_free(&b);
    } else {
      assert_string_equal(err, "event 0: id.name: invalid UTF-8");
    }
  }
  /* a NUL inside a key: the row's C string would silently lose the rest */
  const uint8_t nul_key[] = {0x0a, 0x05, 0x12, 0x03, 0x61, 0x00, 0x62};
  expect_event_fail(nul_key, sizeof nul_key, "event 0: id.name: NUL byte in a key string");
  /* ...but it is valid UTF-8 elsewhere (cluster, field 11 = 0x5a), and bytes after it are
   * checked too: "a\0" 0xff */
  const uint8_t nul_ok[] = {0x5a, 0x02, 0x61, 0x00};
  uint8_t r[32];
  hop_ev_batch b;
  char err[160];
  size_t rn = wrap1(r, nul_ok, sizeof nul_ok);
  assert_int_equal(hop_ev_decode(r, rn, 0, &b, err, sizeof err), 0);
  hop_ev_batch_free(&b);
  const uint8_t nul_bad[] = {0x5a, 0x03, 0x61, 0x00, 0xff};
  expect_event_fail(nul_bad, sizeof nul_bad, "event 0: cluster: invalid UTF-8");
}

static void bad_varints(void **state) {
  (void)state;
  /* outer length 0xffffffff (5 bytes ff ff ff ff 0f) with nothing after */
  const uint8_t huge32[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f};
  expect_fail(huge32, sizeof huge32,
              "truncated message (event length 4294967295, 0 bytes left)");
  /* outer length 2^64-1 (10 bytes: nine ff, then 01) */
  const uint8_t huge64[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  expect_fail(huge64, sizeof huge64,
              "truncated message (event length 18446744073709551615, 0 bytes left)");
  /* inside an event: id's length 0xffffffff, the value protobuf-c's 32-bit arithmetic
   * would wrap */
  const uint8_t id_huge[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00};
  expect_event_fail(id_huge, sizeof id_huge,
                    "event 0: id: truncated message (length 4294967295, 1 bytes left)");
  /* a 6-byte length varint (padded): legal protobuf protobuf-c cannot read */
  const uint8_t id_pad[] = {0x0a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
  expect_event_fail(id_pad, sizeof id_pad, "event 0: id: length varint longer than 5 bytes");
  /* 11-byte varint for attempt: ten bytes with the continuation bit, then 01 */
  const uint8_t long11[] = {0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  expect_event_fail(long11, sizeof long11, "event 0: attempt: varint longer than 10 bytes");
  /* 10 bytes, but the 10th is 02: more than 64 bits (Go: overflow) */
  const uint8_t over64[] = {0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
  expect_event_fail(over64, sizeof over64, "event 0: attempt: varint longer than 10 bytes");
  /* the same at the outer tag */
  const uint8_t tag11[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  expect_fail(tag11, sizeof tag11, "varint longer than 10 bytes");
  /* 10 bytes with a 10th byte of 01 is a valid uint64 (attempt keeps the low 32 bits, as
   * Go's uint32 conversion) */
  const uint8_t ok10[] = {0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  uint8_t r[32];
  hop_ev_batch b;
  char err[160];
  size_t rn = wrap1(r, ok10, sizeof ok10);
  assert_int_equal(hop_ev_decode(r, rn, 0, &b, err, sizeof err), 0);
  assert_int_equal(b.rows[0].attempt, 0xffffffffu);
  hop_ev_batch_free(&b);
  /* field number 2^29 (past the maximum): tag (2^29 << 3) = 2^32, 5-byte varint */
  const uint8_t bigfield[] = {0x80, 0x80, 0x80, 0x80, 0x10, 0x00};
  expect_fail(bigfield, sizeof bigfield, "invalid field number 536870912");
}

/* ---- the fast paths against their references ---- */

static uint64_t rnd(uint64_t *x) { /* xorshift64 */
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

/* What protoc-c unpacks, against the row hop_ev_decode read on its walk. */
static void expect_keys_as_protoc(const uint8_t *ev, size_t len, const hop_ev_row *row) {
  Flyteidl2__Workflow__ActionEvent *m = flyteidl2__workflow__action_event__unpack(NULL, len, ev);
  assert_non_null(m);
  const Flyteidl2__Common__RunIdentifier *run = m->id ? m->id->run : NULL;
  assert_string_equal(row->project, run ? run->project : "");
  assert_string_equal(row->domain, run ? run->domain : "");
  assert_string_equal(row->run_name, run ? run->name : "");
  assert_string_equal(row->name, m->id ? m->id->name : "");
  assert_int_equal(row->attempt, m->attempt);
  assert_int_equal(row->phase, m->phase);
  assert_int_equal(row->version, m->version);
  if (m->error_info) {
    const char *kn = hop_ev_error_kind_name(m->error_info->kind);
    char num[16];
    snprintf(num, sizeof num, "%d", (int)m->error_info->kind);
    assert_string_equal(row->error_kind, kn ? kn : num);
  } else {
    assert_null(row->error_kind);
  }
  flyteidl2__workflow__action_event__free_unpacked(m, NULL);
}

/* The ASCII fast path of the UTF-8 check against the byte-wise definition (every length to
 * 40, every sequence of bad_utf8 and a few more at every position, random bytes); the wire
 * check's per-type tables against the generic descriptor walk, hop_ev_validate against
 * hop_ev_decode, and the keys read on the walk against protoc-c's unpack, over eventgen
 * events cut at every length and with every byte changed. */
static void fast_paths_match_reference(void **state) {
  (void)state;
  static const char *const seqs[] = {"\xc0\xaf", "\xe0\x9f\xbf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                                     "\xc2\x80", "\xe0\xa0\x80", "\xf0\x9f\x98\x80", "\x80",
                                     "\xff", "\xc3", "\xe2\x82", "\xf4\x8f\xbf\xbf", "\x7f"};
  uint8_t str[64];
  for (size_t n = 0; n <= 40; n++)
    for (size_t q = 0; q < sizeof seqs / sizeof seqs[0]; q++)
      for (size_t at = 0; at <= n; at++) {
        memset(str, 'x', sizeof str);
        size_t sl = strlen(seqs[q]);
        memcpy(str + at, seqs[q], sl);
        size_t len = n + sl;
        if (hop_ev_utf8_valid(str, len) != ref_utf8_valid(str, len))
          fail_msg("utf8: length %zu, sequence %zu at %zu", len, q, at);
      }
  uint64_t x = 0x2545F4914F6CDD1Dull;
  for (int i = 0; i < 200000; i++) {
    size_t len = rnd(&x) % 48;
    for (size_t k = 0; k < len; k++) {
      uint64_t r = rnd(&x);
      str[k] = (uint8_t)(r % 8 ? r >> 8 & 0x7f : r >> 8); /* mostly ASCII */
    }
    if (hop_ev_utf8_valid(str, len) != ref_utf8_valid(str, len))
      fail_msg("utf8: random case %d, length %zu", i, len);
  }

  hop_evgen_config cfg;
  hop_evgen_config_init(&cfg);
  cfg.fail_pct = 50;
  const ProtobufCMessageDescriptor *ad = &flyteidl2__workflow__action_event__descriptor;
  static const uint8_t flips[] = {0x01, 0x80, 0x7f, 0xff, 0x08};
  size_t accepted = 0, refused = 0;
  for (uint64_t a = 0; a < 4; a++)
    for (unsigned sq = 0; sq < hop_evgen_action_events(&cfg, a); sq += 3) {
      uint8_t ev[HOP_EVGEN_MAX_EVENT_BYTES];
      int evn = hop_evgen_encode(&cfg, a, sq, 0, ev, sizeof ev);
      assert_true(evn > 0);
      for (size_t v = 0; v < (size_t)evn * (1 + sizeof flips); v++) {
        uint8_t m[HOP_EVGEN_MAX_EVENT_BYTES];
        size_t pos = v % (size_t)evn, mlen = (size_t)evn;
        memcpy(m, ev, (size_t)evn);
        if (v < (size_t)evn) mlen = pos; /* cut */
        else m[pos] ^= flips[v / (size_t)evn - 1];
        char e1[200] = "", e2[200] = "";
        int r1 = hop_ev_wire_check(m, mlen, ad, e1, sizeof e1);
        int r2 = hop_ev_wire_check_generic(m, mlen, ad, e2, sizeof e2);
        if (r1 != r2 || strcmp(e1, e2))
          fail_msg("action %llu event %u variant %zu: tables %d '%s', generic %d '%s'",
                   (unsigned long long)a, sq, v, r1, e1, r2, e2);
        uint8_t body[HOP_EVGEN_MAX_EVENT_BYTES + 3] = {0x0a, (uint8_t)(mlen | 0x80),
                                                      (uint8_t)(mlen >> 7)};
        memcpy(body + 3, m, mlen);
        hop_ev_batch b;
        size_t nv = 0;
        char de[200] = "", ve[200] = "";
        int rd = hop_ev_decode(body, mlen + 3, 0, &b, de, sizeof de);
        int rv = hop_ev_validate(body, mlen + 3, 0, &nv, ve, sizeof ve);
        assert_int_equal(rd, rv);
        assert_string_equal(de, ve);
        assert_int_equal(rd, r1);
        if (rd == 0) {
          accepted++;
          assert_int_equal(b.n, 1);
          assert_int_equal(nv, 1);
          expect_keys_as_protoc(m, mlen, &b.rows[0]);
          hop_ev_batch_free(&b);
        } else {
          refused++;
          char want[220];
          snprintf(want, sizeof want, "event 0: %s", e1);
          assert_string_equal(de, want);
        }
      }
    }
  /* both outcomes were exercised, many times */
  assert_true(accepted > 1000 && refused > 1000);
}

/* ---- status responses and names ---- */

static void status_and_names(void **state) {
  (void)state;
  uint8_t *out;
  size_t n;
  /* OK: status present and empty: field 1 wire 2 = 0x0a, length 0 */
  assert_int_equal(hop_ev_status_response(0, NULL, &out, &n), 0);
  assert_int_equal(n, 2);
  assert_memory_equal(out, "\x0a\x00", 2);
  free(out);
  assert_int_equal(hop_ev_status_response(0, "", &out, &n), 0);
  assert_int_equal(n, 2);
  free(out);
  /* 13 "boom": 0a 08 | Status field 1 (code) 0x08 0x0d | field 2 (message) 0x12 0x04 boom */
  const uint8_t want[] = {0x0a, 0x08, 0x08, 0x0d, 0x12, 0x04, 'b', 'o', 'o', 'm'};
  assert_int_equal(hop_ev_status_response(13, "boom", &out, &n), 0);
  assert_int_equal(n, sizeof want);
  assert_memory_equal(out, want, sizeof want);
  free(out);
  int32_t code = -1;
  char msg[8];
  assert_int_equal(hop_ev_status_decode(want, sizeof want, &code, msg, sizeof msg), 0);
  assert_int_equal(code, 13);
  assert_string_equal(msg, "boom");
  char small[3];
  assert_int_equal(hop_ev_status_decode(want, sizeof want, &code, small, sizeof small), 0);
  assert_string_equal(small, "bo"); /* truncated to fit */
  assert_int_equal(hop_ev_status_decode((const uint8_t *)"", 0, &code, msg, sizeof msg), 0);
  assert_int_equal(code, 0); /* no status = OK */
  assert_string_equal(msg, "");
  assert_int_equal(hop_ev_status_decode(want, sizeof want - 1, &code, msg, sizeof msg), -1);
  const uint8_t code_len[] = {0x0a, 0x03, 0x0a, 0x01, 0x0d}; /* code as wire type 2 */
  assert_int_equal(hop_ev_status_decode(code_len, sizeof code_len, &code, msg, sizeof msg), -1);

  char *js;
  assert_int_equal(hop_ev_status_response_json(0, NULL, &js, &n), 0);
  assert_string_equal(js, "{\"status\":{}}");
  assert_int_equal(n, strlen(js));
  free(js);
  assert_int_equal(hop_ev_status_response_json(13, "run \"x\"\n", &js, &n), 0);
  assert_string_equal(js, "{\"status\":{\"code\":13,\"message\":\"run \\\"x\\\"\\n\"}}");
  free(js);

  assert_string_equal(hop_ev_phase_name(4), "ACTION_PHASE_RUNNING");
  assert_string_equal(hop_ev_phase_name(0), "ACTION_PHASE_UNSPECIFIED");
  assert_string_equal(hop_ev_phase_name(10), "ACTION_PHASE_RECOVERED");
  assert_null(hop_ev_phase_name(11));
  assert_null(hop_ev_phase_name(-1));
  assert_string_equal(hop_ev_error_kind_name(1), "KIND_USER");
  assert_string_equal(hop_ev_error_kind_name(2), "KIND_SYSTEM");
  assert_null(hop_ev_error_kind_name(3));

  /* error_info with an unnamed kind (7): the number, as Go's String() */
  const uint8_t kind7[] = {0x42, 0x02, 0x10, 0x07};
  uint8_t r[16];
  hop_ev_batch b;
  char err[160];
  size_t rn = wrap1(r, kind7, sizeof kind7);
  assert_int_equal(hop_ev_decode(r, rn, 0, &b, err, sizeof err), 0);
  assert_string_equal(b.rows[0].error_kind, "7");
  hop_ev_batch_free(&b);
  /* error_info present but empty: KIND_UNSPECIFIED */
  const uint8_t kind0[] = {0x42, 0x00};
  rn = wrap1(r, kind0, sizeof kind0);
  assert_int_equal(hop_ev_decode(r, rn, 0, &b, err, sizeof err), 0);
  assert_string_equal(b.rows[0].error_kind, "KIND_UNSPECIFIED");
  hop_ev_batch_free(&b);
}

/* ---- JSON ---- */

static void event_to_json_golden(void **state) {
  (void)state;
  char *js;
  size_t n;
  assert_int_equal(hop_ev_event_to_json(EV_B, sizeof EV_B, &js, &n), 0);
  assert_string_equal(js,
      "{\"id\":{\"run\":{\"project\":\"p\",\"domain\":\"d\",\"name\":\"r1\"},\"name\":\"a1\"},"
      "\"attempt\":2,\"phase\":\"ACTION_PHASE_FAILED\","
      "\"updatedTime\":\"2026-12-03T17:00:00.123Z\","
      "\"errorInfo\":{\"message\":\"oom\",\"kind\":\"KIND_USER\"},"
      "\"logInfo\":[{\"uri\":\"u\",\"ttl\":\"90s\",\"ShowWhilePending\":true}]}");
  assert_int_equal(n, strlen(js));
  free(js);
  /* unknown fields are not in JSON (protojson drops them too) */
  assert_int_equal(hop_ev_event_to_json(EV_UNKNOWN, sizeof EV_UNKNOWN, &js, &n), 0);
  assert_null(strstr(js, "hi"));
  free(js);
  /* escapes: cluster = "q\"b\\n\n\x01é" */
  const uint8_t esc[] = {0x5a, 0x0a, 'q', '"', 'b', '\\', 'n', '\n', 0x01, 0xc3, 0xa9, 't'};
  assert_int_equal(hop_ev_event_to_json(esc, sizeof esc, &js, &n), 0);
  assert_string_equal(js, "{\"cluster\":\"q\\\"b\\\\n\\n\\u0001\xc3\xa9t\"}");
  free(js);
  /* empty event: {} ; bad bytes: -1 */
  assert_int_equal(hop_ev_event_to_json((const uint8_t *)"", 0, &js, &n), 0);
  assert_string_equal(js, "{}");
  free(js);
  assert_int_equal(hop_ev_event_to_json(EV_B, sizeof EV_B - 1, &js, &n), -1);
  const uint8_t bad_utf8[] = {0x5a, 0x01, 0xff};
  assert_int_equal(hop_ev_event_to_json(bad_utf8, sizeof bad_utf8, &js, &n), -1);
  /* Timestamp forms: 0, 6 and 9 fraction digits, before 1970; Duration negative */
  Flyteidl2__Workflow__ActionEvent ev = FLYTEIDL2__WORKFLOW__ACTION_EVENT__INIT;
  Google__Protobuf__Timestamp t1 = GOOGLE__PROTOBUF__TIMESTAMP__INIT,
                              t2 = GOOGLE__PROTOBUF__TIMESTAMP__INIT,
                              t3 = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
  t1.seconds = 0;
  t2.seconds = -1, t2.nanos = 500000;   /* 1969-12-31T23:59:59.000500Z */
  t3.seconds = 951782400, t3.nanos = 1; /* 2000-02-29T00:00:00.000000001Z */
  Google__Protobuf__Duration du = GOOGLE__PROTOBUF__DURATION__INIT;
  du.seconds = -1, du.nanos = -500000000;
  Flyteidl2__Core__TaskLog tl = FLYTEIDL2__CORE__TASK_LOG__INIT;
  tl.ttl = &du, tl.link_type = 7; /* an unnamed enum number stays a number */
  Flyteidl2__Core__TaskLog *tls[1] = {&tl};
  ev.start_time = &t1, ev.updated_time = &t2, ev.end_time = &t3;
  ev.n_log_info = 1, ev.log_info = tls;
  uint8_t buf[256];
  size_t bl = flyteidl2__workflow__action_event__pack(&ev, buf);
  assert_int_equal(hop_ev_event_to_json(buf, bl, &js, &n), 0);
  assert_string_equal(js,
      "{\"startTime\":\"1970-01-01T00:00:00Z\",\"updatedTime\":\"1969-12-31T23:59:59.000500Z\","
      "\"endTime\":\"2000-02-29T00:00:00.000000001Z\","
      "\"logInfo\":[{\"ttl\":\"-1.500s\",\"linkType\":7}]}");
  free(js);
  /* a Timestamp JSON cannot carry (year 10000): -1, as protojson */
  t1.seconds = 253402300800LL;
  bl = flyteidl2__workflow__action_event__pack(&ev, buf);
  assert_int_equal(hop_ev_event_to_json(buf, bl, &js, &n), -1);
}

static const char *FULL_CAMEL =
    "{\"events\":[{\"id\":{\"run\":{\"org\":\"\",\"project\":\"p\",\"domain\":\"d\",\"name\":\"r1\"},"
    "\"name\":\"a1\"},\"attempt\":2,\"phase\":\"ACTION_PHASE_FAILED\",\"version\":\"3\","
    "\"updatedTime\":\"2026-12-03T18:00:00.123+01:00\","
    "\"errorInfo\":{\"message\":\"o\\u00e9\\ud83d\\ude00\",\"kind\":1},"
    "\"logInfo\":[{\"uri\":\"u\",\"ttl\":\"1.5s\",\"ShowWhilePending\":true,"
    "\"messageFormat\":\"JSON\",\"linkType\":2,\"ready\":false}],"
    "\"logContext\":{\"pods\":[{\"podName\":\"x\",\"containers\":[{\"containerName\":\"c\","
    "\"process\":{\"containerStartTime\":\"2026-12-03T17:00:00.000000001Z\"}}]}],"
    "\"podNamePrefixes\":[\"a\",\"b\"],\"connector\":null},"
    "\"cluster\":\"c1\",\"cacheStatus\":\"CACHE_HIT\","
    "\"clusterEvents\":[{\"occurredAt\":\"2026-12-03T17:00:00Z\",\"count\":-5,"
    "\"type\":\"TYPE_WARNING\"}],\"reportedTime\":\"2026-12-03T16:59:59-00:30\","
    "\"cacheMetadata\":{\"sourceActionAttempt\":{\"attempt\":1e0}}}]}";

static const char *FULL_SNAKE =
    "{ \"events\" : [ { \"id\":{\"run\":{\"org\":\"\",\"project\":\"p\",\"domain\":\"d\",\"name\":\"r1\"},"
    "\"name\":\"a1\"},\"attempt\":\"2\",\"phase\":6,\"version\":3,"
    "\"updated_time\":\"2026-12-03T17:00:00.123Z\","
    "\"error_info\":{\"message\":\"o\xc3\xa9\xf0\x9f\x98\x80\",\"kind\":\"KIND_USER\"},"
    "\"log_info\":[{\"uri\":\"u\",\"ttl\":\"1.500s\",\"ShowWhilePending\":true,"
    "\"message_format\":2,\"link_type\":\"IDE\"}],"
    "\"log_context\":{\"pods\":[{\"pod_name\":\"x\",\"containers\":[{\"container_name\":\"c\","
    "\"process\":{\"container_start_time\":\"2026-12-03T17:00:00.000000001Z\"}}]}],"
    "\"pod_name_prefixes\":[\"a\",\"b\"]},"
    "\"cluster\":\"c1\",\"cache_status\":2,"
    "\"cluster_events\":[{\"occurred_at\":\"2026-12-03T17:00:00Z\",\"count\":\"-5\","
    "\"type\":2}],\"reported_time\":\"2026-12-03T17:29:59Z\","
    "\"cache_metadata\":{\"source_action_attempt\":{\"attempt\":1}}} ] }\n";

static void json_in_every_type(void **state) {
  (void)state;
  uint8_t *bin, *bin2;
  size_t n, n2;
  char err[200] = "";
  assert_int_equal(hop_ev_json_to_request(FULL_CAMEL, strlen(FULL_CAMEL), 1 << 20, &bin, &n,
                                          err, sizeof err), 0);
  /* the same message spelled with proto names, numbers for enums and ints as strings */
  assert_int_equal(hop_ev_json_to_request(FULL_SNAKE, strlen(FULL_SNAKE), 1 << 20, &bin2, &n2,
                                          err, sizeof err), 0);
  assert_int_equal(n, n2);
  assert_memory_equal(bin, bin2, n);
  free(bin2);
  Flyteidl2__Workflow__RecordRequest *r = flyteidl2__workflow__record_request__unpack(NULL, n, bin);
  assert_non_null(r);
  assert_int_equal(r->n_events, 1);
  Flyteidl2__Workflow__ActionEvent *e = r->events[0];
  assert_string_equal(e->id->run->project, "p");
  assert_string_equal(e->id->run->name, "r1");
  assert_string_equal(e->id->name, "a1");
  assert_int_equal(e->attempt, 2);
  assert_int_equal(e->phase, 6);
  assert_int_equal(e->version, 3);
  assert_int_equal(e->updated_time->seconds, 1796317200); /* 18:00+01:00 = 17:00Z */
  assert_int_equal(e->updated_time->nanos, 123000000);
  assert_string_equal(e->error_info->message, "o\xc3\xa9\xf0\x9f\x98\x80");
  assert_int_equal(e->error_info->kind, 1);
  assert_int_equal(e->n_log_info, 1);
  assert_int_equal(e->log_info[0]->ttl->seconds, 1);
  assert_int_equal(e->log_info[0]->ttl->nanos, 500000000);
  assert_true(e->log_info[0]->showwhilepending);
  assert_int_equal(e->log_info[0]->message_format, 2);
  assert_int_equal(e->log_info[0]->link_type, 2);
  assert_int_equal(e->log_context->n_pods, 1);
  assert_string_equal(e->log_context->pods[0]->containers[0]->container_name, "c");
  assert_int_equal(e->log_context->pods[0]->containers[0]->process->container_start_time->nanos, 1);
  assert_int_equal(e->log_context->n_pod_name_prefixes, 2);
  assert_string_equal(e->log_context->pod_name_prefixes[1], "b");
  assert_null(e->log_context->connector);
  assert_string_equal(e->cluster, "c1");
  assert_int_equal(e->cache_status, 2);
  assert_int_equal(e->n_cluster_events, 1);
  assert_int_equal(e->cluster_events[0]->count, -5);
  assert_int_equal(e->cluster_events[0]->type, 2);
  assert_int_equal(e->cluster_events[0]->occurred_at->seconds, 1796317200);
  assert_int_equal(e->reported_time->seconds, 1796318999); /* 16:59:59-00:30 = 17:29:59Z */
  assert_int_equal(e->cache_metadata->source_action_attempt->attempt, 1);
  flyteidl2__workflow__record_request__free_unpacked(r, NULL);
  /* and the codec's own decoder accepts what it built */
  hop_ev_batch b;
  assert_int_equal(hop_ev_decode(bin, n, 0, &b, err, sizeof err), 0);
  assert_string_equal(b.rows[0].error_kind, "KIND_USER");
  hop_ev_batch_free(&b);
  free(bin);

  /* int64 (number or string, either sign), through a message that has one:
   * RecordActionEventStreamRequest.nonce */
  static const struct { const char *js; int64_t nonce; } i64[] = {
      {"{\"nonce\":\"-9223372036854775808\"}", INT64_MIN},
      {"{\"nonce\":9223372036854775807}", INT64_MAX},
      {"{\"nonce\":\"12\"}", 12},
      {"{\"nonce\":-1.5e1}", -15},
      {"{\"nonce\":0}", 0},
  };
  for (size_t i = 0; i < sizeof i64 / sizeof i64[0]; i++) {
    assert_int_equal(hop_ev_json_to_binary(
                         &flyteidl2__workflow__record_action_event_stream_request__descriptor,
                         i64[i].js, strlen(i64[i].js), 0, &bin, &n, err, sizeof err), 0);
    Flyteidl2__Workflow__RecordActionEventStreamRequest *s =
        flyteidl2__workflow__record_action_event_stream_request__unpack(NULL, n, bin);
    assert_non_null(s);
    assert_true(s->nonce == i64[i].nonce);
    flyteidl2__workflow__record_action_event_stream_request__free_unpacked(s, NULL);
    free(bin);
  }
  const char *over = "{\"nonce\":\"9223372036854775808\"}";
  assert_int_equal(hop_ev_json_to_binary(
                       &flyteidl2__workflow__record_action_event_stream_request__descriptor,
                       over, strlen(over), 0, &bin, &n, err, sizeof err), -1);
  assert_string_equal(err, "nonce: integer out of range");

  /* empty object and empty list: no events, empty binary */
  assert_int_equal(hop_ev_json_to_request("{}", 2, 100, &bin, &n, err, sizeof err), 0);
  assert_int_equal(n, 0);
  free(bin);
  assert_int_equal(hop_ev_json_to_request(" {\"events\":[]} ", 15, 100, &bin, &n, err, sizeof err), 0);
  assert_int_equal(n, 0);
  free(bin);
  /* two empty events: 0a 00 0a 00 */
  assert_int_equal(hop_ev_json_to_request("{\"events\":[{},{}]}", 18, 100, &bin, &n, err,
                                          sizeof err), 0);
  assert_int_equal(n, 4);
  assert_memory_equal(bin, "\x0a\x00\x0a\x00", 4);
  free(bin);
}

static void json_expect_fail(const char *js, size_t max_out, const char *want) {
  uint8_t *bin = (uint8_t *)"x";
  size_t n = 7;
  char err[200] = "";
  assert_int_equal(hop_ev_json_to_request(js, strlen(js), max_out, &bin, &n, err, sizeof err), -1);
  assert_string_equal(err, want);
  assert_null(bin);
  assert_int_equal(n, 0);
}

static void json_bad(void **state) {
  (void)state;
  /* syntax */
  json_expect_fail("", 0, "JSON: unexpected end of input");
  json_expect_fail("{\"events\":[}", 0, "JSON: unexpected character at offset 11");
  json_expect_fail("{\"events\":[],}", 0, "JSON: expected a member name at offset 13");
  json_expect_fail("{\"events\":[]} x", 0, "JSON: trailing data at offset 14");
  json_expect_fail("{\"events\" []}", 0, "JSON: expected ':' at offset 10");
  json_expect_fail("{\"a\":01}", 0, "JSON: expected ',' or a closing bracket at offset 6");
  json_expect_fail("{\"a\":\"x\ty\"}", 0, "JSON: control character in a string at offset 7");
  json_expect_fail("{\"a\":\"\\x\"}", 0, "JSON: bad escape in a string at offset 5");
  json_expect_fail("{\"a\":\"\\ud800\"}", 0,
                   "JSON: unpaired surrogate escape in a string at offset 5");
  json_expect_fail("{\"a\":\"\xc0\xaf\"}", 0, "JSON: invalid UTF-8 in a string at offset 5");
  json_expect_fail("{\"a\":tru}", 0, "JSON: unexpected character at offset 5");
  json_expect_fail("[]", 0, "expected an object (flyteidl2.workflow.RecordRequest)");
  /* schema */
  json_expect_fail("{\"events\":[{\"bogus\":1}]}", 0,
                   "events[0]: unknown field \"bogus\" in flyteidl2.workflow.ActionEvent");
  json_expect_fail("{\"events\":[{},{\"id\":{\"run\":{\"projectId\":\"p\"}}}]}", 0,
                   "events[1].id.run: unknown field \"projectId\" in flyteidl2.common.RunIdentifier");
  json_expect_fail("{\"events\":{}}", 0, "events: expected an array");
  json_expect_fail("{\"events\":[null]}", 0, "events: null in a repeated field");
  json_expect_fail("{\"events\":[{\"attempt\":\"x\"}]}", 0, "events[0].attempt: not an integer");
  json_expect_fail("{\"events\":[{\"attempt\":true}]}", 0,
                   "events[0].attempt: expected an integer (number or string)");
  json_expect_fail("{\"events\":[{\"attempt\":-1}]}", 0, "events[0].attempt: integer out of range");
  json_expect_fail("{\"events\":[{\"attempt\":4294967296}]}", 0,
                   "events[0].attempt: integer out of range");
  json_expect_fail("{\"events\":[{\"attempt\":1.5}]}", 0, "events[0].attempt: not an integer");
  json_expect_fail("{\"events\":[{\"attempt\":\"012\"}]}", 0, "events[0].attempt: not an integer");
  json_expect_fail("{\"events\":[{\"attempt\":\" 1\"}]}", 0, "events[0].attempt: not an integer");
  json_expect_fail("{\"events\":[{\"attempt\":\"\"}]}", 0, "events[0].attempt: not an integer");
  json_expect_fail("{\"events\":[{\"updatedTime\":\"2026-12-03t17:00:00z\"}]}", 0,
                   "events[0].updated_time: bad RFC 3339 timestamp");
  json_expect_fail("{\"events\":[{\"updatedTime\":\"0000-12-31T23:59:59Z\"}]}", 0,
                   "events[0].updated_time: bad RFC 3339 timestamp");
  json_expect_fail("{\"events\":[{\"phase\":\"RUNNING\"}]}", 0,
                   "events[0].phase: unknown flyteidl2.common.ActionPhase value \"RUNNING\"");
  json_expect_fail("{\"events\":[{\"phase\":true}]}", 0,
                   "events[0].phase: expected an enum name or number");
  json_expect_fail("{\"events\":[{\"cluster\":5}]}", 0, "events[0].cluster: expected a string");
  json_expect_fail("{\"events\":[{\"id\":\"x\"}]}", 0,
                   "events[0].id: expected an object (flyteidl2.common.ActionIdentifier)");
  json_expect_fail("{\"events\":[{\"logInfo\":[{\"ready\":1}]}]}", 0,
                   "events[0].log_info[0].ready: expected true or false");
  json_expect_fail("{\"events\":[{\"updatedTime\":\"2026-13-01T00:00:00Z\"}]}", 0,
                   "events[0].updated_time: bad RFC 3339 timestamp");
  json_expect_fail("{\"events\":[{\"updatedTime\":\"2026-02-29T00:00:00Z\"}]}", 0,
                   "events[0].updated_time: bad RFC 3339 timestamp");
  json_expect_fail("{\"events\":[{\"updatedTime\":\"2026-12-03 17:00:00Z\"}]}", 0,
                   "events[0].updated_time: bad RFC 3339 timestamp");
  json_expect_fail("{\"events\":[{\"updatedTime\":\"2026-12-03T17:00:00.1234567890Z\"}]}", 0,
                   "events[0].updated_time: bad RFC 3339 timestamp");
  json_expect_fail("{\"events\":[{\"updatedTime\":1796317200}]}", 0,
                   "events[0].updated_time: expected an RFC 3339 timestamp string");
  json_expect_fail("{\"events\":[{\"logInfo\":[{\"ttl\":\"90\"}]}]}", 0,
                   "events[0].log_info[0].ttl: bad duration (want e.g. \"1.5s\")");
  json_expect_fail("{\"events\":[{\"cluster\":\"a\\u0000b\"}]}", 0,
                   "events[0].cluster: NUL character (\\u0000) in a string is not supported");
  json_expect_fail("{\"events\":[{\"attempt\":1,\"attempt\":2}]}", 0,
                   "events[0]: duplicate field \"attempt\"");
  json_expect_fail("{\"events\":[{\"attempt\":1,\"attempt\":2}]}", 0,
                   "events[0]: duplicate field \"attempt\"");
  json_expect_fail("{\"events\":[{\"cluster\":\"a\",\"cluster\":\"b\"}]}", 0,
                   "events[0]: duplicate field \"cluster\"");

  /* nesting: 65 levels of brackets fail in the syntax pass, whatever the schema says */
  char deep[200];
  size_t o = 0;
  for (int i = 0; i < 65; i++) deep[o++] = '[';
  deep[o] = '\0';
  json_expect_fail(deep, 0, "JSON: nesting deeper than 64 at offset 64");
  /* 100,000 levels: no recursion, same answer */
  char *huge = malloc(100001);
  memset(huge, '[', 100000);
  huge[100000] = '\0';
  json_expect_fail(huge, 0, "JSON: nesting deeper than 64 at offset 64");
  free(huge);
  /* 64 levels are syntactically fine, then the schema refuses */
  o = 0;
  o += (size_t)snprintf(deep + o, sizeof deep - o, "{\"events\":");
  for (int i = 0; i < 63; i++) deep[o++] = '[';
  for (int i = 0; i < 63; i++) deep[o++] = ']';
  deep[o++] = '}';
  deep[o] = '\0';
  json_expect_fail(deep, 0, "events[0]: expected an object (flyteidl2.workflow.ActionEvent)");

  /* output cap: an event of 24 bytes does not fit in 20 */
  const char *one = "{\"events\":[{\"id\":{\"run\":{\"project\":\"p\",\"domain\":\"d\",\"name\":\"r1\"},"
                    "\"name\":\"a0\"},\"attempt\":1,\"phase\":4,\"version\":2}]}";
  json_expect_fail(one, 20, "request is 26 bytes in binary, more than the cap 20");
  uint8_t *bin;
  size_t n;
  char err[200];
  assert_int_equal(hop_ev_json_to_request(one, strlen(one), 26, &bin, &n, err, sizeof err), 0);
  assert_int_equal(n, sizeof REQ_A);
  assert_memory_equal(bin, REQ_A, sizeof REQ_A); /* the golden bytes, from JSON */
  free(bin);
  /* many empty events against a small cap stop early, before building them all */
  size_t big = 11 + 3 * 50000 + 2;
  char *many = malloc(big + 1);
  o = (size_t)snprintf(many, big + 1, "{\"events\":[");
  for (int i = 0; i < 50000; i++) o += (size_t)snprintf(many + o, big + 1 - o, i ? ",{}" : "{}");
  o += (size_t)snprintf(many + o, big + 1 - o, "]}");
  json_expect_fail(many, 1000, "events[500]: request exceeds the output cap");
  assert_int_equal(hop_ev_json_to_request(many, o, 0, &bin, &n, err, sizeof err), 0);
  assert_int_equal(n, 100000);
  free(bin);
  free(many);
}

static void json_round_trip(void **state) {
  (void)state;
  const uint8_t *evs[] = {EV_A, EV_B, EV_UNKNOWN};
  size_t lens[] = {sizeof EV_A, sizeof EV_B, sizeof EV_UNKNOWN};
  for (size_t i = 0; i < 3; i++) {
    char *js;
    size_t jn;
    assert_int_equal(hop_ev_event_to_json(evs[i], lens[i], &js, &jn), 0);
    size_t wl = jn + 16;
    char *wrapped = malloc(wl);
    int w = snprintf(wrapped, wl, "{\"events\":[%s]}", js);
    uint8_t *bin;
    size_t n;
    char err[200] = "";
    assert_int_equal(hop_ev_json_to_request(wrapped, (size_t)w, 1 << 16, &bin, &n, err,
                                            sizeof err), 0);
    hop_ev_batch b, want;
    uint8_t req[128];
    size_t rn = wrap1(req, evs[i], lens[i]);
    assert_int_equal(hop_ev_decode(bin, n, 0, &b, err, sizeof err), 0);
    assert_int_equal(hop_ev_decode(req, rn, 0, &want, err, sizeof err), 0);
    assert_int_equal(b.n, 1);
    assert_string_equal(b.rows[0].project, want.rows[0].project);
    assert_string_equal(b.rows[0].domain, want.rows[0].domain);
    assert_string_equal(b.rows[0].run_name, want.rows[0].run_name);
    assert_string_equal(b.rows[0].name, want.rows[0].name);
    assert_int_equal(b.rows[0].attempt, want.rows[0].attempt);
    assert_int_equal(b.rows[0].phase, want.rows[0].phase);
    assert_int_equal(b.rows[0].version, want.rows[0].version);
    if (want.rows[0].error_kind)
      assert_string_equal(b.rows[0].error_kind, want.rows[0].error_kind);
    else
      assert_null(b.rows[0].error_kind);
    /* known fields in canonical order come back byte-exact; unknown ones are not in JSON */
    if (evs[i] != EV_UNKNOWN) {
      assert_int_equal(b.rows[0].info_len, lens[i]);
      assert_memory_equal(b.rows[0].info, evs[i], lens[i]);
    } else {
      assert_int_equal(b.rows[0].info_len, sizeof EV_A);
      assert_memory_equal(b.rows[0].info, EV_A, sizeof EV_A);
    }
    hop_ev_batch_free(&b);
    hop_ev_batch_free(&want);
    free(bin);
    free(wrapped);
    free(js);
  }
}

static void json_names(void **state) {
  (void)state;
  char out[64];
  hop_ev_json_name("container_start_time", out, sizeof out);
  assert_string_equal(out, "containerStartTime");
  hop_ev_json_name("ShowWhilePending", out, sizeof out);
  assert_string_equal(out, "ShowWhilePending");
  hop_ev_json_name("a__b_", out, sizeof out);
  assert_string_equal(out, "aB");
  hop_ev_json_name("pod_name_prefixes", out, 6);
  assert_string_equal(out, "podNa");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(golden_simple),
      cmocka_unit_test(golden_error_and_logs),
      cmocka_unit_test(unknown_fields_survive),
      cmocka_unit_test(duplicates_and_empty),
      cmocka_unit_test(hundred_thousand_events),
      cmocka_unit_test(bad_truncated),
      cmocka_unit_test(bad_wire_types),
      cmocka_unit_test(bad_utf8),
      cmocka_unit_test(bad_varints),
      cmocka_unit_test(fast_paths_match_reference),
      cmocka_unit_test(status_and_names),
      cmocka_unit_test(event_to_json_golden),
      cmocka_unit_test(json_in_every_type),
      cmocka_unit_test(json_bad),
      cmocka_unit_test(json_round_trip),
      cmocka_unit_test(json_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
