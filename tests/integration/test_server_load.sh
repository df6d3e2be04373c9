#!/usr/bin/env bash
# hopwire serve under h2load: h2c (-c 4 -m 100) and HTTP/1.1 (--h1 -c 50) against Echo with a
# 100 B body; every request must succeed with a 2xx. Counts are scaled down under ASan.
# ctest: RUN_SERIAL
# ctest: TIMEOUT=180
set -u
HOPWIRE=${HOPWIRE:-./build/hopwire}
n=100000
case "${HOP_SANITIZE:-OFF}" in ON|1|TRUE|true) n=10000 ;; esac
tmp=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
"$HOPWIRE" serve --listen 127.0.0.1:0 --threads 2 >"$tmp/out" &
pid=$!
for _ in $(seq 100); do grep -q '^listening on ' "$tmp/out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$tmp/out")
[ -n "$port" ] || { echo "FAIL: no 'listening on' line" >&2; exit 1; }
url=http://127.0.0.1:$port/hopwire.bench.v1.BenchService/Echo
head -c 100 /dev/urandom >"$tmp/body"

run() { # name, h2load args...
  local name=$1
  shift
  timeout 120 h2load "$@" -d "$tmp/body" -H 'content-type: application/proto' "$url" >"$tmp/h2l" 2>&1
  local line codes
  line=$(grep '^requests:' "$tmp/h2l")
  codes=$(grep '^status codes:' "$tmp/h2l")
  echo "$name: $line"
  if [[ "$line" == "requests: $n total, $n started, $n done, $n succeeded, 0 failed, 0 errored, 0 timeout" &&
        "$codes" == "status codes: $n 2xx, 0 3xx, 0 4xx, 0 5xx" ]]; then
    echo "ok: $name: 100% succeeded ($(grep '^finished in' "$tmp/h2l"))"
  else
    echo "FAIL: $name" >&2
    cat "$tmp/h2l" >&2
    fails=$((fails + 1))
  fi
}

run "h2c -n $n -c 4 -m 100" -n "$n" -c 4 -m 100
run "h1 -n $n -c 50" --h1 -n "$n" -c 50

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
if [ "$rc" = 0 ]; then echo "ok: exit 0 after SIGTERM"; else echo "FAIL: exit status $rc" >&2; fails=$((fails + 1)); fi
[ "$fails" = 0 ]
