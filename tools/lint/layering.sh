#!/usr/bin/env bash
# The components' layering, checked on their includes (issue 18): a component's files
# (actors/COMPONENT/**) include messages/, runtime/, kernels/ and their own component; another
# component's headers only where the table below allows it, and that table is what the CMake
# targets link (actors/*/CMakeLists.txt). Components otherwise talk through messages/ only.
#   tools/lint/layering.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
declare -A allowed=(
  [feedback]="model/core/"
  [http]="monitor/core/ serving/core/"
  [model]="device/ dataset/"
  [registry]="model/export/"
  [scheduler]="model/core/"
  [serving]="device/ dataset/tokenize/ model/"
)
components=$(find actors -mindepth 1 -maxdepth 1 -type d ! -name llmos -printf '%f\n' | sort)
status=0
for c in $components; do
  while IFS=: read -r file include; do
    target=${include#*\"}
    target=${target%\"*}
    dir=${target%%/*}
    [[ $dir == "$c" ]] && continue
    grep -qx "$dir" <<<"$components" || continue # messages, runtime, kernels: llmos/...
    ok=0
    for prefix in ${allowed[$c]:-}; do
      [[ $target == "$prefix"* ]] && ok=1
    done
    if [[ $ok == 0 ]]; then
      echo "layering: $file includes \"$target\": $c may not use $dir (tools/lint/layering.sh)"
      status=1
    fi
  done < <(git ls-files "actors/$c" | grep -E '\.(cpp|hpp)$' | xargs grep -H '^#include "' || true)
done
[[ $status == 0 ]] && echo "layering: $(wc -w <<<"$components") components, includes within the allowed layering"
exit $status
