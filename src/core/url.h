/* http:// URL parsing (no userinfo, no fragments kept). */
#ifndef HOP_CORE_URL_H
#define HOP_CORE_URL_H

#include <stdint.h>

#define HOP_URL_HOST_MAX 256
#define HOP_URL_PATH_MAX 8192

typedef struct hop_url {
  char scheme[8];                  /* "http" */
  char host[HOP_URL_HOST_MAX];     /* without IPv6 brackets */
  uint16_t port;                   /* 80 when absent */
  char authority[HOP_URL_HOST_MAX + 8]; /* host[:port] as for :authority / Host */
  char path[HOP_URL_PATH_MAX];     /* "/..." including "?query"; "/" when absent */
} hop_url;

/* HOP_EURL on anything but a well-formed http:// URL; HOP_EUNSUPPORTED for https. */
int hop_url_parse(const char *s, hop_url *u);

#endif
