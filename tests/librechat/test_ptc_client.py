"""Programmatic tool calling through LibreChat's own client.

@librechat/agents 3.9.2 (installed by install.sh) drives the real stack
with createProgrammaticToolCallingTool / createBashProgrammaticToolCallingTool
and real LangChain tools (ptc.mjs).  Assertions are on what the model reads
(the tool message), on what the host's tools saw (their call counts) and on
the server's own records (ci:stats rounds, ci:ptc:job, the job's status).

Usage: test_ptc_client.py <case>.  Only loopback addresses are used.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

from stack import Stack, free_port, require_docker_image, run_cases  # noqa: E402

TAG = os.environ.get("IMAGE_TAG", "latest")


def check(cond, msg, *ctx):
    if not cond:
        raise AssertionError(msg + "".join("\n  " + repr(c)[:3000] for c in ctx))


def require_client():
    if not os.path.isfile(os.path.join(HERE, "node_modules", "@librechat", "agents",
                                       "package.json")):
        raise AssertionError("@librechat/agents is not installed: run "
                             "bash tests/librechat/install.sh (the test command does)")


def stack(lang="py", **env):
    require_docker_image("code-interpreter/%s:%s" % (lang, TAG))
    require_client()
    e = {"IMAGE_TAG": TAG}
    e.update(env)
    return Stack(env=e)


def plan_for(s, code, tools, lang="py", port=None, **kw):
    p = {"baseUrl": "http://127.0.0.1:%d" % (port or s.port), "apiKey": s.KEY, "lang": lang,
         "code": code, "tools": tools}
    p.update(kw)
    return p


def client(plan):
    p = subprocess.run(["node", os.path.join(HERE, "ptc.mjs")], input=json.dumps(plan),
                       capture_output=True, text=True, timeout=600, cwd=HERE)
    if p.returncode != 0:
        raise AssertionError("ptc.mjs failed (%d): %s" % (p.returncode, p.stderr[-3000:]))
    return json.loads(p.stdout.strip().splitlines()[-1])


def client_bg(plan):
    p = subprocess.Popen(["node", os.path.join(HERE, "ptc.mjs")], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=HERE)
    p.stdin.write(json.dumps(plan))
    p.stdin.close()
    return p


def stat(s, field):
    raw = s.redis("HGET", "ci:stats", field)
    return int(raw.split(b"\r\n")[1]) if raw.startswith(b"$") and not raw.startswith(b"$-1") \
        else 0


def paused_jobs(s):
    raw = s.redis("KEYS", "ci:ptc:job:*").decode()
    return [l for l in raw.split("\r\n") if l.startswith("ci:ptc:job:")]


def job_status(s, job):
    raw = s.redis("HGET", "ci:job:" + job, "status").decode()
    return raw.split("\r\n")[1] if raw.startswith("$") and not raw.startswith("$-1") else None


def wait_until(pred, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return time.time()
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


# ------------------------------------------------------------------ cases --
def case_one_call():
    with stack() as s:
        r = client(plan_for(s, "open('side.txt', 'a').write('x')\n"
                               "w = await get_weather(city='SF')\n"
                               "print(w['city'], w['temp'], open('side.txt').read())\n",
                            ["get-weather", "fail.me"]))
        check(r["ok"] and r["content"].startswith("stdout:\nSF 21 x\n"), "content", r)
        check(r["calls"] == {"get-weather": 1}, "one call of the host's tool", r)
        check(stat(s, "ptc_rounds") == 1, "one round on the server")


def case_parallel_three():
    with stack() as s:
        r = client(plan_for(s, "import asyncio\n"
                               "a, b, c = await asyncio.gather(get_weather(city='A'), "
                               "get_weather(city='B'), get_weather(city='C'))\n"
                               "print(a['city'] + b['city'] + c['city'])\n",
                            ["get-weather"]))
        check(r["ok"] and "ABC" in r["content"], "content", r)
        check(r["calls"] == {"get-weather": 3}, "three calls", r)
        check(stat(s, "ptc_rounds") == 1, "gather of three = ONE round", stat(s, "ptc_rounds"))


def case_tool_error():
    with stack() as s:
        r = client(plan_for(s, "try:\n    await failme()\nexcept ToolError as e:\n"
                               "    print('caught:', e)\nprint('after')\n",
                            ["fail.me"]))
        check(r["ok"] and "caught: tool 'fail.me' failed: the tool broke\nafter" in r["content"],
              "a clear exception in the program", r)


def case_big_result():
    with stack() as s:
        r = client(plan_for(s, "r = await big_result(n=1048576)\n"
                               "print(len(r), set(r))\n", ["big-result"]))
        check(r["ok"] and "1048576 {'x'}" in r["content"], "1 MB result arrives whole", r)


def case_rounds_25():
    with stack() as s:
        r = client(plan_for(s, "for i in range(25):\n    n = await count()\nprint('n =', n)\n",
                            ["count"], maxRoundTrips=30))
        check(r["ok"] and "n = 25" in r["content"], "25 rounds", r)
        check(r["calls"] == {"count": 25} and stat(s, "ptc_rounds") == 25, "rounds",
              r, stat(s, "ptc_rounds"))


def case_bash_calls():
    with stack("bash") as s:
        code = ('r=$(get_weather \'{"city":"SF"}\'); echo "one $r"\n'
                '{ a=$(get_weather \'{"city":"A"}\'); printf "%s\\n" "$a" > a.json; } &\n'
                '{ b=$(get_weather \'{"city":"B"}\'); printf "%s\\n" "$b" > b.json; } &\n'
                'wait\ncat a.json b.json\n'
                'if fail_me \'{}\'; then echo no; else echo "status $?"; fi\n')
        r = client(plan_for(s, code, ["get-weather", "fail.me"], lang="bash"))
        check(r["ok"], "ok", r)
        check('one {"city":"SF","temp":21}\n{"city":"A","temp":21}\n{"city":"B","temp":21}\n'
              'status 1' in r["content"] and "tool error: the tool broke" in r["content"],
              "content", r)
        check(r["calls"] == {"get-weather": 3, "fail.me": 1}, "calls", r)
        check(stat(s, "ptc_rounds") == 3, "parallel bash calls = one round",
              stat(s, "ptc_rounds"))


def case_cancel():
    with stack() as s:
        # abort while the continuation is in flight (the program sleeps after
        # its call): the library posts /exec/programmatic/cancel
        p = client_bg(plan_for(s, "await get_weather(city='A')\nimport time\ntime.sleep(120)\n",
                               ["get-weather"], abortAfterCall=1))
        wait_until(lambda: paused_jobs(s) or (p.poll() is not None), 120, "the first round")
        raw = s.redis("KEYS", "ci:job:*").decode()
        job = [l for l in raw.split("\r\n") if l.startswith("ci:job:")][0][7:]
        out = json.loads(p.stdout.read().strip().splitlines()[-1])
        p.wait(timeout=60)
        check(not out["ok"], "aborted", out)
        wait_until(lambda: job_status(s, job) == "cancelled", 30, "the job cancelled")
        check(not paused_jobs(s), "nothing paused")
        log = open(os.path.join(s.tmp, "ingress.log")).read()
        check("cancel requested" in log, "the library's cancel reached the server")


def case_pause_ttl():
    with stack(PTC_PAUSE_TTL_SECONDS="2") as s:
        # the host's tool takes longer than the pause TTL
        r = client(plan_for(s, "await get_weather(city='A')\nprint('never')\n",
                            ["get-weather"], toolDelayMs=5000))
        check(not r["ok"] and "never" not in json.dumps(r), "ended", r)
        check(not paused_jobs(s), "the paused program ended at its TTL")
        raw = s.redis("KEYS", "ci:job:*").decode()
        job = [l for l in raw.split("\r\n") if l.startswith("ci:job:")][0][7:]
        check(job_status(s, job) in ("failed",), "job ended", job_status(s, job))


class Alternator:
    """A loopback HTTP relay sending each request to the next of two ingress
    ports in turn (whatever connection it came on): every continuation goes
    through the other ingress process."""

    def __init__(self, ports):
        import http.client
        import http.server
        alt = self
        self.ports, self.n = ports, 0

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                port = alt.ports[alt.n % 2]
                alt.n += 1
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
                hdrs = {k: v for k, v in self.headers.items()
                        if k.lower() not in ("host", "connection")}
                c.request("POST", self.path, body=body, headers=hdrs)
                r = c.getresponse()
                data = r.read()
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                c.close()

        self.port = free_port()
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()


def case_second_ingress():
    with stack() as s:
        port1 = s.port
        s.port = free_port()
        s.env["PORT"] = str(s.port)
        s._spawn("ingress2", [os.environ["CI_INGRESS"]])
        wait_until(lambda: _healthy(s), 20, "ingress 2")
        proxy = Alternator([port1, s.port])
        r = client(plan_for(s, "for c in 'ABC':\n    w = await get_weather(city=c)\n"
                               "    print(w['city'])\n", ["get-weather"], port=proxy.port))
        check(r["ok"] and "A\nB\nC" in r["content"], "continuations through both ingresses", r)
        check(proxy.n >= 4, "requests alternated between the ingresses", proxy.n)
        l1 = open(os.path.join(s.tmp, "ingress.log")).read()
        l2 = open(os.path.join(s.tmp, "ingress2.log")).read()
        check("/exec/programmatic" in l1 and "/exec/programmatic" in l2, "both served")


def _healthy(s):
    try:
        return s.get("/health").status == 200
    except OSError:
        return False


def case_worker_killed():
    with stack() as s:
        p = client_bg(plan_for(s, "await get_weather(city='K')\nprint('never')\n",
                               ["get-weather"], toolDelayMs=1500))
        wait_until(lambda: paused_jobs(s), 120, "the first round")
        s.kill("worker-1", signal.SIGKILL)
        t0 = time.time()
        out = json.loads(p.stdout.read().strip().splitlines()[-1])
        p.wait(timeout=60)
        el = time.time() - t0
        # the library shows the model the answer's stderr
        check(not out["ok"] and "worker holding this program is gone" in out["error"],
              "a clear error", out)
        check(el < 60, "nothing hangs (%.1f s; the pause TTL is 300 s)" % el)


CASES = {n[5:]: f for n, f in globals().items() if n.startswith("case_")}

if __name__ == "__main__":
    sys.exit(run_cases(CASES, sys.argv))
