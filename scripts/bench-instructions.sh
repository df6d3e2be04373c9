#!/usr/bin/env bash
# Instructions per call, hopwire next to its references, counted by callgrind (issue 10).
# Deterministic, so fine on a busy machine: no wall-clock figure is taken.
#
#   scripts/bench-instructions.sh                 # needs build/hopwire (make build)
#   ONLY=server scripts/bench-instructions.sh     # or ONLY=client
#
# One h2c connection, 100 calls in flight, 100 B bodies (a valid Echo message: field 1,
# 98 bytes). Each program runs under `valgrind --tool=callgrind` twice, for N1 and N2 calls;
# per call = (Ir(N2) - Ir(N1)) / (N2 - N1), which cancels start-up and shutdown.
#   server row: `hopwire serve --threads 1` vs `nghttpd --no-tls --echo-upload`, both under
#               callgrind, loaded by h2load -c 1 -m 100 -n N (not counted); stopped by SIGTERM.
#   client row: `hopwire bench --mode h2c` vs `h2load -c 1 -m 100 -n N`, both under callgrind,
#               against one `hopwire serve --threads 1` that is not.
# Env: HOPWIRE (build/hopwire), N1 (10000), N2 (30000), ONLY (server|client), KEEP=DIR keeps
# the callgrind files there (for callgrind_annotate --inclusive=yes).
set -euo pipefail

HOPWIRE=${HOPWIRE:-build/hopwire}
N1=${N1:-10000}
N2=${N2:-30000}
ONLY=${ONLY:-}
ECHO_PATH=/hopwire.bench.v1.BenchService/Echo
for t in valgrind h2load nghttpd python3; do
  command -v "$t" >/dev/null ||
    { echo "bench-instructions: $t missing (apt-get install valgrind nghttp2-client nghttp2-server)" >&2; exit 1; }
done
[ -x "$HOPWIRE" ] || { echo "bench-instructions: $HOPWIRE not built (make build)" >&2; exit 1; }
[[ "$N1" =~ ^[0-9]+$ && "$N2" =~ ^[0-9]+$ && "$N1" -ge 1000 && "$N2" -gt "$N1" && "$N2" -le 200000 ]] ||
  { echo "bench-instructions: need 1000 <= N1 < N2 <= 200000" >&2; exit 2; }

