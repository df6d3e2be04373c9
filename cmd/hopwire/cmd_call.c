/* hopwire call: one Connect / gRPC / gRPC-Web unary call from the command line (like buf curl
 * or grpcurl without reflection). Also a hidden bounded load mode (--repeat N
 * --concurrency C) that prints calls/s, used by scripts/bench-rpc.sh. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "common/duration.h"
#include "hopwire/client.h"
#include "hopwire/error.h"
#include "hopwire/rpc.h"
#include "hopwire/stats.h"

#define MAX_HEADERS 64
#define CALL_MAX_INPUT (64u * 1024 * 1024)

static void usage(FILE *f) {
  fprintf(f,
          "usage: hopwire call URL [options]\n"
          "\n"
          "Makes one unary RPC to URL = http://HOST:PORT/package.Service/Method and prints the\n"
          "response message on stdout (JSON as it came, protobuf as raw bytes). On an RPC\n"
          "error prints 'CODE: message' on stderr and exits 1.\n"
          "\n"
          "options:\n"
          "  -d, --data DATA|@FILE   request message (@- reads stdin); default {} (JSON) or empty\n"
          "      --json              JSON codec (application/json...; default)\n"
          "      --proto             protobuf binary codec (the bytes are passed as they are)\n"
          "      --protocol P        connect (default), grpc or grpc-web\n"
          "      --http MODE         h1 or h2c (default: h2c first, HTTP/1.1 if the peer wants)\n"
          "  -H, --header 'K: V'     extra request header (repeatable)\n"
          "      --timeout DUR       deadline, sent to the server too (default 5s; 0 = none)\n"
          "      --gzip              compress the request (any size)\n"
          "      --get               Connect GET (message in the URL; side-effect-free methods)\n"
          "  -v, --verbose           print request and response headers and trailers on stderr\n"
          "      --help              this text\n"
          "\n"
          "exit status: 0 ok, 1 RPC or transport error, 2 bad usage.\n");
}

/* The request message: |arg| itself, or the contents of file @PATH (@- = stdin), at most
 * CALL_MAX_INPUT bytes. *out (malloc'ed, NULL when empty) goes to the caller. */
static int read_input(const char *arg, uint8_t **out, size_t *len) {
  *out = NULL;
  *len = 0;
  if (arg[0] != '@') {
    size_t n = strlen(arg);
    if (n > CALL_MAX_INPUT) return HOP_ETOOBIG;
    if (n && !(*out = malloc(n))) return HOP_ENOMEM;
    memcpy(*out, arg, n);
    *len = n;
    return 0;
  }
  FILE *f = strcmp(arg + 1, "-") ? fopen(arg + 1, "rb") : stdin;
  if (!f) return -errno;
  uint8_t *b = NULL;
  size_t n = 0, cap = 0;
  int rc = 0;
  for (;;) {
    if (n == cap) {
      size_t ncap = cap ? cap * 2 : 65536;
      if (ncap > CALL_MAX_INPUT + 1) ncap = CALL_MAX_INPUT + 1; /* one more: detects too big */
      if (ncap == cap) {
        rc = HOP_ETOOBIG;
        break;
      }
      uint8_t *nb = realloc(b, ncap);
      if (!nb) {
        rc = HOP_ENOMEM;
        break;
      }
      b = nb;
      cap = ncap;
    }
    size_t r = fread(b + n, 1, cap - n, f);
    if (r == 0) break;
    n += r;
  }
  if (!rc && n > CALL_MAX_INPUT) rc = HOP_ETOOBIG;
  if (!rc && ferror(f)) rc = -EIO;
  if (f != stdin) fclose(f);
  if (rc) {
    free(b);
    return rc;
  }
  *out = b;
  *len = n;
  return 0;
}

/* Splits "http://h:p/prefix/pkg.Svc/Method" into base "http://h:p/prefix" and
 * procedure "/pkg.Svc/Method". */
