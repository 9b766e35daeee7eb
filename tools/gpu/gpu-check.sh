#!/usr/bin/env bash
# Builds the CUDA kernels and runs every test labelled gpu, in one go, on a machine with an
# NVIDIA GPU. Needs cmake, a CUDA toolkit (nvcc) and GoogleTest; CAF and the other libraries
# are not needed (kernels-only build), so a bare GPU machine can run it.
#   tools/gpu/gpu-check.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build-gpu}
nvcc=${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
command -v nvidia-smi >/dev/null && nvidia-smi -L || echo "gpu-check: nvidia-smi not found"
cmake -S "$root" -B "$build" -DLLMOS_KERNELS_ONLY=ON -DCMAKE_CUDA_COMPILER="$nvcc" \
  -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j"$(nproc)"
grep -q "CUDA_COMPILER:.*nvcc" "$build/CMakeCache.txt" 2>/dev/null ||
  echo "gpu-check: warning: CUDA was not enabled in this build"
cd "$build"
ctest -L gpu --output-on-failure
# A skipped GPU test means no GPU was usable: on a GPU machine that is a failure.
if ./bin/kernels_gpu_test 2>&1 | grep -q 'no CUDA device on this machine'; then
  echo "gpu-check: GPU tests were skipped: no usable CUDA device" >&2
  exit 1
fi
echo "gpu-check: all GPU tests passed"
