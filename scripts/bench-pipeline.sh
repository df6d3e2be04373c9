#!/usr/bin/env bash
# Event-pipeline figures, in one run on this machine, on SQLite and on a throwaway
# PostgreSQL 15 (initdb into a temp dir as an unprivileged user, 127.0.0.1 on a free port,
# socket in the temp dir, fsync on, synchronous_commit on; stopped by pg_ctl at the end):
#  1. hopwire pipeline-bench: run-service events/s vs the store's ceiling, group commit on/off,
#     through the proxy (dials on the proxy -> run-service hop).
#  2. hopwire demo: the five designs, ROUNDS rounds each (medians printed), ACTIONS actions.
#  3. hopwire demo at one reconciler (designs 4 and 5): p50 at low load, and memory per event
#     in flight (peak RSS at 512 reconcilers vs 1).
# Usage: scripts/bench-pipeline.sh [--rounds N] [--actions N] [--duration DUR]
#          [--demo-duration DUR] [--no-pg] [--no-sqlite]   (HOPWIRE=path; default ./build/hopwire)
#   --duration: each pipeline-bench mode (5s); --demo-duration: cap each demo design's run
#   (default none: all actions; the per-event designs on PostgreSQL take minutes at 20,000)
set -euo pipefail
HOPWIRE=${HOPWIRE:-./build/hopwire}
rounds=3
actions=20000
duration=5s
demo_duration=
pg=1
sq=1
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --actions) actions=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --demo-duration) demo_duration=$2; shift 2 ;;
    --no-pg) pg=0; shift ;;
    --no-sqlite) sq=0; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "bench-pipeline: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$HOPWIRE" ] || { echo "bench-pipeline: $HOPWIRE not built (set HOPWIRE)" >&2; exit 1; }
PGBIN=${HOP_PGBIN:-/usr/lib/postgresql/15/bin}

