"""End-to-end: asynchronous jobs - idempotency, cancellation, priority, back pressure.

Real HTTP against the real ingress, a private redis-server and (where a case
runs code) a real worker with dockerd.
"""
import os
import sys
import time

from stack import Stack, require_docker_image, run_cases

PY_IMAGE = "code-interpreter/py:" + os.environ.get("IMAGE_TAG", "latest")
BODY = {"lang": "py", "code": "print('hi')"}


def case_idempotency():
    with Stack(workers=0) as s:
        h = {"Idempotency-Key": "order-17"}
        a = s.post("/jobs", BODY, headers=h)
        b = s.post("/jobs", BODY, headers=h)
        assert a.status == 202 and b.status == 202, (a.body, b.body)
        assert a.json()["job_id"] == b.json()["job_id"], (a.body, b.body)
        c = s.post("/jobs", {"lang": "py", "code": "print('other')"}, headers=h)
        assert c.status == 409, c.body
        assert c.json()["error_type"] == "conflict", c.body
        # the key is per caller: another key owner gets its own job
        d = s.post("/jobs", BODY, headers=h, key=s.OTHER_KEY)
        assert d.status == 202 and d.json()["job_id"] != a.json()["job_id"], d.body
        # without the header every post is a new job
        e = s.post("/jobs", BODY)
        assert e.json()["job_id"] != a.json()["job_id"]
        bad = s.post("/jobs", BODY, headers={"Idempotency-Key": "x" * 200})
        assert bad.status == 400, bad.body


def case_cancel_queued():
    require_docker_image(PY_IMAGE)
    with Stack(workers=0) as s:
        job = s.post("/jobs", {"lang": "py", "code": "open('/mnt/data/ran','w').write('x')"}).json()
        r = s.request("DELETE", "/jobs/" + job["job_id"], key=s.KEY)
        assert r.status == 200, r.body
        assert r.json()["status"] == "cancelled", r.body
        # another caller cannot cancel (or see) it
        assert s.request("DELETE", "/jobs/" + job["job_id"], key=s.OTHER_KEY).status == 404
        marker = s.post("/jobs", BODY).json()
        s.start_worker(1)
        g = s.get("/jobs/%s?wait=60" % marker["job_id"], key=s.KEY).json()
        assert g["status"] == "completed", g
        g = s.get("/jobs/" + job["job_id"], key=s.KEY).json()
        assert g["status"] == "cancelled", g
        assert g["attempts"] == 0, g  # it never started


def case_cancel_running():
    require_docker_image(PY_IMAGE)
    with Stack() as s:
        job = s.post("/jobs", {"lang": "py",
                               "code": "import time\nprint('go', flush=True)\ntime.sleep(60)"}).json()
        end = time.time() + 60
        while time.time() < end:
            if s.get("/jobs/" + job["job_id"], key=s.KEY).json()["status"] == "running":
                break
            time.sleep(0.1)
        time.sleep(1.0)
        t0 = time.time()
        r = s.request("DELETE", "/jobs/" + job["job_id"], key=s.KEY)
        assert r.status == 200, r.body
        g = s.get("/jobs/%s?wait=30" % job["job_id"], key=s.KEY).json()
        assert g["status"] == "cancelled", g
        assert time.time() - t0 < 20
        # the worker keeps serving
        j = s.exec(BODY).json()
        assert j["stdout"] == "hi\n", j


def case_priority():
    require_docker_image(PY_IMAGE)
    with Stack(workers=0, env={"WORKER_CONCURRENCY": "1"}) as s:
        normal = [s.post("/jobs", BODY).json()["job_id"] for _ in range(3)]
        high = s.post("/jobs", dict(BODY, priority="high")).json()["job_id"]
        s.start_worker(1)
        for j in normal + [high]:
            assert s.get("/jobs/%s?wait=60" % j, key=s.KEY).json()["status"] == "completed"
        started = {j: s.get("/jobs/" + j, key=s.KEY).json()["started_at"]
                   for j in normal + [high]}
        assert started[high] <= min(started[n] for n in normal), started


def case_queue_full():
    with Stack(workers=0, env={"MAX_QUEUE_DEPTH": "3"}) as s:
        codes = []
        for _ in range(8):
            codes.append(s.post("/jobs", BODY).status)
            time.sleep(0.3)  # past the ingress' 250 ms depth cache
        assert codes[:3] == [202, 202, 202], codes
        assert 503 in codes, codes
        r = s.post("/jobs", BODY)
        assert r.status == 503 and "retry-after" in r.headers, (r.status, r.headers)
        assert r.json()["error_type"] == "queue_full"


def case_wait_bounded():
    with Stack(workers=0) as s:
        job = s.post("/jobs", BODY).json()["job_id"]
        t0 = time.time()
        g = s.get("/jobs/%s?wait=2" % job, key=s.KEY)
        took = time.time() - t0
        assert g.status == 200 and g.json()["status"] == "queued", g.body
        assert 1.5 <= took < 10, took
        assert s.get("/jobs/%s?wait=abc" % job, key=s.KEY).status == 400


CASES = {
    "idempotency": case_idempotency,
    "cancel_queued": case_cancel_queued,
    "cancel_running": case_cancel_running,
    "priority": case_priority,
    "queue_full": case_queue_full,
    "wait_bounded": case_wait_bounded,
}

if __name__ == "__main__":
    sys.exit(run_cases(CASES, sys.argv))
