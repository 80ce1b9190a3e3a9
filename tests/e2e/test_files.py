"""End-to-end: session files - upload, staging into /mnt/data, outputs,
listing, download, delete, limits, isolation between callers, expiry.

Real HTTP against the real ingress and worker, a private redis-server, the
machine's dockerd and the real py image; storage is a directory in the
stack's temp dir, or (flow_s3) a real s3rver process on loopback.
"""
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid

from stack import SKIP, Stack, free_port, require_docker_image, run_cases, wait_for

PY_IMAGE = "code-interpreter/py:" + os.environ.get("IMAGE_TAG", "latest")
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CSV = b"x,y\n1,2\n3,5\n"


def multipart(parts):
    """parts: list of (field, filename or None, bytes). Returns (ctype, body)."""
    boundary = "ci" + uuid.uuid4().hex
    out = b""
    for field, filename, data in parts:
        out += b"--" + boundary.encode() + b"\r\n"
        disp = b'Content-Disposition: form-data; name="' + field.encode() + b'"'
        if filename is not None:
            fn = filename if isinstance(filename, bytes) else filename.encode()
            disp += b'; filename="' + fn + b'"'
        out += disp + b"\r\n"
        if filename is not None:
            out += b"Content-Type: application/octet-stream\r\n"
        out += b"\r\n" + data + b"\r\n"
    out += b"--" + boundary.encode() + b"--\r\n"
    return "multipart/form-data; boundary=" + boundary, out


def upload(s, parts, key=Stack.KEY):
    ctype, body = multipart(parts)
    return s.request("POST", "/upload", key=key, raw=body, headers={"Content-Type": ctype})


def sha(b):
    return hashlib.sha256(b).hexdigest()


def files_ref(sid, fid, name):
    return [{"id": fid, "session_id": sid, "name": name}]


def check_error(r, status):
    assert r.status == status, (r.status, r.body)
    j = r.json()
    for k in ("error", "error_type", "details", "request_id", "timestamp"):
        assert k in j, j
    return j


PLOT = """
import hashlib
import matplotlib.pyplot as plt
import pandas as pd
df = pd.read_csv('/mnt/data/data.csv')
plt.plot(df['x'], df['y'])
plt.savefig('/mnt/data/plot.png')
print(hashlib.sha256(open('/mnt/data/plot.png', 'rb').read()).hexdigest())
"""


def flow(s):
    # upload (part "file" plus an entity)
    r = upload(s, [("entity_id", None, b"asst_1"), ("file", "data.csv", CSV)])
    assert r.status == 200, r.body
    up = r.json()
    assert up["message"] == "success", up
    sid = up["session_id"]
    assert len(up["files"]) == 1 and up["files"][0]["filename"] == "data.csv", up
    csv_id = up["files"][0]["fileId"]

    # the program reads it from /mnt/data; an unchanged input is not an
    # output: it comes back as itself, inherited (LibreChat skips it)
    r = s.exec({"lang": "py", "code": "print(open('/mnt/data/data.csv').read(), end='')",
                "session_id": sid, "files": files_ref(sid, csv_id, "data.csv")})
    j = r.json()
    assert r.status == 200 and j["stdout"] == CSV.decode(), j
    assert j["files"] == [{"id": csv_id, "name": "data.csv", "path": "/mnt/data/data.csv",
                           "session_id": sid, "storage_session_id": sid,
                           "inherited": True}], j
    assert j["session_id"] == sid, j

    # the program writes a PNG with matplotlib: listed in the response
    r = s.exec({"lang": "py", "code": PLOT, "session_id": sid,
                "files": files_ref(sid, csv_id, "data.csv")}, timeout=240)
    j = r.json()
    assert j["status"] == "completed", j
    png_hash = j["stdout"].strip()
    outs = [f for f in j["files"] if not f.get("inherited")]
    assert len(outs) == 1 and len(j["files"]) == 2, j
    out = outs[0]
    assert out["name"] == "plot.png" and out["path"] == "/mnt/data/plot.png", out
    assert out["session_id"] == sid and out["id"], out
    png_id = out["id"]

    # list: the three shapes
    summary = s.get("/files/%s?detail=summary" % sid, key=s.KEY)
    assert summary.status == 200, summary.body
    names = sorted(f["name"] for f in summary.json())
    assert names == sorted(["%s/%s" % (sid, csv_id), "%s/%s" % (sid, png_id)]), summary.body
    assert all(f["lastModified"].endswith("Z") for f in summary.json())
    simple = s.get("/files/%s?detail=simple" % sid, key=s.KEY).json()
    by_id = {f["id"]: f for f in simple}
    assert by_id[png_id] == {"id": png_id, "name": "plot.png", "path": "/mnt/data/plot.png"}
    assert by_id[csv_id]["name"] == "data.csv"
    full = {f["id"]: f for f in s.get("/files/%s?detail=full" % sid, key=s.KEY).json()}
    p = full[png_id]
    assert p["name"] == "%s/%s" % (sid, png_id) and p["session_id"] == sid, p
    assert p["contentType"] == "image/png" and p["etag"], p
    assert p["metadata"] == {"content-type": "image/png", "original-filename": "plot.png"}, p
    assert full[csv_id]["size"] == len(CSV), full[csv_id]
    assert s.get("/files/%s?detail=bogus" % sid, key=s.KEY).status == 422

    # download byte for byte
    d = s.get("/download/%s/%s" % (sid, png_id), key=s.KEY)
    assert d.status == 200, d.body
    assert d.body[:8] == b"\x89PNG\r\n\x1a\n", d.body[:16]
    assert sha(d.body) == png_hash, (sha(d.body), png_hash)
    assert p["size"] == len(d.body), p
    assert d.headers["content-type"] == "image/png", d.headers
    cd = d.headers["content-disposition"]
    assert cd.startswith("attachment;") and 'filename="plot.png"' in cd, cd
    assert "filename*=UTF-8''plot.png" in cd, cd
    assert d.headers.get("x-content-type-options") == "nosniff"

    # the next run uses the generated file by reference
    r = s.exec({"lang": "py", "session_id": sid, "files": files_ref(sid, png_id, "plot.png"),
                "code": "import hashlib\n"
                        "print(hashlib.sha256(open('/mnt/data/plot.png','rb').read()).hexdigest())"})
    j = r.json()
    assert j["stdout"].strip() == png_hash, j
    return sid, csv_id, png_id


