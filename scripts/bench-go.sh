#!/usr/bin/env bash
# Go's h2c client and server next to hopwire's, in one run (issue 3's figure: with hopwire on
# both ends, at least 3x the calls/s of Go's x/net/http2 client against Go's h2c server).
# 200 blocking callers (goroutines / threads), 1 ms server delay, 1 ms modelled dial cost,
# 100 B Echo. Go 1.19 + x/net 0.7.0 from Debian (golang-go, golang-golang-x-net-dev), built
# offline (GO111MODULE=off, GOPATH=/usr/share/gocode).
#
#   scripts/bench-go.sh                 # 10 s per row
#   DURATION=5 scripts/bench-go.sh
#
# Env: HOPWIRE (default build/hopwire), DURATION seconds (10), CONCURRENCY (200), DELAY (1ms).
set -euo pipefail

HOPWIRE=${HOPWIRE:-build/hopwire}
DURATION=${DURATION:-10}
C=${CONCURRENCY:-200}
DELAY=${DELAY:-1ms}
here=$(cd "$(dirname "$0")/.." && pwd)
command -v go >/dev/null || { echo "bench-go: go missing (apt-get install golang-go golang-golang-x-net-dev)" >&2; exit 1; }
[ -d /usr/share/gocode/src/golang.org/x/net/http2 ] ||
  { echo "bench-go: golang.org/x/net missing (apt-get install golang-golang-x-net-dev)" >&2; exit 1; }
[ -x "$HOPWIRE" ] || { echo "bench-go: $HOPWIRE not built (make build)" >&2; exit 1; }
[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -ge 1 && "$DURATION" -le 600 ]] ||
  { echo "bench-go: DURATION must be 1..600 seconds" >&2; exit 2; }

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "building bench/go (go $(go env GOVERSION), offline)..." >&2
for p in server client; do
  (cd "$here/bench/go" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$tmp/gocache" \
     GOFLAGS= go build -o "$tmp/go-$p" "./$p")
done

# start NAME CMD...: runs a server printing "listening on 127.0.0.1:PORT"; sets $port.
start() {
  local name=$1; shift
  mkfifo "$tmp/$name.out"
  "$@" > "$tmp/$name.out" &
  pids+=($!)
  local line
  read -r -t 10 line < "$tmp/$name.out" || { echo "bench-go: $name did not start" >&2; exit 1; }
  port=${line##*:}
}
start go-server "$tmp/go-server" --delay "$DELAY" --max-streams 1000
go_url="http://127.0.0.1:$port/hopwire.bench.v1.BenchService/Echo"
start hop-server "$HOPWIRE" serve --listen 127.0.0.1:0 --delay "$DELAY" --max-streams 1000
hop_url="http://127.0.0.1:$port/hopwire.bench.v1.BenchService/Echo"

go_client() { "$tmp/go-client" -url "$1" -mode h2c -c "$C" -d "${DURATION}s" -warmup 1s -dial-cost 1ms; }
hop_client() {
  "$HOPWIRE" bench --mode h2c --callers "$2" --concurrency "$C" --duration "${DURATION}s" \
    --warmup 1s --dial-cost 1ms --target "$1" --json
}

echo "$C concurrent unary 100 B calls, ${DURATION}s after 1s warm-up, server delay $DELAY, dial cost 1ms;" \
     "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
{
  echo "go-x/net-h2c  go-h2c    $(go_client "$go_url")"
  echo "hopwire-block hopwire   $(hop_client "$hop_url" blocking)"
  echo "hopwire-async hopwire   $(hop_client "$hop_url" async)"
  echo "hopwire-block go-h2c    $(hop_client "$go_url" blocking)"
  echo "go-x/net-h2c  hopwire   $(go_client "$hop_url")"
} > "$tmp/rows"

python3 - "$tmp/rows" <<'EOF'
import json, sys
rows = []
for line in open(sys.argv[1]):
    client, server, js = line.split(None, 2)
    rows.append((client, server, json.loads(js)))
print("%-14s %-9s %10s %7s %6s %8s %8s %8s %7s %8s" % (
    "client", "server", "calls/s", "errors", "dials", "p50 us", "p99 us", "max us", "cpu s", "RSS KiB"))
for c, s, r in rows:
    print("%-14s %-9s %10.0f %7d %6d %8d %8d %8d %7.2f %8d" % (
        c, s, r["rps"], r["errors"], r["dials"], r["p50_us"], r["p99_us"], r["max_us"],
        r["cpu_s"], r["rss_kb"]))
go, hop = rows[0][2]["rps"], rows[1][2]["rps"]
print("\nhopwire<->hopwire (blocking callers) / Go<->Go: %.0f / %.0f calls/s = %.2fx (goal >= 3x)"
      % (hop, go, hop / go if go else 0))
EOF
