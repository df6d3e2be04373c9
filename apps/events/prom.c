/* Prometheus text format writer: see prom.h. */
#include "events/prom.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hopwire/client.h"
#include "hopwire/server.h"

void hop_prom_init(hop_prom *p, char *buf, size_t cap) {
  p->buf = buf;
  p->cap = cap;
  p->len = 0;
  p->truncated = 0;
  if (cap)
    buf[0] = '\0';
}

/* Appends one formatted line, or nothing when it does not fit whole. */
static void put(hop_prom *p, const char *fmt, ...) {
  if (p->truncated || p->cap == 0)
    return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(p->buf + p->len, p->cap - p->len, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= p->cap - p->len) {
    p->buf[p->len] = '\0';
    p->truncated = 1;
    return;
  }
  p->len += (size_t)n;
}

void hop_prom_family(hop_prom *p, const char *name, const char *type, const char *help) {
  put(p, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void hop_prom_sample(hop_prom *p, const char *name, const char *labels, double value) {
  if (labels && labels[0])
    put(p, "%s{%s} %.17g\n", name, labels, value);
  else
    put(p, "%s %.17g\n", name, value);
}

void hop_prom_counter(hop_prom *p, const char *name, const char *help, uint64_t value) {
  hop_prom_family(p, name, "counter", help);
  put(p, "%s %llu\n", name, (unsigned long long)value);
}

void hop_prom_gauge(hop_prom *p, const char *name, const char *help, double value) {
  hop_prom_family(p, name, "gauge", help);
  hop_prom_sample(p, name, NULL, value);
}

void hop_prom_histogram(hop_prom *p, const char *name, const char *help, const uint64_t *bounds,
                        const uint64_t *counts, size_t n, double sum, double scale) {
  hop_prom_family(p, name, "histogram", help);
  uint64_t cum = 0;
  for (size_t i = 0; i < n; i++) {
    cum += counts[i];
    if (i + 1 == n)
      put(p, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
    else
      put(p, "%s_bucket{le=\"%.6g\"} %llu\n", name, (double)bounds[i] / scale,
          (unsigned long long)cum);
  }
  put(p, "%s_sum %.9g\n%s_count %llu\n", name, sum / scale, name, (unsigned long long)cum);
}

void hop_prom_server(hop_prom *p, const struct hop_server_stats *s) {
  hop_prom_family(p, "hopwire_server_connections", "gauge", "open connections by protocol");
  hop_prom_sample(p, "hopwire_server_connections", "proto=\"h1\"", (double)s->connections_h1);
  hop_prom_sample(p, "hopwire_server_connections", "proto=\"h2c\"", (double)s->connections_h2);
  hop_prom_counter(p, "hopwire_server_connections_total", "connections accepted",
                   s->connections_total);
  hop_prom_counter(p, "hopwire_server_connections_rejected_total",
                   "connections closed at accept (max_connections)", s->connections_rejected);
  hop_prom_gauge(p, "hopwire_server_streams_open", "h2 streams open", (double)s->streams_open);
  hop_prom_counter(p, "hopwire_server_requests_total", "requests dispatched to a handler",
                   s->requests);
  hop_prom_counter(p, "hopwire_server_responses_total", "responses written", s->responses);
  hop_prom_counter(p, "hopwire_server_resets_sent_total", "RST_STREAM sent", s->resets_sent);
  hop_prom_counter(p, "hopwire_server_resets_received_total", "RST_STREAM received",
                   s->resets_received);
  hop_prom_counter(p, "hopwire_server_goaways_sent_total", "GOAWAY sent", s->goaways_sent);
  hop_prom_counter(p, "hopwire_server_protocol_errors_total",
                   "connections ended for protocol errors or floods", s->protocol_errors);
  hop_prom_counter(p, "hopwire_server_body_refusals_total", "requests refused by a body budget",
                   s->body_refusals);
  hop_prom_counter(p, "hopwire_server_bytes_in_total", "bytes read", s->bytes_in);
  hop_prom_counter(p, "hopwire_server_bytes_out_total", "bytes written", s->bytes_out);
}

void hop_prom_client(hop_prom *p, const char *prefix, const struct hop_client_stats *s) {
  char n[160];
#define C_(suffix, help, v)                                   \
  snprintf(n, sizeof(n), "%s_%s", prefix, suffix);            \
  hop_prom_counter(p, n, help, (v))
#define G_(suffix, help, v)                                   \
  snprintf(n, sizeof(n), "%s_%s", prefix, suffix);            \
  hop_prom_gauge(p, n, help, (double)(v))
  C_("dials_total", "connections dialled downstream", s->dials_started);
  C_("dials_failed_total", "downstream dials that failed", s->dials_failed);
  C_("calls_total", "downstream calls started", s->calls_started);
  C_("calls_ok_total", "downstream calls answered", s->calls_ok);
  C_("calls_failed_total", "downstream calls failed at the transport", s->calls_failed);
  C_("retries_total", "transparent retries of unprocessed calls", s->retries);
  C_("goaways_received_total", "GOAWAY frames received", s->goaways_received);
  G_("connections_h2c", "open h2c connections", s->conns_open_h2);
  G_("connections_h1", "open HTTP/1.1 connections", s->conns_open_h1);
  G_("calls_in_flight", "downstream calls on the wire", s->streams_in_flight);
  G_("calls_queued", "downstream calls waiting for a connection", s->calls_queued);
#undef C_
#undef G_
}

int hop_prom_fetch(struct hop_client *client, uint16_t port, char **text) {
  char url[64];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", port);
  hop_call_opts o;
  memset(&o, 0, sizeof(o));
  o.method = "GET";
  o.url = url;
  o.timeout_ms = 5000;
  o.http = HOP_HTTP_H1;
  hop_result r;
  memset(&r, 0, sizeof(r));
  *text = NULL;
  if (hop_client_do(client, &o, &r) == 0 && r.status == 200) {
    *text = malloc(r.body_len + 1);
    if (*text) {
      memcpy(*text, r.body, r.body_len);
      (*text)[r.body_len] = '\0';
    }
  }
  hop_result_free(&r);
  return *text ? 0 : -1;
}

double hop_prom_value(const char *text, const char *name) {
  if (!text) return 0;
  size_t n = strlen(name);
  for (const char *p = text; p && *p;) {
    if (strncmp(p, name, n) == 0 && p[n] == ' ') return strtod(p + n + 1, NULL);
    p = strchr(p, '\n');
    if (p) p++;
  }
  return 0;
}
