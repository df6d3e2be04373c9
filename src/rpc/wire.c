/* base64, timeouts, percent-encoding, Connect error JSON, google.rpc.Status, trailer blocks. */
#include "rpc/wire.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fmt.h"
#include "hopwire/error.h"
#include "rpc/json.h"

/* ---- base64 ---- */
int hop_b64_encode(hop_buf *out, const void *p, size_t len, int alphabet, int pad) {
  static const char std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  static const char url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const char *t = alphabet == HOP_B64_URL ? url : std;
  const uint8_t *s = p;
  int rc = hop_buf_reserve(out, (len + 2) / 3 * 4);
  if (rc) return rc;
  char q[4];
  size_t i = 0;
  for (; i + 3 <= len; i += 3) {
    uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
    q[0] = t[v >> 18];
    q[1] = t[(v >> 12) & 63];
    q[2] = t[(v >> 6) & 63];
    q[3] = t[v & 63];
    hop_buf_append(out, q, 4);
  }
  size_t rest = len - i;
  if (rest) {
    uint32_t v = (uint32_t)s[i] << 16 | (rest == 2 ? (uint32_t)s[i + 1] << 8 : 0);
    q[0] = t[v >> 18];
    q[1] = t[(v >> 12) & 63];
    q[2] = rest == 2 ? t[(v >> 6) & 63] : '=';
    q[3] = '=';
    size_t n = pad ? 4 : rest + 1;
    hop_buf_append(out, q, n);
  }
  return HOP_OK;
}

static int b64val(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

int hop_b64_decode(hop_buf *out, const char *s, size_t len) {
  while (len && s[len - 1] == '=') len--;
  if (len % 4 == 1) return HOP_EINVAL;
  int rc = hop_buf_reserve(out, len / 4 * 3 + 3);
  if (rc) return rc;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < len; i++) {
    int v = b64val((unsigned char)s[i]);
    if (v < 0) return HOP_EINVAL;
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      uint8_t b = (uint8_t)(acc >> bits);
      hop_buf_append(out, &b, 1);
    }
  }
  return HOP_OK;
}

/* ---- timeouts ---- */
int hop_rpc_parse_connect_timeout(const char *v, uint64_t *ms) {
  if (!v) return HOP_EINVAL;
  size_t n = strlen(v);
  if (n < 1 || n > 10) return HOP_EINVAL;
  uint64_t x = 0;
  for (size_t i = 0; i < n; i++) {
    if (v[i] < '0' || v[i] > '9') return HOP_EINVAL;
    x = x * 10 + (uint64_t)(v[i] - '0');
  }
  *ms = x;
  return HOP_OK;
}

int hop_rpc_parse_grpc_timeout(const char *v, uint64_t *us) {
  if (!v) return HOP_EINVAL;
  size_t n = strlen(v);
  if (n < 2 || n > 9) return HOP_EINVAL;
  uint64_t x = 0;
  for (size_t i = 0; i + 1 < n; i++) {
    if (v[i] < '0' || v[i] > '9') return HOP_EINVAL;
    x = x * 10 + (uint64_t)(v[i] - '0');
  }
  switch (v[n - 1]) {
  case 'H': x *= 3600ull * 1000000; break;
  case 'M': x *= 60ull * 1000000; break;
  case 'S': x *= 1000000; break;
  case 'm': x *= 1000; break;
  case 'u': break;
  case 'n': x = (x + 999) / 1000; break; /* round up: never shorten a deadline to 0 */
  default: return HOP_EINVAL;
  }
  *us = x;
  return HOP_OK;
}

size_t hop_rpc_grpc_timeout_write(uint64_t ms, char *out) {
  uint64_t v = ms;
  char unit = 'm';
  if (ms >= 100000000ull) {
    if (ms / 1000 < 100000000ull) v = ms / 1000, unit = 'S';
    else if (ms / 60000 < 100000000ull) v = ms / 60000, unit = 'M';
    else v = ms / 3600000 > 99999999 ? 99999999 : ms / 3600000, unit = 'H';
  }
  size_t n = hop_fmt_u64(out, v); /* at most 8 digits */
  out[n++] = unit;
  out[n] = '\0';
  return n;
}

