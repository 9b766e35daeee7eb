#!/usr/bin/env bash
# The GPU checks in one go, on a machine with an NVIDIA GPU, a CUDA toolkit and a CUDA LibTorch
# (pip torch) but no package registry: unpacks the Debian packages tools/gpu/bundle-deps.sh
# downloaded into a prefix (never into /), builds llmos's model and device libraries against that
# machine's LibTorch and NCCL (LLMOS_GPU_CHECK), and runs every test labelled gpu. A skipped GPU
# test is a failure here. Prepared to finish within a few minutes on 16 cores.
#   tools/gpu/gpu-check.sh [BUILD_DIR]
#   env: LLMOS_GPU_DEBS (default .cache/gpu-debs), LLMOS_GPU_PREFIX (default /tmp/llmos-deps),
#        PYTHON (default python3, the one with torch), LLMOS_GPU_JOBS (default nproc)
#   LLMOS_KERNELS_ONLY=1: the kernels and their tests only (no LibTorch or Debian packages).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build-gpu}
debs=${LLMOS_GPU_DEBS:-$root/.cache/gpu-debs}
prefix=${LLMOS_GPU_PREFIX:-/tmp/llmos-deps}
# The GPU image keeps its torch in a virtual environment (../shared/GPU.md).
default_python=python3
[ -x /opt/torch/.venv/bin/python3 ] && default_python=/opt/torch/.venv/bin/python3
python=${PYTHON:-$default_python}
jobs=${LLMOS_GPU_JOBS:-$(nproc)}
nvcc=${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
started=$(date +%s)
say() { echo "gpu-check [$(($(date +%s) - started)) s]: $*"; }

command -v nvidia-smi >/dev/null && nvidia-smi -L || say "nvidia-smi not found"

if [ "${LLMOS_KERNELS_ONLY:-0}" = 1 ]; then
  cmake -S "$root" -B "$build" -DLLMOS_KERNELS_ONLY=ON -DCMAKE_CUDA_COMPILER="$nvcc" \
    -DCMAKE_BUILD_TYPE=Release
  cmake --build "$build" -j"$jobs"
  cd "$build" && ctest -L gpu --no-tests=error --output-on-failure
  exit 0
fi

# --- the Debian packages, unpacked into a prefix -----------------------------------------------
ls "$debs"/*.deb >/dev/null 2>&1 || { echo "gpu-check: no packages in $debs (run tools/gpu/bundle-deps.sh where apt works)" >&2; exit 1; }
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd) # links into it are made absolute below
for f in "$debs"/*.deb; do
  if command -v dpkg >/dev/null; then
    dpkg -x "$f" "$prefix"
  else # an image without dpkg: a .deb is an ar archive holding data.tar.*
    (tmp=$(mktemp -d) && cd "$tmp" && ar x "$f" && tar -xf data.tar.* -C "$prefix" && rm -rf "$tmp")
  fi
done
arch=x86_64-linux-gnu
libs=$prefix/usr/lib/$arch
# Links a package makes absolute (zlib1g-dev's libz.so -> /lib/.../libz.so.1.2.13) point into
# the prefix: on another distribution the host's file of that name may not exist.
find "$prefix" -type l -lname '/*' | while read -r link; do
  target=$(readlink "$link")
  if [ "${target#"$prefix"/}" = "$target" ] && [ -e "$prefix$target" ]; then
    ln -sfn "$prefix$target" "$link"
  fi
done
# prometheus-cpp's config refuses to load without its pull and push libraries (civetweb, curl),
# which llmos does not use: without it CMake finds the core library by hand.
rm -rf "$libs/cmake/prometheus-cpp"
say "unpacked $(ls "$debs"/*.deb | wc -l) packages into $prefix"

# --- the machine's LibTorch and NCCL ---------------------------------------------------------
torch_cmake=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')
torch_abi=$("$python" -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')
torch_version=$("$python" -c 'import torch; print(torch.__version__)')
say "LibTorch $torch_version (CXX11 ABI $torch_abi) from $torch_cmake"
[ "$torch_abi" = 1 ] || { echo "gpu-check: this torch uses the old C++ ABI; Debian's libraries use the new one" >&2; exit 1; }
site=$("$python" -c 'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))')
# pip's NCCL ships libnccl.so.2 only (no libnccl.so): named explicitly so torch and llmos share it.
nccl_lib=$(find "$site/nvidia" /usr/local/cuda/ /usr/lib/$arch -name 'libnccl.so*' 2>/dev/null | sort | head -1 || true)
nccl_inc=$(find "$site/nvidia" /usr/local/cuda/ /usr/include -name nccl.h 2>/dev/null | head -1 || true)
[ -n "$nccl_lib" ] && [ -n "$nccl_inc" ] || { echo "gpu-check: NCCL not found (lib '$nccl_lib', header '$nccl_inc')" >&2; exit 1; }
say "NCCL $nccl_lib"

# pkg-config files of the prefix name /usr: the sysroot makes their paths point into the prefix.
export PKG_CONFIG_SYSROOT_DIR=$prefix
export PKG_CONFIG_LIBDIR=$libs/pkgconfig:$prefix/usr/share/pkgconfig
pkg_config=$(command -v pkg-config || command -v pkgconf || echo "$prefix/usr/bin/pkgconf")
export LD_LIBRARY_PATH=$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# Multiarch headers (OpenSSL's opensslconf.h and configuration.h live only there).
export CPATH=$prefix/usr/include/$arch${CPATH:+:$CPATH}

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S "$root" -B "$build" "${generator[@]}" -DLLMOS_GPU_CHECK=ON -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CUDA_COMPILER="$nvcc" -DLLMOS_WARNINGS_AS_ERRORS=OFF \
  -DCMAKE_PREFIX_PATH="$prefix/usr;$torch_cmake" -DOPENSSL_ROOT_DIR="$prefix/usr" \
  -DPKG_CONFIG_EXECUTABLE="$pkg_config" \
  -DNCCL_LIBRARY="$nccl_lib" -DNCCL_INCLUDE_DIR="$(dirname "$nccl_inc")" \
  -DCMAKE_BUILD_RPATH="$libs"
say "configured"
# Keep going past a failed file: one run shows every error (a GPU session has minutes).
keep_going=(-k)
[ ${#generator[@]} -gt 0 ] && keep_going=(-k 0)
# A file that does not build still leaves the others' tests to run (ctest fails the missing).
build_rc=0
cmake --build "$build" -j"$jobs" -- "${keep_going[@]}" || build_rc=$?
say "built (rc $build_rc)"

cd "$build"
log=$build/gpu-tests.log
set +e
ctest -L gpu --no-tests=error --output-on-failure --timeout 600 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
say "tests ran (ctest rc $rc)"
# A skipped GPU test means no GPU was usable: on a GPU machine that is a failure (tests named
# *without_a_gpu* check the refusals and skip where there is one).
if grep "(Skipped)" "$log" | grep -vq without_a_gpu; then
  echo "gpu-check: GPU tests were skipped: no usable CUDA device" >&2
  rc=1
fi

# The GPU benchmark, whatever the tests said (its figures are worth the minutes either way).
bench_json=${LLMOS_GPU_BENCH_JSON:-$build/gpu-bench.json}
if [ "${LLMOS_GPU_BENCH:-1}" = 1 ]; then
  timeout 300 "$build/bin/llmos-gpu-bench" --peer "$python $root/tools/bench/gpu/torch_eager.py" \
    --json "$bench_json" || say "the benchmark failed (rc $?)"
  say "benchmark done: $bench_json"
fi
[ "$build_rc" -eq 0 ] || { echo "gpu-check: the build failed (rc $build_rc)" >&2; exit "$build_rc"; }
[ "$rc" -eq 0 ] || { echo "gpu-check: GPU tests failed" >&2; exit "$rc"; }
echo "gpu-check: all GPU tests passed"
