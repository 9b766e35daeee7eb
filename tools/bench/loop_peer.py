"""The loop benchmark's peer: a feedback logger as a small Python service would write one
(json.dumps + write + os.fsync per record, or every 64). Prints {"fsync": r/s, "batched": r/s}."""
import json
import os
import shutil
import sys
import time


def run(folder, n, every):
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    with open(os.path.join(folder, "feedback.jsonl"), "a") as f:
        start = time.perf_counter()
        for i in range(n):
            rec = {"kind": "feedback", "request_id": f"spam-serve-0a1b2c-{i}",
                   "label": "spam" if i % 3 == 0 else "ham", "rating": -1 if i % 3 == 0 else 1,
                   "time": 1.7e9 + i}
            f.write(json.dumps(rec) + "\n")
            if every or (i + 1) % 64 == 0:
                f.flush()
                os.fdatasync(f.fileno())
        f.flush()
        os.fdatasync(f.fileno())
        return n / (time.perf_counter() - start)


folder, n, nb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = {"fsync": run(folder, n, True), "batched": run(folder, nb, False)}
shutil.rmtree(folder, ignore_errors=True)
print(json.dumps(out))
