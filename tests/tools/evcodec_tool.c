/* The event codec on stdin/stdout, for tests that check it against another protobuf
 * implementation:
 *   evcodec_tool decode      binary RecordRequest in; one line per row out:
 *                            project domain run_name name (hex) attempt phase version
 *                            error_kind ("-" when none) info (hex)
 *   evcodec_tool json2bin    Connect JSON RecordRequest in; binary out
 *   evcodec_tool event2json  one binary ActionEvent in; its proto3 JSON out
 * Exit 0, or 1 with the codec's error on stderr. Input capped at 64 MiB. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/codec.h"

#define MAX_IN (64u << 20)

static unsigned char *slurp(size_t *len) {
  size_t cap = 1 << 16, n = 0;
  unsigned char *b = malloc(cap);
  if (!b) return NULL;
  for (;;) {
    if (n == cap) {
      if (cap >= MAX_IN) {
        fprintf(stderr, "input larger than %u bytes\n", MAX_IN);
        free(b);
        return NULL;
      }
      unsigned char *nb = realloc(b, cap * 2);
      if (!nb) {
        free(b);
        return NULL;
      }
      b = nb, cap *= 2;
    }
    size_t r = fread(b + n, 1, cap - n, stdin);
    if (r == 0) break;
    n += r;
  }
  *len = n;
  return b;
}

static void hex(const void *p, size_t n) {
  const unsigned char *s = p;
  if (n == 0) fputc('.', stdout); /* an empty field stays a column */
  for (size_t i = 0; i < n; i++) printf("%02x", s[i]);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: evcodec_tool decode|json2bin|event2json < in > out\n");
    return 2;
  }
  size_t len;
  unsigned char *in = slurp(&len);
  if (!in) return 1;
  char err[256] = "";
  int rc = 1;
  if (strcmp(argv[1], "decode") == 0) {
    hop_ev_batch b;
    if (hop_ev_decode(in, len, 0, &b, err, sizeof err) == 0) {
      for (size_t i = 0; i < b.n; i++) {
        const hop_ev_row *r = &b.rows[i];
        hex(r->project, strlen(r->project)), fputc(' ', stdout);
        hex(r->domain, strlen(r->domain)), fputc(' ', stdout);
        hex(r->run_name, strlen(r->run_name)), fputc(' ', stdout);
        hex(r->name, strlen(r->name));
        printf(" %u %d %u %s ", r->attempt, r->phase, r->version,
               r->error_kind ? r->error_kind : "-");
        hex(r->info, r->info_len);
        fputc('\n', stdout);
      }
      hop_ev_batch_free(&b);
      rc = 0;
    }
  } else if (strcmp(argv[1], "json2bin") == 0) {
    unsigned char *out;
    size_t n;
    if (hop_ev_json_to_request((const char *)in, len, MAX_IN, &out, &n, err, sizeof err) == 0) {
      fwrite(out, 1, n, stdout);
      free(out);
      rc = 0;
    }
  } else if (strcmp(argv[1], "event2json") == 0) {
    char *out;
    size_t n;
    if (hop_ev_event_to_json(in, len, &out, &n) == 0) {
      fwrite(out, 1, n, stdout);
      free(out);
      rc = 0;
    } else {
      snprintf(err, sizeof err, "event does not decode");
    }
  } else {
    fprintf(stderr, "unknown command %s\n", argv[1]);
    free(in);
    return 2;
  }
  if (rc) fprintf(stderr, "%s\n", err);
  free(in);
  return rc;
}
