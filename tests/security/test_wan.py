"""WAN mode (issue 5, docs/sandbox.md): through the real service, sandboxes
on the WAN network reach a local "public" test host but not private,
link-local or host addresses, DNS goes only to the configured (local) server,
and each block is shown to be real by reaching the same host once the rules
are removed.  All traffic stays on this machine (netlab.py).
"""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, HERE)
from stack import SKIP, Stack, require_docker_image, run_cases, wait_for  # noqa: E402
import netlab  # noqa: E402
from netlab import DNS, LINKLOCAL, PORT, PRIVATE, PUBLIC  # noqa: E402

PY_IMAGE = "code-interpreter/py:" + os.environ.get("IMAGE_TAG", "latest")
BLOCKED = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "127.0.0.0/8",
           "224.0.0.0/4", "240.0.0.0/4")

PROBE = r"""
import json, os, socket, threading
targets = %s
out = {}
def probe(name, host, port):
    try:
        with socket.create_connection((host, port), timeout=3) as c:
            out[name] = c.recv(64).decode().strip() or "connected"
    except OSError as e:
        out[name] = "blocked: %%s" %% type(e).__name__
ts = [threading.Thread(target=probe, args=t) for t in targets]
[t.start() for t in ts]
[t.join() for t in ts]
if %s:
    try:
        out["dns"] = socket.gethostbyname("public.lab.test")
    except OSError as e:
        out["dns"] = "failed: %%s" %% e
    out["resolv"] = open("/etc/resolv.conf").read()
    out["ifaces"] = sorted(os.listdir("/sys/class/net"))
    out["ipv6_off"] = open("/proc/sys/net/ipv6/conf/all/disable_ipv6").read().strip()
    out["hostname"] = socket.gethostname()
print(json.dumps(out))
"""


def probe_code(gateway, host_port, full=True):
    targets = [("public", PUBLIC, PORT), ("private", PRIVATE, PORT),
               ("linklocal", LINKLOCAL, PORT), ("dns_host_other_port", DNS, PORT),
               ("docker_host", gateway, host_port)]
    return PROBE % (json.dumps(targets), "True" if full else "False")


def rules(chain):
    r = subprocess.run([os.environ["CI_WAN_RULES"], "--list", chain], capture_output=True,
                       text=True)
    return r.returncode, r.stdout.splitlines()


def expected_rules(chain, bridge, gateway):
    host = chain + "-HOST"
    dns = ["-d %s/32 -p udp -m udp --dport 53 -j RETURN" % DNS,
           "-d %s/32 -p tcp -m tcp --dport 53 -j RETURN" % DNS]
    return (["-A FORWARD -i %s -j %s" % (bridge, chain), "-A INPUT -i %s -j %s" % (bridge, host)]
            + ["-A %s %s" % (chain, d) for d in dns]
            + ["-A %s -d %s/32 -j DROP" % (chain, gateway)]
            + ["-A %s -d %s -j DROP" % (chain, n) for n in BLOCKED]
            + ["-A %s %s" % (host, d) for d in dns] + ["-A %s -j DROP" % host])


def worker_log(s):
    try:
        with open(os.path.join(s.tmp, "worker-1.log")) as f:
            return f.read()
    except OSError:
        return ""


