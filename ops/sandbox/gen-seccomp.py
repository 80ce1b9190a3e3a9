#!/usr/bin/env python3
"""ops/sandbox/gen-seccomp.py [DOCKER_DEFAULT_JSON] - writes seccomp.json
beside this file: the project's own seccomp profile for sandbox containers
(docs/sandbox.md, "Kernel surface").

Source: Docker's default profile, the one compiled into the dockerd of this
machine (Debian's docker.io 20.10.24), as Debian ships it in the package
golang-github-docker-docker-dev (file
/usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json).
Without an argument the package is fetched with `apt-get download` (no
dependencies installed) and the file taken from it.

On top of Docker's profile (an allowlist; anything not allowed fails with
EPERM), this removes from every rule that allows them:

    ptrace                          tracing other processes (the runner)
    io_uring_setup/enter/register   a second syscall interface, with its own bugs
    userfaultfd                     the usual tool to win kernel races
    perf_event_open                 kernel/host performance counters
    kexec_load, kexec_file_load     (cap-gated anyway)
    bpf                             (cap-gated anyway)
    add_key, request_key, keyctl    kernel keyrings (not namespaced)
    socketcall                      32-bit multiplexer: its arguments are a
                                    pointer, so socket() families could not
                                    be filtered through it

and allows socket() only for AF_UNIX (1), AF_INET (2) and AF_INET6 (10);
every other family (AF_NETLINK 16, AF_PACKET 17, AF_VSOCK 40, ...) fails
with EPERM (the profile's default action).

The output is checked in; tests/containment/test_containment.py kernel_surface
proves the denials in a real sandbox, and `gen-seccomp.py --check` tells
whether the checked-in file is what this script makes now.
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "seccomp.json")
PKG = "golang-github-docker-docker-dev"
MEMBER = "./usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json"

DENY = {"ptrace", "io_uring_setup", "io_uring_enter", "io_uring_register", "userfaultfd",
        "perf_event_open", "kexec_load", "kexec_file_load", "bpf", "add_key", "request_key",
        "keyctl", "socketcall", "socket"}
AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10


def docker_default(path=None):
    if path:
        with open(path) as f:
            return json.load(f)
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["apt-get", "download", PKG], cwd=d, check=True,
                       stdout=subprocess.DEVNULL)
        deb = glob.glob(os.path.join(d, "*.deb"))[0]
        tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", deb], check=True,
                             capture_output=True).stdout
        data = subprocess.run(["tar", "-xO", MEMBER], input=tar, check=True,
                              capture_output=True).stdout
        return json.loads(data)


def socket_rules():
    """socket() allowed for three families; any other matches no rule and
    gets the profile's default action (EPERM).  (A second, errno-returning
    rule for the same syscall is refused by runc's libseccomp: EEXIST.)"""
    return [{"names": ["socket"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": fam, "valueTwo": 0, "op": "SCMP_CMP_EQ"}],
             "comment": "socket(): unix, inet, inet6 only", "includes": {}, "excludes": {}}
            for fam in (AF_UNIX, AF_INET, AF_INET6)]


def build(base):
    prof = dict(base)
    rules = []
    for rule in base["syscalls"]:
        names = [n for n in rule["names"] if n not in DENY]
        if not names:
            continue
        r = dict(rule)
        r["names"] = names
        rules.append(r)
    prof["syscalls"] = rules + socket_rules()
    return prof


def render(prof):
    return json.dumps(prof, indent=1, sort_keys=False) + "\n"


def main(argv):
    check = "--check" in argv
    args = [a for a in argv[1:] if a != "--check"]
    text = render(build(docker_default(args[0] if args else None)))
    if check:
        with open(OUT) as f:
            same = f.read() == text
        print("seccomp.json is %s" % ("current" if same else "OUT OF DATE"))
        return 0 if same else 1
    with open(OUT + ".tmp", "w") as f:
        f.write(text)
    os.rename(OUT + ".tmp", OUT)
    print("wrote %s (%d rules, %d bytes)" % (OUT, len(json.loads(text)["syscalls"]), len(text)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
