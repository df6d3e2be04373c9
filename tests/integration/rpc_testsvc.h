/* The interop test service (tests/interop/test.proto) on hopwire's RPC server, plus helpers
 * for running the Node.js peers. Header-only: included by the test_rpc_* integration tests. */
#ifndef HOP_TEST_RPC_TESTSVC_H
#define HOP_TEST_RPC_TESTSVC_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "hopwire/rpc.h"
#include "rpc/json.h"
#include "hoptest.h"

#define TESTSVC "/hopwire.test.v1.TestService/"

/* ---- tiny protobuf reading/writing for the test messages ---- */
static int tsv_varint(const uint8_t *p, size_t len, size_t *off, uint64_t *v) {
  uint64_t x = 0;
  for (int s = 0; s < 64; s += 7) {
    if (*off >= len) return -1;
    uint8_t b = p[(*off)++];
    x |= (uint64_t)(b & 0x7f) << s;
    if (!(b & 0x80)) {
      *v = x;
      return 0;
    }
  }
  return -1;
}

/* Reads varint field |vf| and string field |sf| of a flat message. */
static int tsv_proto_fields(const uint8_t *p, size_t len, unsigned vf, int64_t *vout, unsigned sf,
                            const uint8_t **s, size_t *slen) {
  size_t off = 0;
  while (off < len) {
    uint64_t key, v;
    if (tsv_varint(p, len, &off, &key)) return -1;
    if ((key & 7) == 0) {
      if (tsv_varint(p, len, &off, &v)) return -1;
      if ((key >> 3) == vf && vout) *vout = (int64_t)(int32_t)v;
    } else if ((key & 7) == 2) {
      if (tsv_varint(p, len, &off, &v) || v > len - off) return -1;
      if ((key >> 3) == sf && s) {
        *s = p + off;
        *slen = (size_t)v;
      }
      off += (size_t)v;
    } else {
      return -1;
    }
  }
  return 0;
}

static void tsv_put_varint(hop_buf *b, uint64_t v) {
  do {
    uint8_t c = (uint8_t)(v & 0x7f);
    v >>= 7;
    if (v) c |= 0x80;
    hop_buf_append(b, &c, 1);
  } while (v);
}

/* JSON: reads number key |nk| and string key |sk| of a flat object. */
static int tsv_json_fields(const uint8_t *p, size_t len, const char *nk, int64_t *nv,
                           const char *sk, hop_buf *sv) {
  hop_json j;
  hop_json_init(&j, (const char *)p, len);
  hop_buf key;
  hop_buf_init(&key, 256);
  int rc = -1;
  if (!hop_json_eat(&j, '{')) goto out;
  if (hop_json_eat(&j, '}')) {
    rc = 0;
    goto out;
  }
  for (;;) {
    hop_buf_clear(&key);
    if (hop_json_string(&j, &key) || !hop_json_eat(&j, ':')) goto out;
    hop_json_ws(&j);
    if (nk && key.len == strlen(nk) && !memcmp(key.data, nk, key.len)) {
      /* proto3 JSON may quote int64 but not int32; accept both */
      int quoted = hop_json_eat(&j, '"');
      char *end;
      *nv = strtoll(j.p, &end, 10);
      j.p = end;
      if (quoted && !hop_json_eat(&j, '"')) goto out;
    } else if (sk && key.len == strlen(sk) && !memcmp(key.data, sk, key.len)) {
      if (hop_json_string(&j, sv)) goto out;
    } else if (hop_json_skip(&j)) {
      goto out;
    }
    if (hop_json_eat(&j, ',')) continue;
    if (hop_json_eat(&j, '}')) break;
    goto out;
  }
  rc = 0;
out:
  hop_buf_free(&key);
  return rc;
}

/* ---- handlers ---- */
/* Echo; with request header x-want-trailer: V it also answers header x-echo-header: V and
 * trailer x-echo-trailer: V (interop of handler trailers). */
static void tsv_echo(hop_rpc_request *rq, void *ud) {
  size_t len, vl = 0;
  const uint8_t *m = hop_rpc_request_message(rq, &len);
  const char *v = hop_rpc_request_header(rq, "x-want-trailer");
  if (!v) {
    hop_rpc_reply(rq, m, len);
    return;
  }
  vl = strlen(v);
  hop_header md = {"x-echo-header", 13, v, vl};
  hop_header tr = {"x-echo-trailer", 14, v, vl};
  hop_rpc_reply_trailers(rq, m, len, &md, 1, &tr, 1);
}

static void tsv_fail(hop_rpc_request *rq, void *ud) {
  size_t len;
  const uint8_t *m = hop_rpc_request_message(rq, &len);
  int64_t code = 0;
  hop_buf msg;
  hop_buf_init(&msg, 1 << 20);
  int rc;
  if (hop_rpc_request_codec(rq) == HOP_CODEC_JSON) {
    rc = tsv_json_fields(m, len, "code", &code, "message", &msg);
  } else {
    const uint8_t *s = NULL;
    size_t sl = 0;
    rc = tsv_proto_fields(m, len, 1, &code, 2, &s, &sl);
    if (!rc && s) hop_buf_append(&msg, s, sl);
  }
  hop_buf_append(&msg, "", 1); /* NUL */
  if (rc || code < 1 || code > 16) {
    hop_rpc_fail(rq, HOP_CODE_INVALID_ARGUMENT, "bad FailRequest", NULL, 0);
    hop_buf_free(&msg);
    return;
  }
  /* ErrorInfo{reason = message, code = code} */
  hop_buf info;
  hop_buf_init(&info, 1 << 20);
  size_t mlen = msg.len - 1;
  if (mlen) {
    tsv_put_varint(&info, 1 << 3 | 2);
    tsv_put_varint(&info, mlen);
    hop_buf_append(&info, msg.data, mlen);
  }
  tsv_put_varint(&info, 2 << 3 | 0);
  tsv_put_varint(&info, (uint64_t)code);
  hop_rpc_detail d = {"hopwire.test.v1.ErrorInfo", 25, info.data, info.len};
  hop_rpc_fail(rq, (hop_code)code, (const char *)msg.data, &d, 1);
  hop_buf_free(&info);
  hop_buf_free(&msg);
}

