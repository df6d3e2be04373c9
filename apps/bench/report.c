/* hopwire bench: the people's table, JSON lines, and the SVG latency CDF. */
#include <math.h>
#include <string.h>

#include "bench/bench.h"

void hop_bench_result_free(hop_bench_result *r) {
  if (!r) return;
  hop_hist_free(r->hist);
  r->hist = NULL;
}

/* JSON numbers may not be NaN or infinite. */
static double fin(double v) { return isfinite(v) ? v : 0.0; }

void hop_bench_write_json(FILE *f, const hop_bench_result *r) {
  fprintf(f,
          "{\"mode\":\"%s\",\"requests\":%llu,\"errors\":%llu,\"dials\":%llu,\"rps\":%.1f,"
          "\"p50_us\":%llu,\"p90_us\":%llu,\"p99_us\":%llu,\"max_us\":%llu,\"cpu_s\":%.3f,"
          "\"time_wait\":%llu,\"rss_kb\":%llu}\n",
          hop_bench_mode_name(r->mode), (unsigned long long)r->requests,
          (unsigned long long)r->errors, (unsigned long long)r->dials, fin(r->rps),
          (unsigned long long)r->lat.p50_us, (unsigned long long)r->lat.p90_us,
          (unsigned long long)r->lat.p99_us, (unsigned long long)r->lat.max_us, fin(r->cpu_s),
          (unsigned long long)r->time_wait, (unsigned long long)r->rss_kb);
}

static void fmt_dur(char *out, size_t n, uint64_t us) {
  if (us == 0) snprintf(out, n, "0");
  else if (us % 1000000 == 0) snprintf(out, n, "%llus", (unsigned long long)(us / 1000000));
  else if (us % 1000 == 0) snprintf(out, n, "%llums", (unsigned long long)(us / 1000));
  else snprintf(out, n, "%lluus", (unsigned long long)us);
}

void hop_bench_write_table(FILE *f, const hop_bench_result *rs, size_t n, const hop_bench_opts *o) {
  char dur[32], warm[32], dial[32], delay[32];
  fmt_dur(dur, sizeof(dur), o->duration_us);
  fmt_dur(warm, sizeof(warm), o->warmup_us);
  fmt_dur(dial, sizeof(dial), o->dial_cost_us);
  fmt_dur(delay, sizeof(delay), o->server_delay_us);
  fprintf(f, "hopwire bench: %u %s callers, ", o->concurrency,
          o->callers == HOP_BENCH_CALLERS_BLOCKING ? "blocking" : "async");
  if (o->requests) fprintf(f, "%llu requests", (unsigned long long)o->requests);
  else fprintf(f, "%s", dur);
  fprintf(f, " per mode after %s warm-up, dial cost %s, payload %zu B, ", warm, dial, o->payload);
  if (o->target) fprintf(f, "target %s\n", o->target);
  else fprintf(f, "server delay %s (hopwire serve, max %u streams)\n", delay, o->max_streams);
  fprintf(f, "\n%-10s %9s %7s %7s %10s %8s %8s %8s %8s %7s %9s %9s\n", "mode", "requests",
          "errors", "dials", "req/s", "p50 us", "p90 us", "p99 us", "max us", "cpu s",
          "TIME_WAIT", "RSS KiB");
  for (size_t i = 0; i < n; i++) {
    const hop_bench_result *r = &rs[i];
    fprintf(f, "%-10s %9llu %7llu %7llu %10.1f %8llu %8llu %8llu %8llu %7.2f %9llu %9llu\n",
            hop_bench_mode_name(r->mode), (unsigned long long)r->requests,
            (unsigned long long)r->errors, (unsigned long long)r->dials, fin(r->rps),
            (unsigned long long)r->lat.p50_us, (unsigned long long)r->lat.p90_us,
            (unsigned long long)r->lat.p99_us, (unsigned long long)r->lat.max_us,
            fin(r->cpu_s), (unsigned long long)r->time_wait, (unsigned long long)r->rss_kb);
  }
  fprintf(f, "\ncold start (the first %u calls of a fresh client) and memory:\n", o->concurrency);
  fprintf(f, "%-10s %7s %9s %8s %8s %14s\n", "mode", "dials", "time ms", "p50 us", "p99 us",
          "heap B/call");
  for (size_t i = 0; i < n; i++) {
    const hop_bench_result *r = &rs[i];
    fprintf(f, "%-10s %7llu %9.1f %8llu %8llu %14llu\n", hop_bench_mode_name(r->mode),
            (unsigned long long)r->cold_dials, fin(r->cold_s * 1e3),
            (unsigned long long)r->cold.p50_us, (unsigned long long)r->cold.p99_us,
            (unsigned long long)r->bytes_per_call);
  }
  for (size_t i = 0; i < n; i++)
    if (rs[i].errors && rs[i].first_error[0])
      fprintf(f, "%s: first error: %s\n", hop_bench_mode_name(rs[i].mode), rs[i].first_error);
}

/* ---- SVG ---- */

static void xml_escaped(FILE *f, const char *s) {
  for (; *s; s++) {
    switch (*s) {
      case '&': fputs("&amp;", f); break;
      case '<': fputs("&lt;", f); break;
      case '>': fputs("&gt;", f); break;
      case '"': fputs("&quot;", f); break;
      default:
        /* Control characters are not allowed in XML 1.0 text. */
        if ((unsigned char)*s >= 0x20 || *s == '\t') fputc(*s, f);
    }
  }
}

