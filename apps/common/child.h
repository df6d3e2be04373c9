/* Child processes of the applications (the demo, the pipeline and fault benchmarks, hopwire
 * bench): a `hopwire` subcommand (run-service, events-proxy, serve) started with its
 * arguments, its "listening on HOST:PORT" line awaited, measured from /proc, and stopped by
 * its pid. Also the same figures for the current process.
 *
 * A child dies with its parent (PR_SET_PDEATHSIG), so an interrupted run leaves nothing
 * behind. Not thread-safe: one owner per hop_child. */
#ifndef HOP_APPS_COMMON_CHILD_H
#define HOP_APPS_COMMON_CHILD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

typedef struct hop_child {
  pid_t pid;          /* -1 when not running */
  int out_fd;         /* the child's stdout (after the listening line: drained, unread) */
  uint16_t port;      /* from "listening on HOST:PORT" */
  char name[32];      /* the subcommand, for messages */
} hop_child;

/* Runs |exe| with argv[0] = exe and the NULL-terminated |args| (args[0] is the subcommand),
 * waits up to |timeout_ms| for its listening line. stderr is inherited unless |quiet|
 * (then /dev/null). Returns 0, or -1 with |err| naming the cause (exit status, timeout). */
int hop_child_start(hop_child *c, const char *exe, char *const args[], int quiet,
                    uint64_t timeout_ms, char *err, size_t errlen);
/* The same with |env| ("NAME=VALUE" strings, NULL-terminated; may be NULL) added to the
 * child's environment (the parent's is left alone: it may have threads). */
int hop_child_start_env(hop_child *c, const char *exe, char *const args[], char *const env[],
                        int quiet, uint64_t timeout_ms, char *err, size_t errlen);
/* Reaps the child if it has exited (no wait): returns 1 with *status as hop_child_stop's
 * (exit status or 128+signal), 0 while it runs, -1 if it was not running. */
int hop_child_exited(hop_child *c, int *status);
/* SIGTERM, then SIGKILL after |timeout_ms|; reaps. Returns the exit status (or 128+signal),
 * -1 if it was not running. */
int hop_child_stop(hop_child *c, uint64_t timeout_ms);
/* SIGKILL at once and reap (crash tests). */
void hop_child_kill9(hop_child *c);

/* CPU seconds (user + system) the child used so far (from /proc/PID/stat); 0 if gone. */
double hop_child_cpu_s(const hop_child *c);
/* VmRSS / VmHWM of the child in KiB (0 if gone). */
uint64_t hop_child_rss_kib(const hop_child *c, int peak);

/* The current process's CPU seconds and RSS (KiB). */
double hop_self_cpu_s(void);
uint64_t hop_self_rss_kib(int peak);
/* Resets the kernel's peak-RSS mark (VmHWM) via /proc/self/clear_refs. Returns 0 when the
 * kernel allowed it; otherwise the caller must sample hop_self_rss_kib(0) instead. */
int hop_self_rss_reset_peak(void);
/* The "KEY:" value (kB) of a /proc/PID/status-format text; 0 if absent. */
uint64_t hop_status_kib(const char *status, const char *key);

/* TCP sockets in TIME_WAIT whose local or remote port is |port| (0 = all), from
 * /proc/net/tcp and tcp6 (a missing file counts 0). */
long hop_time_wait_count(uint16_t port);
/* The same over one /proc/net/tcp[6]-format table. Returns -1 on a malformed header. */
long hop_time_wait_in(FILE *table, uint16_t port);

/* The path of the running executable (/proc/self/exe) into |buf|. */
int hop_self_exe(char *buf, size_t len);

#endif
