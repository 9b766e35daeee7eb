#!/usr/bin/env bash
# The sanitizer build in build-fuzz/: clang-14 with AddressSanitizer, UndefinedBehaviorSanitizer
# and libFuzzer's coverage, over the torch-free libraries (messages, runtime, the components'
# cores, data readers, model formats), their unit tests and the fuzz targets (LLMOS_FUZZ).
# About 6 minutes from scratch on 2 cores; ccache makes a rebuild quick.
#   tools/fuzz/build.sh [TARGET...]      (default: everything)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/build-fuzz"
jobs=${JOBS:-2}
# UBSan's findings end the program, like ASan's; the fuzzer's link flag is per fuzz target.
san="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
san+=" -fsanitize-ignorelist=$root/tools/fuzz/sanitizer-ignore.txt"
# ccache hashes the flags, not the ignore list they name: a changed list must miss the cache.
export CCACHE_EXTRAFILES="$root/tools/fuzz/sanitizer-ignore.txt"
cmake -S "$root" -B "$out" -DLLMOS_FUZZ=ON -DLLMOS_WARNINGS_AS_ERRORS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_CXX_FLAGS="$san -fno-omit-frame-pointer" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
# The targets named on the command line, or all of them.
cmake --build "$out" -j"$jobs" ${1:+--target "$@"}
