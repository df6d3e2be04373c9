/* Throwaway PostgreSQL servers: see pgctl.h. */
#include "events/pgctl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SERVERS 4

static hop_pg *registry[MAX_SERVERS];
static int cleanup_installed;

const char *hop_pg_bindir(void) {
  const char *p = getenv("HOP_PGBIN");
  return p && *p ? p : "/usr/lib/postgresql/15/bin";
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Runs argv (as |user| via runuser when non-empty) in |cwd|, stdout+stderr into |out|.
 * Kills it after |timeout_ms|. Returns the exit status, or -1. */
static int run(const char *user, const char *cwd, char *const argv[], char *out, size_t outlen,
               int timeout_ms) {
  char *full[32];
  int n = 0;
  if (user && *user) {
    full[n++] = "/usr/sbin/runuser";
    full[n++] = "-u";
    full[n++] = (char *)user;
    full[n++] = "--";
  }
  for (int i = 0; argv[i] && n < 31; i++) full[n++] = argv[i];
  full[n] = NULL;
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    if (cwd && chdir(cwd) != 0) _exit(126);
    execv(full[0], full);
    _exit(127);
  }
  close(fds[1]);
  size_t len = 0;
  long deadline = now_ms() + timeout_ms;
  int killed = 0;
  for (;;) {
    long left = deadline - now_ms();
    if (left <= 0) {
      kill(pid, SIGKILL);
      killed = 1;
      break;
    }
    struct pollfd p = {fds[0], POLLIN, 0};
    int pr = poll(&p, 1, (int)(left > 200 ? 200 : left));
    if (pr < 0 && errno != EINTR) break;
    if (pr <= 0) continue;
    char buf[1024];
    ssize_t r = read(fds[0], buf, sizeof(buf));
    if (r <= 0) break;
    if (out && outlen > 1) {
      size_t take = (size_t)r < outlen - 1 - len ? (size_t)r : outlen - 1 - len;
      memcpy(out + len, buf, take);
      len += take;
    }
  }
  if (out && outlen) out[len] = '\0';
  close(fds[0]);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (killed) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void read_postmaster(hop_pg *pg) {
  char path[200];
  snprintf(path, sizeof(path), "%s/postmaster.pid", pg->data);
  pg->postmaster = 0;
  FILE *f = fopen(path, "r");
  if (!f) return;
  long pid = 0;
  if (fscanf(f, "%ld", &pid) == 1 && pid > 1) pg->postmaster = (pid_t)pid;
  fclose(f);
}

/* Last resort from a signal handler: only async-signal-safe calls. SIGQUIT is the
 * postmaster's immediate shutdown; it takes its backends down with it. */
static void emergency_stop(int sig) {
  for (int i = 0; i < MAX_SERVERS; i++) {
    hop_pg *pg = registry[i];
    if (!pg || pg->postmaster <= 1) continue;
    kill(pg->postmaster, SIGQUIT);
    for (int t = 0; t < 100 && kill(pg->postmaster, 0) == 0; t++) {
      struct timespec ts = {0, 20000000};
      nanosleep(&ts, NULL);
    }
    kill(pg->postmaster, SIGKILL);
    pid_t c = fork();
    if (c == 0) {
      char *argv[] = {"/bin/rm", "-rf", pg->dir, NULL};
      execv(argv[0], argv);
      _exit(127);
    }
    if (c > 0) waitpid(c, NULL, 0);
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

static void cleanup_all(void) {
  for (int i = 0; i < MAX_SERVERS; i++)
    if (registry[i]) hop_pg_destroy(registry[i]);
}

static void install_cleanup(void) {
  if (cleanup_installed) return;
  cleanup_installed = 1;
  atexit(cleanup_all);
  int sigs[] = {SIGABRT, SIGSEGV, SIGBUS, SIGTERM, SIGINT, SIGFPE};
  for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = emergency_stop;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    sigaction(sigs[i], &sa, NULL);
  }
}

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t al = sizeof(a);
  int port = -1;
  if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &al) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

/* The unprivileged user to run the server as (root only). */
static int pick_user(hop_pg *pg, struct passwd **pw, char *err, size_t errlen) {
  pg->user[0] = '\0';
  *pw = NULL;
  if (geteuid() != 0) return 0;
  const char *names[] = {"postgres", "pgtest"};
  for (int i = 0; i < 2 && !*pw; i++) {
    *pw = getpwnam(names[i]);
    if (*pw) snprintf(pg->user, sizeof(pg->user), "%s", names[i]);
  }
  if (!*pw) {
    char out[512];
    char *argv[] = {"/usr/sbin/useradd", "--system", "--no-create-home", "--shell",
                    "/usr/sbin/nologin", "pgtest", NULL};
    int rc = run(NULL, "/", argv, out, sizeof(out), 30000);
    *pw = getpwnam("pgtest");
    if (!*pw) {
      snprintf(err, errlen, "no postgres user and useradd pgtest failed (%d): %s", rc, out);
      return -1;
    }
    snprintf(pg->user, sizeof(pg->user), "pgtest");
  }
  return 0;
}

static int pg_ctl(hop_pg *pg, const char *action, const char *mode, char *out, size_t outlen) {
  char bin[256], log[200];
  snprintf(bin, sizeof(bin), "%s/pg_ctl", hop_pg_bindir());
  snprintf(log, sizeof(log), "%s/log", pg->dir);
  char *argv[16];
  int n = 0;
  argv[n++] = bin;
  argv[n++] = "-D";
  argv[n++] = pg->data;
  argv[n++] = "-w";
  argv[n++] = "-t";
  argv[n++] = "30";
  if (mode) {
    argv[n++] = "-m";
    argv[n++] = (char *)mode;
  }
  if (strcmp(action, "stop") != 0) {
    argv[n++] = "-l";
    argv[n++] = log;
  }
  argv[n++] = (char *)action;
  argv[n] = NULL;
  int rc = run(pg->user, pg->dir, argv, out, outlen, 60000);
  read_postmaster(pg);
  return rc;
}

static void log_tail(hop_pg *pg, char *dst, size_t dstlen) {
  char path[200];
  snprintf(path, sizeof(path), "%s/log", pg->dir);
  dst[0] = '\0';
  FILE *f = fopen(path, "r");
  if (!f) return;
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  long from = size > (long)dstlen - 1 ? size - (long)dstlen + 1 : 0;
  fseek(f, from, SEEK_SET);
  size_t n = fread(dst, 1, dstlen - 1, f);
  dst[n] = '\0';
  fclose(f);
}

/* Starts the guardian: `sh -c SCRIPT` with the pipe as stdin, exec'd right after fork (the
 * test may have threads: nothing but async-signal-safe calls before exec). */
static void start_guardian(hop_pg *pg) {
  char script[1024];
  const char *as = pg->user[0] ? "/usr/sbin/runuser -u " : "";
  snprintf(script, sizeof(script),
           "read x; [ \"$x\" = q ] && exit 0; "
           "%s%s%s%s/pg_ctl -D '%s' -m immediate -w -t 20 stop; "
           "p=$(head -n 1 '%s/postmaster.pid' 2>/dev/null); [ -n \"$p\" ] && kill -9 \"$p\"; "
           "rm -rf '%s'",
           as, pg->user, pg->user[0] ? " -- " : "", hop_pg_bindir(), pg->data, pg->data, pg->dir);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return;
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return;
  }
  if (pid == 0) {
    setsid(); /* a ^C or a process-group kill of the test leaves it alive to clean up */
    dup2(fds[0], 0);
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) {
      dup2(devnull, 1);
      dup2(devnull, 2);
    }
    char *argv[] = {"/bin/sh", "-c", script, NULL};
    execv(argv[0], argv);
    _exit(127);
  }
  close(fds[0]);
  pg->guardian = pid;
  pg->guard_fd = fds[1];
}

