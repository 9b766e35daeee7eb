#!/usr/bin/env bash
# The ThreadSanitizer build in build-tsan/: clang-14 with -fsanitize=thread over the torch-free
# libraries (messages, runtime, the components' cores, the HTTP front door) and their unit
# tests, without fuzz targets. Code that synchronises only inside an uninstrumented library
# cannot be judged by TSan; CAF's actors (Debian's libcaf is not instrumented) are therefore not
# in this build: see docs/fuzzing.md.
#   tools/tsan/build.sh [TARGET...]      (default: everything)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/build-tsan"
jobs=${JOBS:-2}
cmake -S "$root" -B "$out" -DLLMOS_FUZZ=ON -DLLMOS_TSAN=ON -DLLMOS_WARNINGS_AS_ERRORS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_CXX_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" >/dev/null
if [ $# -gt 0 ]; then
  cmake --build "$out" -j"$jobs" --target "$@"
else
  cmake --build "$out" -j"$jobs"
fi
