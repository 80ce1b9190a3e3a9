"""Frames on the control socket: 4-byte big-endian length + UTF-8 JSON
object, at most MAX_FRAME (docs/runner-protocol.md); run frames validated."""

import json
import socket
import struct
import time

from .config import DEFAULT_MAX_OUTPUT, DEFAULT_TIMEOUT_MS, MAX_FRAME, MAX_OUTPUT_CAP


class ProtocolError(Exception):
    pass


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def recv_frame(sock):
    """Return the frame payload bytes, None on EOF; ProtocolError if too big."""
    head = recv_exact(sock, 4)
    if head is None:
        return None
    (n,) = struct.unpack(">I", head)
    if n > MAX_FRAME:
        raise ProtocolError("frame too large: %d" % n)
    return recv_exact(sock, n)


def send_frame(sock, obj):
    data = json.dumps(obj, ensure_ascii=False).encode("utf-8")
    sock.sendall(struct.pack(">I", len(data)) + data)


def connect(path):
    deadline = time.monotonic() + 10.0
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def result(req, status, rc, out, err, dur_s, warnings, state_size):
    return {"type": "result", "id": req["id"], "status": status,
            "exit_code": rc, "stdout": out.text(), "stderr": err.text(),
            "stdout_truncated": out.truncated,
            "stderr_truncated": err.truncated,
            "duration_ms": int(round(dur_s * 1000)),
            "warnings": warnings, "state_size": state_size}


def error_frame(job_id, msg):
    return {"type": "error", "id": job_id if isinstance(job_id, str) else "",
            "message": msg}


def parse_run(obj, langs):
    """Validate a run frame; returns (request dict, None) or (None, message)."""
    jid = obj.get("id")
    if not isinstance(jid, str):
        return None, "missing or invalid 'id'"
    lang = obj.get("lang")
    if not isinstance(lang, str) or lang not in langs:
        return None, "unsupported language: %s" % (lang,)
    code = obj.get("code")
    if not isinstance(code, str):
        return None, "missing or invalid 'code'"
    args = obj.get("args", [])
    if args is None:
        args = []
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        return None, "'args' must be an array of strings"
    if any("\0" in a for a in args):
        return None, "'args' must not contain NUL"
    tmo = obj.get("timeout_ms", DEFAULT_TIMEOUT_MS)
    mo = obj.get("max_output", DEFAULT_MAX_OUTPUT)
    for name, v in (("timeout_ms", tmo), ("max_output", mo)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            return None, "'%s' must be a non-negative integer" % name
    req = {"id": jid, "lang": lang, "code": code, "args": args,
           "timeout_ms": max(1, tmo), "max_output": min(mo, MAX_OUTPUT_CAP),
           "state_in": obj.get("state_in") is True and lang == "py",
           "state_out": obj.get("state_out") is True and lang == "py"}
    if obj.get("tools") is not None:   # programmatic tool calling (ptc.py)
        from .ptc import parse_limits, parse_tools
        tools, msg = parse_tools(obj, lang)
        if tools is None:
            return None, msg
        req["tools"], req["ptc_limits"] = tools, parse_limits(obj)
    return req, None


def parse_frame(payload, langs):
    """Returns (run request, None), ({"wipe": True, "id"}, None) or
    (None, error frame)."""
    try:
        obj = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        return None, error_frame("", "bad frame: %s" % e)
    if not isinstance(obj, dict):
        return None, error_frame("", "bad frame: not a JSON object")
    if obj.get("type") == "wipe":   # between two sessions of one caller (wipe.py)
        return {"wipe": True, "id": obj.get("id")}, None
    if obj.get("type") != "run":
        return None, error_frame(obj.get("id"), "unknown frame type: %r"
                                 % (obj.get("type"),))
    req, msg = parse_run(obj, langs)
    if req is None:
        return None, error_frame(obj.get("id"), msg)
    return req, None
