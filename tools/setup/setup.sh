#!/usr/bin/env bash
# One set-up step for llmos: installs the Debian packages listed in packages.txt and the pinned
# data sets of data.lock into the git-ignored cache (.cache/data). Idempotent: when everything is
# already there it only checks and returns in well under a second.
#
#   tools/setup/setup.sh            packages + data
#   tools/setup/setup.sh --no-data  packages only
#   tools/setup/setup.sh --pin      (maintainers) print data.lock with the sha256 of each archive
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache="${LLMOS_DATA_DIR:-$root/.cache/data}"
want_data=1
pin=0
for arg in "$@"; do
  case "$arg" in
    --no-data) want_data=0 ;;
    --pin) pin=1 ;;
    *) echo "setup: unknown argument '$arg' (use --no-data or --pin)" >&2; exit 2 ;;
  esac
done

log() { printf 'setup: %s\n' "$*"; }

# --- Debian packages -------------------------------------------------------------------------
mapfile -t pkgs < <(grep -vE '^\s*(#|$)' "$here/packages.txt")
missing=()
for p in "${pkgs[@]}"; do
  # dpkg-query is fast; a package counts as present only when fully installed.
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${#missing[@]} Debian package(s): ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "all ${#pkgs[@]} Debian packages present"
fi

[ "$want_data" -eq 1 ] || exit 0

# npm fetches two data sets. The machine's Node.js ships its own npm, which conflicts with
# Debian's npm package, so only fall back to Debian when no npm is found at all.
if ! command -v npm >/dev/null 2>&1; then
  log "no npm found: installing Debian's npm"
  [ "$(id -u)" -eq 0 ] && apt-get install -y -qq npm >/dev/null || sudo apt-get install -y -qq npm >/dev/null
fi

# --- data sets -------------------------------------------------------------------------------
mkdir -p "$cache/archives"
fetch_one() {
  local kind=$1 name=$2 version=$3 sum=$4
  local slug=${name//[@\/]/_}
  local dest="$cache/$slug"
  local stamp="$dest/.llmos-installed"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version $sum" ] && [ "$pin" -eq 0 ]; then
    return 0
  fi
  local archive
  (
    cd "$cache/archives"
    rm -f ./*.partial
    if [ "$kind" = deb ]; then
      apt-get download -qq "$name=$version" >/dev/null 2>&1 || { echo "setup: apt-get download $name=$version failed" >&2; exit 1; }
    else
      npm pack --silent "$name@$version" >/dev/null
    fi
  )
  if [ "$kind" = deb ]; then
    archive=$(ls -t "$cache/archives/${name}_"*.deb | head -n1)
  else
    archive=$(ls -t "$cache/archives/"*"${name##*/}-$version.tgz" | head -n1)
  fi
  local got
  got=$(sha256sum "$archive" | cut -d' ' -f1)
  if [ "$pin" -eq 1 ]; then
    echo "$kind $name $version $got"
  elif [ "$sum" != "$got" ]; then
    echo "setup: $archive: sha256 $got does not match data.lock ($sum); refusing it" >&2
    exit 1
  fi
  # Unpack into a temporary folder, then rename: an interrupted setup never leaves half a set.
  rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
  if [ "$kind" = deb ]; then
    dpkg-deb -x "$archive" "$dest.tmp"
  else
    tar xzf "$archive" -C "$dest.tmp"
  fi
  echo "$version $got" >"$dest.tmp/.llmos-installed"
  rm -rf "$dest" && mv "$dest.tmp" "$dest"
  [ "$pin" -eq 1 ] || log "data set $name $version installed in $dest"
}

while read -r kind name version sum; do
  case "$kind" in '' | \#*) continue ;; esac
  fetch_one "$kind" "$name" "$version" "$sum"
done <"$here/data.lock"
[ "$pin" -eq 1 ] || log "data sets ready in $cache"

# --- pretrained models -----------------------------------------------------------------------
# The shared pretrained models (never committed) are linked into the cache's models folder after
# their sha256 is checked against models.lock; tests and the demo look only there (or in
# LLMOS_MODELS_DIR).
shared_models="${LLMOS_SHARED_MODELS:-$root/../shared/models}"
# A clone elsewhere than beside shared/ (CI's) finds the workplace's copy.
[ -d "$shared_models" ] || [ -n "${LLMOS_SHARED_MODELS:-}" ] || shared_models=/work/shared/models
models="${LLMOS_MODELS_DIR:-$cache/models}"
if [ -d "$shared_models" ] && [ "$pin" -eq 0 ]; then
  mkdir -p "$models"
  while read -r model file sum; do
    case "$model" in '' | \#*) continue ;; esac
    src="$shared_models/$model/$file"
    dest="$models/$model/$file"
    if [ -f "$dest" ] && [ "$(cat "$dest.sha256" 2>/dev/null)" = "$sum" ]; then continue; fi
    [ -f "$src" ] || { echo "setup: $src is missing (models.lock names it)" >&2; exit 1; }
    got=$(sha256sum "$src" | cut -d' ' -f1)
    [ "$got" = "$sum" ] || { echo "setup: $src: sha256 $got does not match models.lock ($sum)" >&2; exit 1; }
    mkdir -p "$models/$model"
    cp -f "$src" "$dest.tmp" && mv -f "$dest.tmp" "$dest"
    echo "$sum" >"$dest.sha256"
    log "model file $model/$file installed in $models"
  done <"$here/models.lock"
elif [ "$pin" -eq 0 ]; then
  log "no shared models at $shared_models: the pretrained-model tests will say where to put them"
fi

# llama.cpp, the peer of `llmos-bench llm` (npm node-llama-cpp, ~730 MB with the GPU prebuilts npm
# also pulls), is installed by the benchmark on first use into .cache/npm/llm-peer, not here:
# tests and the demo do not need it.
