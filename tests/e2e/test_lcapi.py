"""End-to-end: LibreChat's server requests, replayed as its code makes them
(api/server/services/Files/Code/crud.js, process.js; @librechat/agents 3.9.2
CodeExecutor), through the real stack: ingress, worker, redis-server,
dockerd and the py image.

- uploads with form fields kind/id (and version/read_only for skills) and
  the User-Id header, single and batch;
- the freshness probe GET /sessions/{sid}/objects/{fid};
- /exec with CodeEnvFile references {id, resource_id, name,
  storage_session_id, kind, version?}, user_id, timeout in milliseconds;
- download of the outputs, removal (DELETE /sessions/.../objects/..., then
  DELETE /files/...);
- the stateful profile: runtime_session_hint, runtime_session_id/status.
"""
import os
import sys

from stack import Stack, require_docker_image, run_cases
from test_files import multipart

PY_IMAGE = "code-interpreter/py:latest"
LC = {"User-Agent": "LibreChat/1.0"}
JWT = None  # JWT mode: (sign function, tenant) - set by case_librechat_flow_jwt


def ident(user, key):
    """LibreChat's identity headers: key mode X-API-Key + User-Id; JWT mode
    only the Bearer token minted for (tenant, user) - no key header."""
    if JWT is None:
        return {"x-api-key": key, "User-Id": user}
    mint, tenant = JWT
    return {"Authorization": "Bearer " + mint(user, tenant if key == Stack.KEY else "other")}


def lc_request(s, method, path, user, key=Stack.KEY, headers=None, **kw):
    h = dict(LC, **ident(user, key))
    h.update(headers or {})
    return s.request(method, path, headers=h, **kw)


def lc_upload(s, user, fields, files, path="/upload", key=Stack.KEY):
    parts = [(k, None, v.encode()) for k, v in fields] + [("file", n, d) for n, d in files]
    ctype, body = multipart(parts)
    return lc_request(s, "POST", path, user, key, {"Content-Type": ctype}, raw=body)


def lc_exec(s, user, code, files=None, key=Stack.KEY, profile="default", hint=None, lang="py"):
    body = {"lang": lang, "code": code, "user_id": user, "timeout": 15000}
    if files:
        body["files"] = files
    if hint:
        body["runtime_session_hint"] = hint
    return lc_request(s, "POST", "/exec", user, key, {"X-CodeAPI-Expected-Profile": profile},
                      body=body)


def case_librechat_flow():
    require_docker_image(PY_IMAGE)
    with Stack() as s:
        librechat_flow(s)


def case_librechat_flow_jwt():
    """The same requests in JWT mode: an Ed25519 key pair made now, tokens
    with LibreChat's claims (tests/security_http/test_jwt.py)."""
    global JWT
    require_docker_image(PY_IMAGE)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                    "security_http"))
    from test_jwt import claims, make_keys, sign
    with Stack(start=False) as s:
        priv, pub = make_keys(s.tmp, "ed25519")
        s.env.update({"CODEAPI_JWT_PUBLIC_KEY_FILE": pub, "CODEAPI_JWT_AUDIENCE": "codeapi"})
        s.start()
        JWT = (lambda user, tenant: sign("EdDSA", priv, claims(user, tenant=tenant)), "lc-tenant")
        librechat_flow(s)


