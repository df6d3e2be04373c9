/* Duration flags: see duration.h. */
#include "common/duration.h"

#include <stdlib.h>
#include <string.h>

#include "hopwire/error.h"

int hop_parse_duration(const char *s, uint64_t bare_unit_us, uint64_t *out_us) {
  if (!s || !*s) return HOP_EINVAL;
  char *end;
  double v = strtod(s, &end);
  if (end == s || v < 0 || v != v) return HOP_EINVAL;
  double unit;
  if (*end == '\0') unit = (double)bare_unit_us;
  else if (strcmp(end, "us") == 0) unit = 1;
  else if (strcmp(end, "ms") == 0) unit = 1e3;
  else if (strcmp(end, "s") == 0) unit = 1e6;
  else if (strcmp(end, "m") == 0) unit = 60e6;
  else if (strcmp(end, "h") == 0) unit = 3600e6;
  else return HOP_EINVAL;
  double us = v * unit;
  if (us > 1e15) return HOP_EINVAL;
  *out_us = (uint64_t)(us + 0.5);
  return HOP_OK;
}
