#!/usr/bin/env bash
# Fuzzes llmos's input parsers with libFuzzer: builds the targets of tests/fuzz with clang under
# AddressSanitizer and UndefinedBehaviorSanitizer in build-fuzz/ (tools/fuzz/build.sh), then runs
# each for SECONDS seconds, one at a time (the machine has two cores), from
# its checked-in seed corpus. New inputs go to build-fuzz/corpus/NAME (not to git), crashes to
# build-fuzz/crashes/NAME/. Writes build-fuzz/fuzz-summary.json (per target: executions,
# executions per second, crashes, corpus size) and exits 1 when any target crashed.
#   tools/fuzz/run.sh [SECONDS [TARGET...]]     (SECONDS default 60; `make fuzz`)
# A crash is kept as a test by copying its file into tests/fuzz/corpus/NAME/ once fixed.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/build-fuzz"
seconds=${1:-60}
shift || true

[ -f "$out/fuzz-targets.txt" ] || "$root/tools/fuzz/build.sh" fuzz_rpc_frame
mapfile -t all < "$out/fuzz-targets.txt"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
"$root/tools/fuzz/build.sh" fuzz_make_seeds "${targets[@]/#/fuzz_}"
# The model-file seeds are written, not kept in git (tests/fuzz/make_seeds.cpp).
"$out/bin/fuzz_make_seeds" "$out/seeds" >/dev/null

# Leaks are reported by ASan at exit and are findings too, but CAF keeps singletons until exit.
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
summary="$out/fuzz-summary.json"
failed=0
entries=()
for name in "${targets[@]}"; do
  corpus="$out/corpus/$name"
  crashes="$out/crashes/$name"
  rm -rf "$crashes" # findings of this run only (fixed ones live on in tests/fuzz/corpus)
  mkdir -p "$corpus" "$crashes"
  log="$out/fuzz-$name.log"
  # -malloc_limit_mb: a parser that allocates what its input does not hold is a finding.
  set +e
  "$out/bin/fuzz_$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -malloc_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$crashes/" \
    "$corpus" $(ls -d "$root/tests/fuzz/corpus/$name" "$out/seeds/$name" 2>/dev/null) \
    >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  found=$(find "$crashes" -type f | wc -l)
  units=$(find "$corpus" -type f | wc -l)
  if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
    failed=1
    [ "$found" -ne 0 ] || found=1
    echo "fuzz: $name: FOUND a crash (exit $rc), see $log and $crashes" >&2
    grep -m5 -E 'ERROR|runtime error|==ABORTING|deadly signal|out-of-memory|timeout' "$log" >&2 || true
  fi
  printf 'fuzz: %-14s %10s execs  %7s/s  corpus %5s  crashes %s\n' "$name" "${execs:-0}" \
    "${rate:-0}" "$units" "$found"
  entries+=("\"$name\": {\"execs\": ${execs:-0}, \"execs_per_s\": ${rate:-0}, \"crashes\": $found, \"corpus\": $units}")
done
{
  echo "{\"seconds_per_target\": $seconds, \"targets\": {"
  (IFS=$'\n'; echo "${entries[*]}" | sed '$!s/$/,/')
  echo "}}"
} >"$summary"
echo "fuzz: summary in $summary"
exit "$failed"
