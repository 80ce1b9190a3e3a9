"""Programmatic tool calling, the runner's side (docs/runner-protocol.md,
"Tool calls").

A run frame with `tools` starts the program with one stub per tool (Python:
async functions, ptc_py.py; Bash: shell functions running ptc_client.py).
A stub asks for its calls on the tool socket, /run/ci/ptc.sock (root's
directory, the socket the sandbox user's, mode 0600): one connection, one
frame {"calls": [{"tool": <index>, "input": <JSON>}]}, one reply frame
{"results": [{"ok": true, "value": v} | {"ok": false, "error": "..."}]}.

The socket is adversary input: everything on it is bounded (frame bytes,
calls per round, connections per round, seconds per frame), validated (a
tool is an index into the run's own list, so a program cannot name a tool
it was not given; call ids are the runner's, never the program's), and a
bad frame only earns that connection an error reply.  It gives the program
no other reach: the runner reads bounded JSON from it and nothing else.

A round: the first call arrives; the runner gathers what comes with it (the
Python stubs send a gather's calls in one frame; Bash calls are separate
processes, so the runner takes calls until no process of the program is
runnable - every one waits, on a call or otherwise - twice in a row, 5 ms
apart, at most 2 s: calls started together (`&` ... `wait`) are one round
however slowly a loaded machine starts them), stops the program's
process group (SIGSTOP: no CPU while paused), sends `tool_calls` to the
worker and blocks for its `tool_results`.  The run's deadline is moved by
the time spent paused.  Then SIGCONT and each connection gets its results.
"""

import json
import os
import select
import signal
import socket
import struct
import time

from .config import RUN_DIR, log
from .frames import recv_frame, send_frame
from .identity import SANDBOX_GID, SANDBOX_UID, privileged

SOCK_PATH = RUN_DIR + "/ptc.sock"
MAX_TOOLS = 128
MAX_TOOL_NAME = 256
MAX_CALL_FRAME = 4 << 20        # bytes of one stub frame (all its inputs)
MAX_CALLS_PER_ROUND = 64
FRAME_READ_S = 2.0              # a connection that sends no frame in time is dropped
BASH_POLL_S = 0.005             # Bash: how often the gathering looks at the program's processes
BASH_GATHER_MAX_S = 2.0         # Bash: longest gathering of one round
DEFAULT_PAUSE_MS = 300000
DEFAULT_MAX_ROUNDS = 50

PY_KEYWORDS = frozenset(
    "False None True and as assert async await break class continue def del elif "
    "else except finally for from global if import in is lambda nonlocal not or "
    "pass raise return try while with yield".split())
BASH_RESERVED = frozenset(
    "if then else elif fi case esac for while until do done in function select "
    "time coproc declare typeset local readonly export unset".split())


def _ident(name, extra, reserved):
    """LibreChat's normalisation (ProgrammaticToolCalling.ts
    normalizeToPythonIdentifier, BashProgrammaticToolCalling.ts
    normalizeToBashIdentifier): `extra` characters and whitespace become
    '_', other characters outside [A-Za-z0-9_] are dropped, a leading digit
    gets '_', a reserved word gets '_tool'."""
    out = []
    for ch in name:
        if ch == "-" or ch in extra or ch.isspace():
            out.append("_")
        elif ch.isascii() and (ch.isalnum() or ch == "_"):
            out.append(ch)
    s = "".join(out)
    if s[:1].isdigit():
        s = "_" + s
    if s in reserved:
        s += "_tool"
    return s


def py_name(name):
    return _ident(name, "", PY_KEYWORDS)


def bash_name(name):
    return _ident(name, ".", BASH_RESERVED)


def parse_tools(obj, lang):
    """Validate a run frame's tools; returns (list of {name, ident}, None)
    or (None, message).  Names must be distinct after normalisation."""
    tools = obj.get("tools")
    if not isinstance(tools, list) or not tools or len(tools) > MAX_TOOLS:
        return None, "'tools' must be an array of 1..%d tools" % MAX_TOOLS
    if lang not in ("py", "bash"):
        return None, "tools are offered to py and bash programs only"
    norm = py_name if lang == "py" else bash_name
    out, seen = [], set()
    for t in tools:
        name = t.get("name") if isinstance(t, dict) else None
        if not isinstance(name, str) or not 0 < len(name) <= MAX_TOOL_NAME:
            return None, "each tool needs a 'name' of 1..%d characters" % MAX_TOOL_NAME
        ident = norm(name)
        if not ident or ident in seen:
            return None, "tool name %r is empty or ambiguous once normalised" % name
        seen.add(ident)
        out.append({"name": name, "ident": ident})
    return out, None