void hop_rpc_format_grpc_timeout(uint64_t ms, char *buf, size_t n) {
  char tmp[24];
  size_t len = hop_rpc_grpc_timeout_write(ms, tmp);
  if (!n) return;
  if (len >= n) len = n - 1; /* truncated as snprintf would */
  memcpy(buf, tmp, len);
  buf[len] = '\0';
}

/* ---- percent-encoding ---- */
int hop_pct_encode(hop_buf *out, const char *s, size_t len) {
  static const char hex[] = "0123456789ABCDEF";
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    int rc;
    if (c >= 0x20 && c <= 0x7e && c != '%') {
      rc = hop_buf_append(out, &s[i], 1);
    } else {
      char e[3] = {'%', hex[c >> 4], hex[c & 15]};
      rc = hop_buf_append(out, e, 3);
    }
    if (rc) return rc;
  }
  return HOP_OK;
}

static int hexv(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int pct_decode(hop_buf *out, const char *s, size_t len, int plus_space) {
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    int rc;
    if (c == '%' && i + 2 < len + 0 && hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0) {
      uint8_t b = (uint8_t)(hexv(s[i + 1]) << 4 | hexv(s[i + 2]));
      rc = hop_buf_append(out, &b, 1);
      i += 2;
    } else if (c == '+' && plus_space) {
      rc = hop_buf_append(out, " ", 1);
    } else {
      rc = hop_buf_append(out, &c, 1);
    }
    if (rc) return rc;
  }
  return HOP_OK;
}

int hop_pct_decode(hop_buf *out, const char *s, size_t len) { return pct_decode(out, s, len, 0); }
int hop_form_decode(hop_buf *out, const char *s, size_t len) { return pct_decode(out, s, len, 1); }

/* ---- owned errors ---- */
void hop_rpc_details_free(hop_rpc_detail *d, size_t n) {
  if (!d) return;
  for (size_t i = 0; i < n; i++) {
    free((void *)d[i].type);
    free((void *)d[i].value);
  }
  free(d);
}

void hop_rpc_err_data_free(hop_rpc_err_data *e) {
  free(e->message);
  hop_rpc_details_free(e->details, e->ndetails);
  e->message = NULL;
  e->details = NULL;
  e->ndetails = 0;
}

static char *dupn(const void *p, size_t n) {
  char *s = malloc(n + 1);
  if (!s) return NULL;
  if (n) memcpy(s, p, n);
  s[n] = 0;
  return s;
}

#define HOP_RPC_MAX_DETAILS 64

/* Appends one detail to a growing array (taking ownership of |type|/|value| on success). */
static int details_push(hop_rpc_detail **arr, size_t *n, char *type, size_t tlen, uint8_t *value,
                        size_t vlen) {
  if (*n >= HOP_RPC_MAX_DETAILS) return HOP_ETOOBIG;
  hop_rpc_detail *na = realloc(*arr, (*n + 1) * sizeof(**arr));
  if (!na) return HOP_ENOMEM;
  *arr = na;
  na[*n] = (hop_rpc_detail){type, tlen, value, vlen};
  (*n)++;
  return HOP_OK;
}

int hop_rpc_details_copy(const hop_rpc_detail *src, size_t n, hop_rpc_detail **out) {
  *out = NULL;
  if (!n) return HOP_OK;
  if (n > HOP_RPC_MAX_DETAILS) return HOP_ETOOBIG;
  hop_rpc_detail *d = calloc(n, sizeof(*d));
  if (!d) return HOP_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    d[i].type = dupn(src[i].type, src[i].type_len);
    d[i].value = (const uint8_t *)dupn(src[i].value, src[i].value_len);
    d[i].type_len = src[i].type_len;
    d[i].value_len = src[i].value_len;
    if (!d[i].type || !d[i].value) {
      hop_rpc_details_free(d, n);
      return HOP_ENOMEM;
    }
  }
  *out = d;
  return HOP_OK;
}

