#!/usr/bin/env bash
# hopwire's h2c client next to h2load on ONE `hopwire serve` with no server delay, in one run
# (issue 4: the h2c client's throughput should reach 80 % of `h2load -c 1 -m 200`).
#
#   scripts/bench-h2load.sh            # 10 s each, concurrency 200, 100 B Echo
#   DURATION=5 ROUNDS=2 scripts/bench-h2load.sh
#
# Env: HOPWIRE (default build/hopwire), DURATION seconds (10), CONCURRENCY (200),
# PAYLOAD bytes (100), ROUNDS (1: h2load then hopwire; more rounds alternate, best counts).
set -euo pipefail

HOPWIRE=${HOPWIRE:-build/hopwire}
DURATION=${DURATION:-10}
C=${CONCURRENCY:-200}
PAYLOAD=${PAYLOAD:-100}
ROUNDS=${ROUNDS:-1}
command -v h2load >/dev/null || { echo "bench-h2load: h2load missing (apt-get install nghttp2-client)" >&2; exit 1; }
[ -x "$HOPWIRE" ] || { echo "bench-h2load: $HOPWIRE not built (make build)" >&2; exit 1; }
[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -ge 1 && "$DURATION" -le 600 ]] ||
  { echo "bench-h2load: DURATION must be 1..600 seconds" >&2; exit 2; }
[[ "$ROUNDS" =~ ^[0-9]+$ && "$ROUNDS" -ge 1 && "$ROUNDS" -le 10 ]] ||
  { echo "bench-h2load: ROUNDS must be 1..10" >&2; exit 2; }

tmp=$(mktemp -d)
srv_pid=
cleanup() {
  if [ -n "$srv_pid" ]; then
    kill -TERM "$srv_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$srv_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$srv_pid" 2>/dev/null || true
    wait "$srv_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

head -c "$PAYLOAD" /dev/zero | tr '\0' 'a' > "$tmp/body"
mkfifo "$tmp/out"
"$HOPWIRE" serve --listen 127.0.0.1:0 --delay 0 --max-streams 1000 > "$tmp/out" &
srv_pid=$!
read -r -t 10 line < "$tmp/out" || { echo "bench-h2load: hopwire serve did not start" >&2; exit 1; }
port=${line##*:}
url="http://127.0.0.1:$port/hopwire.bench.v1.BenchService/Echo"
echo "server: hopwire serve --delay 0 --max-streams 1000 on 127.0.0.1:$port ($(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
echo "load:   $C concurrent 100 B POSTs for ${DURATION}s after 1s warm-up, one connection"
echo

best_h2load=0 best_hop=0
for round in $(seq "$ROUNDS"); do
  h2out=$(h2load -c 1 -m "$C" -D "$DURATION" --warm-up-time=1 -d "$tmp/body" \
            -H 'content-type: application/proto' "$url" 2>&1) ||
    { echo "bench-h2load: h2load failed:"; echo "$h2out"; exit 1; } >&2
  h2rps=$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' <<<"$h2out")
  h2req=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' <<<"$h2out")
  h2fail=$(sed -n 's/^requests: .* \([0-9]*\) failed.*/\1/p' <<<"$h2out")
  h2lat=$(awk '/^time for request:/ {print "mean " $6 ", max " $5}' <<<"$h2out")
  printf 'round %d  h2load -c 1 -m %d:          %10.0f req/s  (%s succeeded, %s failed; %s)\n' \
    "$round" "$C" "${h2rps:-0}" "${h2req:-?}" "${h2fail:-?}" "$h2lat"

  hop=$("$HOPWIRE" bench --mode h2c --concurrency "$C" --duration "${DURATION}s" --warmup 1s \
          --dial-cost 0 --payload "$PAYLOAD" --target "$url" --json) ||
    { echo "bench-h2load: hopwire bench failed" >&2; exit 1; }
  read -r hoprps hopreq hoperr hopdials p50 p99 cpu < <(python3 -c '
import json, sys
r = json.loads(sys.argv[1])
print(r["rps"], r["requests"], r["errors"], r["dials"], r["p50_us"], r["p99_us"], r["cpu_s"])' "$hop")
  printf 'round %d  hopwire bench --mode h2c:    %10.0f req/s  (%s calls, %s errors, %s dials; p50 %s us, p99 %s us, client cpu %ss)\n' \
    "$round" "$hoprps" "$hopreq" "$hoperr" "$hopdials" "$p50" "$p99" "$cpu"
  best_h2load=$(python3 -c "print(max($best_h2load, ${h2rps:-0}))")
  best_hop=$(python3 -c "print(max($best_hop, $hoprps))")
done
echo
python3 -c "
h2, hop = $best_h2load, $best_hop
pct = 100.0 * hop / h2 if h2 else 0
print('hopwire h2c client / h2load: %.0f / %.0f req/s = %.0f %% (goal >= 80 %%)' % (hop, h2, pct))"
