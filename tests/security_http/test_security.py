"""Security over real HTTP (issue 6): keys, limits, bounds, audit, isolation.

Each case starts its own private stack (tests/e2e/stack.py): a redis-server,
the real ci-ingress (sometimes two, on the same Redis) and, where code must
run, a real ci-worker with the Python image.  Every rule is shown with a
request that is refused and one that passes.

X-Forwarded-For values name documentation addresses (RFC 5737); they are
only header text: all traffic stays on 127.0.0.1.
"""
import copy
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from stack import Stack, free_port, require_docker_image, run_cases, wait_for  # noqa: E402

ADMIN = "admin-key-0123456789abcdef0123"
SEC_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "x-xss-protection": "1; mode=block",
    "strict-transport-security": "max-age=31536000; includeSubDomains",
    "content-security-policy": "default-src 'self'",
    "referrer-policy": "strict-origin-when-cross-origin",
}
NO_JOB = "0123456789abcdef0123456789abcdef"


def check_headers(r, status):
    assert r.status == status, (r.status, r.body)
    for k, v in SEC_HEADERS.items():
        assert r.headers.get(k) == v, (status, k, r.headers)
    if status >= 400:
        j = r.json()
        for k in ("error", "error_type", "details", "request_id", "timestamp"):
            assert k in j, (k, j)


def second_ingress(s, extra_env=None):
    """Starts another ci-ingress on the same Redis; returns a Stack view of it."""
    port = free_port()
    env = dict(s.env)
    env["PORT"] = str(port)
    env.update(extra_env or {})
    log = open(os.path.join(s.tmp, "ingress2.log"), "ab")
    s.procs["ingress2"] = subprocess.Popen([os.environ["CI_INGRESS"]], env=env, stdout=log,
                                           stderr=log, start_new_session=True)
    view = copy.copy(s)
    view.port = port
    wait_for(lambda: view.get("/health").status == 200, 15, "second ingress")
    return view


def admin(s, method, path, body=None):
    return s.request(method, path, body=body, key=ADMIN)


def events(s, etype):
    r = admin(s, "GET", "/admin/events?limit=1000&type=" + etype)
    assert r.status == 200, r.body
    return r.json()["events"]


def keys_tool(s, *args):
    p = subprocess.run([os.environ["CI_KEYS"]] + list(args), env=s.env, capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, (args, p.returncode, p.stderr)
    return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]


# -- requests: headers, bounds, content type, body size -----------------------
def case_headers_and_bounds():
    with Stack(workers=0) as s:
        check_headers(s.get("/health"), 200)
        check_headers(s.get("/jobs/" + NO_JOB), 401)
        check_headers(s.get("/jobs/" + NO_JOB, key=s.KEY), 404)
        check_headers(s.request("PUT", "/exec", key=s.KEY), 405)
        check_headers(s.request("POST", "/exec", raw=b"lang=py", key=s.KEY,
                                headers={"Content-Type": "text/plain"}), 415)
        check_headers(s.post("/jobs", {"lang": "py", "code": "print(1)"}), 202)
        big = b'{"lang":"py","code":"' + b"x" * (3 * 1024 * 1024) + b'"}'
        r = s.send_tolerant("POST", "/exec", big, {"x-api-key": s.KEY,
                                                    "Content-Type": "application/json"})
        check_headers(r, 413)
        # URL length: 8 KiB passes the bound (404 for the unknown job), 9 KiB is refused
        check_headers(s.get("/jobs/" + "a" * 8000, key=s.KEY), 404)
        check_headers(s.get("/jobs/" + "a" * 9000, key=s.KEY), 414)
        # header bytes: 10 KiB of headers pass, 20 KiB are refused
        check_headers(s.get("/jobs/" + NO_JOB, key=s.KEY, headers={"X-Pad": "p" * 10000}), 404)
        check_headers(s.get("/jobs/" + NO_JOB, key=s.KEY, headers={"X-Pad": "p" * 20000}), 431)


