"""The compose deployment, for real: build the images locally, bring Redis +
ingress + one worker up, run an /exec, scale to 3 workers (each its own
container with its own address on the compose network, all sharing one
Redis and one storage directory), check 3 live heartbeats, run jobs of one
session across them, tear everything down.

Skips (77) when docker-compose (v1) or `docker compose` (v2) is missing, or
the base/py images are not built.  Takes a few minutes the first time (the
service image compiles the C code); later builds reuse the layer cache.
Only loopback and the compose network's addresses are used.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

SKIP = 77
SRC = os.environ.get("CI_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
KEY = "compose-test-key-" + uuid.uuid4().hex[:16]


def compose_cmd():
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"],
                                                 capture_output=True).returncode == 0:
        return ["docker", "compose"]
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, port, path, body=None, key=KEY, timeout=60):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data,
                                 method=method)
    if key:
        req.add_header("x-api-key", key)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_for(pred, timeout, what):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        try:
            last = pred()
            if last:
                return last
        except (OSError, ValueError) as e:
            last = e
        time.sleep(0.5)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


def main():
    dc = compose_cmd()
    if not dc:
        print("skip: neither docker-compose nor `docker compose` is available")
        return SKIP
    for img in ("code-interpreter/base:latest", "code-interpreter/py:latest"):
        if subprocess.run(["docker", "image", "inspect", img], capture_output=True).returncode:
            print("skip: image %s is not built (bash ops/images/build.sh)" % img)
            return SKIP
    tmp = tempfile.mkdtemp(prefix="ci-compose-")
    project = "ciops" + uuid.uuid4().hex[:8]
    port = free_port()
    envfile = os.path.join(tmp, "service.env")
    with open(envfile, "w") as f:
        f.write("API_KEYS=%s\nREDIS_PASSWORD=compose-redis-pw\nHEARTBEAT_INTERVAL_MS=1000\n"
                "POOL_SIZE_PY=1\nLOG_LEVEL=info\n" % KEY)
    env = dict(os.environ, ENV_FILE=envfile, PORT=str(port), REDIS_PASSWORD="compose-redis-pw",
               RUN_DIR=os.path.join(tmp, "run"), DATA_DIR=os.path.join(tmp, "data"),
               STORAGE_DIR=os.path.join(tmp, "storage"), COMPOSE_PROJECT_NAME=project)
    for d in ("run", "data", "storage"):
        os.makedirs(os.path.join(tmp, d))
    base = dc + ["-f", os.path.join(SRC, "docker-compose.yml"), "-p", project]

    def run(*args, check=True, capture=False):
        print("+", " ".join(args), flush=True)
        p = subprocess.run(base + list(args), env=env, cwd=SRC, text=True,
                           capture_output=capture, timeout=1200)
        if check and p.returncode != 0:
            raise AssertionError("compose %s failed: %s" % (args, p.stderr if capture else ""))
        return p

    try:
        t0 = time.time()
        run("build")  # progress goes straight to the test log
        print("build: %.0f s" % (time.time() - t0), flush=True)
        run("up", "-d", "--scale", "worker=1")
        wait_for(lambda: http("GET", port, "/health", key=None)[0] == 200, 120, "ingress")
        code, body = http("POST", port, "/exec", {"lang": "py", "code": "print(6*7)"})
        assert code == 200, body
        first = json.loads(body)
        assert first["stdout"] == "42\n", first
        assert http("GET", port, "/metrics", key=None)[0] == 401

        run("up", "-d", "--scale", "worker=3", "--no-recreate")

        def three_healthy():
            code, body = http("GET", port, "/health/detailed")
            h = json.loads(body)
            ws = h.get("workers", [])
            ok = code == 200 and len(ws) == 3 and all(w["docker"] == "ok" for w in ws)
            return h if ok else None
        h = wait_for(three_healthy, 120, "3 live workers in /health/detailed")
        hosts = {w["host"] for w in h["workers"]}
        assert len(hosts) == 3, h  # three containers, three hosts
        print("workers:", [w["id"] for w in h["workers"]], flush=True)

        # jobs of one session spread over the workers, all complete
        sid = first["session_id"]
        ids = []
        for i in range(9):
            code, body = http("POST", port, "/jobs", {
                "lang": "py", "session_id": sid,
                "code": "import time; time.sleep(1); print(%d)" % i})
            assert code == 202, body
            ids.append(json.loads(body)["job_id"])
        for i, jid in enumerate(ids):
            code, body = http("GET", port, "/jobs/%s?wait=60" % jid, timeout=90)
            j = json.loads(body)
            assert j["status"] == "completed" and j["result"]["stdout"] == "%d\n" % i, j
            assert j["result"]["session_id"] == sid, j
        served = set()
        for jid in ids:
            p = run("exec", "-T", "redis", "sh", "-c",
                    'redis-cli --no-auth-warning -a "$REDIS_PASSWORD" HGET ci:job:%s worker' % jid,
                    capture=True)
            served.add(p.stdout.strip())
        print("session %s served by %d worker(s): %s" % (sid, len(served), sorted(served)))
        assert len(served) >= 2, served

        text = wait_for(lambda: (lambda t: t if 'ci_jobs_total{lang="py",status="completed"} 10'
                                 in t else None)(http("GET", port, "/metrics")[1].decode()),
                        20, "10 completed py jobs in /metrics")
        assert "ci_workers_live 3" in text, text
        print("compose deployment ok in %.0f s" % (time.time() - t0))
        return 0
    except Exception:
        run("logs", "--tail", "60", check=False)
        raise
    finally:
        run("down", "-v", "--remove-orphans", "-t", "30", check=False)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