# The matplotlib run may build its font cache first: on a loaded machine
# that alone can pass the default 30 s.
FLOW_ENV = {"MAX_EXECUTION_TIME": "120"}


def case_flow_local():
    require_docker_image(PY_IMAGE)
    with Stack(env=FLOW_ENV) as s:
        sid, csv_id, png_id = flow(s)
        # the local backend keeps plain files under STORAGE_DIR
        path = os.path.join(s.tmp, "storage", "files", sid, png_id)
        with open(path, "rb") as f:
            assert f.read()[:4] == b"\x89PNG"
        # a non-ASCII name: safe ASCII plus the UTF-8 form
        r = upload(s, [("files", "donn\xe9es r\xe9sum\xe9.txt".encode(), b"caf\xc3\xa9\n")])
        assert r.status == 200, r.body
        u = r.json()
        d = s.get("/download/%s/%s" % (u["session_id"], u["files"][0]["fileId"]), key=s.KEY)
        cd = d.headers["content-disposition"]
        assert 'filename="donn_es r_sum_.txt"' in cd, cd
        assert "filename*=UTF-8''donn%C3%A9es%20r%C3%A9sum%C3%A9.txt" in cd, cd
        assert d.body == b"caf\xc3\xa9\n"


def start_s3rver(tmp):
    binp = os.path.join(ROOT, "ops", "s3", "node_modules", ".bin", "s3rver")
    if not os.path.exists(binp):
        print("s3rver is not installed: bash ops/s3/install.sh")
        raise SystemExit(1)
    port = free_port()
    d = os.path.join(tmp, "s3")
    os.makedirs(d)
    log = open(os.path.join(tmp, "s3rver.log"), "ab")
    p = subprocess.Popen(["node", "--openssl-legacy-provider", binp, "-d", d, "-a", "127.0.0.1",
                          "-p", str(port), "--configure-bucket", "ci-files"],
                         stdout=log, stderr=log, start_new_session=True)

    def up():
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    wait_for(up, 20, "s3rver")
    return p, port, d


def case_flow_s3():
    require_docker_image(PY_IMAGE)
    s = Stack(env=FLOW_ENV, start=False)
    p = None
    try:
        p, port, d = start_s3rver(s.tmp)
        s.env.update({"STORAGE_BACKEND": "s3", "S3_ENDPOINT": "http://127.0.0.1:%d" % port,
                      "S3_BUCKET": "ci-files", "S3_ACCESS_KEY": "S3RVER",
                      "S3_SECRET_KEY": "S3RVER", "S3_REGION": "us-east-1"})
        with s:
            s.start()
            sid, csv_id, png_id = flow(s)
            # the objects are in s3rver's bucket, not in STORAGE_DIR
            assert not os.path.exists(os.path.join(s.tmp, "storage", "files", sid))
            found = [os.path.join(r, f) for r, _, fs in os.walk(d) for f in fs if png_id in r + f]
            assert found, "no object for %s in s3rver's directory" % png_id
            r = s.request("DELETE", "/files/%s/%s" % (sid, png_id), key=s.KEY)
            assert r.status == 200, r.body
            assert s.get("/download/%s/%s" % (sid, png_id), key=s.KEY).status == 404
    finally:
        if p:
            os.killpg(p.pid, 9)
            p.wait()


