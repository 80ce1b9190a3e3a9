#!/usr/bin/env python3
"""Programmatic tool calling through the real stack over HTTP (docs/ptc.md):
a private redis-server, the real ci-ingress and ci-worker, dockerd and the
images.  The test plays the client: it answers each tool_call_required with
tool_results built here.

Usage: test_ptc_http.py <case>
"""
import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from stack import Stack, require_docker_image, run_cases  # noqa: E402

TAG = os.environ.get("IMAGE_TAG", "latest")
TOOLS = [{"name": "get-weather", "description": "weather",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
         {"name": "fail.me", "description": "always fails", "parameters": {}}]
PTC = "/exec/programmatic"


def check(cond, msg, *ctx):
    if not cond:
        raise AssertionError(msg + "".join("\n  " + repr(c)[:2000] for c in ctx))


def results_for(calls, fn):
    out = []
    for c in calls:
        try:
            out.append({"call_id": c["id"], "result": fn(c), "is_error": False})
        except Exception as e:
            out.append({"call_id": c["id"], "result": None, "is_error": True,
                        "error_message": str(e)})
    return out


def weather(c):
    if c["name"] == "fail.me":
        raise RuntimeError("the tool broke")
    return {"city": c["input"].get("city"), "temp": 21}


def run(s, body, fn=weather, key=Stack.KEY, rounds=None):
    r = s.post(PTC, body, key=key)
    check(r.status == 200, "first call", r.status, r.body)
    resp = r.json()
    seen = []
    while resp["status"] == "tool_call_required":
        seen.append(resp["tool_calls"])
        r = s.post(PTC, {"continuation_token": resp["continuation_token"],
                         "tool_results": results_for(resp["tool_calls"], fn)}, key=key)
        check(r.status == 200, "continuation", r.status, r.body)
        resp = r.json()
    return resp, seen


def stack(**env):
    require_docker_image("code-interpreter/py:" + TAG)
    e = {"IMAGE_TAG": TAG}
    e.update(env)
    return Stack(env=e)


def case_py_flow():
    with stack() as s:
        code = ("import asyncio\nopen('side.txt','a').write('x')\n"
                "r = await get_weather(city='SF')\nprint(r['city'], r['temp'])\n"
                "a, b, c = await asyncio.gather(get_weather(city='A'), get_weather(city='B'),"
                " get_weather(city='C'))\nprint(a['city'] + b['city'] + c['city'])\n"
                "try:\n    await failme()\nexcept ToolError as e:\n    print('caught', e)\n"
                "print(open('side.txt').read())\n")
        resp, rounds = run(s, {"code": code, "tools": TOOLS})
        check(resp["status"] == "completed", "completed", resp)
        check(resp["stdout"] == "SF 21\nABC\ncaught tool 'fail.me' failed: the tool broke\nx\n",
              "stdout (side effect once: paused, not replayed)", resp)
        check([len(r) for r in rounds] == [1, 3, 1], "rounds: gather of three is one", rounds)
        check(rounds[0][0]["name"] == "get-weather" and rounds[0][0]["input"] == {"city": "SF"},
              "original name and input", rounds)
        check(resp.get("session_id"), "session id", resp)
        m = s.get("/metrics", key=Stack.KEY).body.decode()
        check("ci_ptc_rounds_total 3" in m and "ci_worker_ptc_paused{" in m and
              "ci_ptc_paused_ms_total" in m, "metrics", m[-3000:])


def case_bash_flow():
    require_docker_image("code-interpreter/bash:" + TAG)
    with stack() as s:
        code = (': &\nwait "$!"\nr=$(get_weather \'{"city":"SF"}\'); echo "got $r"\n'
                'if fail_me \'{}\'; then echo no; else echo "status $?"; fi\n')
        resp, rounds = run(s, {"lang": "bash", "code": code, "tools": TOOLS})
        check(resp["status"] == "completed", "completed", resp)
        check(resp["stdout"] == 'got {"city":"SF","temp":21}\nstatus 1\n', "stdout", resp)
        check("tool error: the tool broke" in resp["stderr"], "stderr", resp)


def case_paused_holds_no_slot():
    """WORKER_CONCURRENCY=1: while a program is paused at a tool call, the
    worker's one slot runs other jobs (the paused program keeps only its
    sandbox), and the paused program still resumes afterwards."""
    with stack(WORKER_CONCURRENCY="1") as s:
        first = s.post(PTC, {"code": "r = await get_weather(city='P')\nprint(r['city'])",
                             "tools": TOOLS}).json()
        check(first["status"] == "tool_call_required", "paused", first)
        for i in range(2):
            r = s.exec({"lang": "py", "code": "print(%d)" % i})
            check(r.status == 200 and r.json()["stdout"] == "%d\n" % i,
                  "another job ran while the program was paused", r.body)
        r = s.post(PTC, {"continuation_token": first["continuation_token"],
                         "tool_results": results_for(first["tool_calls"], weather)})
        check(r.status == 200 and r.json()["stdout"] == "P\n", "resumed", r.body)


def case_bad_input():
    with stack() as s:
        for body, field in (({"code": "print(1)"}, "tools"),
                            ({"code": "print(1)", "tools": "x"}, "tools"),
                            ({"code": "print(1)", "tools": [{"name": "a-b"}, {"name": "a b"}]},
                             "tools"),
                            ({"code": "print(1)", "lang": "c", "tools": TOOLS}, "lang")):
            r = s.post(PTC, body)
            check(r.status == 400 and r.json()["error_type"] == "validation_error" and
                  field in json.dumps(r.json()), "refused", body, r.status, r.body)
        r = s.post(PTC, {"code": "await get_weather(city='X')\nprint('done')", "tools": TOOLS})
        first = r.json()
        check(first["status"] == "tool_call_required", "paused", first)
        tok, cid = first["continuation_token"], first["tool_calls"][0]["id"]
        check(len(tok) == 64, "256-bit token", tok)
        stored = s.redis("KEYS", "ci:ptc:tok:*").decode()
        check(tok not in stored, "only the token's hash is stored", stored)
        # a token of another caller: 404, nothing claimed
        r = s.post(PTC, {"continuation_token": tok, "tool_results": []}, key=Stack.OTHER_KEY)
        check(r.status == 404, "another caller's token", r.status, r.body)
        r = s.post(PTC, {"continuation_token": "0" * 64, "tool_results": []})
        check(r.status == 404, "unknown token", r.status, r.body)
        r = s.post(PTC, {"continuation_token": tok, "tool_results": [
            {"call_id": "call_999", "result": 1, "is_error": False}]})
        check(r.status == 400 and "never made" in r.body.decode(), "unknown call", r.body)
        r = s.post(PTC, {"continuation_token": tok, "tool_results": [
            {"call_id": cid, "name": "no-such-tool", "result": 1, "is_error": False}]})
        check(r.status == 400 and "not for" in r.body.decode(), "unknown tool name", r.body)
        r = s.post(PTC, {"continuation_token": tok, "tool_results": [
            {"call_id": cid, "result": "x" * (3 << 20), "is_error": False}]})
        check(r.status == 413, "oversized result", r.status, r.body[:300])
        # the real continuation, then its replay
        r = s.post(PTC, {"continuation_token": tok, "tool_results": [
            {"call_id": cid, "result": {"ok": 1}, "is_error": False}]})
        check(r.status == 200 and r.json()["status"] == "completed" and
              r.json()["stdout"] == "done\n", "completed", r.body)
        r = s.post(PTC, {"continuation_token": tok, "tool_results": [
            {"call_id": cid, "result": {"ok": 1}, "is_error": False}]})
        check(r.status == 409, "replayed token", r.status, r.body)


def case_concurrent_claim():
    with stack() as s:
        first = s.post(PTC, {"code": "await get_weather(city='X')\nprint('once')",
                             "tools": TOOLS}).json()
        body = {"continuation_token": first["continuation_token"], "tool_results": [
            {"call_id": first["tool_calls"][0]["id"], "result": 1, "is_error": False}]}
        out = []
        ts = [threading.Thread(target=lambda: out.append(s.post(PTC, body))) for _ in range(4)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        st = sorted(r.status for r in out)
        check(st == [200, 409, 409, 409], "one winner", st)


def case_pause_ttl():
    with stack(PTC_PAUSE_TTL_SECONDS="2") as s:
        first = s.post(PTC, {"code": "await get_weather(city='X')\nprint('never')",
                             "tools": TOOLS}).json()
        check(first["status"] == "tool_call_required", "paused", first)
        time.sleep(5)
        n = s.redis("EVAL", "return #redis.call('KEYS','ci:ptc:job:*')", "0")
        check(n == b":0\r\n", "the paused program ended (record gone)", n)
        r = s.post(PTC, {"continuation_token": first["continuation_token"], "tool_results": [
            {"call_id": first["tool_calls"][0]["id"], "result": 1, "is_error": False}]})
        check(r.status == 404, "expired token", r.status, r.body)


def case_cancel():
    with stack() as s:
        h = {"X-LibreChat-Code-Request-ID": "req-cancel-1"}
        first = s.post(PTC, {"code": "await get_weather(city='X')\nprint('never')",
                             "tools": TOOLS}, headers=h).json()
        check(first["status"] == "tool_call_required", "paused", first)
        r = s.post(PTC + "/cancel", {"request_id": "req-cancel-1"}, key=Stack.OTHER_KEY)
        check(r.status == 404, "another caller cannot cancel", r.status, r.body)
        t0 = time.time()
        r = s.post(PTC + "/cancel", {"request_id": "req-cancel-1"})
        check(r.status == 200, "cancel", r.status, r.body)
        # no wall-clock assertion (a loaded machine): the program ends, its
        # record goes (the run's sandbox is killed at once by the cancel)
        while time.time() - t0 < 30:
            n = s.redis("EVAL", "return #redis.call('KEYS','ci:ptc:job:*')", "0")
            if n == b":0\r\n":
                break
            time.sleep(0.1)
        check(n == b":0\r\n", "the cancelled program ended", n)
        r = s.post(PTC, {"continuation_token": first["continuation_token"], "tool_results": [
            {"call_id": first["tool_calls"][0]["id"], "result": 1, "is_error": False}]})
        check(r.status == 200 and r.json()["status"] == "error", "continuation after cancel",
              r.body)


def case_second_ingress():
    with stack() as s:
        first = s.post(PTC, {"code": "r = await get_weather(city='Z')\nprint(r['city'])",
                             "tools": TOOLS}).json()
        # a second ingress process on the same Redis
        port1 = s.port
        s.port = None
        from stack import free_port
        s.port = free_port()
        s.env["PORT"] = str(s.port)
        s._spawn("ingress2", [os.environ["CI_INGRESS"]])
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                if s.get("/health").status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        r = s.post(PTC, {"continuation_token": first["continuation_token"], "tool_results":
                         results_for(first["tool_calls"], weather)})
        check(r.status == 200 and r.json()["stdout"] == "Z\n", "through ingress 2", r.body)
        s.port = port1


def case_worker_killed():
    with stack() as s:
        first = s.post(PTC, {"code": "await get_weather(city='K')\nprint('never')",
                             "tools": TOOLS}).json()
        check(first["status"] == "tool_call_required", "paused", first)
        s.kill("worker-1", signal.SIGKILL)
        t0 = time.time()
        r = s.post(PTC, {"continuation_token": first["continuation_token"], "tool_results":
                         results_for(first["tool_calls"], weather)}, timeout=60)
        el = time.time() - t0
        check(r.status == 200 and r.json()["status"] == "error" and
              "worker holding this program is gone" in r.json()["error"], "clear error", r.body)
        check(el < 60, "nothing hangs (%.1f s; the pause TTL is 300 s)" % el)


def case_jobs_flow():
    """POST /jobs with tools: GET /jobs/{id} shows the pause (the token once
    per round), POST /exec/programmatic continues it."""
    with stack() as s:
        r = s.post("/jobs", {"lang": "py", "code": "w = await get_weather(city='J')\n"
                                               "print(w['city'])", "tools": TOOLS})
        check(r.status == 202, "queued", r.status, r.body)
        job = r.json()["job_id"]
        # a long-poll answers at the pause, not at its deadline (nor the job's
        # end, which never comes without a continuation)
        t0 = time.time()
        j = s.get("/jobs/%s?wait=60" % job, key=Stack.KEY, timeout=90).json()
        check(time.time() - t0 < 55, "?wait answered at the pause", time.time() - t0, j)
        check(j["status"] == "tool_call_required" and j["round"] == 1 and
              j["tool_calls"][0]["name"] == "get-weather" and j["continuation_token"], "paused", j)
        again = s.get("/jobs/" + job, key=Stack.KEY).json()
        check(again["status"] == "tool_call_required" and again["continuation_token"] is None,
              "the token is shown once", again)
        other = s.get("/jobs/" + job, key=Stack.OTHER_KEY)
        check(other.status == 404, "another caller sees nothing", other.status)
        r = s.post(PTC, {"continuation_token": j["continuation_token"],
                         "tool_results": results_for(j["tool_calls"], weather)})
        check(r.status == 200 and r.json()["status"] == "completed" and
              r.json()["stdout"] == "J\n", "continued", r.body)
        j = s.get("/jobs/" + job, key=Stack.KEY).json()
        check(j["status"] == "completed" and j["result"]["stdout"] == "J\n", "job done", j)
        r = s.post("/jobs", {"lang": "c", "code": "x", "tools": TOOLS})
        check(r.status == 400, "tools for c refused", r.status, r.body)


def case_jobs_webhook():
    """A programmatic job with callback_url: job.tool_call_required (signed)
    at its pause, then job.completed."""
    from receiver import Receiver, signature_ok
    rx = Receiver()
    env = {"WEBHOOK_SECRET": "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ=",
           "WEBHOOK_ALLOW_CIDRS": "127.0.0.1/32", "WEBHOOK_POLL_MS": "50"}
    try:
        with stack(**env) as s:
            r = s.post("/jobs", {"lang": "py", "code": "await get_weather(city='W')\nprint(1)",
                                 "tools": TOOLS, "callback_url": rx.url()})
            job = r.json()["job_id"]
            end = time.time() + 120
            while time.time() < end and not rx.requests:
                time.sleep(0.1)
            check(rx.requests, "a webhook arrived")
            first = rx.requests[0]
            body = json.loads(first["body"])
            check(body["type"] == "job.tool_call_required" and body["data"]["job_id"] == job and
                  body["data"]["round"] == 1 and body["data"]["status"] == "tool_call_required",
                  "tool_call_required event", body)
            check(signature_ok(env["WEBHOOK_SECRET"], first["headers"], first["body"]), "signed")
            j = s.get("/jobs/" + job, key=Stack.KEY).json()
            r = s.post(PTC, {"continuation_token": j["continuation_token"],
                             "tool_results": results_for(j["tool_calls"], weather)})
            check(r.json()["status"] == "completed", "continued", r.body)
            while time.time() < end and len(rx.requests) < 2:
                time.sleep(0.1)
            check(json.loads(rx.requests[-1]["body"])["type"] == "job.completed", "completed",
                  rx.requests[-1]["body"])
    finally:
        rx.close()


CASES = {n[5:]: f for n, f in globals().items() if n.startswith("case_")}

if __name__ == "__main__":
    sys.exit(run_cases(CASES, sys.argv))
