# Sourced by tests/integration/test_install_*.sh.
#
# hop_install DESTDIR PREFIX: `cmake --install` of $HOP_BUILD_DIR staged under DESTDIR, the
# install manifest copied to DESTDIR.manifest, the output to DESTDIR.log. Installs from one
# build directory share its install_manifest.txt (and so would race under ctest -j), so they
# take a lock, and the manifest a user's own `make install` left there is put back.
hop_install() {
  local dest=$1 prefix=$2 build=${HOP_BUILD_DIR:-build}
  (
    flock -w 120 9 || exit 1
    had=0
    if [ -e "$build/install_manifest.txt" ]; then
      cp -p "$build/install_manifest.txt" "$build/install_manifest.txt.hop-saved" && had=1
    fi
    DESTDIR=$dest cmake --install "$build" --prefix "$prefix" >"$dest.log" 2>&1
    rc=$?
    cp "$build/install_manifest.txt" "$dest.manifest" 2>/dev/null
    if [ "$had" = 1 ]; then
      mv -f "$build/install_manifest.txt.hop-saved" "$build/install_manifest.txt"
    else
      rm -f "$build/install_manifest.txt"
    fi
    exit $rc
  ) 9>"$build/.hop-install.lock"
}

# Compiler and linker flags a program needs to link this build's libhopwire when it was built
# with sanitizers (tests/CMakeLists.txt sets HOP_SANITIZE=1 for both kinds); empty otherwise.
hop_sanitizer_flags() {
  local cache=${HOP_BUILD_DIR:-build}/CMakeCache.txt
  if grep -q '^HOP_SANITIZE:BOOL=ON' "$cache" 2>/dev/null; then
    echo "-fsanitize=address,undefined -fno-omit-frame-pointer"
  elif grep -q '^HOP_TSAN:BOOL=ON' "$cache" 2>/dev/null; then
    echo "-fsanitize=thread"
  fi
}
