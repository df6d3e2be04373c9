#!/usr/bin/env bash
# The installed tree, staged in a DESTDIR under the build directory with a prefix other than
# the configured one (as `make install PREFIX=... DESTDIR=...`): the CLI, libhopwire.so.X.Y.Z
# with its soname and dev symlinks, libhopwire.a, every public header and version.h,
# hopwire.pc (prefix, version, requirements), the CMake package, one man page per command
# (from hopwire --list-commands) that groff reads without warnings, the docs. Then:
# hopwire --version = hop_version() of a program built against the staged tree = the .pc's
# Version = HOP_VERSION_STRING; and uninstall removes every file it installed.
# ctest: TIMEOUT=180
set -u
build=$(cd "${HOP_BUILD_DIR:-build}" && pwd)
src=$(cd "${HOP_SOURCE_DIR:-$(dirname "$0")/../..}" && pwd)
HOP_BUILD_DIR=$build
. "$src/tests/lib/hopinstall.sh"
tmp=$(mktemp -d "$build/install-tree.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fails=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
expect() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1 (got '$2', want '$3')"; fi; }

dest=$tmp/dest
prefix=/opt/hopwire-test
root=$dest$prefix
hop_install "$dest" "$prefix" || { cat "$dest.log" >&2; echo "FAIL: install" >&2; exit 1; }
ok "cmake --install into DESTDIR=$dest, prefix $prefix"

version=$(sed -n 's/^#define HOP_VERSION_STRING "\(.*\)"$/\1/p' "$build/include/hopwire/version.h")
IFS=. read -r major minor _ <<<"$version"
soname=libhopwire.so.$major
[ "$major" = 0 ] && soname=libhopwire.so.0.$minor
lib=$root/lib

[ -x "$root/bin/hopwire" ] && ok "bin/hopwire" || bad "bin/hopwire missing"
[ -f "$lib/libhopwire.so.$version" ] && [ ! -L "$lib/libhopwire.so.$version" ] &&
  ok "lib/libhopwire.so.$version" || bad "lib/libhopwire.so.$version missing"
expect "soname symlink" "$(readlink "$lib/$soname")" "libhopwire.so.$version"
expect "dev symlink" "$(readlink "$lib/libhopwire.so")" "$soname"
expect "DT_SONAME" "$(readelf -d "$lib/libhopwire.so.$version" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')" "$soname"
[ "$(ar t "$lib/libhopwire.a" 2>/dev/null | grep -c '\.o$')" -ge 20 ] && ok "lib/libhopwire.a" ||
  bad "lib/libhopwire.a missing or nearly empty"

for h in "$src"/include/hopwire/*.h "$build/include/hopwire/version.h"; do
  cmp -s "$h" "$root/include/hopwire/$(basename "$h")" || bad "header $(basename "$h") not installed"
done
extra=$(cd "$root/include/hopwire" && ls | grep -v '\.h$')
expect "headers: every include/hopwire/*.h and version.h, nothing else" "$extra" ""

export PKG_CONFIG_PATH=$lib/pkgconfig
expect "hopwire.pc Version" "$(pkg-config --modversion hopwire)" "$version"
expect "hopwire.pc prefix is the install prefix" "$(pkg-config --variable=prefix hopwire)" "$prefix"
expect "hopwire.pc Libs" "$(pkg-config --libs hopwire | xargs)" "-L$prefix/lib -lhopwire"
expect "hopwire.pc Requires.private" "$(pkg-config --print-requires-private hopwire | awk '{print $1}' | sort | xargs)" \
  "libnghttp2 libuv zlib"
pkg-config --static --libs hopwire | grep -q -- '-lhttp_parser' && ok "hopwire.pc Libs.private has http_parser" ||
  bad "hopwire.pc Libs.private lacks -lhttp_parser"
for f in hopwireConfig.cmake hopwireConfigVersion.cmake hopwireTargets.cmake; do
  [ -f "$lib/cmake/hopwire/$f" ] || bad "lib/cmake/hopwire/$f missing"
done
grep -q 'hopwire::hopwire_static' "$lib/cmake/hopwire/hopwireTargets.cmake" &&
  grep -q 'add_library(hopwire::hopwire SHARED IMPORTED)' "$lib/cmake/hopwire/hopwireTargets.cmake" &&
  ok "CMake package: hopwire::hopwire (shared), hopwire::hopwire_static" || bad "CMake targets missing"

# Man pages: hopwire.1 and one per command the CLI lists, nothing stale, each clean for groff
# and showing its command's usage line.
man1=$root/share/man/man1
cmds=$("$root/bin/hopwire" --list-commands | cut -f1)
expect "man pages: hopwire.1 + one per command" "$(cd "$man1" && ls | sort | xargs)" \
  "$( (echo hopwire.1; for c in $cmds; do echo "hopwire-$c.1"; done) | sort | xargs)"
for page in hopwire $cmds; do
  f=$man1/hopwire.1 args=()
  [ "$page" != hopwire ] && f=$man1/hopwire-$page.1 args=("$page")
  warn=$(groff -man -Tascii -ww -z "$f" 2>&1)
  [ -z "$warn" ] || bad "groff warns on $(basename "$f"): $warn"
  usage=$("$root/bin/hopwire" "${args[@]}" --help | sed -n '1s/^usage: //p')
  groff -man -Tascii -P-cbou -rLL=200n "$f" 2>/dev/null | grep -qF -- "$usage" &&
    ok "$(basename "$f") shows '$usage'" || bad "$(basename "$f") lacks the usage line '$usage'"
done

doc=$root/share/doc/hopwire
for f in README.md install.md ARCHITECTURE.md examples/CMakeLists.txt; do
  [ -f "$doc/$f" ] || bad "share/doc/hopwire/$f missing"
done
for f in "$src"/examples/*.c; do
  cmp -s "$f" "$doc/examples/$(basename "$f")" || bad "example $(basename "$f") not installed"
done
ok "docs and examples under share/doc/hopwire"

# One version everywhere: the CLI, the library at run time, the header, the .pc.
cat >"$tmp/v.c" <<'EOF'
#include <hopwire/hopwire.h>
#include <stdio.h>
int main(void) {
  printf("%s %s %u %u\n", hop_version(), HOP_VERSION_STRING, hop_version_num(), HOP_VERSION_NUM);
  return 0;
}
EOF
# shellcheck disable=SC2046,SC2086
if cc $(hop_sanitizer_flags) -o "$tmp/v" "$tmp/v.c" \
  $(PKG_CONFIG_SYSROOT_DIR=$dest pkg-config --cflags --libs hopwire); then
  read -r run_v hdr_v run_n hdr_n < <(LD_LIBRARY_PATH=$lib "$tmp/v")
  expect "hop_version() = HOP_VERSION_STRING" "$run_v" "$hdr_v"
  expect "hop_version_num() = HOP_VERSION_NUM" "$run_n" "$hdr_n"
  expect "hop_version() = hopwire.pc Version" "$run_v" "$(pkg-config --modversion hopwire)"
  expect "hopwire --version (installed) = hop_version()" "$("$root/bin/hopwire" --version)" "hopwire $run_v"
  expect "hopwire --version (build tree) = hop_version()" "$("${HOPWIRE:-$build/hopwire}" --version)" "hopwire $run_v"
  LD_LIBRARY_PATH=$lib ldd "$tmp/v" | grep -qF "$lib/$soname" && ok "the program loads the staged $soname" ||
    bad "the program does not load $lib/$soname"
else
  bad "a program using hop_version() does not build against the staged tree"
fi

# Uninstall what the manifest lists: nothing of hopwire's may stay.
installed=$(cd "$dest" && find . \( -type f -o -type l \) | wc -l)
expect "the manifest lists every installed file" "$(grep -c . "$dest.manifest")" "$installed"
DESTDIR=$dest cmake -DMANIFEST="$dest.manifest" -P "$src/cmake/uninstall.cmake" >"$tmp/uninstall.log" 2>&1 ||
  { cat "$tmp/uninstall.log" >&2; bad "uninstall failed"; }
expect "uninstall: no file left" "$(cd "$dest" && find . \( -type f -o -type l \) | xargs)" ""
expect "uninstall: hopwire's directories removed" \
  "$(cd "$dest" && find . -type d -name hopwire | xargs)" ""
[ "$fails" = 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