/* ---- Connect error JSON ---- */
int hop_connect_error_encode(hop_buf *out, hop_code code, const char *message,
                             const hop_rpc_detail *details, size_t ndetails) {
  int rc = hop_buf_appendf(out, "{\"code\":\"%s\"", hop_code_name(code));
  if (!rc && message && *message) {
    rc = hop_buf_append(out, ",\"message\":", 11);
    if (!rc) rc = hop_json_quote(out, message, strlen(message));
  }
  if (!rc && ndetails) {
    rc = hop_buf_append(out, ",\"details\":[", 12);
    for (size_t i = 0; !rc && i < ndetails; i++) {
      if (i) rc = hop_buf_append(out, ",", 1);
      /* Connect's detail type is the fully-qualified message name, no URL prefix. */
      const char *t = details[i].type;
      size_t tl = details[i].type_len;
      const char *slash = memchr(t, '/', tl);
      if (slash) {
        const char *last = t + tl;
        while (last > t && last[-1] != '/') last--;
        tl -= (size_t)(last - t);
        t = last;
      }
      if (!rc) rc = hop_buf_append(out, "{\"type\":", 8);
      if (!rc) rc = hop_json_quote(out, t, tl);
      if (!rc) rc = hop_buf_append(out, ",\"value\":\"", 10);
      if (!rc) rc = hop_b64_encode(out, details[i].value, details[i].value_len, HOP_B64_STD, 0);
      if (!rc) rc = hop_buf_append(out, "\"}", 2);
    }
    if (!rc) rc = hop_buf_append(out, "]", 1);
  }
  if (!rc) rc = hop_buf_append(out, "}", 1);
  return rc;
}

static int key_is(const hop_buf *k, const char *s) {
  size_t n = strlen(s);
  return k->len == n && !memcmp(k->data, s, n);
}

static int decode_detail(hop_json *j, hop_rpc_err_data *out) {
  if (!hop_json_eat(j, '{')) return HOP_EINVAL;
  hop_buf key, type, val, raw;
  hop_buf_init(&key, 4096);
  hop_buf_init(&type, 4096);
  hop_buf_init(&val, 1 << 20);
  hop_buf_init(&raw, 1 << 20);
  int rc = HOP_OK, have_type = 0;
  if (!hop_json_eat(j, '}')) {
    for (;;) {
      hop_buf_clear(&key);
      if (hop_json_string(j, &key) || !hop_json_eat(j, ':')) {
        rc = HOP_EINVAL;
        break;
      }
      if (key_is(&key, "type")) {
        hop_buf_clear(&type);
        if (hop_json_string(j, &type)) rc = HOP_EINVAL;
        have_type = 1;
      } else if (key_is(&key, "value")) {
        hop_buf_clear(&raw);
        hop_buf_clear(&val);
        if (hop_json_string(j, &raw) || hop_b64_decode(&val, (const char *)raw.data, raw.len))
          rc = HOP_EINVAL;
      } else if (hop_json_skip(j)) {
        rc = HOP_EINVAL;
      }
      if (rc) break;
      if (hop_json_eat(j, ',')) continue;
      if (hop_json_eat(j, '}')) break;
      rc = HOP_EINVAL;
      break;
    }
  }
  if (!rc && have_type) {
    size_t tl = type.len, vl = val.len;
    char *t = dupn(type.data, tl);
    uint8_t *v = (uint8_t *)dupn(val.data, vl);
    if (!t || !v || details_push(&out->details, &out->ndetails, t, tl, v, vl)) {
      free(t);
      free(v);
      rc = HOP_ENOMEM;
    }
  }
  hop_buf_free(&key);
  hop_buf_free(&type);
  hop_buf_free(&val);
  hop_buf_free(&raw);
  return rc;
}

