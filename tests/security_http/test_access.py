"""The ownership model over real HTTP (issue 12 item 2, issue 14 finding 2).

Owner = (tenant, user): the tenant is the API key (or a JWT's tenant_id),
the user the User-Id header / user_id field / kind=user&id= query (or the
JWT's sub); no user = the key's own anonymous user, never a wildcard.

A private stack (tests/e2e/stack.py: redis-server and the real ci-ingress,
no worker: jobs are only queued) with two keys = two tenants.  Every
request is LibreChat's own shape (multipart upload with kind/id and
User-Id, probe, download, listing, delete) or the older one.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from stack import Stack, run_cases  # noqa: E402
from test_files import multipart  # noqa: E402

ADMIN = "admin-key-0123456789abcdef0123"
TENANTS = (Stack.KEY, Stack.OTHER_KEY)
USERS = ("userA", "userB", None)  # None: the key's anonymous user


def hdrs(user, extra=None):
    h = dict(extra or {})
    if user is not None:
        h["User-Id"] = user
    return h


def upload(s, key, user, fields, files, path="/upload"):
    parts = [(k, None, v.encode()) for k, v in fields] + [("file", n, d) for n, d in files]
    ctype, body = multipart(parts)
    return s.request("POST", path, key=key, raw=body,
                     headers=hdrs(user, {"Content-Type": ctype}))


def query(kind, rid, user):
    """LibreChat's file-route query for a kind (user: the user is the id)."""
    if kind == "user":
        return "?kind=user&id=%s" % user if user else ""
    return "?kind=%s&id=%s" % (kind, rid) + ("&version=3" if kind == "skill" else "")


def events(s, etype):
    r = s.request("GET", "/admin/events?limit=1000&type=" + etype, key=ADMIN)
    assert r.status == 200, r.body
    return r.json()["events"]


def case_matrix():
    """2 tenants x 3 users x kinds user/agent/skill x every route naming a
    session, file or job: each caller reaches exactly what it may."""
    with Stack(workers=0, env={"ADMIN_API_KEY": ADMIN, "AUTH_FAIL_LIMIT": "0"}) as s:
        objs = []  # (tenant, user, kind, sid, fid)
        for t in TENANTS:
            for u in USERS:
                for kind in ("user", "agent", "skill"):
                    fields = [("kind", kind)]
                    if kind != "user":
                        fields += [("id", "res-%s" % (u or "anon"))]
                    if kind == "skill":
                        fields += [("version", "3"), ("read_only", "true")]
                    r = upload(s, t, u, fields, [("data.csv", b"secret %s %s %s\n" % (
                        t[:5].encode(), (u or "-").encode(), kind.encode()))])
                    assert r.status == 200, r.body
                    j = r.json()
                    assert j["message"] == "success", j
                    assert j["storage_session_id"] == j["session_id"], j
                    objs.append((t, u, kind, j["storage_session_id"], j["files"][0]["fileId"],
                                 fields))
        sids = [o[3] for o in objs]
        assert len(set(sids)) == len(sids), "one storage session per (tenant, kind, key)"
        leaks = 0
        allowed_ok = 0
        for (t, u, kind, sid, fid, fields) in objs:
            rid = dict(fields).get("id")
            for ct in TENANTS:
                for cu in USERS:
                    may = ct == t and (kind != "user" or cu == u)
                    q = query(kind, rid, cu)
                    h = hdrs(cu)
                    routes = [("GET", "/files/%s%s" % (sid, q)),
                              ("GET", "/download/%s/%s%s" % (sid, fid, q)),
                              ("GET", "/sessions/%s/objects/%s%s" % (sid, fid, q))]
                    for method, path in routes:
                        r = s.request(method, path, key=ct, headers=h)
                        if may:
                            assert r.status == 200, (method, path, ct[:5], cu, r.status, r.body)
                            allowed_ok += 1
                        else:
                            assert r.status == 404 and b"secret" not in r.body, \
                                (method, path, ct[:5], cu, kind, u, r.status, r.body)
                            leaks += r.status != 404
                    # a file reference of LibreChat's shape in a job
                    ref = {"id": fid, "resource_id": rid or (u or ""), "name": "data.csv",
                           "storage_session_id": sid, "kind": kind}
                    if kind == "skill":
                        ref["version"] = 3
                    body = {"lang": "py", "code": "print(1)", "files": [ref]}
                    if cu is not None:
                        body["user_id"] = cu
                    r = s.post("/jobs", body, key=ct)
                    if may:
                        assert r.status == 202, (ct[:5], cu, kind, r.body)
                        allowed_ok += 1
                    else:
                        assert r.status == 404, (ct[:5], cu, kind, u, r.status, r.body)
                        assert r.json()["details"][0]["field"] == "files[0]", r.body
                    # deletes: refused for others; skill is read-only even for its
                    # tenant (the owners' own deletes come last, below)
                    if may and kind != "skill":
                        continue
                    r = s.request("DELETE", "/sessions/%s/objects/%s%s" % (sid, fid, q), key=ct,
                                  headers=h)
                    if not may:
                        assert r.status == 404, (ct[:5], cu, kind, u, r.status, r.body)
                    elif kind == "skill":
                        assert r.status == 403 and r.json()["error_type"] == "read_only", r.body
        assert leaks == 0
        # batch jobs carry the refusal with the item's index
        t, u, kind, sid, fid, fields = objs[0]  # tenant 1, userA, user kind
        ref = {"id": fid, "name": "data.csv", "storage_session_id": sid, "kind": "user"}
        r = s.post("/jobs/batch", {"jobs": [
            {"lang": "py", "code": "print(1)", "user_id": "userA", "files": [ref]},
            {"lang": "py", "code": "print(1)", "user_id": "userB", "files": [ref]}]})
        assert r.status == 404 and r.json()["details"][0]["field"] == "jobs[1].files[0]", r.body
        # every refusal was audited
        denied = events(s, "access_denied")
        assert len(denied) >= 3 * 3 * 2 * 4, len(denied)
        # the owners still have their files: deletes by the owner work last
        for (t, u, kind, sid, fid, fields) in objs:
            if kind == "skill":
                continue
            q = query(kind, dict(fields).get("id"), u)
            r = s.request("DELETE", "/sessions/%s/objects/%s%s" % (sid, fid, q), key=t,
                          headers=hdrs(u))
            assert r.status == 200, (kind, u, r.body)
            r = s.request("GET", "/sessions/%s/objects/%s%s" % (sid, fid, q), key=t,
                          headers=hdrs(u))
            assert r.status == 404, r.body
            r = s.request("DELETE", "/files/%s/%s%s" % (sid, fid, q), key=t, headers=hdrs(u))
            assert r.status == 404, r.body  # already gone
        print("allowed cases that succeeded:", allowed_ok)


