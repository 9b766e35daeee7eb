#!/usr/bin/env bash
# The three-node tour (make demo-cluster): start the example three-node cluster on this host with
# llmos-launch, wait until every node sees every other, then run a scripted REPL session that
# shows every node and actor, uses a device on another node, spawns and stops an actor.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$(cd "${1:-$root/build/bin}" && pwd)
topo="$root/nodes/examples/demo.yaml"
endpoint=127.0.0.1:47200

"$bin/llmos-launch" "$topo" &
launcher=$!
launch_status=0
stop_cluster() {
  kill -TERM "$launcher" 2>/dev/null || true
  wait "$launcher" 2>/dev/null || launch_status=$?
}
trap stop_cluster EXIT

# Ready when the seed reports both peers up (each node connects to the others on its own).
for _ in $(seq 1 100); do
  if up=$("$bin/llmos-repl" "$endpoint" --json -c nodes 2>/dev/null) &&
     [ "$(grep -o '"state":"up"' <<<"$up" | wc -l)" -eq 2 ]; then
    break
  fi
  sleep 0.1
done

# Then until every node's actors are in the directory (the last one in the file included).
for _ in $(seq 1 100); do
  # Every node registers its actors itself: wait for one of each node's, and the HTTP gateway.
  listed=$("$bin/llmos-repl" "$endpoint" --json -c actors 2>/dev/null || true)
  if grep -q '"quotes-gpt"' <<<"$listed" && grep -q '"cpu-beta"' <<<"$listed" &&
     grep -q '"web"' <<<"$listed"; then
    break
  fi
  sleep 0.1
done

echo "== scripted REPL session against $endpoint =="
status=0
"$bin/llmos-repl" "$endpoint" <"$here/session.repl" || status=$?
echo "== demo finished (REPL exit status $status); stopping the cluster =="
# Every node drains and exits 0 (llmos-launch exits non-zero otherwise: an abort, a crash, a
# node killed after the grace period).
trap - EXIT
stop_cluster
if [ "$launch_status" -ne 0 ]; then
  echo "cluster-demo: a node did not stop cleanly (llmos-launch exit status $launch_status)" >&2
  [ "$status" -ne 0 ] || status=1
fi
exit $status
