"""JWT mode (issue 12 item 1): LibreChat's signed caller tokens.

A key pair is made at test time with `openssl genpkey` (Ed25519 and RSA);
tokens carry the claims LibreChat's signer sets (packages/api/src/auth/
codeapi.ts: iss, aud, sub, iat, nbf, exp = now + 300, jti, tenant_id, role,
principal_source, auth_context_hash) and are signed with the `cryptography`
library, as LibreChat signs with Node's crypto.sign.  The ingress verifies
them with OpenSSL (ingress/security/ing_jwt.c).  Every forged, expired or mismatched
token is a 401 with the error shape and counts as a failed authentication.

A private stack (tests/e2e/stack.py): redis-server and the real ci-ingress,
no worker (jobs are only queued; a queued job proves its file references
were authorised).
"""
import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from stack import Stack, run_cases  # noqa: E402
from test_files import multipart  # noqa: E402

from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: E402

ADMIN = "admin-key-0123456789abcdef0123"


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def make_keys(tmp, kind):
    """openssl genpkey: (private PEM path, public PEM path)."""
    priv, pub = os.path.join(tmp, kind + ".key"), os.path.join(tmp, kind + ".pub")
    algo = ["-algorithm", "ed25519"] if kind.startswith("ed25519") else \
        ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
    subprocess.run(["openssl", "genpkey"] + algo + ["-out", priv], check=True,
                   capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", priv, "-pubout", "-out", pub], check=True,
                   capture_output=True)
    return priv, pub


def claims(sub, tenant="tenant-1", **over):
    now = int(time.time())
    c = {"iss": "librechat", "aud": "codeapi", "sub": sub, "iat": now, "nbf": now,
         "exp": now + 300, "jti": str(uuid.uuid4()), "tenant_id": tenant, "role": "USER",
         "principal_source": "librechat_jwt"}
    c["auth_context_hash"] = hashlib.sha256(json.dumps(
        {"sub": sub, "tenant_id": tenant, "role": "USER"}).encode()).hexdigest()
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def sign(alg, priv_path, payload, header=None):
    key = serialization.load_pem_private_key(open(priv_path, "rb").read(), None)
    h = header or {"alg": alg, "typ": "JWT", "kid": "lc-codeapi-2026-05"}
    si = b64u(json.dumps(h).encode()) + "." + b64u(json.dumps(payload).encode())
    if alg == "RS256":
        sig = key.sign(si.encode(), padding.PKCS1v15(), hashes.SHA256())
    else:
        sig = key.sign(si.encode())
    return si + "." + b64u(sig)


def bearer(token, extra=None):
    h = {"Authorization": "Bearer " + token}
    h.update(extra or {})
    return h


def upload(s, token, fields, files):
    parts = [(k, None, v.encode()) for k, v in fields] + [("file", n, d) for n, d in files]
    ctype, body = multipart(parts)
    return s.request("POST", "/upload", raw=body, headers=bearer(token, {"Content-Type": ctype}))


def failures(s):
    r = s.request("GET", "/admin/stats/auth", key=ADMIN)
    assert r.status == 200, r.body
    return r.json()["authentication_failure"]


def check_401(r, what):
    assert r.status == 401, (what, r.status, r.body)
    j = r.json()
    for k in ("error", "error_type", "details", "request_id", "timestamp"):
        assert k in j, (what, k, j)


