#!/usr/bin/env bash
# The installed package works for a project outside the tree: installs BUILD_DIR into a fresh
# prefix, configures and builds consumer/ against it with find_package(llmos) (through ccache
# when there is one) and runs the result, which embeds a node and checks a GELU on a device.
#
# usage: run.sh BUILD_DIR [WORK_DIR]   (WORK_DIR defaults to a temporary folder, removed after)
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
  echo "usage: $(basename "$0") BUILD_DIR [WORK_DIR]" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)
if [[ $# -eq 2 ]]; then
  work=$2
  rm -rf "$work"
  mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
prefix=$work/prefix

echo "== cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >"$work/install.log" ||
  { cat "$work/install.log" >&2; echo "run.sh: install failed (is $build fully built?)" >&2; exit 1; }

launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
echo "== configure and build the consumer against $prefix"
cmake -S "$here/consumer" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}"
cmake --build "$work/consumer" -j1

echo "== run the consumer"
"$work/consumer/consumer"
