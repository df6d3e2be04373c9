/* hopwire fault-bench: the event pipeline's promise under faults (issue "event pipeline,
 * part 3"): an event whose Record was acknowledged is stored, once, whatever crashes; an
 * event not acknowledged is re-emitted by its producer until it is.
 *
 * Per scenario: fresh run-service(s) and events-proxy(s) as child processes on loopback, the
 * executor (events/executor.h) in a thread of this process working through the actions,
 * while the scenario injects its fault on a timeline (once a share of the events is stored).
 * Afterwards every acknowledged event key is looked up in the store (the keys are a pure
 * function of seed, action and seq) and the scenario passes when:
 *   lost = 0 (every acknowledged key stored), acknowledged = planned (every event eventually
 *   acknowledged, no reconcile abandoned), rows = acknowledged (each stored once), no Record
 *   waited past its deadline, plus the scenario's own checks (named in docs/pipeline-faults.md).
 *
 * Scenarios needing root (a private mount namespace: tmpfs, /etc/hosts) or PostgreSQL 15
 * binaries are skipped with the reason when those are missing; the caller makes the mount
 * namespace (hop_faultbench_private_ns) before any thread exists.
 *
 * Threads: hop_faultbench_run blocks the calling thread (the executor runs in another). */
#ifndef HOP_APPS_EVENTS_FAULTBENCH_H
#define HOP_APPS_EVENTS_FAULTBENCH_H

#include <stdint.h>
#include <stdio.h>

enum {
  HOP_FAULT_KILL_RUNSVC = 0,   /* kill -9 of the run-service, restarted after 1 s */
  HOP_FAULT_KILL_PROXY,        /* kill -9 of the events-proxy, restarted after 1 s */
  HOP_FAULT_PG_IMMEDIATE,      /* pg_ctl stop -m immediate, 1 s down, start */
  HOP_FAULT_PG_FAST,           /* pg_ctl stop -m fast, 1 s down, start */
  HOP_FAULT_PG_TERMINATE,      /* pg_terminate_backend of the store's connections */
  HOP_FAULT_DISK_FULL,         /* SQLite on a small tmpfs until SQLITE_FULL, then grown */
  HOP_FAULT_SQLITE_LOCK,       /* an external sqlite3 shell holds BEGIN IMMEDIATE for 2 s */
  HOP_FAULT_SIGTERM,           /* graceful restart: replacement started, old one SIGTERMed */
  HOP_FAULT_SCALE_OUT,         /* 3 run-services behind one name, 2 proxies, rolling restart */
  HOP_FAULT_DUPLICATES,        /* the whole load, then replayed 10 times */
  HOP_FAULT_OVERLOAD,          /* store 10x slower than the inflow, then the delay goes */
  HOP_FAULT_CRASH_IN_COMMIT,   /* SIGKILL from sqlite3_commit_hook at a random commit */
  HOP_FAULT_CRASH_AFTER_COMMIT,/* SIGKILL after COMMIT returned, before the answer */
  HOP_FAULT_COUNT
};

/* "kill-run-service", ... (the --fault names); NULL past the end. */
const char *hop_fault_name(int fault);
/* The fault numbered by |name|, or -1. */
int hop_fault_from_name(const char *name);

typedef struct hop_faultbench_config {
  const char *exe;       /* the hopwire binary for the service children */
  const char *store;     /* NULL: a temp SQLite file per scenario; "postgres": every scenario
                            on a throwaway PostgreSQL 15 server this bench starts; or a
                            postgres:// URI (server faults then skipped: not ours to restart).
                            The pg-* scenarios always use a throwaway server. */
  uint32_t faults;       /* bit i = fault i; all by default */
  uint64_t actions;      /* per scenario (overload: per phase); 2000 */
  uint32_t concurrency;  /* reconcilers; 128 */
  int sqlite_synchronous; /* -1: the run-service's default (full); 0..3 */
  uint64_t seed;         /* 0 = from the clock */
  int json;              /* one JSON object per scenario per line */
  int verbose;           /* services' stderr shown */
  int private_ns;        /* the caller made a private mount namespace (root) */
} hop_faultbench_config;

void hop_faultbench_config_init(hop_faultbench_config *cfg);

/* unshare(CLONE_NEWNS) + a private / (mounts made later are invisible outside); call before
 * any thread exists. Returns 0, or -1 with the cause in |err| (not root). */
int hop_faultbench_private_ns(char *err, size_t errlen);

/* Runs the scenarios, prints the figures to |out|. Returns 0 when every scenario that ran
 * passed, 1 when one failed (named on stderr), -1 when the bench could not run. */
int hop_faultbench_run(const hop_faultbench_config *cfg, FILE *out);

#endif