def case_limits():
    with Stack(workers=0, env={"MAX_FILE_SIZE_MB": "1", "MAX_FILES_PER_SESSION": "2"}) as s:
        # 413: over MAX_FILE_SIZE_MB, streamed (no Content-Length shortcut)
        j = check_error(upload(s, [("file", "big.txt", b"a" * (1024 * 1024 + 10))]), 413)
        assert j["error_type"] == "payload_too_large", j
        # 413: too many files at once
        three = [("files", "f%d.txt" % i, b"x") for i in range(3)]
        j = check_error(upload(s, three), 413)
        # 415: extension off the whitelist, and a wrong content type
        j = check_error(upload(s, [("file", "run.exe", b"MZ")]), 415)
        assert j["details"][0]["field"] == "files[0].filename", j
        check_error(upload(s, [("file", "noext", b"x")]), 415)
        r = s.request("POST", "/upload", key=s.KEY, raw=b"{}",
                      headers={"Content-Type": "application/json"})
        check_error(r, 415)
        # bad names: 400 (or 422), never stored (nested "a/b.txt" is a name;
        # empty, absolute, "." and ".." components are not)
        for bad in (b"../x.txt", b"a/../b.txt", b"a//b.txt", b"/abs.txt", b"a/./b.txt",
                    b"x" * 252 + b".txt", b"a\x01b.txt"):
            r = upload(s, [("file", bad, b"x")])
            assert r.status in (400, 422), (bad, r.status, r.body)
            check_error(r, r.status)
        # a NUL in the name: MHD's parser drops the part, so nothing is taken
        r = upload(s, [("file", b"evil.exe\x00.txt", b"x")])
        check_error(r, 400)
        # no file part
        check_error(upload(s, [("entity_id", None, b"e1")]), 400)
        # bad entity_id
        check_error(upload(s, [("entity_id", None, b"bad id!"), ("file", "a.txt", b"x")]), 422)
        # nothing of the refused uploads reached storage
        root = os.path.join(s.tmp, "storage", "files")
        assert not os.path.exists(root) or not os.listdir(root), os.listdir(root)
        # the session cap holds across uploads
        r = upload(s, [("entity_id", None, b"e2"), ("files", "a.txt", b"1"), ("files", "b.txt", b"2")])
        assert r.status == 200, r.body
        check_error(upload(s, [("entity_id", None, b"e2"), ("file", "c.txt", b"3")]), 413)


def case_cross_caller():
    require_docker_image(PY_IMAGE)
    with Stack() as s:
        up = upload(s, [("file", "secret.txt", b"top secret\n")]).json()
        sid, fid = up["session_id"], up["files"][0]["fileId"]
        other = s.OTHER_KEY
        assert s.get("/files/%s" % sid, key=other).status == 404
        assert s.get("/download/%s/%s" % (sid, fid), key=other).status == 404
        assert s.request("DELETE", "/files/%s/%s" % (sid, fid), key=other).status == 404
        # the file cannot be pulled into another caller's run: the ingress
        # refuses the reference (404 naming it), and nothing is enqueued
        r = s.exec({"lang": "py", "code": "print(open('/mnt/data/secret.txt').read())",
                    "files": files_ref(sid, fid, "secret.txt")}, key=other)
        j = r.json()
        assert r.status == 404 and j["error_type"] == "not_found", j
        assert j["details"][0]["field"] == "files[0]", j
        assert "top secret" not in r.body.decode(), j
        # nor by the same key for another user, nor by none (never a wildcard)
        for who in ({"user_id": "B"}, {"user_id": "A"}):
            r = s.exec({"lang": "py", "code": "print(open('/mnt/data/secret.txt').read())",
                        "files": files_ref(sid, fid, "secret.txt"), **who})
            assert r.status == 404 and "top secret" not in r.body.decode(), r.body
        # nor named into its session
        r = s.exec({"lang": "py", "code": "print(1)", "session_id": sid}, key=other).json()
        assert r["session_id"] != sid, r
        # the owner still has it; delete, then it is gone
        assert s.get("/download/%s/%s" % (sid, fid), key=s.KEY).body == b"top secret\n"
        assert s.request("DELETE", "/files/%s/%s" % (sid, fid), key=s.KEY).status == 200
        assert s.get("/download/%s/%s" % (sid, fid), key=s.KEY).status == 404
        assert s.request("DELETE", "/files/%s/%s" % (sid, fid), key=s.KEY).status == 404
        assert s.get("/files/%s?detail=simple" % sid, key=s.KEY).json() == []
        # unknown ids are 404 too
        assert s.get("/download/%s/nope" % sid, key=s.KEY).status == 404
        assert s.get("/files/no-such-session", key=s.KEY).status == 404


