"""Edges of the ingress (issue 14, finding 7), over real HTTP.

- Over-limit bodies from clients that send no "Expect: 100-continue"
  (Python's urllib, requests and http.client, Node's fetch) read the 413:
  the ingress drains the body (up to its bound) before answering.
- The failed-authentication counter is counted atomically before the check:
  50 parallel wrong keys get exactly AUTH_FAIL_LIMIT answers 401.
- Every X-Forwarded-For line and entry of a trusted proxy counts.
- ci:authfail:ips is bounded (AUTH_FAIL_IPS_MAX, expired entries pruned, TTL).

Each case starts its own private stack (tests/e2e/stack.py): a redis-server
and the real ci-ingress.  X-Forwarded-For values are documentation addresses
(RFC 5737), only header text: all traffic stays on 127.0.0.1.
"""
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from stack import Stack, run_cases  # noqa: E402

NO_JOB = "0123456789abcdef0123456789abcdef"
OVER = 3 * 1024 * 1024  # over MAX_BODY_BYTES (2 MiB), within the discard bound (8 MiB)


def error_shape(status, body, want_status, want_type):
    assert status == want_status, (status, body[:200])
    j = json.loads(body)
    for k in ("error", "error_type", "details", "request_id", "timestamp"):
        assert k in j, (k, j)
    assert j["error_type"] == want_type, j


def big_body():
    return b'{"lang":"py","code":"' + b"x" * OVER + b'"}'


def via_urllib(s, path, body, key):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (s.port, path), data=body,
                                 method="POST",
                                 headers={"Content-Type": "application/json", "x-api-key": key})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def via_requests(s, path, body, key):
    import requests
    r = requests.post("http://127.0.0.1:%d%s" % (s.port, path), data=body, timeout=60,
                      headers={"Content-Type": "application/json", "x-api-key": key})
    return r.status_code, r.content


def via_requests_chunked(s, path, body, key):
    import requests

    def gen():  # a generator: requests sends Transfer-Encoding: chunked
        for i in range(0, len(body), 65536):
            yield body[i:i + 65536]
    r = requests.post("http://127.0.0.1:%d%s" % (s.port, path), data=gen(), timeout=60,
                      headers={"Content-Type": "application/json", "x-api-key": key})
    return r.status_code, r.content


def via_http_client(s, path, body, key):
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
    try:
        c.request("POST", path, body=body,
                  headers={"Content-Type": "application/json", "x-api-key": key})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


NODE_FETCH = r"""
const [url, key, size] = process.argv.slice(1);
const body = '{"lang":"py","code":"' + 'x'.repeat(Number(size)) + '"}';
fetch(url, {method: 'POST', body,
            headers: {'Content-Type': 'application/json', 'x-api-key': key}})
  .then(async r => { console.log(JSON.stringify({status: r.status, body: await r.text()})); })
  .catch(e => { console.log(JSON.stringify({error: String(e), cause: String(e.cause)}));
                process.exit(1); });
"""


