#!/usr/bin/env bash
# Installs what hopwire needs to build and test on Debian bookworm (as root), only what is
# missing. libnghttp2 must be 1.52.0-1+deb12u3 or later (CVE-2026-27135 fix): older machines
# carry deb12u2, so it is installed explicitly.
set -euo pipefail

PKGS=(build-essential cmake pkg-config libnghttp2-14 libnghttp2-dev libuv1-dev libhttp-parser-dev
      zlib1g-dev libprotobuf-c-dev protobuf-c-compiler libsqlite3-dev sqlite3 libpq-dev postgresql
      libcmocka-dev curl nghttp2-client nghttp2-server python3 python3-h2 procps iproute2)
PKGS+=(python3-protobuf) # independent protobuf implementation for the codec interop test
PKGS+=(golang-go golang-golang-x-net-dev) # Go 1.19 + x/net h2c peers of scripts/bench-go.sh
PKGS+=(clang) # clang 14 + libFuzzer for `make fuzz` / `make check-fuzz` (tests/fuzz)
MIN_NGHTTP2="1.52.0-1+deb12u3"

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
have=$(dpkg-query -W -f='${Version}' libnghttp2-14 2>/dev/null || echo 0)
if ! dpkg --compare-versions "$have" ge "$MIN_NGHTTP2"; then
  missing+=(libnghttp2-14 libnghttp2-dev)
fi
command -v node >/dev/null 2>&1 || missing+=(nodejs npm)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
have=$(dpkg-query -W -f='${Version}' libnghttp2-14)
if ! dpkg --compare-versions "$have" ge "$MIN_NGHTTP2"; then
  echo "setup: libnghttp2-14 is $have, need >= $MIN_NGHTTP2" >&2
  exit 1
fi

# Node.js peers for the interop tests, pinned by the committed package-lock.json.
if [ -f tests/interop/package-lock.json ]; then
  lock_sum=$(sha256sum tests/interop/package-lock.json | cut -d' ' -f1)
  if [ ! -f tests/interop/node_modules/.hop-lock-sum ] ||
     [ "$(cat tests/interop/node_modules/.hop-lock-sum)" != "$lock_sum" ]; then
    echo "setup: npm ci (tests/interop)"
    (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    echo "$lock_sum" > tests/interop/node_modules/.hop-lock-sum
  fi
fi
echo "setup: ok (libnghttp2 $have)"
