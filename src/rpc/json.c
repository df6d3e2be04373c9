/* Minimal JSON: validate, skip, read strings, quote. */
#include "rpc/json.h"

#include <string.h>

#include "hopwire/error.h"

void hop_json_init(hop_json *j, const char *p, size_t len) {
  if (!p) p = ""; /* an empty body may have no buffer: NULL + 0 is undefined behaviour */
  j->p = p;
  j->end = p + len;
  j->depth = 0;
}

void hop_json_ws(hop_json *j) {
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
    j->p++;
}

int hop_json_eat(hop_json *j, char c) {
  hop_json_ws(j);
  if (j->p < j->end && *j->p == c) {
    j->p++;
    return 1;
  }
  return 0;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int read_u4(hop_json *j, unsigned *cp) {
  if (j->end - j->p < 4) return -1;
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval(j->p[i]);
    if (h < 0) return -1;
    v = v << 4 | (unsigned)h;
  }
  j->p += 4;
  *cp = v;
  return 0;
}

static int put_utf8(hop_buf *out, unsigned cp) {
  uint8_t b[4];
  size_t n;
  if (cp < 0x80) {
    b[0] = (uint8_t)cp;
    n = 1;
  } else if (cp < 0x800) {
    b[0] = (uint8_t)(0xc0 | cp >> 6);
    b[1] = (uint8_t)(0x80 | (cp & 0x3f));
    n = 2;
  } else if (cp < 0x10000) {
    b[0] = (uint8_t)(0xe0 | cp >> 12);
    b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    b[2] = (uint8_t)(0x80 | (cp & 0x3f));
    n = 3;
  } else {
    b[0] = (uint8_t)(0xf0 | cp >> 18);
    b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
    b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    b[3] = (uint8_t)(0x80 | (cp & 0x3f));
    n = 4;
  }
  return out ? hop_buf_append(out, b, n) : 0;
}

/* out may be NULL (validate / skip only). */
int hop_json_string(hop_json *j, hop_buf *out) {
  hop_json_ws(j);
  if (j->p >= j->end || *j->p != '"') return -1;
  j->p++;
  while (j->p < j->end) {
    unsigned char c = (unsigned char)*j->p;
    if (c == '"') {
      j->p++;
      return 0;
    }
    if (c < 0x20) return -1;
    if (c != '\\') {
      const char *s = j->p;
      while (j->p < j->end && *j->p != '"' && *j->p != '\\' && (unsigned char)*j->p >= 0x20) j->p++;
      if (out && hop_buf_append(out, s, (size_t)(j->p - s))) return -1;
      continue;
    }
    j->p++;
    if (j->p >= j->end) return -1;
    char e = *j->p++;
    unsigned cp;
    switch (e) {
    case '"': cp = '"'; break;
    case '\\': cp = '\\'; break;
    case '/': cp = '/'; break;
    case 'b': cp = '\b'; break;
    case 'f': cp = '\f'; break;
    case 'n': cp = '\n'; break;
    case 'r': cp = '\r'; break;
    case 't': cp = '\t'; break;
    case 'u':
      if (read_u4(j, &cp)) return -1;
      if (cp >= 0xd800 && cp < 0xdc00) {
        unsigned lo;
        if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u') return -1;
        j->p += 2;
        if (read_u4(j, &lo) || lo < 0xdc00 || lo > 0xdfff) return -1;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
      } else if (cp >= 0xdc00 && cp <= 0xdfff) {
        return -1;
      }
      break;
    default: return -1;
    }
    if (put_utf8(out, cp)) return -1;
  }
  return -1;
}

static int skip_number(hop_json *j) {
  const char *p = j->p;
  if (p < j->end && *p == '-') p++;
  if (p >= j->end) return -1;
  if (*p == '0') {
    p++;
  } else if (*p >= '1' && *p <= '9') {
    while (p < j->end && *p >= '0' && *p <= '9') p++;
  } else {
    return -1;
  }
  if (p < j->end && *p == '.') {
    p++;
    if (p >= j->end || *p < '0' || *p > '9') return -1;
    while (p < j->end && *p >= '0' && *p <= '9') p++;
  }
  if (p < j->end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < j->end && (*p == '+' || *p == '-')) p++;
    if (p >= j->end || *p < '0' || *p > '9') return -1;
    while (p < j->end && *p >= '0' && *p <= '9') p++;
  }
  j->p = p;
  return 0;
}

static int skip_lit(hop_json *j, const char *lit) {
  size_t n = strlen(lit);
  if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n)) return -1;
  j->p += n;
  return 0;
}

int hop_json_skip(hop_json *j) {
  hop_json_ws(j);
  if (j->p >= j->end) return -1;
  switch (*j->p) {
  case '"': return hop_json_string(j, NULL);
  case 't': return skip_lit(j, "true");
  case 'f': return skip_lit(j, "false");
  case 'n': return skip_lit(j, "null");
  case '{':
  case '[': {
    char close = *j->p == '{' ? '}' : ']';
    int obj = close == '}';
    if (++j->depth > HOP_JSON_MAX_DEPTH) return -1;
    j->p++;
    if (hop_json_eat(j, close)) {
      j->depth--;
      return 0;
    }
    for (;;) {
      if (obj) {
        if (hop_json_string(j, NULL) || !hop_json_eat(j, ':')) return -1;
      }
      if (hop_json_skip(j)) return -1;
      if (hop_json_eat(j, ',')) continue;
      if (hop_json_eat(j, close)) break;
      return -1;
    }
    j->depth--;
    return 0;
  }
  default: return skip_number(j);
  }
}

int hop_json_valid(const char *p, size_t len, size_t *at) {
  hop_json j;
  hop_json_init(&j, p, len);
  int ok = hop_json_skip(&j) == 0;
  if (ok) {
    hop_json_ws(&j);
    ok = j.p == j.end;
  }
  if (!ok && at) *at = (size_t)(j.p - p);
  return ok;
}

int hop_json_quote(hop_buf *out, const char *s, size_t len) {
  static const char hex[] = "0123456789abcdef";
  if (hop_buf_append(out, "\"", 1)) return HOP_ETOOBIG;
  size_t run = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    if (i > run && hop_buf_append(out, s + run, i - run)) return HOP_ETOOBIG;
    char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
    int rc;
    if (c == '"' || c == '\\') {
      esc[1] = (char)c;
      rc = hop_buf_append(out, esc, 2);
    } else if (c == '\n') {
      rc = hop_buf_append(out, "\\n", 2);
    } else {
      rc = hop_buf_append(out, esc, 6);
    }
    if (rc) return rc;
    run = i + 1;
  }
  if (len > run && hop_buf_append(out, s + run, len - run)) return HOP_ETOOBIG;
  return hop_buf_append(out, "\"", 1);
}