def via_node_fetch(s, path, body, key):
    assert body == big_body()
    p = subprocess.run(["node", "-e", NODE_FETCH, "http://127.0.0.1:%d%s" % (s.port, path),
                        key, str(OVER)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, (p.stdout, p.stderr)
    out = json.loads(p.stdout.strip().splitlines()[-1])
    return out["status"], out["body"].encode()


CLIENTS = [via_urllib, via_requests, via_requests_chunked, via_http_client, via_node_fetch]


def case_body_limit_without_expect():
    with Stack(workers=0) as s:
        body = big_body()
        for client in CLIENTS:
            # over the body limit, valid key: 413 in the error shape
            st, b = client(s, "/exec", body, s.KEY)
            error_shape(st, b, 413, "payload_too_large")
            # refused at the headers for another reason (wrong key): readable too
            st, b = client(s, "/exec", body, "wrong-key-%s" % client.__name__)
            error_shape(st, b, 401, "authentication_error")
        # the connection stays usable after a drained refusal (keep-alive)
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
        try:
            c.request("POST", "/exec", body=body,
                      headers={"Content-Type": "application/json", "x-api-key": s.KEY})
            r = c.getresponse()
            error_shape(r.status, r.read(), 413, "payload_too_large")
            c.request("GET", "/jobs/" + NO_JOB, headers={"x-api-key": s.KEY})
            r = c.getresponse()
            assert r.status == 404, r.status
            r.read()
        finally:
            c.close()
        # with Expect: 100-continue the answer comes before the body is sent
        # (also beyond the discard bound)
        with socket.create_connection(("127.0.0.1", s.port), timeout=30) as sock:
            sock.sendall(("POST /exec HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          "x-api-key: %s\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n"
                          % (s.KEY, 100 * 1024 * 1024)).encode())
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(65536)
                assert chunk, data
                data += chunk
            assert data.startswith(b"HTTP/1.1 413"), data[:100]
        assert s.get("/health").status == 200


# -- the lock-out: counted atomically before the check ------------------------
def case_bruteforce_parallel():
    with Stack(workers=0, env={"INGRESS_THREADS": "32"}) as s:
        n = 50
        barrier = threading.Barrier(n)
        statuses = [None] * n

        def attempt(i):
            c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
            try:
                c.connect()
                barrier.wait()
                c.request("GET", "/jobs/" + NO_JOB, headers={"x-api-key": "guess-%d" % i})
                r = c.getresponse()
                r.read()
                statuses[i] = r.status
            finally:
                c.close()
        threads = [threading.Thread(target=attempt, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # AUTH_FAIL_LIMIT (10) wrong keys are evaluated and answered 401, the rest 429
        assert statuses.count(401) == 10 and statuses.count(429) == 40, statuses
        assert s.redis("GET", "ci:authfail:127.0.0.1") == b"$2\r\n10\r\n", \
            s.redis("GET", "ci:authfail:127.0.0.1")
        # and the lock-out holds for the right key too
        assert s.get("/jobs/" + NO_JOB, key=s.KEY).status == 429


# -- X-Forwarded-For: every line, every entry ------------------------------------
def get_with_lines(s, key, lines):
    """GET with one X-Forwarded-For header line per item of `lines`."""
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
    try:
        c.putrequest("GET", "/jobs/" + NO_JOB)
        c.putheader("x-api-key", key)
        for v in lines:
            c.putheader("X-Forwarded-For", v)
        c.endheaders()
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


def case_forwarded_for_every_line():
    env = {"TRUSTED_PROXIES": "127.0.0.1/32,192.0.2.0/24", "AUTH_FAIL_LIMIT": "3"}
    with Stack(workers=0, env=env) as s:
        # the client forges its own first line; the proxy adds a second line
        for i in range(3):
            assert get_with_lines(s, "bad", ["198.51.100.%d" % i, "203.0.113.7"]) == 401
        # a new forged line changes nothing: the proxy's line names the client
        assert get_with_lines(s, s.KEY, ["198.51.100.99", "203.0.113.7"]) == 429
        # the same client through a chain of trusted proxies, entries in one line
        assert get_with_lines(s, s.KEY, ["198.51.100.50, 203.0.113.7, 192.0.2.10"]) == 429
        # three lines, the last one a trusted hop: still the same client
        assert get_with_lines(s, s.KEY, ["198.51.100.51", "203.0.113.7", "192.0.2.11"]) == 429
        # another client behind the same proxy passes
        assert get_with_lines(s, s.KEY, ["203.0.113.7", "203.0.113.8"]) == 404
        ips = s.redis("ZRANGE", "ci:authfail:ips", "0", "-1")
        assert b"203.0.113.7" in ips and b"198.51.100" not in ips, ips


# -- ci:authfail:ips is bounded ---------------------------------------------------
def case_authfail_ips_bounded():
    env = {"TRUSTED_PROXIES": "127.0.0.1/32", "AUTH_FAIL_IPS_MAX": "20",
           "AUTH_FAIL_WINDOW_SECONDS": "600"}
    with Stack(workers=0, env=env) as s:
        # an entry whose window ended long ago is pruned by the next failure
        s.redis("ZADD", "ci:authfail:ips", "1000", "192.0.2.200")
        for i in range(60):
            assert get_with_lines(s, "bad", ["203.0.113.%d" % i]) == 401
        n = s.redis("ZCARD", "ci:authfail:ips")
        assert n == b":20\r\n", n
        members = s.redis("ZRANGE", "ci:authfail:ips", "0", "-1")
        assert b"192.0.2.200" not in members and b"203.0.113.59\r\n" in members, members
        ttl = int(s.redis("TTL", "ci:authfail:ips")[1:].strip())
        assert 0 < ttl <= 600, ttl
        # the per-IP counters expire with their windows
        ttl = int(s.redis("TTL", "ci:authfail:203.0.113.0")[1:].strip())
        assert 0 < ttl <= 600, ttl


CASES = {
    "body_limit_without_expect": case_body_limit_without_expect,
    "bruteforce_parallel": case_bruteforce_parallel,
    "forwarded_for_every_line": case_forwarded_for_every_line,
    "authfail_ips_bounded": case_authfail_ips_bounded,
}

if __name__ == "__main__":
    sys.exit(run_cases(CASES, sys.argv))
