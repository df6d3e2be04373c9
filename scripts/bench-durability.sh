#!/usr/bin/env bash
# Durability settings: what each costs through the whole pipeline, and the kill -9 promise
# checked for each (docs/pipeline-faults.md, "Durability").
#  1. cost: a run-service + events-proxy per setting, `hopwire executor` through them
#     (ACTIONS actions, 512 reconcilers, adaptive batcher, h2c), ROUNDS rounds, median events/s;
#     the same with --no-batch (one event per Record; group commit merges them), and with
#     --no-batch and the run-service's --group-commit off (one COMMIT, one fsync, per event).
#  2. promise: `hopwire fault-bench --fault crash-in-commit,crash-after-commit,kill-run-service`
#     with the setting (lost must be 0).
# Settings: SQLite synchronous off|normal|full|extra; PostgreSQL 15 (throwaway server, fsync on)
# with synchronous_commit on|off (per connection, from the URL's options).
# Usage: scripts/bench-durability.sh [--rounds N] [--actions N] [--no-pg]
#        (HOPWIRE=path/to/hopwire; default ./build/hopwire)
set -euo pipefail
HOPWIRE=${HOPWIRE:-./build/hopwire}
rounds=3
actions=5000
pg=1
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --actions) actions=$2; shift 2 ;;
    --no-pg) pg=0; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "bench-durability: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$HOPWIRE" ] || { echo "bench-durability: $HOPWIRE not built (set HOPWIRE)" >&2; exit 1; }
PGBIN=${HOP_PGBIN:-/usr/lib/postgresql/15/bin}
tmp=$(mktemp -d /tmp/hop-bench-durability.XXXXXX)
pgdata=""
pguser=""
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$pgdata" ] && [ -f "$pgdata/postmaster.pid" ]; then
    runuser -u "$pguser" -- "$PGBIN/pg_ctl" -D "$pgdata" -w -m fast stop >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# Starts "$@" in the background, waits for its "listening on HOST:PORT" line; sets PORT, PID.
start() {
  local out="$tmp/out.$RANDOM"
  "$@" >"$out" 2>/dev/null &
  PID=$!
  pids+=("$PID")
  for _ in $(seq 200); do
    if grep -q "listening on" "$out" 2>/dev/null; then
      PORT=$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$out" | head -1)
      return 0
    fi
    sleep 0.05
  done
  echo "bench-durability: $1 $2 did not start" >&2
  exit 1
}

stop() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# cost STORE [run-service options...]: median events/s, batched and one event per Record.
cost() {
  local store=$1
  shift
  local batched=() single=() nogc=()
  for r in $(seq "$rounds"); do
    for mode in batched single nogc; do
      local db="$store"
      [ "${store#sqlite:}" != "$store" ] && db="sqlite:$tmp/d-$RANDOM.db"
      local gc=on
      [ $mode = nogc ] && gc=off
      start "$HOPWIRE" run-service --listen 127.0.0.1:0 --store "$db" --group-commit $gc "$@"
      local rs=$PID rsport=$PORT
      start "$HOPWIRE" events-proxy --listen 127.0.0.1:0 --run-service "http://127.0.0.1:$rsport"
      local px=$PID
      local extra=()
      [ $mode != batched ] && extra=(--no-batch)
      local eps
      eps=$("$HOPWIRE" executor --target "http://127.0.0.1:$PORT" --actions "$actions" \
        --seed "$RANDOM$r" --json "${extra[@]}" |
        python3 -c 'import json,sys; r=json.load(sys.stdin); print("%.0f" % r["events_per_s"])')
      stop "$px"
      stop "$rs"
      case $mode in
        batched) batched+=("$eps") ;;
        single) single+=("$eps") ;;
        nogc) nogc+=("$eps") ;;
      esac
    done
  done
  printf "%s / %s / %s" "$(printf "%s\n" "${batched[@]}" | median)" \
    "$(printf "%s\n" "${single[@]}" | median)" "$(printf "%s\n" "${nogc[@]}" | median)"
}

# promise STORE [fault-bench options]: "lost=N,N,N pass=..." for the three crash scenarios.
promise() {
  "$HOPWIRE" fault-bench --fault "$1" --actions 1000 --json "${@:2}" |
    python3 -c '
import json, sys
rs = [json.loads(l) for l in sys.stdin if l.startswith("{")]
print(" ".join("%s:lost=%d,acked=%d/%d,%s" % (r["fault"], r.get("lost", -1), r.get("acknowledged", 0),
      r.get("planned", 0), "ok" if r.get("pass") else "FAIL " + r.get("why", r.get("skipped", "")))
      for r in rs))'
}

echo "# ${actions} actions, 512 reconcilers, ${rounds} rounds; median events/s: batched /"
echo "# one event per Record / one event per Record and per COMMIT (group commit off)"
for s in off normal full extra; do
  c=$(cost "sqlite:x" --synchronous "$s")
  p=$(promise crash-in-commit,crash-after-commit,kill-run-service --synchronous "$s")
  echo "sqlite synchronous=$s: events/s $c; kill -9: $p"
done

if [ $pg = 1 ]; then
  pguser=postgres
  id -u "$pguser" >/dev/null 2>&1 || { id -u pgtest >/dev/null 2>&1 || useradd --system --no-create-home pgtest; pguser=pgtest; }
  chown "$pguser": "$tmp"
  chmod 700 "$tmp"
  pgdata="$tmp/data"
  runuser -u "$pguser" -- "$PGBIN/initdb" -D "$pgdata" -U postgres -A trust -E UTF8 \
    --locale=C.UTF-8 >/dev/null
  port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  printf "listen_addresses='127.0.0.1'\nport=%s\nunix_socket_directories='%s'\nfsync=on\nsynchronous_commit=on\nmax_connections=100\n" \
    "$port" "$tmp" >>"$pgdata/postgresql.conf"
  runuser -u "$pguser" -- "$PGBIN/pg_ctl" -D "$pgdata" -l "$tmp/pg.log" -w -t 30 start >/dev/null
  for sc in on off; do
    url="postgresql://postgres@127.0.0.1:$port/postgres?options=-c%20synchronous_commit%3D$sc"
    got=$("$PGBIN/psql" -X -A -t -d "$url" -c "SHOW synchronous_commit")
    [ "$got" = "$sc" ] || { echo "bench-durability: the URL's options did not apply ($got)" >&2; exit 1; }
    c=$(cost "$url")
    p=$(promise crash-after-commit,kill-run-service --store "$url")
    echo "postgres synchronous_commit=$sc: events/s $c; kill -9: $p"
  done
fi
