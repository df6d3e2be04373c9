/* The event codec's binary side: the outer RecordRequest scan, the per-event check and
 * unpack, the status responses and the enum names. JSON lives in codec_json_in.c and
 * codec_json_out.c. */
#include "events/codec.h"

#include <inttypes.h>
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

int hop_ev_utf8_valid(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
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
static int rd_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *v, size_t *nbytes) {
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

static int wire_type_ok(const ProtobufCFieldDescriptor *f, int wt) {
  int packable = 1;
  int want;
  switch (f->type) {
  case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_UINT32:
  case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_BOOL: case PROTOBUF_C_TYPE_ENUM:
    want = 0;
    break;
  case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_SFIXED32: case PROTOBUF_C_TYPE_FLOAT:
    want = 5;
    break;
  case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_DOUBLE:
    want = 1;
    break;
  default: /* string, bytes, message */
    want = 2, packable = 0;
  }
  if (wt == want) return 1;
  /* repeated scalars may come packed (Go and protobuf-c accept both forms) */
  return packable && wt == 2 && f->label == PROTOBUF_C_LABEL_REPEATED;
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

/* The field path of the walk, kept as frames and formatted only when a check fails: the
 * walk runs for every field of every event, and formatting it eagerly cost more than the
 * checks themselves. */
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

/* |keys|: inside ActionEvent.id, whose strings become NUL-terminated row keys. */
static int wire_walk(wire_ctx *c, const uint8_t *p, size_t len,
                     const ProtobufCMessageDescriptor *d, int depth, int keys) {
  /* occurrence counters give repeated fields an index in error paths */
  unsigned seen[32] = {0};
  size_t pos = 0;
  if (depth > HOP_EV_MAX_DEPTH) return wire_fail(c, "nesting too deep");
  while (pos < len) {
    uint64_t tag, v;
    size_t nb = 0;
    int r = rd_varint(p, len, &pos, &tag, &nb);
    if (r) return wire_fail(c, rd_reason(r));
    uint64_t fn = tag >> 3;
    int wt = (int)(tag & 7);
    if (fn == 0 || fn > MAX_FIELD_NUMBER) {
      char m[64];
      snprintf(m, sizeof m, "invalid field number %" PRIu64, fn);
      return wire_fail(c, m);
    }
    /* protobuf-c reads tags and lengths of at most 5 bytes; longer (padded) ones are legal
     * protobuf it cannot decode, so they are refused here with a clear reason */
    if (nb > 5) return wire_fail(c, "tag varint longer than 5 bytes");
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(d, (unsigned)fn);
    size_t old;
    if (f) {
      long idx = -1;
      if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t fi = (size_t)(f - d->fields);
        idx = fi < 32 ? (long)seen[fi]++ : 0;
      }
      old = frame_push(c, f->name, idx, fn);
    } else {
      old = frame_push(c, NULL, -1, fn);
    }
    if (!f || wt != 2) {
      if (f && !wire_type_ok(f, wt)) {
        char m[48];
        snprintf(m, sizeof m, "wrong wire type %d", wt);
        return wire_fail(c, m);
      }
      if (!f && (wt == 3 || wt == 4))
        return wire_fail(c, "groups (wire type 3/4) are not supported");
      const char *e = skip_value(p, len, &pos, wt, fn, depth);
      if (e) return wire_fail(c, e);
      frame_pop(c, old);
      continue;
    }
    r = rd_varint(p, len, &pos, &v, &nb);
    if (r) return wire_fail(c, rd_reason(r));
    if (nb > 5) return wire_fail(c, "length varint longer than 5 bytes");
    if (v > len - pos) {
      char m[96];
      snprintf(m, sizeof m, "truncated message (length %" PRIu64 ", %zu bytes left)", v,
               len - pos);
      return wire_fail(c, m);
    }
    const uint8_t *sub = p + pos;
    size_t n = (size_t)v;
    pos += n;
    if (!wire_type_ok(f, wt)) {
      return wire_fail(c, "wrong wire type 2");
    } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
      int k = keys || (d == &flyteidl2__workflow__action_event__descriptor && f->id == 1);
      if (wire_walk(c, sub, n, f->descriptor, depth + 1, k)) return -1;
    } else if (f->type == PROTOBUF_C_TYPE_STRING) {
      if (!hop_ev_utf8_valid(sub, n)) return wire_fail(c, "invalid UTF-8");
      if (keys && memchr(sub, 0, n)) return wire_fail(c, "NUL byte in a key string");
    } else if (f->type != PROTOBUF_C_TYPE_BYTES) {
      if (!packed_ok(f, sub, n)) return wire_fail(c, "bad packed repeated field");
    }
    frame_pop(c, old);
  }
  return 0;
}

