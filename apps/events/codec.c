/* The event codec's binary side: the outer RecordRequest scan, the per-event check and
 * unpack, the status responses and the enum names. JSON lives in codec_json_in.c and
 * codec_json_out.c. */
#include "events/codec.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/codec_priv.h"
#include "flyteidl2/common/identifier.pb-c.h"
#include "flyteidl2/common/phase.pb-c.h"
#include "flyteidl2/workflow/internal_run_service.pb-c.h"
#include "flyteidl2/workflow/run_definition.pb-c.h"
#include "google/rpc/status.pb-c.h"

#define MAX_FIELD_NUMBER 536870911u /* 2^29 - 1 */

/* ---- small helpers ---- */

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

size_t hop_ev_path_push(hop_ev_path *p, const char *name, long index) {
  size_t old = p->len;
  int n;
  if (index >= 0)
    n = snprintf(p->buf + p->len, sizeof p->buf - p->len, "%s%s[%ld]", p->len ? "." : "", name,
                 index);
  else
    n = snprintf(p->buf + p->len, sizeof p->buf - p->len, "%s%s", p->len ? "." : "", name);
  if (n < 0) n = 0;
  p->len += (size_t)n;
  if (p->len >= sizeof p->buf) p->len = sizeof p->buf - 1; /* truncated: only for messages */
  return old;
}

void hop_ev_path_pop(hop_ev_path *p, size_t old_len) {
  p->len = old_len;
  p->buf[old_len] = '\0';
}

#define HI_BITS 0x8080808080808080ull

/* The length of the ASCII prefix of |s|: 16 bytes a step, the tail as one overlapping load. */
static size_t ascii_prefix(const uint8_t *s, size_t n) {
  size_t i = 0;
  uint64_t a, b;
  for (; i + 16 <= n; i += 16) {
    memcpy(&a, s + i, 8);
    memcpy(&b, s + i + 8, 8);
    if ((a | b) & HI_BITS) return i;
  }
  if (i + 8 <= n) {
    memcpy(&a, s + i, 8);
    if (a & HI_BITS) return i;
    i += 8;
  }
  if (i == n) return n;
  if (n >= 8) { /* the last 8 bytes cover what is left */
    memcpy(&a, s + n - 8, 8);
    return a & HI_BITS ? i : n;
  }
  while (i < n && s[i] < 0x80) i++;
  return i;
}

