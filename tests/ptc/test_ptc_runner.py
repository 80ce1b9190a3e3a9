#!/usr/bin/env python3
"""Programmatic tool calling at the runner (docs/runner-protocol.md, "Tool
calls"), inside real sandbox containers: the harness plays the worker
(tests/runner/runner_harness.py's Session) and answers tool_calls frames.

Usage: test_ptc_runner.py <case>   (exit 0 pass, 1 fail, 77 image missing)
$CI_TEST_RUNNER_MOUNT as in test_runner.py (test a runner without images).
"""

import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "runner"))
from runner_harness import SKIP, Fail, Session, check, expect, find_image  # noqa: E402

TOOLS = [{"name": "get-weather", "description": "weather", "parameters": {}},
         {"name": "class", "description": "a keyword"},
         {"name": "fail.me", "description": "always errors"}]


def start(s, code, lang="py", tools=TOOLS, **kw):
    s.seq += 1
    req = {"type": "run", "id": "job-%d" % s.seq, "lang": lang, "code": code,
           "args": [], "timeout_ms": 10000, "max_output": 65536,
           "state_in": False, "state_out": False, "tools": tools}
    req.update(kw)
    s.send(req)
    return req["id"]


def answer(calls, fn):
    out = []
    for c in calls:
        try:
            out.append({"call_id": c["id"], "result": fn(c), "is_error": False})
        except Exception as e:   # the harness's tool failed
            out.append({"call_id": c["id"], "result": None, "is_error": True,
                        "error_message": str(e)})
    return out


def drive(s, jid, fn, rounds=None):
    """Answer every round with fn(call); returns (result, [rounds' calls])."""
    seen = []
    while True:
        msg = s.recv()
        if msg.get("type") != "tool_calls":
            check(msg.get("type") == "result" and msg.get("id") == jid, "result", msg)
            return msg, seen
        check(msg["id"] == jid, "tool_calls id", msg)
        seen.append(msg["calls"])
        s.send({"type": "tool_results", "id": jid, "results": answer(msg["calls"], fn)})


def weather(c):
    if c["name"] == "fail.me":
        raise RuntimeError("the tool broke")
    return {"city": c["input"].get("city"), "temp": 21} if isinstance(c["input"], dict) \
        else {"raw": c["input"]}


# ------------------------------------------------------------------ cases --
def case_py_one(s):
    jid = start(s, "r = await get_weather(city='SF')\nprint(r['city'], r['temp'])\n"
                   "print(await class_tool())\n")
    res, rounds = drive(s, jid, weather)
    expect(res, "completed", 0, "SF 21\n{'city': None, 'temp': 21}\n")
    check([[(c["id"], c["name"], c["input"]) for c in r] for r in rounds] ==
          [[("call_001", "get-weather", {"city": "SF"})], [("call_002", "class", {})]],
          "two rounds, original names, runner ids", rounds)


def case_py_gather(s):
    jid = start(s, "import asyncio\n"
                   "a, b, c = await asyncio.gather(get_weather(city='A'), "
                   "get_weather(city='B'), get_weather(city='C'))\n"
                   "print(a['city'] + b['city'] + c['city'])\n")
    res, rounds = drive(s, jid, weather)
    expect(res, "completed", 0, "ABC\n")
    check(len(rounds) == 1 and len(rounds[0]) == 3, "gather of three = one round", rounds)


def case_py_error(s):
    # Python drops the dot of "fail.me" (LibreChat's normalisation)
    jid = start(s, "try:\n    await failme(x=1)\nexcept ToolError as e:\n    print('caught', e)\n"
                   "await failme()\n")
    res, _ = drive(s, jid, weather)
    expect(res, "failed", 1)
    check("caught tool 'fail.me' failed: the tool broke" in res["stdout"], "message", res)
    check("\nToolError: tool 'fail.me' failed: the tool broke" in res["stderr"] and
          'File "main.py", line 5' in res["stderr"] and "/opt/ci" not in res["stderr"] and
          "asyncio" not in res["stderr"], "traceback", res["stderr"])


def case_py_paused(s):
    # Paused, not replayed: the side effect before the call runs once; the
    # pause (3 s) does not count against the 2 s run timeout; while paused
    # the program is stopped (state T).
    jid = start(s, "open('side.txt', 'a').write('x')\nr = await get_weather(city='P')\n"
                   "open('side.txt', 'a').write('y')\nprint(open('side.txt').read())\n",
                timeout_ms=2000)
    msg = s.recv()
    check(msg.get("type") == "tool_calls", "paused", msg)
    time.sleep(0.3)
    states = os.popen("docker top %s -o pid,stat,args" % s.cid).read()
    check(any(l.split()[1].startswith("T") for l in states.splitlines()[1:]),
          "the program is stopped while paused", states)
    time.sleep(2.7)
    s.send({"type": "tool_results", "id": jid, "results": answer(msg["calls"], weather)})
    res = s.recv()
    expect(res, "completed", 0, "xy\n")