int hop_connect_error_decode(const uint8_t *body, size_t len, hop_rpc_err_data *out) {
  memset(out, 0, sizeof(*out));
  out->code = HOP_CODE_UNKNOWN;
  hop_json j;
  hop_json_init(&j, (const char *)body, len);
  hop_buf key, sval;
  hop_buf_init(&key, 4096);
  hop_buf_init(&sval, 1 << 20);
  int rc = HOP_OK, have_code = 0;
  if (!hop_json_eat(&j, '{')) {
    rc = HOP_EINVAL;
    goto done;
  }
  if (hop_json_eat(&j, '}')) goto done;
  for (;;) {
    hop_buf_clear(&key);
    if (hop_json_string(&j, &key) || !hop_json_eat(&j, ':')) {
      rc = HOP_EINVAL;
      break;
    }
    if (key_is(&key, "code")) {
      hop_buf_clear(&sval);
      if (hop_json_string(&j, &sval) ||
          hop_code_parse((const char *)sval.data, sval.len, &out->code) ||
          out->code == HOP_CODE_OK)
        rc = HOP_EINVAL;
      have_code = 1;
    } else if (key_is(&key, "message")) {
      hop_buf_clear(&sval);
      if (hop_json_string(&j, &sval)) {
        rc = HOP_EINVAL;
      } else {
        free(out->message);
        out->message = dupn(sval.data, sval.len);
        if (!out->message) rc = HOP_ENOMEM;
      }
    } else if (key_is(&key, "details")) {
      if (!hop_json_eat(&j, '[')) {
        rc = HOP_EINVAL;
      } else if (!hop_json_eat(&j, ']')) {
        for (;;) {
          if ((rc = decode_detail(&j, out))) break;
          if (hop_json_eat(&j, ',')) continue;
          if (!hop_json_eat(&j, ']')) rc = HOP_EINVAL;
          break;
        }
      }
    } else if (hop_json_skip(&j)) {
      rc = HOP_EINVAL;
    }
    if (rc) break;
    if (hop_json_eat(&j, ',')) continue;
    if (!hop_json_eat(&j, '}')) rc = HOP_EINVAL;
    break;
  }
done:
  hop_buf_free(&key);
  hop_buf_free(&sval);
  if (!rc && !have_code) rc = HOP_EINVAL;
  if (!rc && !out->message) {
    out->message = dupn("", 0);
    if (!out->message) rc = HOP_ENOMEM;
  }
  if (rc) {
    hop_rpc_err_data_free(out);
    out->code = HOP_CODE_UNKNOWN;
  }
  return rc;
}

/* ---- google.rpc.Status ---- */
static int pb_varint(hop_buf *out, uint64_t v) {
  uint8_t b[10];
  size_t n = 0;
  do {
    b[n] = (uint8_t)(v & 0x7f);
    v >>= 7;
    if (v) b[n] |= 0x80;
    n++;
  } while (v);
  return hop_buf_append(out, b, n);
}

static int pb_bytes(hop_buf *out, unsigned field, const void *p, size_t len) {
  int rc = pb_varint(out, (uint64_t)field << 3 | 2);
  if (!rc) rc = pb_varint(out, len);
  if (!rc && len) rc = hop_buf_append(out, p, len);
  return rc;
}

int hop_grpc_status_encode(hop_buf *out, hop_code code, const char *message,
                           const hop_rpc_detail *details, size_t ndetails) {
  int rc = HOP_OK;
  if (code) {
    rc = pb_varint(out, 1 << 3 | 0);
    if (!rc) rc = pb_varint(out, (uint64_t)code);
  }
  if (!rc && message && *message) rc = pb_bytes(out, 2, message, strlen(message));
  hop_buf any;
  hop_buf_init(&any, out->max);
  for (size_t i = 0; !rc && i < ndetails; i++) {
    hop_buf_clear(&any);
    const char *pfx = "type.googleapis.com/";
    int has_slash = memchr(details[i].type, '/', details[i].type_len) != NULL;
    if (!has_slash) {
      rc = pb_varint(&any, 1 << 3 | 2);
      if (!rc) rc = pb_varint(&any, strlen(pfx) + details[i].type_len);
      if (!rc) rc = hop_buf_append(&any, pfx, strlen(pfx));
      if (!rc && details[i].type_len) rc = hop_buf_append(&any, details[i].type, details[i].type_len);
    } else {
      rc = pb_bytes(&any, 1, details[i].type, details[i].type_len);
    }
    if (!rc) rc = pb_bytes(&any, 2, details[i].value, details[i].value_len);
    if (!rc) rc = pb_bytes(out, 3, any.data, any.len);
  }
  hop_buf_free(&any);
  return rc;
}

