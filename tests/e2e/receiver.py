"""A webhook receiver for tests: http.server on 127.0.0.1 in a thread.

Records every request (headers, body, time) and answers with the next status
of a script (default 200).  Signature checking follows the Standard Webhooks
scheme: base64 HMAC-SHA256 of "id.timestamp.body" with the secret's key
(the base64-decoded part of "whsec_...", else the secret's bytes).
Only loopback is used (DESIGN.md section 7).
"""
import base64
import hashlib
import hmac
import http.server
import json
import socket
import threading
import time


def secret_key(secret):
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[6:])
    return secret.encode()


def signature_ok(secret, headers, body):
    msg = ("%s.%s." % (headers["webhook-id"], headers["webhook-timestamp"])).encode() + body
    want = base64.b64encode(hmac.new(secret_key(secret), msg, hashlib.sha256).digest()).decode()
    sigs = [s.split(",", 1)[1] for s in headers["webhook-signature"].split() if s.startswith("v1,")]
    return any(hmac.compare_digest(want, s) for s in sigs)


class Receiver:
    def __init__(self, port=0, statuses=None, response_body=b"", host="127.0.0.1", by_path=None):
        """`statuses`: the answers, in the order requests arrive (then 200);
        `by_path`: {path: [answers]} for requests to that path instead (then
        200), when deliveries to several paths race."""
        self.requests = []
        self.statuses = list(statuses or [])
        self.by_path = {k: list(v) for k, v in (by_path or {}).items()}
        self.lock = threading.Lock()
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with rec.lock:
                    rec.requests.append({"headers": {k.lower(): v for k, v in self.headers.items()},
                                         "body": body, "path": self.path, "t": time.time()})
                    queue = rec.by_path.get(self.path, rec.statuses)
                    status = queue.pop(0) if queue else 200
                self.send_response(status)
                self.send_header("Content-Length", str(len(response_body)))
                self.end_headers()
                self.wfile.write(response_body)

            def log_message(self, *a):
                pass

        server_cls = http.server.ThreadingHTTPServer
        if ":" in host:  # "::1": an IPv6 listener
            class V6(http.server.ThreadingHTTPServer):
                address_family = socket.AF_INET6
            server_cls = V6
        self.host = host
        self.server = server_cls((host, port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/hook"):
        h = "[%s]" % self.host if ":" in self.host else self.host
        return "http://%s:%d%s" % (h, self.port, path)

    def of_type(self, typ=None):
        """Requests received so far, optionally only those of one event type."""
        with self.lock:
            reqs = list(self.requests)
        return [r for r in reqs if typ is None or json.loads(r["body"])["type"] == typ]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
