#!/usr/bin/env python3
"""Python peer of `llmos-bench scheduler`: steady-state least-loaded placement with a heap.

The same workload as the C++ churn measurement: NODES nodes of 32 threads filled to 85%, then
N iterations of (a random running task ends, a new one of the same shape arrives and is placed on
the least-loaded node that fits). Prints {"placements_per_s": ...} as JSON.
"""
import argparse
import heapq
import json
import random
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=10000)
    ap.add_argument("--n", type=int, default=100000)
    args = ap.parse_args()
    cap = 32
    used = [0] * args.nodes
    heap = [(0, i) for i in range(args.nodes)]  # (used, node); stale entries skipped lazily
    rng = random.Random(1)
    running = []

    def place(threads):
        stale = []
        while heap:
            load, node = heapq.heappop(heap)
            if load != used[node]:
                continue  # stale
            if used[node] + threads <= cap:
                used[node] += threads
                heapq.heappush(heap, (used[node], node))
                for s in stale:
                    heapq.heappush(heap, s)
                return node
            stale.append((load, node))
        for s in stale:
            heapq.heappush(heap, s)
        return None

    total = 0
    while total < 0.85 * cap * args.nodes:  # fill to 85%, as the C++ side does
        t = 1 << rng.randrange(4)
        node = place(t)
        if node is None:
            break
        running.append((node, t))
        total += t
    placed = 0
    start = time.perf_counter()
    for _ in range(args.n):
        k = rng.randrange(len(running))
        node, t = running[k]
        running[k] = running[-1]
        running.pop()
        used[node] -= t
        heapq.heappush(heap, (used[node], node))
        node = place(t)  # the same shape, as on the C++ side
        if node is not None:
            running.append((node, t))
            placed += 1
    secs = time.perf_counter() - start
    print(json.dumps({"placements_per_s": placed / secs, "placed": placed}))


if __name__ == "__main__":
    main()
