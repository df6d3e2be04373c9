/* RPC status codes: names, parsing, HTTP mappings. */
#include <ctype.h>
#include <string.h>

#include "hopwire/error.h"
#include "hopwire/rpc.h"

static const struct {
  const char *connect, *grpc;
  int http;
} codes[] = {
#define HOP_CODE_ROW_(num, name, cname, gname, http) {cname, gname, http},
    HOP_CODE_MAP(HOP_CODE_ROW_)
#undef HOP_CODE_ROW_
};
#define NCODES (sizeof(codes) / sizeof(codes[0]))

const char *hop_code_name(hop_code c) {
  return (unsigned)c < NCODES ? codes[c].connect : "unknown";
}

const char *hop_code_grpc_name(hop_code c) {
  return (unsigned)c < NCODES ? codes[c].grpc : "UNKNOWN";
}

static int eq_nocase(const char *a, size_t alen, const char *b) {
  size_t blen = strlen(b);
  if (alen != blen) return 0;
  for (size_t i = 0; i < alen; i++)
    if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i])) return 0;
  return 1;
}

int hop_code_parse(const char *s, size_t len, hop_code *out) {
  if (!s || !len || len > 32) return HOP_EINVAL;
  if (isdigit((unsigned char)s[0])) {
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
      if (!isdigit((unsigned char)s[i])) return HOP_EINVAL;
      v = v * 10 + (unsigned)(s[i] - '0');
      if (v >= NCODES) return HOP_EINVAL;
    }
    *out = (hop_code)v;
    return HOP_OK;
  }
  for (unsigned i = 0; i < NCODES; i++) {
    if (eq_nocase(s, len, codes[i].connect) || eq_nocase(s, len, codes[i].grpc)) {
      *out = (hop_code)i;
      return HOP_OK;
    }
  }
  return HOP_EINVAL;
}

int hop_code_to_http(hop_code c) { return (unsigned)c < NCODES ? codes[c].http : 500; }

hop_code hop_code_from_http(int status) {
  switch (status) {
  case 200: return HOP_CODE_OK;
  case 400: return HOP_CODE_INTERNAL;
  case 401: return HOP_CODE_UNAUTHENTICATED;
  case 403: return HOP_CODE_PERMISSION_DENIED;
  case 404: return HOP_CODE_UNIMPLEMENTED;
  case 429:
  case 502:
  case 503:
  case 504: return HOP_CODE_UNAVAILABLE;
  default: return HOP_CODE_UNKNOWN;
  }
}

hop_code hop_code_from_err(int err) {
  switch (err) {
  case HOP_OK: return HOP_CODE_OK;
  case HOP_ETIMEDOUT: return HOP_CODE_DEADLINE_EXCEEDED;
  case HOP_ECANCELED: return HOP_CODE_CANCELED;
  case HOP_EINVAL:
  case HOP_EURL: return HOP_CODE_INVALID_ARGUMENT;
  case HOP_ETOOBIG:
  case HOP_EQUEUEFULL:
  case HOP_ENOMEM: return HOP_CODE_RESOURCE_EXHAUSTED;
  case HOP_EUNSUPPORTED: return HOP_CODE_UNIMPLEMENTED;
  case HOP_EPROTO:
  case HOP_EHTTP: return HOP_CODE_INTERNAL;
  case HOP_ECONNREFUSED:
  case HOP_ECONNRESET:
  case HOP_EGOAWAY:
  case HOP_ERESET:
  case HOP_ESHUTDOWN:
  case HOP_ERESOLVE:
  case HOP_EIO:
  case HOP_ECONNECT:
  case HOP_ECONNTIMEDOUT:
  case HOP_EPINGTIMEOUT:
  case HOP_EREFUSED: return HOP_CODE_UNAVAILABLE;
  default: return HOP_CODE_UNKNOWN;
  }
}

const char *hop_rpc_protocol_name(hop_rpc_protocol p) {
  switch (p) {
  case HOP_RPC_CONNECT: return "connect";
  case HOP_RPC_GRPC: return "grpc";
  case HOP_RPC_GRPC_WEB: return "grpc-web";
  }
  return "unknown";
}
