#include "hoptest.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *hop_test_cli(void) {
  const char *p = getenv("HOPWIRE");
  return p && *p ? p : "./hopwire";
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int hop_child_spawn(hop_child *c, char *const argv[], int wait_listen) {
  int fds[2];
  c->pid = -1;
  c->port = 0;
  c->out_fd = -1;
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execv(argv[0], argv);
    _exit(127);
  }
  close(fds[1]);
  c->pid = pid;
  c->out_fd = fds[0];
  if (!wait_listen) return 0;
  char line[512];
  size_t len = 0;
  long deadline = now_ms() + 10000;
  while (now_ms() < deadline && len < sizeof(line) - 1) {
    struct pollfd p = {c->out_fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t n = read(c->out_fd, line + len, 1);
    if (n <= 0) break;
    if (line[len] == '\n') {
      line[len] = '\0';
      char *colon = strrchr(line, ':');
      if (strncmp(line, "listening on ", 13) == 0 && colon) {
        c->port = (uint16_t)atoi(colon + 1);
        return c->port ? 0 : -1;
      }
      len = 0;
      continue;
    }
    len++;
  }
  return -1;
}

int hop_child_stop(hop_child *c, int sig, int timeout_ms) {
  if (c->pid <= 0) return -1;
  kill(c->pid, sig);
  int status = -1;
  long deadline = now_ms() + timeout_ms;
  for (;;) {
    pid_t r = waitpid(c->pid, &status, WNOHANG);
    if (r == c->pid) break;
    if (r < 0 && errno != EINTR) { status = -1; break; }
    if (now_ms() > deadline) {
      kill(c->pid, SIGKILL);
      waitpid(c->pid, &status, 0);
      status = -1;
      break;
    }
    usleep(10000);
  }
  if (c->out_fd >= 0) close(c->out_fd);
  c->out_fd = -1;
  c->pid = -1;
  return status;
}
