"""End-to-end: scale-out across hosts (issue 9).

Two "hosts" on this machine: network namespaces with their own addresses,
each joined by a veth pair to a bridge this test creates in the root
namespace on a private 10.251.N.0/24 that is checked to be unused first (no
address, no route; `ip route get` goes to the default gateway).  The bridge
has .1; host A has .2, host B .3, and their only route is that /24: nothing
else is reachable from inside.  No address is added to any existing
interface and no existing route is changed.

Root namespace: a private redis-server and s3rver bound to the bridge
address, the ingress (on loopback, Redis at the bridge address).  One
ci-worker per namespace (`nsenter --net`), WORKER_CONCURRENCY=1, its own
WORKER_ID, RUN_DIR, DATA_DIR and STORAGE_DIR, STORAGE_BACKEND=s3.  dockerd
is reached through its unix socket (a file path: namespaces don't isolate
it; checked before the workers start).

One session then runs several /exec calls: both workers serve calls (job
hash field `worker`), Python state carries across them (x = 42, then x += 1
on every call), an uploaded file is read on both hosts, a file written on one
host downloads byte-exact and is read by the next call the other host
serves, and state archived to S3 comes back on a host after its Redis copy
is gone.  Everything is removed in `finally`, also on failure.
"""
import hashlib
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
import uuid

from stack import SKIP, Stack, free_port, require_docker_image, run_cases, wait_for

PY_IMAGE = "code-interpreter/py:" + os.environ.get("IMAGE_TAG", "latest")
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOCKER_SOCKET = os.environ.get("DOCKER_SOCKET", "/var/run/docker.sock")


def skip(why):
    print("skip: " + why)
    raise SystemExit(SKIP)


def ip(*args, check=True):
    r = subprocess.run(["ip"] + list(args), capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("ip %s: %s" % (" ".join(args), r.stderr.strip()))
    return r


# -- the two hosts -----------------------------------------------------------
class Hosts:
    """A bridge in the root namespace and two namespaces hanging off it."""

    def __init__(self):
        tag = "%04x" % (os.getpid() & 0xffff)
        self.bridge = "cso%sbr" % tag
        self.ns = {"a": "ci-host-a-" + tag, "b": "ci-host-b-" + tag}
        self.veth = {h: "cso%s%s" % (tag, h) for h in "ab"}
        self.worker_id = {h: "host-%s-%s" % (h, tag) for h in "ab"}
        self.made_ns = []
        self.made_links = []
        self.net = None

    def pick_net(self):
        """A 10.251.N.0/24 no interface or route of this machine uses."""
        addrs = ip("-4", "-o", "addr", "show").stdout
        used = [ipaddress.ip_interface(w).network for line in addrs.splitlines()
                for i, w in enumerate(line.split()) if i > 0 and line.split()[i - 1] == "inet"]
        kinds = ("unicast", "local", "broadcast", "multicast", "unreachable", "blackhole",
                 "prohibit", "throw", "anycast", "nat")
        for line in ip("-4", "route", "show", "table", "all").stdout.splitlines():
            w = line.split()
            while w and w[0] in kinds:
                w = w[1:]
            if not w or w[0] == "default":
                continue
            try:
                used.append(ipaddress.ip_network(w[0], strict=False))
            except ValueError:
                pass
        start = os.getpid() % 200
        for k in range(200):
            net = ipaddress.ip_network("10.251.%d.0/24" % (20 + (start + k) % 200))
            if any(net.overlaps(u) for u in used):
                continue
            probe = ip("route", "get", str(net[1]), check=False)
            # unused: no route at all, or only the default one through a
            # gateway (not a link or a local address)
            if probe.returncode != 0 or (" via " in probe.stdout and
                                         not probe.stdout.startswith("local")):
                return net
        raise RuntimeError("no free 10.251.N.0/24")

    def up(self):
        self.net = self.pick_net()
        self.addr = {"root": str(self.net[1]), "a": str(self.net[2]), "b": str(self.net[3])}
        plen = self.net.prefixlen
        ip("link", "add", self.bridge, "type", "bridge")
        self.made_links.append(self.bridge)
        ip("addr", "add", "%s/%d" % (self.addr["root"], plen), "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        for h in "ab":
            ns, veth = self.ns[h], self.veth[h]
            r = ip("netns", "add", ns, check=False)
            if r.returncode != 0:
                skip("cannot create a network namespace here: " + r.stderr.strip())
            self.made_ns.append(ns)
            ip("link", "add", veth, "type", "veth", "peer", "name", veth + "n")
            self.made_links.append(veth)
            ip("link", "set", veth + "n", "netns", ns)
            ip("link", "set", veth, "master", self.bridge)
            ip("link", "set", veth, "up")
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "link", "set", veth + "n", "name", "eth0")
            ip("-n", ns, "addr", "add", "%s/%d" % (self.addr[h], plen), "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")
        self.check()

    def check(self):
        """The range routes only to this test's links; the hosts have no
        route but their /24 (nothing beyond this machine is reachable)."""
        for h in "ab":
            r = ip("route", "get", self.addr[h]).stdout
            assert (" dev %s " % self.bridge) in r and " via " not in r, r
            routes = ip("-n", self.ns[h], "-4", "route", "show").stdout.strip().splitlines()
            assert routes == ["%s dev eth0 proto kernel scope link src %s" %
                              (self.net, self.addr[h])], routes
            r = ip("-n", self.ns[h], "route", "get", self.addr["root"]).stdout
            assert " dev eth0 " in r and " via " not in r, r
        # the namespaces reach the bridge address
        def reach():
            return all(subprocess.run(["ip", "netns", "exec", self.ns[h], sys.executable, "-c",
                                       PROBE_TCP, self.addr["root"]],
                                      capture_output=True).returncode in (0, 3) for h in "ab")
        wait_for(reach, 10, "the veth links")

    def down(self):
        for ns in self.made_ns:          # takes the veth ends inside with it
            ip("netns", "del", ns, check=False)
        for link in reversed(self.made_links):
            if ip("link", "show", link, check=False).returncode == 0:
                ip("link", "del", link, check=False)


# exit 0: connected, 3: refused (the address answers), 1: no route / timeout
PROBE_TCP = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], 9), timeout=1).close()
except ConnectionRefusedError:
    sys.exit(3)