static int pb_read_varint(const uint8_t *p, size_t len, size_t *off, uint64_t *v) {
  uint64_t x = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*off >= len) return -1;
    uint8_t b = p[(*off)++];
    x |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = x;
      return 0;
    }
  }
  return -1;
}

/* Walks fields; calls back for length-delimited ones. */
typedef int (*pb_field_fn)(unsigned field, uint64_t varint, const uint8_t *p, size_t len, void *ud);
static int pb_walk(const uint8_t *p, size_t len, pb_field_fn fn, void *ud) {
  size_t off = 0;
  while (off < len) {
    uint64_t key, v = 0;
    if (pb_read_varint(p, len, &off, &key)) return HOP_EPROTO;
    unsigned field = (unsigned)(key >> 3), wt = (unsigned)(key & 7);
    const uint8_t *data = NULL;
    size_t dlen = 0;
    switch (wt) {
    case 0:
      if (pb_read_varint(p, len, &off, &v)) return HOP_EPROTO;
      break;
    case 1:
      if (len - off < 8) return HOP_EPROTO;
      off += 8;
      continue;
    case 5:
      if (len - off < 4) return HOP_EPROTO;
      off += 4;
      continue;
    case 2:
      if (pb_read_varint(p, len, &off, &v) || v > len - off) return HOP_EPROTO;
      data = p + off;
      dlen = (size_t)v;
      off += dlen;
      break;
    default: return HOP_EPROTO;
    }
    int rc = fn(field, v, data, dlen, ud);
    if (rc) return rc;
  }
  return HOP_OK;
}

typedef struct any_acc {
  const uint8_t *type, *value;
  size_t type_len, value_len;
} any_acc;

static int any_field(unsigned field, uint64_t v, const uint8_t *p, size_t len, void *ud) {
  any_acc *a = ud;
  if (field == 1 && p) {
    a->type = p;
    a->type_len = len;
  } else if (field == 2 && p) {
    a->value = p;
    a->value_len = len;
  }
  return 0;
}

static int status_field(unsigned field, uint64_t v, const uint8_t *p, size_t len, void *ud) {
  hop_rpc_err_data *e = ud;
  if (field == 1 && !p) {
    e->code = v <= 16 ? (hop_code)v : HOP_CODE_UNKNOWN;
  } else if (field == 2 && p) {
    free(e->message);
    e->message = dupn(p, len);
    if (!e->message) return HOP_ENOMEM;
  } else if (field == 3 && p) {
    any_acc a = {0};
    int rc = pb_walk(p, len, any_field, &a);
    if (rc) return rc;
    const uint8_t *t = a.type;
    size_t tl = a.type_len;
    for (size_t i = tl; i > 0; i--) /* strip "type.googleapis.com/" */
      if (t[i - 1] == '/') {
        t += i;
        tl -= i;
        break;
      }
    char *ts = dupn(t ? (const char *)t : "", tl);
    uint8_t *vs = (uint8_t *)dupn(a.value ? (const char *)a.value : "", a.value_len);
    if (!ts || !vs || (rc = details_push(&e->details, &e->ndetails, ts, tl, vs, a.value_len))) {
      free(ts);
      free(vs);
      return rc ? rc : HOP_ENOMEM;
    }
  }
  return 0;
}

int hop_grpc_status_decode(const uint8_t *p, size_t len, hop_rpc_err_data *out) {
  memset(out, 0, sizeof(*out));
  int rc = pb_walk(p, len, status_field, out);
  if (rc) hop_rpc_err_data_free(out);
  return rc;
}

