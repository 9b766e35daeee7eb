#!/usr/bin/env python3
"""Pure-Python MinHash peer for `llmos-bench data`.

Reads JSON Lines of {"key": dedupe key} from argv[1], computes 128-permutation MinHash
signatures over 5-character shingles the way datasketch does ((a*h + b) mod (2^61 - 1), low 32
bits), and prints {"docs": n, "seconds": s, "docs_per_s": r} as one JSON line. The system Python
has neither datasketch nor numpy, so this is the loop a user without them would write.
"""
import json
import random
import sys
import time
import zlib

PRIME = (1 << 61) - 1
MAX32 = (1 << 32) - 1


def shingles(key, k=5):
    if len(key) <= k:
        return {key} if key else set()
    return {key[i:i + k] for i in range(len(key) - k + 1)}


def signature(key, perms):
    hashes = [zlib.crc32(s.encode("utf-8")) for s in shingles(key)]
    if not hashes:
        return [MAX32] * len(perms)
    return [min(((a * h + b) % PRIME) & MAX32 for h in hashes) for a, b in perms]


def main():
    keys = [json.loads(line)["key"] for line in open(sys.argv[1], encoding="utf-8")]
    rng = random.Random(1)
    perms = [(rng.randrange(1, PRIME), rng.randrange(0, PRIME)) for _ in range(128)]
    start = time.perf_counter()
    for key in keys:
        signature(key, perms)
    seconds = time.perf_counter() - start
    print(json.dumps({"docs": len(keys), "seconds": seconds,
                      "docs_per_s": len(keys) / seconds if seconds > 0 else 0.0}))


if __name__ == "__main__":
    main()
