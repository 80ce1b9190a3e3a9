"""Cost of the security gate (issue 6), measured with wrk on loopback.

    CI_INGRESS=build/ingress/ci-ingress python3 tests/bench/bench_security.py [seconds]

One private redis-server + ci-ingress (no worker).  Baseline: GET /health,
which skips authentication.  Then GET /jobs/<unknown id> (one Redis read by
the handler) with: a static key (lock-out check + audit counter), the same
with AUTH_FAIL_LIMIT=0 (no lock-out check), and a managed key with a rate
limit (cached key + one more pipelined Redis round trip).  Prints requests/s
and the ratio to the baseline.  Needs wrk.
"""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from stack import Stack  # noqa: E402

ADMIN = "bench-admin-key-0123456789"
NO_JOB = "/jobs/0123456789abcdef0123456789abcdef"


def wrk(s, path, key, secs):
    hdr = ["-H", "x-api-key: " + key] if key else []
    out = subprocess.run(["wrk", "-t2", "-c32", "-d%ds" % secs] + hdr +
                         ["http://127.0.0.1:%d%s" % (s.port, path)],
                         capture_output=True, text=True, check=True).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def main():
    secs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    if not shutil.which("wrk"):
        print("skip: wrk is not installed")
        return 0
    rows = []
    with Stack(workers=0, env={"ADMIN_API_KEY": ADMIN, "LOG_LEVEL": "warn",
                               "AUDIT_LOG_FILE": "/dev/null"}) as s:
        base = wrk(s, "/health", None, secs)
        rows.append(("GET /health (no auth: baseline)", base))
        rows.append(("GET /jobs/{id}, static key", wrk(s, NO_JOB, s.KEY, secs)))
        k = s.request("POST", "/admin/keys", body={"name": "bench",
                                                   "rate_limits": {"day": 10 ** 9}},
                      key=ADMIN).json()["key"]
        rows.append(("GET /jobs/{id}, managed key + rate limit", wrk(s, NO_JOB, k, secs)))
    with Stack(workers=0, env={"AUTH_FAIL_LIMIT": "0", "LOG_LEVEL": "warn",
                               "AUDIT_LOG_FILE": "/dev/null"}) as s:
        rows.append(("GET /jobs/{id}, static key, AUTH_FAIL_LIMIT=0",
                     wrk(s, NO_JOB, s.KEY, secs)))
    for name, rps in rows:
        print("%-48s %10.0f req/s  %5.2fx baseline" % (name, rps, rps / base))
    return 0


if __name__ == "__main__":
    sys.exit(main())