tmp=$(mktemp -d /tmp/hop-bench-pipeline.XXXXXX)
pgdata=""
pguser=""
cleanup() {
  if [ -n "$pgdata" ] && [ -f "$pgdata/postmaster.pid" ]; then
    runuser -u "$pguser" -- "$PGBIN/pg_ctl" -D "$pgdata" -w -m fast stop >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

start_pg() {
  pguser=postgres
  id -u "$pguser" >/dev/null 2>&1 || { useradd --system --no-create-home pgtest; pguser=pgtest; }
  chown "$pguser": "$tmp"
  chmod 700 "$tmp"
  pgdata="$tmp/data"
  runuser -u "$pguser" -- "$PGBIN/initdb" -D "$pgdata" -U postgres -A trust -E UTF8 \
    --locale=C.UTF-8 >/dev/null
  local port
  for _ in 1 2 3 4 5; do
    port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
    cp "$pgdata/postgresql.conf.orig" "$pgdata/postgresql.conf" 2>/dev/null ||
      cp "$pgdata/postgresql.conf" "$pgdata/postgresql.conf.orig"
    printf "listen_addresses='127.0.0.1'\nport=%s\nunix_socket_directories='%s'\nfsync=on\nsynchronous_commit=on\nmax_connections=100\n" \
      "$port" "$tmp" >>"$pgdata/postgresql.conf"
    if runuser -u "$pguser" -- "$PGBIN/pg_ctl" -D "$pgdata" -l "$tmp/pg.log" -w -t 30 start >/dev/null; then
      PGURL="postgresql://postgres@127.0.0.1:$port/postgres"
      return 0
    fi
  done
  echo "bench-pipeline: PostgreSQL did not start (see $tmp/pg.log)" >&2
  cat "$tmp/pg.log" >&2
  return 1
}

# Medians of the demo's JSON lines over the rounds, one table.
demo_rounds() {
  local store_args=("$@")
  local out="$tmp/demo.jsonl"
  : >"$out"
  for r in $(seq 1 "$rounds"); do
    echo "  round $r/$rounds ..." >&2
    "$HOPWIRE" demo --actions "$actions" --json ${demo_duration:+--duration "$demo_duration"} \
      "${store_args[@]}" >>"$out" || {
      echo "bench-pipeline: demo round $r failed its checks" >&2; }
  done
  python3 - "$out" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {}
for r in rows:
    by.setdefault(r["design"], []).append(r)
med = lambda rs, k: statistics.median(x[k] for x in rs)
print("%-2s %-44s %9s %7s %7s %7s %6s %6s %6s %7s %5s %5s %11s" % ("#", "design (medians)", "events/s",
      "p50 ms", "p99 ms", "RPCs", "ex->px", "px->rs", "TW", "rows", "lost", "runs", "CPU s"))
for d in sorted(by):
    rs = by[d]
    print("%-2d %-44s %9.0f %7.1f %7.1f %7.0f %6.0f %6.0f %6.0f %7.0f %5d %5d %11.2f" % (
        d, rs[0]["name"], med(rs, "events_per_s"), med(rs, "p50_us") / 1e3, med(rs, "p99_us") / 1e3,
        med(rs, "rpcs"), med(rs, "dials_executor_proxy"), med(rs, "dials_proxy_run_service"),
        med(rs, "time_wait"), med(rs, "rows"), max(x["lost"] for x in rs), len(rs), med(rs, "cpu_s")))
if 1 in by and 5 in by:
    print("design 5 / design 1: %.1fx events/s; p99 %.1f ms vs %.1f ms" % (
        med(by[5], "events_per_s") / med(by[1], "events_per_s"), med(by[5], "p99_us") / 1e3,
        med(by[1], "p99_us") / 1e3))
if 4 in by and 5 in by:
    print("design 5 / design 4: %.2fx events/s" % (med(by[5], "events_per_s") / med(by[4], "events_per_s")))
rss = {d: (med(rs, "rss_executor_kib"), med(rs, "rss_proxy_kib"), med(rs, "rss_run_service_kib")) for d, rs in by.items()}
print("peak RSS KiB executor/proxy/run-service: " + ", ".join("%d: %d/%d/%d" % ((d,) + rss[d]) for d in sorted(rss)))
EOF
}

low_load() {
  "$HOPWIRE" demo --actions 200 --concurrency 1 --designs 4,5 --json "$@" >"$tmp/low.jsonl"
  python3 - "$tmp/low.jsonl" "$tmp/demo.jsonl" <<'EOF2'
import json, statistics, sys
low = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for r in low:
    print("  design %d at 1 reconciler: p50 %.2f ms, p99 %.2f ms, %.0f events/s" % (
        r["design"], r["p50_us"] / 1e3, r["p99_us"] / 1e3, r["events_per_s"]))
# Memory per event in flight: peak RSS at 512 reconcilers (the demo rounds, design 5) minus
# peak RSS at 1 (above), over the 511 more events in flight.
hi = [json.loads(l) for l in open(sys.argv[2]) if l.strip() and json.loads(l)["design"] == 5]
lo5 = [r for r in low if r["design"] == 5]
if hi and lo5:
    for k, name in (("rss_executor_kib", "executor"), ("rss_proxy_kib", "proxy"),
                    ("rss_run_service_kib", "run-service")):
        h = statistics.median(r[k] for r in hi)
        print("  %s peak RSS: %d KiB at 512 reconcilers, %d KiB at 1: %.0f B per event in flight" % (
            name, h, lo5[0][k], (h - lo5[0][k]) * 1024 / 511))
EOF2
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r), $(date -u +%FT%TZ)"
echo "hopwire: $("$HOPWIRE" --version)"
if [ $sq = 1 ]; then
  echo
  echo "== SQLite (temp files, synchronous=full)"
  "$HOPWIRE" pipeline-bench --duration "$duration"
  echo
  echo "demo, $actions actions, 512 reconcilers, $rounds rounds${demo_duration:+, each design capped at $demo_duration}:"
  demo_rounds
  echo "low load:"
  low_load
fi
if [ $pg = 1 ]; then
  start_pg
  echo
  echo "== PostgreSQL 15 ($PGURL, fsync on, synchronous_commit on)"
  "$HOPWIRE" pipeline-bench --duration "$duration" --store "$PGURL"
  echo
  echo "demo, $actions actions, 512 reconcilers, $rounds rounds${demo_duration:+, each design capped at $demo_duration}:"
  demo_rounds --store "$PGURL"
  echo "low load:"
  low_load --store "$PGURL"
fi