# -- brute force: 10 failures per IP per window, shared by two ingresses ------
def case_bruteforce_lockout_shared():
    env = {"TRUSTED_PROXIES": "127.0.0.1/32", "ADMIN_API_KEY": ADMIN}
    with Stack(workers=0, env=env) as s:
        b = second_ingress(s)
        attacker = {"X-Forwarded-For": "203.0.113.7"}
        honest = {"X-Forwarded-For": "198.51.100.9"}
        for i in range(10):
            target = s if i % 2 == 0 else b  # failures on both processes add up
            r = target.get("/jobs/" + NO_JOB, key="guess-%d" % i, headers=attacker)
            check_headers(r, 401)
        for target in (s, b):
            r = target.get("/jobs/" + NO_JOB, key="guess-11", headers=attacker)
            check_headers(r, 429)
            ra = int(r.headers["retry-after"])
            assert 0 < ra <= 3600, ra
            assert r.json()["error"] == "rate_limited" and r.json()["retry_after_seconds"] == ra
        # locked out even with the right key: no oracle for a correct guess
        check_headers(s.get("/jobs/" + NO_JOB, key=s.KEY, headers=attacker), 429)
        # another client (per-IP limit) passes
        check_headers(b.get("/jobs/" + NO_JOB, key=s.KEY, headers=honest), 404)
        # monitoring: statistics and rate-limit status name the attacker
        st = admin(s, "GET", "/admin/stats/auth").json()
        assert st["authentication_failure"] == 10 and st["locked_ips"] == 1, st
        # successes: the honest request and this admin call; the locked-out
        # request with the right key was refused, so it does not count
        assert st["authentication_success"] == 2, st
        rl = admin(b, "GET", "/admin/ratelimits").json()
        row = [c for c in rl["clients"] if c["client_ip"] == "203.0.113.7"]
        assert row and row[0]["locked"] and row[0]["failures"] == 10, rl
        assert rl["auth_failures"]["limit"] == 10, rl
        ev = events(s, "rate_limit")
        assert any(e["client_ip"] == "203.0.113.7" for e in ev), ev


def case_forwarded_for_untrusted():
    with Stack(workers=0, env={"AUTH_FAIL_LIMIT": "3"}) as s:
        for i in range(3):
            check_headers(s.get("/jobs/" + NO_JOB, key="bad",
                                headers={"X-Forwarded-For": "203.0.113.%d" % i}), 401)
        # X-Forwarded-For from an untrusted peer is ignored: still the same client
        r = s.get("/jobs/" + NO_JOB, key=s.KEY, headers={"X-Forwarded-For": "198.51.100.1"})
        check_headers(r, 429)


# -- managed keys: admin routes, ops tool, immediate revocation ----------------
def case_managed_keys_revocation():
    with Stack(workers=0, env={"ADMIN_API_KEY": ADMIN}) as s:
        b = second_ingress(s)
        # admin routes: no key 401, a caller key 403, the admin key 200
        check_headers(s.get("/admin/keys"), 401)
        check_headers(s.get("/admin/keys", key=s.KEY), 403)
        check_headers(admin(s, "GET", "/admin/keys"), 200)
        # the admin key is not a caller key
        check_headers(s.get("/jobs/" + NO_JOB, key=ADMIN), 401)
        r = admin(s, "POST", "/admin/keys", {"name": "ci-bot"})
        assert r.status == 201, r.body
        k = r.json()
        key, kid = k["key"], k["id"]
        # only a hash is stored: the key appears nowhere in Redis
        dump = s.redis("KEYS", "*") + b"".join(
            s.redis("HGETALL", n.decode()) for n in s.redis("KEYS", "ci:key*").split(b"\r\n")
            if n.startswith(b"ci:key:"))
        assert key.encode() not in dump, dump
        listed = admin(b, "GET", "/admin/keys").json()["keys"]
        assert [x["id"] for x in listed] == [kid] and "key" not in listed[0], listed
        # works on both processes (and is now cached in both)
        for view in (s, b, s, b):
            check_headers(view.get("/jobs/" + NO_JOB, key=key), 404)
        r = admin(s, "DELETE", "/admin/keys/" + kid)
        assert r.status == 200 and r.json()["ingress_notified"] == 2, r.body
        # at once, in the other process too, despite its cache
        check_headers(b.get("/jobs/" + NO_JOB, key=key), 401)
        check_headers(s.get("/jobs/" + NO_JOB, key=key), 401)
        assert admin(b, "GET", "/admin/keys/" + kid).json()["status"] == "revoked"
        check_headers(admin(s, "POST", "/admin/keys/" + kid + "/enable"), 409)
        check_headers(admin(s, "DELETE", "/admin/keys/k_nosuchkey00"), 404)

        # the ops tool: create, disable (immediate), enable, revoke
        made = keys_tool(s, "create", "batch-user", "--per-hour", "100")[0]
        key2, kid2 = made["key"], made["id"]
        assert made["rate_limits"] == {"hour": 100}, made
        check_headers(b.get("/jobs/" + NO_JOB, key=key2), 404)
        assert keys_tool(s, "disable", kid2)[0]["status"] == "disabled"
        check_headers(b.get("/jobs/" + NO_JOB, key=key2), 401)
        keys_tool(s, "enable", kid2)
        check_headers(b.get("/jobs/" + NO_JOB, key=key2), 404)
        keys_tool(s, "revoke", kid2)
        check_headers(s.get("/jobs/" + NO_JOB, key=key2), 401)
        ids = {x["id"]: x["status"] for x in keys_tool(s, "list")}
        assert ids == {kid: "revoked", kid2: "revoked"}, ids
        ev = events(s, "admin_key")
        assert {e["action"] for e in ev} >= {"create", "revoke"}, ev


