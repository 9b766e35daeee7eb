#!/usr/bin/env bash
# No function over 60 lines outside tests (issue 18, STYLE.md): clang-tidy's
# readability-function-size (.clang-tidy at the root) over every source file of the build that is
# not a test (each unit's findings cached under the hash of what clang-tidy reads:
# tools/lint/function_size.py), compared with tools/lint/function-size.baseline, the functions
# that were longer when the check came in. A long function not in the baseline fails; one in the
# baseline that is no longer long fails too, so that the baseline only shrinks (delete its line).
#
#   tools/lint/function-size.sh [BUILD_DIR]     (default build/, configured by `make configure`)
#   UPDATE=1 tools/lint/function-size.sh        rewrites the baseline from what it finds
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
jobs=${JOBS:-2}
baseline=tools/lint/function-size.baseline
[[ -f $build/compile_commands.json ]] || {
  echo "function-size: $build/compile_commands.json is missing; run make configure first" >&2
  exit 2
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# GCC's precompiled headers (-include cmake_pch.hxx) mean nothing to clang: drop them, and keep
# only the project's non-test sources.
python3 - "$build/compile_commands.json" "$work" "$PWD" <<'PY'
import json, os, re, sys
entries, out, root = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
keep = []
for e in entries:
    rel = os.path.relpath(e["file"], root)
    if rel.startswith(("tests/", "build", "..")) or "/_deps/" in rel:
        continue
    cmd = re.sub(r"\s-include\s+\S*cmake_pch\.hxx", "", e["command"])
    cmd = cmd.replace(" -Winvalid-pch", "")
    keep.append({**e, "command": cmd})
json.dump(keep, open(os.path.join(out, "compile_commands.json"), "w"))
PY

# One line per long function: "path function lines" (tools/lint/function_size.py: clang-tidy over
# the units not found in tools/lint/function-size.cache, which it then rewrites).
python3 tools/lint/function_size.py "$work/compile_commands.json" tools/lint/function-size.cache \
  "$jobs" >"$work/found"
# The list with line counts, longest first, for whoever splits them next.
sort -k3,3nr "$work/found" >"$build/function-size.txt"

if [[ ${UPDATE:-0} == 1 ]]; then
  cut -d' ' -f1,2 "$work/found" | sort >"$baseline"
  echo "function-size: baseline rewritten, $(wc -l <"$baseline") functions over 60 lines"
  exit 0
fi
cut -d' ' -f1,2 "$work/found" | sort >"$work/names"
status=0
if new=$(comm -23 "$work/names" <(sort "$baseline")) && [[ -n $new ]]; then
  echo "function-size: functions over 60 lines that the baseline does not allow (split them):"
  grep -F -f <(echo "$new") "$work/found" | sed 's/^/  /'
  status=1
fi
if gone=$(comm -13 "$work/names" <(sort "$baseline")) && [[ -n $gone ]]; then
  echo "function-size: no longer over 60 lines, delete from $baseline:"
  echo "$gone" | sed 's/^/  /'
  status=1
fi
echo "function-size: $(wc -l <"$work/names") functions over 60 lines (baseline $(wc -l <"$baseline"))"
exit $status
