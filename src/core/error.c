/* hop_err descriptions and libuv error mapping. */
#include <uv.h>

#include "hopwire/error.h"

const char *hop_strerror(int err) {
  switch (err) {
#define HOP_ERR_MSG_(num, name, msg) case num: return msg;
    HOP_ERRNO_MAP(HOP_ERR_MSG_)
#undef HOP_ERR_MSG_
  }
  return "unknown error";
}

const char *hop_err_name(int err) {
  switch (err) {
#define HOP_ERR_NAME_(num, name, msg) case num: return "HOP_" #name;
    HOP_ERRNO_MAP(HOP_ERR_NAME_)
#undef HOP_ERR_NAME_
  }
  return "HOP_UNKNOWN";
}

int hop_err_from_uv(int e) {
  if (e >= 0) return HOP_OK;
  switch (e) {
  case UV_ENOMEM: case UV_ENOBUFS: return HOP_ENOMEM;
  case UV_ETIMEDOUT: return HOP_ECONNTIMEDOUT;
  case UV_ECANCELED: return HOP_ECANCELED;
  case UV_ECONNREFUSED: return HOP_ECONNREFUSED;
  case UV_ECONNRESET: case UV_EPIPE: case UV_EOF: case UV_ECONNABORTED: return HOP_ECONNRESET;
  case UV_EADDRINUSE: return HOP_EADDRINUSE;
  case UV_EINVAL: return HOP_EINVAL;
  case UV_EAI_NONAME: case UV_EAI_AGAIN: case UV_EAI_FAIL: case UV_EAI_NODATA: return HOP_ERESOLVE;
  case UV_ENETUNREACH: case UV_EHOSTUNREACH: case UV_EADDRNOTAVAIL: return HOP_ECONNECT;
  default: return HOP_EIO;
  }
}
