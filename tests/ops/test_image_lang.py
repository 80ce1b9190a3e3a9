#!/usr/bin/env python3
"""e2e: code-interpreter/<lang>:latest runs a program through its runner.

Plays the worker's side of docs/runner-protocol.md with the real image:
listens on <tmp>/run/ctl.sock, starts the container (read-only root, tmpfs
/tmp, no network, uid 1000, the two bind mounts), expects `hello` listing
the language, sends one `run` and checks the program's stdout.  This proves
the image's toolchain, user, directories and runner fit together.

usage: test_image_lang.py LANG
"""
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile

PROGRAMS = {
    "py": ("import numpy, pandas, matplotlib.pyplot, cloudpickle\n"
           "print('hello py', int(numpy.arange(4).sum()))", "hello py 6\n"),
    "js": ("console.log('hello js', [1,2,3].length)", "hello js 3\n"),
    "ts": ("const n: number = 3;\nconsole.log(`hello ts ${n}`);", "hello ts 3\n"),
    "go": ('package main\nimport "fmt"\nfunc main() { fmt.Println("hello go", 3) }',
           "hello go 3\n"),
    "java": ('public class Main { public static void main(String[] a) {'
             ' System.out.println("hello java " + 3); } }', "hello java 3\n"),
    "c": ('#include <stdio.h>\n#include <math.h>\n'
          'int main(void) { printf("hello c %d\\n", (int)sqrt(9.0)); return 0; }',
          "hello c 3\n"),
    "cpp": ('#include <iostream>\n#include <vector>\n'
            'int main() { std::vector<int> v{1,2,3}; std::cout << "hello cpp " << v.size() << "\\n"; }',
            "hello cpp 3\n"),
    "php": ('<?php echo "hello php " . count([1,2,3]) . "\\n";', "hello php 3\n"),
    "rs": ('fn main() { let v = vec![1, 2, 3]; println!("hello rs {}", v.len()); }',
           "hello rs 3\n"),
    "r": ('cat("hello r", length(c(1, 2, 3)), "\\n")', "hello r 3 \n"),
    "f90": ("program hello\n  print '(a,i0)', 'hello f90 ', 3\nend program hello\n",
            "hello f90 3\n"),
    "d": ('import std.stdio;\nvoid main() { writeln("hello d ", [1, 2, 3].length); }',
          "hello d 3\n"),
    "bash": ('a=(1 2 3); echo "hello bash ${#a[@]}"', "hello bash 3\n"),
}


def send(sock, obj):
    data = json.dumps(obj).encode()
    sock.sendall(struct.pack(">I", len(data)) + data)


def recv(sock):
    def exact(n):
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise EOFError("runner closed the connection")
            buf += chunk
        return buf
    (n,) = struct.unpack(">I", exact(4))
    return json.loads(exact(n))


def main():
    lang = sys.argv[1]
    code, want = PROGRAMS[lang]
    image = "code-interpreter/%s:%s" % (lang, os.environ.get("IMAGE_TAG", "latest"))
    tmp = tempfile.mkdtemp(prefix="ci-img-%s-" % lang)
    run_dir, data_dir = os.path.join(tmp, "run"), os.path.join(tmp, "data")
    os.mkdir(run_dir)
    os.mkdir(data_dir)
    for d in (run_dir, data_dir):
        os.chown(d, 1000, 1000)
        os.chmod(d, 0o755)
    name = "ci-ops-test-%s-%d" % (lang, os.getpid())
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(os.path.join(run_dir, "ctl.sock"))
    os.chmod(os.path.join(run_dir, "ctl.sock"), 0o666)
    lsock.listen(1)
    lsock.settimeout(30)
    try:
        subprocess.run(
            ["docker", "run", "-d", "--rm", "--name", name, "--network", "none",
             "--read-only", "--tmpfs", "/tmp:rw,exec,size=256m", "--user", "1000:1000",
             "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
             "-v", run_dir + ":/run/ci", "-v", data_dir + ":/mnt/data", image],
            check=True, stdout=subprocess.DEVNULL)
        conn, _ = lsock.accept()
        conn.settimeout(120)
        hello = recv(conn)
        print("hello:", hello)
        assert hello.get("type") == "hello", hello
        assert lang in hello.get("langs", []), "%s not offered: %s" % (lang, hello)
        send(conn, {"type": "run", "id": "t1", "lang": lang, "code": code, "args": [],
                    "timeout_ms": 90000, "max_output": 65536,
                    "state_in": False, "state_out": False})
        res = recv(conn)
        print("result:", json.dumps(res)[:2000])
        assert res.get("type") == "result", res
        assert res.get("status") == "completed", res
        assert res.get("exit_code") == 0, res
        assert res.get("stdout") == want, "stdout %r, want %r" % (res.get("stdout"), want)
        conn.close()
        print("PASS", lang, "in", res.get("duration_ms"), "ms")
    finally:
        subprocess.run(["docker", "rm", "-f", name], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        lsock.close()
        shutil.rmtree(tmp, ignore_errors=True)


main()
