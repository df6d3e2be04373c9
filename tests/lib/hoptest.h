/* Test helpers shared by C integration tests: child processes on loopback. */
#ifndef HOP_TESTLIB_H
#define HOP_TESTLIB_H

#include <stdint.h>
#include <sys/types.h>

typedef struct hop_child {
  pid_t pid;
  uint16_t port; /* parsed from the child's "listening on HOST:PORT" line, 0 if none */
  int out_fd;    /* the child's stdout (read end), -1 once closed */
} hop_child;

/* Path of the CLI under test ($HOPWIRE, else ./hopwire). */
const char *hop_test_cli(void);
/* Spawns argv (argv[0] is the program path, NULL-terminated). If |wait_listen|, waits up to
 * 10 s for a stdout line "listening on HOST:PORT" and fills ->port. Returns 0 or -1. */
int hop_child_spawn(hop_child *c, char *const argv[], int wait_listen);
/* Sends |sig| and waits up to |timeout_ms| for exit (then SIGKILL). Returns the exit
 * status as from waitpid (or -1). */
int hop_child_stop(hop_child *c, int sig, int timeout_ms);

#endif
