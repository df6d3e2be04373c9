#!/usr/bin/env bash
# Every examples/*.c, built the four ways a user would against the installed tree (staged in
# a DESTDIR under the build directory): pkg-config --cflags --libs hopwire (shared),
# pkg-config --static (libhopwire.a), and the CMake project examples/CMakeLists.txt with
# find_package(hopwire) (hopwire::hopwire and hopwire::hopwire_static). Each build is run
# against a live server from RUNS below: exit codes, output, the server's clean SIGTERM exit.
# Sanitizer builds (HOP_SANITIZE=1) build the examples with the same -fsanitize flags.
# ctest: TIMEOUT=420
set -u
build=$(cd "${HOP_BUILD_DIR:-build}" && pwd)
src=$(cd "${HOP_SOURCE_DIR:-$(dirname "$0")/../..}" && pwd)
HOP_BUILD_DIR=$build
. "$src/tests/lib/hopinstall.sh"

# How each example runs: NAME|SERVER|CLIENT|EXPECT, one line per examples/NAME.c (an example
# without a line fails the test). SERVER is started first and must print "listening on
# HOST:PORT" as its first line; CLIENT then runs (bounded by 60 s) and must exit 0 with stdout
# matching the extended regex EXPECT; then SERVER gets SIGTERM and must exit 0.
# In SERVER and CLIENT, {ex} is the example binary, {hopwire} the installed CLI, {addr} the
# HOST:PORT the server printed.
RUNS=(
  "client_threads|{hopwire} serve --listen 127.0.0.1:0 --threads 2|{ex} http://{addr} 8 25|^ok: 200/200 calls from 8 threads, 1 dial\(s\)"
  "event_producer|bash \"\$src/tests/lib/pipeline_pair.sh\" {hopwire}|{ex} http://{addr} 4 50|^ok: 200/200 events acknowledged in [0-9]+ batches"
  "server_async|{ex} 127.0.0.1:0|{hopwire} call http://{addr}/example.v1.Greeter/Hello -d '{\"name\":\"ada\"}'|^\{\"greeting\":\"hello from another thread\",\"request\":\{\"name\":\"ada\"\}\}$"
)