except OSError:
    sys.exit(1)
"""

# dockerd's unix socket from inside a namespace: GET /_ping -> OK
PROBE_DOCKER = """
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(b"GET /_ping HTTP/1.0\\r\\nHost: docker\\r\\n\\r\\n")
data = b""
while True:
    c = s.recv(4096)
    if not c:
        break
    data += c
sys.exit(0 if data.startswith(b"HTTP/1.") and data.endswith(b"OK") else 1)
"""


def start_s3rver(tmp, host):
    binp = os.path.join(ROOT, "ops", "s3", "node_modules", ".bin", "s3rver")
    if not os.path.exists(binp):
        print("s3rver is not installed: bash ops/s3/install.sh")
        raise SystemExit(1)
    port = free_port(host)
    d = os.path.join(tmp, "s3")
    os.makedirs(d)
    log = open(os.path.join(tmp, "s3rver.log"), "ab")
    p = subprocess.Popen(["node", "--openssl-legacy-provider", binp, "-d", d, "-a", host,
                          "-p", str(port), "--configure-bucket", "ci-files"],
                         stdout=log, stderr=log, start_new_session=True)

    def up():
        with socket.create_connection((host, port), timeout=1):
            return True
    wait_for(up, 20, "s3rver")
    return p, port, d


# -- RESP and HTTP helpers ----------------------------------------------------
def resp_list(reply):
    """Bulk strings of a flat RESP array reply."""
    assert reply.startswith(b"*"), reply
    out, rest = [], reply.partition(b"\r\n")[2]
    while rest:
        head, _, rest = rest.partition(b"\r\n")
        n = int(head[1:])
        out.append(rest[:n])
        rest = rest[n + 2:]
    return out


def bulk(reply):
    if reply.startswith(b"$-1"):
        return None
    head, _, rest = reply.partition(b"\r\n")
    return rest[:int(head[1:])]


def multipart(name, data):
    boundary = "ci" + uuid.uuid4().hex
    body = (b"--" + boundary.encode() + b"\r\n"
            b'Content-Disposition: form-data; name="file"; filename="' + name.encode() + b'"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n"
            b"--" + boundary.encode() + b"--\r\n")
    return "multipart/form-data; boundary=" + boundary, body


def sha(b):
    return hashlib.sha256(b).hexdigest()


class Session:
    """Runs /exec calls of one session; tracks x and which worker ran each."""

    def __init__(self, s, sid):
        self.s, self.sid, self.x, self.served = s, sid, None, []

    def job_keys(self):
        return {k for k in resp_list(self.s.redis("KEYS", "ci:job:*"))
                if len(k) == len(b"ci:job:") + 32}

    def exec(self, code, files=()):
        before = self.job_keys()
        body = {"lang": "py", "code": code, "session_id": self.sid,
                "files": [{"id": f, "session_id": self.sid, "name": n} for f, n in files]}
        r = self.s.exec(body, timeout=120)
        j = r.json()
        assert r.status == 200 and j["status"] == "completed", (r.status, j)
        assert j["session_id"] == self.sid, j
        new = self.job_keys() - before
        assert len(new) == 1, new
        worker = bulk(self.s.redis("HGET", new.pop().decode(), "worker")).decode()
        self.served.append(worker)
        return j, worker

    def step(self, extra="", files=()):
        """x += 1 and print it, plus `extra`; checks x carried across."""
        j, w = self.exec("x += 1\nprint(x)\n" + extra, files)
        self.x += 1
        lines = j["stdout"].splitlines()
        assert lines and lines[0] == str(self.x), (self.x, w, j)
        return j, w, lines[1:]


READ_IN = ("import hashlib\n"
           "print(hashlib.sha256(open('/mnt/data/in.png', 'rb').read()).hexdigest())\n")
WRITE_OUT = ("import hashlib, os\nb = bytes.fromhex('89504e470d0a1a0a') + os.urandom(150000) + bytes(range(256))\n"
             "open('/mnt/data/out.png', 'wb').write(b)\n"
             "print(hashlib.sha256(b).hexdigest())\ndel b\n")
READ_OUT = ("import hashlib\n"
            "print(hashlib.sha256(open('/mnt/data/out.png', 'rb').read()).hexdigest())\n")


def scenario(s, hosts, s3dir):
    ids = hosts.worker_id
    # the workers run in their namespaces and connected from their addresses
    for h in "ab":
        pid = s.procs["worker-" + h].pid
        ns_ino = os.stat("/run/netns/" + hosts.ns[h]).st_ino
        wait_for(lambda: os.stat("/proc/%d/ns/net" % pid).st_ino == ns_ino, 10,
                 "worker %s in its namespace" % h)
    assert os.stat("/proc/%d/ns/net" % s.procs["ingress"].pid).st_ino == \
        os.stat("/proc/self/ns/net").st_ino

    def redis_clients():
        return bulk(s.redis("CLIENT", "LIST")).decode()
    wait_for(lambda: all("addr=%s:" % hosts.addr[h] in redis_clients() for h in "ab"), 20,
             "both workers' Redis connections from their own addresses")

    # a file uploaded through the ingress
    data_in = b"\x89PNG\r\n\x1a\n" + os.urandom(100000) + b"\x00\r\n--\xff" * 100
    ctype, body = multipart("in.png", data_in)
    r = s.request("POST", "/upload", key=s.KEY, raw=body, headers={"Content-Type": ctype})
    assert r.status == 200, r.body
    up = r.json()
    sid, in_id = up["session_id"], up["files"][0]["fileId"]
    in_ref = [(in_id, "in.png")]
    sess = Session(s, sid)

    j, w0 = sess.exec("x = 42\n" + READ_IN, in_ref)
    assert j["stdout"].strip() == sha(data_in) and j["has_state"], j
    sess.x = 42
    read_by = {w0}
    # more calls until both hosts have read the upload (they alternate when
    # both are idle: Redis hands a stream entry to the longest-blocked reader)
    for _ in range(6):
        if len(read_by) == 2:
            break
        j, w, rest = sess.step(READ_IN, in_ref)
        assert rest == [sha(data_in)], (w, j)
        read_by.add(w)
    assert read_by == set(ids.values()), sess.served

    # a file written on one host: downloadable byte-exact through the ingress
    j, writer, rest = sess.step(WRITE_OUT)
    assert len(j["files"]) == 1 and j["files"][0]["name"] == "out.png", j
    out_id, out_sha = j["files"][0]["id"], rest[0]
    d = s.get("/download/%s/%s" % (sid, out_id), key=s.KEY)
    assert d.status == 200 and len(d.body) == 150264 and sha(d.body) == out_sha, \
        (d.status, len(d.body))
    assert d.body[-256:] == bytes(range(256))
    # ... and read by the next call the other host serves
    other = None
    for _ in range(6):
        j, w, rest = sess.step(READ_OUT, [(out_id, "out.png")])
        assert rest == [out_sha], (w, j)
        # an unchanged input is no output: it comes back as itself, inherited
        assert [(f["id"], f.get("inherited")) for f in j["files"]] == [(out_id, True)], j
        if w != writer:
            other = w
            break
    assert other is not None, (writer, sess.served)

    # the objects are in s3rver's bucket; no worker kept a local copy
    found = [os.path.join(r, f) for r, _, fs in os.walk(s3dir) for f in fs]
    for fid in (in_id, out_id):
        assert any(fid in p for p in found), (fid, found)
    for h in "ab":
        st = os.path.join(s.tmp, "storage-" + h)
        assert not os.path.exists(st) or not os.listdir(st), os.listdir(st)

    # state archived to S3 comes back after its Redis copy is gone.  The
    # archive trails the saves (docs/state.md): wait until no save of this
    # session is waiting in the due set, so the archive holds the last one
    # (and the last call's store is over: its fence gone, so its due-set entry
    # is in; the result of a call goes out before its state is stored)
    wait_for(lambda: s.redis("EXISTS", "ci:state:%s:saving" % sid) == b":0\r\n" and
             s.worker_audits("state_archive", sid) and
             bulk(s.redis("ZSCORE", "ci:state:due", sid)) is None, 20,
             "the state archive sweep")
    assert any(sid in p and "state" in p for p in found + [
        os.path.join(r, f) for r, _, fs in os.walk(s3dir) for f in fs]), found
    assert s.redis("DEL", "ci:state:" + sid) == b":1\r\n"
    # both sandboxes may hold an older state.in: the load must be the archive
    before = s.worker_audits("state_load", sid)
    j, w, _ = sess.step()
    new = [l for l in s.worker_audits("state_load", sid) if l not in before]
    assert len(new) == 1 and new[0]["source"] == "archive" and new[0]["worker"] == w, new
    j, w2, _ = sess.step()
    assert {w, w2} <= set(ids.values())

    # health: both hosts' workers are live
    hd = s.get("/health/detailed", key=s.KEY).json()
    live = {w.get("id") for w in hd.get("workers", [])} if isinstance(hd.get("workers"), list) \
        else set()
    assert set(ids.values()) <= live, hd
    print("served:", sess.served, "x =", sess.x)


def case_two_hosts():
    require_docker_image(PY_IMAGE)
    if os.geteuid() != 0:
        skip("network namespaces need root (CAP_NET_ADMIN and CAP_SYS_ADMIN)")
    if shutil.which("ip") is None:
        skip("no ip command (iproute2)")

    hosts = Hosts()
    s3 = None
    s = None
    try:
        hosts.up()
        for h in "ab":
            r = subprocess.run(["ip", "netns", "exec", hosts.ns[h], sys.executable, "-c",
                                PROBE_DOCKER, DOCKER_SOCKET], capture_output=True, text=True)
            if r.returncode != 0:
                skip("dockerd's socket %s is not reachable from a network namespace (%s); "
                     "the workers could not start sandboxes" % (DOCKER_SOCKET, r.stderr.strip()))
        root = hosts.addr["root"]
        s = Stack(start=False, redis_host=root, redis_password="pw-" + uuid.uuid4().hex,
                  env={"WORKER_CONCURRENCY": "1", "STATE_ARCHIVE_AFTER_SECONDS": "1"})
        s3, s3port, s3dir = start_s3rver(s.tmp, root)
        s.env.update({"STORAGE_BACKEND": "s3", "S3_ENDPOINT": "http://%s:%d" % (root, s3port),
                      "S3_BUCKET": "ci-files", "S3_ACCESS_KEY": "S3RVER",
                      "S3_SECRET_KEY": "S3RVER", "S3_REGION": "us-east-1"})
        try:
            s.start_redis()
            s.start_ingress()
            for h in "ab":
                # nsenter --net, not `ip netns exec`: the latter also gives the worker
                # a mount namespace of its own, where its loop-mounted /mnt/data
                # disks are invisible to dockerd
                s.start_worker(h, prefix=["nsenter", "--net=/var/run/netns/" + hosts.ns[h]], env={
                    "WORKER_ID": hosts.worker_id[h],
                    "RUN_DIR": os.path.join(s.tmp, "run-" + h),
                    "DATA_DIR": os.path.join(s.tmp, "data-" + h),
                    "STORAGE_DIR": os.path.join(s.tmp, "storage-" + h),
                })
            scenario(s, hosts, s3dir)
        except Exception:
            print(s.logs())
            raise
    finally:
        if s is not None:
            s.stop()
        for h in "ab":                   # sandboxes a killed worker left behind
            ps = subprocess.run(["docker", "ps", "-aq", "--filter",
                                 "label=com.code-interpreter.worker=" + hosts.worker_id[h]],
                                capture_output=True, text=True).stdout.split()
            if ps:
                subprocess.run(["docker", "rm", "-f"] + ps, capture_output=True)
        if s3 is not None and s3.poll() is None:
            os.killpg(s3.pid, signal.SIGTERM)
            s3.wait(timeout=30)
        hosts.down()


CASES = {"two_hosts": case_two_hosts}

if __name__ == "__main__":
    sys.exit(run_cases(CASES, sys.argv))
