#!/usr/bin/env bash
# Runs the Erlang peer of the messaging benchmark: compiles pingpong.erl into a temporary folder,
# measures local and remote (second node on this host) request/response with N messages and
# WINDOW outstanding requests, and prints only its one line of JSON on stdout. Anything else the
# Erlang runtime prints goes to stderr, so a caller can parse stdout as it is.
set -euo pipefail

usage() {
  echo "usage: $(basename "$0") N WINDOW   (positive integers, e.g. 20000 64)" >&2
  exit 2
}
[[ $# -eq 2 ]] || usage
[[ $1 =~ ^[1-9][0-9]*$ && $2 =~ ^[1-9][0-9]*$ ]] || usage
n=$1
window=$2

for tool in erlc erl; do
  command -v "$tool" >/dev/null || { echo "$(basename "$0"): $tool not found (Debian: erlang-base)" >&2; exit 1; }
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

erlc -o "$work" "$here/pingpong.erl"

# Host "localhost" needs no DNS; the pid in the name lets two runs share one epmd.
status=0
timeout 900 erl -noshell -sname "bench_a_$$@localhost" -setcookie llmosbench -pa "$work" \
  -kernel logger_level error \
  -s pingpong main all "$n" "$window" -s init stop >"$work/out" || status=$?

json=$(grep -m1 '^{"erlang_' "$work/out" || true)
grep -v '^{"erlang_' "$work/out" >&2 || true
if [[ $status -ne 0 || -z $json ]]; then
  echo "$(basename "$0"): the Erlang benchmark failed (status $status)" >&2
  exit 1
fi
echo "$json"
