/* Wire details shared by the RPC server and client: base64, timeouts, percent-encoding,
 * Connect error JSON, google.rpc.Status (grpc-status-details-bin), gRPC-Web trailer blocks,
 * owned header lists. No I/O. */
#ifndef HOP_RPC_WIRE_H
#define HOP_RPC_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "hopwire/rpc.h"

/* ---- base64 ---- */
enum { HOP_B64_STD = 0, HOP_B64_URL = 1 };
/* Appends base64 of |p| (|alphabet| std or url; |pad| 1 adds '='). */
int hop_b64_encode(hop_buf *out, const void *p, size_t len, int alphabet, int pad);
/* Decodes either alphabet, padded or not. HOP_EINVAL on a bad character or length. */
int hop_b64_decode(hop_buf *out, const char *s, size_t len);

/* ---- timeouts ---- */
/* Connect-Timeout-Ms: 1 to 10 ASCII digits. HOP_EINVAL otherwise. */
int hop_rpc_parse_connect_timeout(const char *v, uint64_t *ms);
/* grpc-timeout: 1 to 8 digits and a unit H M S m u n. HOP_EINVAL otherwise. */
int hop_rpc_parse_grpc_timeout(const char *v, uint64_t *us);
/* Formats |ms| as a grpc-timeout value (at most 8 digits, coarser units as needed). */
void hop_rpc_format_grpc_timeout(uint64_t ms, char *buf, size_t n);
/* The same into |out| (at least 10 bytes, NUL-terminated) without printf; returns the
 * length. For the per-call path. */
size_t hop_rpc_grpc_timeout_write(uint64_t ms, char *out);

/* ---- percent-encoding (grpc-message) ---- */
/* Encodes bytes outside printable ASCII 0x20..0x7e, and '%', as %XX. */
int hop_pct_encode(hop_buf *out, const char *s, size_t len);
/* Decodes %XX; a malformed escape is kept literally (gRPC: be lenient). */
int hop_pct_decode(hop_buf *out, const char *s, size_t len);
/* application/x-www-form-urlencoded value decoding ('+' is a space): for Connect GET. */
int hop_form_decode(hop_buf *out, const char *s, size_t len);

/* ---- errors ---- */
/* An error owned by the RPC layer: message NUL-terminated, details each malloc'd. */
typedef struct hop_rpc_err_data {
  hop_code code;
  char *message;
  hop_rpc_detail *details;
  size_t ndetails;
} hop_rpc_err_data;
void hop_rpc_err_data_free(hop_rpc_err_data *e);
/* Deep-copies details (type and value each malloc'd). */
int hop_rpc_details_copy(const hop_rpc_detail *src, size_t n, hop_rpc_detail **out);
void hop_rpc_details_free(hop_rpc_detail *d, size_t n);

/* Connect error body: {"code":"...","message":"...","details":[{"type":"...","value":"..."}]}
 * with unpadded standard base64 values, as Connect specifies. */
int hop_connect_error_encode(hop_buf *out, hop_code code, const char *message,
                             const hop_rpc_detail *details, size_t ndetails);
/* Parses a Connect error body. Unknown keys are skipped; a missing or unknown code gives
 * HOP_EINVAL (the caller then falls back to the HTTP status mapping). */
int hop_connect_error_decode(const uint8_t *body, size_t len, hop_rpc_err_data *out);

/* google.rpc.Status protobuf {1: code, 2: message, 3: repeated Any{1: type_url, 2: value}}. */
int hop_grpc_status_encode(hop_buf *out, hop_code code, const char *message,
                           const hop_rpc_detail *details, size_t ndetails);
int hop_grpc_status_decode(const uint8_t *p, size_t len, hop_rpc_err_data *out);

/* ---- owned header lists ---- */
typedef struct hop_hdr_list {
  hop_header *v;
  size_t n, cap;
} hop_hdr_list;
/* Appends a copy (name lower-cased when |lower|); both NUL-terminated. Capped at 1024 entries. */
int hop_hdr_list_add(hop_hdr_list *l, const char *name, size_t nlen, const char *value,
                     size_t vlen, int lower);
void hop_hdr_list_free(hop_hdr_list *l);
/* Frees a header array made by hop_hdr_list (n entries). */
void hop_headers_free(hop_header *v, size_t n);

/* gRPC-Web trailer block: "name: value\r\n" lines. */
int hop_grpcweb_trailers_encode(hop_buf *out, const hop_header *t, size_t n);
/* Parses a trailer block into |out| (names lower-cased). HOP_EPROTO on a line without ':'. */
int hop_grpcweb_trailers_parse(const uint8_t *p, size_t len, hop_hdr_list *out);

/* Reads grpc-status / grpc-message / grpc-status-details-bin from a header set. Returns
 * HOP_EPROTO when grpc-status is absent or not a number in 0..16. */
int hop_grpc_status_from_headers(const hop_header *h, size_t n, hop_rpc_err_data *out);

#endif
