#!/usr/bin/env bash
# The ThreadSanitizer build in build-tsan/: GCC with -fsanitize=thread over the libraries
# (messages, runtime, the components' cores and torch-free actors, the HTTP front door) and their
# tests, without fuzz targets, against a CAF built under TSan too (tools/tsan/caf.sh): code that
# synchronises inside an uninstrumented library cannot be judged by TSan (docs/fuzzing.md).
# With LLMOS_TSAN_TORCH=ON in the environment also the LibTorch actors and a node (LibTorch
# itself uninstrumented): about 40 minutes more on two cores, so by hand (make test-tsan-torch).
#   [LLMOS_TSAN_TORCH=ON] tools/tsan/build.sh [TARGET...]      (default: everything)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/build-tsan"
jobs=${JOBS:-2}
caf=$("$root/tools/tsan/caf.sh" | tail -n 1)
# -O1 with line tables (-g1): TSan's reports keep file and line, and the build, most of
# `make test-tsan`'s time, is about 40% faster than -O2 -g (docs/benchmarks.md, "Build").
# GCC's -fsanitize=thread (libtsan): clang 14 cannot compile LibTorch 1.13's headers in C++20
# (an IValue static_assert), and the LibTorch actors are in this build. A folder configured
# for clang by an earlier version of this script starts over.
if grep -qs 'CMAKE_CXX_COMPILER:.*clang' "$out/CMakeCache.txt"; then
  rm -rf "$out"
fi
cmake -S "$root" -B "$out" -DLLMOS_FUZZ=ON -DLLMOS_TSAN=ON -DLLMOS_WARNINGS_AS_ERRORS=OFF \
  -DLLMOS_TSAN_TORCH="${LLMOS_TSAN_TORCH:-OFF}" \
  -DLLMOS_DISABLE_CUDA=ON -DLLMOS_WITH_ONNX=OFF -DLLMOS_WITH_OPENCV_TESTS=OFF \
  -DCAF_INCLUDE_DIR="$caf/include" \
  -DCAF_core_LIBRARY="$caf/lib/libcaf_core.so" -DCAF_io_LIBRARY="$caf/lib/libcaf_io.so" \
  -DCAF_openssl_LIBRARY="$caf/lib/libcaf_openssl.so" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
  -DCMAKE_CXX_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" >/dev/null
# The targets named on the command line, or all of them.
cmake --build "$out" -j"$jobs" ${1:+--target "$@"}
