#!/usr/bin/env bash
# The stop path under AddressSanitizer: builds llmos-node (and the libraries it links) with
# -fsanitize=address in build-asan/ (and llmos-repl, which the tests run), then runs the process tests that stop nodes under load
# (drain, the serving engine's SIGTERM, adapters) against it. ASan writes its reports to
# build-asan/asan.PID; any report fails the check. Slow (a second full build of the node):
# run by hand, not by `make test`.
#   tools/asan/check.sh [GTEST_FILTER]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
asan="$root/build-asan"
filter=${1:-'drain*:llama_node.serving*:llama_node.fine_tunes*'}
jobs=${JOBS:-2}

# GCC 12 warns falsely (maybe-uninitialized in std::regex, std::function) once ASan instruments
# the code: warnings stay warnings in this build.
cmake -S "$root" -B "$asan" -DLLMOS_BUILD_TESTS=OFF -DLLMOS_WARNINGS_AS_ERRORS=OFF \
  -DCMAKE_CXX_FLAGS="-fsanitize=address -fno-omit-frame-pointer" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address" >/dev/null
cmake --build "$asan" -j"$jobs" --target llmos-node llmos-repl
# The test binary of the normal build drives it (tests/nodes/cluster_harness.cpp reads
# LLMOS_TEST_BIN_DIR).
cmake --build "$root/build" -j"$jobs" --target nodes_process_test
rm -f "$asan"/asan.*
# Leaks are not the question here (CAF and LibTorch keep singletons until exit).
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:log_path=$asan/asan"
LLMOS_TEST_BIN_DIR="$asan/bin" "$root/build/bin/nodes_process_test" --gtest_filter="$filter"
if ls "$asan"/asan.* >/dev/null 2>&1; then
  echo "asan-check: AddressSanitizer reports:" >&2
  cat "$asan"/asan.* >&2
  exit 1
fi
echo "asan-check: no AddressSanitizer report"
