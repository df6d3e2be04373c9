/* Flag value parsers shared by the CLI's subcommands. */
#include "cliargs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/duration.h"

int hop_cli_u64(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || *end || s[0] == '-') return -1;
  *out = v;
  return 0;
}

int hop_cli_bytes(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || s[0] == '-') return -1;
  uint64_t mul = 1;
  if (*end == 'k' || *end == 'K') mul = 1024, end++;
  else if (*end == 'm' || *end == 'M') mul = 1024 * 1024, end++;
  else if (*end == 'g' || *end == 'G') mul = 1024ull * 1024 * 1024, end++;
  if (*end == 'i' || *end == 'b' || *end == 'B') end++;
  if (*end == 'B') end++;
  if (*end || v > UINT64_MAX / mul) return -1;
  *out = v * mul;
  return 0;
}

int hop_cli_dur_ms(const char *s, uint64_t *out) {
  uint64_t us;
  if (hop_parse_duration(s, 1000000, &us)) return -1;
  *out = us / 1000;
  return 0;
}

int hop_cli_listen(const char *a, char *host, size_t hlen, uint16_t *port) {
  const char *colon;
  if (a[0] == '[') {
    const char *rb = strchr(a, ']');
    if (!rb || rb[1] != ':' || (size_t)(rb - a - 1) >= hlen) return -1;
    memcpy(host, a + 1, (size_t)(rb - a - 1));
    host[rb - a - 1] = 0;
    colon = rb + 1;
  } else {
    colon = strrchr(a, ':');
    if (!colon || (size_t)(colon - a) >= hlen) return -1;
    memcpy(host, a, (size_t)(colon - a));
    host[colon - a] = 0;
    if (!host[0]) {
      if (hlen < 8) return -1;
      strcpy(host, "0.0.0.0");
    }
  }
  uint64_t p;
  if (hop_cli_u64(colon + 1, &p) || p > 65535) return -1;
  *port = (uint16_t)p;
  return 0;
}

int hop_cli_bool(const char *s, int *out) {
  if (!strcmp(s, "on") || !strcmp(s, "1") || !strcmp(s, "true") || !strcmp(s, "yes")) *out = 1;
  else if (!strcmp(s, "off") || !strcmp(s, "0") || !strcmp(s, "false") || !strcmp(s, "no")) *out = 0;
  else return -1;
  return 0;
}
