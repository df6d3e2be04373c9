#!/usr/bin/env bash
# libhopwire.so exports exactly the public API: every defined dynamic symbol is a function
# declared in include/hopwire/*.h (hop_ prefix), and every such function is exported.
# The declarations come from the compiler (gcc -aux-info over every public header), not a regex.
# ctest: TIMEOUT=60
set -u
build=${HOP_BUILD_DIR:-build}
src=${HOP_SOURCE_DIR:-$(dirname "$0")/../..}
lib=$build/libhopwire.so
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

[ -e "$lib" ] || { echo "FAIL: no $lib" >&2; exit 1; }
# Sanitizer runtimes add their own hooks to an instrumented library; they are not ours.
nm -D --defined-only "$lib" | awk '{print $NF}' |
  grep -vE '^(__(asan|ubsan|tsan|sanitizer|lsan)_|___asan|___tsan)' | sort -u >"$tmp/exported"

# Every public header (not only those the umbrella includes), the generated version.h too.
for h in "$src"/include/hopwire/*.h "$build"/include/hopwire/version.h; do
  echo "#include \"hopwire/$(basename "$h")\""
done >"$tmp/all.c"
gcc -std=gnu11 -D_GNU_SOURCE -I"$src/include" -I"$build/include" -aux-info "$tmp/aux" \
  -c "$tmp/all.c" -o "$tmp/all.o" || { echo "FAIL: public headers do not compile" >&2; exit 1; }
# Lines look like: /* .../include/hopwire/client.h:62:NC */ extern int hop_client_new (...);
# The first "name (" of each declaration is the function's name.
sed -n 's|^/\* [^ ]*include/hopwire/[^ ]* \*/ \(.*\)$|\1|p' "$tmp/aux" |
  sed -E 's/^([^(]*[^A-Za-z0-9_(])?([A-Za-z_][A-Za-z0-9_]*) \(.*/\2/' | sort -u >"$tmp/public"

n_pub=$(wc -l <"$tmp/public")
n_exp=$(wc -l <"$tmp/exported")
echo "public functions declared: $n_pub; dynamic symbols defined: $n_exp"
[ "$n_pub" -ge 80 ] && ok "found the public declarations ($n_pub)" || bad "only $n_pub public declarations found"

other=$(grep -v '^hop_' "$tmp/exported" | tr '\n' ' ')
[ -z "$other" ] && ok "every exported symbol has the hop_ prefix" || bad "exported without hop_: $other"
priv=$(comm -23 "$tmp/exported" "$tmp/public" | tr '\n' ' ')
[ -z "$priv" ] && ok "nothing exported beyond the public headers" || bad "exported but not public: $priv"
missing=$(comm -13 "$tmp/exported" "$tmp/public" | tr '\n' ' ')
[ -z "$missing" ] && ok "every public function is exported" ||
  bad "declared public but not exported (HOP_EXPORT missing, or not defined): $missing"
nonpfx=$(grep -v '^hop_' "$tmp/public" | tr '\n' ' ')
[ -z "$nonpfx" ] && ok "every public function has the hop_ prefix" || bad "public without hop_: $nonpfx"
# A declaration without HOP_EXPORT would be hidden even when defined: the check above
# catches it; this one names the header line.
if grep -nE '^[a-z_][a-z0-9_ *]*\bhop_[a-z0-9_]+\(' "$src"/include/hopwire/*.h | grep -v typedef; then
  bad "public declarations above lack HOP_EXPORT"
else
  ok "every declaration in include/hopwire carries HOP_EXPORT"
fi
[ "$fails" = 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
