/* hopwire client: prepared targets (a URL parsed once, shared by calls). */
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"
#include "core/url.h"

int hop_target_new(hop_target **out, const char *url) {
  if (!out) return HOP_EINVAL;
  *out = NULL;
  if (!url) return HOP_EINVAL;
  hop_url *u = malloc(sizeof(*u)); /* ~8.5 KiB: once per target, not on the stack */
  if (!u) return HOP_ENOMEM;
  int rv = hop_url_parse(url, u);
  if (rv) {
    free(u);
    return rv;
  }
  size_t hl = strlen(u->host) + 1, al = strlen(u->authority) + 1, pl = strlen(u->path) + 1;
  hop_target *t = malloc(sizeof(*t) + hl + al + pl);
  if (!t) {
    free(u);
    return HOP_ENOMEM;
  }
  char *p = (char *)(t + 1);
  t->host = memcpy(p, u->host, hl);
  t->authority = memcpy(p + hl, u->authority, al);
  t->path = memcpy(p + hl + al, u->path, pl);
  t->authority_len = al - 1;
  t->path_len = pl - 1;
  t->port = u->port;
  atomic_init(&t->refs, 1);
  free(u);
  *out = t;
  return HOP_OK;
}

void hop_target_free(hop_target *t) {
  if (t && atomic_fetch_sub(&t->refs, 1) == 1) free(t);
}
