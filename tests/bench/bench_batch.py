"""bench_batch - jobs/s of a large batch of trivial jobs, end to end, beside
redis-benchmark on the same Redis in the same run.

    python3 tests/bench/bench_batch.py [-n JOBS] [-w WORKERS] [--quick]

End to end: POST /jobs/batch (1000 jobs per request) through the real
ingress -> Redis -> WORKERS real workers -> py containers -> results, timed
from the first POST until GET /jobs/batch/{id} says every batch completed.
The jobs share one entity_id, so each worker keeps warm containers for that
session and reuses them (no container per job); a job then costs a
runner round trip (~5-20 ms of container-side Python start and run on this
machine) plus queue work.  Jobs of distinct sessions would each need a fresh
container (create+start ~420 ms here, DESIGN.md section 5): use --sessions
to measure that (expect ~2-10 jobs/s on 2 cores).

Queue alone: runs the bench_queue program (CI_BENCH_QUEUE, default
build/tests/bench/bench_queue) and prints its end-to-end line with its own
redis-benchmark baseline.

Baseline: redis-benchmark -P 16 XADD on the stack's own redis-server, run
in the same process lifetime; the ratio is jobs/s : XADD/s.  Figures only,
never a pass/fail on timing.
"""
import argparse
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from stack import Stack, require_docker_image  # noqa: E402


def redis_benchmark(port, n):
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-n", str(n), "-P", "16", "-q",
                          "XADD", "bench:xadd", "*", "f", "v"], capture_output=True, text=True,
                         timeout=300).stdout
    m = re.findall(r"([\d.]+) requests per second", out)
    return float(m[-1]) if m else 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=10000)
    ap.add_argument("-w", type=int, default=2, help="workers")
    ap.add_argument("--sessions", action="store_true", help="a fresh session per job")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.n = 200
    require_docker_image("code-interpreter/py:" + os.environ.get("IMAGE_TAG", "latest"))
    env = {"LOG_LEVEL": "warn", "MAX_QUEUE_DEPTH": "1000000", "WORKER_CONCURRENCY": "2"}
    with Stack(env=env, workers=a.w) as s:
        base = redis_benchmark(s.redis_port, 20000 if a.quick else 200000)
        s.redis("DEL", "bench:xadd")
        batches = []
        t0 = time.time()
        for at in range(0, a.n, 1000):
            jobs = [{"lang": "py", "code": "print(%d)" % i}
                    if a.sessions else {"lang": "py", "code": "print(%d)" % i, "entity_id": "bench"}
                    for i in range(at, min(a.n, at + 1000))]
            r = s.post("/jobs/batch", {"jobs": jobs})
            assert r.status == 202, r.body
            batches.append(r.json()["batch_id"])
        t_sub = time.time() - t0
        pending = list(batches)
        while pending:
            g = s.get("/jobs/batch/" + pending[0], key=s.KEY).json()
            if g["status"] == "completed":
                assert g["counts"]["completed"] == g["total"], g
                pending.pop(0)
            else:
                time.sleep(0.2)
        el = time.time() - t0
        rate = a.n / el
        print("bench_batch: %d trivial py jobs in %d batch(es), %d workers x 2 slots%s" %
              (a.n, len(batches), a.w, ", a fresh session each" if a.sessions else ""))
        print("  submit (HTTP, validate, enqueue)  %8.0f jobs/s  (%.2f s)" % (a.n / t_sub, t_sub))
        print("  end to end (containers)           %8.1f jobs/s  (%.1f s)" % (rate, el))
        print("  baseline redis-benchmark XADD -P16 %8.0f req/s   ratio jobs/s : XADD/s = 1 : %.0f"
              % (base, base / rate if rate else 0))
    bq = os.environ.get("CI_BENCH_QUEUE", os.path.join("build", "tests", "bench", "bench_queue"))
    if os.path.exists(bq):
        out = subprocess.run([bq, "-n", "2000" if a.quick else "100000"] +
                             (["--quick"] if a.quick else []),
                             capture_output=True, text=True, timeout=600).stdout
        print("queue alone (bench_queue, its own redis + redis-benchmark):")
        for line in out.splitlines():
            if re.search(r"enqueue \(|consume|end to end|XADD|ratio", line):
                print("  " + line.strip())
    else:
        print("queue alone: bench_queue not found (set CI_BENCH_QUEUE)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
