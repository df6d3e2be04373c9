/* A fixed-capacity set of event keys (the demo's and the fault bench's store checks): every
 * acknowledged event's key goes in, the store's rows are looked up, what was not found is
 * lost. Open addressing over strdup'd keys, capacity fixed at init (>= 2x the keys); each
 * slot carries a byte of flags for the caller. Not thread-safe. */
#ifndef HOP_APPS_EVENTS_KEYSET_H
#define HOP_APPS_EVENTS_KEYSET_H

#include <stddef.h>
#include <stdint.h>

typedef struct hop_keyset {
  char **slot;
  uint8_t *hits; /* the caller's flags per slot */
  size_t cap, n;
} hop_keyset;

/* Room for |n| keys. Returns 0 or -1 (no memory; the set is then safe to free). */
int hop_keyset_init(hop_keyset *ks, size_t n);
void hop_keyset_free(hop_keyset *ks);
/* The slot of |k|, inserting it when |add|; SIZE_MAX when absent (or full, or no memory). */
size_t hop_keyset_find(hop_keyset *ks, const char *k, int add);

/* FNV-1a over |n| bytes, continuing from |h| (1469598103934665603 to start). */
uint64_t hop_fnv1a(const void *p, size_t n, uint64_t h);

/* An event's store key as one string: project, domain, run, action, attempt, phase, version. */
void hop_event_key_str(char *out, size_t n, const char *project, const char *domain,
                       const char *run, const char *action, uint32_t attempt, int32_t phase,
                       uint32_t version);

#endif