tmp=$(mktemp -d)
out=${KEEP:-$tmp}
mkdir -p "$out"
pids=()
stop() { # pid: SIGTERM (callgrind writes its file as the program exits), bounded wait
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  for p in "${pids[@]}"; do [ -n "$p" ] && stop "$p"; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# 0x0a 0x62: field 1, length-delimited, 98 bytes.
{ printf '\x0a\x62'; head -c 98 /dev/zero | tr '\0' 'a'; } > "$tmp/body"
[ "$(wc -c < "$tmp/body")" -eq 100 ] || { echo "bench-instructions: body is not 100 B" >&2; exit 1; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
ir_of() { # callgrind out file -> total Ir
  local v
  v=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p; s/^totals: *\([0-9]*\).*/\1/p' "$1" | head -1)
  [ -n "$v" ] || { echo "bench-instructions: no Ir total in $1" >&2; exit 1; }
  echo "$v"
}
wait_port() { # port: until something listens (bounded, 30 s: valgrind starts slowly)
  for _ in $(seq 300); do
    python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" \
      2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench-instructions: nothing listens on 127.0.0.1:$1" >&2
  exit 1
}
h2load_run() { # prefix... : runs h2load (maybe under callgrind), checks every call got 2xx
  local n=$1 url=$2; shift 2
  local log
  log=$("$@" h2load -c 1 -m 100 -n "$n" -d "$tmp/body" -H 'content-type: application/proto' \
          "$url" 2>&1) || { echo "bench-instructions: h2load failed:"; echo "$log"; exit 1; } >&2
  local ok
  ok=$(sed -n 's/^status codes: \([0-9]*\) 2xx.*/\1/p' <<<"$log")
  [ "${ok:-0}" -eq "$n" ] ||
    { echo "bench-instructions: h2load: only ${ok:-0} of $n answered 2xx:"; echo "$log"; exit 1; } >&2
}
CG=(valgrind --tool=callgrind --quiet)

# Server under callgrind, h2load not. $1 = name, $2 = N, rest = server command with PORT.
# Sets IR (not a $(...) subshell, so the EXIT trap still stops the server on a failure).
server_ir() {
  local name=$1 n=$2; shift 2
  local port f
  port=$(free_port)
  f="$out/server-$name-$n.out"
  "${CG[@]}" --callgrind-out-file="$f" "${@//PORT/$port}" > "$tmp/$name.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  wait_port "$port"
  h2load_run "$n" "http://127.0.0.1:$port$ECHO_PATH"
  stop "$pid"
  pids=("${pids[@]/$pid}")
  [ -s "$f" ] || { echo "bench-instructions: callgrind wrote no $f:"; cat "$tmp/$name.log"; exit 1; } >&2
  IR=$(ir_of "$f")
}

# Client under callgrind against a plain hopwire serve on $SRV_PORT. $1 = name, $2 = N.
# Sets IR.
client_ir() {
  local name=$1 n=$2 url="http://127.0.0.1:$SRV_PORT$ECHO_PATH"
  local f="$out/client-$name-$n.out"
  if [ "$name" = hopwire ]; then
    "${CG[@]}" --callgrind-out-file="$f" "$HOPWIRE" bench --mode h2c --target "$url" \
      --concurrency 100 --requests "$n" --warmup 0 --payload 100 --dial-cost 0 --json \
      > "$tmp/bench.json" 2> "$tmp/bench.log" ||
      { echo "bench-instructions: hopwire bench failed:"; cat "$tmp/bench.log"; exit 1; } >&2
    python3 - "$tmp/bench.json" "$n" <<'EOF' >&2 || exit 1
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
if r["requests"] != int(sys.argv[2]) or r["errors"]:
    sys.exit("bench-instructions: hopwire bench: %s calls, %s errors" % (r["requests"], r["errors"]))
EOF
  else
    h2load_run "$n" "$url" "${CG[@]}" --callgrind-out-file="$f"
  fi
  IR=$(ir_of "$f")
}

row() { # label hop1 hop2 ref1 ref2 refname goal
  python3 - "$@" "$N1" "$N2" <<'EOF'
import sys
label, h1, h2, r1, r2, ref, goal, n1, n2 = sys.argv[1:]
d = int(n2) - int(n1)
hop = (int(h2) - int(h1)) / d
refv = (int(r2) - int(r1)) / d
ratio = hop / refv if refv else float("inf")
print("| %-6s | %8.0f | %-8s %8.0f | %5.2fx | %s" % (label, hop, ref, refv, ratio,
      "goal <= %.1fx: %s" % (float(goal), "met" if ratio <= float(goal) else "NOT met")))
EOF
}

echo "instructions per call (callgrind Ir, (Ir(${N2}) - Ir(${N1})) / $((N2 - N1))), one h2c connection,"
echo "100 calls in flight, 100 B Echo bodies; $("$HOPWIRE" --version 2>/dev/null | head -1 || true)"
echo
echo "| side   |  hopwire | reference         | ratio  |"
echo "|--------|----------|-------------------|--------|"

if [ "$ONLY" != client ]; then
  # One curl first: the body must be an Echo request the server answers 200.
  port=$(free_port)
  "$HOPWIRE" serve --listen "127.0.0.1:$port" --threads 1 --delay 0 > "$tmp/probe.log" 2>&1 &
  pid=$!; pids+=("$pid")
  wait_port "$port"
  if command -v curl >/dev/null; then
    code=$(curl -s --http2-prior-knowledge -o /dev/null -w '%{http_code}' --max-time 10 \
             -H 'content-type: application/proto' --data-binary @"$tmp/body" \
             "http://127.0.0.1:$port$ECHO_PATH")
    [ "$code" = 200 ] || { echo "bench-instructions: Echo probe answered $code, not 200" >&2; exit 1; }
  fi
  stop "$pid"; pids=("${pids[@]/$pid}")

  HOPSRV=("$HOPWIRE" serve --listen 127.0.0.1:PORT --threads 1 --delay 0)
  NGH=(nghttpd --no-tls --echo-upload PORT)
  server_ir hopwire "$N1" "${HOPSRV[@]}"; s1=$IR
  server_ir hopwire "$N2" "${HOPSRV[@]}"; s2=$IR
  server_ir nghttpd "$N1" "${NGH[@]}"; n1=$IR
  server_ir nghttpd "$N2" "${NGH[@]}"; n2=$IR
  row server "$s1" "$s2" "$n1" "$n2" nghttpd 0.8
fi

if [ "$ONLY" != server ]; then
  SRV_PORT=$(free_port)
  "$HOPWIRE" serve --listen "127.0.0.1:$SRV_PORT" --threads 1 --delay 0 > "$tmp/srv.log" 2>&1 &
  pid=$!; pids+=("$pid")
  wait_port "$SRV_PORT"
  client_ir hopwire "$N1"; c1=$IR
  client_ir hopwire "$N2"; c2=$IR
  client_ir h2load "$N1"; h1=$IR
  client_ir h2load "$N2"; h2=$IR
  stop "$pid"; pids=("${pids[@]/$pid}")
  row client "$c1" "$c2" "$h1" "$h2" h2load 1.0
fi
