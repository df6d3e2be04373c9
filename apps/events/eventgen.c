/* Realistic ActionEvents, encoded by hand exactly as protoc-c packs them (the protoc-c
 * encoder they started with is kept as the tests' reference, hop_evgen_encode_protoc).
 * Field values mimic what Flyte's executor fills in (see eventgen.h and flyte-event-hops.md
 * §2 and §5); every value derives from (seed, action, event index) through splitmix64. */
#include "events/eventgen.h"

#include <stdio.h>
#include <string.h>

/* the reference encoder's *__INIT macros name deprecated fields (start_time, end_time,
 * pod_name_prefix); clang warns on them, gcc does not */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#include "flyteidl2/workflow/run_definition.pb-c.h"

void hop_evgen_config_init(hop_evgen_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->seed = 1;
  cfg->fail_pct = 10;
  cfg->abort_pct = 5;
  cfg->actions_per_run = 16;
  cfg->projects = 4;
  cfg->base_unix_s = 1767225600; /* 2026-01-01T00:00:00Z */
}

static uint64_t mix(uint64_t x) { /* splitmix64 */
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static uint64_t action_hash(const hop_evgen_config *cfg, uint64_t action) {
  return mix(mix(cfg->seed) ^ (action * 0xd6e8feb86659fd93ull));
}

enum { PLAN_OK, PLAN_FAIL_RETRY, PLAN_ABORT };

static int plan_of(const hop_evgen_config *cfg, uint64_t action) {
  uint64_t r = action_hash(cfg, action) % 100;
  if (r < cfg->fail_pct) return PLAN_FAIL_RETRY;
  if (r < (uint64_t)cfg->fail_pct + cfg->abort_pct) return PLAN_ABORT;
  return PLAN_OK;
}

unsigned hop_evgen_action_events(const hop_evgen_config *cfg, uint64_t action) {
  return plan_of(cfg, action) == PLAN_FAIL_RETRY ? 8 : 4;
}

static const int32_t seq_phase[3][8] = {
    {FLYTEIDL2__COMMON__ACTION_PHASE__ACTION_PHASE_QUEUED,
     FLYTEIDL2__COMMON__ACTION_PHASE__ACTION_PHASE_INITIALIZING,
     FLYTEIDL2__COMMON__ACTION_PHASE__ACTION_PHASE_RUNNING,
     FLYTEIDL2__COMMON__ACTION_PHASE__ACTION_PHASE_SUCCEEDED},
    {FLYTEIDL2__COMMON__ACTION_PHASE__ACTION_PHASE_QUEUED,
     FLYTEIDL2__COMMON__ACTION_PHASE__ACTION_PHASE_INITIALIZING,
     FLYTEIDL2__COMMON__ACTION_PHASE__ACTION_PHASE_RUNNING,
     FLYTEIDL2__COMMON__ACTION_PHASE__ACTION_PHASE_FAILED,
     FLYTEIDL2__COMMON__ACTION_PHASE__ACTION_PHASE_QUEUED,
     FLYTEIDL2__COMMON__ACTION_PHASE__ACTION_PHASE_INITIALIZING,
     FLYTEIDL2__COMMON__ACTION_PHASE__ACTION_PHASE_RUNNING,
     FLYTEIDL2__COMMON__ACTION_PHASE__ACTION_PHASE_SUCCEEDED},
    {FLYTEIDL2__COMMON__ACTION_PHASE__ACTION_PHASE_QUEUED,
     FLYTEIDL2__COMMON__ACTION_PHASE__ACTION_PHASE_INITIALIZING,
     FLYTEIDL2__COMMON__ACTION_PHASE__ACTION_PHASE_RUNNING,
     FLYTEIDL2__COMMON__ACTION_PHASE__ACTION_PHASE_ABORTED},
};

/* The numbers behind one event's key and content: one hash per call. */
typedef struct ev_nums {
  uint64_t h;        /* action_hash */
  uint64_t run;      /* action / actions_per_run */
  unsigned proj;     /* run % projects */
  unsigned name_idx; /* action % actions_per_run */
  unsigned seed_hex; /* the run name's 8 hex digits */
  uint32_t attempt;
  int32_t phase, error_kind;
} ev_nums;

/* The action's numbers (h, run, proj, name_idx, seed_hex); returns its plan. */
static int action_nums(const hop_evgen_config *cfg, uint64_t action, ev_nums *n) {
  uint64_t h = action_hash(cfg, action);
  uint64_t r = h % 100;
  int plan = r < cfg->fail_pct ? PLAN_FAIL_RETRY
             : r < (uint64_t)cfg->fail_pct + cfg->abort_pct ? PLAN_ABORT
                                                            : PLAN_OK;
  uint32_t per_run = cfg->actions_per_run ? cfg->actions_per_run : 1;
  uint32_t projects = cfg->projects ? cfg->projects : 1;
  n->h = h;
  n->run = action / per_run;
  n->proj = (unsigned)(n->run % projects);
  n->name_idx = (unsigned)(action % per_run);
  n->seed_hex = (unsigned)(mix(cfg->seed) >> 32);
  return plan;
}

/* Event |seq|'s numbers (attempt, phase, error_kind) under |plan|; -1 past the plan. */
static int event_nums(ev_nums *n, int plan, unsigned seq) {
  if (seq >= (plan == PLAN_FAIL_RETRY ? 8u : 4u)) return -1;
  n->attempt = seq >= 4 ? 2 : 1;
  n->phase = seq_phase[plan][seq];
  n->error_kind = -1;
  if (n->phase == FLYTEIDL2__COMMON__ACTION_PHASE__ACTION_PHASE_FAILED)
    n->error_kind = (n->h >> 20) & 1 ? FLYTEIDL2__WORKFLOW__ERROR_INFO__KIND__KIND_SYSTEM
                                     : FLYTEIDL2__WORKFLOW__ERROR_INFO__KIND__KIND_USER;
  return 0;
}

static int nums_of(const hop_evgen_config *cfg, uint64_t action, unsigned seq, ev_nums *n) {
  return event_nums(n, action_nums(cfg, action, n), seq);
}

/* ---- hand-written formatters: snprintf per string was a quarter of the executor's CPU ---- */

/* |v| in decimal at |out| (no NUL); returns the length (at most 20). */
static size_t fmt_dec(char *out, uint64_t v) {
  char tmp[20];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
  return n;
}

/* The low 32 bits of |v| as 8 lowercase hex digits ("%08x"). */
static void fmt_hex8(char *out, uint64_t v) {
  static const char hex[] = "0123456789abcdef";
  for (int i = 7; i >= 0; i--, v >>= 4) out[i] = hex[v & 15];
}

static size_t fmt_lit(char *out, const char *lit, size_t n) {
  memcpy(out, lit, n);
  return n;
}
#define LIT(out, s) fmt_lit((out), (s), sizeof(s) - 1)

/* The key strings (see hop_evgen_key for their bounds: none is ever truncated). */
typedef struct ev_strs {
  char project[32], run_name[32], name[32], pod[80], ns[48];
  size_t project_n, run_name_n, name_n, pod_n, ns_n;
} ev_strs;

static void strs_of(const ev_nums *n, ev_strs *s) {
  char *o = s->project;
  o += LIT(o, "hopwire-p");
  o += fmt_dec(o, n->proj);
  s->project_n = (size_t)(o - s->project);
  /* r + 8 hex of the seed + '-' + the run index: <= 30 chars */
  o = s->run_name;
  *o++ = 'r';
  fmt_hex8(o, n->seed_hex);
  o += 8;
  *o++ = '-';
  o += fmt_dec(o, n->run);
  s->run_name_n = (size_t)(o - s->run_name);
  o = s->name;
  *o++ = 'a';
  o += fmt_dec(o, n->name_idx);
  s->name_n = (size_t)(o - s->name);
  o = s->pod; /* run-name-attempt: <= 30 + 1 + 11 + 1 + 10 */
  o += fmt_lit(o, s->run_name, s->run_name_n);
  *o++ = '-';
  o += fmt_lit(o, s->name, s->name_n);
  *o++ = '-';
  o += fmt_dec(o, n->attempt);
  s->pod_n = (size_t)(o - s->pod);
  o = s->ns; /* project-development: <= 19 + 12 */
  o += fmt_lit(o, s->project, s->project_n);
  o += LIT(o, "-development");
  s->ns_n = (size_t)(o - s->ns);
}

static void cstr(char *dst, const char *src, size_t n) {
  memcpy(dst, src, n);
  dst[n] = '\0';
}

int hop_evgen_key_of(const hop_evgen_config *cfg, uint64_t action, unsigned seq,
                     hop_evgen_key *out) {
  ev_nums n;
  if (nums_of(cfg, action, seq, &n)) return -1;
  ev_strs s;
  strs_of(&n, &s);
  memset(out, 0, sizeof(*out));
  cstr(out->project, s.project, s.project_n);
  cstr(out->domain, "development", 11);
  cstr(out->run_name, s.run_name, s.run_name_n);
  cstr(out->name, s.name, s.name_n);
  out->attempt = n.attempt;
  out->phase = n.phase;
  out->version = 0;
  out->error_kind = n.error_kind;
  return 0;
}

static void set_ts(Google__Protobuf__Timestamp *ts, int64_t unix_us) {
  ts->seconds = unix_us / 1000000;
  ts->nanos = (int32_t)(unix_us % 1000000) * 1000;
}

/* The action starts at base + its index (ms), each phase ~1.5 s after the previous. */
static void times_of(const hop_evgen_config *cfg, uint64_t action, unsigned seq, uint64_t h,
                     int64_t *start_us, int64_t *phase_us) {
  *start_us = cfg->base_unix_s * 1000000 + (int64_t)(action * 1000) + (int64_t)(h % 1000);
  *phase_us = *start_us + (int64_t)seq * 1500000 + (int64_t)((h >> 10) % 100000);
}

static const char *what_of(int32_t phase) {
  switch (phase) {
  case FLYTEIDL2__COMMON__ACTION_PHASE__ACTION_PHASE_QUEUED: return "Scheduled";
  case FLYTEIDL2__COMMON__ACTION_PHASE__ACTION_PHASE_INITIALIZING: return "Pulling image";
  case FLYTEIDL2__COMMON__ACTION_PHASE__ACTION_PHASE_RUNNING: return "Started container";
  case FLYTEIDL2__COMMON__ACTION_PHASE__ACTION_PHASE_ABORTED: return "Killing container";
  default: return "Container terminated";
  }
}

#define USER_ERROR "USER:ValueError: task raised an exception (exit code 1)"
#define SYSTEM_ERROR "SYSTEM:Evicted: the node was low on resource: memory"

/* The reference: the encoder eventgen started with (snprintf, protoc-c messages, packed by
 * protobuf_c_message_pack), kept unchanged so the tests can prove hop_evgen_encode
 * byte-identical to it. */
int hop_evgen_encode_protoc(const hop_evgen_config *cfg, uint64_t action, unsigned seq,
                            int64_t reported_unix_us, uint8_t *buf, size_t cap) {
  ev_nums nm;
  if (nums_of(cfg, action, seq, &nm)) return -1;
  hop_evgen_key k;
  memset(&k, 0, sizeof(k));
  snprintf(k.project, sizeof(k.project), "hopwire-p%u", nm.proj);
  snprintf(k.domain, sizeof(k.domain), "development");
  snprintf(k.run_name, sizeof(k.run_name), "r%08x-%llu", nm.seed_hex, (unsigned long long)nm.run);
  snprintf(k.name, sizeof(k.name), "a%u", nm.name_idx);
  k.attempt = nm.attempt;
  k.phase = nm.phase;
  k.error_kind = nm.error_kind;
  uint64_t h = nm.h;
  int64_t start_us, phase_us;
  times_of(cfg, action, seq, h, &start_us, &phase_us);

  char pod[72], ns[48], cont_uri[320], cw_uri[400], out_uri[240], rep_uri[240], msg[200];
  snprintf(pod, sizeof(pod), "%s-%s-%u", k.run_name, k.name, k.attempt);
  snprintf(ns, sizeof(ns), "%s-%s", k.project, k.domain);
  snprintf(cont_uri, sizeof(cont_uri),
           "https://k8s.hopwire.example/log/%s/%s", ns, pod);
  snprintf(cw_uri, sizeof(cw_uri),
           "https://logs.hopwire.example/%s/%s-%08llx.log", ns, pod,
           (unsigned long long)(h & 0xffffffffull));
  snprintf(out_uri, sizeof(out_uri), "s3://hopwire-data/%s/%s/%s/%u/outputs.pb", k.project,
           k.run_name, k.name, k.attempt);
  snprintf(rep_uri, sizeof(rep_uri), "s3://hopwire-data/%s/%s/%s/%u/report.html", k.project,
           k.run_name, k.name, k.attempt);

  Flyteidl2__Common__RunIdentifier rid = FLYTEIDL2__COMMON__RUN_IDENTIFIER__INIT;
  rid.org = ""; /* the executor's TaskAction spec has no org */
  rid.project = k.project;
  rid.domain = k.domain;
  rid.name = k.run_name;
  Flyteidl2__Common__ActionIdentifier aid = FLYTEIDL2__COMMON__ACTION_IDENTIFIER__INIT;
  aid.run = &rid;
  aid.name = k.name;

  Flyteidl2__Workflow__ActionEvent e = FLYTEIDL2__WORKFLOW__ACTION_EVENT__INIT;
  e.id = &aid;
  e.attempt = k.attempt;
  e.phase = (Flyteidl2__Common__ActionPhase)k.phase;
  e.version = k.version;
  Google__Protobuf__Timestamp updated = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
  set_ts(&updated, phase_us);
  e.updated_time = &updated;
  Google__Protobuf__Timestamp reported = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
  set_ts(&reported, reported_unix_us ? reported_unix_us : phase_us + 120000);
  e.reported_time = &reported;

  Google__Protobuf__Duration ttl1 = GOOGLE__PROTOBUF__DURATION__INIT, ttl2 = ttl1;
  ttl1.seconds = 3600;
  ttl2.seconds = 86400;
  Flyteidl2__Core__TaskLog log1 = FLYTEIDL2__CORE__TASK_LOG__INIT, log2 = log1;
  log1.uri = cont_uri;
  log1.name = "Kubernetes Logs (User)";
  log1.ttl = &ttl1;
  log2.uri = cw_uri;
  log2.name = "Cloudwatch Logs";
  log2.ttl = &ttl2;
  Flyteidl2__Core__TaskLog *logs[2] = {&log1, &log2};
  e.n_log_info = 2;
  e.log_info = logs;

  Google__Protobuf__Timestamp cstart = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
  set_ts(&cstart, start_us + 900000);
  Flyteidl2__Core__ProcessContext proc = FLYTEIDL2__CORE__PROCESS_CONTEXT__INIT;
  proc.container_start_time = &cstart;
  Flyteidl2__Core__ContainerContext cc = FLYTEIDL2__CORE__CONTAINER_CONTEXT__INIT;
  cc.container_name = pod;
  cc.process = &proc;
  Flyteidl2__Core__ContainerContext *ccs[1] = {&cc};
  Flyteidl2__Core__PodLogContext plc = FLYTEIDL2__CORE__POD_LOG_CONTEXT__INIT;
  plc.namespace_ = ns;
  plc.pod_name = pod;
  plc.n_containers = 1;
  plc.containers = ccs;
  plc.primary_container_name = pod;
  Flyteidl2__Core__PodLogContext *pods[1] = {&plc};
  Flyteidl2__Core__LogContext lc = FLYTEIDL2__CORE__LOG_CONTEXT__INIT;
  lc.n_pods = 1;
  lc.pods = pods;
  lc.primary_pod_name = pod;
  e.log_context = &lc;

  Flyteidl2__Task__OutputReferences outs = FLYTEIDL2__TASK__OUTPUT_REFERENCES__INIT;
  outs.output_uri = out_uri;
  outs.report_uri = rep_uri;
  e.outputs = &outs;

  const char *what = what_of(k.phase);
  snprintf(msg, sizeof(msg), "%s on node-%u", what, (unsigned)((h >> 32) % 64));
  Google__Protobuf__Timestamp occ = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
  set_ts(&occ, phase_us - 5000);
  Flyteidl2__Workflow__ClusterEvent ce = FLYTEIDL2__WORKFLOW__CLUSTER_EVENT__INIT;
  ce.occurred_at = &occ; /* Flyte fills only occurred_at and message */
  ce.message = msg;
  Flyteidl2__Workflow__ClusterEvent *ces[1] = {&ce};
  e.n_cluster_events = 1;
  e.cluster_events = ces;
  e.cluster = "";

  Flyteidl2__Workflow__ErrorInfo ei = FLYTEIDL2__WORKFLOW__ERROR_INFO__INIT;
  if (k.error_kind >= 0) {
    ei.kind = (Flyteidl2__Workflow__ErrorInfo__Kind)k.error_kind;
    ei.message = k.error_kind == FLYTEIDL2__WORKFLOW__ERROR_INFO__KIND__KIND_USER
                     ? USER_ERROR
                     : SYSTEM_ERROR;
    e.error_info = &ei;
  }
  size_t need = flyteidl2__workflow__action_event__get_packed_size(&e);
  if (need > cap || need > HOP_EVGEN_MAX_EVENT_BYTES) return -1;
  return (int)flyteidl2__workflow__action_event__pack(&e, buf);
}

/* ---- the encoder: the reference's bytes in one pass, written back to front ----
 * protobuf_c_message_pack sizes every nested message and packs it (sizing it again, and
 * moving it when its length takes two bytes); written from the end, a message's length is
 * known as soon as its fields are. The rules are protoc-c's: fields by number, zero scalars
 * and empty strings left out (proto3), a set message always written, int32/enum negatives
 * as 10-byte varints. test_pipeline_eventgen compares every byte with the reference. */

#define TAG(field, wt) ((uint8_t)((field) << 3 | (wt)))

typedef struct bw {
  uint8_t *p, *lo; /* the next byte goes at p - 1; nothing below lo */
  int full;
} bw;

#define BW_INLINE static inline __attribute__((always_inline))

BW_INLINE void bw_put(bw *w, const void *s, size_t n) {
  if ((size_t)(w->p - w->lo) < n) {
    w->full = 1;
    return;
  }
  w->p -= n;
  memcpy(w->p, s, n);
}

BW_INLINE void bw_byte(bw *w, uint8_t b) {
  if (w->p == w->lo) {
    w->full = 1;
    return;
  }
  *--w->p = b;
}

static void bw_varint_long(bw *w, uint64_t v) {
  size_t n = 1 + (size_t)(63 - __builtin_clzll(v | 1)) / 7; /* 7 bits a byte */
  if ((size_t)(w->p - w->lo) < n) {
    w->full = 1;
    return;
  }
  w->p -= n;
  for (size_t i = 0; i + 1 < n; i++, v >>= 7) w->p[i] = (uint8_t)(v | 0x80);
  w->p[n - 1] = (uint8_t)v;
}

/* Lengths and small scalars take one byte or two: those inline. */
BW_INLINE void bw_varint(bw *w, uint64_t v) {
  if (v < 0x80) {
    bw_byte(w, (uint8_t)v);
  } else if (v < 0x4000 && w->p - w->lo >= 2) {
    w->p -= 2;
    w->p[0] = (uint8_t)(v | 0x80);
    w->p[1] = (uint8_t)(v >> 7);
  } else {
    bw_varint_long(w, v);
  }
}

#define bw_lit(w, s) bw_put((w), (s), sizeof(s) - 1)

static void bw_dec(bw *w, uint64_t v) {
  char t[20];
  bw_put(w, t, fmt_dec(t, v));
}

/* The bytes written since |end| become a length-delimited field |tag|. */
BW_INLINE void bw_close(bw *w, const uint8_t *end, uint8_t tag) {
  bw_varint(w, (uint64_t)(end - w->p));
  bw_byte(w, tag);
}

BW_INLINE void bw_str(bw *w, uint8_t tag, const char *s, size_t n) {
  if (!n) return; /* proto3: an empty string is not written */
  const uint8_t *end = w->p;
  bw_put(w, s, n);
  bw_close(w, end, tag);
}

BW_INLINE void bw_scalar(bw *w, uint8_t tag, uint64_t v) {
  if (!v) return;
  bw_varint(w, v);
  bw_byte(w, tag);
}

/* A Timestamp as set_ts fills it. */
static void bw_ts(bw *w, uint8_t tag, int64_t unix_us) {
  const uint8_t *end = w->p;
  int32_t nanos = (int32_t)(unix_us % 1000000) * 1000;
  bw_scalar(w, TAG(2, 0), (uint64_t)(int64_t)nanos);
  bw_scalar(w, TAG(1, 0), (uint64_t)(unix_us / 1000000));
  bw_close(w, end, tag);
}

/* TaskLog's ttl and name, written before (back to front: after) the uri, which the caller
 * writes next and then closes the TaskLog. */
static void bw_task_log_tail(bw *w, const char *name, size_t name_n, int64_t ttl_s) {
  const uint8_t *ttl = w->p;
  bw_scalar(w, TAG(1, 0), (uint64_t)ttl_s); /* Duration.seconds */
  bw_close(w, ttl, TAG(4, 2));
  bw_str(w, TAG(2, 2), name, name_n);
}

/* "s3://hopwire-data/project/run/action/attempt" + |leaf| as OutputReferences field |tag|. */
static void bw_s3_uri(bw *w, uint8_t tag, const ev_strs *s, uint32_t attempt, const char *leaf,
                      size_t leaf_n) {
  const uint8_t *end = w->p;
  bw_put(w, leaf, leaf_n);
  bw_dec(w, attempt);
  bw_byte(w, '/');
  bw_put(w, s->name, s->name_n);
  bw_byte(w, '/');
  bw_put(w, s->run_name, s->run_name_n);
  bw_byte(w, '/');
  bw_put(w, s->project, s->project_n);
  bw_lit(w, "s3://hopwire-data/");
  bw_close(w, end, tag);
}

/* A part written back to front at the end of |seg|, moved to its start: 0, or -1 when it
 * did not fit (the sizes in eventgen.h leave room for the longest keys). */
static int part_done(const bw *w, uint8_t *seg, size_t cap, uint16_t *len) {
  if (w->full) return -1;
  *len = (uint16_t)(seg + cap - w->p);
  memmove(seg, w->p, *len);
  return 0;
}

/* The parts of |a|'s events that only change with the attempt: the identifier, the two log
 * links and the log context, the output references. */
static int build_parts(hop_evgen_action *a, uint32_t attempt) {
  ev_nums n;
  n.h = a->h;
  n.run = a->run;
  n.proj = a->proj;
  n.name_idx = a->name_idx;
  n.seed_hex = a->seed_hex;
  n.attempt = attempt;
  ev_strs s;
  strs_of(&n, &s);
  const uint8_t *end, *sub;
  a->parts_attempt = 0;

  /* 1 id {run {org "", project, domain, name}, name} */
  bw w = {a->id + sizeof a->id, a->id, 0};
  end = w.p;
  bw_str(&w, TAG(2, 2), s.name, s.name_n);
  sub = w.p;
  bw_str(&w, TAG(4, 2), s.run_name, s.run_name_n);
  bw_str(&w, TAG(3, 2), "development", 11);
  bw_str(&w, TAG(2, 2), s.project, s.project_n);
  bw_close(&w, sub, TAG(1, 2));
  bw_close(&w, end, TAG(1, 2));
  if (part_done(&w, a->id, sizeof a->id, &a->id_len)) return -1;

  /* 9 log_info[0], log_info[1]; 10 log_context; written last first */
  w = (bw){a->logs + sizeof a->logs, a->logs, 0};
  end = w.p; /* 10 log_context {pods[0], primary_pod_name} */
  bw_str(&w, TAG(2, 2), s.pod, s.pod_n);
  const uint8_t *pod = w.p; /* PodLogContext {namespace, pod_name, containers[0], primary} */
  bw_str(&w, TAG(4, 2), s.pod, s.pod_n);
  const uint8_t *cont = w.p; /* ContainerContext {container_name, process} */
  sub = w.p;
  bw_ts(&w, TAG(1, 2), a->start_us + 900000); /* ProcessContext.container_start_time */
  bw_close(&w, sub, TAG(2, 2));
  bw_str(&w, TAG(1, 2), s.pod, s.pod_n);
  bw_close(&w, cont, TAG(3, 2));
  bw_str(&w, TAG(2, 2), s.pod, s.pod_n);
  bw_str(&w, TAG(1, 2), s.ns, s.ns_n);
  bw_close(&w, pod, TAG(1, 2));
  bw_close(&w, end, TAG(10, 2));
  end = w.p; /* log_info[1]: the CloudWatch link */
  bw_task_log_tail(&w, "Cloudwatch Logs", 15, 86400);
  sub = w.p;
  char hex[8];
  fmt_hex8(hex, a->h & 0xffffffffull);
  bw_lit(&w, ".log");
  bw_put(&w, hex, 8);
  bw_byte(&w, '-');
  bw_put(&w, s.pod, s.pod_n);
  bw_byte(&w, '/');
  bw_put(&w, s.ns, s.ns_n);
  bw_lit(&w, "https://logs.hopwire.example/");
  bw_close(&w, sub, TAG(1, 2));
  bw_close(&w, end, TAG(9, 2));
  end = w.p; /* log_info[0]: the Kubernetes link */
  bw_task_log_tail(&w, "Kubernetes Logs (User)", 22, 3600);
  sub = w.p;
  bw_put(&w, s.pod, s.pod_n);
  bw_byte(&w, '/');
  bw_put(&w, s.ns, s.ns_n);
  bw_lit(&w, "https://k8s.hopwire.example/log/");
  bw_close(&w, sub, TAG(1, 2));
  bw_close(&w, end, TAG(9, 2));
  if (part_done(&w, a->logs, sizeof a->logs, &a->logs_len)) return -1;

  /* 12 outputs {output_uri, report_uri} */
  w = (bw){a->outs + sizeof a->outs, a->outs, 0};
  end = w.p;
  bw_s3_uri(&w, TAG(2, 2), &s, attempt, "/report.html", 12);
  bw_s3_uri(&w, TAG(1, 2), &s, attempt, "/outputs.pb", 11);
  bw_close(&w, end, TAG(12, 2));
  if (part_done(&w, a->outs, sizeof a->outs, &a->outs_len)) return -1;
  a->parts_attempt = attempt;
  return 0;
}

void hop_evgen_action_init(hop_evgen_action *a, const hop_evgen_config *cfg, uint64_t action) {
  ev_nums n;
  a->plan = (unsigned)action_nums(cfg, action, &n);
  a->nev = a->plan == PLAN_FAIL_RETRY ? 8 : 4;
  a->action = action;
  a->h = n.h;
  a->run = n.run;
  a->proj = n.proj;
  a->name_idx = n.name_idx;
  a->seed_hex = n.seed_hex;
  int64_t phase0;
  times_of(cfg, action, 0, n.h, &a->start_us, &phase0);
  a->parts_attempt = 0; /* built by the first encode */
}

int hop_evgen_action_encode(hop_evgen_action *a, unsigned seq, int64_t reported_unix_us,
                            uint8_t *buf, size_t cap) {
  ev_nums nm;
  nm.h = a->h;
  if (event_nums(&nm, (int)a->plan, seq)) return -1;
  if (nm.attempt != a->parts_attempt && build_parts(a, nm.attempt)) return -1;
  uint64_t h = a->h;
  int64_t phase_us = a->start_us + (int64_t)seq * 1500000 + (int64_t)((h >> 10) % 100000);
  size_t room = cap < HOP_EVGEN_MAX_EVENT_BYTES ? cap : HOP_EVGEN_MAX_EVENT_BYTES;
  bw w = {buf + room, buf, 0};
  const uint8_t *end, *sub;

  /* ActionEvent, last field first. 16 cache_metadata: unset. */
  bw_ts(&w, TAG(15, 2), reported_unix_us ? reported_unix_us : phase_us + 120000);

  end = w.p; /* 14 cluster_events[0] {occurred_at, message} */
  sub = w.p;
  bw_dec(&w, (h >> 32) % 64);
  bw_lit(&w, " on node-");
  const char *what = what_of(nm.phase);
  bw_put(&w, what, strlen(what));
  bw_close(&w, sub, TAG(2, 2));
  bw_ts(&w, TAG(1, 2), phase_us - 5000);
  bw_close(&w, end, TAG(14, 2));

  /* 13 cache_status: 0. 12 outputs; 11 cluster: ""; 10 log_context, 9 log_info */
  bw_put(&w, a->outs, a->outs_len);
  bw_put(&w, a->logs, a->logs_len);

  /* 8 error_info {message, kind}; 7 end_time, 5 start_time: unset */
  if (nm.error_kind >= 0) {
    end = w.p;
    bw_scalar(&w, TAG(2, 0), (uint64_t)(int64_t)nm.error_kind);
    sub = w.p;
    if (nm.error_kind == FLYTEIDL2__WORKFLOW__ERROR_INFO__KIND__KIND_USER)
      bw_lit(&w, USER_ERROR);
    else
      bw_lit(&w, SYSTEM_ERROR);
    bw_close(&w, sub, TAG(1, 2));
    bw_close(&w, end, TAG(8, 2));
  }
  bw_ts(&w, TAG(6, 2), phase_us);
  /* 4 version: always 0, not written */
  bw_scalar(&w, TAG(3, 0), (uint64_t)(int64_t)nm.phase);
  bw_scalar(&w, TAG(2, 0), nm.attempt);
  bw_put(&w, a->id, a->id_len); /* 1 id */

  if (w.full) return -1;
  size_t len = (size_t)(buf + room - w.p);
  memmove(buf, w.p, len);
  return (int)len;
}

int hop_evgen_encode(const hop_evgen_config *cfg, uint64_t action, unsigned seq,
                     int64_t reported_unix_us, uint8_t *buf, size_t cap) {
  hop_evgen_action a;
  hop_evgen_action_init(&a, cfg, action);
  return hop_evgen_action_encode(&a, seq, reported_unix_us, buf, cap);
}
