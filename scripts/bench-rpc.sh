#!/usr/bin/env bash
# Connect unary calls per second over h2c, 200 concurrent, 100 B message, no server delay,
# with and without gzip: hopwire on both ends (`hopwire call --repeat` -> `hopwire serve`)
# side by side with @connectrpc/connect-node on both ends (tests/interop/bench_load.mjs ->
# tests/interop/connect_server.mjs), in the same run. Every load is bounded in count and time.
#
# usage: scripts/bench-rpc.sh [--calls N] [--node-calls N] [--concurrency C] [--threads T]
#                             [--cross] [--build DIR]
#   --calls N        hopwire calls per row (default 100000)
#   --node-calls N   connect-node calls per row (default 20000; each row also stops at 30 s)
#   --threads T      hopwire serve worker threads (default 1: the Node server has one thread)
#   --cross          also hopwire client -> connect-node server and connect-node -> hopwire
set -euo pipefail
cd "$(dirname "$0")/.."
CALLS=100000 NODE_CALLS=20000 CONC=200 THREADS=1 CROSS=0 BUILD=${BUILD:-build}
while [ $# -gt 0 ]; do
  case "$1" in
    --calls) CALLS=$2; shift 2 ;;
    --node-calls) NODE_CALLS=$2; shift 2 ;;
    --concurrency) CONC=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --cross) CROSS=1; shift ;;
    --build) BUILD=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-rpc: unknown option $1" >&2; exit 2 ;;
  esac
done
HOPWIRE=$BUILD/hopwire
if [ ! -x "$HOPWIRE" ]; then
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" --target hopwire >/dev/null
fi
if [ ! -d tests/interop/node_modules/@connectrpc/connect-node ]; then
  bash scripts/setup.sh >/dev/null
fi

TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

# Starts a server (in this shell, so that cleanup can stop it by pid), waits for its
# "listening on HOST:PORT" line and sets PORT.
start() {
  local out=$TMP/$1.out; shift
  "$@" >"$out" 2>"$out.err" &
  PIDS+=($!)
  for _ in $(seq 100); do
    if grep -q "listening on" "$out" 2>/dev/null; then
      PORT=$(sed -n 's/.*://p' "$out" | head -1)
      return
    fi
    sleep 0.1
  done
  echo "bench-rpc: $* did not start: $(cat "$out.err")" >&2
  exit 1
}
start hop "$HOPWIRE" serve --listen 127.0.0.1:0 --threads "$THREADS"
HPORT=$PORT
start node node tests/interop/connect_server.mjs --http 2
NPORT=$PORT

# EchoMessage{payload = 98 x 'x'}: 100 bytes on the wire.
{ printf '\x12\x62'; head -c 98 /dev/zero | tr '\0' 'x'; } > "$TMP/msg.bin"
ECHO=/hopwire.bench.v1.BenchService/Echo

field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }
row() { # name, gzip, result line
  printf '%-44s %-5s %10s %10s %10s %8s\n' "$1" "$2" "$(echo "$3" | field calls_per_s)" \
    "$(echo "$3" | field p50_us)" "$(echo "$3" | field p99_us)" "$(echo "$3" | field errors)"
}
hop_load() { # port, extra flags...
  local port=$1; shift
  "$HOPWIRE" call "http://127.0.0.1:$port$ECHO" --proto -d @"$TMP/msg.bin" --http h2c \
    --timeout 30s --repeat "$CALLS" --concurrency "$CONC" "$@" || true
}
node_load() { # port, extra flags...
  local port=$1; shift
  node tests/interop/bench_load.mjs --url "http://127.0.0.1:$port" --calls "$NODE_CALLS" \
    --concurrency "$CONC" --payload 100 --max-seconds 30 "$@" || true
}

echo "Connect unary, h2c, $CONC concurrent, 100 B message, no delay; $(nproc) cores;" \
     "hopwire serve --threads $THREADS; $(node --version)"
printf '%-44s %-5s %10s %10s %10s %8s\n' "client -> server" gzip calls/s p50_us p99_us errors
row "hopwire call -> hopwire serve" no "$(hop_load "$HPORT" --no-accept-gzip)"
row "hopwire call -> hopwire serve" yes "$(hop_load "$HPORT" --gzip)"
row "connect-node -> connect-node" no "$(node_load "$NPORT")"
row "connect-node -> connect-node" yes "$(node_load "$NPORT" --gzip)"
if [ "$CROSS" = 1 ]; then
  row "hopwire call -> connect-node" no "$(hop_load "$NPORT" --no-accept-gzip)"
  row "connect-node -> hopwire serve" no "$(node_load "$HPORT")"
fi