typedef struct tsv_slow {
  uv_timer_t t;
  hop_rpc_request *rq;
} tsv_slow;

static void tsv_slow_done(uv_timer_t *t) {
  tsv_slow *s = (tsv_slow *)t;
  int json = hop_rpc_request_codec(s->rq) == HOP_CODEC_JSON;
  if (json)
    hop_rpc_reply(s->rq, "{\"text\":\"slow\"}", 15);
  else
    hop_rpc_reply(s->rq, "\x0a\x04slow", 6);
  uv_close((uv_handle_t *)t, (uv_close_cb)free);
}

static void tsv_slow_h(hop_rpc_request *rq, void *ud) {
  size_t len;
  const uint8_t *m = hop_rpc_request_message(rq, &len);
  int64_t delay = 0;
  int rc = hop_rpc_request_codec(rq) == HOP_CODEC_JSON
               ? tsv_json_fields(m, len, "delayMs", &delay, NULL, NULL)
               : tsv_proto_fields(m, len, 1, &delay, 0, NULL, NULL);
  if (rc || delay < 0 || delay > 60000) {
    hop_rpc_fail(rq, HOP_CODE_INVALID_ARGUMENT, "bad SlowRequest", NULL, 0);
    return;
  }
  tsv_slow *s = malloc(sizeof(*s));
  uv_timer_init(hop_rpc_request_loop(rq), &s->t);
  s->rq = rq;
  uv_timer_start(&s->t, tsv_slow_done, (uint64_t)delay, 0);
}

static int tsv_register(hop_rpc_server *rs) {
  int rc = hop_rpc_server_handle(rs, TESTSVC "Echo", tsv_echo, NULL, HOP_RPC_IDEMPOTENT);
  if (!rc) rc = hop_rpc_server_handle(rs, TESTSVC "Fail", tsv_fail, NULL, 0);
  if (!rc) rc = hop_rpc_server_handle(rs, TESTSVC "Slow", tsv_slow_h, NULL, 0);
  return rc;
}

/* ---- Node peers ---- */
/* The interop directory; fails loudly (never skips) when node_modules is missing. */
static const char *tsv_interop_dir(void) {
  static char dir[4096];
  const char *src = getenv("HOP_SOURCE_DIR");
  snprintf(dir, sizeof(dir), "%s/tests/interop", src ? src : ".");
  char nm[4200];
  snprintf(nm, sizeof(nm), "%s/node_modules/@connectrpc/connect-node", dir);
  struct stat stt;
  if (stat(nm, &stt) != 0) {
    fprintf(stderr, "FAIL: %s is missing: run scripts/setup.sh (npm ci in tests/interop)\n", nm);
    return NULL;
  }
  return dir;
}

/* Runs `node SCRIPT ARGS...` in the interop dir, waits up to |timeout_s|, returns its exit
 * status (-1 on timeout or spawn failure). Output goes to our stdout (ctest shows it). */
__attribute__((unused)) static int tsv_run_node(int timeout_s, char *const argv[]) {
  const char *dir = tsv_interop_dir();
  if (!dir) return -1;
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (chdir(dir) != 0) _exit(126);
    execvp("node", argv);
    _exit(127);
  }
  for (int i = 0; i < timeout_s * 20; i++) {
    int st;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  fprintf(stderr, "node %s timed out\n", argv[1]);
  return -1;
}

/* Absolute path of `node` from PATH (hop_child_spawn execs without a PATH search). */
static const char *tsv_node_path(void) {
  static char path[4096];
  const char *env = getenv("PATH");
  char buf[8192];
  snprintf(buf, sizeof(buf), "%s", env ? env : "/usr/local/bin:/usr/bin:/bin");
  for (char *save = NULL, *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
    snprintf(path, sizeof(path), "%s/node", d);
    if (access(path, X_OK) == 0) return path;
  }
  return "/usr/bin/node";
}

/* Starts a Node server script (absolute path under tests/interop) and waits for its
 * "listening on" line. Returns 0 with |c| filled, or -1 (also when node_modules is missing). */
__attribute__((unused)) static int tsv_start_node_server(hop_child *c, const char *script, const char *arg1,
                                 const char *arg2) {
  const char *dir = tsv_interop_dir();
  if (!dir) return -1;
  static char sp[4200];
  snprintf(sp, sizeof(sp), "%s/%s", dir, script);
  char *argv[] = {(char *)tsv_node_path(), sp, (char *)arg1, (char *)arg2, NULL};
  return hop_child_spawn(c, argv, 1);
}

#endif
