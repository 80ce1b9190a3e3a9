"""A Python program's tools (programmatic tool calling), inside the forked
child, as the sandbox user: one async function per tool, named by the
client's normalisation (ptc.py_name), called with keyword arguments and
returning the decoded JSON result.  Calls made in the same step of the
event loop (asyncio.gather of three = three calls) go to the runner as one
frame on the tool socket, i.e. one round.  The code itself is compiled
with top-level await and run on a fresh event loop."""

import ast
import asyncio
import inspect
import json
import socket
import struct

from .ptc_client import recv_exact

SOCK = "/run/ci/ptc.sock"
FLUSH_SPINS = 100   # steps a flush waits for other ready tasks to add their calls


class ToolError(Exception):
    """A tool call the host answered with is_error (or that was refused)."""


ToolError.__module__ = "builtins"   # tracebacks say "ToolError: ..."


def _recv_exact(s, n):
    try:
        return recv_exact(s, n)
    except OSError as e:   # a closed or broken channel: the program's error
        raise ToolError(str(e)) from None


def _exchange(calls):
    data = json.dumps({"calls": calls}).encode("utf-8")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(SOCK)
        s.sendall(struct.pack(">I", len(data)) + data)
        (n,) = struct.unpack(">I", _recv_exact(s, 4))
        return json.loads(_recv_exact(s, n).decode("utf-8"))
    finally:
        s.close()


class _Batch:
    def __init__(self):
        self.pending = []   # (tool name, tool index, input, future)

    def flush(self, loop, spins=0):
        # Let every task already runnable reach its own tool call first.
        if getattr(loop, "_ready", None) and spins < FLUSH_SPINS:
            loop.call_soon(self.flush, loop, spins + 1)
            return
        batch, self.pending = self.pending, []
        try:
            reply = _exchange([{"tool": i, "input": inp} for _, i, inp, _ in batch])
        except (OSError, ValueError, ToolError) as e:
            reply = {"error": "tool channel: %s" % e}
        results = reply.get("results") if isinstance(reply, dict) else None
        if not isinstance(results, list) or len(results) != len(batch):
            why = reply.get("error") if isinstance(reply, dict) else None
            results = [{"ok": False, "error": "refused: %s" % (why or "bad reply")}] * len(batch)
        for (name, _, _, fut), r in zip(batch, results):
            if fut.done():
                continue
            if isinstance(r, dict) and r.get("ok") is True:
                fut.set_result(r.get("value"))
            else:
                err = r.get("error") if isinstance(r, dict) else None
                fut.set_exception(ToolError("tool %r failed: %s" % (name, err)))

    def call(self, name, index, kwargs):
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        if not self.pending:
            loop.call_soon(self.flush, loop)
        self.pending.append((name, index, kwargs, fut))
        return fut


def install(g, tools):
    """Defines the tool functions and ToolError in the program's globals."""
    batch = _Batch()

    def make(name, index):
        async def tool(*args, **kwargs):
            if args:
                raise TypeError("%s() takes keyword arguments only" % name)
            json.dumps(kwargs)   # TypeError now, not in the runner
            return await batch.call(name, index, kwargs)
        tool.__name__ = tool.__qualname__ = tools[index]["ident"]
        tool.__doc__ = "Tool %r (programmatic tool calling)." % name
        return tool

    for i, t in enumerate(tools):
        g[t["ident"]] = make(t["name"], i)
    g["ToolError"] = ToolError


def run(src, g):
    """Compile with top-level await; run the coroutine, if any, on a loop."""
    code = compile(src, "main.py", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    res = eval(code, g)
    if inspect.iscoroutine(res):
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(res)
        finally:
            asyncio.set_event_loop(None)
            loop.close()