class HostListener:
    """A TCP listener on the Docker host's address on the WAN bridge."""

    def __init__(self, addr):
        self.sock = socket.socket()
        self.sock.bind((addr, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            c.sendall(b"hello docker host\n")
            c.close()


def preconditions():
    if os.geteuid() != 0:
        print("skip: needs root (network namespaces, ip_tables)")
        raise SystemExit(SKIP)
    for tool in ("ip", "docker"):
        if subprocess.run(["sh", "-c", "command -v " + tool], capture_output=True).returncode:
            print("skip: no %s" % tool)
            raise SystemExit(SKIP)
    rc, _ = rules("CI-WAN-PRECHECK")
    if rc not in (0, 3):
        print("skip: the legacy ip_tables filter table is not usable here")
        raise SystemExit(SKIP)
    require_docker_image(PY_IMAGE)


def case_wan_blocks_and_allows():
    preconditions()
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))  # ctest timeout: still clean up
    tag = os.getpid() % 100000
    net, chain = "ciwl-net-%d" % tag, "CIWL%d" % tag
    lab, s = netlab.Lab(), None
    try:
        lab.up()
        s = Stack(env={"ENABLE_WAN_ACCESS": "true", "WAN_NETWORK_NAME": net,
                       "WAN_CHAIN": chain, "WAN_DNS_SERVERS": DNS,
                       "MAX_EXECUTION_TIME": "20"})
        wait_for(lambda: "install committed" in worker_log(s), 30, "WAN firewall")
        # the network: a bridge with ICC and IPv6 off
        info = json.loads(subprocess.run(["docker", "network", "inspect", net],
                                         capture_output=True, check=True).stdout)[0]
        assert info["Options"]["com.docker.network.bridge.enable_icc"] == "false", info
        assert info["EnableIPv6"] is False, info
        gateway = info["IPAM"]["Config"][0]["Gateway"]
        bridge = "br-" + info["Id"][:12]
        want = expected_rules(chain, bridge, gateway)
        # the rule list read back through libiptc matches the spec
        rc, got = rules(chain)
        assert rc == 0 and got == want, "\n".join(got)
        listener = HostListener(gateway)

        r = s.exec({"lang": "py", "code": probe_code(gateway, listener.port)})
        assert r.status == 200, r.body
        j = r.json()
        assert j["status"] == "completed", j
        out = json.loads(j["stdout"])
        print("with rules:", json.dumps(out, indent=1))
        assert out["public"] == "hello " + PUBLIC, out
        for k in ("private", "linklocal", "dns_host_other_port", "docker_host"):
            assert out[k].startswith("blocked"), (k, out)
        assert out["dns"] == PUBLIC, out   # DNS to the configured server passes
        lines = [l for l in out["resolv"].splitlines() if l.strip()]
        assert lines == ["nameserver " + DNS], out["resolv"]
        assert out["ifaces"] == ["eth0", "lo"] and out["ipv6_off"] == "1", out
        assert out["hostname"] == "sandbox", out
        labels = subprocess.run(["docker", "ps", "--filter", "network=" + net, "--format",
                                 '{{.Label "com.code-interpreter.wan-access"}}'],
                                capture_output=True, text=True).stdout.split()
        assert labels and set(labels) == {"true"}, labels

        # crash and restart: the chains stayed (fail closed), and a new start
        # leaves exactly one hook each and the same rules
        s.kill("worker-1")
        assert rules(chain) == (0, want)
        s.start_worker(1)
        wait_for(lambda: worker_log(s).count("install committed") == 2, 30, "re-install")
        assert rules(chain) == (0, want), rules(chain)
        j = s.exec({"lang": "py", "code": "print('next')"}).json()
        assert j["stdout"] == "next\n", j

        # clean shutdown removes the chains
        s.kill("worker-1", signal.SIGTERM)
        assert rules(chain)[0] == 3, rules(chain)
        assert "wan firewall: remove committed" in worker_log(s), worker_log(s)[-2000:]

        # the blocks were real: the same hosts answer once the rules are gone
        r = subprocess.run(["docker", "run", "--rm", "--network", net, "--user", "1000:1000",
                            "--cap-drop", "ALL", "--entrypoint", "python3", PY_IMAGE, "-c",
                            probe_code(gateway, listener.port, full=False)],
                           capture_output=True, text=True, timeout=60)
        out = json.loads(r.stdout)
        print("without rules:", out)
        assert out["public"] == "hello " + PUBLIC, out
        assert out["private"] == "hello " + PRIVATE, out
        assert out["linklocal"] == "hello " + LINKLOCAL, out
        assert out["dns_host_other_port"] == "hello " + DNS, out
        assert out["docker_host"] == "hello docker host", out
    except BaseException:
        if s:
            print(s.logs())
        raise
    finally:
        if s:
            s.stop()
        ids = subprocess.run(["docker", "ps", "-aq", "--filter", "network=" + net],
                             capture_output=True, text=True).stdout.split()
        if ids:
            subprocess.run(["docker", "rm", "-f"] + ids, capture_output=True)
        subprocess.run(["docker", "network", "rm", net], capture_output=True)
        subprocess.run([os.environ["CI_WAN_RULES"], "--remove", chain], capture_output=True)
        lab.down()


if __name__ == "__main__":
    sys.exit(run_cases({n[5:]: f for n, f in list(globals().items())
                        if n.startswith("case_")}, sys.argv))
