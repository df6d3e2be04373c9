/* hopwire: one negative error space for every public call.
 *
 * A function returning int returns 0 (HOP_OK) or a negative hop_err. A function that
 * takes a callback and returns an error never fires that callback. Numbers are stable:
 * add new codes at the end, never renumber. */
#ifndef HOPWIRE_ERROR_H
#define HOPWIRE_ERROR_H

#include "hopwire/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HOP_ERRNO_MAP(X)                                                          \
  X(0, OK, "success")                                                             \
  X(-1, EINVAL, "invalid argument")                                               \
  X(-2, ENOMEM, "out of memory")                                                  \
  X(-3, ETIMEDOUT, "deadline exceeded")                                           \
  X(-4, ECANCELED, "call canceled")                                               \
  X(-5, ECONNREFUSED, "connection refused")                                       \
  X(-6, ECONNRESET, "connection reset or closed by peer")                         \
  X(-7, EPROTO, "protocol error")                                                 \
  X(-8, EGOAWAY, "connection going away (GOAWAY) and call not replayable")        \
  X(-9, ERESET, "stream reset by peer")                                           \
  X(-10, ETOOBIG, "message or buffer over its limit")                             \
  X(-11, EQUEUEFULL, "queue full")                                                \
  X(-12, ESHUTDOWN, "shut down")                                                  \
  X(-13, ERESOLVE, "host name resolution failed")                                 \
  X(-14, EIO, "I/O error")                                                        \
  X(-15, ECONNECT, "connect failed")                                              \
  X(-16, ECONNTIMEDOUT, "connect timed out")                                      \
  X(-17, EPINGTIMEOUT, "peer did not answer PING in time (dead connection)")      \
  X(-18, EREFUSED, "stream refused by peer (retries exhausted)")                  \
  X(-19, EBUSY, "busy or already in that state")                                  \
  X(-20, ENOTFOUND, "not found")                                                  \
  X(-21, EURL, "malformed URL")                                                   \
  X(-22, EADDRINUSE, "address already in use")                                    \
  X(-23, ESTATE, "operation not valid in the current state")                      \
  X(-24, EHTTP, "peer sent a malformed HTTP message")                             \
  X(-25, EUNSUPPORTED, "not supported")                                           \
  X(-26, ERPC, "the peer answered with an RPC error status")

typedef enum hop_err {
#define HOP_ERR_ENUM_(num, name, msg) HOP_##name = (num),
  HOP_ERRNO_MAP(HOP_ERR_ENUM_)
#undef HOP_ERR_ENUM_
} hop_err;

/* A static, human-readable description of |err| ("unknown error" if not a hop_err). */
HOP_EXPORT const char *hop_strerror(int err);
/* The symbolic name, e.g. "HOP_ETIMEDOUT". */
HOP_EXPORT const char *hop_err_name(int err);
/* Maps a negative libuv error (UV_E*) to the nearest hop_err. */
HOP_EXPORT int hop_err_from_uv(int uv_err);

#ifdef __cplusplus
}
#endif
#endif