tmp=$(mktemp -d "$build/install-examples.XXXXXX")
spid=
cleanup() {
  [ -n "$spid" ] && kill -KILL "$spid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

dest=$tmp/dest
prefix=/usr/local
root=$dest$prefix
hop_install "$dest" "$prefix" || { cat "$dest.log" >&2; echo "FAIL: install" >&2; exit 1; }
ok "installed into DESTDIR=$dest"
hopwire=$root/bin/hopwire
san=$(hop_sanitizer_flags)
[ -n "$san" ] && echo "sanitizer build: examples get $san"
export LD_LIBRARY_PATH=$root/lib # pkg-config builds carry no rpath
# hopwire.pc says prefix=/usr/local; the sysroot maps it into the DESTDIR.
pc() { PKG_CONFIG_PATH=$root/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest pkg-config "$@"; }

examples=()
for f in "$src"/examples/*.c; do examples+=("$(basename "$f" .c)"); done
[ ${#examples[@]} -gt 0 ] || { echo "FAIL: no examples/*.c" >&2; exit 1; }

# pkg-config, shared and static (only libhopwire static: -l:libhopwire.a for -lhopwire).
mkdir -p "$tmp/pc-shared" "$tmp/pc-static"
cflags=$(pc --cflags hopwire)
shared_libs=$(pc --libs hopwire)
static_libs=$(pc --static --libs hopwire)
static_libs=${static_libs/-lhopwire/-l:libhopwire.a}
for ex in "${examples[@]}"; do
  # shellcheck disable=SC2086
  cc -Wall -Wextra -Werror $san $cflags -o "$tmp/pc-shared/$ex" "$src/examples/$ex.c" $shared_libs -pthread &&
    ok "pkg-config shared: $ex builds" || bad "pkg-config shared: $ex does not build"
  # shellcheck disable=SC2086
  cc -Wall -Wextra -Werror $san $cflags -o "$tmp/pc-static/$ex" "$src/examples/$ex.c" $static_libs -pthread &&
    ok "pkg-config static: $ex builds" || bad "pkg-config static: $ex does not build"
done

# CMake: the examples' own project, as a user copies it, once per library kind.
for kind in shared static; do
  st=OFF
  [ $kind = static ] && st=ON
  if cmake -S "$src/examples" -B "$tmp/cmake-$kind-build" -DCMAKE_PREFIX_PATH="$root" -DHOPWIRE_STATIC=$st \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS="-Wall -Wextra -Werror $san" \
    -DCMAKE_EXE_LINKER_FLAGS="$san" >"$tmp/cmake-$kind.log" 2>&1 &&
    cmake --build "$tmp/cmake-$kind-build" >>"$tmp/cmake-$kind.log" 2>&1; then
    mkdir -p "$tmp/cmake-$kind"
    for ex in "${examples[@]}"; do cp "$tmp/cmake-$kind-build/$ex" "$tmp/cmake-$kind/"; done
    ok "cmake find_package(hopwire) $kind: every example builds"
  else
    cat "$tmp/cmake-$kind.log" >&2
    bad "cmake find_package(hopwire) $kind: build failed"
  fi
done

# A static build must not need libhopwire.so; a shared one must.
before=$fails
for v in pc cmake; do
  for ex in "${examples[@]}"; do
    [ -x "$tmp/$v-static/$ex" ] && readelf -d "$tmp/$v-static/$ex" | grep -q 'NEEDED.*libhopwire' &&
      bad "$v static $ex links libhopwire.so"
    [ -x "$tmp/$v-shared/$ex" ] && ! readelf -d "$tmp/$v-shared/$ex" | grep -q 'NEEDED.*libhopwire\.so' &&
      bad "$v shared $ex does not link libhopwire.so"
  done
done
[ "$fails" = "$before" ] && ok "static builds do not need libhopwire.so, shared builds do"

subst() { # TEMPLATE EX ADDR
  local s=$1
  s=${s//\{ex\}/$(printf %q "$2")}
  s=${s//\{hopwire\}/$(printf %q "$hopwire")}
  s=${s//\{addr\}/$(printf %q "$3")}
  printf '%s' "$s"
}

run_one() { # VARIANT NAME SERVER CLIENT EXPECT
  local v=$1 name=$2 ex=$tmp/$1/$2 out=$tmp/$1-$2
  [ -x "$ex" ] || { bad "$v $name: not built"; return; }
  eval "exec $(subst "$3" "$ex" "")" >"$out.server" 2>"$out.server.err" &
  spid=$!
  for _ in $(seq 100); do grep -q '^listening on ' "$out.server" 2>/dev/null && break; sleep 0.1; done
  local addr
  addr=$(sed -n '1s/^listening on \(.*\)$/\1/p' "$out.server")
  if [ -z "$addr" ]; then
    bad "$v $name: the server printed no 'listening on' line"
    cat "$out.server.err" >&2
    kill -KILL "$spid" 2>/dev/null
    wait "$spid" 2>/dev/null
    spid=
    return
  fi
  timeout 60 bash -c "$(subst "$4" "$ex" "$addr")" >"$out.client" 2>"$out.client.err"
  local rc=$?
  if [ $rc = 0 ] && grep -qE -- "$5" "$out.client"; then
    ok "$v $name: $(head -c 120 "$out.client")"
  else
    bad "$v $name: client exit $rc, stdout '$(head -c 300 "$out.client")', stderr '$(head -c 300 "$out.client.err")'"
  fi
  kill -TERM "$spid"
  local deadline=$((SECONDS + 20))
  while kill -0 "$spid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
  kill -0 "$spid" 2>/dev/null && { bad "$v $name: server still running 20 s after SIGTERM"; kill -KILL "$spid"; }
  wait "$spid"
  rc=$?
  spid=
  [ $rc = 0 ] && ok "$v $name: server exits 0 on SIGTERM" ||
    bad "$v $name: server exit $rc after SIGTERM: $(head -c 300 "$out.server.err")"
}

for ex in "${examples[@]}"; do
  line=
  for r in "${RUNS[@]}"; do [ "${r%%|*}" = "$ex" ] && line=$r; done
  if [ -z "$line" ]; then
    bad "examples/$ex.c has no RUNS line in $(basename "$0")"
    continue
  fi
  IFS='|' read -r _ server client expect <<<"$line"
  for v in pc-shared pc-static cmake-shared cmake-static; do
    run_one "$v" "$ex" "$server" "$client" "$expect"
  done
done
[ "$fails" = 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
