/* Connect's JSON codec for requests: proto3 JSON -> a protoc-c message tree -> protobuf
 * binary (protobuf_c_message_pack). Two passes over the text: a syntax-only scan (iterative,
 * nesting capped at HOP_EV_MAX_DEPTH, strings checked for escapes and UTF-8), then the
 * descriptor-driven build, which can rely on well-formed input. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/codec.h"
#include "events/codec_priv.h"
#include "flyteidl2/workflow/events_proxy_service.pb-c.h"
#include "google/protobuf/duration.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"

typedef struct jp {
  const char *s;
  size_t len, pos;
  char *err;
  size_t errlen;
  hop_ev_path path;
  size_t msgs, max_msgs; /* messages built so far; each packs to >= 2 bytes */
} jp;

static int jfail(jp *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int jfail(jp *j, const char *fmt, ...) {
  char m[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(m, sizeof m, fmt, ap);
  va_end(ap);
  if (j->err && j->errlen) {
    if (j->path.len)
      snprintf(j->err, j->errlen, "%s: %s", j->path.buf, m);
    else
      snprintf(j->err, j->errlen, "%s", m);
  }
  return -1;
}

static void ws(jp *j) {
  while (j->pos < j->len) {
    char c = j->s[j->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    j->pos++;
  }
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int hex4(const char *p, uint32_t *v) {
  uint32_t x = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval(p[i]);
    if (h < 0) return -1;
    x = x << 4 | (uint32_t)h;
  }
  *v = x;
  return 0;
}

/* A string literal at j->pos ('"'). With |out|, the decoded bytes are malloc'd there (NUL-
 * terminated, *outlen without it). Lone surrogate escapes are refused: they have no UTF-8. */
static int jstring(jp *j, char **out, size_t *outlen) {
  size_t p = j->pos + 1, start = p;
  char *o = NULL;
  size_t on = 0;
  if (j->pos >= j->len || j->s[j->pos] != '"') return jfail(j, "expected a string");
  /* raw bytes: find the end, check control characters and UTF-8 of the unescaped runs */
  while (p < j->len && j->s[p] != '"') {
    unsigned char c = (unsigned char)j->s[p];
    if (c < 0x20) return jfail(j, "JSON: control character in a string at offset %zu", p);
    if (c == '\\') {
      if (p + 1 >= j->len) break;
      p += 2;
      continue;
    }
    p++;
  }
  if (p >= j->len) return jfail(j, "JSON: unterminated string at offset %zu", j->pos);
  size_t end = p;
  if (!hop_ev_utf8_valid((const uint8_t *)j->s + start, end - start))
    return jfail(j, "JSON: invalid UTF-8 in a string at offset %zu", j->pos);
  if (out) {
    o = malloc(end - start + 1);
    if (!o) return jfail(j, "out of memory");
  }
  for (p = start; p < end;) {
    char c = j->s[p];
    if (c != '\\') {
      if (o) o[on] = c;
      on++, p++;
      continue;
    }
    char e = j->s[p + 1];
    char r;
    p += 2;
    switch (e) {
    case '"': r = '"'; break;
    case '\\': r = '\\'; break;
    case '/': r = '/'; break;
    case 'b': r = '\b'; break;
    case 'f': r = '\f'; break;
    case 'n': r = '\n'; break;
    case 'r': r = '\r'; break;
    case 't': r = '\t'; break;
    case 'u': {
      uint32_t cp, lo;
      if (end - p < 4 || hex4(j->s + p, &cp)) goto bad_escape;
      p += 4;
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (end - p < 6 || j->s[p] != '\\' || j->s[p + 1] != 'u' || hex4(j->s + p + 2, &lo) ||
            lo < 0xDC00 || lo > 0xDFFF)
          goto bad_surrogate;
        p += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        goto bad_surrogate;
      }
      /* UTF-8 is never longer than the escape that spelled it */
      uint8_t u[4];
      size_t n;
      if (cp < 0x80) u[0] = (uint8_t)cp, n = 1;
      else if (cp < 0x800) u[0] = (uint8_t)(0xC0 | cp >> 6), u[1] = (uint8_t)(0x80 | (cp & 63)), n = 2;
      else if (cp < 0x10000)
        u[0] = (uint8_t)(0xE0 | cp >> 12), u[1] = (uint8_t)(0x80 | ((cp >> 6) & 63)),
        u[2] = (uint8_t)(0x80 | (cp & 63)), n = 3;
      else
        u[0] = (uint8_t)(0xF0 | cp >> 18), u[1] = (uint8_t)(0x80 | ((cp >> 12) & 63)),
        u[2] = (uint8_t)(0x80 | ((cp >> 6) & 63)), u[3] = (uint8_t)(0x80 | (cp & 63)), n = 4;
      if (o) memcpy(o + on, u, n);
      on += n;
      continue;
    }
    default:
      goto bad_escape;
    }
    if (o) o[on] = r;
    on++;
  }
  if (o) {
    o[on] = '\0';
    *out = o;
    *outlen = on;
  }
  j->pos = end + 1;
  return 0;
bad_escape:
  free(o);
  return jfail(j, "JSON: bad escape in a string at offset %zu", j->pos);
bad_surrogate:
  free(o);
  return jfail(j, "JSON: unpaired surrogate escape in a string at offset %zu", j->pos);
}

/* A number token (JSON grammar) at j->pos; its span in *a, *b. */
static int jnumber(jp *j, size_t *a, size_t *b) {
  size_t p = j->pos;
  const char *s = j->s;
  *a = p;
  if (p < j->len && s[p] == '-') p++;
  if (p >= j->len) goto bad;
  if (s[p] == '0') {
    p++;
  } else if (s[p] >= '1' && s[p] <= '9') {
    while (p < j->len && s[p] >= '0' && s[p] <= '9') p++;
  } else {
    goto bad;
  }
  if (p < j->len && s[p] == '.') {
    p++;
    if (p >= j->len || s[p] < '0' || s[p] > '9') goto bad;
    while (p < j->len && s[p] >= '0' && s[p] <= '9') p++;
  }
  if (p < j->len && (s[p] == 'e' || s[p] == 'E')) {
    p++;
    if (p < j->len && (s[p] == '+' || s[p] == '-')) p++;
    if (p >= j->len || s[p] < '0' || s[p] > '9') goto bad;
    while (p < j->len && s[p] >= '0' && s[p] <= '9') p++;
  }
  *b = p;
  j->pos = p;
  return 0;
bad:
  return jfail(j, "JSON: bad number at offset %zu", *a);
}

static int jliteral(jp *j, const char *lit) {
  size_t n = strlen(lit);
  if (j->len - j->pos < n || memcmp(j->s + j->pos, lit, n) != 0) return -1;
  j->pos += n;
  return 0;
}

/* Pass 1: syntax and nesting only, without recursion. */
static int jscan(jp *j) {
  char stack[HOP_EV_MAX_DEPTH + 1];
  int depth = 0;
  enum { VALUE, AFTER_VALUE, KEY_OR_END, KEY, VALUE_OR_END } st = VALUE;
  for (;;) {
    ws(j);
    if (j->pos >= j->len) {
      if (st == AFTER_VALUE && depth == 0) return 0;
      return jfail(j, "JSON: unexpected end of input");
    }
    char c = j->s[j->pos];
    switch (st) {
    case VALUE:
    case VALUE_OR_END:
      if (st == VALUE_OR_END && c == ']') {
        j->pos++, depth--, st = AFTER_VALUE;
        break;
      }
      if (c == '{' || c == '[') {
        if (depth == HOP_EV_MAX_DEPTH)
          return jfail(j, "JSON: nesting deeper than %d at offset %zu", HOP_EV_MAX_DEPTH, j->pos);
        stack[depth++] = c;
        j->pos++;
        st = c == '{' ? KEY_OR_END : VALUE_OR_END;
      } else if (c == '"') {
        if (jstring(j, NULL, NULL)) return -1;
        st = AFTER_VALUE;
      } else if (c == '-' || (c >= '0' && c <= '9')) {
        size_t a, b;
        if (jnumber(j, &a, &b)) return -1;
        st = AFTER_VALUE;
      } else if (!jliteral(j, "true") || !jliteral(j, "false") || !jliteral(j, "null")) {
        st = AFTER_VALUE;
      } else {
        return jfail(j, "JSON: unexpected character at offset %zu", j->pos);
      }
      break;
    case KEY_OR_END:
    case KEY:
      if (st == KEY_OR_END && c == '}') {
        j->pos++, depth--, st = AFTER_VALUE;
        break;
      }
      if (c != '"') return jfail(j, "JSON: expected a member name at offset %zu", j->pos);
      if (jstring(j, NULL, NULL)) return -1;
      ws(j);
      if (j->pos >= j->len || j->s[j->pos] != ':')
        return jfail(j, "JSON: expected ':' at offset %zu", j->pos);
      j->pos++;
      st = VALUE;
      break;
    case AFTER_VALUE:
      if (depth == 0) return jfail(j, "JSON: trailing data at offset %zu", j->pos);
      if (c == ',') {
        j->pos++;
        st = stack[depth - 1] == '{' ? KEY : VALUE;
      } else if ((c == '}' && stack[depth - 1] == '{') || (c == ']' && stack[depth - 1] == '[')) {
        j->pos++, depth--;
      } else {
        return jfail(j, "JSON: expected ',' or a closing bracket at offset %zu", j->pos);
      }
      break;
    }
  }
}

/* ---- pass 2: the build ---- */

/* An integer from a JSON number text (exponents and fractions allowed when the value is
 * integral, as protojson). *neg and the magnitude. */
static int int_from_text(const char *s, size_t n, int *neg, uint64_t *mag) {
  size_t p = 0;
  char digits[24];
  size_t nd = 0, fracd = 0;
  long exp = 0;
  *neg = 0;
  if (p < n && s[p] == '-') *neg = 1, p++;
  if (p >= n) return -1;
  int any = 0;
  for (; p < n && s[p] >= '0' && s[p] <= '9'; p++) {
    any = 1;
    if (nd == 0 && s[p] == '0') continue; /* leading zeros carry nothing */
    if (nd >= sizeof digits - 1) return -1;
    digits[nd++] = s[p];
  }
  if (p < n && s[p] == '.') {
    p++;
    for (; p < n && s[p] >= '0' && s[p] <= '9'; p++) {
      any = 1;
      if (nd >= sizeof digits - 1) {
        if (s[p] != '0') return -1; /* too precise to be an int64 anyway */
        continue;
      }
      digits[nd++] = s[p];
      fracd++;
    }
  }
  if (!any) return -1;
  if (p < n && (s[p] == 'e' || s[p] == 'E')) {
    int eneg = 0;
    p++;
    if (p < n && (s[p] == '+' || s[p] == '-')) eneg = s[p] == '-', p++;
    if (p >= n) return -1;
    for (; p < n && s[p] >= '0' && s[p] <= '9'; p++) {
      exp = exp * 10 + (s[p] - '0');
      if (exp > 1000) return -1;
    }
    if (eneg) exp = -exp;
  }
  if (p != n) return -1;
  exp -= (long)fracd;
  /* drop trailing zeros against a negative exponent; the rest must be integral */
  while (exp < 0 && nd > 0 && digits[nd - 1] == '0') nd--, exp++;
  if (exp < 0 && nd > 0) return -1;
  if (nd == 0) {
    *mag = 0;
    return 0;
  }
  while (exp > 0) {
    if (nd >= 20) return -1;
    digits[nd++] = '0';
    exp--;
  }
  uint64_t v = 0;
  for (size_t i = 0; i < nd; i++) {
    unsigned d = (unsigned)(digits[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return -1;
    v = v * 10 + d;
  }
  *mag = v;
  return 0;
}

/* A number or a quoted number for an integer field, checked against [lo, hi]. */
static int jint(jp *j, int64_t lo, uint64_t hi, int64_t *sv, uint64_t *uv) {
  const char *t;
  size_t n;
  char *str = NULL;
  if (j->s[j->pos] == '"') {
    size_t sl, a, b;
    if (jstring(j, &str, &sl)) return -1;
    t = str, n = sl;
    /* the quoted form holds a JSON number too ("012", " 1" and "+1" are not) */
    jp q = {.s = str, .len = sl};
    if (sl == 0 || jnumber(&q, &a, &b) || b != sl) {
      free(str);
      return jfail(j, "not an integer");
    }
  } else if (j->s[j->pos] == '-' || (j->s[j->pos] >= '0' && j->s[j->pos] <= '9')) {
    size_t a, b;
    if (jnumber(j, &a, &b)) return -1;
    t = j->s + a, n = b - a;
  } else {
    return jfail(j, "expected an integer (number or string)");
  }
  int neg;
  uint64_t mag;
  int bad = int_from_text(t, n, &neg, &mag);
  free(str);
  if (bad) return jfail(j, "not an integer");
  if (neg) {
    /* -mag >= lo  <=>  mag <= -lo */
    uint64_t lim = lo < 0 ? (uint64_t)(-(lo + 1)) + 1 : 0;
    if (mag > lim) return jfail(j, "integer out of range");
    *sv = mag == 0 ? 0 : -(int64_t)(mag - 1) - 1;
    *uv = 0;
  } else {
    if (mag > hi) return jfail(j, "integer out of range");
    *sv = (int64_t)mag; /* only read for signed fields, where hi <= INT64_MAX */
    *uv = mag;
  }
  return 0;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static int digits_at(const char *s, size_t n, size_t at, size_t k, int *v) {
  int x = 0;
  if (at + k > n) return -1;
  for (size_t i = 0; i < k; i++) {
    if (s[at + i] < '0' || s[at + i] > '9') return -1;
    x = x * 10 + (s[at + i] - '0');
  }
  *v = x;
  return 0;
}

/* "-"? digits, up to 9 fraction digits: *nanos is scaled to 1e9. */
static int parse_frac(const char *s, size_t n, size_t *p, int32_t *nanos) {
  *nanos = 0;
  if (*p >= n || s[*p] != '.') return 0;
  (*p)++;
  size_t k = 0;
  int32_t v = 0;
  while (*p < n && s[*p] >= '0' && s[*p] <= '9') {
    if (++k > 9) return -1;
    v = v * 10 + (s[*p] - '0');
    (*p)++;
  }
  if (k == 0) return -1;
  for (; k < 9; k++) v *= 10;
  *nanos = v;
  return 0;
}

/* RFC 3339: 2026-12-03T17:00:00.123Z or with a +hh:mm / -hh:mm offset. */
static int parse_rfc3339(const char *s, size_t n, int64_t *secs, int32_t *nanos) {
  int y, mo, d, h, mi, se, oh = 0, om = 0;
  if (digits_at(s, n, 0, 4, &y) || n < 20 || s[4] != '-' || digits_at(s, n, 5, 2, &mo) ||
      s[7] != '-' || digits_at(s, n, 8, 2, &d) || s[10] != 'T' ||
      digits_at(s, n, 11, 2, &h) || s[13] != ':' || digits_at(s, n, 14, 2, &mi) ||
      s[16] != ':' || digits_at(s, n, 17, 2, &se))
    return -1;
  size_t p = 19;
  if (parse_frac(s, n, &p, nanos)) return -1;
  if (p >= n) return -1;
  int sign = 0;
  if (s[p] == 'Z') { /* upper case only, as Go's time.RFC3339 layout */
    p++;
  } else if (s[p] == '+' || s[p] == '-') {
    sign = s[p] == '+' ? 1 : -1;
    if (digits_at(s, n, p + 1, 2, &oh) || p + 3 >= n || s[p + 3] != ':' ||
        digits_at(s, n, p + 4, 2, &om))
      return -1;
    p += 6;
    if (oh > 23 || om > 59) return -1;
  } else {
    return -1;
  }
  if (p != n) return -1;
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap) || h > 23 ||
      mi > 59 || se > 59)
    return -1;
  int64_t t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se;
  t -= (int64_t)sign * (oh * 3600 + om * 60);
  if (t < -62135596800LL || t > 253402300799LL) return -1;
  *secs = t;
  return 0;
}

/* "-"? seconds ("." 1..9 digits)? "s", within +-10000 years as protojson */
static int parse_duration(const char *s, size_t n, int64_t *secs, int32_t *nanos) {
  size_t p = 0;
  int neg = 0;
  if (p < n && s[p] == '-') neg = 1, p++;
  uint64_t v = 0;
  size_t k = 0;
  while (p < n && s[p] >= '0' && s[p] <= '9') {
    if (++k > 12) return -1;
    v = v * 10 + (uint64_t)(s[p] - '0');
    p++;
  }
  if (k == 0) return -1;
  if (parse_frac(s, n, &p, nanos)) return -1;
  if (p + 1 != n || s[p] != 's') return -1;
  if (v > 315576000000ULL) return -1;
  *secs = neg ? -(int64_t)v : (int64_t)v;
  if (neg) *nanos = -*nanos;
  return 0;
}

static int jmessage(jp *j, const ProtobufCMessageDescriptor *d, ProtobufCMessage **out);

static int new_message(jp *j, const ProtobufCMessageDescriptor *d, ProtobufCMessage **out) {
  if (j->max_msgs && ++j->msgs > j->max_msgs)
    return jfail(j, "request exceeds the output cap");
  ProtobufCMessage *m = malloc(d->sizeof_message);
  if (!m) return jfail(j, "out of memory");
  protobuf_c_message_init(d, m);
  *out = m;
  return 0;
}

/* Timestamp and Duration: a JSON string. */
static int jwkt(jp *j, const ProtobufCMessageDescriptor *d, ProtobufCMessage **out) {
  char *str;
  size_t n;
  int64_t secs;
  int32_t nanos;
  int ts = hop_ev_is_timestamp(d);
  if (j->s[j->pos] != '"')
    return jfail(j, ts ? "expected an RFC 3339 timestamp string" : "expected a duration string");
  if (jstring(j, &str, &n)) return -1;
  int bad = ts ? parse_rfc3339(str, n, &secs, &nanos) : parse_duration(str, n, &secs, &nanos);
  free(str);
  if (bad)
    return jfail(j, ts ? "bad RFC 3339 timestamp" : "bad duration (want e.g. \"1.5s\")");
  if (new_message(j, d, out)) return -1;
  if (ts) {
    ((Google__Protobuf__Timestamp *)*out)->seconds = secs;
    ((Google__Protobuf__Timestamp *)*out)->nanos = nanos;
  } else {
    ((Google__Protobuf__Duration *)*out)->seconds = secs;
    ((Google__Protobuf__Duration *)*out)->nanos = nanos;
  }
  return 0;
}


/* One value for field |f| into |dst| (a member, or a repeated slot). On success a string or
 * message stored there is owned by the tree; on failure nothing is stored. */
static int jvalue(jp *j, const ProtobufCFieldDescriptor *f, void *dst) {
  char c = j->s[j->pos];
  int64_t sv;
  uint64_t uv;
  switch (f->type) {
  case PROTOBUF_C_TYPE_MESSAGE: {
    ProtobufCMessage *m = NULL;
    const ProtobufCMessageDescriptor *d = f->descriptor;
    int rc = (hop_ev_is_timestamp(d) || hop_ev_is_duration(d)) ? jwkt(j, d, &m)
                                                                 : jmessage(j, d, &m);
    if (rc) return -1;
    *(ProtobufCMessage **)dst = m;
    return 0;
  }
  case PROTOBUF_C_TYPE_STRING: {
    char *s;
    size_t n;
    if (c != '"') return jfail(j, "expected a string");
    if (jstring(j, &s, &n)) return -1;
    if (memchr(s, 0, n)) { /* protoc-c strings are NUL-terminated: it would cut the value */
      free(s);
      return jfail(j, "NUL character (\\u0000) in a string is not supported");
    }
    *(char **)dst = s;
    return 0;
  }
  case PROTOBUF_C_TYPE_BOOL:
    if (!jliteral(j, "true")) *(protobuf_c_boolean *)dst = 1;
    else if (!jliteral(j, "false")) *(protobuf_c_boolean *)dst = 0;
    else return jfail(j, "expected true or false");
    return 0;
  case PROTOBUF_C_TYPE_ENUM:
    if (c == '"') {
      char *s;
      size_t n;
      if (jstring(j, &s, &n)) return -1;
      const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(f->descriptor, s);
      if (!v) {
        jfail(j, "unknown %s value \"%.60s\"", ((const ProtobufCEnumDescriptor *)f->descriptor)->name, s);
        free(s);
        return -1;
      }
      free(s);
      *(int32_t *)dst = v->value;
      return 0;
    }
    if (c != '-' && (c < '0' || c > '9')) return jfail(j, "expected an enum name or number");
    if (jint(j, INT32_MIN, INT32_MAX, &sv, &uv)) return -1;
    *(int32_t *)dst = (int32_t)sv;
    return 0;
  case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
    if (jint(j, INT32_MIN, INT32_MAX, &sv, &uv)) return -1;
    *(int32_t *)dst = (int32_t)sv;
    return 0;
  case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
    if (jint(j, 0, UINT32_MAX, &sv, &uv)) return -1;
    *(uint32_t *)dst = (uint32_t)uv;
    return 0;
  case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
    if (jint(j, INT64_MIN, INT64_MAX, &sv, &uv)) return -1;
    *(int64_t *)dst = sv;
    return 0;
  case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
    if (jint(j, 0, UINT64_MAX, &sv, &uv)) return -1;
    *(uint64_t *)dst = uv;
    return 0;
  default: /* float, double, bytes: none in the flyteidl2 event messages */
    return jfail(j, "field type not supported by this codec");
  }
}

static int jrepeated(jp *j, const ProtobufCFieldDescriptor *f, ProtobufCMessage *m) {
  char *base = (char *)m;
  size_t *n = (size_t *)(base + f->quantifier_offset);
  void **arr = (void **)(base + f->offset);
  size_t sz = hop_ev_elem_size(f->type), cap = 0;
  if (j->s[j->pos] != '[') return jfail(j, "expected an array");
  j->pos++;
  ws(j);
  if (j->s[j->pos] == ']') {
    j->pos++;
    return 0;
  }
  for (;;) {
    ws(j);
    if (j->s[j->pos] == 'n') return jfail(j, "null in a repeated field");
    if (*n == cap) {
      size_t nc = cap ? cap * 2 : 4;
      if (nc > SIZE_MAX / sz) return jfail(j, "out of memory");
      void *na = realloc(*arr, nc * sz);
      if (!na) return jfail(j, "out of memory");
      *arr = na;
      cap = nc;
    }
    char *slot = (char *)*arr + *n * sz;
    memset(slot, 0, sz);
    size_t old = hop_ev_path_push(&j->path, "", (long)*n);
    /* the index goes right after the field name: drop the separator the push added */
    if (old < j->path.len && j->path.buf[old] == '.') {
      memmove(j->path.buf + old, j->path.buf + old + 1, j->path.len - old);
      j->path.len--;
    }
    if (jvalue(j, f, slot)) return -1; /* nothing stored in the slot; *n untouched */
    hop_ev_path_pop(&j->path, old);
    (*n)++;
    ws(j);
    if (j->s[j->pos] == ',') {
      j->pos++;
      continue;
    }
    j->pos++; /* ']' (pass 1 checked the syntax) */
    return 0;
  }
}

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *d,
                                                  const char *key) {
  char jn[128];
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (strcmp(f->name, key) == 0) return f;
    hop_ev_json_name(f->name, jn, sizeof jn);
    if (strcmp(jn, key) == 0) return f;
  }
  return NULL;
}

static int jmessage(jp *j, const ProtobufCMessageDescriptor *d, ProtobufCMessage **out) {
  ProtobufCMessage *m;
  unsigned char seen[64] = {0};
  if (j->s[j->pos] != '{') return jfail(j, "expected an object (%s)", d->name);
  if (strcmp(d->name, "google.protobuf.Any") == 0)
    return jfail(j, "google.protobuf.Any is not supported");
  if (new_message(j, d, &m)) return -1;
  j->pos++;
  ws(j);
  if (j->s[j->pos] == '}') {
    j->pos++;
    *out = m;
    return 0;
  }
  for (;;) {
    char *key;
    size_t kn;
    ws(j);
    if (jstring(j, &key, &kn)) goto fail;
    const ProtobufCFieldDescriptor *f = find_field(d, key);
    if (!f) {
      jfail(j, "unknown field \"%.60s\" in %s", key, d->name);
      free(key);
      goto fail;
    }
    free(key);
    size_t fi = (size_t)(f - d->fields);
    if (fi < sizeof seen) {
      if (seen[fi]) {
        jfail(j, "duplicate field \"%s\"", f->name);
        goto fail;
      }
      seen[fi] = 1;
    }
    ws(j);
    j->pos++; /* ':' */
    ws(j);
    size_t old = hop_ev_path_push(&j->path, f->name, -1);
    if (!jliteral(j, "null")) {
      /* null = the field's default, as protojson */
    } else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      if (jrepeated(j, f, m)) goto fail;
    } else {
      if (jvalue(j, f, (char *)m + f->offset)) goto fail;
      if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
          f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING)
        *(protobuf_c_boolean *)((char *)m + f->quantifier_offset) = 1;
    }
    hop_ev_path_pop(&j->path, old);
    ws(j);
    if (j->s[j->pos] == ',') {
      j->pos++;
      continue;
    }
    j->pos++; /* '}' */
    *out = m;
    return 0;
  }
