"""End-to-end: one request through every real part (issue: walking skeleton).

HTTP client -> ci-ingress -> redis stream -> ci-worker -> dockerd -> the
Python image's resident runner -> result -> completion notice -> HTTP reply.
"""
import json
import os
import sys
import time

from stack import Stack, require_docker_image, run_cases

PY_IMAGE = "code-interpreter/py:" + os.environ.get("IMAGE_TAG", "latest")


def check_error_shape(r, status):
    assert r.status == status, (r.status, r.body)
    j = r.json()
    for k in ("error", "error_type", "details", "request_id", "timestamp"):
        assert k in j, (k, j)
    assert r.headers.get("x-content-type-options") == "nosniff", r.headers
    return j


def case_health_open():
    with Stack(workers=0) as s:
        r = s.get("/health")
        assert r.status == 200, r.status
        j = r.json()
        assert j["status"] == "healthy" and "version" in j, j
        assert r.headers.get("x-frame-options") == "DENY"


def case_auth_required():
    with Stack(workers=0) as s:
        body = {"lang": "py", "code": "print(1)"}
        check_error_shape(s.exec(body, key=None), 401)
        check_error_shape(s.exec(body, key="wrong-key"), 401)
        check_error_shape(s.get("/jobs/0123456789abcdef0123456789abcdef"), 401)
        check_error_shape(s.get("/health/detailed"), 401)
        check_error_shape(s.get("/no/such/route"), 401)
        # Bearer form is accepted (the job just waits: no worker; use /jobs)
        r = s.post("/jobs", body, key=s.KEY, bearer=True)
        assert r.status == 202, (r.status, r.body)
        r = s.get("/health/detailed", key=s.KEY)
        # authenticated; 503 because no worker runs (the queued job would wait)
        assert r.status == 503 and "workers" in r.json()["down"], r.body
        assert r.json()["queue"]["depth"] >= 1, r.body


def case_validation():
    with Stack(workers=0) as s:
        j = check_error_shape(s.exec({"lang": "py", "code": "   \n"}), 400)
        assert any(d["field"] == "code" for d in j["details"]), j
        j = check_error_shape(s.exec({"lang": "cobol", "code": "x"}), 400)
        assert any(d["field"] == "lang" for d in j["details"]), j
        j = check_error_shape(s.exec({"lang": "py", "code": 5, "entity_id": "bad id!"}), 422)
        fields = {d["field"] for d in j["details"]}
        assert "code" in fields and "entity_id" in fields, j
        check_error_shape(s.request("POST", "/exec", raw=b"{not json", key=s.KEY,
                                    headers={"Content-Type": "application/json"}), 400)
        check_error_shape(s.request("POST", "/exec", raw=b"lang=py", key=s.KEY,
                                    headers={"Content-Type": "text/plain"}), 415)
        check_error_shape(s.request("POST", "/exec", raw=b"[1,2]", key=s.KEY,
                                    headers={"Content-Type": "application/json"}), 400)
        big = json.dumps({"lang": "py", "code": "#" * (3 * 1024 * 1024)}).encode()
        check_error_shape(s.send_tolerant("POST", "/exec", big, {
            "x-api-key": s.KEY, "Content-Type": "application/json"}), 413)
        # LANG is case-insensitive, unknown fields ignored: accepted
        r = s.post("/jobs", {"lang": "PY", "code": "print(1)", "whatever": [1]})
        assert r.status == 202, r.body


def case_exec_print():
    require_docker_image(PY_IMAGE)
    with Stack() as s:
        r = s.exec({"lang": "py", "code": "print(6*7)"})
        assert r.status == 200, (r.status, r.body)
        j = r.json()
        assert j["stdout"] == "42\n", j
        assert j["stderr"] == "", j
        assert j["exit_code"] == 0, j
        assert j["status"] == "completed", j
        assert isinstance(j["session_id"], str) and len(j["session_id"]) >= 10, j
        assert isinstance(j["files"], list), j
        assert j["duration_ms"] >= 0, j


