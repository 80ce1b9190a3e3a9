"""A minimal S3 server for tests that checks every request's AWS SigV4 signature.

s3rver (the real S3-compatible server the other storage tests use) checks
only the access key id of a V4 request; this server recomputes the whole
signature the way S3 does (canonical request, string to sign, signing key
from the secret) and answers 403 SignatureDoesNotMatch when it differs, so a
request our client signs wrongly (libcurl's CURLOPT_AWS_SIGV4 with our
headers, query strings and region) fails the test instead of passing.

Objects live in memory. Path-style URLs, one bucket. Supported: PUT, GET,
HEAD and DELETE of objects; GET of the bucket with list-type=2 and prefix
(no pagination: every key in one page).

    python3 sigv4_s3.py PORT BUCKET ACCESS_KEY SECRET_KEY REGION

Loopback only (DESIGN.md section 7). Standard library only.
"""
import email.utils
import hashlib
import hmac
import http.server
import sys
import time
import urllib.parse
from xml.sax.saxutils import escape

PORT, BUCKET, ACCESS, SECRET, REGION = sys.argv[1:6]
OBJECTS = {}  # key -> (bytes, mtime)
UNRESERVED = "-_.~"


def aws_quote(s):
    return urllib.parse.quote(s, safe=UNRESERVED)


def canonical_query(raw):
    pairs = []
    for part in raw.split("&") if raw else []:
        name, _, value = part.partition("=")
        pairs.append((aws_quote(urllib.parse.unquote(name)),
                      aws_quote(urllib.parse.unquote(value))))
    return "&".join("%s=%s" % p for p in sorted(pairs))


def canonical_uri(path):
    return "/".join(aws_quote(urllib.parse.unquote(seg)) for seg in path.split("/"))


def hmac256(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("sigv4_s3: " + (fmt % args) + "\n")

    def reply(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status, code, msg):
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code>"
                "<Message>%s</Message></Error>" % (code, escape(msg))).encode()
        self.reply(status, body, {"Content-Type": "application/xml"})

    def verify(self, body):
        """None when the signature is right, else the reason."""
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            return "not a SigV4 Authorization header"
        fields = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
        cred = fields["Credential"].split("/")
        if len(cred) != 5 or cred[0] != ACCESS:
            return "unknown access key"
        date, region, service, term = cred[1:]
        if region != REGION or service != "s3" or term != "aws4_request":
            return "bad credential scope %s" % fields["Credential"]
        amz_date = self.headers.get("x-amz-date", "")
        if not amz_date.startswith(date):
            return "x-amz-date does not match the scope"
        payload = self.headers.get("x-amz-content-sha256")
        if payload is None:
            return "no x-amz-content-sha256"
        if payload != "UNSIGNED-PAYLOAD" and payload != hashlib.sha256(body).hexdigest():
            return "payload hash mismatch"
        signed = fields["SignedHeaders"].split(";")
        if "host" not in signed or "x-amz-date" not in signed:
            return "host and x-amz-date must be signed"
        path, _, query = self.path.partition("?")
        lines = []
        for name in signed:
            value = self.headers.get(name)
            if value is None:
                return "signed header %s missing" % name
            lines.append("%s:%s\n" % (name, " ".join(value.split())))
        creq = "\n".join([self.command, canonical_uri(path), canonical_query(query),
                          "".join(lines), fields["SignedHeaders"], payload])
        sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, "/".join(cred[1:]),
                         hashlib.sha256(creq.encode()).hexdigest()])
        key = hmac256(("AWS4" + SECRET).encode(), date)
        for part in (region, service, term):
            key = hmac256(key, part)
        want = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, fields["Signature"]):
            return "SignatureDoesNotMatch (canonical request %r)" % creq
        return None

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        why = self.verify(body)
        if why:
            self.log_message("refused %s %s: %s", self.command, self.path, why)
            return self.error(403, "SignatureDoesNotMatch", why)
        path, _, query = self.path.partition("?")
        parts = urllib.parse.unquote(path).lstrip("/").split("/", 1)
        if parts[0] != BUCKET:
            return self.error(404, "NoSuchBucket", parts[0])
        key = parts[1] if len(parts) > 1 else ""
        if not key:
            if self.command != "GET":
                return self.error(405, "MethodNotAllowed", self.command)
            q = urllib.parse.parse_qs(query, keep_blank_values=True)
            prefix = q.get("prefix", [""])[0]
            keys = sorted(k for k in OBJECTS if k.startswith(prefix))
            xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult>"
                   "<Name>%s</Name><Prefix>%s</Prefix><KeyCount>%d</KeyCount>"
                   "<IsTruncated>false</IsTruncated>%s</ListBucketResult>" % (
                       BUCKET, escape(prefix), len(keys),
                       "".join("<Contents><Key>%s</Key><Size>%d</Size></Contents>"
                               % (escape(k), len(OBJECTS[k][0])) for k in keys)))
            return self.reply(200, xml.encode(), {"Content-Type": "application/xml"})
        if self.command == "PUT":
            OBJECTS[key] = (body, time.time())
            return self.reply(200, b"", {"ETag": '"%s"' % hashlib.md5(body).hexdigest()})
        if self.command == "DELETE":
            OBJECTS.pop(key, None)
            return self.reply(204)
        if key not in OBJECTS:
            return self.error(404, "NoSuchKey", key)
        data, mtime = OBJECTS[key]
        return self.reply(200, data, {
            "Content-Type": "application/octet-stream",
            "ETag": '"%s"' % hashlib.md5(data).hexdigest(),
            "Last-Modified": email.utils.formatdate(mtime, usegmt=True)})

    do_GET = do_PUT = do_HEAD = do_DELETE = handle_any


if __name__ == "__main__":
    http.server.ThreadingHTTPServer(("127.0.0.1", int(PORT)), Handler).serve_forever()
