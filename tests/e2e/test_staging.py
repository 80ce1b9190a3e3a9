"""End-to-end: what the worker does with /mnt/data around a run, attacked
the way a hostile program would (issue 14 finding 5) and used the way
LibreChat reads it (issue 12 items 4 and 7).

Real HTTP against the real ingress and worker, a private redis-server, the
machine's dockerd and the real py image.  Assertions are on outcomes and
sizes, never on timings: the attacks made today's code answer 504 (the
worker busy hashing or scanning past the wait) or store 1 GiB.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time

from receiver import Receiver
from stack import Stack, require_docker_image, run_cases, wait_for
from test_files import files_ref, upload

PY_IMAGE = "code-interpreter/py:" + os.environ.get("IMAGE_TAG", "latest")
WEBHOOK_ENV = {"WEBHOOK_SECRET": "whsec_" + "dGVzdC1zZWNyZXQtZm9yLXdlYmhvb2tzLTAxMjM0NTY3",
               "WEBHOOK_ALLOW_CIDRS": "127.0.0.1/32", "WEBHOOK_POLL_MS": "50"}
MB = 1 << 20


def stored_sizes(s):
    """Sizes of every object the local storage backend holds."""
    out = []
    root = os.path.join(s.tmp, "storage")
    for d, _, names in os.walk(root):
        out += [os.path.getsize(os.path.join(d, n)) for n in names]
    return out


def run(s, code, sid=None, files=None, timeout=None, http_timeout=240):
    body = {"lang": "py", "code": code}
    if sid:
        body["session_id"] = sid
    if files:
        body["files"] = files
    if timeout:
        body["timeout"] = timeout
    r = s.exec(body, timeout=http_timeout)
    assert r.status == 200, (r.status, r.body[:2000])
    return r.json()


SPARSE = """
import os
f = open('/mnt/data/huge.bin', 'wb')
try:
    f.truncate(20 << 30)        # 20 GB of nothing
except OSError:                 # a sandbox whose file size is bounded (RLIMIT_FSIZE)
    f.truncate(500 << 20)
f.close()
open('/mnt/data/small.txt', 'w').write('ok')
print(os.path.getsize('/mnt/data/huge.bin'))
"""


def case_sparse():
    """A 20 GB sparse file (or as large as the sandbox allows): never read,
    never hashed; the session's next call answers at once (today: hashed for
    92 s, a 504)."""
    require_docker_image(PY_IMAGE)
    with Stack() as s:
        j = run(s, SPARSE)
        assert j["status"] == "completed", j
        size = int(j["stdout"])
        assert size >= 500 << 20, size
        # the next call of the session stages in and out around the file
        j2 = run(s, "import os; print(os.path.getsize('/mnt/data/huge.bin'))",
                 sid=j["session_id"])
        assert j2["status"] == "completed" and j2["stdout"] == "%d\n" % size, j2
        assert j2["files"] == [] and "artifact_delivery" not in j2, j2
        assert max(stored_sizes(s)) <= 10 * MB
        assert [f["name"] for f in j["files"]] == ["small.txt"], j
        assert any("huge.bin" in w and "MAX_FILE_SIZE_MB" in w for w in j["warnings"]), j
        ad = j["artifact_delivery"]
        assert ad == {"code": "artifact_delivery_failed", "status": "partial",
                      "attempted": 2, "delivered": 1, "failed": 1}, ad


# 100,000 names for 4 inodes: hard links are cheap to make (a file create
# costs ~10 ms in a container on these machines, a link 0.1 ms), and each is
# a regular file the worker's scan meets.
MANY = """
import os
n = 0
try:
    for k in range(4):
        src = '/mnt/data/src%d' % k
        open(src, 'w').close()
        for i in range(25000):
            os.link(src, '/mnt/data/f%d_%05d' % (k, i))
            n += 1
except OSError as e:
    print('stopped:', e)
