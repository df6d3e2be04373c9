#!/usr/bin/env bash
# A run-service (SQLite in a temp dir) and an events-proxy in front of it, as one "server" for
# tests that need a whole pipeline: prints the proxy's "listening on HOST:PORT" line, and on
# SIGTERM drains both (proxy first) and exits 0 when both did.
# Usage: pipeline_pair.sh HOPWIRE
set -u
hopwire=$1
tmp=$(mktemp -d /tmp/hop-pair.XXXXXX)
rs=; px=
cleanup() { kill -KILL $px $rs 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
"$hopwire" run-service --listen 127.0.0.1:0 --store "sqlite:$tmp/events.db" >"$tmp/rs.out" &
rs=$!
for _ in $(seq 100); do grep -q '^listening on ' "$tmp/rs.out" && break; sleep 0.1; done
rsaddr=$(sed -n '1s/^listening on //p' "$tmp/rs.out")
[ -n "$rsaddr" ] || { echo "pipeline_pair: run-service did not start" >&2; exit 1; }
"$hopwire" events-proxy --listen 127.0.0.1:0 --run-service "http://$rsaddr" >"$tmp/px.out" &
px=$!
for _ in $(seq 100); do grep -q '^listening on ' "$tmp/px.out" && break; sleep 0.1; done
grep '^listening on ' "$tmp/px.out" || { echo "pipeline_pair: events-proxy did not start" >&2; exit 1; }
stop() {
  kill -TERM $px; wait $px; local a=$?
  kill -TERM $rs; wait $rs; local b=$?
  px=; rs=
  rows=$(sqlite3 "$tmp/events.db" 'SELECT count(*) FROM action_events' 2>/dev/null)
  echo "pipeline_pair: stored $rows rows" >&2
  exit $((a || b))
}
trap stop TERM
while :; do sleep 0.2 & wait $!; done
