#!/usr/bin/env bash
# Downloads (never installs) the Debian bookworm packages the GPU check builds llmos on, into a
# git-ignored folder that travels to a GPU machine without a package registry; gpu-check.sh
# unpacks them there into a prefix with `dpkg -x` (never into /). The GPU machine brings CUDA,
# NCCL and a CUDA LibTorch (pip torch); everything else comes from here.
#   tools/gpu/bundle-deps.sh [DIR]   (default .cache/gpu-debs)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dest=${1:-$root/.cache/gpu-debs}
# What the GPU build (LLMOS_GPU_CHECK: messages, runtime, kernels, data set, model, device and
# their GPU tests) links or includes, with the runtime libraries of each -dev package.
packages=(
  libcaf-dev libcaf-core0.17 libcaf-io0.17 libcaf-openssl0.17
  libmsgpack-cxx-dev libboost1.74-dev
  libboost-program-options1.74-dev libboost-program-options1.74.0
  libyaml-cpp-dev libyaml-cpp0.7 nlohmann-json3-dev
  libsentencepiece-dev libsentencepiece0 libutf8proc-dev libutf8proc2 libxxhash-dev libxxhash0
  libcpp-httplib-dev libcpp-httplib0.11 libbrotli-dev libbrotli1
  prometheus-cpp-dev libprometheus-cpp-core1.0
  libssl-dev libssl3 zlib1g-dev zlib1g
  libgtest-dev googletest
  pkgconf pkgconf-bin libpkgconf3
)
mkdir -p "$dest"
cd "$dest"
missing=()
for p in "${packages[@]}"; do
  ls "${p}"_*.deb >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get download "${missing[@]}"
fi
echo "bundle-deps: ${#packages[@]} packages, $(du -sh . | cut -f1) in $dest"
