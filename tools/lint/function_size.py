#!/usr/bin/env python3
"""clang-tidy's readability-function-size over the build's non-test units, with a result cache.

Called by tools/lint/function-size.sh, which compares what this prints with the baseline.

clang-tidy parses every unit in full (CAF's and LibTorch's headers included): about 5 s a unit,
over 10 minutes for the whole tree on two cores, most of `make lint` and a large share of CI.
What it reports for a unit depends only on what it reads: the unit preprocessed, the check's
configuration and clang-tidy's version. So each unit's findings are kept in
tools/lint/function-size.cache under the sha256 of those three (the preprocessed text from
clang -E with this checkout's path replaced, so that a clone elsewhere finds the same keys), and
clang-tidy runs only on units whose key is not there. Like ccache: a stale or missing cache costs
time, never a finding. The cache is rewritten with this run's units (commit it with the code).

    function_size.py COMPILE_COMMANDS CACHE JOBS      prints "path function lines" lines
"""
import concurrent.futures
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys

ROOT = os.getcwd()
WARNING = re.compile(r"(\S+?):\d+:\d+: warning: function (.+?) exceeds recommended size")
NOTE = re.compile(r"note: (\d+) lines including whitespace and comments")


def tool_identity():
    """What besides the unit decides the findings: clang-tidy's version and the check's options."""
    version = subprocess.run(["clang-tidy", "--version"], capture_output=True, text=True).stdout
    # Its "Host CPU:" line names this machine's processor, which does not change the findings.
    version = "".join(l for l in version.splitlines(True) if "Host CPU" not in l)
    with open(os.path.join(ROOT, ".clang-tidy"), "rb") as f:
        return version.encode() + f.read()


def preprocess_command(entry):
    """The unit's compile command as clang -E to stdout (clang is what clang-tidy parses with)."""
    args = shlex.split(entry["command"])
    out, skip = ["clang++-14"], False
    for a in args[1:]:
        if skip:
            skip = False
        elif a in ("-o", "-MF", "-MT"):
            skip = True
        elif a in ("-c", "-MD"):
            continue
        else:
            out.append(a)
    return out + ["-E", "-w"]


def unit_key(entry, identity):
    """sha256 of the tool, the check and the unit as clang-tidy reads it, paths made relative."""
    pre = subprocess.run(preprocess_command(entry), cwd=entry["directory"], capture_output=True)
    if pre.returncode != 0:
        return None  # cannot say what it reads: always checked
    text = pre.stdout.replace(ROOT.encode() + b"/", b"@ROOT@/")
    return hashlib.sha256(identity + b"\0" + text).hexdigest()


def tidy(entry, work):
    """clang-tidy over one unit: its long functions as [path, function, lines]."""
    run = subprocess.run(["clang-tidy", "--quiet", "-p", work, entry["file"]],
                         capture_output=True, text=True)
    # clang-14 cannot compile LibTorch 1.13's headers in C++20 (an IValue static_assert): the
    # torch units end with errors, yet their functions are walked and reported; status ignored.
    found, last = [], None
    for line in run.stdout.splitlines():
        m = WARNING.match(line)
        if m:
            last = (os.path.relpath(m.group(1), ROOT), m.group(2).strip("'"))
            continue
        n = NOTE.search(line)
        if n and last:
            found.append([last[0], last[1], int(n.group(1))])
            last = None
    return found


def load_cache(path):
    cache = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if line.strip():
                    row = json.loads(line)
                    cache[row["key"]] = row["long"]
    return cache


def main():
    commands, cache_path, jobs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    entries = json.load(open(commands))
    work = os.path.dirname(os.path.abspath(commands))
    identity = tool_identity()
    cache = load_cache(cache_path)
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        keys = list(pool.map(lambda e: unit_key(e, identity), entries))
        misses = [i for i, k in enumerate(keys) if k is None or k not in cache]
        fresh = dict(zip(misses, pool.map(lambda i: tidy(entries[i], work), misses)))
    rows, found = [], set()
    for i, (entry, key) in enumerate(zip(entries, keys)):
        long = fresh[i] if i in fresh else cache[key]
        found.update(tuple(f) for f in long)
        if key is not None:
            rows.append({"unit": os.path.relpath(entry["file"], ROOT), "key": key, "long": long})
    with open(cache_path, "w") as f:
        for row in sorted(rows, key=lambda r: r["unit"]):
            f.write(json.dumps(row, sort_keys=True) + "\n")
    print(f"function-size: {len(entries) - len(misses)} units from the cache, "
          f"{len(misses)} checked by clang-tidy", file=sys.stderr)
    for path, function, lines in sorted(found):
        print(path, function, lines)


if __name__ == "__main__":
    main()
