"""Operating the service, through the real processes (issue 9).

Each case starts its own private stack (tests/e2e/stack.py: redis-server,
ci-ingress, ci-worker, the machine's dockerd and images) and checks what an
operator sees: /metrics, /health/detailed, worker heartbeats, the request id
in both logs, ops/ci-admin, and the API document.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from stack import Stack, require_docker_image, run_cases, wait_for  # noqa: E402

SRC = os.environ.get("CI_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
FAST = {"HEARTBEAT_INTERVAL_MS": "500", "POOL_SIZE_PY": "0"}


def metric(text, name, **labels):
    """The value of one series, or None."""
    want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r'^([a-z_]+)(?:\{(.*)\})? (\S+)$', line)
        if not m or m.group(1) != name:
            continue
        got = ",".join(sorted((m.group(2) or "").split(","))) if m.group(2) else ""
        if got == want:
            return float(m.group(3))
    return None


def scrape(s):
    r = s.get("/metrics", key=s.KEY)
    assert r.status == 200, (r.status, r.body)
    assert r.headers["content-type"].startswith("text/plain"), r.headers
    return r.body.decode()


def health(s):
    r = s.get("/health/detailed", key=s.KEY)
    return r.status, r.json()


def new_stack(workers=1, **env):
    s = Stack(env=dict(FAST, **env), workers=workers, start=False)
    s.env["STORAGE_DIR"] = os.path.join(s.tmp, "storage")
    s.start()
    return s


def case_metrics_and_health():
    require_docker_image("code-interpreter/py:" + os.environ.get("IMAGE_TAG", "latest"))
    with new_stack() as s:
        # the worker announces itself; health turns 200 once its docker ping answered
        wait_for(lambda: health(s)[0] == 200, 30, "a healthy /health/detailed")
        code, h = health(s)
        assert h["status"] == "healthy" and h["down"] == [], h
        assert [w["id"] for w in h["workers"]] == ["worker-1"], h
        w = h["workers"][0]
        assert w["docker"] == "ok" and w["slots"] >= 1 and w["heartbeat_age_ms"] < 3000, w
        assert w["pid"] == s.procs["worker-1"].pid, (w, s.procs["worker-1"].pid)
        assert h["storage"]["status"] == "up" and h["redis"]["status"] == "up", h

        r = s.exec({"lang": "py", "code": "print(6*7)"})
        assert r.status == 200 and r.json()["stdout"] == "42\n", r.body
        r = s.exec({"lang": "py", "code": "import sys; sys.exit(3)"})
        assert r.status == 200 and r.json()["status"] == "failed", r.body

        # worker counters arrive with the next beat
        wait_for(lambda: metric(scrape(s), "ci_jobs_total", lang="py", status="failed") == 1,
                 10, "ci_jobs_total py failed")
        text = scrape(s)
        assert metric(text, "ci_jobs_total", lang="py", status="completed") == 1, text
        # a new session of the same caller may reuse its wiped container
        assert metric(text, "ci_containers_started_total") >= 1, text
        assert metric(text, "ci_http_requests_total", route="POST /exec", status="200") == 2, text
        assert metric(text, "ci_http_request_duration_seconds_count", route="POST /exec") == 2
        assert metric(text, "ci_http_request_duration_seconds_bucket", route="POST /exec",
                      le="+Inf") == 2, text
        assert metric(text, "ci_workers_live") == 1, text
        assert metric(text, "ci_worker_docker_up", worker="worker-1") == 1, text
        assert metric(text, "ci_worker_slots", worker="worker-1") >= 1, text
        assert metric(text, "ci_redis_up") == 1, text
        assert metric(text, "ci_queue_depth", priority="normal") == 0, text
        assert metric(text, "ci_webhook_delivered_total") is not None, text
        assert metric(text, "ci_state_bytes_saved_total") > 0, text  # py state saved
        # unauthenticated scrapes are refused and counted under their route
        assert s.get("/metrics").status == 401
        text = scrape(s)
        assert metric(text, "ci_http_requests_total", route="GET /metrics", status="401") == 1

        # SIGTERM: the worker withdraws its record as it exits (not after the TTL)
        s.kill("worker-1", signal.SIGTERM)
        assert s.redis("EXISTS", "ci:workers:worker-1") == b":0\r\n"
        code, h = health(s)
        assert code == 503 and "workers" in h["down"] and h["workers"] == [], h

        # a job with no worker: the queue figures show it waiting
        r = s.post("/jobs", {"lang": "py", "code": "print(1)"})
        assert r.status == 202, r.body
        text = scrape(s)
        assert metric(text, "ci_queue_depth", priority="normal") == 1, text
        assert metric(text, "ci_workers_live") == 0, text
        code, h = health(s)
        assert code == 503 and h["queue"]["depth"] == 1, h

        # a worker that dies without a word vanishes once its TTL (3 beats) passes
        s.start_worker(2)
        wait_for(lambda: [w["id"] for w in health(s)[1].get("workers", [])] == ["worker-2"], 30,
                 "worker-2 listed")
        s.kill("worker-2", signal.SIGKILL)
        t0 = time.time()
        wait_for(lambda: health(s)[1].get("workers") == [], 10, "worker-2 to expire")
        assert time.time() - t0 < 5

        # Redis down: 503 naming it, and the scrape still answers
        s.kill("redis", signal.SIGKILL)
        code, h = health(s)
        assert code == 503 and "redis" in h["down"], h
        assert metric(scrape(s), "ci_redis_up") == 0


def json_lines(path):
    out = []
    with open(path, "rb") as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def case_request_id_in_both_logs():
    require_docker_image("code-interpreter/py:" + os.environ.get("IMAGE_TAG", "latest"))
    with new_stack() as s:
        rid = "trace-" + uuid.uuid4().hex[:20]
        r = s.exec({"lang": "py", "code": "print('hi')"}, headers={"X-Request-ID": rid})
        assert r.status == 200, r.body
        assert r.headers["x-request-id"] == rid
        # and an id the ingress made up travels the same way
        r2 = s.exec({"lang": "py", "code": "print('ho')"})
        gen = r2.headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", gen), gen
        for want in (rid, gen):
            # log lines ("msg"); the audit events carry the id too, in their own shape
            ing = [l for l in json_lines(os.path.join(s.tmp, "ingress.log"))
                   if l.get("request_id") == want and "msg" in l]
            wk = [l for l in json_lines(os.path.join(s.tmp, "worker-1.log"))
                  if l.get("request_id") == want and "msg" in l]
            assert ing, "no ingress line with request_id " + want
            assert wk, "no worker line with request_id " + want
            assert all(l["component"] == "worker" for l in wk), wk
            assert any("starting" in l["msg"] for l in wk), wk
            for l in ing + wk:  # structured: every line has the same keys
                assert {"ts", "level", "component", "msg"} <= set(l), l


def admin(s, *args):
    env = dict(os.environ, REDIS_HOST="127.0.0.1", REDIS_PORT=str(s.redis_port),
               ENV_FILE=os.path.join(s.tmp, "no.env"))
    p = subprocess.run(["bash", os.path.join(SRC, "ops", "ci-admin")] + list(args), env=env,
                       capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr


def case_admin_requeue_dead():
    require_docker_image("code-interpreter/py:" + os.environ.get("IMAGE_TAG", "latest"))
    with new_stack(workers=0, MAX_ATTEMPTS="1") as s:
        # a worker whose sandbox image does not exist: the job dies (infrastructure)
        s.env["IMAGE_PREFIX"] = "code-interpreter-missing/"
        s.start_worker(1)
        r = s.post("/jobs", {"lang": "py", "code": "print(40+2)"})
        assert r.status == 202, r.body
        job = r.json()["job_id"]
        wait_for(lambda: s.get("/jobs/" + job, key=s.KEY).json()["status"] == "dead", 60,
                 "the job to be dead-lettered")
        rc, out = admin(s, "status")
        assert rc == 0 and re.search(r"dead letters\s+1", out), out
        assert "worker-1" in out, out
        rc, out = admin(s, "dead")
        assert rc == 0 and job in out, out
        s.kill("worker-1", signal.SIGTERM)

        rc, out = admin(s, "requeue", "no-such-job")
        assert rc == 1, out
        rc, out = admin(s, "requeue", job)
        assert rc == 0 and "requeued 1 job(s)" in out, out
        j = s.get("/jobs/" + job, key=s.KEY).json()
        assert j["status"] == "queued", j
        rc, out = admin(s, "status")
        assert re.search(r"dead letters\s+0", out) and re.search(r"ci:jobs\s+depth 1", out), out

        # a healthy worker now runs it to the end
        s.env["IMAGE_PREFIX"] = "code-interpreter/"
        s.start_worker(2)
        wait_for(lambda: s.get("/jobs/" + job, key=s.KEY).json()["status"] == "completed", 60,
                 "the requeued job to complete")
        j = s.get("/jobs/" + job, key=s.KEY).json()
        assert j["result"]["stdout"] == "42\n", j
        wait_for(lambda: "py:completed" in admin(s, "stats")[1], 10, "ci-admin stats")


def case_api_document():
    with Stack(workers=0) as s:
        r = s.get("/openapi.json")  # no key
        assert r.status == 200 and r.headers["content-type"] == "application/json", r.status
        doc = r.json()
        with open(os.path.join(SRC, "ingress", "openapi.json"), "rb") as f:
            assert json.loads(f.read()) == doc
        assert doc["openapi"].startswith("3.")
        assert "post" in doc["paths"]["/exec"] and "get" in doc["paths"]["/metrics"]
        r = s.get("/docs")
        assert r.status == 200 and r.headers["content-type"].startswith("text/html"), r.status
        page = r.body.decode()
        assert "<code>POST /exec</code>" in page and "<code>GET /jobs/{id}</code>" in page
        assert "<script" not in page
        # documented openness matches the server's behaviour
        for path, item in doc["paths"].items():
            for method, op in item.items():
                if "{" in path or method != "get":
                    continue
                r = s.request("GET", path)
                if op.get("security") == []:
                    assert r.status == 200, (path, r.status)
                else:
                    assert r.status == 401, (path, r.status)


if __name__ == "__main__":
    sys.exit(run_cases({
        "metrics_and_health": case_metrics_and_health,
        "request_id_in_both_logs": case_request_id_in_both_logs,
        "admin_requeue_dead": case_admin_requeue_dead,
        "api_document": case_api_document,
    }, sys.argv))