def run_mode(kind, alg):
    with Stack(workers=0, start=False) as s:
        priv, pub = make_keys(s.tmp, kind)
        other_priv, _ = make_keys(s.tmp, kind + "-other")
        s.env.update({"CODEAPI_JWT_PUBLIC_KEY_FILE": pub, "CODEAPI_JWT_AUDIENCE": "codeapi",
                      "ADMIN_API_KEY": ADMIN, "AUTH_FAIL_LIMIT": "1000"})
        s.start()
        u1 = sign(alg, priv, claims("user-1"))
        u2 = sign(alg, priv, claims("user-2"))
        t2 = sign(alg, priv, claims("user-1", tenant="tenant-2"))
        # user-kind upload: the user is the token's sub (User-Id is ignored)
        r = upload(s, u1, [("kind", "user"), ("id", "user-1")], [("notes.txt", b"u1 private\n")])
        assert r.status == 200, r.body
        usid, ufid = r.json()["storage_session_id"], r.json()["files"][0]["fileId"]
        r = upload(s, u1, [("kind", "agent"), ("id", "agent_x")], [("shared.csv", b"a,b\n")])
        asid, afid = r.json()["storage_session_id"], r.json()["files"][0]["fileId"]
        probe = "/sessions/%s/objects/%s" % (usid, ufid)
        assert s.request("GET", probe + "?kind=user&id=user-1", headers=bearer(u1)).status == 200
        assert s.request("GET", "/download/%s/%s" % (usid, ufid),
                         headers=bearer(u1)).body == b"u1 private\n"
        for tok, h in ((u2, {}), (u2, {"User-Id": "user-1"}), (t2, {})):
            r = s.request("GET", probe + "?kind=user&id=user-1", headers=bearer(tok, h))
            assert r.status == 404, (h, r.status, r.body)
        # agent files: shared by the tenant's users, not across tenants
        aprobe = "/sessions/%s/objects/%s?kind=agent&id=agent_x" % (asid, afid)
        assert s.request("GET", aprobe, headers=bearer(u2)).status == 200
        assert s.request("GET", aprobe, headers=bearer(t2)).status == 404
        # a static key is another tenant: it never reaches the JWT tenant's files
        assert s.request("GET", probe, key=s.KEY, headers={"User-Id": "user-1"}).status == 404
        assert s.request("GET", aprobe, key=s.KEY).status == 404
        # exec file references authorised per kind (queued = authorised)
        ref_u = {"id": ufid, "resource_id": "user-1", "name": "notes.txt",
                 "storage_session_id": usid, "kind": "user"}
        ref_a = {"id": afid, "resource_id": "agent_x", "name": "shared.csv",
                 "storage_session_id": asid, "kind": "agent"}
        job = {"lang": "py", "code": "print(1)", "files": [ref_u, ref_a]}
        r = s.request("POST", "/jobs", body=job, headers=bearer(u1))
        assert r.status == 202, r.body
        jid = r.json()["job_id"]
        # the body's user_id cannot claim another user in JWT mode
        r = s.request("POST", "/jobs", body=dict(job, user_id="user-1"), headers=bearer(u2))
        assert r.status == 404, r.body
        r = s.request("POST", "/jobs", body={"lang": "py", "code": "1", "files": [ref_a]},
                      headers=bearer(u2))
        assert r.status == 202, r.body
        assert s.request("GET", "/jobs/" + jid, headers=bearer(u1)).status == 200
        assert s.request("GET", "/jobs/" + jid, headers=bearer(u2)).status == 404
        # static keys keep working next to JWT mode
        assert s.post("/jobs", {"lang": "py", "code": "1"}).status == 202

        # negative cases: each a 401, each counted as a failed authentication
        now = int(time.time())
        pub_pem = open(pub, "rb").read()
        si = b64u(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + \
            b64u(json.dumps(claims("user-1")).encode())
        hs256 = si + "." + b64u(hmac.new(pub_pem, si.encode(), hashlib.sha256).digest())
        none = b64u(json.dumps({"alg": "none", "typ": "JWT"}).encode()) + "." + \
            b64u(json.dumps(claims("user-1")).encode()) + "."
        none_sig = none + b64u(b"x")
        other_alg = "EdDSA" if alg == "RS256" else "RS256"
        good = sign(alg, priv, claims("user-1"))
        h, p, sig = good.split(".")
        tampered_claims = dict(claims("user-1"), sub="user-2")
        tampered = h + "." + b64u(json.dumps(tampered_claims).encode()) + "." + sig
        bad = {
            "alg none": none,
            "alg none with a signature": none_sig,
            "HS256 signed with the public key": hs256,
            "alg of the other key type": sign(alg, priv, claims("user-1"),
                                              header={"alg": other_alg, "typ": "JWT"}),
            "wrong issuer": sign(alg, priv, claims("user-1", iss="evil")),
            "wrong audience": sign(alg, priv, claims("user-1", aud="other")),
            "expired": sign(alg, priv, claims("user-1", iat=now - 1000, nbf=now - 1000,
                                              exp=now - 600)),
            "nbf in the future": sign(alg, priv, claims("user-1", nbf=now + 600,
                                                        exp=now + 900, iat=now)),
            "lifetime too long": sign(alg, priv, claims("user-1", exp=now + 30 * 86400)),
            "no sub": sign(alg, priv, {k: v for k, v in claims("user-1").items() if k != "sub"}),
            "tampered payload": tampered,
            "wrong key": sign(alg, other_priv, claims("user-1")),
            "truncated signature": good[:-4],
        }
        before = failures(s)
        for what, tok in bad.items():
            check_401(s.request("GET", probe, headers=bearer(tok)), what)
            check_401(s.request("POST", "/jobs", body=job, headers=bearer(tok)), what)
        assert failures(s) - before == 2 * len(bad), (before, failures(s))
        # the failures were audited with their reason; the token never was
        r = s.request("GET", "/admin/events?limit=1000&type=authentication", key=ADMIN)
        ev = [e for e in r.json()["events"] if not e["success"]]
        reasons = {e.get("reason") for e in ev}
        for want in ("algorithm does not match the configured key", "wrong issuer",
                     "wrong audience", "expired", "not valid yet (nbf)", "bad signature"):
            assert want in reasons, (want, reasons)
        assert good not in json.dumps(r.json())
        # the good token still works after all that
        assert s.request("GET", probe, headers=bearer(u1)).status == 200


def case_eddsa():
    run_mode("ed25519", "EdDSA")


def case_rs256():
    run_mode("rsa", "RS256")


def case_jwt_only():
    """JWT mode without any static key: the ingress starts, and a key-less
    request is a 401."""
    with Stack(workers=0, start=False) as s:
        priv, pub = make_keys(s.tmp, "ed25519")
        s.env.pop("API_KEYS", None)
        s.env.update({"CODEAPI_JWT_PUBLIC_KEY_FILE": pub})
        s.start()
        tok = sign("EdDSA", priv, claims("u", tenant=None, aud=None))
        assert s.request("POST", "/jobs", body={"lang": "py", "code": "1"},
                         headers=bearer(tok)).status == 202
        check_401(s.request("POST", "/jobs", body={"lang": "py", "code": "1"}, key=Stack.KEY),
                  "no static keys")


CASES = {"eddsa": case_eddsa, "rs256": case_rs256, "jwt_only": case_jwt_only}

if __name__ == "__main__":
    sys.exit(run_cases(CASES, sys.argv))
