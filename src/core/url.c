#include "core/url.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hopwire/client.h" /* hop_url_check */
#include "hopwire/error.h"

int hop_url_parse(const char *s, hop_url *u) {
  /* Called once per client call: clear only what is read back, not the 8 KiB path. */
  u->scheme[0] = u->host[0] = u->authority[0] = u->path[0] = '\0';
  u->port = 0;
  if (!s) return HOP_EURL;
  if (strncasecmp(s, "https://", 8) == 0) return HOP_EUNSUPPORTED;
  if (strncasecmp(s, "http://", 7) != 0) return HOP_EURL;
  strcpy(u->scheme, "http");
  const char *p = s + 7;
  const char *host_start, *host_end;
  if (*p == '[') {
    host_start = p + 1;
    host_end = strchr(host_start, ']');
    if (!host_end) return HOP_EURL;
    p = host_end + 1;
  } else {
    host_start = p;
    while (*p && *p != ':' && *p != '/' && *p != '?' && *p != '#') p++;
    host_end = p;
  }
  size_t hl = (size_t)(host_end - host_start);
  if (hl == 0 || hl >= HOP_URL_HOST_MAX) return HOP_EURL;
  memcpy(u->host, host_start, hl);
  u->host[hl] = '\0';
  for (size_t i = 0; i < hl; i++) {
    unsigned char c = (unsigned char)u->host[i];
    if (c <= ' ' || c == '@' || c == '/' || c >= 0x7f) return HOP_EURL;
  }
  u->port = 80;
  int explicit_port = 0;
  if (*p == ':') {
    p++;
    if (!isdigit((unsigned char)*p)) return HOP_EURL;
    long port = 0;
    while (isdigit((unsigned char)*p)) {
      port = port * 10 + (*p - '0');
      if (port > 65535) return HOP_EURL;
      p++;
    }
    if (port == 0) return HOP_EURL;
    u->port = (uint16_t)port;
    explicit_port = 1;
  }
  if (*p && *p != '/' && *p != '?' && *p != '#') return HOP_EURL;
  const char *path = p;
  const char *frag = strchr(path, '#');
  size_t pl = frag ? (size_t)(frag - path) : strlen(path);
  if (pl + 2 >= HOP_URL_PATH_MAX) return HOP_EURL;
  if (pl == 0 || path[0] == '?') {
    u->path[0] = '/';
    memcpy(u->path + 1, path, pl);
    u->path[pl + 1] = '\0';
  } else {
    memcpy(u->path, path, pl);
    u->path[pl] = '\0';
  }
  for (char *c = u->path; *c; c++)
    if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f) return HOP_EURL;
  /* authority = host[:port] as written (IPv6 in brackets); fits: host < 256, port <= 5. */
  char *a = u->authority;
  int v6 = memchr(u->host, ':', hl) != NULL;
  if (v6) *a++ = '[';
  memcpy(a, u->host, hl);
  a += hl;
  if (v6) *a++ = ']';
  if (explicit_port) {
    char digits[6];
    int nd = 0;
    for (unsigned v = u->port; v; v /= 10) digits[nd++] = (char)('0' + v % 10);
    *a++ = ':';
    while (nd) *a++ = digits[--nd];
  }
  *a = '\0';
  return HOP_OK;
}

int hop_url_check(const char *url, uint16_t *port) {
  hop_url *u = malloc(sizeof(*u)); /* 8 KiB of path: not on a caller's small stack */
  if (!u) return HOP_ENOMEM;
  int rc = hop_url_parse(url, u);
  if (rc == HOP_OK && port) *port = u->port;
  free(u);
  return rc;
}
