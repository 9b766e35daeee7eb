#!/usr/bin/env bash
# The ThreadSanitizer build in build-tsan/: clang-14 with -fsanitize=thread over the torch-free
# libraries (messages, runtime, the components' cores and actors, the HTTP front door) and their
# tests, without fuzz targets, against a CAF built under TSan too (tools/tsan/caf.sh): code that
# synchronises inside an uninstrumented library cannot be judged by TSan (docs/fuzzing.md).
#   tools/tsan/build.sh [TARGET...]      (default: everything)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/build-tsan"
jobs=${JOBS:-2}
caf=$("$root/tools/tsan/caf.sh" | tail -n 1)
cmake -S "$root" -B "$out" -DLLMOS_FUZZ=ON -DLLMOS_TSAN=ON -DLLMOS_WARNINGS_AS_ERRORS=OFF \
  -DLLMOS_DISABLE_CUDA=ON -DCAF_INCLUDE_DIR="$caf/include" \
  -DCAF_core_LIBRARY="$caf/lib/libcaf_core.so" -DCAF_io_LIBRARY="$caf/lib/libcaf_io.so" \
  -DCAF_openssl_LIBRARY="$caf/lib/libcaf_openssl.so" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_CXX_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" >/dev/null
if [ $# -gt 0 ]; then
  cmake --build "$out" -j"$jobs" --target "$@"
else
  cmake --build "$out" -j"$jobs"
fi
