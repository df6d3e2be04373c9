/* proto3 JSON output, driven by the protoc-c descriptors: hop_ev_event_to_json and the JSON
 * status response. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/codec.h"
#include "events/codec_priv.h"
#include "flyteidl2/workflow/run_definition.pb-c.h"
#include "google/protobuf/duration.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"

/* ---- the capped buffer ---- */

static int buf_reserve(hop_ev_buf *b, size_t n) {
  if (b->oom || b->overflow) return -1;
  if (n > b->cap || b->len > b->cap - n) {
    b->overflow = 1;
    return -1;
  }
  if (b->len + n <= b->alloc) return 0;
  size_t na = b->alloc ? b->alloc : 256;
  while (na < b->len + n) na = na > SIZE_MAX / 2 ? b->len + n : na * 2;
  if (na > b->cap) na = b->cap;
  char *p = realloc(b->p, na);
  if (!p) {
    b->oom = 1;
    return -1;
  }
  b->p = p;
  b->alloc = na;
  return 0;
}

void hop_ev_buf_put(hop_ev_buf *b, const void *data, size_t n) {
  if (n == 0 || buf_reserve(b, n)) return;
  memcpy(b->p + b->len, data, n);
  b->len += n;
}

void hop_ev_buf_puts(hop_ev_buf *b, const char *s) { hop_ev_buf_put(b, s, strlen(s)); }

void hop_ev_buf_printf(hop_ev_buf *b, const char *fmt, ...) {
  char tmp[128];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof tmp) { /* only used for numbers: never this long */
    b->overflow = 1;
    return;
  }
  hop_ev_buf_put(b, tmp, (size_t)n);
}

void hop_ev_buf_json_str(hop_ev_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  hop_ev_buf_put(b, "\"", 1);
  size_t run = 0; /* bytes copied as they are, flushed before each escape */
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    const char *esc = NULL;
    char u[6];
    switch (c) {
    case '"': esc = "\\\""; break;
    case '\\': esc = "\\\\"; break;
    case '\b': esc = "\\b"; break;
    case '\f': esc = "\\f"; break;
    case '\n': esc = "\\n"; break;
    case '\r': esc = "\\r"; break;
    case '\t': esc = "\\t"; break;
    default:
      if (c < 0x20 || c == 0x7f) {
        u[0] = '\\', u[1] = 'u', u[2] = '0', u[3] = '0', u[4] = hex[c >> 4], u[5] = hex[c & 15];
        hop_ev_buf_put(b, s + i - run, run);
        run = 0;
        hop_ev_buf_put(b, u, 6);
        continue;
      }
    }
    if (esc) {
      hop_ev_buf_put(b, s + i - run, run);
      run = 0;
      hop_ev_buf_puts(b, esc);
    } else {
      run++;
    }
  }
  hop_ev_buf_put(b, s + n - run, run);
  hop_ev_buf_put(b, "\"", 1);
}

/* ---- well-known types ---- */

#define TS_MIN (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define TS_MAX 253402300799LL   /* 9999-12-31T23:59:59Z */

/* 0, 3, 6 or 9 fraction digits, as Go's protojson */
static void put_frac(hop_ev_buf *b, int32_t nanos) {
  if (nanos == 0) return;
  if (nanos % 1000000 == 0)
    hop_ev_buf_printf(b, ".%03d", (int)(nanos / 1000000));
  else if (nanos % 1000 == 0)
    hop_ev_buf_printf(b, ".%06d", (int)(nanos / 1000));
  else
    hop_ev_buf_printf(b, ".%09d", (int)nanos);
}

/* days since 1970-01-01 -> civil date (H. Hinnant's algorithm) */
static void civil(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t yy = (int64_t)yoe + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yy + (*m <= 2);
}

