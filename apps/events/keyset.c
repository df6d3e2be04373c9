/* A fixed-capacity set of event keys: see keyset.h. */
#include "events/keyset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t hop_fnv1a(const void *p, size_t n, uint64_t h) {
  const unsigned char *s = p;
  for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ull;
  return h;
}

int hop_keyset_init(hop_keyset *ks, size_t n) {
  ks->cap = 16;
  while (ks->cap < n * 2 + 16) ks->cap <<= 1;
  ks->n = 0;
  ks->slot = calloc(ks->cap, sizeof(char *));
  ks->hits = calloc(ks->cap, 1);
  return ks->slot && ks->hits ? 0 : -1;
}

void hop_keyset_free(hop_keyset *ks) {
  for (size_t i = 0; ks->slot && i < ks->cap; i++) free(ks->slot[i]);
  free(ks->slot);
  free(ks->hits);
  ks->slot = NULL;
  ks->hits = NULL;
}

size_t hop_keyset_find(hop_keyset *ks, const char *k, int add) {
  size_t i = (size_t)hop_fnv1a(k, strlen(k), 1469598103934665603ull) & (ks->cap - 1);
  while (ks->slot[i]) {
    if (!strcmp(ks->slot[i], k)) return i;
    i = (i + 1) & (ks->cap - 1);
  }
  if (!add || ks->n * 2 >= ks->cap) return SIZE_MAX;
  ks->slot[i] = strdup(k);
  if (!ks->slot[i]) return SIZE_MAX;
  ks->n++;
  return i;
}

void hop_event_key_str(char *out, size_t n, const char *project, const char *domain,
                       const char *run, const char *action, uint32_t attempt, int32_t phase,
                       uint32_t version) {
  snprintf(out, n, "%s\x1f%s\x1f%s\x1f%s\x1f%u\x1f%d\x1f%u", project, domain, run, action,
           attempt, phase, version);
}
