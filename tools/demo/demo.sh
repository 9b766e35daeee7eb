#!/usr/bin/env bash
# The main job: the feedback loop end to end on the embedded single-process node.
#   SpamAssassin's 2002 mail is ingested (cleaned, deduplicated, augmented, tokenised), an ASHA
#   study picks and trains a spam filter, the best is published and served over HTTP; simulated
#   users then send 2003 mail (a real shift) and correct some answers; the feedback analyst sees
#   accuracy fall, fine-tunes through the scheduler, judges the candidate, canaries it and
#   promotes it (or rolls it back); a report with tables and plots lands in the output folder.
#   The second pipeline does the same for a pretrained language model: llama2.c's stories260K is
#   imported into the registry, served behind the OpenAI-style endpoint, rated thumbs up/down on
#   questions about computers, and fine-tuned on everyday fortunes plus the preferred answers.
# Usage: tools/demo/demo.sh [BIN_DIR] [OUT_DIR]   (default build/bin, demo-report)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$(cd "${1:-$root/build/bin}" && pwd)
out=$(mkdir -p "${2:-$root/demo-report}" && cd "${2:-$root/demo-report}" && pwd)
requests=${LLMOS_DEMO_REQUESTS:-2500}
policy=${LLMOS_DEMO_POLICY:-$root/nodes/examples/loop/spam-loop.yaml}
gpt_policy=${LLMOS_DEMO_GPT_POLICY:-$root/nodes/examples/loop/stories-loop.yaml}
models=${LLMOS_MODELS_DIR:-$root/.cache/data/models}
rpc=${LLMOS_DEMO_RPC_PORT:-47000}
http=${LLMOS_DEMO_HTTP_PORT:-47280}
state="$out/state"
rm -rf "$state"
mkdir -p "$state"

cd "$root"
# A node left over from an earlier run would answer in place of ours: refuse instead.
if [ -n "${LLMOS_DEMO_TOPOLOGY:-}" ]; then
  rpc=$(sed -n 's/^    rpc_port: //p' "$LLMOS_DEMO_TOPOLOGY" | head -1)
fi
for port in $rpc $http $((http + 1)); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "demo: port $port is in use (a node of an earlier run?); stop it or set LLMOS_DEMO_RPC_PORT / LLMOS_DEMO_HTTP_PORT" >&2
    exit 1
  fi
