#!/usr/bin/env bash
# Server figures, in one run on this machine:
#  1. h2load -c 1 -m 200 and -c 4 -m 50, POST of 100 B to Echo, no delay: req/s, p50 and p99
#     for `hopwire serve` and `nghttpd --no-tls --echo-upload` side by side (nghttpd gets a
#     private in-memory /tmp, since it writes every upload there).
#  2. Memory: RSS of `hopwire serve` with 1,000 idle h2c connections, and with 10,000 streams
#     in flight (Echo with a 1 s delay): bytes per connection and per stream.
#     (Idle connections alone, server and client, with no throughput run: `hopwire idle-bench`.)
# Usage: scripts/bench-server.sh [-n REQUESTS] [--rounds N] [--threads N] [--no-memory]
#        (HOPWIRE=path/to/hopwire; default ./build/hopwire)
set -euo pipefail
HOPWIRE=${HOPWIRE:-./build/hopwire}
n=300000
rounds=5
threads=$(nproc)
memory=1
while [ $# -gt 0 ]; do
  case "$1" in
    -n) n=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --no-memory) memory=0; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "bench-server: unknown option $1" >&2; exit 2 ;;
  esac
done
for t in h2load nghttpd unshare python3; do
  command -v "$t" >/dev/null || { echo "bench-server: $t not found" >&2; exit 1; }
