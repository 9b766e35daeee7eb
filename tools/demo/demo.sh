#!/usr/bin/env bash
# The main job: the feedback loop end to end on the embedded single-process node.
#   SpamAssassin's 2002 mail is ingested (cleaned, deduplicated, augmented, tokenised), an ASHA
#   study picks and trains a spam filter, the best is published and served over HTTP; simulated
#   users then send 2003 mail (a real shift) and correct some answers; the feedback analyst sees
#   accuracy fall, fine-tunes through the scheduler, judges the candidate, canaries it and
#   promotes it (or rolls it back); a report with tables and plots lands in the output folder.
# Usage: tools/demo/demo.sh [BIN_DIR] [OUT_DIR]   (default build/bin, demo-report)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$(cd "${1:-$root/build/bin}" && pwd)
out=$(mkdir -p "${2:-$root/demo-report}" && cd "${2:-$root/demo-report}" && pwd)
requests=${LLMOS_DEMO_REQUESTS:-2500}
policy=${LLMOS_DEMO_POLICY:-$root/nodes/examples/loop/spam-loop.yaml}
rpc=${LLMOS_DEMO_RPC_PORT:-47000}
http=${LLMOS_DEMO_HTTP_PORT:-47280}
state="$out/state"
rm -rf "$state"
mkdir -p "$state"

cd "$root"
"$bin/llmos-node" --rpc-port $rpc >"$out/node.log" 2>&1 &
node=$!
trap 'kill -TERM $node 2>/dev/null || true; wait $node 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  "$bin/llmos-repl" 127.0.0.1:$rpc --json -c ping >/dev/null 2>&1 && break
  sleep 0.1
done

echo "== setting up: data, ASHA study, registry, server, HTTP, feedback analyst =="
start=$(date +%s)
"$bin/llmos-repl" 127.0.0.1:$rpc <<REPL
spawn local device name=cpu0 type=cpu threads=2
spawn local dataset name=spam-early pipeline=$root/nodes/examples/pipelines/spam-early.yaml
spawn local dataset name=spam-late pipeline=$root/nodes/examples/pipelines/spam-late.yaml
spawn local registry name=registry root=$state/registry
spawn local scheduler name=sched root=$state/sched
spawn local tuner name=tuner scheduler=sched root=$state/tuner
send spam-early ingest
send spam-late ingest
send tuner study file=$root/nodes/examples/studies/spam-bag.yaml
send tuner wait study=spam-bag-asha
send registry alias model=spam-bag alias=production version=latest
spawn local feedback name=loop root=$state/feedback policy=$policy
spawn local server name=spam-serve model=spam-bag version=production feedback=loop
spawn local http name=web port=$http analyst=loop
REPL
for _ in $(seq 1 300); do
  curl -sf "http://127.0.0.1:$http/readyz" >/dev/null && break
  sleep 0.2
done

echo "== traffic: 2003 mail as user requests, with feedback on half of them =="
"$bin/llmos-traffic" --rpc $rpc --http $http --model spam-bag --dataset spam-late \
  --requests "$requests" --rate 25 --csv "$out/traffic.csv" --json "$out/traffic.json"
"$bin/llmos-repl" 127.0.0.1:$rpc --json -c "send loop history" >"$out/history.json"
"$bin/llmos-repl" 127.0.0.1:$rpc --json -c "send loop status" >"$out/status.json"
"$bin/llmos-repl" 127.0.0.1:$rpc --json -c "send registry versions model=spam-bag" \
  >"$out/versions.json"
"$bin/llmos-repl" 127.0.0.1:$rpc --json -c "send spam-serve status" >"$out/server.json"
echo "setup and loop took $(($(date +%s) - start)) s"
"$here/report.sh" "$out"
