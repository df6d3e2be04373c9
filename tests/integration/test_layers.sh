#!/usr/bin/env bash
# A lower layer never includes a higher one (nor a sibling of its own rank).
# Ranks: core 0, loop 1, net 2, h1/h2 3, server/client 4, rpc 5, bench 6, events 6.
set -u
src="${HOP_SOURCE_DIR:-$(dirname "$0")/../..}/src"
declare -A rank=([core]=0 [loop]=1 [net]=2 [h1]=3 [h2]=3 [server]=4 [client]=4 [rpc]=5 [bench]=6 [events]=6)
bad=0
checked=0
for dir in "$src"/*/; do
  layer=$(basename "$dir")
  [ -n "${rank[$layer]+x}" ] || { echo "FAIL: src/$layer is not a known layer"; bad=1; continue; }
  for f in "$dir"*.[ch]; do
    [ -e "$f" ] || continue
    checked=$((checked + 1))
    while IFS= read -r inc; do
      target=${inc%%/*}
      [ -n "${rank[$target]+x}" ] || continue
      [ "$target" = "$layer" ] && continue
      if [ "${rank[$target]}" -ge "${rank[$layer]}" ]; then
        echo "FAIL: src/$layer/$(basename "$f") includes \"$inc\" (layer $target is not below $layer)"
        bad=1
      fi
    done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
  done
done
# Public headers never include private ones.
if grep -l '#include "\(core\|loop\|net\|h1\|h2\|server\|client\|rpc\|bench\)/' "$src"/../include/hopwire/*.h 2>/dev/null; then
  echo "FAIL: a public header includes a private one"; bad=1
fi
# Applications (apps/<app>/) sit above the library: they include their own headers
# ("<app>/..."), public ones ("hopwire/...") and protoc-c output ("flyteidl2/...",
# "google/..."), never the library's internals.
for f in "$src"/../apps/*/*.[ch]; do
  [ -e "$f" ] || continue
  app=$(basename "$(dirname "$f")")
  checked=$((checked + 1))
  while IFS= read -r inc; do
    case "$inc" in
      "$app"/*|hopwire/*|flyteidl2/*|google/*) ;;
      *) echo "FAIL: apps/$app/$(basename "$f") includes \"$inc\" (applications use public headers only)"; bad=1 ;;
    esac
  done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
done
[ "$checked" -gt 0 ] || { echo "FAIL: no sources found under $src"; exit 1; }
[ $bad -eq 0 ] && echo "ok: $checked files respect the layers"
exit $bad
