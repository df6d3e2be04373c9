/* Header list helpers. */
#include <strings.h>
#include <string.h>

#include "hopwire/types.h"

const char *hop_headers_get(const hop_header *hs, size_t n, const char *name, size_t *len) {
  size_t nl = strlen(name);
  for (size_t i = 0; i < n; i++) {
    if (hs[i].name_len == nl && strncasecmp(hs[i].name, name, nl) == 0) {
      if (len) *len = hs[i].value_len;
      return hs[i].value;
    }
  }
  return NULL;
}
