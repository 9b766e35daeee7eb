#!/usr/bin/env bash
# The main job scaled down, as CI runs it: tools/demo/demo.sh on free ports with fewer requests,
# then the checks the demo exists to pass: the loop promoted a fine-tuned version, and that
# version is more accurate than the original on probe mail of the shifted period (mail nobody
# gave feedback on and nothing was trained on).
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
bin=$1
out=$2
mode=${3:-better} # better: the promoted version must win; worse: the canary must roll back
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export LLMOS_DEMO_RPC_PORT=$(free_port)
export LLMOS_DEMO_HTTP_PORT=$(free_port)
export LLMOS_DEMO_REQUESTS=${LLMOS_DEMO_REQUESTS:-3500} # room for a second round
# The GPT stage's round must get through its fine-tune and evaluation (whether users then like
# the candidate is the demo's outcome, not a test's): a shorter fine-tune than the demo's.
export LLMOS_DEMO_GPT_REQUESTS=${LLMOS_DEMO_GPT_REQUESTS:-900}
export LLMOS_DEMO_GPT_POLICY="$root/tests/tools/loop/stories-quick.yaml"
export LLMOS_DEMO_GPT_WAIT_S=${LLMOS_DEMO_GPT_WAIT_S:-180}
if [ "$mode" = worse ]; then
  export LLMOS_DEMO_GPT=0
  export LLMOS_DEMO_POLICY="$root/tests/tools/loop/worse-candidate.yaml"
  export LLMOS_DEMO_REQUESTS=1200
fi
rm -rf "$out"
"$root/tools/demo/demo.sh" "$bin" "$out"
python3 - "$out" "$mode" <<'PY'
import json, sys
out, mode = sys.argv[1], sys.argv[2]
traffic = json.load(open(f"{out}/traffic.json"))
history = json.load(open(f"{out}/history.json"))
decisions = [d.get("decision") for d in history]
print("decisions:", decisions)
assert "trigger" in decisions, "the loop never triggered"
if mode == "worse":
    assert "promoted" not in decisions, "a wrecked candidate was promoted"
    assert decisions[:4] == ["trigger", "accepted", "canary", "rolled back"], decisions
    server = json.load(open(f"{out}/server.json"))
    assert server["version"] == 1 and server["canary_version"] == 0, server
    rolled = [d for d in history if d.get("decision") == "rolled back"][0]
    print("rolled back:", rolled["why"])
    sys.exit(0)
assert "promoted" in decisions, "no candidate was promoted"
first, last = str(traffic["first_version"]), str(traffic["last_version"])
probe = traffic["probe_accuracy"]
assert first in probe and last in probe and first != last, probe
before, after = probe[first]["accuracy"], probe[last]["accuracy"]
print(f"probe accuracy v{first} {before:.3f} -> v{last} {after:.3f}")
assert probe[last]["count"] >= 30, "too few probe answers from the promoted version"
assert after > before, "the promoted version is not better on the shifted data"
for f in ("report.md", "accuracy.png", "latency.png"):
    open(f"{out}/{f}", "rb").read(1)
# The second pipeline (GPT on fortunes, thumbs up/down): served, rated, and its loop started.
gpt = json.load(open(f"{out}/gpt/traffic.json"))
assert gpt["sent"] > 0 and gpt["failed"] == 0 and gpt["feedback"] > 0, gpt
gpt_decisions = [d.get("decision") for d in json.load(open(f"{out}/gpt/history.json"))]
print("gpt decisions:", gpt_decisions)
assert gpt_decisions and gpt_decisions[0] == "trigger", gpt_decisions
# Fine-tuned through the scheduler beside two servers and judged on both held-out sets.
assert "accepted" in gpt_decisions or "rejected" in gpt_decisions, gpt_decisions
assert "failed" not in gpt_decisions, json.load(open(f"{out}/gpt/history.json"))
PY
