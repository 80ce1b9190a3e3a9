"""The real LibreChat client against the real stack.

LibreChat's own library, @librechat/agents 3.9.2 (pinned in package.json and
package-lock.json, installed by install.sh from the test command's set-up),
drives the stack: its ToolNode runs the tools made by
createCodeExecutionTool and createBashExecutionTool, injecting session_id
and _injected_files and keeping its code session from each result
(drive.mjs).  What LibreChat's server does around it - uploads with
kind/id and User-Id, the host's read_file (/exec with cat '<path>') - is
sent here as that server sends it.  Assertions are on what the model reads
(the tool message text) and on what the library keeps (its session files).

A missing node module fails the case (set-up failure), it never skips.
Only loopback addresses are used (DESIGN.md section 7).
"""
import json
import os
import subprocess
import sys
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

from stack import Stack, require_docker_image, run_cases  # noqa: E402

PY_IMAGE = "code-interpreter/py:" + os.environ.get("IMAGE_TAG", "latest")
BASH_IMAGE = "code-interpreter/bash:" + os.environ.get("IMAGE_TAG", "latest")
LC_HEADERS = {"User-Agent": "LibreChat/1.0"}


def require_client():
    if not os.path.isfile(os.path.join(HERE, "node_modules", "@librechat", "agents",
                                       "package.json")):
        raise AssertionError("@librechat/agents is not installed: run "
                             "bash tests/librechat/install.sh (the test command does)")


def drive(s, steps, session=None, auth=None, user="ci-user"):
    """Runs steps through LibreChat's ToolNode; returns one dict per step."""
    plan = {"baseUrl": "http://127.0.0.1:%d" % s.port,
            "auth": auth or {"headers": {"X-API-Key": s.KEY}},
            "session": session, "steps": steps, "userId": user}
    p = subprocess.run(["node", os.path.join(HERE, "drive.mjs")], input=json.dumps(plan),
                       capture_output=True, text=True, timeout=600, cwd=HERE)
    if p.returncode != 0:
        raise AssertionError("drive.mjs failed (%d): %s" % (p.returncode, p.stderr[-3000:]))
    out = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    assert len(out) == len(steps), (p.stdout[-3000:], p.stderr[-3000:])
    return out


def multipart(fields, files):
    boundary = "lc" + uuid.uuid4().hex
    out = b""
    for k, v in fields:
        out += (b"--" + boundary.encode() + b"\r\nContent-Disposition: form-data; name=\"" +
                k.encode() + b"\"\r\n\r\n" + v.encode() + b"\r\n")
    for name, data in files:
        out += (b"--" + boundary.encode() + b"\r\nContent-Disposition: form-data; "
                b"name=\"file\"; filename=\"" + name.encode() +
                b"\"\r\nContent-Type: application/octet-stream\r\n\r\n" + data + b"\r\n")
    out += b"--" + boundary.encode() + b"--\r\n"
    return "multipart/form-data; boundary=" + boundary, out


def lc_upload(s, user, name, data, kind="user", rid=None, token=None):
    """POST /upload as LibreChat's server sends it (crud.js): part "file",
    form kind and id, header User-Id; X-API-Key, or in JWT mode the
    user's Bearer token."""
    ctype, body = multipart([("kind", kind), ("id", rid or user)], [(name, data)])
    h = dict(LC_HEADERS, **{"Content-Type": ctype, "User-Id": user})
    if token:
        h["Authorization"] = "Bearer " + token
    r = s.request("POST", "/upload", key=None if token else s.KEY, raw=body, headers=h)
    assert r.status == 200, (r.status, r.body)
    j = r.json()
    assert j["message"] == "success", j
    sid = j.get("storage_session_id") or j["session_id"]
    f = j["files"][0]
    return {"id": f["fileId"], "name": f["filename"], "storage_session_id": sid,
            "kind": kind, "resource_id": rid or user}


def session_names(step):
    return sorted(f["name"] for f in (step["session"] or {}).get("files", []))


