/* Realistic ActionEvents, built and encoded with protoc-c from stack-allocated messages.
 * Field values mimic what Flyte's executor fills in (see eventgen.h and flyte-event-hops.md
 * §2 and §5); every value derives from (seed, action, event index) through splitmix64. */
#include "events/eventgen.h"

#include <stdio.h>
#include <string.h>

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

int hop_evgen_key_of(const hop_evgen_config *cfg, uint64_t action, unsigned seq,
                     hop_evgen_key *out) {
  if (seq >= hop_evgen_action_events(cfg, action)) return -1;
  memset(out, 0, sizeof(*out));
  uint32_t per_run = cfg->actions_per_run ? cfg->actions_per_run : 1;
  uint64_t run = action / per_run;
  uint32_t projects = cfg->projects ? cfg->projects : 1;
  snprintf(out->project, sizeof(out->project), "hopwire-p%u", (unsigned)(run % projects));
  snprintf(out->domain, sizeof(out->domain), "development");
  /* r + 8 hex of the seed + '-' + the run index: <= 30 chars */
  snprintf(out->run_name, sizeof(out->run_name), "r%08x-%llu", (unsigned)(mix(cfg->seed) >> 32),
           (unsigned long long)run);
  snprintf(out->name, sizeof(out->name), "a%u", (unsigned)(action % per_run));
  int plan = plan_of(cfg, action);
  out->attempt = seq >= 4 ? 2 : 1;
  out->phase = seq_phase[plan][seq];
  out->version = 0;
  out->error_kind = -1;
  if (out->phase == FLYTEIDL2__COMMON__ACTION_PHASE__ACTION_PHASE_FAILED)
    out->error_kind = (action_hash(cfg, action) >> 20) & 1 ? FLYTEIDL2__WORKFLOW__ERROR_INFO__KIND__KIND_SYSTEM
                                                           : FLYTEIDL2__WORKFLOW__ERROR_INFO__KIND__KIND_USER;
  return 0;
}

static void set_ts(Google__Protobuf__Timestamp *ts, int64_t unix_us) {
  ts->seconds = unix_us / 1000000;
  ts->nanos = (int32_t)(unix_us % 1000000) * 1000;
}

int hop_evgen_encode(const hop_evgen_config *cfg, uint64_t action, unsigned seq,
                     int64_t reported_unix_us, uint8_t *buf, size_t cap) {
  hop_evgen_key k;
  if (hop_evgen_key_of(cfg, action, seq, &k)) return -1;
  uint64_t h = action_hash(cfg, action);
  /* the action starts at base + its index (ms), each phase ~1.5 s after the previous */
  int64_t start_us = cfg->base_unix_s * 1000000 + (int64_t)(action * 1000) +
                     (int64_t)(h % 1000);
  int64_t phase_us = start_us + (int64_t)seq * 1500000 + (int64_t)((h >> 10) % 100000);

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

  const char *what;
  switch (k.phase) {
  case FLYTEIDL2__COMMON__ACTION_PHASE__ACTION_PHASE_QUEUED: what = "Scheduled"; break;
  case FLYTEIDL2__COMMON__ACTION_PHASE__ACTION_PHASE_INITIALIZING: what = "Pulling image"; break;
  case FLYTEIDL2__COMMON__ACTION_PHASE__ACTION_PHASE_RUNNING: what = "Started container"; break;
  case FLYTEIDL2__COMMON__ACTION_PHASE__ACTION_PHASE_ABORTED: what = "Killing container"; break;
  default: what = "Container terminated"; break;
  }
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
                     ? "USER:ValueError: task raised an exception (exit code 1)"
                     : "SYSTEM:Evicted: the node was low on resource: memory";
    e.error_info = &ei;
  }
  size_t need = flyteidl2__workflow__action_event__get_packed_size(&e);
  if (need > cap || need > HOP_EVGEN_MAX_EVENT_BYTES) return -1;
  return (int)flyteidl2__workflow__action_event__pack(&e, buf);
}
