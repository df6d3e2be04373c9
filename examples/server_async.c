/* An RPC server whose handler answers later, from another thread. The handler (on a server
 * worker's loop) only queues the request; an answering thread replies with hop_rpc_reply(),
 * which any thread may call, exactly once per request. SIGTERM or SIGINT drains and exits 0.
 *
 *   ./server_async 127.0.0.1:8080        (port 0: any; prints "listening on HOST:PORT")
 *   hopwire call http://127.0.0.1:8080/example.v1.Greeter/Hello -d '{"name":"ada"}'
 *
 * Build: cc server_async.c $(pkg-config --cflags --libs hopwire) -pthread */
#include <hopwire/hopwire.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QCAP 1024   /* bounded: a full queue answers resource_exhausted at once */
#define MAX_MSG 1024 /* request message cap, enforced by the router (hop_rpc_server_config) */

struct queue { /* requests waiting for the answering thread */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  hop_rpc_request *q[QCAP];
  size_t head, n;
  int done;
};

/* Runs on the worker loop that owns the request: queue it, never block here. */
static void hello(hop_rpc_request *rq, void *user_data) {
  struct queue *box = user_data;
  if (hop_rpc_request_codec(rq) != HOP_CODEC_JSON) {
    hop_rpc_fail(rq, HOP_CODE_INVALID_ARGUMENT, "this example speaks JSON", NULL, 0);
    return;
  }
  pthread_mutex_lock(&box->mu);
  int full = box->n == QCAP;
  if (!full) box->q[(box->head + box->n++) % QCAP] = rq, pthread_cond_signal(&box->cv);
  pthread_mutex_unlock(&box->mu);
  if (full) hop_rpc_fail(rq, HOP_CODE_RESOURCE_EXHAUSTED, "too many requests queued", NULL, 0);
}

/* The answering thread: {"greeting":"hello from another thread","request":<the request>}. */
static void *answerer(void *arg) {
  struct queue *box = arg;
  for (;;) {
    pthread_mutex_lock(&box->mu);
    while (!box->n && !box->done) pthread_cond_wait(&box->cv, &box->mu);
    hop_rpc_request *rq = box->n ? box->q[box->head] : NULL;
    if (rq) box->head = (box->head + 1) % QCAP, box->n--;
    pthread_mutex_unlock(&box->mu);
    if (!rq) return NULL; /* done and drained */
    size_t len;
    const uint8_t *msg = hop_rpc_request_message(rq, &len); /* valid until the reply */
    char out[MAX_MSG + 128];
    int n = snprintf(out, sizeof(out), "{\"greeting\":\"%s\",\"request\":%.*s}",
                     "hello from another thread", (int)len, (const char *)msg); /* JSON: checked */
    hop_rpc_reply(rq, out, (size_t)n); /* copies out; rq is gone afterwards */
  }
}

int main(int argc, char **argv) {
  char host[256];
  const char *colon = argc == 2 ? strrchr(argv[1], ':') : NULL;
  if (!colon || (size_t)(colon - argv[1]) >= sizeof(host)) {
    fprintf(stderr, "usage: %s HOST:PORT\n", argv[0]);
    return 2;
  }
  snprintf(host, sizeof(host), "%.*s", (int)(colon - argv[1]), argv[1]);
  hop_server_config cfg;
  hop_server_config_init(&cfg);
  cfg.host = host;
  cfg.port = (uint16_t)atoi(colon + 1);
  cfg.handle_signals = 1; /* SIGTERM/SIGINT: graceful drain, then hop_server_wait returns */
  hop_server *srv;
  hop_rpc_server *rpc; /* the RPC router on top of srv */
  hop_rpc_server_config rcfg;
  hop_rpc_server_config_init(&rcfg);
  rcfg.max_message_size = MAX_MSG;
  struct queue box = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
  pthread_t tid; /* the answering thread */
  char addr[300];
  int rc;
  if ((rc = hop_server_new(&srv, &cfg)) || (rc = hop_rpc_server_new(&rpc, srv, &rcfg)) ||
      (rc = hop_rpc_server_handle(rpc, "/example.v1.Greeter/Hello", hello, &box, 0)) ||
      (rc = pthread_create(&tid, NULL, answerer, &box) ? HOP_ENOMEM : 0) ||
      (rc = hop_server_start(srv)) || (rc = hop_server_address(srv, addr, sizeof(addr)))) {
    fprintf(stderr, "server: %s\n", hop_strerror(rc));
    return 1;
  }
  printf("listening on %s\n", addr);
  fflush(stdout);
  hop_server_wait(srv); /* until a signal's drain has finished */

  pthread_mutex_lock(&box.mu);
  box.done = 1, pthread_cond_signal(&box.cv);
  pthread_mutex_unlock(&box.mu);
  pthread_join(tid, NULL); /* answers what is still queued (respond after stop is a no-op) */
  hop_server_free(srv);
  hop_rpc_server_free(rpc); /* the router outlives the server */
  return 0;
}