def case_exec_failure():
    require_docker_image(PY_IMAGE)
    with Stack() as s:
        code = "import sys\nprint('before')\nsys.stderr.write('bad thing\\n')\nsys.exit(3)"
        j = s.exec({"lang": "py", "code": code}).json()
        assert j["exit_code"] == 3, j
        assert j["status"] == "failed", j
        assert "bad thing" in j["stderr"], j
        assert j["stdout"] == "before\n", j
        j = s.exec({"lang": "py", "code": "1/0"}).json()
        assert j["exit_code"] == 1 and "ZeroDivisionError" in j["stderr"], j


def case_exec_timeout():
    require_docker_image(PY_IMAGE)
    with Stack(env={"MAX_EXECUTION_TIME": "2"}) as s:
        t0 = time.time()
        r = s.exec({"lang": "py", "code": "print('start', flush=True)\nwhile True: pass"})
        took = time.time() - t0
        assert r.status == 200, (r.status, r.body)
        j = r.json()
        assert j["status"] == "timeout", j
        assert j["exit_code"] != 0, j
        assert j["stdout"] == "start\n", j
        assert took < 20, took
        # the service keeps serving
        j = s.exec({"lang": "py", "code": "print('next')"}).json()
        assert j["stdout"] == "next\n", j


def case_jobs_async():
    require_docker_image(PY_IMAGE)
    with Stack(workers=0) as s:
        r = s.post("/jobs", {"lang": "py", "code": "print(6*7)"})
        assert r.status == 202, (r.status, r.body)
        j = r.json()
        job_id = j["job_id"]
        assert j["status"] == "queued", j
        g = s.get("/jobs/" + job_id, key=s.KEY).json()
        assert g["status"] == "queued", g
        assert "result" not in g, g
        # another caller cannot see it
        assert s.get("/jobs/" + job_id, key=s.OTHER_KEY).status == 404
        s.start_worker(1)
        g = s.get("/jobs/%s?wait=60" % job_id, key=s.KEY).json()
        assert g["status"] == "completed", g
        res = g["result"]
        assert res["stdout"] == "42\n" and res["exit_code"] == 0, g
        assert g["attempts"] == 1, g
        assert g["created_at"].endswith("Z") and g["finished_at"].endswith("Z"), g


def case_jobs_poll_states():
    """Polling without wait shows queued/running before completed."""
    require_docker_image(PY_IMAGE)
    with Stack() as s:
        job_id = s.post("/jobs", {"lang": "py",
                                  "code": "import time\ntime.sleep(2)\nprint('ok')"}).json()["job_id"]
        seen = []
        end = time.time() + 60
        while time.time() < end:
            st = s.get("/jobs/" + job_id, key=s.KEY).json()["status"]
            if not seen or seen[-1] != st:
                seen.append(st)
            if st == "completed":
                break
            time.sleep(0.1)
        assert seen[-1] == "completed", seen
        assert "running" in seen, seen


def case_session_reuse():
    require_docker_image(PY_IMAGE)
    with Stack() as s:
        a = s.exec({"lang": "py", "code": "print(1)", "entity_id": "asst_1"}).json()
        b = s.exec({"lang": "py", "code": "print(2)", "entity_id": "asst_1"}).json()
        assert a["session_id"] == b["session_id"], (a, b)
        c = s.exec({"lang": "py", "code": "print(3)", "session_id": a["session_id"]}).json()
        assert c["session_id"] == a["session_id"], c
        # another caller naming that session gets a fresh one
        d = s.exec({"lang": "py", "code": "print(4)", "session_id": a["session_id"]},
                   key=s.OTHER_KEY).json()
        assert d["session_id"] != a["session_id"], d


CASES = {
    "health_open": case_health_open,
    "auth_required": case_auth_required,
    "validation": case_validation,
    "exec_print": case_exec_print,
    "exec_failure": case_exec_failure,
    "exec_timeout": case_exec_timeout,
    "jobs_async": case_jobs_async,
    "jobs_poll_states": case_jobs_poll_states,
    "session_reuse": case_session_reuse,
}

if __name__ == "__main__":
    sys.exit(run_cases(CASES, sys.argv))