def case_bash(s):
    code = (': &\nwait "$!"\n'
            'r=$(get_weather \'{"city":"SF"}\'); echo "one $r"\n'
            '{ a=$(get_weather \'{"city":"A"}\'); printf "%s\\n" "$a" > a.json; } &\n'
            '{ b=$(get_weather \'{"city":"B"}\'); printf "%s\\n" "$b" > b.json; } &\n'
            'wait\ncat a.json b.json\n'
            'if fail_me \'{}\'; then echo no; else echo "status $?"; fi\n'
            'class \'not json\'\n')   # "class" is no bash reserved word
    jid = start(s, code, lang="bash")
    res, rounds = drive(s, jid, weather)
    expect(res, "completed", 0)
    check(res["stdout"] == 'one {"city":"SF","temp":21}\n{"city":"A","temp":21}\n'
          '{"city":"B","temp":21}\nstatus 1\n{"raw":"not json"}\n', "stdout", res)
    check("tool error: the tool broke" in res["stderr"], "stderr", res)
    check([len(r) for r in rounds] == [1, 2, 1, 1], "parallel bash calls = one round",
          rounds)
    check(rounds[3][0]["name"] == "class" and rounds[3][0]["input"] == "not json", "raw", rounds)


def case_pause_ttl(s):
    jid = start(s, "await get_weather(city='T')\nprint('never')\n", ptc_pause_ms=500)
    msg = s.recv()
    check(msg.get("type") == "tool_calls", "paused", msg)
    res = s.recv()
    expect(res, "failed", 1, "")
    check("no tool results within" in res["stderr"], "reason", res)
    expect(s.run("print('alive')"), "completed", 0, "alive\n")


def case_max_rounds(s):
    jid = start(s, "for i in range(5):\n    await get_weather(city=str(i))\nprint('never')\n",
                ptc_max_rounds=2)
    res, rounds = drive(s, jid, weather)
    expect(res, "failed", 1, "")
    check(len(rounds) == 2 and "more than 2 rounds" in res["stderr"], "rounds", res, rounds)


ATTACK = r'''
import json, os, socket, struct
def ask(raw, read=True):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect("/run/ci/ptc.sock")
    s.sendall(raw)
    if not read:
        s.close(); return None
    s.settimeout(10)
    head = b""
    while len(head) < 4:
        c = s.recv(4 - len(head))
        if not c: return "closed"
        head += c
    (n,) = struct.unpack(">I", head)
    body = b""
    while len(body) < n:
        body += s.recv(n - len(body))
    return json.loads(body).get("error", "no error?")
def frame(obj):
    d = json.dumps(obj).encode(); return struct.pack(">I", len(d)) + d
print(ask(frame({"calls": [{"tool": 99, "input": {}}]})))
print(ask(frame({"calls": [{"tool": "get-weather", "input": {}}]})))
print(ask(b"\x00\x00\x00\x05garbage"))
print(ask(struct.pack(">I", 1 << 30) + b"x" * 100))
print(ask(frame({"calls": [{"tool": 0, "input": {}}] * 65})))
print(ask(frame({"nope": 1})))
ask(b"\x00\x00", read=False)
st = os.stat("/run/ci/ptc.sock")
print(st.st_uid, oct(st.st_mode & 0o777))
try:
    os.unlink("/run/ci/ptc.sock"); print("unlinked!")
except OSError as e:
    print("unlink refused")
r = await get_weather(city="ok")
print(r["city"])
'''


def case_attacks(s):
    """Forged calls, huge and garbage frames on the tool socket: each one
    refused on its own connection, none reaches the worker, the program's
    real call still works."""
    jid = start(s, ATTACK)
    res, rounds = drive(s, jid, weather)
    expect(res, "completed", 0)
    lines = res["stdout"].splitlines()
    check(lines[:6] == ["a call names no tool of this run"] * 2 +
          ["the call frame is not JSON",
           "call frame of 1073741824 bytes is over the 4194304 byte limit",
           "more than 64 tool calls in one round",
           "the call frame needs a non-empty 'calls' array"], "refusals", lines)
    check(lines[6:] == ["1000 0o600", "unlink refused", "ok"], "socket", lines)
    check(len(rounds) == 1 and rounds[0][0]["input"] == {"city": "ok"}, "only the real call",
          rounds)


def case_bad_tools(s):
    for tools, why in (([], "'tools' must be an array"),
                       ([{"name": "a-b"}, {"name": "a b"}], "ambiguous"),
                       ([{"name": "!!"}], "empty or ambiguous"),
                       ([{"nope": 1}], "needs a 'name'")):
        jid = start(s, "print(1)", tools=tools)
        msg = s.recv()
        check(msg.get("type") == "error" and msg.get("id") == jid and why in msg["message"],
              "refused", tools, msg)
    jid = start(s, "int main(){}", lang="c", tools=TOOLS)
    msg = s.recv()
    check(msg.get("type") == "error" and "py and bash" in msg.get("message", "") or
          "unsupported language" in msg.get("message", ""), "c refused", msg)


CASES = {n[5:]: f for n, f in globals().items() if n.startswith("case_")}


def main(argv):
    if len(argv) != 2 or argv[1] not in CASES:
        print("usage: test_ptc_runner.py <%s>" % "|".join(CASES), file=sys.stderr)
        return 2
    name = argv[1]
    image = find_image("bash" if name == "bash" else "py")
    if image is None or shutil.which("docker") is None:
        print("SKIP: no image")
        return SKIP
    s = None
    try:
        s = Session(image)
        CASES[name](s)
    except Fail as e:
        print("FAIL %s: %s" % (name, e))
        return 1
    finally:
        if s is not None:
            s.close()
    print("PASS %s" % name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