def librechat_flow(s):
    """The requests of crud.js/process.js and the agents' tools, in order."""
    # an agent's file, uploaded by its author (user A)
    r = lc_upload(s, "userA", [("kind", "agent"), ("id", "agent_42")],
                  [("sales.csv", b"region,amount\nnorth,3\nsouth,4\n")])
    assert r.status == 200 and r.json()["message"] == "success", r.body
    agent_sid = r.json()["storage_session_id"]
    agent_fid = r.json()["files"][0]["fileId"]
    assert r.json()["session_id"] == agent_sid
    # a skill's files, one batch, read-only; one file refused on its own
    r = lc_upload(s, "userA", [("kind", "skill"), ("id", "skill_7"), ("version", "2"),
                               ("read_only", "true")],
                  [("SKILL.md", b"# skill\n"), ("lib/helper.py", b"X = 41\n"),
                   ("evil.exe", b"MZ")], path="/upload/batch")
    assert r.status == 200, r.body
    b = r.json()
    assert b["message"] == "partial_success" and b["failed"] == 1, b
    st = {f["filename"]: f for f in b["files"]}
    assert st["evil.exe"]["status"] == "error" and st["evil.exe"]["error"], b
    assert st["lib/helper.py"]["status"] == "success", b
    skill_sid, helper_fid = b["storage_session_id"], st["lib/helper.py"]["fileId"]
    # the probe LibreChat makes before reusing a file
    r = lc_request(s, "GET", "/sessions/%s/objects/%s?kind=agent&id=agent_42" % (
        agent_sid, agent_fid), "userB")
    assert r.status == 200, r.body
    meta = r.json()
    assert meta["originalFilename"] == "sales.csv" and meta["lastModified"].endswith("Z"), meta
    # user B runs the agent with both, as ToolNode injects them
    files = [{"id": agent_fid, "resource_id": "agent_42", "name": "sales.csv",
              "storage_session_id": agent_sid, "kind": "agent"},
             {"id": helper_fid, "resource_id": "skill_7", "name": "helper.py",
              "storage_session_id": skill_sid, "kind": "skill", "version": 2}]
    code = ("import csv\n"
            "ns = {}\n"
            "exec(open('/mnt/data/helper.py').read(), ns)\n"
            "rows = list(csv.DictReader(open('/mnt/data/sales.csv')))\n"
            "print(sum(int(r['amount']) for r in rows) + ns['X'])\n"
            "open('/mnt/data/report.txt', 'w').write('total ok\\n')\n")
    r = lc_exec(s, "userB", code, files)
    assert r.status == 200, r.body
    j = r.json()
    assert j["stdout"] == "48\n", j
    out = [f for f in j["files"] if f["name"] == "report.txt"]
    assert out, j
    out_sid, out_fid = j["session_id"], out[0]["id"]
    # the generated file: downloaded as process.js does, by its user only
    r = lc_request(s, "GET", "/download/%s/%s?kind=user&id=userB" % (out_sid, out_fid),
                   "userB")
    assert r.status == 200 and r.body == b"total ok\n", (r.status, r.body)
    assert lc_request(s, "GET", "/download/%s/%s?kind=user&id=userA" % (out_sid, out_fid),
                      "userA").status == 404
    # another tenant cannot run with the agent's file (refused before queueing)
    r = lc_exec(s, "userB", "print(1)", files[:1], key=s.OTHER_KEY)
    assert r.status == 404 and r.json()["details"][0]["field"] == "files[0]", r.body
    # skill files are read-only; agent files are removed the LibreChat way
    r = lc_request(s, "DELETE", "/sessions/%s/objects/%s?kind=skill&id=skill_7&version=2" % (
        skill_sid, helper_fid), "userA")
    assert r.status == 403, r.body
    q = "?kind=agent&id=agent_42"
    assert lc_request(s, "DELETE", "/sessions/%s/objects/%s%s" % (agent_sid, agent_fid, q),
                      "userA").status == 200
    assert lc_request(s, "DELETE", "/files/%s/%s%s" % (agent_sid, agent_fid, q),
                      "userA").status == 404  # already gone
    assert lc_request(s, "GET", "/sessions/%s/objects/%s%s" % (agent_sid, agent_fid, q),
                      "userA").status == 404


def case_stateful_profile():
    require_docker_image(PY_IMAGE)
    with Stack() as s:
        hint = "conversation-123"
        r = lc_exec(s, "userA", "x = 41\nopen('/mnt/data/keep.txt','w').write('kept')\nprint(x)",
                    profile="stateful", hint=hint)
        assert r.status == 200, r.body
        j1 = r.json()
        assert j1["stdout"] == "41\n" and j1["runtime_status"] == "new", j1
        rsid = j1["runtime_session_id"]
        assert rsid == j1["session_id"], j1
        r = lc_exec(s, "userA", "print(x + 1, open('/mnt/data/keep.txt').read())",
                    profile="stateful", hint=hint)
        j2 = r.json()
        assert r.status == 200 and j2["runtime_status"] == "reused", j2
        assert j2["runtime_session_id"] == rsid and j2["stdout"] == "42 kept\n", j2
        # the same hint from another user is another workspace
        r = lc_exec(s, "userB", "print(1)", profile="stateful", hint=hint)
        assert r.json()["runtime_status"] == "new" and r.json()["runtime_session_id"] != rsid
        # default profile: no warm workspace is claimed
        r = lc_exec(s, "userA", "print(2)", profile="default", hint=hint)
        assert r.status == 200 and "runtime_status" not in r.json(), r.body
        # an unknown profile is refused before anything runs
        r = lc_exec(s, "userA", "print(3)", profile="gpu")
        assert r.status == 400 and r.json()["error_type"] == "execution_profile_mismatch", r.body


CASES = {"librechat_flow": case_librechat_flow, "librechat_flow_jwt": case_librechat_flow_jwt,
         "stateful_profile": case_stateful_profile}

if __name__ == "__main__":
    sys.exit(run_cases(CASES, sys.argv))
