/* Shared internals of the event codec (codec.c, codec_json_in.c, codec_json_out.c).
 * Not an interface: nothing outside apps/events/codec*.c includes this. All functions are
 * reentrant. */
#ifndef HOP_APPS_EVENTS_CODEC_PRIV_H
#define HOP_APPS_EVENTS_CODEC_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* Nested messages deeper than this are refused (JSON input and the wire check). The
 * flyteidl2 subset nests 7 levels at most. */
#define HOP_EV_MAX_DEPTH 64

/* A dotted field path ("log_info[2].ttl") built while walking; truncated silently (it only
 * feeds error messages). */
typedef struct hop_ev_path {
  char buf[192];
  size_t len;
} hop_ev_path;

/* Appends ".name" (no dot when empty) and, when |index| >= 0, "[index]". Returns the old
 * length, to restore with hop_ev_path_pop. */
size_t hop_ev_path_push(hop_ev_path *p, const char *name, long index);
void hop_ev_path_pop(hop_ev_path *p, size_t old_len);

/* Bytes one element of a field of type |t| takes in a protoc-c message (repeated arrays). */
size_t hop_ev_elem_size(ProtobufCType t);

/* Go's utf8.Valid: no overlong forms, no surrogates (U+D800..U+DFFF), nothing past U+10FFFF. */
int hop_ev_utf8_valid(const uint8_t *s, size_t n);

/* Checks |len| bytes as a |desc| message by Go's protowire and proto3 rules, before
 * protoc-c sees them, walking the message generically through the descriptor (nested and
 * repeated fields too): truncation, varints longer than 10 bytes (or a 10th byte > 1),
 * field numbers 0 or past 2^29-1, wire types 6/7 and groups, the wire type every known field
 * needs (protobuf-c accepts any wire type for a bool, and a 5-byte length can overflow its
 * 32-bit arithmetic), and valid UTF-8 in every string field. The UTF-8 check runs here on
 * the exact wire bytes, not on protoc-c's NUL-terminated copies, which would hide whatever
 * follows an embedded NUL. ActionEvent.id's strings (the row keys) must also be NUL-free.
 * Returns 0, or -1 with "path: reason" in |err|. The walk reads per-type tables built once
 * (the first call builds them under pthread_once). */
int hop_ev_wire_check(const uint8_t *buf, size_t len, const ProtobufCMessageDescriptor *desc,
                      char *err, size_t errlen);
/* The same check without the tables, every field looked up in the descriptor: the path
 * for types and field numbers past the tables, and the reference the tests and the fuzz
 * target compare hop_ev_wire_check with (same result, same message). */
int hop_ev_wire_check_generic(const uint8_t *buf, size_t len,
                              const ProtobufCMessageDescriptor *desc, char *err, size_t errlen);

/* protoc's default json_name: underscores dropped, the letter after each one upper-cased.
 * Writes at most |cap| - 1 bytes plus NUL. */
void hop_ev_json_name(const char *proto_name, char *out, size_t cap);

/* The well-known types, recognised by full name. */
int hop_ev_is_timestamp(const ProtobufCMessageDescriptor *d);
int hop_ev_is_duration(const ProtobufCMessageDescriptor *d);

/* A growable output buffer with a hard cap: appends past |cap| set |overflow| and are
 * dropped; allocation failure sets |oom|. */
typedef struct hop_ev_buf {
  char *p;
  size_t len, alloc, cap;
  int overflow, oom;
} hop_ev_buf;

void hop_ev_buf_put(hop_ev_buf *b, const void *data, size_t n);
void hop_ev_buf_puts(hop_ev_buf *b, const char *s);
void hop_ev_buf_printf(hop_ev_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A JSON string literal, quoted and escaped ('"', '\\', control characters). */
void hop_ev_buf_json_str(hop_ev_buf *b, const char *s, size_t n);

/* Writes |m| as one proto3 JSON object into |b| (names lowerCamelCase, defaults omitted,
 * enums by name, 64-bit integers quoted, Timestamp/Duration as strings). Returns 0, or -1
 * on a value JSON cannot carry (a Timestamp out of range). */
int hop_ev_msg_to_json(hop_ev_buf *b, const ProtobufCMessage *m, int depth);

/* hop_ev_json_to_request for any message type |desc| (the public one is RecordRequest). */
int hop_ev_json_to_binary(const ProtobufCMessageDescriptor *desc, const char *json, size_t len,
                          size_t max_out, uint8_t **out, size_t *out_len, char *err,
                          size_t errlen);

#endif