fail:
  protobuf_c_message_free_unpacked(m, NULL);
  return -1;
}

int hop_ev_json_to_request(const char *json, size_t len, size_t max_out, uint8_t **out,
                           size_t *out_len, char *err, size_t errlen) {
  return hop_ev_json_to_binary(&flyteidl2__workflow__record_request__descriptor, json, len,
                               max_out, out, out_len, err, errlen);
}

int hop_ev_json_to_binary(const ProtobufCMessageDescriptor *desc, const char *json, size_t len,
                          size_t max_out, uint8_t **out, size_t *out_len, char *err,
                          size_t errlen) {
  jp j;
  memset(&j, 0, sizeof j);
  j.s = json ? json : "";
  j.len = json ? len : 0;
  j.err = err;
  j.errlen = errlen;
  *out = NULL;
  *out_len = 0;
  if (jscan(&j)) return -1;
  j.pos = 0;
  ws(&j);
  /* every nested message packs to >= 2 bytes: a cheap early stop for huge inputs */
  j.max_msgs = max_out ? max_out / 2 + 1 : 0;
  ProtobufCMessage *m = NULL;
  if (jmessage(&j, desc, &m)) return -1;
  size_t n = protobuf_c_message_get_packed_size(m);
  if (max_out && n > max_out) {
    protobuf_c_message_free_unpacked(m, NULL);
    if (err && errlen) snprintf(err, errlen, "request is %zu bytes in binary, more than the cap %zu", n, max_out);
    return -1;
  }
  uint8_t *buf = malloc(n ? n : 1);
  if (!buf) {
    protobuf_c_message_free_unpacked(m, NULL);
    if (err && errlen) snprintf(err, errlen, "out of memory");
    return -1;
  }
  size_t w = protobuf_c_message_pack(m, buf);
  protobuf_c_message_free_unpacked(m, NULL);
  *out = buf;
  *out_len = w;
  return 0;
}