done
[ -x "$HOPWIRE" ] || { echo "bench-server: $HOPWIRE not built (set HOPWIRE)" >&2; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 0.2
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
head -c 100 /dev/urandom >"$tmp/body"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

start_hopwire() { # extra args...; sets hw_pid hw_port
  "$HOPWIRE" serve --listen 127.0.0.1:0 --threads "$threads" "$@" >"$tmp/hw.out" &
  hw_pid=$!
  pids+=("$hw_pid")
  for _ in $(seq 100); do grep -q '^listening on' "$tmp/hw.out" 2>/dev/null && break; sleep 0.05; done
  hw_port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$tmp/hw.out")
}

# Percentiles from h2load --log-file (start_us, status, duration_us).
pct() {
  python3 - "$1" <<'PY'
import sys
d = sorted(int(l.split("\t")[2]) for l in open(sys.argv[1]) if l.count("\t") >= 2)
q = lambda p: d[min(len(d) - 1, int(p * len(d)))] if d else 0
print(len(d), q(0.50), q(0.99))
PY
}

run_h2load() { # port c m -> "rps p50 p99 ok"
  local port=$1 c=$2 m=$3
  h2load -n "$n" -c "$c" -m "$m" -d "$tmp/body" -H 'content-type: application/proto' \
    --log-file="$tmp/log" "http://127.0.0.1:$port/hopwire.bench.v1.BenchService/Echo" >"$tmp/h2l" 2>&1 || true
  local rps ok
  rps=$(sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' "$tmp/h2l")
  ok=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' "$tmp/h2l")
  read -r cnt p50 p99 < <(pct "$tmp/log")
  echo "${rps:-0} $p50 $p99 ${ok:-0}"
}

echo "== h2load, POST 100 B to Echo, no delay, $n requests per run, median of $rounds rounds =="
echo "machine: $(nproc) cores, $(uname -r); hopwire --threads $threads; nghttpd -n $threads"
start_hopwire
ng_port=$(free_port)
unshare -m sh -c "mount -t tmpfs -o size=256m tmpfs /tmp && exec nghttpd --no-tls --echo-upload -n $threads $ng_port" >/dev/null 2>&1 &
pids+=($!)
wait_port "$ng_port" || { echo "bench-server: nghttpd did not start" >&2; exit 1; }
# Warm-up.
h2load -n 20000 -c 4 -m 50 -d "$tmp/body" "http://127.0.0.1:$hw_port/hopwire.bench.v1.BenchService/Echo" >/dev/null 2>&1 || true
h2load -n 20000 -c 4 -m 50 -d "$tmp/body" "http://127.0.0.1:$ng_port/hopwire.bench.v1.BenchService/Echo" >/dev/null 2>&1 || true

printf '%-16s %-9s %12s %10s %10s %12s\n' load server "req/s" "p50 us" "p99 us" succeeded
# Median of the rounds (req/s, p50 and p99 each), rounds interleaved between the servers.
median() { sort -n | awk '{a[NR]=$1} END{print (NR ? a[int((NR+1)/2)] : 0)}'; }
for cm in "1 200" "4 50"; do
  set -- $cm
  : >"$tmp/res.hopwire"
  : >"$tmp/res.nghttpd"
  for r in $(seq "$rounds"); do
    for srv in hopwire nghttpd; do
      port=$hw_port; [ $srv = nghttpd ] && port=$ng_port
      run_h2load "$port" "$1" "$2" >>"$tmp/res.$srv"
    done
  done
  for srv in hopwire nghttpd; do
    f=$tmp/res.$srv
    rps=$(cut -d' ' -f1 "$f" | median)
    p50=$(cut -d' ' -f2 "$f" | median)
    p99=$(cut -d' ' -f3 "$f" | median)
    ok=$(cut -d' ' -f4 "$f" | sort -n | head -1)
    printf '%-16s %-9s %12.0f %10s %10s %12s\n' "-c $1 -m $2" "$srv" "$rps" "$p50" "$p99" "$ok"
    eval "sum_$srv=\"$rps $p99\""
  done
  read -r a pa <<<"$sum_hopwire"
  read -r b pb <<<"$sum_nghttpd"
  awk -v a="$a" -v b="$b" -v pa="$pa" -v pb="$pb" \
    'BEGIN{printf "%-16s hopwire/nghttpd: %.2fx req/s, p99 %s\n", "", (b>0?a/b:0), (pa<=pb?"no worse":"WORSE")}'
done
kill -TERM "$hw_pid"; wait "$hw_pid" 2>/dev/null || true

[ "$memory" = 1 ] || exit 0
echo
echo "== memory (VmRSS of hopwire serve) =="
ulimit -n 8192 2>/dev/null || true
start_hopwire --max-conns 20000
sleep 0.3
base=$(rss_kb "$hw_pid")
# 1,000 idle h2c connections: preface + SETTINGS exchanged, then nothing.
python3 - "$hw_port" 1000 "$hw_pid" "$tmp/idle" <<'PY' &
import socket, sys, time
port, n, pid, flag = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
pre = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
socks = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(pre)
    socks.append(s)
for s in socks:
    s.settimeout(5)
    s.recv(4096)  # server SETTINGS
    s.sendall(b"\x00\x00\x00\x04\x01\x00\x00\x00\x00")  # ACK
open(flag, "w").close()
time.sleep(30)
PY
idle_py=$!
pids+=("$idle_py")
for _ in $(seq 200); do [ -f "$tmp/idle" ] && break; sleep 0.1; done
# The server's sweep (every 1 s) gives a connection's frame buffer back to the kernel after a
# whole interval without frames: read RSS after two.
sleep 2.5
idle=$(rss_kb "$hw_pid")
kill "$idle_py" 2>/dev/null; wait "$idle_py" 2>/dev/null || true
per_conn=$(( (idle - base) * 1024 / 1000 ))
printf 'baseline RSS %d KiB; 1,000 idle h2c connections: RSS %d KiB -> %d bytes per connection\n' "$base" "$idle" "$per_conn"
kill -TERM "$hw_pid"; wait "$hw_pid" 2>/dev/null || true

start_hopwire --delay 1s --max-streams 100
sleep 0.3
base=$(rss_kb "$hw_pid")
h2load -n 10000 -c 100 -m 100 -d "$tmp/body" "http://127.0.0.1:$hw_port/hopwire.bench.v1.BenchService/Echo" >"$tmp/h2l" 2>&1 &
load=$!
peak=$base
for _ in $(seq 30); do
  sleep 0.1
  cur=$(rss_kb "$hw_pid"); [ "$cur" -gt "$peak" ] && peak=$cur
done
wait "$load" || true
ok=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' "$tmp/h2l")
per_stream=$(( ( (peak - base) * 1024 - 100 * per_conn ) / 10000 ))
printf '10,000 streams in flight (100 conns x 100, 1 s delay; %s succeeded): peak RSS %d KiB -> %d bytes per stream (after %d bytes x 100 connections)\n' \
  "$ok" "$peak" "$per_stream" "$per_conn"
kill -TERM "$hw_pid"; wait "$hw_pid" 2>/dev/null || true