static void stop_guardian(hop_pg *pg) {
  if (pg->guard_fd >= 0) {
    ssize_t w = write(pg->guard_fd, "q\n", 2);
    (void)w;
    close(pg->guard_fd);
    pg->guard_fd = -1;
  }
  if (pg->guardian > 0) {
    while (waitpid(pg->guardian, NULL, 0) < 0 && errno == EINTR) {
    }
    pg->guardian = 0;
  }
}

int hop_pg_start(hop_pg *pg, char *err, size_t errlen) {
  memset(pg, 0, sizeof(*pg));
  pg->guard_fd = -1;
  install_cleanup();
  struct passwd *pw;
  if (pick_user(pg, &pw, err, errlen) != 0) return -1;
  snprintf(pg->dir, sizeof(pg->dir), "/tmp/hop-pgtest.XXXXXX");
  if (!mkdtemp(pg->dir)) {
    snprintf(err, errlen, "mkdtemp: %s", strerror(errno));
    return -1;
  }
  int slot = -1;
  for (int i = 0; i < MAX_SERVERS && slot < 0; i++)
    if (!registry[i]) slot = i;
  if (slot < 0) {
    snprintf(err, errlen, "too many test servers");
    rmdir(pg->dir);
    return -1;
  }
  registry[slot] = pg;
  if (pw && (chown(pg->dir, pw->pw_uid, pw->pw_gid) != 0 || chmod(pg->dir, 0700) != 0)) {
    snprintf(err, errlen, "chown %s to %s: %s", pg->dir, pg->user, strerror(errno));
    hop_pg_destroy(pg);
    return -1;
  }
  snprintf(pg->data, sizeof(pg->data), "%s/data", pg->dir);
  start_guardian(pg);
  char bin[256], out[4096];
  snprintf(bin, sizeof(bin), "%s/initdb", hop_pg_bindir());
  /* --no-sync: initdb's own files are not fsynced (the test survives no power loss); the
   * server itself runs with fsync=on. */
  char *argv[] = {bin, "-D", pg->data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync", "--no-instructions", NULL};
  int rc = run(pg->user, pg->dir, argv, out, sizeof(out), 120000);
  if (rc != 0) {
    snprintf(err, errlen, "initdb failed (%d): %.*s", rc, (int)(errlen > 64 ? errlen - 64 : 0),
             out);
    hop_pg_destroy(pg);
    return -1;
  }
  /* Settings go into postgresql.conf, not pg_ctl -o (only `restart` reuses -o). The port
   * probe races with other programs: on a bind failure, try another port. */
  char conf[200];
  snprintf(conf, sizeof(conf), "%s/postgresql.conf", pg->data);
  for (int attempt = 0; attempt < 5; attempt++) {
    int port = free_port();
    if (port <= 0) continue;
    FILE *f = fopen(conf, "a");
    if (!f) {
      snprintf(err, errlen, "%s: %s", conf, strerror(errno));
      hop_pg_destroy(pg);
      return -1;
    }
    fprintf(f,
            "\n# hop_pg_start\nlisten_addresses = '127.0.0.1'\nport = %d\n"
            "unix_socket_directories = '%s'\nfsync = on\nsynchronous_commit = on\n"
            "shared_buffers = 32MB\nmax_connections = 40\n",
            port, pg->dir);
    fclose(f);
    pg->port = (uint16_t)port;
    rc = pg_ctl(pg, "start", NULL, out, sizeof(out));
    if (rc == 0) {
      pg->running = 1;
      snprintf(pg->url, sizeof(pg->url), "postgresql://postgres@127.0.0.1:%u/postgres",
               pg->port);
      return 0;
    }
  }
  char tail[1024];
  log_tail(pg, tail, sizeof(tail));
  snprintf(err, errlen, "pg_ctl start failed: %s / log: %s", out, tail);
  hop_pg_destroy(pg);
  return -1;
}

int hop_pg_stop(hop_pg *pg, const char *mode) {
  char out[1024];
  int rc = pg_ctl(pg, "stop", mode ? mode : "fast", out, sizeof(out));
  if (rc == 0) pg->running = 0;
  return rc == 0 ? 0 : -1;
}

int hop_pg_resume(hop_pg *pg) {
  char out[1024];
  int rc = pg_ctl(pg, "start", NULL, out, sizeof(out));
  if (rc == 0) pg->running = 1;
  return rc == 0 ? 0 : -1;
}

int hop_pg_restart(hop_pg *pg, const char *mode) {
  char out[1024];
  int rc = pg_ctl(pg, "restart", mode ? mode : "fast", out, sizeof(out));
  pg->running = rc == 0;
  return rc == 0 ? 0 : -1;
}

int hop_pg_psql(hop_pg *pg, const char *sql, char *out, size_t outlen) {
  char bin[256], port[16];
  snprintf(bin, sizeof(bin), "%s/psql", hop_pg_bindir());
  snprintf(port, sizeof(port), "%u", pg->port);
  char *argv[] = {bin, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                  "-p", port, "-U", "postgres", "-d", "postgres", "-c", (char *)sql, NULL};
  char buf[8192];
  int rc = run(NULL, "/", argv, buf, sizeof(buf), 30000);
  size_t n = strlen(buf);
  while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = '\0';
  if (out && outlen) snprintf(out, outlen, "%s", buf);
  return rc;
}

int hop_pg_terminate(hop_pg *pg, const char *app_like) {
  for (const char *c = app_like; *c; c++)
    if (*c == '\'') return -1; /* test names only: no quoting games */
  char sql[512], out[64];
  snprintf(sql, sizeof(sql),
           "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
           "WHERE backend_type = 'client backend' AND application_name LIKE '%s'",
           app_like);
  if (hop_pg_psql(pg, sql, out, sizeof(out)) != 0) return -1;
  return atoi(out);
}

void hop_pg_destroy(hop_pg *pg) {
  int slot = -1;
  for (int i = 0; i < MAX_SERVERS; i++)
    if (registry[i] == pg) slot = i;
  if (slot < 0) return; /* never started, or destroyed already */
  if (pg->data[0]) {
    read_postmaster(pg);
    if (pg->postmaster > 1) {
      char out[512];
      pg_ctl(pg, "stop", "fast", out, sizeof(out));
      read_postmaster(pg);
    }
    if (pg->postmaster > 1 && kill(pg->postmaster, 0) == 0) {
      kill(pg->postmaster, SIGQUIT);
      for (int t = 0; t < 100 && kill(pg->postmaster, 0) == 0; t++) {
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
      }
      kill(pg->postmaster, SIGKILL);
    }
  }
  pg->running = 0;
  pg->postmaster = 0;
  if (pg->dir[0]) {
    char *argv[] = {"/bin/rm", "-rf", pg->dir, NULL};
    run(NULL, "/", argv, NULL, 0, 30000);
  }
  stop_guardian(pg);
  registry[slot] = NULL;
}