/* ---- header lists ---- */
int hop_hdr_list_add(hop_hdr_list *l, const char *name, size_t nlen, const char *value,
                     size_t vlen, int lower) {
  if (l->n >= 1024) return HOP_ETOOBIG;
  if (l->n == l->cap) {
    size_t nc = l->cap ? l->cap * 2 : 8;
    hop_header *nv = realloc(l->v, nc * sizeof(*nv));
    if (!nv) return HOP_ENOMEM;
    l->v = nv;
    l->cap = nc;
  }
  char *s = malloc(nlen + vlen + 2); /* name\0value\0 in one block, owned via name */
  if (!s) return HOP_ENOMEM;
  for (size_t i = 0; i < nlen; i++) s[i] = lower ? (char)tolower((unsigned char)name[i]) : name[i];
  s[nlen] = 0;
  if (vlen) memcpy(s + nlen + 1, value, vlen);
  s[nlen + 1 + vlen] = 0;
  l->v[l->n++] = (hop_header){s, nlen, s + nlen + 1, vlen};
  return HOP_OK;
}

void hop_headers_free(hop_header *v, size_t n) {
  if (!v) return;
  for (size_t i = 0; i < n; i++) free((void *)v[i].name);
  free(v);
}

void hop_hdr_list_free(hop_hdr_list *l) {
  hop_headers_free(l->v, l->n);
  l->v = NULL;
  l->n = l->cap = 0;
}

int hop_grpcweb_trailers_encode(hop_buf *out, const hop_header *t, size_t n) {
  for (size_t i = 0; i < n; i++) {
    int rc = hop_buf_append(out, t[i].name, t[i].name_len);
    if (!rc) rc = hop_buf_append(out, ": ", 2);
    if (!rc) rc = hop_buf_append(out, t[i].value, t[i].value_len);
    if (!rc) rc = hop_buf_append(out, "\r\n", 2);
    if (rc) return rc;
  }
  return HOP_OK;
}

int hop_grpcweb_trailers_parse(const uint8_t *p, size_t len, hop_hdr_list *out) {
  const char *s = (const char *)p, *end = s + len;
  while (s < end) {
    const char *eol = memchr(s, '\n', (size_t)(end - s));
    const char *le = eol ? eol : end;
    const char *next = eol ? eol + 1 : end;
    if (le > s && le[-1] == '\r') le--;
    if (le == s) {
      s = next;
      continue;
    }
    const char *colon = memchr(s, ':', (size_t)(le - s));
    if (!colon || colon == s) return HOP_EPROTO;
    const char *v = colon + 1;
    while (v < le && (*v == ' ' || *v == '\t')) v++;
    const char *ve = le;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
    int rc = hop_hdr_list_add(out, s, (size_t)(colon - s), v, (size_t)(ve - v), 1);
    if (rc) return rc;
    s = next;
  }
  return HOP_OK;
}

int hop_grpc_status_from_headers(const hop_header *h, size_t n, hop_rpc_err_data *out) {
  memset(out, 0, sizeof(*out));
  size_t sl, ml = 0, dl = 0;
  const char *st = hop_headers_get(h, n, "grpc-status", &sl);
  if (!st || !sl || sl > 2) return HOP_EPROTO;
  unsigned v = 0;
  for (size_t i = 0; i < sl; i++) {
    if (st[i] < '0' || st[i] > '9') return HOP_EPROTO;
    v = v * 10 + (unsigned)(st[i] - '0');
  }
  if (v > 16) return HOP_EPROTO;
  out->code = (hop_code)v;
  const char *msg = hop_headers_get(h, n, "grpc-message", &ml);
  const char *det = hop_headers_get(h, n, "grpc-status-details-bin", &dl);
  if (det && dl) {
    hop_buf raw;
    hop_buf_init(&raw, 1 << 20);
    hop_rpc_err_data d;
    if (!hop_b64_decode(&raw, det, dl) && !hop_grpc_status_decode(raw.data, raw.len, &d)) {
      out->details = d.details;
      out->ndetails = d.ndetails;
      d.details = NULL;
      d.ndetails = 0;
      hop_rpc_err_data_free(&d);
    }
    hop_buf_free(&raw);
  }
  hop_buf m;
  hop_buf_init(&m, 1 << 20);
  if (msg) hop_pct_decode(&m, msg, ml);
  out->message = dupn(m.data ? (const char *)m.data : "", m.len);
  hop_buf_free(&m);
  if (!out->message) {
    hop_rpc_err_data_free(out);
    return HOP_ENOMEM;
  }
  return HOP_OK;
}
