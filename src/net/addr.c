#include "net/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hopwire/error.h"

int hop_addr_numeric(const char *host, uint16_t port, struct sockaddr_storage *out) {
  memset(out, 0, sizeof(*out));
  struct sockaddr_in *a4 = (struct sockaddr_in *)out;
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    return HOP_OK;
  }
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;
  if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    return HOP_OK;
  }
  return HOP_EINVAL;
}

static size_t addr_len(const struct sockaddr_storage *ss) {
  return ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

int hop_addr_from_ai(const struct addrinfo *ai, uint16_t port, size_t max,
                     struct sockaddr_storage **out) {
  size_t n = 0;
  for (const struct addrinfo *p = ai; p; p = p->ai_next) n++;
  if (n > max) n = max;
  *out = NULL;
  if (n == 0) return 0;
  struct sockaddr_storage *v = calloc(n, sizeof(*v));
  if (!v) return HOP_ENOMEM;
  size_t k = 0;
  for (const struct addrinfo *p = ai; p && k < n; p = p->ai_next) {
    if (p->ai_family != AF_INET && p->ai_family != AF_INET6) continue;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    memcpy(&ss, p->ai_addr, p->ai_addrlen < sizeof(ss) ? p->ai_addrlen : sizeof(ss));
    if (ss.ss_family == AF_INET) ((struct sockaddr_in *)&ss)->sin_port = htons(port);
    else ((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
    int dup = 0; /* getaddrinfo repeats an address once per socktype */
    for (size_t i = 0; i < k && !dup; i++)
      dup = v[i].ss_family == ss.ss_family && memcmp(&v[i], &ss, addr_len(&ss)) == 0;
    if (!dup) v[k++] = ss;
  }
  if (k == 0) {
    free(v);
    return 0;
  }
  *out = v;
  return (int)k;
}

void hop_addr_format(const struct sockaddr_storage *ss, char *buf, size_t len) {
  char ip[INET6_ADDRSTRLEN] = "?";
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
    snprintf(buf, len, "%s:%u", ip, ntohs(a->sin_port));
  } else {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
    snprintf(buf, len, "[%s]:%u", ip, ntohs(a->sin6_port));
  }
}