def case_plain_runs():
    """py and bash through the two tools: the model reads stdout."""
    require_client()
    require_docker_image(PY_IMAGE)
    require_docker_image(BASH_IMAGE)
    with Stack() as s:
        out = drive(s, [
            {"tool": "execute_code", "args": {"lang": "py", "code": "print(6 * 7)"}},
            {"tool": "bash_tool", "args": {"command": "echo hi from bash; ls /mnt/data | wc -l"}},
            {"tool": "execute_code", "args": {"lang": "py", "code": "x = 1"}},
        ])
        assert out[0]["content"] == "stdout:\n42", out[0]
        assert out[0]["artifact"]["session_id"], out[0]
        assert out[1]["content"].startswith("stdout:\nhi from bash\n"), out[1]
        # nothing printed: the library's own hint, no error
        assert out[2]["content"].startswith("stdout: Empty."), out[2]


def case_files_flow():
    """An uploaded file passed as _injected_files, a generated nested file
    fed to the next call (bash), the host's read_file, a deletion the
    library honours."""
    require_client()
    require_docker_image(PY_IMAGE)
    require_docker_image(BASH_IMAGE)
    with Stack() as s:
        ref = lc_upload(s, "u1", "data.csv", b"x,y\n1,2\n3,5\n")
        primed = {"session_id": ref["storage_session_id"], "files": [ref]}
        out = drive(s, [
            {"tool": "execute_code", "args": {"lang": "py", "code": (
                "import os, csv\n"
                "rows = list(csv.reader(open('/mnt/data/data.csv')))\n"
                "os.makedirs('/mnt/data/out', exist_ok=True)\n"
                "open('/mnt/data/out/sum.txt', 'w').write(str(sum(int(r[1]) for r in rows[1:])))\n"
                "print(len(rows))")}},
            {"tool": "bash_tool", "args": {"command": "cat /mnt/data/out/sum.txt; echo"}},
            {"tool": "execute_code", "args": {"lang": "py", "code": (
                "import os; os.remove('/mnt/data/data.csv'); print('removed')")}},
        ], session=primed, user="u1")
        a = out[0]
        assert a["content"].startswith("stdout:\n3\n\n"), a
        files = a["artifact"]["files"]
        by = {f["name"]: f for f in files}
        assert by["data.csv"].get("inherited") is True, files
        assert by["out/sum.txt"]["path"] == "/mnt/data/out/sum.txt", files
        assert by["out/sum.txt"]["storage_session_id"], files
        # the model is told about the one generated file, not the inherited input
        assert "Session files: 1 persisted file(s)" in a["content"], a["content"]
        assert session_names(a) == ["data.csv", "out/sum.txt"], a["session"]
        # the generated nested file reached the bash call through _injected_files
        assert out[1]["content"] == "stdout:\n7", out[1]
        # deleted_files: the library drops the input from its session
        c = out[2]
        assert c["artifact"].get("deleted_files") == ["data.csv"], c["artifact"]
        assert session_names(c) == ["out/sum.txt"], c["session"]
        # the host's read_file: /exec with cat '<path>' and the session's files
        gen = [f for f in c["session"]["files"] if f["name"] == "out/sum.txt"][0]
        body = {"lang": "bash", "code": "cat '/mnt/data/out/sum.txt'", "user_id": "u1",
                "files": [{"id": gen["id"], "resource_id": gen.get("resource_id", gen["id"]),
                           "name": gen["name"], "storage_session_id": gen["storage_session_id"],
                           "kind": gen.get("kind", "user")}]}
        r = s.request("POST", "/exec", body=body, key=s.KEY, headers=LC_HEADERS)
        assert r.status == 200 and r.json()["stdout"] == "7\n", (r.status, r.body)
        d = s.request("GET", "/download/%s/%s?kind=user&id=u1" % (gen["storage_session_id"],
                                                                 gen["id"]),
                      key=s.KEY, headers=dict(LC_HEADERS, **{"User-Id": "u1"}))
        assert d.status == 200 and d.body == b"7", (d.status, d.body)


