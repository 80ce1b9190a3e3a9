"""Benchmark: what a session's /mnt/data costs the worker per call.

One private stack (tests/e2e/stack.py), one worker.  For each shape of
/mnt/data, made by a first call of the session, K calls of `pass` follow
in that session; each call stages in (scan of /mnt/data, identity of the
inputs) and out (scan again, outputs stored).  Printed per shape: /exec p50
and p99, and the ratio to the baseline - the same calls in a session whose
/mnt/data is empty, measured in the same run.  Shapes:
  empty        baseline
  files-1k     1,000 small files (hard links: cheap to make in a container)
  files-100k   100,000 small files (past MAX_SCAN_ENTRIES, 10,000)
  sparse-20g   one 20 GB sparse file (the old worker hashed it: 92 s)
  deep-1400    a 7 KB-deep directory chain
The old worker (before bounded staging) answered 504 for files-100k and
sparse-20g (37-86 s and 92 s per call).

usage: python3 bench_staging.py [--quick]     (CI_INGRESS, CI_WORKER set)
"""
import os
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from stack import Stack, require_docker_image  # noqa: E402

LINKS = """
import os
open('/mnt/data/src', 'w').close()
for k in range(%d // 25000 + 1):
    src = '/mnt/data/src%%d' %% k
    open(src, 'w').close()
    for i in range(min(25000, %d - k * 25000)):
        os.link(src, '/mnt/data/f%%d_%%05d' %% (k, i))
"""
SHAPES = [
    ("empty", "pass"),
    ("files-1k", LINKS % (1000, 1000)),
    ("files-100k", LINKS % (100000, 100000)),
    ("sparse-20g", "f = open('/mnt/data/huge.bin', 'wb')\ntry:\n    f.truncate(20 << 30)\n"
                   "except OSError:\n    f.truncate(500 << 20)  # RLIMIT_FSIZE in the sandbox\n"
                   "f.close()"),
    ("deep-1400", "import os\nos.chdir('/mnt/data')\n"
                  "for i in range(1400):\n    os.mkdir('dddd'); os.chdir('dddd')"),
]


def timed(s, code, sid=None):
    body = {"lang": "py", "code": code}
    if sid:
        body["session_id"] = sid
    t0 = time.monotonic()
    r = s.exec(body, timeout=300)
    dt = (time.monotonic() - t0) * 1000.0
    assert r.status == 200, (r.status, r.body[:300])
    j = r.json()
    assert j["status"] == "completed", j
    return j, dt


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def main():
    quick = "--quick" in sys.argv
    k = 5 if quick else 30
    require_docker_image("code-interpreter/py:" + os.environ.get("IMAGE_TAG", "latest"))
    shapes = SHAPES[:2] + SHAPES[3:4] if quick else SHAPES
    with Stack(env={"MAX_EXECUTION_TIME": "150"}) as s:
        try:
            run_shapes(s, shapes, k)
        finally:  # a deep tree is too deep for the stack's own rmtree
            s.kill("worker-1", signal.SIGTERM)  # its teardown removes (and unmounts) the trees
            subprocess.run(["rm", "-rf", "--one-file-system", os.path.join(s.tmp, "data")],
                           check=False)
    return 0


def run_shapes(s, shapes, k):
    res = {}
    for name, code in shapes:
        j, _ = timed(s, code)
        sid = j["session_id"]
        timed(s, "pass", sid)  # warm: the session's container is kept
        res[name] = [timed(s, "pass", sid)[1] for _ in range(k)]
    base = statistics.median(res["empty"])
    print("%-12s %9s %9s %8s" % ("shape", "p50 ms", "p99 ms", "x base"))
    for name, _ in shapes:
        lat = res[name]
        print("%-12s %9.1f %9.1f %8.2f" % (name, statistics.median(lat), pct(lat, 0.99),
                                           statistics.median(lat) / base))
    print("baseline: same-session `pass` with an empty /mnt/data, %d calls each" % k)


if __name__ == "__main__":
    sys.exit(main())
