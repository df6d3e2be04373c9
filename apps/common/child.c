/* Child processes measured from /proc: see child.h. */
#include "common/child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS 64

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

extern char **environ;

#define MAX_ENV 4096

int hop_child_start(hop_child *c, const char *exe, char *const args[], int quiet,
                    uint64_t timeout_ms, char *err, size_t errlen) {
  return hop_child_start_env(c, exe, args, NULL, quiet, timeout_ms, err, errlen);
}

int hop_child_start_env(hop_child *c, const char *exe, char *const args[], char *const env[],
                        int quiet, uint64_t timeout_ms, char *err, size_t errlen) {
  c->pid = -1;
  c->out_fd = -1;
  c->port = 0;
  snprintf(c->name, sizeof(c->name), "%s", args[0] ? args[0] : "child");
  char *argv[MAX_ARGS + 2];
  size_t n = 0;
  argv[n++] = (char *)exe;
  while (args[n - 1] && n <= MAX_ARGS) {
    argv[n] = args[n - 1];
    n++;
  }
  if (args[n - 1]) {
    snprintf(err, errlen, "%s: too many arguments", c->name);
    return -1;
  }
  argv[n] = NULL;
  /* The environment is built before fork: the child may only make async-signal-safe calls. */
  char **envp = NULL;
  if (env) {
    size_t ne = 0, ee = 0;
    while (environ[ne]) ne++;
    while (env[ee]) ee++;
    if (ne + ee >= MAX_ENV || !(envp = calloc(ne + ee + 1, sizeof(char *)))) {
      snprintf(err, errlen, "%s: environment too large", c->name);
      return -1;
    }
    for (size_t i = 0; i < ne; i++) envp[i] = environ[i];
    for (size_t i = 0; i < ee; i++) envp[ne + i] = env[i];
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    snprintf(err, errlen, "pipe: %s", strerror(errno));
    free(envp);
    return -1;
  }
  int devnull = quiet ? open("/dev/null", O_WRONLY | O_CLOEXEC) : -1;
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(err, errlen, "fork: %s", strerror(errno));
    close(fds[0]);
    close(fds[1]);
    if (devnull >= 0) close(devnull);
    free(envp);
    return -1;
  }
  if (pid == 0) {
    /* Async-signal-safe calls only: the parent has threads. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(fds[1], 1);
    if (devnull >= 0) dup2(devnull, 2);
    if (envp) execve(exe, argv, envp);
    else execv(exe, argv);
    _exit(127);
  }
  free(envp);
  close(fds[1]);
  if (devnull >= 0) close(devnull);
  c->pid = pid;
  c->out_fd = fds[0];
  char line[512];
  size_t len = 0;
  uint64_t deadline = now_ms() + timeout_ms;
  for (;;) {
    uint64_t now = now_ms();
    if (now >= deadline) {
      snprintf(err, errlen, "%s did not print 'listening on' within %llu ms", c->name,
               (unsigned long long)timeout_ms);
      break;
    }
    struct pollfd p = {c->out_fd, POLLIN, 0};
    int pr = poll(&p, 1, (int)(deadline - now));
    if (pr <= 0) continue;
    char ch;
    ssize_t r = read(c->out_fd, &ch, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      int status = 0;
      waitpid(pid, &status, 0);
      c->pid = -1;
      if (WIFEXITED(status))
        snprintf(err, errlen, "%s exited with status %d before listening", c->name,
                 WEXITSTATUS(status));
      else
        snprintf(err, errlen, "%s died (signal %d) before listening", c->name,
                 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
      close(c->out_fd);
      c->out_fd = -1;
      return -1;
    }
    if (ch != '\n') {
      if (len < sizeof(line) - 1) line[len++] = ch;
      continue;
    }
    line[len] = '\0';
    len = 0;
    const char *colon = strrchr(line, ':');
    if (strncmp(line, "listening on ", 13) == 0 && colon) {
      long port = strtol(colon + 1, NULL, 10);
      if (port > 0 && port <= 65535) {
        c->port = (uint16_t)port;
        return 0;
      }
    }
  }
  hop_child_kill9(c);
  return -1;
}

static int reap(hop_child *c, uint64_t timeout_ms) {
  uint64_t deadline = now_ms() + timeout_ms;
  int status = 0;
  for (;;) {
    pid_t r = waitpid(c->pid, &status, WNOHANG);
    if (r == c->pid) break;
    if (r < 0 && errno != EINTR) {
      status = -1;
      break;
    }
    if (now_ms() >= deadline) {
      kill(c->pid, SIGKILL);
      waitpid(c->pid, &status, 0);
      break;
    }
    usleep(5000);
  }
  c->pid = -1;
  if (c->out_fd >= 0) close(c->out_fd);
  c->out_fd = -1;
  if (status == -1) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int hop_child_exited(hop_child *c, int *status) {
  if (c->pid <= 0) return -1;
  int st = 0;
  pid_t r = waitpid(c->pid, &st, WNOHANG);
  if (r != c->pid) return 0;
  c->pid = -1;
  if (c->out_fd >= 0) close(c->out_fd);
  c->out_fd = -1;
  if (status) *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return 1;
}

int hop_child_stop(hop_child *c, uint64_t timeout_ms) {
  if (c->pid <= 0) return -1;
  kill(c->pid, SIGTERM);
  return reap(c, timeout_ms);
}

void hop_child_kill9(hop_child *c) {
  if (c->pid <= 0) return;
  kill(c->pid, SIGKILL);
  reap(c, 5000);
}

/* Reads a small /proc file whole into |buf| (NUL-terminated). open/read, not stdio: the
 * samplers run while other threads resolve names (getaddrinfo's own fopen), and ThreadSanitizer
 * flags the two stdio FILE lifetimes as a race. Returns the length, or -1. */
static ssize_t read_proc(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t n = 0;
  while (n < cap - 1) {
    ssize_t r = read(fd, buf + n, cap - 1 - n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    n += (size_t)r;
  }
  close(fd);
  buf[n] = '\0';
  return (ssize_t)n;
}

double hop_child_cpu_s(const hop_child *c) {
  if (c->pid <= 0) return 0;
  char path[64], buf[1024];
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)c->pid);
  if (read_proc(path, buf, sizeof(buf)) < 0) return 0;
  /* Fields after the ")" of the command name: state is 3rd overall, utime 14th, stime 15th. */
  char *p = strrchr(buf, ')');
  if (!p) return 0;
  unsigned long long ut = 0, st = 0;
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
    return 0;
  long hz = sysconf(_SC_CLK_TCK);
  return (double)(ut + st) / (double)(hz > 0 ? hz : 100);
}