static int put_timestamp(hop_ev_buf *b, const Google__Protobuf__Timestamp *t) {
  if (t->seconds < TS_MIN || t->seconds > TS_MAX || t->nanos < 0 || t->nanos > 999999999)
    return -1;
  int64_t days = t->seconds >= 0 ? t->seconds / 86400 : (t->seconds - 86399) / 86400;
  int64_t sod = t->seconds - days * 86400;
  int64_t y;
  unsigned mo, d;
  civil(days, &y, &mo, &d);
  hop_ev_buf_printf(b, "\"%04d-%02u-%02uT%02d:%02d:%02d", (int)y, mo, d, (int)(sod / 3600),
                    (int)(sod / 60 % 60), (int)(sod % 60));
  put_frac(b, t->nanos);
  hop_ev_buf_puts(b, "Z\"");
  return 0;
}

static int put_duration(hop_ev_buf *b, const Google__Protobuf__Duration *du) {
  int64_t s = du->seconds;
  int32_t n = du->nanos;
  if (s < -315576000000LL || s > 315576000000LL || n <= -1000000000 || n >= 1000000000 ||
      (s > 0 && n < 0) || (s < 0 && n > 0))
    return -1;
  int neg = s < 0 || n < 0;
  hop_ev_buf_printf(b, "\"%s%" PRId64, neg ? "-" : "", s < 0 ? -s : s);
  put_frac(b, n < 0 ? -n : n);
  hop_ev_buf_puts(b, "s\"");
  return 0;
}

/* ---- generic messages ---- */

static void put_base64(hop_ev_buf *b, const uint8_t *p, size_t n) {
  static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  hop_ev_buf_put(b, "\"", 1);
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16;
    if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
    if (i + 2 < n) v |= p[i + 2];
    char o[4] = {t[v >> 18], t[(v >> 12) & 63], i + 1 < n ? t[(v >> 6) & 63] : '=',
                 i + 2 < n ? t[v & 63] : '='};
    hop_ev_buf_put(b, o, 4);
  }
  hop_ev_buf_put(b, "\"", 1);
}

static void put_double(hop_ev_buf *b, double v) {
  if (isnan(v))
    hop_ev_buf_puts(b, "\"NaN\"");
  else if (isinf(v))
    hop_ev_buf_puts(b, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  else
    hop_ev_buf_printf(b, "%.17g", v);
}

/* One value of field |f| at |v|. */
static int put_value(hop_ev_buf *b, const ProtobufCFieldDescriptor *f, const void *v, int depth) {
  switch (f->type) {
  case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
    hop_ev_buf_printf(b, "%" PRId32, *(const int32_t *)v);
    return 0;
  case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
    hop_ev_buf_printf(b, "%" PRIu32, *(const uint32_t *)v);
    return 0;
  case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
    hop_ev_buf_printf(b, "\"%" PRId64 "\"", *(const int64_t *)v);
    return 0;
  case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
    hop_ev_buf_printf(b, "\"%" PRIu64 "\"", *(const uint64_t *)v);
    return 0;
  case PROTOBUF_C_TYPE_FLOAT:
    put_double(b, *(const float *)v);
    return 0;
  case PROTOBUF_C_TYPE_DOUBLE:
    put_double(b, *(const double *)v);
    return 0;
  case PROTOBUF_C_TYPE_BOOL:
    hop_ev_buf_puts(b, *(const protobuf_c_boolean *)v ? "true" : "false");
    return 0;
  case PROTOBUF_C_TYPE_ENUM: {
    int32_t e = *(const int32_t *)v;
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, e);
    if (ev)
      hop_ev_buf_json_str(b, ev->name, strlen(ev->name));
    else /* an open enum's unnamed number stays a number */
      hop_ev_buf_printf(b, "%" PRId32, e);
    return 0;
  }
  case PROTOBUF_C_TYPE_STRING: {
    const char *s = *(char *const *)v;
    hop_ev_buf_json_str(b, s, strlen(s));
    return 0;
  }
  case PROTOBUF_C_TYPE_BYTES: {
    const ProtobufCBinaryData *bd = v;
    put_base64(b, bd->data, bd->len);
    return 0;
  }
  case PROTOBUF_C_TYPE_MESSAGE:
    return hop_ev_msg_to_json(b, *(ProtobufCMessage *const *)v, depth + 1);
  }
  return -1;
}

