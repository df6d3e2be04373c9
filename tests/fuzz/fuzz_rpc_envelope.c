/* libFuzzer: what the RPC layer decodes from a peer (src/rpc/envelope.c, wire.c): unary
 * envelope bodies (gRPC, gRPC-Web with its trailer frame, Connect streaming framing) with or
 * without gzip under a small cap, the envelope iterator, Connect error JSON,
 * google.rpc.Status protobuf (grpc-status-details-bin), gRPC-Web trailer blocks and the
 * grpc-status / grpc-message headers read from them.
 * Byte 0: bit 0 gzip, bit 1 allow a trailer frame, bit 2 unknown encoding; the rest is the
 * body, also handed whole to each error decoder. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "hopwire/error.h"
#include "rpc/envelope.h"
#include "rpc/json.h"
#include "rpc/wire.h"

static volatile size_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  uint8_t ctl = data[0];
  data++;
  size--;
  hop_rpc_encoding enc = ctl & 4 ? HOP_ENC_UNKNOWN : ctl & 1 ? HOP_ENC_GZIP : HOP_ENC_IDENTITY;
  const uint8_t *msg = NULL, *trailer = NULL;
  size_t msg_len = 0, trailer_len = 0;
  uint8_t *owned = NULL, tflags = 0;
  hop_rpc_status st;
  if (hop_env_decode_unary(data, size, enc, 64 * 1024, (ctl & 2) != 0, &msg, &msg_len, &owned,
                           &trailer, &trailer_len, &tflags, &st) == HOP_OK) {
    for (size_t i = 0; i < msg_len; i++) sink += msg[i];
    if (trailer) {
      hop_hdr_list tl = {0};
      if (hop_grpcweb_trailers_parse(trailer, trailer_len, &tl) == HOP_OK) {
        hop_rpc_err_data e = {0};
        if (hop_grpc_status_from_headers(tl.v, tl.n, &e) == HOP_OK) sink += e.code;
        hop_rpc_err_data_free(&e);
      }
      hop_hdr_list_free(&tl);
    }
  }
  free(owned);
  size_t off = 0;
  uint8_t flags;
  while (hop_env_next(data, size, &off, &flags, &msg, &msg_len) == 1) sink += msg_len + flags;
  hop_rpc_err_data e = {0};
  if (hop_connect_error_decode(data, size, &e) == HOP_OK) sink += e.code + e.ndetails;
  hop_rpc_err_data_free(&e);
  hop_rpc_err_data g = {0};
  if (hop_grpc_status_decode(data, size, &g) == HOP_OK) sink += g.code + g.ndetails;
  hop_rpc_err_data_free(&g);
  hop_hdr_list tl = {0};
  if (hop_grpcweb_trailers_parse(data, size, &tl) == HOP_OK) {
    hop_rpc_err_data h = {0};
    if (hop_grpc_status_from_headers(tl.v, tl.n, &h) == HOP_OK) sink += h.code;
    hop_rpc_err_data_free(&h);
  }
  hop_hdr_list_free(&tl);
  size_t at;
  sink += (size_t)hop_json_valid((const char *)data, size, &at);
  return 0;
}
