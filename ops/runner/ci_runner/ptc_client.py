"""A Bash tool function's body (ptc.bash_env): run as the sandbox user,
`python3 -I -S ptc_client.py <tool index> [JSON argument]`.  Sends one call
on the tool socket and prints the result as compact JSON (exit 0), or the
tool's error on stderr (exit 1).  The argument is JSON text; anything else
is passed on as a string."""

import json
import os
import socket
import struct
import sys

SOCK = "/run/ci/ptc.sock"


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise OSError("the tool channel closed")
        buf += chunk
    return bytes(buf)


def main(argv):
    if len(argv) < 2 or not argv[1].isdigit():
        sys.stderr.write("usage: tool '<JSON input>'\n")
        return 2
    raw = argv[2] if len(argv) > 2 else "{}"
    try:
        inp = json.loads(raw)
    except ValueError:
        inp = raw
    data = json.dumps({"calls": [{"tool": int(argv[1]), "input": inp}]}).encode()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(os.environ.get("CI_PTC_SOCKET", SOCK))
        s.sendall(struct.pack(">I", len(data)) + data)
        (n,) = struct.unpack(">I", recv_exact(s, 4))
        reply = json.loads(recv_exact(s, n).decode("utf-8"))
    except (OSError, ValueError) as e:
        sys.stderr.write("tool call failed: %s\n" % e)
        return 1
    if "error" in reply:
        sys.stderr.write("tool call refused: %s\n" % reply["error"])
        return 1
    r = reply["results"][0]
    if not r.get("ok"):
        sys.stderr.write("tool error: %s\n" % r.get("error"))
        return 1
    out = json.dumps(r.get("value"), ensure_ascii=False, separators=(",", ":"))
    sys.stdout.write(out + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
