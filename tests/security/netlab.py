"""A private network lab on this machine for the WAN tests (DESIGN.md s.7).

One network namespace holds the test hosts, joined to the root namespace by
a veth pair created here:

  PUBLIC    203.0.113.10  (TEST-NET-3: stands in for "the internet")
  PRIVATE   10.250.0.2    (private range)
  DNS       10.250.0.53   (private range; the configured WAN DNS server)
  LINKLOCAL 169.254.77.2  (link-local, deliberately not 169.254.169.254)

The root side of the veth gets 203.0.113.1/32 (the source Docker's
masquerade gives sandbox traffic) and one /32 route per test host.  No
address is added to an existing interface and no existing route changes.
Before any traffic, `ip route get` must show every test address going to
the lab's veth, so a missing block can only reach the lab, never leave the
machine.  Every host answers TCP 8080 with "hello <its address>"; DNS
answers every A query with PUBLIC.
"""
import os
import socket
import subprocess
import sys
import time

PUBLIC, PRIVATE, DNS, LINKLOCAL = "203.0.113.10", "10.250.0.2", "10.250.0.53", "169.254.77.2"
HOSTS = (PUBLIC, PRIVATE, DNS, LINKLOCAL)
ROOT_ADDR = "203.0.113.1"
PORT = 8080

SERVER = r"""
import socket, struct, threading
def tcp():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", %(port)d)); s.listen(64)
    while True:
        c, _ = s.accept()
        c.sendall(("hello %%s\n" %% c.getsockname()[0]).encode()); c.close()
def dns():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("%(dns)s", 53))
    while True:
        q, a = s.recvfrom(512)
        end = 12
        while q[end] != 0:
            end += q[end] + 1
        question = q[12:end + 5]
        hdr = q[:2] + struct.pack("!HHHHH", 0x8180, 1, 1, 0, 0)
        ans = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton("%(public)s")
        s.sendto(hdr + question + ans, a)
threading.Thread(target=dns, daemon=True).start()
tcp()
""" % {"port": PORT, "dns": DNS, "public": PUBLIC}


def sh(*argv, check=True):
    r = subprocess.run(argv, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(argv), r.stderr.strip()))
    return r


class Lab:
    def __init__(self):
        tag = os.getpid() % 100000
        self.ns = "ciwl%d" % tag
        self.host_if = "ciwl%dh" % tag
        self.ns_if = "ciwl%dn" % tag
        self.server = None

    def up(self):
        sh("ip", "netns", "add", self.ns)
        sh("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
        sh("ip", "link", "set", self.ns_if, "netns", self.ns)
        sh("ip", "addr", "add", ROOT_ADDR + "/32", "dev", self.host_if)
        sh("ip", "link", "set", self.host_if, "up")
        nsx = ("ip", "netns", "exec", self.ns)
        sh(*nsx, "ip", "link", "set", "lo", "up")
        for a in HOSTS:
            sh(*nsx, "ip", "addr", "add", a + "/32", "dev", self.ns_if)
        sh(*nsx, "ip", "link", "set", self.ns_if, "up")
        sh(*nsx, "ip", "route", "add", "default", "dev", self.ns_if)
        for a in HOSTS:
            sh("ip", "route", "add", a + "/32", "dev", self.host_if)
        for a in HOSTS:   # the guard: every test address stays in the lab
            out = sh("ip", "route", "get", a).stdout
            if ("dev %s " % self.host_if) not in out:
                raise RuntimeError("route to %s does not go to the lab: %s" % (a, out))
        self.server = subprocess.Popen(list(nsx) + [sys.executable, "-c", SERVER],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.time() + 10
        while True:
            try:
                with socket.create_connection((PUBLIC, PORT), timeout=1) as c:
                    if c.recv(64).startswith(b"hello"):
                        return
            except OSError:
                if time.time() > end:
                    raise
                time.sleep(0.05)

    def down(self):
        if self.server and self.server.poll() is None:
            self.server.kill()
            self.server.wait()
        for a in HOSTS:
            sh("ip", "route", "del", a + "/32", "dev", self.host_if, check=False)
        sh("ip", "link", "del", self.host_if, check=False)
        sh("ip", "netns", "del", self.ns, check=False)
