#!/usr/bin/env bash
# No source file over 400 lines outside tests (issue 18, STYLE.md: one concept per file),
# compared with tools/lint/file-size.baseline, the files that were longer when the check came in:
# a long file not in the baseline fails, and so does a baseline file that is no longer long
# (delete its line), so that the baseline only shrinks.
#
#   tools/lint/file-size.sh            UPDATE=1 tools/lint/file-size.sh   rewrites the baseline
set -euo pipefail
cd "$(dirname "$0")/../.."
baseline=tools/lint/file-size.baseline
limit=400
found=$(git ls-files '*.cpp' '*.hpp' '*.cu' | grep -v '^tests/' | xargs wc -l |
  awk -v limit=$limit '$2 != "total" && $1 > limit { print $2 }' | sort)
if [[ ${UPDATE:-0} == 1 ]]; then
  printf '%s\n' "$found" >"$baseline"
  echo "file-size: baseline rewritten, $(wc -l <"$baseline") files over $limit lines"
  exit 0
fi
status=0
if new=$(comm -23 <(printf '%s\n' "$found") <(sort "$baseline")) && [[ -n $new ]]; then
  echo "file-size: files over $limit lines that the baseline does not allow (split them):"
  echo "$new" | sed 's/^/  /'
  status=1
fi
if gone=$(comm -13 <(printf '%s\n' "$found") <(sort "$baseline")) && [[ -n $gone ]]; then
  echo "file-size: no longer over $limit lines, delete from $baseline:"
  echo "$gone" | sed 's/^/  /'
  status=1
fi
echo "file-size: $(printf '%s\n' "$found" | grep -c .) files over $limit lines (baseline $(wc -l <"$baseline"))"
exit $status