def case_model_messages():
    """What the model reads when things go wrong (LibreChat never reads
    status): a timeout, a silent failure, outputs that were dropped."""
    require_client()
    require_docker_image(PY_IMAGE)
    with Stack(env={"MAX_EXECUTION_TIME": "8", "MAX_OUTPUT_FILES": "3"}) as s:
        out = drive(s, [
            {"tool": "execute_code", "args": {"lang": "py", "code": "import time; time.sleep(60)"}},
            {"tool": "execute_code", "args": {"lang": "py", "code": "import sys; sys.exit(3)"}},
            {"tool": "execute_code", "args": {"lang": "py", "code": (
                "for i in range(5): open('/mnt/data/r%d.txt' % i, 'w').write(str(i))")}},
        ])
        assert "stderr:\nExecution timed out after 8 s" in out[0]["content"], out[0]
        assert "stderr:\nProcess exited with code 3" in out[1]["content"], out[1]
        c = out[2]
        assert ("Artifact delivery warning: 2 of 5 generated files could not be persisted"
                in c["content"]), c["content"]
        assert c["artifact"]["artifact_delivery"] == {
            "code": "artifact_delivery_failed", "status": "partial", "attempted": 5,
            "delivered": 3, "failed": 2}, c["artifact"]
        assert session_names(c) == ["r0.txt", "r1.txt", "r2.txt"], c["session"]


def make_keys(tmp):
    priv, pub = os.path.join(tmp, "lc.key"), os.path.join(tmp, "lc.pub")
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", priv], check=True,
                   capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", priv, "-pubout", "-out", pub], check=True,
                   capture_output=True)
    return priv, pub


def mint(priv, claims):
    """A token minted by drive.mjs's signer (LibreChat's claims, Node's crypto)."""
    p = subprocess.run(["node", os.path.join(HERE, "drive.mjs"), "--mint"],
                       input=json.dumps({"privateKeyPem": open(priv).read(), "claims": claims}),
                       capture_output=True, text=True, timeout=60, cwd=HERE)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def case_jwt_mode():
    """JWT mode (no key header anywhere): tokens minted with LibreChat's
    claims and the test's Ed25519 key; a user's upload reaches that user's
    runs through the tools, and another user's token does not stage it."""
    require_client()
    require_docker_image(PY_IMAGE)
    require_docker_image(BASH_IMAGE)
    with Stack(start=False) as s:
        priv, pub = make_keys(s.tmp)
        s.env.pop("API_KEYS", None)
        s.env.update({"CODEAPI_JWT_PUBLIC_KEY_FILE": pub, "CODEAPI_JWT_AUDIENCE": "codeapi"})
        s.start()
        who = {"sub": "u1", "tenant_id": "t1"}
        ref = lc_upload(s, "u1", "in.txt", b"jwt data\n", token=mint(priv, who))
        jwt = {"jwt": {"privateKeyPem": open(priv).read(), "claims": who}}
        primed = {"session_id": ref["storage_session_id"], "files": [ref]}
        out = drive(s, [
            {"tool": "execute_code", "args": {"lang": "py", "code": (
                "print(open('/mnt/data/in.txt').read(), end='')\n"
                "open('/mnt/data/made.txt', 'w').write('by u1')")}},
            {"tool": "bash_tool", "args": {"command": "cat /mnt/data/made.txt"}},
        ], session=primed, auth=jwt, user="u1")
        assert out[0]["content"].startswith("stdout:\njwt data"), out[0]
        assert out[1]["content"] == "stdout:\nby u1", out[1]
        # user u2 of the same tenant, same file references: not staged
        other = {"jwt": {"privateKeyPem": open(priv).read(),
                         "claims": {"sub": "u2", "tenant_id": "t1"}}}
        out2 = drive(s, [{"tool": "execute_code", "args": {"lang": "py", "code": "print(1)"}}],
                     session=primed, auth=other, user="u2")
        assert out2[0]["status"] == "error" and "stdout:" not in out2[0]["content"], out2[0]
        # a key header is refused in JWT-only mode
        r = s.request("POST", "/exec", body={"lang": "py", "code": "print(1)"}, key=Stack.KEY)
        assert r.status == 401, r.status


CASES = {
    "jwt_mode": case_jwt_mode,
    "plain_runs": case_plain_runs,
    "files_flow": case_files_flow,
    "model_messages": case_model_messages,
}

if __name__ == "__main__":
    sys.exit(run_cases(CASES, sys.argv))