def case_rate_limit_headers():
    with Stack(workers=0, env={"ADMIN_API_KEY": ADMIN}) as s:
        k = admin(s, "POST", "/admin/keys", {"name": "limited",
                                             "rate_limits": {"hour": 3, "day": 50}}).json()
        for left in (2, 1, 0):
            r = s.get("/jobs/" + NO_JOB, key=k["key"])
            check_headers(r, 404)
            assert r.headers["x-ratelimit-limit"] == "3", r.headers
            assert r.headers["x-ratelimit-remaining"] == str(left), r.headers
            assert 0 < int(r.headers["x-ratelimit-reset"]) <= 3600, r.headers
        r = s.get("/jobs/" + NO_JOB, key=k["key"])
        check_headers(r, 429)
        assert r.headers["x-ratelimit-remaining"] == "0", r.headers
        assert 0 < int(r.headers["retry-after"]) <= 3600, r.headers
        # LibreChat reads the body: "error":"rate_limited", retry_after_seconds
        j = r.json()
        assert j["error"] == "rate_limited" and j["error_type"] == "rate_limited", j
        assert j["retry_after_seconds"] == int(r.headers["retry-after"]), j
        # a key without limits: no headers, no 429
        for _ in range(5):
            r = s.get("/jobs/" + NO_JOB, key=s.KEY)
            check_headers(r, 404)
            assert "x-ratelimit-limit" not in r.headers, r.headers
        ev = events(s, "rate_limit")
        assert any(e.get("period") == "hour" for e in ev), ev
        check_headers(admin(s, "POST", "/admin/keys", {"name": "x", "rate_limits": {"hour": -1}}),
                      422)
        check_headers(admin(s, "POST", "/admin/keys", {"nom": "x"}), 422)


# -- isolation between callers -------------------------------------------------
def case_cross_caller_jobs():
    with Stack(workers=0, env={"ADMIN_API_KEY": ADMIN}) as s:
        r = s.post("/jobs", {"lang": "py", "code": "print(1)", "entity_id": "e1"})
        assert r.status == 202, r.body
        job, sess = r.json()["job_id"], r.json()["session_id"]
        check_headers(s.get("/jobs/" + job, key=s.KEY), 200)
        for method, path in (("GET", "/jobs/" + job), ("GET", "/jobs/" + job + "?wait=1"),
                             ("DELETE", "/jobs/" + job)):
            check_headers(s.request(method, path, key=s.OTHER_KEY), 404)
        assert s.get("/jobs/" + job, key=s.KEY).json()["status"] == "queued"  # not cancelled
        # naming another caller's session yields a fresh one
        r = s.post("/jobs", {"lang": "py", "code": "print(2)", "session_id": sess},
                   key=s.OTHER_KEY)
        assert r.status == 202 and r.json()["session_id"] != sess, r.body
        r = s.post("/jobs", {"lang": "py", "code": "print(3)", "session_id": sess})
        assert r.json()["session_id"] == sess, r.body
        ev = events(s, "access_denied")
        res = [(e["resource"], e["id"]) for e in ev]
        assert res.count(("job", job)) == 3 and ("session", sess) in res, res