int hop_ev_wire_check(const uint8_t *buf, size_t len, const ProtobufCMessageDescriptor *desc,
                      char *err, size_t errlen) {
  wire_ctx c;
  c.depth = 0;
  c.err = err;
  c.errlen = errlen;
  return wire_walk(&c, buf ? buf : (const uint8_t *)"", len, desc, 0, 0);
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

/* ---- the row's keys, read from bytes the wire check accepted ----
 * hop_ev_wire_check has already proven every tag, length and varint in bounds, every known
 * field of the right wire type and no groups, so this reader only picks values out: the
 * key fields of ActionEvent (id.run.project / domain / name, id.name, attempt, phase,
 * version, error_info.kind), with protobuf's rules (the last scalar wins, repeated
 * occurrences of a message field merge). It replaces a protoc-c unpack per event on the
 * request path, which cost a malloc per nested message; the golden and interop tests check
 * that both read the same values. */

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

/* Calls back for every field of a checked message: |v| is the varint (wire type 0) or the
 * fixed value, |sub| the bytes of a length-delimited one. */
typedef void (*field_fn)(ev_keys *k, uint64_t fn, int wt, uint64_t v, const uint8_t *sub,
                         size_t n);

static void scan_fields(const uint8_t *p, size_t len, ev_keys *k, field_fn fn_cb) {
  size_t pos = 0;
  while (pos < len) {
    uint64_t tag, v = 0;
    if (rd_varint(p, len, &pos, &tag, NULL)) return;
    int wt = (int)(tag & 7);
    const uint8_t *sub = NULL;
    size_t n = 0;
    if (wt == 0) {
      if (rd_varint(p, len, &pos, &v, NULL)) return;
    } else if (wt == 1 || wt == 5) {
      n = wt == 1 ? 8 : 4;
      if (len - pos < n) return;
      pos += n;
      n = 0;
    } else if (wt == 2) {
      if (rd_varint(p, len, &pos, &v, NULL) || v > len - pos) return;
      sub = p + pos;
      n = (size_t)v;
      pos += n;
    } else {
      return; /* groups: refused by the wire check */
    }
    fn_cb(k, tag >> 3, wt, v, sub, n);
  }
}

static void on_run_field(ev_keys *k, uint64_t fn, int wt, uint64_t v, const uint8_t *sub,
                         size_t n) {
  if (wt == 2 && fn >= 2 && fn <= 4) k->str[fn - 2] = (ev_span){sub, n}; /* project, domain, name */
}

static void on_id_field(ev_keys *k, uint64_t fn, int wt, uint64_t v, const uint8_t *sub,
                        size_t n) {
  if (wt != 2) return;
  if (fn == 1) scan_fields(sub, n, k, on_run_field);
  else if (fn == 2) k->str[3] = (ev_span){sub, n};
}

static void on_error_field(ev_keys *k, uint64_t fn, int wt, uint64_t v, const uint8_t *sub,
                           size_t n) {
  if (fn == 2 && wt == 0) k->kind = (int32_t)v;
}

static void on_event_field(ev_keys *k, uint64_t fn, int wt, uint64_t v, const uint8_t *sub,
                           size_t n) {
  switch (fn) {
  case 1: if (wt == 2) scan_fields(sub, n, k, on_id_field); break;
  case 2: if (wt == 0) k->attempt = (uint32_t)v; break;
  case 3: if (wt == 0) k->phase = (int32_t)v; break;
  case 4: if (wt == 0) k->version = (uint32_t)v; break;
  case 8:
    if (wt == 2) {
      k->has_error = 1;
      scan_fields(sub, n, k, on_error_field);
    }
    break;
  default: break;
  }
}

static void read_keys(const uint8_t *ev, size_t len, ev_keys *k) {
  memset(k, 0, sizeof(*k));
  scan_fields(ev, len, k, on_event_field);
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
  pos = 0;
  for (size_t i = 0; i < n; i++) {
    r = next_event(body, len, &pos, &ev, &evlen, err, errlen);
    if (r != 1) { /* pass 1 accepted the same bytes */
      seterr(err, errlen, "event %zu: internal scan mismatch", i);
      goto fail;
    }
    if (hop_ev_wire_check(ev, evlen, &flyteidl2__workflow__action_event__descriptor, sub,
                          sizeof sub)) {
      seterr(err, errlen, "event %zu: %s", i, sub);
      goto fail;
    }
    ev_keys k;
    read_keys(ev, evlen, &k);
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
  *nevents = 0;
  if (!body) len = 0;
  while ((r = next_event(body, len, &pos, &ev, &evlen, err, errlen)) == 1) {
    if (max_events && n == max_events) {
      seterr(err, errlen, "too many events (more than %zu)", max_events);
      return -1;
    }
    if (hop_ev_wire_check(ev, evlen, &flyteidl2__workflow__action_event__descriptor, sub,
                          sizeof sub)) {
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
