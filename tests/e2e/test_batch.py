"""End-to-end: POST /jobs/batch and GET /jobs/batch/{id} (DESIGN.md section 4.2).

Real HTTP, a private redis-server, real workers with dockerd where code runs.
"""
import json
import os
import sys
import time

from receiver import Receiver, signature_ok
from stack import Stack, require_docker_image, run_cases, wait_for

PY_IMAGE = "code-interpreter/py:" + os.environ.get("IMAGE_TAG", "latest")
SECRET = "whsec_" + "YmF0Y2gtdGVzdC1zZWNyZXQtMDEyMzQ1Njc4OWFiY2Rl"


def case_validation():
    """Per-item errors with field paths; nothing enqueued unless all are valid."""
    with Stack(workers=0, env={"MAX_BATCH_JOBS": "4"}) as s:
        good = {"lang": "py", "code": "print(1)"}
        r = s.post("/jobs/batch", {"jobs": [good, good, good, {"lang": "py"},
                                            ]})
        assert r.status == 400, r.body
        fields = [d["field"] for d in r.json()["details"]]
        assert fields == ["jobs[3].code"], fields
        r = s.post("/jobs/batch", {"jobs": [good, {"lang": "py", "code": "x", "timeout": "x"},
                                            {"lang": "cobol", "code": "x"}]})
        fields = sorted(d["field"] for d in r.json()["details"])
        assert fields == ["jobs[1].timeout", "jobs[2].lang"], r.body
        assert r.status == 400, r.body  # unknown language is a 400, beats the 422
        r = s.post("/jobs/batch", {"jobs": [good] * 5})
        assert r.status == 422 and r.json()["details"][0]["field"] == "jobs", r.body
        r = s.post("/jobs/batch", {"jobs": []})
        assert r.status == 422, r.body
        r = s.post("/jobs/batch", {"jobs": [good], "callback_url": "ftp://x"})
        assert r.status == 422 and r.json()["details"][0]["field"] == "callback_url", r.body
        r = s.post("/jobs/batch", {})
        assert r.status == 400, r.body
        assert s.redis("XLEN", "ci:jobs") == b":0\r\n"  # nothing of the refused batches
        r = s.post("/jobs/batch", {"jobs": [good] * 4})
        assert r.status == 202, r.body
        assert s.redis("XLEN", "ci:jobs") == b":4\r\n"


def case_run_and_count():
    """A batch runs; counts per status; owned by its key; job ids are real jobs."""
    require_docker_image(PY_IMAGE)
    rx = Receiver()
    try:
        env = {"WEBHOOK_SECRET": SECRET, "WEBHOOK_ALLOW_CIDRS": "127.0.0.1/32",
               "WEBHOOK_POLL_MS": "50"}
        with Stack(env=env) as s:
            jobs = [{"lang": "py", "code": "print(%d)" % i, "entity_id": "b"} for i in range(5)]
            jobs.append({"lang": "py", "code": "raise SystemExit(3)", "entity_id": "b"})
            r = s.post("/jobs/batch", {"jobs": jobs, "callback_url": rx.url()})
            assert r.status == 202, r.body
            b = r.json()
            assert len(b["job_ids"]) == 6 and len(set(b["job_ids"])) == 6, b
            path = "/jobs/batch/" + b["batch_id"]
            assert s.get(path, key=s.OTHER_KEY).status == 404
            assert s.get("/jobs/batch/" + "0" * 32, key=s.KEY).status == 404
            wait_for(lambda: s.get(path, key=s.KEY).json()["status"] == "completed", 120,
                     "the batch")
            g = s.get(path, key=s.KEY).json()
            assert g["total"] == 6 and g["done"] == 6, g
            assert g["counts"]["completed"] == 5 and g["counts"]["failed"] == 1, g
            assert g["counts"]["queued"] == 0 and g["counts"]["running"] == 0, g
            assert g["job_ids"] == b["job_ids"], g
            for i, jid in enumerate(b["job_ids"][:5]):
                j = s.get("/jobs/" + jid, key=s.KEY).json()
                assert j["result"]["stdout"] == "%d\n" % i, j
            assert s.get("/jobs/" + b["job_ids"][0], key=s.OTHER_KEY).status == 404
            wait_for(lambda: len(rx.of_type("batch.completed")) == 1, 30, "batch.completed")
            req = rx.of_type("batch.completed")[0]
            assert signature_ok(SECRET, req["headers"], req["body"])
            data = json.loads(req["body"])["data"]
            assert data["batch_id"] == b["batch_id"], data
            assert data["counts"]["completed"] == 5 and data["counts"]["failed"] == 1, data
            assert data["job_ids"] == b["job_ids"], data
            assert req["headers"]["webhook-id"] == "batch_" + b["batch_id"]
            wait_for(lambda: s.get(path, key=s.KEY).json().get("webhook", {}).get("status")
                     == "delivered", 10, "webhook status on the batch")
            time.sleep(0.5)
            assert len(rx.of_type()) == 1  # the jobs had no callback of their own
    finally:
        rx.close()


CASES = {"validation": case_validation, "run_and_count": case_run_and_count}

if __name__ == "__main__":
    sys.exit(run_cases(CASES, sys.argv))