def case_jobs_and_sessions():
    """Jobs, batches and execution sessions carry the whole owner."""
    with Stack(workers=0, env={"ADMIN_API_KEY": ADMIN, "AUTH_FAIL_LIMIT": "0"}) as s:
        r = s.post("/jobs", {"lang": "py", "code": "print(1)", "user_id": "A", "entity_id": "e1"})
        assert r.status == 202, r.body
        job, sess = r.json()["job_id"], r.json()["session_id"]
        # the job: its own user only (header or query names the user)
        assert s.get("/jobs/" + job, key=s.KEY, headers={"User-Id": "A"}).status == 200
        assert s.get("/jobs/%s?user_id=A" % job, key=s.KEY).status == 200
        for key, h in ((s.KEY, {}), (s.KEY, {"User-Id": "B"}), (s.OTHER_KEY, {"User-Id": "A"})):
            for method, path in (("GET", "/jobs/" + job), ("GET", "/jobs/%s?wait=1" % job),
                                 ("DELETE", "/jobs/" + job)):
                r = s.request(method, path, key=key, headers=h)
                assert r.status == 404, (method, path, h, r.status, r.body)
        assert s.get("/jobs/" + job, key=s.KEY, headers={"User-Id": "A"}).json()["status"] \
            == "queued"  # not cancelled by the refused DELETEs
        # the session: a call without user_id does not enter A's session
        # (neither by id nor by entity), nor does B's
        for body in ({"session_id": sess}, {"entity_id": "e1"},
                     {"session_id": sess, "user_id": "B"}, {"entity_id": "e1", "user_id": "B"}):
            body.update({"lang": "py", "code": "print(2)"})
            r = s.post("/jobs", body)
            assert r.status == 202 and r.json()["session_id"] != sess, (body, r.body)
        r = s.post("/jobs", {"lang": "py", "code": "print(3)", "user_id": "A", "entity_id": "e1"})
        assert r.json()["session_id"] == sess, r.body
        # B's entity session is B's own, and stable
        b1 = s.post("/jobs", {"lang": "py", "code": "1", "user_id": "B",
                              "entity_id": "e1"}).json()["session_id"]
        b2 = s.post("/jobs", {"lang": "py", "code": "1", "user_id": "B",
                              "entity_id": "e1"}).json()["session_id"]
        assert b1 == b2 != sess
        # batches: the submitter's user
        r = s.post("/jobs/batch", {"jobs": [{"lang": "py", "code": "1"}]},
                   headers={"User-Id": "A"})
        assert r.status == 202, r.body
        bid = r.json()["batch_id"]
        assert s.get("/jobs/batch/" + bid, key=s.KEY, headers={"User-Id": "A"}).status == 200
        for key, h in ((s.KEY, {}), (s.KEY, {"User-Id": "B"}), (s.OTHER_KEY, {"User-Id": "A"})):
            assert s.get("/jobs/batch/" + bid, key=key, headers=h).status == 404
        # /upload honours User-Id (legacy form, no kind): B cannot list A's upload
        r = upload(s, s.KEY, "A", [], [("a.txt", b"A's\n")])
        usid = r.json()["session_id"]
        assert s.get("/files/%s" % usid, key=s.KEY, headers={"User-Id": "A"}).status == 200
        assert s.get("/files/%s?user_id=A" % usid, key=s.KEY).status == 200
        for h in ({}, {"User-Id": "B"}):
            assert s.get("/files/%s" % usid, key=s.KEY, headers=h).status == 404
        # an invalid user id is a 422, not a wildcard
        r = s.get("/jobs/" + job, key=s.KEY, headers={"User-Id": "u" * 129})
        assert r.status == 422 and r.json()["details"][0]["field"] == "User-Id", r.body
        res = [(e["resource"], e["id"]) for e in events(s, "access_denied")]
        assert res.count(("job", job)) == 9, res
        assert res.count(("batch", bid)) == 3, res


CASES = {"matrix": case_matrix, "jobs_and_sessions": case_jobs_and_sessions}

if __name__ == "__main__":
    sys.exit(run_cases(CASES, sys.argv))