print(n)
"""


def case_many_files():
    """100,000 files: the scan stops at MAX_SCAN_ENTRIES, outputs at
    MAX_OUTPUT_FILES, and the next calls of the session are not O(n^2)
    (today: 37-86 s per call, a 504)."""
    require_docker_image(PY_IMAGE)
    with Stack(env={"MAX_SCAN_ENTRIES": "5000", "MAX_EXECUTION_TIME": "150"}) as s:
        j = run(s, MANY)
        assert j["status"] == "completed", j
        made = int(j["stdout"].split()[-1])
        assert made == 100000, j["stdout"]
        sid = j["session_id"]
        for _ in range(2):  # each call scans twice
            j2 = run(s, "import os; print(sum(n[0] == 'f' for n in os.listdir('/mnt/data')))",
                     sid=sid)
            assert j2["status"] == "completed" and int(j2["stdout"]) == made, j2
            assert j2["files"] == [], j2["files"]
        assert len(j["files"]) == 10, j["files"]  # MAX_OUTPUT_FILES
        assert all(f["name"].startswith(("f", "src")) for f in j["files"]), j["files"]
        w = " ".join(j["warnings"])
        assert "MAX_SCAN_ENTRIES (5000)" in w and "MAX_OUTPUT_FILES" in w, j["warnings"]
        ad = j["artifact_delivery"]
        assert ad["delivered"] == 10 and ad["attempted"] <= 5000, ad
        assert ad["failed"] == ad["attempted"] - 10, ad


GROW = """
import os
for i in range(8):
    with open('/mnt/data/grow%d.bin' % i, 'wb') as f:
        f.write(os.urandom(4 << 20))
"""


def grow_while_read(s, stop, hits):
    """Host side: when the worker holds a grow*.bin open, extends it to 1 GiB
    (sparse) - a file growing while it is read."""
    pid = s.procs["worker-1"].pid
    fddir = "/proc/%d/fd" % pid
    grown = set()
    while not stop.is_set():
        try:
            fds = os.listdir(fddir)
        except OSError:
            return
        for fd in fds:
            try:
                target = os.readlink(os.path.join(fddir, fd))
            except OSError:
                continue
            base = os.path.basename(target)
            if base.startswith("grow") and base.endswith(".bin") and target not in grown:
                try:
                    os.truncate(target, 1 << 30)
                    grown.add(target)
                    hits.append(base)
                except OSError:
                    pass


def case_grown_file():
    """A file grown while the worker reads it: never more than
    MAX_FILE_SIZE_MB stored (today: 1 GiB)."""
    require_docker_image(PY_IMAGE)
    with Stack() as s:
        stop = threading.Event()
        hits = []
        t = threading.Thread(target=grow_while_read, args=(s, stop, hits), daemon=True)
        t.start()
        try:
            j = run(s, GROW)
        finally:
            stop.set()
            t.join()
        assert j["status"] == "completed", j
        sizes = stored_sizes(s)
        # all eight may have grown while read (none stored): what is stored is bounded
        assert all(sz <= 10 * MB for sz in sizes), sorted(sizes)[-3:]
        got = {f["name"] for f in j["files"]}
        grew = [w for w in j["warnings"] if "grew past MAX_FILE_SIZE_MB" in w or
                "larger than MAX_FILE_SIZE_MB" in w]
        # each file is either stored whole (4 MiB, read before it grew) or
        # dropped with a warning naming why
        for f in j["files"]:
            d = s.get("/download/%s/%s" % (j["session_id"], f["id"]), key=s.KEY)
            assert d.status == 200 and len(d.body) == 4 * MB, (f, len(d.body))
        failed = j.get("artifact_delivery", {}).get("failed", 0)
        assert len(got) + failed == 8 and len(grew) == (1 if failed else 0), j
        print("grown while read:", hits, "warnings:", grew)


def case_symlinks():
    """Symlinks to host paths, to directories and on a staged input's path:
    never followed, never written through."""
    require_docker_image(PY_IMAGE)
    with Stack() as s:
        secret = os.path.join(s.tmp, "host-secret.txt")
        with open(secret, "w") as f:
            f.write("HOST SECRET")
        hostdir = os.path.join(s.tmp, "hostdir")
        os.mkdir(hostdir)
        code = ("import os\n"
                "os.symlink(%r, '/mnt/data/leak.txt')\n"
                "os.symlink(%r, '/mnt/data/hostdir')\n"
                "os.symlink('/etc', '/mnt/data/etc')\n"
                "os.symlink('/etc/passwd', '/mnt/data/passwd.txt')\n"
                "os.makedirs('/mnt/data/real/sub')\n"
                "os.symlink('/etc/passwd', '/mnt/data/real/sub/p.txt')\n"
                "open('/mnt/data/real/sub/ok.txt', 'w').write('fine')\n" % (secret, hostdir))
        j = run(s, code)
        assert j["status"] == "completed", j
        assert [f["name"] for f in j["files"]] == ["real/sub/ok.txt"], j["files"]
        sid = j["session_id"]
        # an input staged at a nested path whose directory is a symlink to a
        # host directory: refused, nothing written on the host (a failed
        # call discards its sandbox: the links are made again each time)
        up = upload(s, [("file", "x.csv", b"1,2\n")]).json()
        ref = lambda name: files_ref(up["session_id"], up["files"][0]["fileId"], name)
        for name in ("hostdir/x.csv", "etc/x.csv", "real/sub/p.txt/x.csv"):
            if name != "hostdir/x.csv":
                j = run(s, code.replace(repr(secret), repr(secret + ".2")))
                assert j["status"] == "completed", j
            j2 = run(s, "print(1)", sid=j["session_id"], files=ref(name))
            assert j2["status"] == "failed" and "symlink" in j2["stderr"], (name, j2)
        assert os.listdir(hostdir) == [], os.listdir(hostdir)
        assert not os.path.exists("/etc/x.csv")
        # the same nested input where the path is a real directory, or new
        j3 = run(s, "print(open('/mnt/data/real/sub/x.csv').read(), end='')", sid=sid,
                 files=ref("real/sub/x.csv"))
        assert j3["status"] == "completed" and j3["stdout"] == "1,2\n", j3
        j4 = run(s, "import os; print(oct(os.stat('/mnt/data/new/dir').st_mode & 0o777),"
                    " os.stat('/mnt/data/new/dir').st_uid, open('/mnt/data/new/dir/x.csv').read())",
                 sid=sid, files=ref("new/dir/x.csv"))
        assert j4["status"] == "completed" and j4["stdout"] == "0o755 1000 1,2\n\n", j4
        # nothing of the host's reached storage
        for d, _, names in os.walk(os.path.join(s.tmp, "storage")):
            for n in names:
                with open(os.path.join(d, n), "rb") as f:
                    data = f.read()
                assert b"HOST SECRET" not in data and b"root:" not in data, n


DEEP = """
import os
os.chdir('/mnt/data')
os.makedirs('a/b'); open('a/b/in.txt', 'w').write('kept')
for i in range(1400):           # 1400 * 5 bytes = 7 KB of path
    os.mkdir('dddd'); os.chdir('dddd')