uint64_t hop_status_kib(const char *status, const char *key) {
  size_t klen = strlen(key);
  for (const char *line = status; line && *line;) {
    if (strncmp(line, key, klen) == 0 && line[klen] == ':') return strtoull(line + klen + 1, NULL, 10);
    line = strchr(line, '\n');
    if (line) line++;
  }
  return 0;
}

static uint64_t status_kib(const char *path, const char *key) {
  char buf[4096];
  if (read_proc(path, buf, sizeof(buf)) < 0) return 0;
  return hop_status_kib(buf, key);
}

uint64_t hop_child_rss_kib(const hop_child *c, int peak) {
  if (c->pid <= 0) return 0;
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/status", (int)c->pid);
  return status_kib(path, peak ? "VmHWM" : "VmRSS");
}

double hop_self_cpu_s(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

uint64_t hop_self_rss_kib(int peak) { return status_kib("/proc/self/status", peak ? "VmHWM" : "VmRSS"); }

int hop_self_rss_reset_peak(void) {
  /* "5" resets the peak resident set size (VmHWM) to the current RSS (Linux >= 4.0). */
  int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t w = write(fd, "5", 1);
  close(fd);
  return w == 1 ? 0 : -1;
}

#define TCP_STATE_TIME_WAIT 0x06

/* The next blank-separated field of |*p| (advanced past it): [*b, *e). 0 when none. */
static int field(const char **p, const char **b, const char **e) {
  const char *s = *p;
  while (*s == ' ' || *s == '\t') s++;
  if (!*s || *s == '\n') return 0;
  *b = s;
  while (*s && *s != ' ' && *s != '\t' && *s != '\n') s++;
  *e = s;
  *p = s;
  return 1;
}

/* Hex digits [b, e) as a number <= max; -1 when not that. */
static long hex_of(const char *b, const char *e, unsigned long max) {
  unsigned long v = 0;
  if (b == e || e - b > 8) return -1;
  for (; b < e; b++) {
    int d = *b >= '0' && *b <= '9' ? *b - '0' : *b >= 'a' && *b <= 'f' ? *b - 'a' + 10
          : *b >= 'A' && *b <= 'F' ? *b - 'A' + 10 : -1;
    if (d < 0) return -1;
    v = v * 16 + (unsigned long)d;
  }
  return v <= max ? (long)v : -1;
}

/* "0100007F:1F90" or a 32-hex-digit IPv6 address ":PORT": the port after the last ':'. */
static long port_of(const char *b, const char *e) {
  const char *colon = NULL;
  for (const char *s = b; s < e; s++)
    if (*s == ':') colon = s;
  return colon ? hex_of(colon + 1, e, 65535) : -1;
}

/* By hand, not sscanf: the table holds every socket of the machine, and a bench run counted
 * by callgrind reads it twice (sscanf cost ~3,000 instructions a line). */
long hop_time_wait_in(FILE *table, uint16_t port) {
  char line[512];
  if (!fgets(line, sizeof(line), table)) return 0; /* empty table */
  if (!strstr(line, "local_address")) return -1;
  long n = 0;
  while (fgets(line, sizeof(line), table)) {
    const char *p = line, *sb, *se, *lb, *le, *rb, *re, *tb, *te;
    if (!field(&p, &sb, &se) || !field(&p, &lb, &le) || !field(&p, &rb, &re) ||
        !field(&p, &tb, &te))
      continue;
    if (hex_of(tb, te, 0xff) != TCP_STATE_TIME_WAIT) continue;
    long lp = port_of(lb, le), rp = port_of(rb, re);
    if (lp < 0 || rp < 0) continue;
    if (port == 0 || lp == port || rp == port) n++;
  }
  return n;
}

long hop_time_wait_count(uint16_t port) {
  static const char *const files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
  long total = 0;
  for (size_t i = 0; i < 2; i++) {
    FILE *f = fopen(files[i], "re");
    if (!f) continue;
    long n = hop_time_wait_in(f, port);
    fclose(f);
    if (n > 0) total += n;
  }
  return total;
}

int hop_self_exe(char *buf, size_t len) {
  ssize_t n = readlink("/proc/self/exe", buf, len - 1);
  if (n <= 0) return -1;
  buf[n] = '\0';
  return 0;
}
