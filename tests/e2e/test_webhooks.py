"""End-to-end: signed webhooks (DESIGN.md section 4.2, docs/webhooks.md).

Real ingress, worker and redis-server; a Python receiver on 127.0.0.1 that
the tests admit with WEBHOOK_ALLOW_CIDRS.  Most cases end their job by
cancelling it while no worker runs (a terminal state without Docker), then
start a worker, whose delivery loop sends the webhook.
"""
import json
import os
import sys
import time

from receiver import Receiver, signature_ok
from stack import Stack, free_port, require_docker_image, run_cases, wait_for

SECRET = "whsec_" + "dGVzdC1zZWNyZXQtZm9yLXdlYmhvb2tzLTAxMjM0NTY3"  # base64 of 33 bytes
ENV = {"WEBHOOK_SECRET": SECRET, "WEBHOOK_ALLOW_CIDRS": "127.0.0.1/32",
       "WEBHOOK_RETRY_BASE_MS": "200", "WEBHOOK_RETRY_MAX_MS": "1000", "WEBHOOK_POLL_MS": "50"}
PY_IMAGE = "code-interpreter/py:" + os.environ.get("IMAGE_TAG", "latest")


def job_state(s, job_id):
    return s.get("/jobs/" + job_id, key=s.KEY).json()


def cancelled_job(s, url):
    """A job with callback_url that ends cancelled before any worker runs."""
    job = s.post("/jobs", {"lang": "py", "code": "print(1)", "callback_url": url}).json()
    r = s.request("DELETE", "/jobs/" + job["job_id"], key=s.KEY)
    assert r.json()["status"] == "cancelled", r.body
    return job["job_id"]


def case_completed_signed():
    """A real job's job.completed: signed, body = the job with its result."""
    require_docker_image(PY_IMAGE)
    rx = Receiver()
    try:
        with Stack(env=ENV) as s:
            job = s.post("/jobs", {"lang": "py", "code": "print(6*7)",
                                   "callback_url": rx.url()}).json()
            wait_for(lambda: len(rx.of_type()) >= 1, 90, "the webhook")
            req = rx.of_type()[0]
            h = req["headers"]
            assert h["webhook-id"] == "job_" + job["job_id"], h
            assert signature_ok(SECRET, h, req["body"]), h
            assert not signature_ok("whsec_" + "b3RoZXI=", h, req["body"])
            assert abs(int(h["webhook-timestamp"]) - time.time()) < 60, h
            body = json.loads(req["body"])
            assert body["type"] == "job.completed", body
            assert body["data"]["job_id"] == job["job_id"], body
            assert body["data"]["status"] == "completed", body
            assert body["data"]["result"]["stdout"] == "42\n", body
            wait_for(lambda: job_state(s, job["job_id"]).get("webhook", {}).get("status")
                     == "delivered", 10, "delivered status")
            g = job_state(s, job["job_id"])
            assert g["webhook"]["attempts"] == 1, g
            time.sleep(0.5)
            assert len(rx.of_type()) == 1  # exactly one delivery
    finally:
        rx.close()


def case_receiver_down_then_up():
    """Connection refused, then 503 twice, then 200: delivered, one webhook-id."""
    port = free_port()
    with Stack(env=dict(ENV, WEBHOOK_RETRY_MAX_MS="10000"), workers=0) as s:
        jid = cancelled_job(s, "http://127.0.0.1:%d/hook" % port)
        s.start_worker(1)
        wait_for(lambda: job_state(s, jid).get("webhook", {}).get("attempts", 0) >= 3, 30,
                 "three refused attempts")
        g = job_state(s, jid)
        assert g["webhook"]["status"] == "pending", g
        assert g["webhook"]["error"], g  # why the last attempt failed
        rx = Receiver(port=port, statuses=[503, 503])
        try:
            wait_for(lambda: job_state(s, jid)["webhook"]["status"] == "delivered", 30,
                     "delivery after the receiver came up")
            reqs = rx.of_type()
            assert len(reqs) == 3, [r["headers"] for r in reqs]
            ids = {r["headers"]["webhook-id"] for r in reqs}
            assert ids == {"job_" + jid}, ids
            for r in reqs:
                assert signature_ok(SECRET, r["headers"], r["body"])
            assert len({r["body"] for r in reqs}) == 1  # same body every attempt
            g = job_state(s, jid)
            assert g["webhook"]["attempts"] >= 6, g
            # the delays double (+-25 % jitter): each gap is longer than the one before
            t = [r["t"] for r in reqs]
            assert t[2] - t[1] > (t[1] - t[0]), t
        finally:
            rx.close()


