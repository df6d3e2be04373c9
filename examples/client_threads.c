/* A blocking client shared by threads: each thread makes unary RPCs one after another with
 * hop_rpc_call(), which blocks only the calling thread. The client multiplexes all of them
 * over one h2c connection (the summary line shows the dials).
 *
 *   hopwire serve --listen 127.0.0.1:8080 &
 *   ./client_threads http://127.0.0.1:8080 [THREADS] [CALLS_PER_THREAD]
 *
 * Build: cc client_threads.c $(pkg-config --cflags --libs hopwire) -pthread */
#include <hopwire/hopwire.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* `hopwire serve` answers this procedure with the request message itself. */
#define ECHO_RPC "/hopwire.bench.v1.BenchService/Echo"

struct worker {
  pthread_t tid;
  hop_client *client; /* one client for every thread: it is thread-safe */
  const char *base_url;
  int id, calls, ok;
};

static void *run(void *arg) {
  struct worker *w = arg;
  for (int i = 0; i < w->calls; i++) {
    char msg[64];
    int len = snprintf(msg, sizeof(msg), "{\"thread\":%d,\"call\":%d}", w->id, i);
    hop_rpc_call_opts o;
    hop_rpc_call_opts_init(&o);
    o.base_url = w->base_url;
    o.procedure = ECHO_RPC;
    o.codec = HOP_CODEC_JSON;
    o.message = msg;
    o.message_len = (size_t)len;
    o.timeout_ms = 5000;
    hop_rpc_result res;
    hop_rpc_call(w->client, &o, &res); /* always fills res; res.code tells the outcome */
    if (res.code == HOP_CODE_OK && res.message_len == (size_t)len &&
        !memcmp(res.message, msg, (size_t)len))
      w->ok++;
    else
      fprintf(stderr, "thread %d call %d: %s: %s (%s)\n", w->id, i, hop_code_name(res.code),
              res.error_message, hop_strerror(res.err));
    hop_rpc_result_free(&res);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s http://HOST:PORT [THREADS] [CALLS_PER_THREAD]\n", argv[0]);
    return 2;
  }
  int nthreads = argc > 2 ? atoi(argv[2]) : 8, calls = argc > 3 ? atoi(argv[3]) : 25;
  if (nthreads < 1 || nthreads > 1000 || calls < 0) return 2;

  hop_client_config cfg;
  hop_client_config_init(&cfg); /* h2c first, HTTP/1.1 if the peer wants; own I/O thread */
  hop_client *client;
  int rc = hop_client_new(&client, &cfg);
  if (rc != HOP_OK) {
    fprintf(stderr, "hop_client_new: %s\n", hop_strerror(rc));
    return 1;
  }
  struct worker *w = calloc((size_t)nthreads, sizeof(*w));
  if (!w) return 1;
  for (int t = 0; t < nthreads; t++) {
    w[t] = (struct worker){.client = client, .base_url = argv[1], .id = t, .calls = calls};
    if (pthread_create(&w[t].tid, NULL, run, &w[t])) return 1;
  }
  int ok = 0;
  for (int t = 0; t < nthreads; t++) {
    pthread_join(w[t].tid, NULL);
    ok += w[t].ok;
  }
  hop_client_stats st;
  hop_client_get_stats(client, &st);
  hop_latency lat;
  hop_client_get_latency(client, &lat);
  printf("ok: %d/%d calls from %d threads, %llu dial(s), p99 %llu us (hopwire %s)\n", ok,
         nthreads * calls, nthreads, (unsigned long long)st.dials_started,
         (unsigned long long)lat.p99_us, hop_version());
  hop_client_free(client);
  free(w);
  return ok == nthreads * calls ? 0 : 1;
}
