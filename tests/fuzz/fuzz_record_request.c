/* libFuzzer: a RecordRequest / RecordActionEventsRequest body as the run-service gets it,
 * decoded (hop_ev_decode: the outer scan, the wire check of every event, the keys) and, when
 * it decodes, stored through the real store (SQLite in a tmpfs file, synchronous off): the
 * whole path up to the INSERT. The same bytes are also tried as Connect JSON
 * (hop_ev_json_to_request), and whatever converts is decoded and stored too; a stored event
 * is read back as JSON (hop_ev_event_to_json). Nothing may crash, leak or hang. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "events/codec.h"
#include "events/store.h"

static hop_store *store;
static char path[64];

static void drop_store(void) {
  if (store) hop_store_close(store);
  store = NULL;
  static const char *const sfx[] = {"", "-wal", "-shm"};
  char p[96];
  for (int i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s%s", path, sfx[i]);
    unlink(p);
  }
}

static void open_store(void) {
  snprintf(path, sizeof path, "/dev/shm/hop-fuzz-rr-%d.db", (int)getpid());
  char url[96], err[256];
  snprintf(url, sizeof url, "sqlite:%s", path);
  hop_store_config cfg;
  hop_store_config_init(&cfg);
  cfg.url = url;
  cfg.sqlite_synchronous = 0;
  if (hop_store_open(&store, &cfg, err, sizeof err)) {
    fprintf(stderr, "fuzz_record_request: %s\n", err);
    abort();
  }
  atexit(drop_store);
}

static void decode_and_store(const uint8_t *body, size_t len) {
  hop_ev_batch b;
  char err[256];
  if (hop_ev_decode(body, len, 4096, &b, err, sizeof err)) return;
  if (b.n) {
    hop_store_result res;
    char msg[256];
    if (hop_store_insert(store, b.rows, b.n, &res, msg, sizeof msg) == 0 && res.code != 0)
      abort(); /* a decoded batch must store (tmpfs has room for the capped input) */
    char *json = NULL;
    size_t jl = 0;
    if (hop_ev_event_to_json(b.rows[0].info, b.rows[0].info_len, &json, &jl) == 0) free(json);
  }
  hop_ev_batch_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!store) open_store();
  decode_and_store(data, size);
  uint8_t *bin = NULL;
  size_t blen = 0;
  char err[256];
  if (hop_ev_json_to_request((const char *)data, size, 1u << 20, &bin, &blen, err, sizeof err) == 0) {
    decode_and_store(bin, blen);
    free(bin);
  }
  return 0;
}
