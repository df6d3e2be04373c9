/* hopwire: small value types shared by the client, server and RPC layers. */
#ifndef HOPWIRE_TYPES_H
#define HOPWIRE_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "hopwire/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A header field. Names are lower-case on HTTP/2; lookups are case-insensitive.
 * Strings need not be NUL-terminated (lengths rule), but every header hopwire hands
 * out IS NUL-terminated for convenience. Borrowed: valid as long as the owner says. */
typedef struct hop_header {
  const char *name;
  size_t name_len;
  const char *value;
  size_t value_len;
} hop_header;

/* Helper for literal initialisation: HOP_HEADER("content-type", "application/proto"). */
#define HOP_HEADER(n, v) { (n), sizeof(n) - 1, (v), sizeof(v) - 1 }

typedef enum hop_proto {
  HOP_PROTO_H1 = 1, /* HTTP/1.1 */
  HOP_PROTO_H2C = 2 /* HTTP/2 over cleartext, prior knowledge */
} hop_proto;

/* Case-insensitive lookup of |name| in |hs|; NULL when absent. Sets *len if found. */
HOP_EXPORT const char *hop_headers_get(const hop_header *hs, size_t n, const char *name,
                                       size_t *len);

#ifdef __cplusplus
}
#endif
#endif