static int split_url(const char *url, char **base, const char **proc) {
  if (strncmp(url, "http://", 7)) return -1;
  const char *path = strchr(url + 7, '/');
  if (!path) return -1;
  const char *end = url + strlen(url);
  while (end > path + 1 && end[-1] == '/') end--;
  const char *last = end;
  int slashes = 0;
  while (last > path) {
    last--;
    if (*last == '/' && ++slashes == 2) break;
  }
  if (slashes != 2 || last[1] == '/' || end[-1] == '/') return -1;
  *base = strndup(url, (size_t)(last - url));
  *proc = last;
  return *base ? 0 : -1;
}

static void print_headers(const char *what, const hop_header *h, size_t n) {
  for (size_t i = 0; i < n; i++)
    fprintf(stderr, "%s %.*s: %.*s\n", what, (int)h[i].name_len, h[i].name, (int)h[i].value_len,
            h[i].value);
}

/* ---- bounded load (hidden) ---- */
typedef struct load {
  hop_client *c;
  hop_rpc_call_opts o;
  uint64_t total, started, done, ok;
  uint64_t first_err_code;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  hop_hist *hist;
} load;

typedef struct load_call {
  load *l;
  uint64_t t0;
} load_call;

static void load_start_one(load *l);

static void load_done(const hop_rpc_result *r, void *ud) {
  load_call *lc = ud;
  load *l = lc->l;
  uint64_t dt = hop_now_us() - lc->t0;
  free(lc);
  pthread_mutex_lock(&l->mu);
  hop_hist_record(l->hist, dt);
  l->done++;
  if (r->code == HOP_CODE_OK)
    l->ok++;
  else if (!l->first_err_code)
    l->first_err_code = (uint64_t)r->code + 1;
  int more = l->started < l->total;
  if (more) l->started++;
  if (l->done == l->total) pthread_cond_signal(&l->cv);
  pthread_mutex_unlock(&l->mu);
  if (more) load_start_one(l);
}

static void load_start_one(load *l) {
  load_call *lc = malloc(sizeof(*lc));
  int rc = lc ? HOP_OK : HOP_ENOMEM;
  if (lc) {
    lc->l = l;
    lc->t0 = hop_now_us();
    rc = hop_rpc_call_start(l->c, &l->o, load_done, lc, NULL);
  }
  if (rc) { /* counts as a failed call */
    free(lc);
    pthread_mutex_lock(&l->mu);
    l->done++;
    if (!l->first_err_code) l->first_err_code = (uint64_t)hop_code_from_err(rc) + 1;
    if (l->done == l->total) pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
  }
}

static int run_load(hop_client *c, const hop_rpc_call_opts *o, uint64_t n, uint64_t conc) {
  load l = {.c = c, .o = *o, .total = n};
  pthread_mutex_init(&l.mu, NULL);
  pthread_cond_init(&l.cv, NULL);
  l.hist = hop_hist_new();
  if (!l.hist) return 1;
  if (conc > n) conc = n;
  uint64_t t0 = hop_now_us();
  pthread_mutex_lock(&l.mu);
  l.started = conc;
  pthread_mutex_unlock(&l.mu);
  for (uint64_t i = 0; i < conc; i++) load_start_one(&l);
  pthread_mutex_lock(&l.mu);
  while (l.done < l.total) pthread_cond_wait(&l.cv, &l.mu);
  pthread_mutex_unlock(&l.mu);
  double secs = (double)(hop_now_us() - t0) / 1e6;
  hop_latency lat;
  hop_hist_summary(l.hist, &lat);
  hop_client_stats cs;
  hop_client_get_stats(c, &cs);
  printf("calls=%llu ok=%llu errors=%llu seconds=%.3f calls_per_s=%.0f p50_us=%llu p99_us=%llu "
         "dials=%llu\n",
         (unsigned long long)n, (unsigned long long)l.ok, (unsigned long long)(n - l.ok), secs,
         secs > 0 ? (double)n / secs : 0.0, (unsigned long long)lat.p50_us,
         (unsigned long long)lat.p99_us, (unsigned long long)cs.dials_started);
  if (l.first_err_code)
    fprintf(stderr, "hopwire call: first error: %s\n",
            hop_code_name((hop_code)(l.first_err_code - 1)));
  hop_hist_free(l.hist);
  pthread_mutex_destroy(&l.mu);
  pthread_cond_destroy(&l.cv);
  return l.ok == n ? 0 : 1;
}

