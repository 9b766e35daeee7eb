#!/usr/bin/env bash
# CAF 0.17.6 (core, io and openssl) built from Debian's source tarball under ThreadSanitizer,
# into .cache/caf-tsan/0.17.6. Debian's libcaf is not instrumented, so TSan cannot see the
# synchronisation inside its mailboxes, scheduler and reference counts and reports messages
# between actors as races; with this build the actor tests run under TSan (tools/tsan/build.sh).
# The source is the upstream release Debian packages (bookworm's 0.17.6-2.1), checksum checked.
# Once built, the prefix is reused; a cold build takes about 2 minutes on 2 cores.
#   tools/tsan/caf.sh          prints the prefix on its last line
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
version=0.17.6
sha256=e2bf5bd243f08bb7d8adde197cfe3e6d71314ed3378fe0692f8932f4c3b3928c
# Built by GCC like the rest of the ThreadSanitizer build (clang 14 cannot compile LibTorch 1.13's
# headers in C++20), one TSan runtime for all.
prefix="$root/.cache/caf-tsan/$version-gcc"
work="$root/.cache/caf-tsan/build-$version-gcc"
jobs=${JOBS:-2}

if [ -f "$prefix/.complete" ]; then
  echo "$prefix"
  exit 0
fi

mkdir -p "$work"
tarball="$work/actor-framework_$version.orig.tar.gz"
if ! echo "$sha256  $tarball" | sha256sum -c --status 2>/dev/null; then
  url="http://deb.debian.org/debian/pool/main/a/actor-framework/actor-framework_$version.orig.tar.gz"
  echo "caf-tsan: downloading $url" >&2
  curl -fsSL --retry 3 -o "$tarball" "$url"
  echo "$sha256  $tarball" | sha256sum -c --status ||
    { echo "caf-tsan: checksum mismatch for $tarball" >&2; exit 1; }
fi
if [ ! -f "$work/src/CMakeLists.txt" ]; then
  mkdir -p "$work/src"
  tar xzf "$tarball" -C "$work/src" --strip-components=1
  # Debian's one change to the headers (missing include; newer compilers need it).
  sed -i "s|#include <cstring>|#include <cstring>\n#include <limits>|" \
    "$work/src/libcaf_io/caf/io/network/receive_buffer.hpp"
fi

# CAF_NO_AUTO_LIBCPP: libstdc++ like the rest of llmos (CAF would pick libc++ with clang).
cmake -S "$work/src" -B "$work/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
  -DCMAKE_CXX_FLAGS="-fsanitize=thread -fno-omit-frame-pointer -w" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=thread" -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DCAF_NO_AUTO_LIBCPP=yes -DCAF_NO_EXAMPLES=yes -DCAF_NO_UNIT_TESTS=yes -DCAF_NO_TOOLS=yes \
  -DCAF_NO_PYTHON=yes -DCAF_NO_OPENCL=yes -DCAF_NO_OPENSSL=no -DCAF_NO_SUMMARY=yes \
  -DCAF_NO_COMPILER_CHECK=yes >/dev/null
cmake --build "$work/build" -j"$jobs" >/dev/null
cmake --install "$work/build" >/dev/null
[ -f "$prefix/lib/libcaf_openssl.so" ] || { echo "caf-tsan: libcaf_openssl was not built" >&2; exit 1; }
rm -rf "$work/src" "$work/build"
touch "$prefix/.complete"
echo "$prefix"
