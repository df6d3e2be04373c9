/* A throwaway PostgreSQL 15 server for tests and the fault benchmark (hopwire fault-bench): initdb into a temp dir, listen on 127.0.0.1 on
 * a free port (Unix socket in the temp dir), fsync on; start / stop / restart by data dir;
 * psql as a client. Stopped and removed at exit, also when the test aborts (atexit and
 * SIGABRT/SIGSEGV/SIGBUS/SIGTERM/SIGINT handlers; the postmaster PID from postmaster.pid is
 * the last resort).
 *
 * As root the server runs as the unprivileged `postgres` user of the Debian package (or
 * `pgtest`, created with useradd when neither exists), via runuser: initdb refuses root.
 * Not thread-safe: call from one thread (the store under test may run its own threads). */
#ifndef HOP_APPS_EVENTS_PGCTL_H
#define HOP_APPS_EVENTS_PGCTL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct hop_pg {
  char dir[128];  /* temp dir, owned by the server's user */
  char data[160]; /* dir/data */
  char url[192];  /* "postgresql://postgres@127.0.0.1:PORT/postgres" */
  char user[32];  /* the OS user running the server ("" when not root: ourselves) */
  uint16_t port;
  pid_t postmaster; /* from postmaster.pid, 0 when stopped */
  pid_t guardian;   /* the cleanup process, 0 if none */
  int guard_fd;     /* write end of its pipe (close-on-exec), -1 if none */
  int running;
} hop_pg;

/* Path of the PostgreSQL 15 binaries ($HOP_PGBIN, else /usr/lib/postgresql/15/bin). */
const char *hop_pg_bindir(void);
/* initdb and start. Returns 0, or -1 with the cause (and the server log's tail) in |err|. */
int hop_pg_start(hop_pg *pg, char *err, size_t errlen);
/* pg_ctl stop -m MODE ("smart", "fast", "immediate") -w. Returns 0 or -1. */
int hop_pg_stop(hop_pg *pg, const char *mode);
/* pg_ctl start -w after hop_pg_stop, same port and settings. Returns 0 or -1. */
int hop_pg_resume(hop_pg *pg);
/* pg_ctl restart -m MODE -w. Returns 0 or -1. */
int hop_pg_restart(hop_pg *pg, const char *mode);
/* Runs |sql| with psql (unaligned, tuples only, ON_ERROR_STOP); the output (trailing
 * newline removed) goes to |out|. Returns psql's exit status (0 ok), -1 if it did not run. */
int hop_pg_psql(hop_pg *pg, const char *sql, char *out, size_t outlen);
/* pg_terminate_backend of every client backend whose application_name is LIKE |app_like|
 * (e.g. "hopwire-store-%"). Returns how many were terminated, or -1. */
int hop_pg_terminate(hop_pg *pg, const char *app_like);
/* Stops the server (-m fast, then SIGQUIT/SIGKILL to the postmaster) and removes the dir.
 * Safe to call twice. */
void hop_pg_destroy(hop_pg *pg);

#endif
