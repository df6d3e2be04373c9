/* An event producer: threads record Flyte ActionEvents through one hop_event_batcher, which
 * groups them into EventsProxyService/Record RPCs (adaptive policy: no fixed wait, batches
 * grow with load) and wakes each recorder when its batch is acknowledged.
 *
 *   hopwire run-service --listen 127.0.0.1:8090 --store sqlite:events.db &
 *   hopwire events-proxy --listen 127.0.0.1:8092 --run-service http://127.0.0.1:8090 &
 *   ./event_producer http://127.0.0.1:8092 [THREADS] [EVENTS_PER_THREAD]
 *
 * Build: cc event_producer.c $(pkg-config --cflags --libs hopwire) -pthread */
#include <hopwire/hopwire.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* A real producer encodes flyteidl2.workflow.ActionEvent with its generated protobuf code;
 * to stay self-contained this one writes the few key fields by hand: id (1) = {run (1) =
 * {project (2), domain (3), name (4)}, name (2)}, attempt (2), phase (3). */
static size_t put_str(unsigned char *p, int field, const char *s, size_t n) {
  p[0] = (unsigned char)(field << 3 | 2);
  p[1] = (unsigned char)n;
  for (size_t i = 0; i < n; i++) p[2 + i] = (unsigned char)s[i];
  return n + 2;
}

static size_t encode_event(unsigned char *out, int thread, int i) {
  unsigned char run[64], id[96];
  char action[24];
  size_t rn = 0, in = 0, n = 0;
  rn += put_str(run + rn, 2, "examples", 8);
  rn += put_str(run + rn, 3, "development", 11);
  rn += put_str(run + rn, 4, "producer-run", 12);
  in += put_str(id + in, 1, (const char *)run, rn);
  in += put_str(id + in, 2, action, (size_t)snprintf(action, sizeof(action), "t%d-e%d", thread, i));
  n += put_str(out + n, 1, (const char *)id, in);
  out[n++] = 2 << 3, out[n++] = 1; /* attempt 1 */
  out[n++] = 3 << 3, out[n++] = 4; /* ACTION_PHASE_RUNNING */
  return n;
}

struct worker {
  pthread_t tid;
  hop_event_batcher *b; /* shared by every thread */
  int id, events, ok;
};

static void *run(void *arg) {
  struct worker *w = arg;
  for (int i = 0; i < w->events; i++) {
    unsigned char ev[160];
    size_t len = encode_event(ev, w->id, i);
    hop_code code = HOP_CODE_OK;
    int rv = hop_event_record(w->b, ev, len, 10000, &code); /* blocks until acknowledged */
    if (rv == HOP_OK) w->ok++;
    else fprintf(stderr, "thread %d event %d: %s (%s)\n", w->id, i, hop_strerror(rv), hop_code_name(code));
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s http://HOST:PORT [THREADS] [EVENTS_PER_THREAD]\n", argv[0]);
    return 2;
  }
  int threads = argc > 2 ? atoi(argv[2]) : 4, per = argc > 3 ? atoi(argv[3]) : 50;
  if (threads < 1 || threads > 64 || per < 1) return 2;
  hop_client_config cc;
  hop_client_config_init(&cc);
  cc.http = HOP_HTTP_H2C;
  hop_client *c;
  if (hop_client_new(&c, &cc) != HOP_OK) return 1;
  hop_event_batcher_config bc;
  hop_event_batcher_config_init(&bc, HOP_BATCH_ADAPTIVE);
  bc.client = c;
  bc.base_url = argv[1];
  hop_event_batcher *b;
  if (hop_event_batcher_new(&b, &bc) != HOP_OK) return 1;
  struct worker w[64];
  for (int i = 0; i < threads; i++) {
    w[i] = (struct worker){.b = b, .id = i, .events = per};
    pthread_create(&w[i].tid, NULL, run, &w[i]);
  }
  int ok = 0;
  for (int i = 0; i < threads; i++) pthread_join(w[i].tid, NULL), ok += w[i].ok;
  hop_event_batcher_stats st;
  hop_event_batcher_get_stats(b, &st);
  hop_event_batcher_free(b);
  hop_client_free(c);
  printf("%s: %d/%d events acknowledged in %llu batches (largest %llu)\n",
         ok == threads * per ? "ok" : "FAIL", ok, threads * per,
         (unsigned long long)st.batches_ok, (unsigned long long)st.max_batch);
  return ok == threads * per ? 0 : 1;
}
