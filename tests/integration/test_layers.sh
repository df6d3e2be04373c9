#!/usr/bin/env bash
# The layers, bottom up: src/core -> src/loop, src/net -> src/h1, src/h2 -> src/client,
# src/server -> src/rpc -> src/events (libhopwire) -> apps/ -> cmd/hopwire.
#  - A library layer never includes a higher one (nor a sibling of its own rank), nor apps/.
#  - Public headers (include/hopwire) never include private ones.
#  - Applications (apps/<app>/) and the CLI (cmd/hopwire) include public headers
#    ("hopwire/..."), the applications' headers ("<app>/..." found under apps/), protoc-c
#    output ("flyteidl2/...", "google/...") and system headers, never the library's
#    internals; apps/common, the applications' shared base, includes no other application.
# The checks run over the source tree, then over a copy with one planted violation of each
# rule, which must all be reported.
set -u
root="${HOP_SOURCE_DIR:-$(dirname "$0")/../..}"
declare -A rank=([core]=0 [loop]=1 [net]=2 [h1]=3 [h2]=3 [server]=4 [client]=4 [rpc]=5 [events]=6)

# Prints the includes of file $1, one a line, with their opening quote: "name or <name.
includes() {
  sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*\(["<]\)\([^">]*\)[">].*/\1\2/p' "$1"
}

# "name" or <name>, as written.
shown() { if [ "${1:0:1}" = '<' ]; then echo "<${1:1}>"; else echo "\"${1:1}\""; fi; }

# check_tree ROOT: prints one FAIL line per violation; exit status 1 if any.
check_tree() {
  local r=$1 bad=0 checked=0 f inc kind name layer target app
  for dir in "$r"/src/*/; do
    layer=$(basename "$dir")
    [ -n "${rank[$layer]+x}" ] || { echo "FAIL: src/$layer is not a known layer"; bad=1; continue; }
    for f in "$dir"*.[ch]; do
      [ -e "$f" ] || continue
      checked=$((checked + 1))
      while IFS= read -r inc; do
        kind=${inc:0:1} name=${inc:1}
        # Nothing above the library: an include found under apps/ (and not in src/), or
        # protoc-c output, is an application's.
        if { [ -e "$r/apps/$name" ] && [ ! -e "$r/src/$name" ]; } ||
           [[ "$name" == flyteidl2/* ]]; then
          echo "FAIL: src/$layer/$(basename "$f") includes $(shown "$inc") (an application's header)"
          bad=1
          continue
        fi
        [ "$kind" = '"' ] || continue
        target=${name%%/*}
        [ -n "${rank[$target]+x}" ] || continue
        [ "$target" = "$layer" ] && continue
        if [ "${rank[$target]}" -ge "${rank[$layer]}" ]; then
          echo "FAIL: src/$layer/$(basename "$f") includes \"$name\" (layer $target is not below $layer)"
          bad=1
        fi
      done < <(includes "$f")
    done
  done
  # Public headers never include private ones.
  for f in "$r"/include/hopwire/*.h; do
    [ -e "$f" ] || continue
    while IFS= read -r inc; do
      name=${inc:1}
      case "$name" in
        hopwire/*) ;;
        *) if [ -e "$r/src/$name" ] || [ -e "$r/apps/$name" ] || [ -n "${rank[${name%%/*}]+x}" ]; then
             echo "FAIL: include/hopwire/$(basename "$f") includes \"$name\" (not public)"
             bad=1
           fi ;;
      esac
    done < <(includes "$f")
  done
  # Above the library: apps/** and cmd/hopwire.
  while IFS= read -r f; do
    checked=$((checked + 1))
    local rel=${f#"$r"/}
    app=${rel#apps/}
    app=${app%%/*}
    while IFS= read -r inc; do
      kind=${inc:0:1} name=${inc:1}
      if [ "$kind" = '<' ]; then
        # A system or third-party header, unless it is the library's own under another name.
        if [ -e "$r/src/$name" ]; then
          echo "FAIL: $rel includes <$name> (the library's internals)"
          bad=1
        fi
        continue
      fi
      case "$name" in
        hopwire/*|flyteidl2/*|google/*) continue ;;
      esac
      # A header next to the file (cmd/hopwire's own "commands.h").
      if [[ "$name" != */* ]] && [ -e "$(dirname "$f")/$name" ]; then continue; fi
      if [ -e "$r/apps/$name" ]; then
        if [ "$rel" != "${rel#apps/common/}" ] && [[ "$name" != common/* ]]; then
          echo "FAIL: $rel includes \"$name\" (apps/common includes no other application)"
          bad=1
        fi
        continue
      fi
      echo "FAIL: $rel includes \"$name\" (above the library: public headers and apps/ only)"
      bad=1
    done < <(includes "$f")
  done < <(find "$r/apps" "$r/cmd" -name '*.[ch]' 2>/dev/null | sort)
  [ "$checked" -gt 0 ] || { echo "FAIL: no sources found under $r"; return 1; }
  [ $bad -eq 0 ] && echo "ok: $checked files respect the layers"
  return $bad
}

check_tree "$root"
status=$?

# The checks must catch each kind of violation: plant one per rule in a copy of the tree.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$root/src" "$root/include" "$root/apps" "$root/cmd" "$tmp/"
printf '#include "client/internal.h"\n' >>"$tmp/src/core/url.c"     # upward in the library
printf '#include "bench/bench.h"\n' >>"$tmp/src/rpc/code.c"          # library -> apps
printf '#include "core/buf.h"\n' >>"$tmp/include/hopwire/types.h"    # public -> private
printf '#include "core/clock.h"\n' >>"$tmp/apps/bench/run.c"         # app -> internals
printf '#include <server/server_internal.h>\n' >>"$tmp/apps/events/proxy.c"
printf '#include "bench/bench.h"\n' >>"$tmp/apps/common/child.c"     # common -> an app
printf '#include "rpc/envelope.h"\n' >>"$tmp/cmd/hopwire/main.c"     # CLI -> internals
planted=7
out=$(check_tree "$tmp")
[ -n "${HOP_LAYERS_VERBOSE:-}" ] && echo "$out" # to see what the planted tree reports
caught=$(grep -c '^FAIL' <<<"$out")
if [ "$caught" -ne "$planted" ]; then
  echo "FAIL: the checks caught $caught of $planted planted violations:"
  echo "$out"
  status=1
else
  echo "ok: the checks catch all $planted planted violations"
fi
exit $status