int hop_cmd_call(int argc, char **argv) {
  const char *url = NULL, *data = NULL;
  hop_rpc_call_opts o;
  hop_rpc_call_opts_init(&o);
  o.codec = HOP_CODEC_JSON;
  o.timeout_ms = 5000;
  hop_http_mode http = HOP_HTTP_AUTO;
  hop_header hdrs[MAX_HEADERS];
  char *hstore[MAX_HEADERS];
  size_t nh = 0;
  int verbose = 0;
  uint64_t repeat = 0, conc = 1;
  int rc = 2;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      rc = 0;
      goto out;
    } else if (!strcmp(a, "--json")) {
      o.codec = HOP_CODEC_JSON;
    } else if (!strcmp(a, "--proto")) {
      o.codec = HOP_CODEC_PROTO;
    } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
      verbose = 1;
    } else if (!strcmp(a, "--gzip")) {
      o.gzip = 1;
      o.gzip_min_bytes = 0;
    } else if (!strcmp(a, "--get")) {
      o.use_get = 1;
    } else if (!strcmp(a, "--no-accept-gzip")) { /* hidden: for benchmarks */
      o.no_accept_gzip = 1;
    } else if (a[0] == '-' && strcmp(a, "-")) {
      if (!v) {
        fprintf(stderr, "hopwire call: %s needs a value (or unknown option; see --help)\n", a);
        goto out;
      }
      i++;
      if (!strcmp(a, "-d") || !strcmp(a, "--data")) {
        data = v;
      } else if (!strcmp(a, "--protocol")) {
        if (!strcmp(v, "connect")) o.protocol = HOP_RPC_CONNECT;
        else if (!strcmp(v, "grpc")) o.protocol = HOP_RPC_GRPC;
        else if (!strcmp(v, "grpc-web")) o.protocol = HOP_RPC_GRPC_WEB;
        else {
          fprintf(stderr, "hopwire call: bad --protocol '%s' (connect, grpc or grpc-web)\n", v);
          goto out;
        }
      } else if (!strcmp(a, "--http")) {
        if (!strcmp(v, "h1") || !strcmp(v, "1.1")) http = HOP_HTTP_H1;
        else if (!strcmp(v, "h2c") || !strcmp(v, "2")) http = HOP_HTTP_H2C;
        else {
          fprintf(stderr, "hopwire call: bad --http '%s' (h1 or h2c)\n", v);
          goto out;
        }
      } else if (!strcmp(a, "-H") || !strcmp(a, "--header")) {
        const char *colon = strchr(v, ':');
        if (!colon || colon == v || nh == MAX_HEADERS) {
          fprintf(stderr, "hopwire call: bad header '%s' (want 'Name: value')\n", v);
          goto out;
        }
        char *s = strdup(v);
        if (!s) goto out;
        hstore[nh] = s;
        size_t nl = (size_t)(colon - v);
        for (size_t k = 0; k < nl; k++) s[k] = (char)(s[k] >= 'A' && s[k] <= 'Z' ? s[k] + 32 : s[k]);
        s[nl] = 0;
        const char *val = s + nl + 1;
        while (*val == ' ' || *val == '\t') val++;
        hdrs[nh] = (hop_header){s, nl, val, strlen(val)};
        nh++;
      } else if (!strcmp(a, "--timeout")) {
        uint64_t us;
        if (hop_parse_duration(v, 1000000, &us)) {
          fprintf(stderr, "hopwire call: bad --timeout '%s' (e.g. 5s, 250ms)\n", v);
          goto out;
        }
        o.timeout_ms = (us + 999) / 1000;
      } else if (!strcmp(a, "--repeat") || !strcmp(a, "--concurrency")) { /* hidden: load */
        char *end;
        errno = 0;
        unsigned long long n = strtoull(v, &end, 10);
        if (errno || *end || !n || n > 100000000ull || v[0] == '-') {
          fprintf(stderr, "hopwire call: bad %s '%s'\n", a, v);
          goto out;
        }
        if (a[2] == 'r') repeat = n;
        else conc = n;
      } else {
        fprintf(stderr, "hopwire call: unknown option '%s' (see --help)\n", a);
        goto out;
      }
    } else if (!url) {
      url = a;
    } else {
      fprintf(stderr, "hopwire call: unexpected argument '%s' (see --help)\n", a);
      goto out;
    }
  }
  if (!url) {
    fprintf(stderr, "hopwire call: URL is required (http://HOST:PORT/package.Service/Method)\n");
    goto out;
  }
  char *base = NULL;
  const char *proc = NULL;
  if (split_url(url, &base, &proc)) {
    fprintf(stderr, "hopwire call: bad URL '%s' (want http://HOST:PORT/package.Service/Method)\n",
            url);
    goto out;
  }
  uint8_t *msg = NULL;
  size_t msg_len = 0;
  if (data) {
    int e = read_input(data, &msg, &msg_len);
    if (e) {
      fprintf(stderr, "hopwire call: cannot read %s: %s\n", data,
              e == HOP_ETOOBIG ? "larger than 64 MiB" : strerror(-e));
      free(base);
      rc = 2;
      goto out;
    }
    o.message = msg;
    o.message_len = msg_len;
  } else if (o.codec == HOP_CODEC_JSON) {
    o.message = (const uint8_t *)"{}";
    o.message_len = 2;
  }
  o.base_url = base;
  o.procedure = proc;
  o.metadata = hdrs;
  o.nmetadata = nh;
  o.http = http;
  o.max_message_size = CALL_MAX_INPUT;

  hop_client_config cc;
  hop_client_config_init(&cc);
  cc.http = http;
  hop_client *c;
  int e = hop_client_new(&c, &cc);
  if (e) {
    fprintf(stderr, "hopwire call: %s\n", hop_strerror(e));
    free(base);
    free(msg);
    rc = 1;
    goto out;
  }
  if (repeat) {
    rc = run_load(c, &o, repeat, conc);
  } else {
    if (verbose) {
      fprintf(stderr, "> %s %s (%s, %s, %zu bytes)\n",
              o.use_get && o.protocol == HOP_RPC_CONNECT ? "GET" : "POST", url,
              hop_rpc_protocol_name(o.protocol),
              o.codec == HOP_CODEC_JSON ? "json" : "proto", o.message_len);
      print_headers(">", hdrs, nh);
    }
    hop_rpc_result r;
    e = hop_rpc_call(c, &o, &r);
    if (verbose && r.http_status) {
      fprintf(stderr, "< HTTP status %d\n", r.http_status);
      print_headers("<", r.headers, r.nheaders);
      print_headers("< trailer", r.trailers, r.ntrailers);
    }
    if (e) {
      fprintf(stderr, "hopwire call: %s\n", hop_strerror(e));
      rc = 2;
    } else if (r.code == HOP_CODE_OK) {
      fwrite(r.message, 1, r.message_len, stdout);
      if (o.codec == HOP_CODEC_JSON && isatty(STDOUT_FILENO) &&
          (!r.message_len || r.message[r.message_len - 1] != '\n'))
        fputc('\n', stdout);
      fflush(stdout);
      rc = 0;
    } else {
      fprintf(stderr, "hopwire call: %s: %s\n", hop_code_name(r.code), r.error_message);
      for (size_t i = 0; verbose && i < r.ndetails; i++)
        fprintf(stderr, "  detail %.*s (%zu bytes)\n", (int)r.details[i].type_len,
                r.details[i].type, r.details[i].value_len);
      rc = 1;
    }
    hop_rpc_result_free(&r);
  }
  hop_client_free(c);
  free(base);
  free(msg);
out:
  for (size_t i = 0; i < nh; i++) free(hstore[i]);
  return rc;
}
