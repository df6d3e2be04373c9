/* hopwire bench: the `hopwire serve` child measured when no --target is given. It runs in its
 * own process so that the client's CPU and RSS figures are the client's alone. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"
#include "core/clock.h"

static void fmt_delay(char *out, size_t n, uint64_t us) {
  if (us % 1000 == 0) snprintf(out, n, "%llums", (unsigned long long)(us / 1000));
  else snprintf(out, n, "%lluus", (unsigned long long)us);
}

int hop_bench_server_start(hop_bench_server *s, const char *exe, uint64_t delay_us,
                           uint32_t max_streams, char *err, size_t errlen) {
  s->pid = -1;
  s->port = 0;
  s->out_fd = -1;
  char delay[32], streams[16];
  fmt_delay(delay, sizeof(delay), delay_us);
  snprintf(streams, sizeof(streams), "%u", max_streams);
  char *argv[] = {(char *)exe, "serve", "--listen", "127.0.0.1:0", "--delay", delay,
                  "--max-streams", streams, NULL};
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    snprintf(err, errlen, "pipe: %s", strerror(errno));
    return -1;
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(err, errlen, "fork: %s", strerror(errno));
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    /* Only async-signal-safe calls here: the parent may have threads. The server dies with
     * the bench, so an interrupted run leaves nothing behind. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    dup2(fds[1], 1);
    execv(exe, argv);
    _exit(127);
  }
  close(fds[1]);
  s->pid = pid;
  s->out_fd = fds[0];

  char line[256];
  size_t len = 0;
  uint64_t deadline = hop_now_ms() + 10000;
  for (;;) {
    uint64_t now = hop_now_ms();
    if (now >= deadline) {
      snprintf(err, errlen, "%s serve did not print 'listening on' within 10 s", exe);
      break;
    }
    struct pollfd p = {s->out_fd, POLLIN, 0};
    int pr = poll(&p, 1, (int)(deadline - now));
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) continue;
    char c;
    ssize_t r = read(s->out_fd, &c, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      int status = 0;
      waitpid(pid, &status, 0);
      s->pid = -1;
      if (WIFEXITED(status))
        snprintf(err, errlen, "%s serve exited with status %d before listening", exe,
                 WEXITSTATUS(status));
      else
        snprintf(err, errlen, "%s serve died before listening", exe);
      close(s->out_fd);
      s->out_fd = -1;
      return -1;
    }
    if (c != '\n') {
      if (len < sizeof(line) - 1) line[len++] = c;
      continue;
    }
    line[len] = '\0';
    len = 0;
    const char *colon = strrchr(line, ':');
    if (strncmp(line, "listening on ", 13) == 0 && colon) {
      long port = strtol(colon + 1, NULL, 10);
      if (port > 0 && port <= 65535) {
        s->port = (uint16_t)port;
        return 0;
      }
    }
  }
  hop_bench_server_stop(s, 2000);
  return -1;
}

void hop_bench_server_stop(hop_bench_server *s, int timeout_ms) {
  if (s->pid > 0) {
    kill(s->pid, SIGTERM);
    uint64_t deadline = hop_now_ms() + (uint64_t)timeout_ms;
    int status;
    for (;;) {
      pid_t r = waitpid(s->pid, &status, WNOHANG);
      if (r == s->pid || (r < 0 && errno != EINTR)) break;
      if (hop_now_ms() >= deadline) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &status, 0);
        break;
      }
      usleep(10000);
    }
    s->pid = -1;
  }
  if (s->out_fd >= 0) close(s->out_fd);
  s->out_fd = -1;
}