def _int_field(obj, key, default, lo, hi):
    v = obj.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int):
        return default
    return max(lo, min(hi, v))


def parse_limits(obj):
    return {"pause_ms": _int_field(obj, "ptc_pause_ms", DEFAULT_PAUSE_MS, 1, 86400000),
            "max_rounds": _int_field(obj, "ptc_max_rounds", DEFAULT_MAX_ROUNDS, 1, 10000)}


def _recv_exact_deadline(conn, n, deadline):
    buf = bytearray()
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout()
        conn.settimeout(left)
        chunk = conn.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def _reply(conn, obj):
    try:
        data = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        conn.settimeout(FRAME_READ_S)
        conn.sendall(struct.pack(">I", len(data)) + data)
    except (OSError, ValueError):
        pass


class Channel:
    """The tool socket of one run and its rounds (see the module text).

    Used as a supervise() hook: fileno() is the listening socket; on_ready()
    serves a round and returns the seconds the program spent paused, or
    None when the run must end (self.end_reason says why; the program is
    then killed by supervise)."""

    def __init__(self, req, ctl):
        self.req = req
        self.ctl = ctl
        self.tools = req["tools"]
        self.limits = req["ptc_limits"]
        self.rounds = 0
        self.calls_made = 0
        self.end_reason = None
        self.pgid = None
        try:
            os.unlink(SOCK_PATH)
        except OSError:
            pass
        self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self.lsock.bind(SOCK_PATH)
        if privileged():
            os.chown(SOCK_PATH, SANDBOX_UID, SANDBOX_GID)
        os.chmod(SOCK_PATH, 0o600)
        self.lsock.listen(MAX_CALLS_PER_ROUND)
        self.lsock.setblocking(False)

    def fileno(self):
        return self.lsock.fileno()

    def close(self):
        try:
            self.lsock.close()
        finally:
            try:
                os.unlink(SOCK_PATH)
            except OSError:
                pass

    # ---- reading stub frames (hostile input) ------------------------------
    def _read_calls(self, conn):
        """Returns a list of (tool index, input) or an error string."""
        deadline = time.monotonic() + FRAME_READ_S
        try:
            head = _recv_exact_deadline(conn, 4, deadline)
            if head is None:
                return "no frame"
            (n,) = struct.unpack(">I", head)
            if n > MAX_CALL_FRAME:
                return "call frame of %d bytes is over the %d byte limit" % (n, MAX_CALL_FRAME)
            payload = _recv_exact_deadline(conn, n, deadline)
        except (OSError, socket.timeout):
            return "no complete frame in time"
        if payload is None:
            return "truncated frame"
        try:
            obj = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return "the call frame is not JSON"
        calls = obj.get("calls") if isinstance(obj, dict) else None
        if not isinstance(calls, list) or not calls:
            return "the call frame needs a non-empty 'calls' array"
        out = []
        for c in calls:
            idx = c.get("tool") if isinstance(c, dict) else None
            if isinstance(idx, bool) or not isinstance(idx, int) or \
                    not 0 <= idx < len(self.tools):
                return "a call names no tool of this run"
            inp = c.get("input", {})
            if inp is None:
                inp = {}
            out.append((idx, inp))
        return out

    def _accept(self, timeout):
        r, _, _ = select.select([self.lsock], [], [], timeout)
        if not r:
            return None
        try:
            conn, _ = self.lsock.accept()
        except (BlockingIOError, InterruptedError):
            return None
        conn.setblocking(True)
        return conn

    def _group_busy(self):
        """1 when a process of the program's group is running or runnable
        (state R or D in /proc/<pid>/stat)."""
        try:
            ents = os.listdir("/proc")
        except OSError:
            return False
        for ent in ents:
            if not ent.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % ent, "rb") as f:
                    st = f.read()
                fields = st[st.rindex(b")") + 2:].split()
                if int(fields[2]) == self.pgid and fields[0] in (b"R", b"D"):
                    return True
            except (OSError, ValueError, IndexError):
                pass
        return False

    def _next_bash(self, t0):
        """The next connection of a Bash round, or None once the program is
        quiet (see the module text)."""
        quiet = 0
        while time.monotonic() - t0 < BASH_GATHER_MAX_S:
            conn = self._accept(BASH_POLL_S)
            if conn is not None:
                return conn
            quiet = quiet + 1 if not self._group_busy() else 0
            if quiet >= 2:
                return None
        return None

    def _gather(self):
        """[(conn, [(call id, tool index, input)])] of this round."""
        batch, ncalls = [], 0
        bash = self.req["lang"] == "bash"
        t0 = time.monotonic()
        conn = self._accept(0)
        while conn is not None:
            calls = self._read_calls(conn)
            if isinstance(calls, str):
                _reply(conn, {"error": calls})
                conn.close()
            elif ncalls + len(calls) > MAX_CALLS_PER_ROUND:
                _reply(conn, {"error": "more than %d tool calls in one round"
                              % MAX_CALLS_PER_ROUND})
                conn.close()
            else:
                ids = []
                for idx, inp in calls:
                    self.calls_made += 1
                    ids.append(("call_%03d" % self.calls_made, idx, inp))
                ncalls += len(ids)
                batch.append((conn, ids))
            if ncalls >= MAX_CALLS_PER_ROUND or len(batch) >= MAX_CALLS_PER_ROUND:
                break
            conn = self._next_bash(t0) if bash and batch else self._accept(0)
        return batch

    # ---- one round ---------------------------------------------------------
    def on_ready(self):
        batch = self._gather()
        if not batch:
            return 0.0
        self.rounds += 1
        if self.rounds > self.limits["max_rounds"]:
            self.end_reason = ("the program made more than %d rounds of tool calls "
                               "(PTC_MAX_ROUNDS); it was ended" % self.limits["max_rounds"])
            self._drop(batch)
            return None
        t0 = time.monotonic()
        self._stop(True)
        calls = [{"id": cid, "name": self.tools[idx]["name"], "input": inp}
                 for _, ids in batch for cid, idx, inp in ids]
        try:
            send_frame(self.ctl, {"type": "tool_calls", "id": self.req["id"],
                                  "round": self.rounds, "calls": calls})
            results = self._await_results([c["id"] for c in calls])
        except OSError:
            results = None
            self.end_reason = "the worker went away while the program was paused"
        if results is None:
            self._drop(batch)
            return None
        self._stop(False)
        for conn, ids in batch:
            _reply(conn, {"results": [results[cid] for cid, _, _ in ids]})
            conn.close()
        return time.monotonic() - t0

    def _await_results(self, ids):
        """The worker's tool_results for `ids`: {id: stub reply}, or None."""
        pause_s = self.limits["pause_ms"] / 1000.0
        self.ctl.settimeout(pause_s)
        try:
            payload = recv_frame(self.ctl)
        except socket.timeout:
            self.end_reason = ("no tool results within %d s (PTC_PAUSE_TTL_SECONDS); "
                               "the program was ended" % int(pause_s))
            return None
        finally:
            self.ctl.settimeout(None)
        if payload is None:
            self.end_reason = "the worker went away while the program was paused"
            return None
        try:
            msg = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            msg = None
        if not isinstance(msg, dict) or msg.get("type") != "tool_results" or \
                msg.get("id") != self.req["id"] or not isinstance(msg.get("results"), list):
            if isinstance(msg, dict) and msg.get("type") == "tool_cancel":
                self.end_reason = "cancelled while waiting for tool results"
            else:
                self.end_reason = "the worker sent no valid tool_results"
                log("ptc: bad tool_results frame")
            return None
        out = {cid: {"ok": False, "error": "no result was given for this call"}
               for cid in ids}
        for r in msg["results"]:
            cid = r.get("call_id") if isinstance(r, dict) else None
            if cid not in out:
                continue
            if r.get("is_error") is True:
                em = r.get("error_message")
                out[cid] = {"ok": False,
                            "error": em if isinstance(em, str) and em else "tool failed"}
            else:
                out[cid] = {"ok": True, "value": r.get("result")}
        return out

    def _stop(self, stop):
        if self.pgid is None:
            return
        try:
            os.killpg(self.pgid, signal.SIGSTOP if stop else signal.SIGCONT)
        except OSError:
            pass

    def _drop(self, batch):
        self._stop(False)
        for conn, _ in batch:
            conn.close()


def bash_env(tools, python):
    """The BASH_ENV file: one shell function per tool (normalised name)
    running the stub client with the tool's index and its JSON argument."""
    client = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ptc_client.py")
    lines = ["# tools of this run (programmatic tool calling)"]
    for i, t in enumerate(tools):
        lines.append("%s() { '%s' -I -S '%s' %d \"$@\"; }" % (t["ident"], python, client, i))
    return "\n".join(lines) + "\n"


def end_note(err, reason):
    """Appends the runner's reason for ending a paused program to stderr."""
    if reason:
        err.feed(("\n" if err.buf and not err.buf.endswith(b"\n") else "").encode()
                 + ("ptc: %s\n" % reason).encode())