static int is_default(const ProtobufCFieldDescriptor *f, const void *v) {
  switch (f->type) {
  case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
  case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_ENUM:
    return *(const uint32_t *)v == 0;
  case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
  case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
    return *(const uint64_t *)v == 0;
  case PROTOBUF_C_TYPE_FLOAT:
    return *(const float *)v == 0 && !signbit(*(const float *)v);
  case PROTOBUF_C_TYPE_DOUBLE:
    return *(const double *)v == 0 && !signbit(*(const double *)v);
  case PROTOBUF_C_TYPE_BOOL:
    return !*(const protobuf_c_boolean *)v;
  case PROTOBUF_C_TYPE_STRING: {
    const char *s = *(char *const *)v;
    return !s || !*s;
  }
  case PROTOBUF_C_TYPE_BYTES:
    return ((const ProtobufCBinaryData *)v)->len == 0;
  case PROTOBUF_C_TYPE_MESSAGE:
    return *(ProtobufCMessage *const *)v == NULL;
  }
  return 1;
}


int hop_ev_msg_to_json(hop_ev_buf *b, const ProtobufCMessage *m, int depth) {
  const ProtobufCMessageDescriptor *d = m->descriptor;
  if (depth > HOP_EV_MAX_DEPTH) return -1;
  if (hop_ev_is_timestamp(d)) return put_timestamp(b, (const Google__Protobuf__Timestamp *)m);
  if (hop_ev_is_duration(d)) return put_duration(b, (const Google__Protobuf__Duration *)m);
  if (strcmp(d->name, "google.protobuf.Any") == 0) return -1; /* needs a type registry */
  const char *base = (const char *)m;
  int first = 1;
  hop_ev_buf_put(b, "{", 1);
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    const void *v = base + f->offset;
    size_t n = 0;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      n = *(const size_t *)(base + f->quantifier_offset);
      if (n == 0) continue;
    } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
               f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING) {
      if (!*(const protobuf_c_boolean *)(base + f->quantifier_offset)) continue;
    } else if (is_default(f, v)) {
      continue;
    }
    char name[128];
    hop_ev_json_name(f->name, name, sizeof name);
    if (!first) hop_ev_buf_put(b, ",", 1);
    first = 0;
    hop_ev_buf_json_str(b, name, strlen(name));
    hop_ev_buf_put(b, ":", 1);
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      const char *arr = *(const char *const *)v;
      size_t sz = hop_ev_elem_size(f->type);
      hop_ev_buf_put(b, "[", 1);
      for (size_t k = 0; k < n; k++) {
        if (k) hop_ev_buf_put(b, ",", 1);
        if (put_value(b, f, arr + k * sz, depth)) return -1;
      }
      hop_ev_buf_put(b, "]", 1);
    } else if (put_value(b, f, v, depth)) {
      return -1;
    }
  }
  hop_ev_buf_put(b, "}", 1);
  return 0;
}

int hop_ev_event_to_json(const uint8_t *info, size_t len, char **out, size_t *out_len) {
  char e[160];
  if (!info) len = 0;
  if (len > (SIZE_MAX - 4096) / 32) return -1;
  if (hop_ev_wire_check(info, len, &flyteidl2__workflow__action_event__descriptor, e, sizeof e))
    return -1;
  Flyteidl2__Workflow__ActionEvent *m =
      flyteidl2__workflow__action_event__unpack(NULL, len, info ? info : (const uint8_t *)"");
  if (!m) return -1;
  hop_ev_buf b = {0};
  /* each wire byte yields at most ~20 JSON bytes (an empty nested Timestamp: 2 bytes ->
   * "xxx":"1970-01-01T00:00:00Z"; a control character: 1 byte -> \u00XX) */
  b.cap = 32 * len + 4096;
  int rc = hop_ev_msg_to_json(&b, &m->base, 0);
  flyteidl2__workflow__action_event__free_unpacked(m, NULL);
  hop_ev_buf_put(&b, "", 1);
  if (rc || b.oom || b.overflow) {
    free(b.p);
    return -1;
  }
  *out = b.p;
  *out_len = b.len - 1;
  return 0;
}