static const char *mode_color(hop_bench_mode m) {
  switch (m) {
    case HOP_BENCH_H1_DEFAULT: return "#d62728";
    case HOP_BENCH_H1_POOL: return "#ff7f0e";
    default: return "#1f77b4";
  }
}

static void tick_label(char *out, size_t n, double us) {
  if (us >= 1e6) snprintf(out, n, "%gs", us / 1e6);
  else if (us >= 1e3) snprintf(out, n, "%gms", us / 1e3);
  else snprintf(out, n, "%gus", us);
}

int hop_bench_write_svg(FILE *f, const hop_bench_result *rs, size_t n, const char *subtitle) {
  const double W = 860, H = 500, L = 70, R = 230, T = 60, B = 60;
  const double pw = W - L - R, ph = H - T - B;
  uint64_t lo = UINT64_MAX, hi = 0;
  for (size_t i = 0; i < n; i++) {
    if (!rs[i].hist || hop_hist_count(rs[i].hist) == 0) continue;
    uint64_t mn = hop_hist_min(rs[i].hist), mx = hop_hist_max(rs[i].hist);
    if (mn < lo) lo = mn;
    if (mx > hi) hi = mx;
  }
  if (hi == 0) {
    lo = 1;
    hi = 10;
  }
  if (lo < 1) lo = 1;
  double dlo = floor(log10((double)lo)), dhi = ceil(log10((double)hi));
  if (dhi <= dlo) dhi = dlo + 1;
  const double span = dhi - dlo;
#define XOF(us) (L + (log10((double)(us) < 1 ? 1.0 : (double)(us)) - dlo) / span * pw)
#define YOF(frac) (T + ph - (frac) * ph)

  fprintf(f,
          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
          "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n"
          "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
          W, H, W, H);
  fprintf(f, "<text x=\"%.0f\" y=\"24\" font-size=\"16\" font-weight=\"bold\">"
             "hopwire bench: latency CDF per mode</text>\n", L);
  if (subtitle) {
    fprintf(f, "<text x=\"%.0f\" y=\"44\" fill=\"#444\">", L);
    xml_escaped(f, subtitle);
    fputs("</text>\n", f);
  }
  /* Frame, decade grid (log x) and quantile grid (linear y). */
  fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
             "stroke=\"#888\"/>\n", L, T, pw, ph);
  for (double d = dlo; d <= dhi + 1e-9; d += 1) {
    double us = pow(10, d), x = XOF(us);
    char lab[32];
    tick_label(lab, sizeof(lab), us);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", x, T,
            x, T + ph);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", x, T + ph + 16,
            lab);
    for (int k = 2; k <= 9 && d < dhi; k++) {
      double xm = XOF(us * k);
      fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#f2f2f2\"/>\n",
              xm, T, xm, T + ph);
    }
  }
  static const double qs[] = {0, 0.25, 0.5, 0.75, 0.9, 0.99, 1};
  for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
    double y = YOF(qs[k]);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"%s/>\n", L, y,
            L + pw, y, qs[k] >= 0.9 && qs[k] < 1 ? " stroke-dasharray=\"4 3\"" : "");
    if (qs[k] < 1) /* the frame's top is 100 %: a label there would overlap 99 % */
      fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g%%</text>\n", L - 6,
              y + 4, qs[k] * 100);
  }
  fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">latency (log scale)</text>\n",
          L + pw / 2, H - 18);
  fprintf(f, "<text transform=\"translate(18 %.1f) rotate(-90)\" text-anchor=\"middle\">"
             "calls completed within</text>\n", T + ph / 2);

  /* One step curve per mode through the histogram's bucket upper bounds. */
  size_t legend = 0;
  for (size_t i = 0; i < n; i++) {
    const hop_bench_result *r = &rs[i];
    uint64_t total = r->hist ? hop_hist_count(r->hist) : 0;
    if (total == 0) continue;
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
            mode_color(r->mode));
    size_t it = 0;
    uint64_t upper, count, cum = 0;
    double prev_y = YOF(0.0);
    int first = 1;
    while (hop_hist_next(r->hist, &it, &upper, &count)) {
      double x = XOF(upper);
      if (x < L) x = L;
      if (first) fprintf(f, "%.1f,%.1f", x, prev_y);
      else fprintf(f, " %.1f,%.1f", x, prev_y);
      first = 0;
      cum += count;
      prev_y = YOF((double)cum / (double)total);
      fprintf(f, " %.1f,%.1f", x, prev_y);
    }
    fputs("\"/>\n", f);
    double ly = T + 10 + 58.0 * (double)legend++;
    double lx = L + pw + 16;
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
               "stroke-width=\"3\"/>\n", lx, ly, lx + 24, ly, mode_color(r->mode));
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-weight=\"bold\">%s</text>\n", lx + 30, ly + 4,
            hop_bench_mode_name(r->mode));
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#444\">p50 %llu us, p99 %llu us</text>\n",
            lx + 30, ly + 20, (unsigned long long)r->lat.p50_us,
            (unsigned long long)r->lat.p99_us);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#444\">%.0f req/s, %llu dial%s</text>\n",
            lx + 30, ly + 36, fin(r->rps), (unsigned long long)r->dials, r->dials == 1 ? "" : "s");
  }
  fputs("</svg>\n", f);
#undef XOF
#undef YOF
  return ferror(f) ? -1 : 0;
}