def case_gone_and_failed():
    """410 stops at once; a receiver that keeps failing ends 'failed' at the horizon."""
    # answers by path: the two deliveries race (either may come first)
    rx = Receiver(by_path={"/gone": [410], "/failing": [500] * 100})
    try:
        env = dict(ENV, WEBHOOK_MAX_AGE_SECONDS="2")
        with Stack(env=env, workers=0) as s:
            gone = cancelled_job(s, rx.url("/gone"))
            time.sleep(0.05)
            failing = cancelled_job(s, rx.url("/failing"))
            s.start_worker(1)
            wait_for(lambda: job_state(s, gone)["webhook"]["status"] == "gone", 20, "gone")
            wait_for(lambda: job_state(s, failing)["webhook"]["status"] == "failed", 20,
                     "failed after the horizon")
            g = job_state(s, failing)
            assert "500" in g["webhook"]["error"], g
            assert len([r for r in rx.of_type() if r["path"] == "/gone"]) == 1
            assert len([r for r in rx.of_type() if r["path"] == "/failing"]) >= 2
            n = len(rx.of_type())
            time.sleep(1.0)
            assert len(rx.of_type()) == n  # nothing after the end
    finally:
        rx.close()


def case_per_key_secret():
    """POST /webhooks/secret: shown once; signs that key's webhooks only."""
    rx = Receiver()
    try:
        with Stack(env=ENV, workers=0) as s:
            r = s.request("POST", "/webhooks/secret", key=s.KEY)
            assert r.status == 201, r.body
            secret = r.json()["secret"]
            assert secret.startswith("whsec_") and len(secret) > 40, secret
            assert s.request("POST", "/webhooks/secret").status == 401
            mine = cancelled_job(s, rx.url("/mine"))
            other = s.post("/jobs", {"lang": "py", "code": "print(1)",
                                     "callback_url": rx.url("/other")}, key=s.OTHER_KEY).json()
            s.request("DELETE", "/jobs/" + other["job_id"], key=s.OTHER_KEY)
            s.start_worker(1)
            wait_for(lambda: len(rx.of_type()) >= 2, 30, "two webhooks")
            by_path = {r["path"]: r for r in rx.of_type()}
            m, o = by_path["/mine"], by_path["/other"]
            assert signature_ok(secret, m["headers"], m["body"])
            assert not signature_ok(SECRET, m["headers"], m["body"])
            assert signature_ok(SECRET, o["headers"], o["body"])  # default for the other key
            assert json.loads(m["body"])["data"]["status"] == "cancelled"
            assert mine in m["headers"]["webhook-id"]
    finally:
        rx.close()


def case_large_response_delivered():
    """A 200 with a long body (1 MiB, far over any keep limit) is a delivery:
    the body is drained, once, and never retried."""
    rx = Receiver(response_body=b"ok " * (350 * 1024))
    try:
        with Stack(env=ENV, workers=0) as s:
            jid = cancelled_job(s, rx.url())
            s.start_worker(1)
            wait_for(lambda: job_state(s, jid).get("webhook", {}).get("status") == "delivered",
                     30, "delivered despite a long answer")
            time.sleep(1.0)  # several retry periods (WEBHOOK_RETRY_BASE_MS 200)
            g = job_state(s, jid)
            assert g["webhook"]["attempts"] == 1, g
            assert len(rx.of_type()) == 1
    finally:
        rx.close()


def case_one_address_refused():
    """"localhost" has two addresses; curl tries 127.0.0.1 first.  The allow
    list admits only ::1, where the receiver listens: the refused 127.0.0.1
    must not mark the delivery refused, it is delivered through ::1.  A URL
    whose only address is refused stays refused (final, one attempt)."""
    rx = Receiver(host="::1")
    try:
        with Stack(env=dict(ENV, WEBHOOK_ALLOW_CIDRS="::1/128"), workers=0) as s:
            jid = cancelled_job(s, "http://localhost:%d/hook" % rx.port)
            only_refused = cancelled_job(s, "http://127.0.0.1:%d/hook" % rx.port)
            s.start_worker(1)
            wait_for(lambda: job_state(s, jid).get("webhook", {}).get("status") == "delivered",
                     30, "delivered through the allowed address")
            wait_for(lambda: job_state(s, only_refused).get("webhook", {}).get("status")
                     == "refused", 30, "refused")
            g = job_state(s, only_refused)
            assert "127.0.0.1" in g["webhook"]["error"] and g["webhook"]["attempts"] == 1, g
            assert len(rx.of_type()) == 1
            # the refusal of 127.0.0.1 was seen on the way (the worker log)
            log = open(os.path.join(s.tmp, "worker-1.log"), errors="replace").read()
            assert log.count("refused before connecting: address 127.0.0.1") >= 2, log[-2000:]
    finally:
        rx.close()


CASES = {
    "large_response_delivered": case_large_response_delivered,
    "one_address_refused": case_one_address_refused,
    "completed_signed": case_completed_signed,
    "receiver_down_then_up": case_receiver_down_then_up,
    "gone_and_failed": case_gone_and_failed,
    "per_key_secret": case_per_key_secret,
}

if __name__ == "__main__":
    sys.exit(run_cases(CASES, sys.argv))