done
# The same pipeline files, policy and commands run on one embedded node (the default) or on a
# topology's nodes (LLMOS_DEMO_TOPOLOGY=nodes/examples/three-node.yaml: data and control on the
# first node, the scheduler's trials wherever it places them, serving and the loop on the last).
if [ -n "${LLMOS_DEMO_TOPOLOGY:-}" ]; then
  "$bin/llmos-launch" "$LLMOS_DEMO_TOPOLOGY" >"$out/node.log" 2>&1 &
  node=$!
  mapfile -t names < <(sed -n 's/^  - name: //p' "$LLMOS_DEMO_TOPOLOGY")
  data_node=${names[0]}
  serve_node=${names[${#names[@]} - 1]}
  devices=""
  serve_device=""
else
  "$bin/llmos-node" --rpc-port $rpc >"$out/node.log" 2>&1 &
  node=$!
  data_node=local
  serve_node=local
  # Training gets cpu0's two threads and both servers share serve0's one: the scheduler counts
  # a server replica's device as busy, so with a device per replica (the default) two servers
  # would hold both threads of a two-core machine and the loops' fine-tunes would wait forever.
  devices="spawn local device name=cpu0 type=cpu threads=2
spawn local device name=serve0 type=cpu threads=1"
  serve_device=" device=serve0"
fi
trap 'kill -TERM $node 2>/dev/null || true; wait $node 2>/dev/null || true' EXIT
for _ in $(seq 1 200); do
  if up=$("$bin/llmos-repl" 127.0.0.1:$rpc --json -c nodes 2>/dev/null); then
    [ -z "${LLMOS_DEMO_TOPOLOGY:-}" ] && break
    # Every peer of the first node up.
    [ "$(grep -o '"state":"up"' <<<"$up" | wc -l)" -ge $((${#names[@]} - 1)) ] && break
  fi
  sleep 0.1
done

echo "== setting up: data, ASHA study, registry, server, HTTP, feedback analyst =="
start=$(date +%s)
"$bin/llmos-repl" 127.0.0.1:$rpc <<REPL
$devices
spawn $data_node dataset name=spam-early pipeline=$root/nodes/examples/pipelines/spam-early.yaml
spawn $data_node dataset name=spam-late pipeline=$root/nodes/examples/pipelines/spam-late.yaml
spawn $data_node registry name=registry root=$state/registry
spawn $data_node scheduler name=sched root=$state/sched
spawn $data_node tuner name=tuner scheduler=sched root=$state/tuner
send spam-early ingest
send spam-late ingest
send tuner study file=$root/nodes/examples/studies/spam-bag.yaml
send tuner wait study=spam-bag-asha
send registry alias model=spam-bag alias=production version=latest
spawn $serve_node feedback name=loop root=$state/feedback policy=$policy
spawn $serve_node server name=spam-serve model=spam-bag version=production feedback=loop$serve_device
spawn $serve_node http name=web port=$http analyst=loop alerts=$root/nodes/examples/loop/alerts.yaml
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
curl -sf "http://127.0.0.1:$http/v1/alerts" >"$out/alerts.json" || true
echo "setup and loop took $(($(date +%s) - start)) s"
"$here/report.sh" "$out"
[ "${LLMOS_DEMO_GPT:-1}" = 1 ] || exit 0

echo "== the second pipeline: pretrained stories260K, asked about computers, rated thumbs up/down =="
gpt="$out/gpt"
mkdir -p "$gpt"
if [ ! -f "$models/stories260K/stories260K.bin" ]; then
  echo "demo: $models/stories260K/stories260K.bin is missing: run tools/setup/setup.sh with the shared models in ../shared/models (or set LLMOS_MODELS_DIR)" >&2
  exit 1
fi
"$bin/llmos-repl" 127.0.0.1:$rpc <<REPL
spawn $data_node dataset name=fortunes-early pipeline=$root/nodes/examples/pipelines/fortunes-early.yaml
spawn $data_node dataset name=fortunes-late pipeline=$root/nodes/examples/pipelines/fortunes-late.yaml
send fortunes-early ingest
send fortunes-late ingest
send registry import model=stories format=llama2c path=$models/stories260K/stories260K.bin note="llama2.c stories260K, pretrained on TinyStories"
send registry alias model=stories alias=production version=latest
spawn $serve_node feedback name=gpt-loop root=$state/gpt-feedback policy=$gpt_policy
spawn $serve_node server name=gpt-serve model=stories version=production feedback=gpt-loop$serve_device
spawn $serve_node http name=web-gpt port=$((http + 1)) analyst=gpt-loop
REPL
for _ in $(seq 1 300); do
  curl -sf "http://127.0.0.1:$((http + 1))/readyz" >/dev/null && break
  sleep 0.2
done
"$bin/llmos-traffic" --rpc $rpc --http $((http + 1)) --model stories \
  --dataset fortunes-late --completions --requests "${LLMOS_DEMO_GPT_REQUESTS:-1800}" --rate 12 \
  --csv "$gpt/traffic.csv" --json "$gpt/traffic.json"
# LLMOS_DEMO_GPT_WAIT_S: how long to wait after the traffic for a round that has started to be
# judged (tests set it: on a loaded machine the fine-tune may outlast the traffic).
for _ in $(seq 1 "${LLMOS_DEMO_GPT_WAIT_S:-0}"); do
  "$bin/llmos-repl" 127.0.0.1:$rpc --json -c "send gpt-loop history" >"$gpt/history.json"
  grep -q '"decision":"trigger"' "$gpt/history.json" || break # no round started
  grep -q '"decision":"\(accepted\|rejected\|failed\)"' "$gpt/history.json" && break
  sleep 1
done
"$bin/llmos-repl" 127.0.0.1:$rpc --json -c "send gpt-loop history" >"$gpt/history.json"
"$bin/llmos-repl" 127.0.0.1:$rpc --json -c "send gpt-loop status" >"$gpt/status.json"
"$here/report.sh" "$gpt" "Thumbs-up share on computer/science prompts" "/v1/completions"
