/* Length-prefixed message framing shared by gRPC, gRPC-Web (and Connect streaming):
 * 1 byte flags, 4 bytes big-endian length, then the message. */
#ifndef HOP_RPC_ENVELOPE_H
#define HOP_RPC_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "hopwire/rpc.h"

#define HOP_ENV_COMPRESSED 0x01u
#define HOP_ENV_TRAILER 0x80u /* gRPC-Web: the frame carries the trailer block */
#define HOP_ENV_HEADER 5u

/* Message encodings (Content-Encoding / grpc-encoding). */
typedef enum hop_rpc_encoding {
  HOP_ENC_IDENTITY = 0,
  HOP_ENC_GZIP = 1,
  HOP_ENC_UNKNOWN = -1
} hop_rpc_encoding;
/* NULL or "" -> identity; "gzip"; "identity"; anything else -> HOP_ENC_UNKNOWN. */
hop_rpc_encoding hop_rpc_encoding_parse(const char *v);
/* 1 if a comma-separated Accept-Encoding / grpc-accept-encoding list names gzip (q=0 excluded). */
int hop_rpc_accepts_gzip(const char *list);

/* A precise RPC failure: a code and a fixed-size message (no allocation). */
typedef struct hop_rpc_status {
  hop_code code;
  char msg[192];
} hop_rpc_status;
void hop_rpc_status_set(hop_rpc_status *st, hop_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Appends one envelope. */
int hop_env_write(hop_buf *out, uint8_t flags, const void *msg, size_t len);

/* Iterates envelopes in |p|: returns 1 with the next frame, 0 at a clean end, -1 when
 * the remaining bytes are a truncated frame (fewer than 5 bytes, or a length prefix
 * larger than what is left). */
int hop_env_next(const uint8_t *p, size_t len, size_t *off, uint8_t *flags,
                 const uint8_t **msg, size_t *msg_len);

/* Decodes a unary request or response body: exactly one data frame (optionally followed,
 * when |allow_trailer|, by one trailer frame whose payload is returned in *trailer, its
 * flags in *trailer_flags: connect-es compresses the trailer frame too).
 * |enc| is the declared encoding; |max| caps the message before allocation and after
 * decompression. On success *msg points into |body| (*owned NULL) or to a malloc'd
 * decompressed copy (*owned == *msg, caller frees). On failure fills |st| (code + why)
 * and returns a negative hop_err:
 *   truncated envelope / length prefix past the body -> invalid_argument
 *   more than one message, unknown flag bits, no message -> invalid_argument
 *   compressed flag with identity encoding -> internal (gRPC's rule)
 *   unknown encoding (caller passes HOP_ENC_UNKNOWN) -> unimplemented
 *   length prefix or inflated size over |max| -> resource_exhausted
 *   corrupt gzip -> invalid_argument */
int hop_env_decode_unary(const uint8_t *body, size_t len, hop_rpc_encoding enc, size_t max,
                         int allow_trailer, const uint8_t **msg, size_t *msg_len,
                         uint8_t **owned, const uint8_t **trailer, size_t *trailer_len,
                         uint8_t *trailer_flags, hop_rpc_status *st);

/* Inflates |msg| (a whole-body Connect message) under |max|: same error rules. */
int hop_rpc_inflate(const uint8_t *in, size_t len, size_t max, uint8_t **out, size_t *out_len,
                    hop_rpc_status *st);

#endif