open('deep.txt', 'w').write('too deep')
print(len(os.getcwd()))
"""


def rm_deep(s):
    """The stack's data dir may hold a tree too deep for shutil.rmtree."""
    subprocess.run(["rm", "-rf", "--one-file-system", os.path.join(s.tmp, "data")],
                   check=False)


def case_deep_tree():
    """A 7 KB-deep tree: the walk stops at MAX_OUTPUT_DEPTH (named in a
    warning), a file within it is kept with its relative path, and the
    session's next call works."""
    require_docker_image(PY_IMAGE)
    with Stack() as s:
        try:
            deep_tree(s)
        finally:
            s.kill("worker-1", signal.SIGTERM)  # its teardown removes (and unmounts) the trees
            rm_deep(s)


def deep_tree(s):
    j = run(s, DEEP)
    assert j["status"] == "completed", j
    assert int(j["stdout"]) > 7000, j["stdout"]
    assert [f["name"] for f in j["files"]] == ["a/b/in.txt"], j["files"]
    assert j["files"][0]["path"] == "/mnt/data/a/b/in.txt", j["files"]
    assert any("MAX_OUTPUT_DEPTH" in w and "dddd/dddd" in w for w in j["warnings"]), j
    j2 = run(s, "print('next')", sid=j["session_id"])
    assert j2["status"] == "completed" and j2["stdout"] == "next\n", j2


def case_lifecycle():
    """LibreChat's view of files: nested outputs keep their path and carry
    storage_session_id; unchanged inputs come back inherited; removed
    inputs are named in deleted_files; changed inputs are new outputs."""
    require_docker_image(PY_IMAGE)
    rx = Receiver()
    try:
        with Stack(env=WEBHOOK_ENV) as s:
            lifecycle(s, rx)
    finally:
        rx.close()