def case_outputs_limits():
    require_docker_image(PY_IMAGE)
    with Stack(env={"MAX_OUTPUT_FILES": "2", "MAX_FILE_SIZE_MB": "1"}) as s:
        code = ("import os\n"
                "for i in range(4): open('/mnt/data/o%d.txt' % i, 'w').write(str(i))\n"
                "open('/mnt/data/huge.txt', 'wb').write(b'x' * (2 << 20))\n"
                "os.symlink('/etc/passwd', '/mnt/data/link.txt')\n"
                "os.mkdir('/mnt/data/sub'); open('/mnt/data/sub/in.txt', 'w').write('s')\n")
        j = s.exec({"lang": "py", "code": code}).json()
        assert j["status"] == "completed", j
        names = [f["name"] for f in j["files"]]
        assert names == ["o0.txt", "o1.txt"], names  # name order, capped, no link, no dir
        w = " ".join(j["warnings"])
        assert "huge.txt" in w and "MAX_OUTPUT_FILES" in w, j["warnings"]
        # a second run in the same session reports only what changed
        j2 = s.exec({"lang": "py", "session_id": j["session_id"],
                     "code": "open('/mnt/data/o0.txt', 'w').write('changed')"}).json()
        assert [f["name"] for f in j2["files"]] == ["o0.txt"], j2


def case_expiry():
    with Stack(workers=0, env={"SESSION_SWEEP_SECONDS": "1"}) as s:
        up = upload(s, [("file", "a.txt", b"a")]).json()
        keep = upload(s, [("file", "b.txt", b"b")]).json()
        sid = up["session_id"]
        d = os.path.join(s.tmp, "storage", "files", sid)
        assert os.path.isdir(d)
        s.redis("DEL", "ci:sess:" + sid)  # what the TTL does
        wait_for(lambda: not os.path.exists(d), 15, "the expired session's files to go")
        assert s.get("/files/%s" % sid, key=s.KEY).status == 404
        # a live session keeps its files
        assert os.path.isdir(os.path.join(s.tmp, "storage", "files", keep["session_id"]))
        r = s.get("/download/%s/%s" % (keep["session_id"], keep["files"][0]["fileId"]), key=s.KEY)
        assert r.body == b"b"


def vm_hwm_kb(pid):
    """Peak resident memory of a process (VmHWM, kB)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def case_download_streams():
    """Downloads stream from the stored file: 4 concurrent downloads of a 48 MB
    file leave the ingress's peak memory where the upload left it."""
    size = 48 << 20
    with Stack(workers=0, env={"MAX_FILE_SIZE_MB": "64"}) as s:
        blob = os.urandom(1 << 20) * 48
        r = upload(s, [("file", "big.csv", blob)])
        assert r.status == 200, r.body
        sid, fid = r.json()["session_id"], r.json()["files"][0]["fileId"]
        pid = s.procs["ingress"].pid
        before = vm_hwm_kb(pid)
        digests = []

        def fetch():
            g = s.get("/download/%s/%s" % (sid, fid), key=s.KEY)
            assert g.status == 200 and int(g.headers["content-length"]) == size, g.headers
            digests.append(sha(g.body))

        ts = [threading.Thread(target=fetch) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert digests == [sha(blob)] * 4, digests
        grown = vm_hwm_kb(pid) - before
        # held in memory, 4 x 48 MB would have been needed at once
        assert grown < 24 * 1024, "peak memory grew by %d kB" % grown
        print("download_streams: peak RSS %d kB before, +%d kB after 4 x 48 MB downloads"
              % (before, grown))


CASES = {
    "download_streams": case_download_streams,
    "flow_local": case_flow_local,
    "flow_s3": case_flow_s3,
    "limits": case_limits,
    "cross_caller": case_cross_caller,
    "outputs_limits": case_outputs_limits,
    "expiry": case_expiry,
}

if __name__ == "__main__":
    sys.exit(run_cases(CASES, sys.argv))