def case_cross_caller_files_audited():
    from test_files import upload  # tests/e2e: the multipart helper
    with Stack(workers=0, env={"ADMIN_API_KEY": ADMIN}) as s:
        # file names: refused with a clear error, then a good one passes
        for name, status in (("../x.txt", 400), ("a\\b.txt", 400), ("a;rm.txt", 400),
                             ("x" * 252 + ".txt", 400), ("run.exe", 415)):
            r = upload(s, [("file", name, b"data")])
            check_headers(r, status)
            assert r.json()["details"], r.body
        r = upload(s, [("file", "notes.txt", b"private\n")])
        check_headers(r, 200)
        sid, fid = r.json()["session_id"], r.json()["files"][0]["fileId"]
        for method, path in (("GET", "/files/" + sid), ("GET", "/download/%s/%s" % (sid, fid)),
                             ("DELETE", "/files/%s/%s" % (sid, fid))):
            check_headers(s.request(method, path, key=s.OTHER_KEY), 404)
        assert s.get("/download/%s/%s" % (sid, fid), key=s.KEY).body == b"private\n"
        check_headers(s.request("DELETE", "/files/%s/%s" % (sid, fid), key=s.KEY), 200)
        denied = [e for e in events(s, "access_denied") if e["resource"] == "session"]
        assert [e["id"] for e in denied].count(sid) == 3, denied
        assert all(e["api_key_prefix"] == s.OTHER_KEY[:6] + "..." for e in denied), denied
        for etype in ("file_upload", "file_download", "file_delete"):
            ev = [e for e in events(s, etype) if e["success"]]
            assert len(ev) == 1 and ev[0]["session_id"] == sid, (etype, ev)
        # every refused name was audited too, with the reason the caller got
        bad = [e for e in events(s, "file_upload") if not e["success"]]
        assert len(bad) == 5, bad
        assert sorted(e["error"] for e in bad) == ["unsupported_file_type"] + \
            ["validation_error"] * 4, bad
        assert all(e["reason"] and e["api_key_prefix"] == s.KEY[:6] + "..." for e in bad), bad


# -- code scan and the audit log ------------------------------------------------
def case_code_scan_warnings_audited():
    require_docker_image("code-interpreter/py:" + os.environ.get("IMAGE_TAG", "latest"))
    with Stack(workers=1, env={"ADMIN_API_KEY": ADMIN}) as s:
        audit = os.path.join(s.tmp, "audit.log")
        s.env["AUDIT_LOG_FILE"] = audit
        s.kill("ingress")
        s.start_ingress()
        code = "import os, json\nprint(eval('6*7'))\n"
        r = s.exec({"lang": "py", "code": code})
        assert r.status == 200, r.body
        j = r.json()
        assert j["stdout"] == "42\n", j  # warned, never blocked
        w = " ".join(j["warnings"])
        assert "import os" in w and "eval()" in w and "open()" not in w, j
        r = s.exec({"lang": "py", "code": "print('reopen(x) my_eval(1)')"})
        assert r.status == 200 and r.json()["warnings"] == [], r.body
        s.get("/jobs/" + NO_JOB, key="not-a-key-123456")
        with open(audit) as f:
            lines = [json.loads(l) for l in f]
        for e in lines:
            for k in ("event_type", "success", "api_key_prefix", "client_ip", "endpoint",
                      "timestamp"):
                assert k in e, (k, e)
        fin = [e for e in lines if e["event_type"] == "code_execution"
               and e.get("phase") == "finished"]
        assert fin and fin[0]["language"] == "py" and fin[0]["outcome"] == "completed", fin
        assert any("import os" in x for x in fin[0]["warnings"]), fin
        fail = [e for e in lines if e["event_type"] == "authentication" and not e["success"]]
        assert fail and fail[0]["api_key_prefix"] == "not-a-...", fail
        assert fail[0]["client_ip"] == "127.0.0.1" and fail[0]["endpoint"].startswith("GET /jobs/")
        # keys never appear beyond their prefix, in the audit log or the service log
        text = open(audit).read() + s.logs()
        assert s.KEY not in text and "not-a-key-123456" not in text
        assert any(e["event_type"] == "code_execution" for e in events(s, "code_execution"))


CASES = {n[5:]: f for n, f in globals().items() if n.startswith("case_")}

if __name__ == "__main__":
    sys.exit(run_cases(CASES, sys.argv))