int hop_ev_utf8_valid(const uint8_t *s, size_t n) {
  /* nearly every string on the request path is ASCII */
  size_t i = ascii_prefix(s, n);
  while (i < n) {
    /* ASCII between the multi-byte sequences: 8 bytes at a time */
    if (n - i >= 8) {
      uint64_t x;
      memcpy(&x, s + i, 8);
      if (!(x & HI_BITS)) {
        i += 8;
        continue;
      }
    }
    uint8_t c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t need;
    uint32_t cp, min;
    if (c >= 0xC2 && c <= 0xDF) {
      need = 1, cp = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2, cp = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return 0; /* continuation byte, C0/C1 (always overlong) or F5..FF */
    }
    if (n - i - 1 < need) return 0;
    for (size_t k = 1; k <= need; k++) {
      uint8_t cc = s[i + k];
      if ((cc & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    i += need + 1;
  }
  return 1;
}

void hop_ev_json_name(const char *proto_name, char *out, size_t cap) {
  size_t o = 0;
  int up = 0;
  if (cap == 0) return;
  for (const char *c = proto_name; *c && o + 1 < cap; c++) {
    if (*c == '_') {
      up = 1;
      continue;
    }
    out[o++] = (up && *c >= 'a' && *c <= 'z') ? (char)(*c - 'a' + 'A') : *c;
    up = 0;
  }
  out[o] = '\0';
}

int hop_ev_is_timestamp(const ProtobufCMessageDescriptor *d) {
  return d && strcmp(d->name, "google.protobuf.Timestamp") == 0;
}
int hop_ev_is_duration(const ProtobufCMessageDescriptor *d) {
  return d && strcmp(d->name, "google.protobuf.Duration") == 0;
}

/* ---- the wire reader (Go's protowire rules) ---- */

enum { RD_OK = 0, RD_TRUNC = -1, RD_OVERFLOW = -2 };

/* A varint of at most 10 bytes whose 10th byte is 0 or 1 (protowire.ConsumeVarint). */
static inline __attribute__((always_inline)) int rd_varint_slow(const uint8_t *p, size_t len,
                                                                 size_t *pos, uint64_t *v,
                                                                 size_t *nbytes) {
  uint64_t x = 0;
  size_t i = *pos;
  for (unsigned k = 0; k < 10; k++) {
    if (i >= len) return RD_TRUNC;
    uint8_t b = p[i++];
    if (k == 9 && b > 1) return RD_OVERFLOW;
    x |= (uint64_t)(b & 0x7F) << (7 * k);
    if (!(b & 0x80)) {
      if (nbytes) *nbytes = i - *pos;
      *pos = i;
      *v = x;
      return RD_OK;
    }
  }
  return RD_OVERFLOW;
}

/* Most tags and lengths take one byte: that case first. Inlined whole, so the walk keeps its
 * position in a register (a call taking its address kept it in memory). */
static inline __attribute__((always_inline)) int rd_varint(const uint8_t *p, size_t len,
                                                            size_t *pos, uint64_t *v,
                                                            size_t *nbytes) {
  size_t i = *pos;
  if (i < len && p[i] < 0x80) {
    *v = p[i];
    *pos = i + 1;
    if (nbytes) *nbytes = 1;
    return RD_OK;
  }
  return rd_varint_slow(p, len, pos, v, nbytes);
}

static const char *rd_reason(int r) {
  return r == RD_TRUNC ? "truncated message" : "varint longer than 10 bytes";
}

/* Skips one value of wire type |wt| for field |fn| (groups included, nested up to the depth
 * cap). Returns NULL or the reason. */
static const char *skip_value(const uint8_t *p, size_t len, size_t *pos, int wt, uint64_t fn,
                              int depth) {
  uint64_t v;
  int r;
  switch (wt) {
  case 0:
    r = rd_varint(p, len, pos, &v, NULL);
    return r ? rd_reason(r) : NULL;
  case 1:
    if (len - *pos < 8) return "truncated message";
    *pos += 8;
    return NULL;
  case 5:
    if (len - *pos < 4) return "truncated message";
    *pos += 4;
    return NULL;
  case 2:
    r = rd_varint(p, len, pos, &v, NULL);
    if (r) return rd_reason(r);
    if (v > len - *pos) return "truncated message";
    *pos += (size_t)v;
    return NULL;
  case 3:
    if (depth >= HOP_EV_MAX_DEPTH) return "groups nested too deep";
    for (;;) {
      uint64_t tag;
      r = rd_varint(p, len, pos, &tag, NULL);
      if (r) return rd_reason(r);
      uint64_t ifn = tag >> 3;
      int iwt = (int)(tag & 7);
      if (ifn == 0 || ifn > MAX_FIELD_NUMBER) return "invalid field number";
      if (iwt == 4) return ifn == fn ? NULL : "mismatched end group";
      const char *e = skip_value(p, len, pos, iwt, ifn, depth + 1);
      if (e) return e;
    }
  case 4:
    return "unexpected end group";
  default:
    return "invalid wire type";
  }
}

/* Packed repeated content: whole varints, or a multiple of the fixed width. */
static int packed_ok(const ProtobufCFieldDescriptor *f, const uint8_t *p, size_t n) {
  size_t pos = 0;
  uint64_t v;
  switch (f->type) {
  case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_SFIXED32: case PROTOBUF_C_TYPE_FLOAT:
    return n % 4 == 0;
  case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_DOUBLE:
    return n % 8 == 0;
  default:
    while (pos < n)
      if (rd_varint(p, n, &pos, &v, NULL)) return 0;
    return 1;
  }
}

/* The field descriptor of number |fn| (NULL: none): protoc-c's number ranges, read
 * inline; the generic path, for numbers past the tables' (below). */
static const ProtobufCFieldDescriptor *field_of(const ProtobufCMessageDescriptor *d,
                                                uint64_t fn) {
  const ProtobufCIntRange *r = d->field_ranges;
  for (unsigned i = 0; i < d->n_field_ranges; i++) {
    uint64_t start = (uint64_t)r[i].start_value;
    if (fn < start) return NULL;
    /* the ranges end with a sentinel whose orig_index is n_fields */
    uint64_t count = r[i + 1].orig_index - r[i].orig_index;
    if (fn - start < count) return &d->fields[r[i].orig_index + (fn - start)];
  }
  return NULL;
}

/* ---- wire tables: what the walk needs per field number, worked out once ----
 * The walk runs for every field of every event on both hops; finding the field descriptor
 * (protobuf_c_message_descriptor_get_field: a binary search, through a library call) and
 * switching on its type for the wire type it needs cost more than the checks. A table per
 * message type, indexed by field number, holds the descriptor, the wire type, what to check
 * in the bytes and the nested message's table. Built once (pthread_once) for every message
 * reachable from the roots, read only after; a message past WIRE_TABLES, or a field number
 * past WIRE_DENSE, takes the generic path (the same checks, from the descriptor). */

enum { K_SCALAR, K_PACKABLE, K_MSG, K_STR, K_BYTES };

#define WIRE_DENSE 31  /* field numbers 1..31 have a slot (the subset goes to 16) */
#define WIRE_TABLES 64 /* message types (proto/ has 26 in all) */

typedef struct wire_msg wire_msg;

typedef struct wire_field {
  const ProtobufCFieldDescriptor *f; /* NULL: no field of this number */
  const wire_msg *sub;               /* K_MSG: the nested type's table (NULL: generic) */
  uint8_t want;                      /* the wire type it needs (2 also for K_PACKABLE) */
  uint8_t kind;
  uint8_t key_root; /* ActionEvent.id: the strings under it are row keys */
  uint8_t repeated;
  uint16_t fi; /* its index in the descriptor's fields (occurrence counters) */
} wire_field;

struct wire_msg {
  const ProtobufCMessageDescriptor *d;
  wire_field by_fn[WIRE_DENSE + 1]; /* [0] unused */
};

static void field_entry(wire_field *e, const ProtobufCMessageDescriptor *d,
                        const ProtobufCFieldDescriptor *f) {
  memset(e, 0, sizeof(*e));
  e->f = f;
  if (!f) return;
  switch (f->type) {
  case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_UINT32:
  case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_BOOL: case PROTOBUF_C_TYPE_ENUM:
    e->want = 0;
    break;
  case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_SFIXED32: case PROTOBUF_C_TYPE_FLOAT:
    e->want = 5;
    break;
  case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_DOUBLE:
    e->want = 1;
    break;
  default: /* string, bytes, message */
    e->want = 2;
  }
  if (f->type == PROTOBUF_C_TYPE_MESSAGE) e->kind = K_MSG;
  else if (f->type == PROTOBUF_C_TYPE_STRING) e->kind = K_STR;
  else if (f->type == PROTOBUF_C_TYPE_BYTES) e->kind = K_BYTES;
  /* repeated scalars may come packed (Go and protobuf-c accept both forms) */
  else e->kind = f->label == PROTOBUF_C_LABEL_REPEATED ? K_PACKABLE : K_SCALAR;
  e->key_root = d == &flyteidl2__workflow__action_event__descriptor && f->id == 1;
  e->repeated = f->label == PROTOBUF_C_LABEL_REPEATED;
  size_t fi = (size_t)(f - d->fields);
  e->fi = fi < 32 ? (uint16_t)fi : 32;
}

static wire_msg wire_tables[WIRE_TABLES];
static size_t wire_ntables;
static pthread_once_t wire_once = PTHREAD_ONCE_INIT;

static const wire_msg *table_find(const ProtobufCMessageDescriptor *d) {
  for (size_t i = 0; i < wire_ntables; i++)
    if (wire_tables[i].d == d) return &wire_tables[i];
  return NULL;
}

/* The table of |d|, built with those of every message it nests (a type is registered before
 * its fields, so recursive types end). NULL when the tables are full. */
static const wire_msg *table_build(const ProtobufCMessageDescriptor *d) {
  const wire_msg *found = table_find(d);
  if (found || wire_ntables == WIRE_TABLES) return found;
  wire_msg *t = &wire_tables[wire_ntables++];
  t->d = d;
  for (uint64_t fn = 1; fn <= WIRE_DENSE; fn++) field_entry(&t->by_fn[fn], d, field_of(d, fn));
  for (uint64_t fn = 1; fn <= WIRE_DENSE; fn++) {
    wire_field *e = &t->by_fn[fn];
    if (e->kind == K_MSG && e->f) e->sub = table_build(e->f->descriptor);
  }
  return t;
}

static void tables_init(void) {
  table_build(&flyteidl2__workflow__action_event__descriptor);
  table_build(&flyteidl2__workflow__record_action_events_response__descriptor);
}

/* The table of a root type (NULL: generic). */
static const wire_msg *table_of(const ProtobufCMessageDescriptor *d) {
  pthread_once(&wire_once, tables_init);
  return table_find(d);
}

/* The keys of one ActionEvent (id.run.project / domain / name, id.name, attempt, phase,
 * version, error_info.kind), picked up by the walk of hop_ev_decode as it checks them, with
 * protobuf's rules (the last scalar wins, repeated occurrences of a message field merge).
 * That replaced a second scan of every event (and, before it, a protoc-c unpack with a
 * malloc per nested message); the golden and interop tests check that protoc-c reads the
 * same values. */
typedef struct ev_span {
  const uint8_t *p;
  size_t n;
} ev_span;

typedef struct ev_keys {
  ev_span str[4]; /* project, domain, run name, action name */
  uint32_t attempt, version;
  int32_t phase, kind;
  int has_error;
} ev_keys;

/* Where the walk is, for the keys: ActionEvent, its id, id.run, its error_info. */
enum { ROLE_NONE, ROLE_EVENT, ROLE_ID, ROLE_RUN, ROLE_ERROR };

/* The field path of the walk, kept as frames and formatted only when a check fails: the
 * walk runs for every field of every event, and formatting it eagerly cost more than the
 * checks themselves. A frame is pushed only around a nested message; a failing field adds
 * its own at the failure. */
typedef struct wire_frame {
  const char *name; /* NULL: an unknown field, shown as "(field N)" */
  long idx;         /* >= 0: the occurrence of a repeated field */
  uint64_t fn;
} wire_frame;

typedef struct wire_ctx {
  wire_frame fr[HOP_EV_MAX_DEPTH + 2];
  size_t depth;
  char *err;
  size_t errlen;
  ev_keys *keys; /* NULL: no keys wanted */
} wire_ctx;

static size_t frame_push(wire_ctx *c, const char *name, long idx, uint64_t fn) {
  size_t old = c->depth;
  if (c->depth < sizeof(c->fr) / sizeof(c->fr[0])) {
    c->fr[c->depth].name = name;
    c->fr[c->depth].idx = idx;
    c->fr[c->depth].fn = fn;
    c->depth++;
  }
  return old;
}

static void frame_pop(wire_ctx *c, size_t old) { c->depth = old; }

static int wire_fail(wire_ctx *c, const char *reason) {
  hop_ev_path path;
  path.len = 0;
  path.buf[0] = '\0';
  for (size_t i = 0; i < c->depth; i++) {
    const wire_frame *f = &c->fr[i];
    if (f->name) {
      hop_ev_path_push(&path, f->name, f->idx);
    } else {
      char nm[32];
      snprintf(nm, sizeof nm, "(field %" PRIu64 ")", f->fn);
      hop_ev_path_push(&path, nm, -1);
    }
  }
  if (path.len)
    seterr(c->err, c->errlen, "%s: %s", path.buf, reason);
  else
    seterr(c->err, c->errlen, "%s", reason);
  return -1;
}

/* A failure in field |fn| (|f| NULL when unknown; |idx| its occurrence when repeated). */
static int field_fail(wire_ctx *c, const ProtobufCFieldDescriptor *f, long idx, uint64_t fn,
                      const char *reason) {
  frame_push(c, f ? f->name : NULL, idx, fn);
  return wire_fail(c, reason);
}

static void keep_scalar(ev_keys *k, int role, uint64_t fn, uint64_t v) {
  if (role == ROLE_EVENT) {
    if (fn == 2) k->attempt = (uint32_t)v;
    else if (fn == 3) k->phase = (int32_t)v;
    else if (fn == 4) k->version = (uint32_t)v;
  } else if (role == ROLE_ERROR && fn == 2) {
    k->kind = (int32_t)v;
  }
}

static void keep_string(ev_keys *k, int role, uint64_t fn, const uint8_t *sub, size_t n) {
  if (role == ROLE_RUN && fn >= 2 && fn <= 4) k->str[fn - 2] = (ev_span){sub, n};
  else if (role == ROLE_ID && fn == 2) k->str[3] = (ev_span){sub, n};
}

/* The role of message field |fn| inside a message of role |role|. */
static int sub_role(ev_keys *k, int role, uint64_t fn) {
  if (role == ROLE_EVENT && fn == 1) return ROLE_ID;
  if (role == ROLE_EVENT && fn == 8) {
    k->has_error = 1;
    return ROLE_ERROR;
  }
  if (role == ROLE_ID && fn == 1) return ROLE_RUN;
  return ROLE_NONE;
}

/* |t|: the table of |d| (NULL: the generic path). |mode|: bit 0 set inside ActionEvent.id,
 * whose strings become NUL-terminated row keys; above it the role, what c->keys wants from
 * this message (ROLE_NONE: nothing). The nesting depth is c->depth (a frame per level). */
static int wire_walk(wire_ctx *c, const uint8_t *p, size_t len,
                     const ProtobufCMessageDescriptor *d, const wire_msg *t, unsigned mode) {
  /* occurrence counters give repeated fields an index in error paths; set on first use */
  unsigned seen[32];
  uint32_t seen_set = 0;
  size_t pos = 0;
  int keys = (int)(mode & 1), role = (int)(mode >> 1);
  if (c->depth > HOP_EV_MAX_DEPTH) return wire_fail(c, "nesting too deep");
  while (pos < len) {
    uint64_t fn, v;
    size_t nb;
    int wt, r;
    if (p[pos] < 0x80) { /* a one-byte tag: fields 1 to 15 */
      fn = p[pos] >> 3;
      wt = p[pos++] & 7;
      if (!fn) return wire_fail(c, "invalid field number 0");
    } else {
      uint64_t tag;
      r = rd_varint_slow(p, len, &pos, &tag, &nb);
      if (r) return wire_fail(c, rd_reason(r));
      fn = tag >> 3;
      wt = (int)(tag & 7);
      if (fn == 0 || fn > MAX_FIELD_NUMBER) {
        char m[64];
        snprintf(m, sizeof m, "invalid field number %" PRIu64, fn);
        return wire_fail(c, m);
      }
      /* protobuf-c reads tags and lengths of at most 5 bytes; longer (padded) ones are legal
       * protobuf it cannot decode, so they are refused here with a clear reason */
      if (nb > 5) return wire_fail(c, "tag varint longer than 5 bytes");
    }
    wire_field tmp;
    const wire_field *e;
    if (t && fn <= WIRE_DENSE) {
      e = &t->by_fn[fn];
    } else {
      field_entry(&tmp, d, field_of(d, fn));
      e = &tmp;
    }
    const ProtobufCFieldDescriptor *f = e->f;
    if (!f) {
      if (wt == 3 || wt == 4)
        return field_fail(c, NULL, -1, fn, "groups (wire type 3/4) are not supported");
      size_t q = pos; /* a copy: pos, whose address no call takes, stays in a register */
      const char *err = skip_value(p, len, &q, wt, fn, (int)c->depth);
      if (err) return field_fail(c, NULL, -1, fn, err);
      pos = q;
      continue;
    }
    long idx = -1;
    if (e->repeated) {
      unsigned fi = e->fi;
      if (fi < 32) {
        if (!(seen_set & (1u << fi))) seen_set |= 1u << fi, seen[fi] = 0;
        idx = (long)seen[fi]++;
      } else {
        idx = 0;
      }
    }
    if (wt != 2) {
      if (wt != e->want) {
        char m[48];
        snprintf(m, sizeof m, "wrong wire type %d", wt);
        return field_fail(c, f, idx, fn, m);
      }
      if (wt == 0) {
        r = rd_varint(p, len, &pos, &v, NULL);
        if (r) return field_fail(c, f, idx, fn, rd_reason(r));
        if (role) keep_scalar(c->keys, role, fn, v);
      } else { /* 1 or 5 */
        size_t w = wt == 1 ? 8 : 4;
        if (len - pos < w) return field_fail(c, f, idx, fn, "truncated message");
        pos += w;
      }
      continue;
    }
    r = rd_varint(p, len, &pos, &v, &nb);
    if (r) return field_fail(c, f, idx, fn, rd_reason(r));
    if (nb > 5) return field_fail(c, f, idx, fn, "length varint longer than 5 bytes");
    if (v > len - pos) {
      char m[96];
      snprintf(m, sizeof m, "truncated message (length %" PRIu64 ", %zu bytes left)", v,
               len - pos);
      return field_fail(c, f, idx, fn, m);
    }
    const uint8_t *sub = p + pos;
    size_t n = (size_t)v;
    pos += n;
    switch (e->kind) {
    case K_MSG: {
      int sr = role ? sub_role(c->keys, role, fn) : ROLE_NONE;
      size_t old = frame_push(c, f->name, idx, fn);
      if (wire_walk(c, sub, n, f->descriptor, e->sub,
                    (unsigned)(keys || e->key_root) | (unsigned)sr << 1))
        return -1;
      frame_pop(c, old);
      break;
    }
    case K_STR:
      if (!hop_ev_utf8_valid(sub, n)) return field_fail(c, f, idx, fn, "invalid UTF-8");
      if (keys && memchr(sub, 0, n)) return field_fail(c, f, idx, fn, "NUL byte in a key string");
      if (role) keep_string(c->keys, role, fn, sub, n);
      break;
    case K_BYTES:
      break;
    case K_PACKABLE:
      if (!packed_ok(f, sub, n)) return field_fail(c, f, idx, fn, "bad packed repeated field");
      break;
    default: /* a scalar that cannot be packed */
      return field_fail(c, f, idx, fn, "wrong wire type 2");
    }
  }
  return 0;
}

static int wire_check(const uint8_t *buf, size_t len, const ProtobufCMessageDescriptor *desc,
                      const wire_msg *t, ev_keys *k, char *err, size_t errlen) {
  wire_ctx c;
  c.depth = 0;
  c.err = err;
  c.errlen = errlen;
  c.keys = k;
  if (k) memset(k, 0, sizeof(*k));
  return wire_walk(&c, buf ? buf : (const uint8_t *)"", len, desc, t,
                   k ? ROLE_EVENT << 1 : ROLE_NONE);
}

int hop_ev_wire_check(const uint8_t *buf, size_t len, const ProtobufCMessageDescriptor *desc,
                      char *err, size_t errlen) {
  return wire_check(buf, len, desc, table_of(desc), NULL, err, errlen);
}

int hop_ev_wire_check_generic(const uint8_t *buf, size_t len,
                              const ProtobufCMessageDescriptor *desc, char *err, size_t errlen) {
  return wire_check(buf, len, desc, NULL, NULL, err, errlen);
}

/* The wire check of one ActionEvent, with its keys into |k| when not NULL. */
static int check_event(const uint8_t *ev, size_t len, const wire_msg *t, ev_keys *k, char *err,
                       size_t errlen) {
  return wire_check(ev, len, &flyteidl2__workflow__action_event__descriptor, t, k, err, errlen);
}

size_t hop_ev_elem_size(ProtobufCType t) {
  switch (t) {
  case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
  case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
    return 8;
  case PROTOBUF_C_TYPE_BOOL:
    return sizeof(protobuf_c_boolean);
  case PROTOBUF_C_TYPE_STRING: case PROTOBUF_C_TYPE_MESSAGE:
    return sizeof(void *);
  case PROTOBUF_C_TYPE_BYTES:
    return sizeof(ProtobufCBinaryData);
  default:
    return 4;
  }
}

/* ---- hop_ev_decode ---- */

/* The next event span of the outer message (field 1, wire type 2); unknown outer fields are
 * skipped. Returns 1 with the span, 0 at the end, -1 with |err| set. */
static int next_event(const uint8_t *body, size_t len, size_t *pos, const uint8_t **ev,
                      size_t *evlen, char *err, size_t errlen) {
  while (*pos < len) {
    uint64_t tag, v;
    size_t nb;
    int r = rd_varint(body, len, pos, &tag, &nb);
    if (r) {
      seterr(err, errlen, "%s", rd_reason(r));
      return -1;
    }
    uint64_t fn = tag >> 3;
    int wt = (int)(tag & 7);
    if (fn == 0 || fn > MAX_FIELD_NUMBER) {
      seterr(err, errlen, "invalid field number %" PRIu64, fn);
      return -1;
    }
    if (fn != 1) {
      const char *e = skip_value(body, len, pos, wt, fn, 0);
      if (e) {
        seterr(err, errlen, "field %" PRIu64 ": %s", fn, e);
        return -1;
      }
      continue;
    }
    if (wt != 2) {
      seterr(err, errlen, "field 1: wrong wire type %d", wt);
      return -1;
    }
    r = rd_varint(body, len, pos, &v, &nb);
    if (r) {
      seterr(err, errlen, "%s", rd_reason(r));
      return -1;
    }
    if (v > len - *pos) {
      seterr(err, errlen, "truncated message (event length %" PRIu64 ", %zu bytes left)", v,
             len - *pos);
      return -1;
    }
    *ev = body + *pos;
    *evlen = (size_t)v;
    *pos += (size_t)v;
    return 1;
  }
  return 0;
}

/* Room for a kind number with no name ("-2147483648"). */
#define KIND_NUM_ROOM 12

static char *put_str(char **cur, char *end, const char *s) {
  size_t n = strlen(s) + 1;
  if ((size_t)(end - *cur) < n) return NULL;
  char *r = *cur;
  memcpy(r, s, n);
  *cur += n;
  return r;
}

/* A span as a NUL-terminated string in the batch's memory (key strings hold no NUL: the
 * wire check refused them). */
static char *put_span(char **cur, char *end, const ev_span *s) {
  if ((size_t)(end - *cur) < s->n + 1) return NULL;
  char *r = *cur;
  if (s->n) memcpy(r, s->p, s->n);
  r[s->n] = '\0';
  *cur += s->n + 1;
  return r;
}

int hop_ev_decode(const uint8_t *body, size_t len, size_t max_events, hop_ev_batch *out,
                  char *err, size_t errlen) {
  const uint8_t *ev;
  size_t evlen, pos = 0, n = 0, total = 0;
  int r;
  out->rows = NULL;
  out->n = 0;
  out->mem = NULL;
  if (!body) len = 0;
  /* pass 1: the outer structure, the event count and an upper bound for the strings (they
   * are disjoint pieces of the event bytes) */
  while ((r = next_event(body, len, &pos, &ev, &evlen, err, errlen)) == 1) {
    if (max_events && n == max_events) {
      seterr(err, errlen, "too many events (more than %zu)", max_events);
      return -1;
    }
    n++;
    total += evlen;
  }
  if (r < 0) return -1;
  if (n == 0) return 0;
  size_t per = sizeof(hop_ev_row) + 4 + KIND_NUM_ROOM;
  if (n > (SIZE_MAX - total) / per) {
    seterr(err, errlen, "out of memory");
    return -1;
  }
  size_t memsz = n * sizeof(hop_ev_row) + total + n * (4 + KIND_NUM_ROOM);
  char *mem = malloc(memsz);
  if (!mem) {
    seterr(err, errlen, "out of memory");
    return -1;
  }
  hop_ev_row *rows = (hop_ev_row *)mem;
  char *cur = mem + n * sizeof(hop_ev_row), *end = mem + memsz;
  char sub[256];
  const wire_msg *t = table_of(&flyteidl2__workflow__action_event__descriptor);
  pos = 0;
  for (size_t i = 0; i < n; i++) {
    r = next_event(body, len, &pos, &ev, &evlen, err, errlen);
    if (r != 1) { /* pass 1 accepted the same bytes */
      seterr(err, errlen, "event %zu: internal scan mismatch", i);
      goto fail;
    }
    ev_keys k;
    if (check_event(ev, evlen, t, &k, sub, sizeof sub)) {
      seterr(err, errlen, "event %zu: %s", i, sub);
      goto fail;
    }
    hop_ev_row *row = &rows[i];
    row->project = put_span(&cur, end, &k.str[0]);
    row->domain = put_span(&cur, end, &k.str[1]);
    row->run_name = put_span(&cur, end, &k.str[2]);
    row->name = put_span(&cur, end, &k.str[3]);
    row->attempt = k.attempt;
    row->phase = k.phase;
    row->version = k.version;
    row->info = ev;
    row->info_len = evlen;
    row->error_kind = NULL;
    if (k.has_error) {
      const char *kn = hop_ev_error_kind_name(k.kind);
      if (kn) {
        row->error_kind = kn;
      } else { /* Go's Kind.String() of an unnamed number is the number */
        char num[KIND_NUM_ROOM];
        snprintf(num, sizeof num, "%" PRId32, k.kind);
        row->error_kind = put_str(&cur, end, num);
        if (!row->error_kind) row->project = NULL; /* reported below */
      }
    }
    if (!row->project || !row->domain || !row->run_name || !row->name) {
      seterr(err, errlen, "event %zu: key strings exceed the event", i);
      goto fail;
    }
  }
  out->rows = rows;
  out->n = n;
  out->mem = mem;
  return 0;
fail:
  free(mem);
  return -1;
}

int hop_ev_validate(const uint8_t *body, size_t len, size_t max_events, size_t *nevents,
                    char *err, size_t errlen) {
  const uint8_t *ev;
  size_t evlen, pos = 0, n = 0;
  int r;
  char sub[256];
  const wire_msg *t = table_of(&flyteidl2__workflow__action_event__descriptor);
  *nevents = 0;
  if (!body) len = 0;
  while ((r = next_event(body, len, &pos, &ev, &evlen, err, errlen)) == 1) {
    if (max_events && n == max_events) {
      seterr(err, errlen, "too many events (more than %zu)", max_events);
      return -1;
    }
    if (check_event(ev, evlen, t, NULL, sub, sizeof sub)) {
      seterr(err, errlen, "event %zu: %s", n, sub);
      return -1;
    }
    n++;
  }
  if (r < 0) return -1;
  *nevents = n;
  return 0;
}

void hop_ev_batch_free(hop_ev_batch *b) {
  if (!b) return;
  free(b->mem);
  b->rows = NULL;
  b->n = 0;
  b->mem = NULL;
}

/* ---- status responses ---- */

static Google__Rpc__Status *make_status(Google__Rpc__Status *st, int32_t code,
                                        const char *message) {
  google__rpc__status__init(st);
  st->code = code;
  if (message && *message) st->message = (char *)message;
  return st;
}

int hop_ev_status_response(int32_t code, const char *message, uint8_t **out, size_t *out_len) {
  Google__Rpc__Status st;
  Flyteidl2__Workflow__RecordActionEventsResponse resp;
  flyteidl2__workflow__record_action_events_response__init(&resp);
  resp.status = make_status(&st, code, message); /* always present, as Flyte's */
  size_t n = flyteidl2__workflow__record_action_events_response__get_packed_size(&resp);
  uint8_t *buf = malloc(n ? n : 1);
  if (!buf) return -1;
  flyteidl2__workflow__record_action_events_response__pack(&resp, buf);
  *out = buf;
  *out_len = n;
  return 0;
}

int hop_ev_status_response_json(int32_t code, const char *message, char **out,
                                size_t *out_len) {
  Google__Rpc__Status st;
  Flyteidl2__Workflow__RecordActionEventsResponse resp;
  flyteidl2__workflow__record_action_events_response__init(&resp);
  resp.status = make_status(&st, code, message);
  hop_ev_buf b = {0};
  b.cap = 64 + (message ? 6 * strlen(message) : 0);
  if (hop_ev_msg_to_json(&b, &resp.base, 0) || b.oom || b.overflow) {
    free(b.p);
    return -1;
  }
  hop_ev_buf_put(&b, "", 1); /* NUL */
  if (b.oom || b.overflow) {
    free(b.p);
    return -1;
  }
  *out = b.p;
  *out_len = b.len - 1;
  return 0;
}

int hop_ev_status_decode(const uint8_t *body, size_t len, int32_t *code, char *message,
                         size_t message_len) {
  char e[128];
  *code = 0;
  if (message && message_len) message[0] = '\0';
  if (!body) len = 0;
  if (hop_ev_wire_check(body, len, &flyteidl2__workflow__record_action_events_response__descriptor,
                        e, sizeof e))
    return -1;
  Flyteidl2__Workflow__RecordActionEventsResponse *r =
      flyteidl2__workflow__record_action_events_response__unpack(NULL, len, body ? body : (const uint8_t *)"");
  if (!r) return -1;
  if (r->status) {
    *code = r->status->code;
    if (message && message_len) {
      size_t n = strlen(r->status->message);
      if (n > message_len - 1) n = message_len - 1;
      memcpy(message, r->status->message, n);
      message[n] = '\0';
    }
  }
  flyteidl2__workflow__record_action_events_response__free_unpacked(r, NULL);
  return 0;
}

/* ---- enum names ---- */

const char *hop_ev_phase_name(int32_t phase) {
  const ProtobufCEnumValue *v =
      protobuf_c_enum_descriptor_get_value(&flyteidl2__common__action_phase__descriptor, phase);
  return v ? v->name : NULL;
}

const char *hop_ev_error_kind_name(int32_t kind) {
  const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
      &flyteidl2__workflow__error_info__kind__descriptor, kind);
  return v ? v->name : NULL;
}