def lifecycle(s, rx):
    up = upload(s, [("file", "a.csv", b"a\n"), ("file", "b.csv", b"b\n"),
                    ("file", "c.csv", b"c\n")])
    assert up.status == 200, up.body
    u = up.json()
    usid = u["session_id"]
    ids = {f["filename"]: f["fileId"] for f in u["files"]}
    refs = [{"id": ids["a.csv"], "session_id": usid, "name": "a.csv"},
            {"id": ids["b.csv"], "session_id": usid, "name": "in/b.csv"},
            {"id": ids["c.csv"], "session_id": usid, "name": "c.csv"}]
    code = ("import os\n"
            "os.remove('/mnt/data/c.csv')\n"
            "open('/mnt/data/a.csv', 'a').write('more\\n')\n"
            "os.makedirs('/mnt/data/out/plots')\n"
            "open('/mnt/data/out/plots/p.txt', 'w').write('p')\n")
    j = run(s, code, files=refs)
    assert j["status"] == "completed", j
    by = {f["name"]: f for f in j["files"]}
    assert sorted(by) == ["a.csv", "in/b.csv", "out/plots/p.txt"], j["files"]
    b = by["in/b.csv"]
    assert b.get("inherited") is True and b["id"] == ids["b.csv"], b
    assert b["storage_session_id"] == usid and b["path"] == "/mnt/data/in/b.csv", b
    a = by["a.csv"]
    assert "inherited" not in a and a["id"] != ids["a.csv"], a
    assert a["storage_session_id"] == j["session_id"], a
    p = by["out/plots/p.txt"]
    assert p["path"] == "/mnt/data/out/plots/p.txt" and "inherited" not in p, p
    assert j["deleted_files"] == ["c.csv"], j
    assert "artifact_delivery" not in j, j
    d = s.get("/download/%s/%s" % (j["session_id"], a["id"]), key=s.KEY)
    assert d.status == 200 and d.body == b"a\nmore\n", d.body
    # the generated file fed to the next call (a fresh session)
    j2 = run(s, "print(open('/mnt/data/a.csv').read(), end='')",
             files=[{"id": a["id"], "session_id": a["storage_session_id"],
                     "name": a["name"]}])
    assert j2["stdout"] == "a\nmore\n", j2
    # the generated nested file fed to the next call at its path
    j3 = run(s, "print(open('/mnt/data/out/plots/p.txt').read())",
             files=[{"id": p["id"], "session_id": p["storage_session_id"],
                     "name": p["name"]}])
    assert j3["stdout"] == "p\n", j3
    assert [(f["name"], f.get("inherited")) for f in j3["files"]] == \
        [("out/plots/p.txt", True)], j3["files"]
    assert [f.get("inherited") for f in j2["files"]] == [True], j2["files"]
    # the same through GET /jobs/{id} and the job's webhook
    r = s.post("/jobs", {"lang": "py", "code": code, "files": refs, "callback_url": rx.url()})
    assert r.status == 202, r.body
    jid = r.json()["job_id"]
    g = s.get("/jobs/%s?wait=60" % jid, key=s.KEY).json()
    assert g["status"] == "completed", g
    assert g["result"]["deleted_files"] == ["c.csv"], g
    assert any(f.get("inherited") for f in g["result"]["files"]), g
    wait_for(lambda: len(rx.of_type()) >= 1, 60, "the webhook")
    hook = json.loads(rx.of_type()[0]["body"])["data"]["result"]
    assert hook["deleted_files"] == ["c.csv"], hook
    assert [f["name"] for f in hook["files"] if f.get("inherited")] == ["in/b.csv"], hook
    assert all(f["storage_session_id"] for f in hook["files"]), hook


def case_stderr_lines():
    """Outcomes the model would not see otherwise get one line in stderr."""
    require_docker_image(PY_IMAGE)
    with Stack(env={"MAX_EXECUTION_TIME": "2"}) as s:
        j = run(s, "import time; time.sleep(30)")
        assert j["status"] == "timeout", j
        assert j["stderr"].endswith("Execution timed out after 2 s\n"), j
    with Stack(env={"MAX_MEMORY_MB": "128"}) as s:
        j = run(s, "import sys; sys.exit(3)")
        assert j["status"] == "failed" and j["stderr"] == "Process exited with code 3\n", j
        j = run(s, "import sys; sys.stderr.write('own words\\n'); sys.exit(4)")
        assert j["stderr"] == "own words\n", j
        r = s.exec({"lang": "bash", "code": "exit 5"})
        jb = r.json()
        assert jb["stderr"] == "Process exited with code 5\n", jb
        j = run(s, "x = bytearray(1 << 30)\nfor i in range(0, len(x), 4096): x[i] = 1")
        if j["status"] == "oom":
            assert j["stderr"].endswith("Out of memory (limit 128 MB)\n"), j
        else:  # Python's own MemoryError: it said so itself
            assert j["status"] == "failed" and "MemoryError" in j["stderr"], j


CASES = {
    "sparse": case_sparse,
    "many_files": case_many_files,
    "grown_file": case_grown_file,
    "symlinks": case_symlinks,
    "deep_tree": case_deep_tree,
    "lifecycle": case_lifecycle,
    "stderr_lines": case_stderr_lines,
}

if __name__ == "__main__":
    sys.exit(run_cases(CASES, sys.argv))
