/* hopwire events: read back what a run-service stored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "events/codec.h"
#include "events/store.h"
#include "hopwire/error.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: hopwire events [--store STORE] [--run PROJECT/DOMAIN/RUN] [--json]\n"
          "\n"
          "Lists the action events a run-service stored, decoded from their `info` bytes,\n"
          "ordered by run, action, attempt, phase, version (the order of Flyte's ListEvents).\n"
          "\n"
          "options:\n"
          "  --store STORE   sqlite:PATH (default sqlite:hopwire-events.db) or postgres://...\n"
          "  --run P/D/R     only the events of that run\n"
          "  --json          one JSON object per event and line: the key columns, error_kind,\n"
          "                  info_bytes and the decoded event (proto3 JSON)\n"
          "  --help          this text\n");
}

static void json_str(FILE *f, const char *s) {
  if (!s) {
    fputs("null", f);
    return;
  }
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
    else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
    else fputc(*p, f);
  }
  fputc('"', f);
}

typedef struct list_ctx {
  int json;
  uint64_t rows;
  uint64_t undecodable;
} list_ctx;

static int on_row(void *ud, const hop_ev_row *r) {
  list_ctx *c = ud;
  c->rows++;
  const char *phase = hop_ev_phase_name(r->phase);
  if (!c->json) {
    char run[400];
    snprintf(run, sizeof(run), "%s/%s/%s", r->project, r->domain, r->run_name);
    printf("%-32s %-20s %7u  %-34s %7u  %-12s %6zu\n", run, r->name, r->attempt,
           phase ? phase : "?", r->version, r->error_kind ? r->error_kind : "-", r->info_len);
    return 0;
  }
  char *ev = NULL;
  size_t evlen = 0;
  if (hop_ev_event_to_json(r->info, r->info_len, &ev, &evlen)) c->undecodable++;
  printf("{\"project\":");
  json_str(stdout, r->project);
  printf(",\"domain\":");
  json_str(stdout, r->domain);
  printf(",\"run\":");
  json_str(stdout, r->run_name);
  printf(",\"action\":");
  json_str(stdout, r->name);
  printf(",\"attempt\":%u,\"phase\":", r->attempt);
  if (phase) json_str(stdout, phase);
  else printf("%d", r->phase);
  printf(",\"version\":%u,\"error_kind\":", r->version);
  json_str(stdout, r->error_kind);
  printf(",\"info_bytes\":%zu,\"event\":%s}\n", r->info_len, ev ? ev : "null");
  free(ev);
  return 0;
}

int hop_cmd_events(int argc, char **argv) {
  const char *store = "sqlite:hopwire-events.db", *run = NULL;
  int json = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    }
    if (!strcmp(a, "--json")) {
      json = 1;
      continue;
    }
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) {
      fprintf(stderr, "hopwire events: %s needs a value (or unknown option; see --help)\n", a);
      return 2;
    }
    if (!strcmp(a, "--store")) store = v;
    else if (!strcmp(a, "--run")) run = v;
    else {
      fprintf(stderr, "hopwire events: unknown option '%s' (see --help)\n", a);
      return 2;
    }
    i++;
  }
  char p[256], d[256], r[256];
  if (run) {
    const char *s1 = strchr(run, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
    if (!s1 || !s2 || strchr(s2 + 1, '/') || s1 == run || s2 == s1 + 1 || !s2[1] ||
        (size_t)(s1 - run) >= sizeof(p) || (size_t)(s2 - s1 - 1) >= sizeof(d) ||
        strlen(s2 + 1) >= sizeof(r)) {
      fprintf(stderr, "hopwire events: bad --run '%s' (want PROJECT/DOMAIN/RUN)\n", run);
      return 2;
    }
    memcpy(p, run, (size_t)(s1 - run));
    p[s1 - run] = 0;
    memcpy(d, s1 + 1, (size_t)(s2 - s1 - 1));
    d[s2 - s1 - 1] = 0;
    strcpy(r, s2 + 1);
  }
  hop_store_config cfg;
  hop_store_config_init(&cfg);
  cfg.url = store;
  cfg.writers = 1;
  hop_store *s;
  char err[512] = "";
  int rv = hop_store_open(&s, &cfg, err, sizeof(err));
  if (rv) {
    fprintf(stderr, "hopwire events: cannot open %s: %s\n", store, err[0] ? err : hop_strerror(rv));
    return 1;
  }
  list_ctx c = {json, 0, 0};
  if (!json)
    printf("%-32s %-20s %7s  %-34s %7s  %-12s %6s\n", "PROJECT/DOMAIN/RUN", "ACTION", "ATTEMPT",
           "PHASE", "VERSION", "ERROR_KIND", "BYTES");
  rv = hop_store_list(s, run ? p : NULL, run ? d : NULL, run ? r : NULL, on_row, &c, err, sizeof(err));
  hop_store_close(s);
  if (rv) {
    fprintf(stderr, "hopwire events: %s\n", err[0] ? err : hop_strerror(rv));
    return 1;
  }
  if (!json) printf("(%llu events)\n", (unsigned long long)c.rows);
  if (c.undecodable) {
    fprintf(stderr, "hopwire events: %llu stored events do not decode as ActionEvent\n",
            (unsigned long long)c.undecodable);
    return 1;
  }
  return 0;
}
