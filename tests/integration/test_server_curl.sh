#!/usr/bin/env bash
# hopwire serve with real clients: curl over HTTP/1.1 and h2c (prior knowledge), nghttp.
# /healthz and /readyz, Echo with 0 B, 100 B and 1 MiB bodies (byte-exact), a chunked
# upload, keep-alive reuse on both protocols, then a clean SIGTERM exit (status 0).
# ctest: TIMEOUT=120
set -u
HOPWIRE=${HOPWIRE:-./build/hopwire}
tmp=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
expect() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1 (got '$2', want '$3')"; fi; }

"$HOPWIRE" serve --listen 127.0.0.1:0 --threads 2 >"$tmp/out" &
pid=$!
for _ in $(seq 100); do grep -q '^listening on ' "$tmp/out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$tmp/out")
[ -n "$port" ] || { echo "FAIL: no 'listening on' line" >&2; exit 1; }
expect "exactly one stdout line" "$(wc -l <"$tmp/out")" 1
base=http://127.0.0.1:$port
echo_url=$base/hopwire.bench.v1.BenchService/Echo

head -c 100 /dev/urandom >"$tmp/b100"
head -c 1048576 /dev/urandom >"$tmp/b1m"
: >"$tmp/b0"

for proto in --http1.1 --http2-prior-knowledge; do
  want_ver=1.1; [ "$proto" = --http2-prior-knowledge ] && want_ver=2
  expect "$proto /healthz" "$(curl -s $proto -w ' %{http_code} %{http_version}' "$base/healthz")" "OK 200 $want_ver"
  expect "$proto /readyz" "$(curl -s $proto -w ' %{http_code}' "$base/readyz")" "OK 200"
  expect "$proto unknown path" "$(curl -s -o /dev/null $proto -w '%{http_code}' "$base/nope")" "404"
  for size in 0 100 1m; do
    rm -f "$tmp/got"
    code=$(curl -s $proto -H 'content-type: application/proto' --data-binary @"$tmp/b$size" \
      -o "$tmp/got" -w '%{http_code} %{http_version} %{content_type}' "$echo_url")
    expect "$proto Echo $size B: status" "$code" "200 $want_ver application/proto"
    if cmp -s "$tmp/b$size" "$tmp/got"; then ok "$proto Echo $size B: body intact"; else bad "$proto Echo $size B: body differs"; fi
  done
  # Chunked upload (HTTP/1.1: Transfer-Encoding; h2: DATA frames without content-length).
  rm -f "$tmp/got"
  code=$(curl -s $proto -H 'Transfer-Encoding: chunked' -H 'content-type: application/proto' \
    --data-binary @"$tmp/b1m" -o "$tmp/got" -w '%{http_code}' "$echo_url")
  expect "$proto chunked 1 MiB upload: status" "$code" 200
  if cmp -s "$tmp/b1m" "$tmp/got"; then ok "$proto chunked upload echoed"; else bad "$proto chunked upload differs"; fi
  # Keep-alive / multiplexing: three URLs in one curl run reuse one connection.
  reuse=$(curl -s -v $proto -o /dev/null -o /dev/null -o /dev/null "$base/healthz" "$base/readyz" "$base/healthz" 2>&1 |
    grep -c -E 'Re-using existing connection|Reusing existing connection')
  expect "$proto keep-alive: later requests reuse the connection" "$reuse" 2
  conns=$(curl -s -v $proto -o /dev/null -o /dev/null -o /dev/null "$base/healthz" "$base/readyz" "$base/healthz" 2>&1 |
    grep -c -E '^\* +Trying 127')
  expect "$proto keep-alive: one TCP connect" "$conns" 1
done

# nghttp (h2c prior knowledge): SETTINGS as documented, the Echo body back.
out=$(nghttp -nv "$base/healthz" 2>&1)
echo "$out" | grep -q 'SETTINGS_MAX_CONCURRENT_STREAMS(0x03):100' && ok "nghttp: MAX_CONCURRENT_STREAMS 100" || bad "nghttp: MAX_CONCURRENT_STREAMS missing"
echo "$out" | grep -q 'SETTINGS_MAX_HEADER_LIST_SIZE(0x06):65536' && ok "nghttp: MAX_HEADER_LIST_SIZE 65536" || bad "nghttp: MAX_HEADER_LIST_SIZE missing"
echo "$out" | grep -q '(0x09):1' && ok "nghttp: NO_RFC7540_PRIORITIES 1" || bad "nghttp: NO_RFC7540_PRIORITIES missing"
echo "$out" | grep -q ':status: 200' && ok "nghttp: /healthz 200" || bad "nghttp: /healthz not 200"
got=$(nghttp -d "$tmp/b100" "$echo_url" | cmp - "$tmp/b100" && echo same)
expect "nghttp: Echo 100 B" "$got" same
got=$(nghttp -m 10 -d "$tmp/b100" "$echo_url" | wc -c)
expect "nghttp: 10 multiplexed Echo requests" "$got" 1000

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
expect "exit status after SIGTERM" "$rc" 0
[ "$fails" = 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
