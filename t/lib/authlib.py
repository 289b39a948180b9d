"""authlib: helpers of the accounts tests (t/53-auth.t, t/54-authz.t).

Python standard library only.

* Client: requests through a parktest.Stack that keeps every response, so
  that a test can check at its end that no body ever held a password hash.
* JWT forging with hmac/hashlib/base64 (HS256, HS384, HS512, none).
* Accounts: register, login, and the log checks of reliability row 26.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time

from parktest import ok

# ---- JWTs -------------------------------------------------------------------


def b64url(data):
    """base64url without padding, as JWS uses it."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_header(token):
    return json.loads(b64url_decode(token.split(".")[0]))


def jwt_claims(token):
    return json.loads(b64url_decode(token.split(".")[1]))


_DIGESTS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384,
            "HS512": hashlib.sha512}


def forge(claims, key, alg="HS256", header=None, mac_alg=None,
          raw_payload=None):
    """A compact JWS of claims (a dict, or raw_payload bytes/str as they
    are).  alg goes into the header (unless header is given whole); the
    signature is the HMAC of mac_alg (default: alg) with key (bytes or str),
    or empty when that algorithm is "none"."""
    if isinstance(key, str):
        key = key.encode("utf-8")
    hdr = header if header is not None else {"alg": alg, "typ": "JWT"}
    payload = raw_payload if raw_payload is not None else json.dumps(
        claims, separators=(",", ":"))
    signing_input = b64url(json.dumps(hdr, separators=(",", ":"))) + "." + \
        b64url(payload)
    mac_alg = mac_alg or alg
    if mac_alg.lower() == "none":
        return signing_input + "."
    mac = hmac.new(key, signing_input.encode("ascii"), _DIGESTS[mac_alg])
    return signing_input + "." + b64url(mac.digest())


def bearer(token):
    return {"Authorization": "Bearer " + token}


# ---- requests ---------------------------------------------------------------


class Client:
    """Requests through the stack's nginx; every response is kept (in
    self.seen: (method, path, status, body bytes)) for the checks at the
    end.  Thread-safe."""

    def __init__(self, stack):
        self.s = stack
        self.seen = []
        self._lock = threading.Lock()

    def call(self, method, path, body=None, token=None, headers=None,
             source=None, raw=None):
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = "Bearer " + token
        r = self.s.req(method, path, body=body, headers=h, source=source,
                       raw=raw)
        with self._lock:
            self.seen.append((method, path, r.status, r.body))
        return r

    def get(self, path, token=None, **kw):
        return self.call("GET", path, token=token, **kw)

    def post(self, path, body=None, token=None, **kw):
        return self.call("POST", path, body=body, token=token, **kw)

    def check_no_hash(self, what):
        """One test point: no response body held a password hash (werkzeug's
        "scrypt:" or "pbkdf2:")."""
        bad = []
        for method, path, status, body in self.seen:
            text = body.decode("utf-8", "replace")
            if re.search(r"scrypt:|pbkdf2:", text):
                bad.append("%s %s -> %d: %s" % (method, path, status,
                                                  text[:200]))
        return ok(not bad, "%s: none of the %d responses holds a password "
                  "hash" % (what, len(self.seen)), *bad[:5])


def envelope_error(r):
    """The (code, error) of an error envelope, or None when r is not one."""
    j = r.json
    if (isinstance(j, dict) and j.get("success") is False
            and isinstance(j.get("error"), str) and j.get("error")
            and isinstance(j.get("code"), str) and "data" not in j):
        return j["code"], j["error"]
    return None


def is_error(r, status, codes, what):
    """One test point: status and an error envelope whose code is one of
    codes (a string or a tuple)."""
    if isinstance(codes, str):
        codes = (codes,)
    env = envelope_error(r)
    return ok(r.status == status and env is not None and env[0] in codes,
              "%s: %d %s" % (what, status, "/".join(codes)),
              "  got: %d %r" % (r.status, r.body[:300]))


def details(r):
    """The details member of an error envelope ({} when none)."""
    j = r.json if isinstance(r.json, dict) else {}
    d = j.get("details")
    return d if isinstance(d, dict) else {}


# ---- accounts ---------------------------------------------------------------


def tag():
    """A short random tag that keeps names unique across runs."""
    return secrets.token_hex(3)


def new_password():
    """A fresh password; every one made is remembered for the log check."""
    pw = "Pw-" + secrets.token_urlsafe(12)
    PASSWORDS.append(pw)
    return pw


PASSWORDS = []  # every password a test used (checked absent from the logs)
TOKENS = []     # every refresh and access token seen


def register(c, username, email, password, phone=None):
    body = {"username": username, "email": email, "password": password}
    if phone is not None:
        body["phone"] = phone
    return c.post("/api/auth/register", body)


def login(c, ident, password, remember=None, source=None):
    """Logs in; returns the response; tokens are remembered."""
    body = {"username": ident, "password": password}
    if remember is not None:
        body["remember_me"] = remember
    r = c.post("/api/auth/login", body, source=source)
    d = (r.json or {}).get("data") if isinstance(r.json, dict) else None
    if r.status == 200 and isinstance(d, dict):
        TOKENS.extend([d.get("access_token", ""), d.get("refresh_token", "")])
    return r


class User:
    """A registered user with its password (and, after login(), tokens)."""

    def __init__(self, c, prefix="u"):
        self.c = c
        t = tag()
        self.username = "%s_%s" % (prefix, t)
        self.email = "%s.%s@example.com" % (prefix, t)
        self.password = new_password()
        r = register(c, self.username, self.email, self.password)
        if r.status != 200:
            raise RuntimeError("register %s: %d %r" % (self.username,
                                                      r.status, r.body))
        self.id = r.json["data"]["id"]
        self.access = self.refresh = None

    def login(self, ident=None):
        r = login(self.c, ident or self.email, self.password)
        if r.status != 200:
            raise RuntimeError("login %s: %d %r" % (self.username, r.status,
                                                   r.body))
        d = r.json["data"]
        self.access, self.refresh = d["access_token"], d["refresh_token"]
        return self.access, self.refresh

    def session(self):
        """A new login session: (access, refresh), without changing the
        user's current tokens."""
        r = login(self.c, self.email, self.password)
        if r.status != 200:
            raise RuntimeError("login %s: %d %r" % (self.username, r.status,
                                                   r.body))
        d = r.json["data"]
        return d["access_token"], d["refresh_token"]


def admin_login(c):
    s = c.s
    r = login(c, s.admin_email, s.admin_password)
    if r.status != 200:
        raise RuntimeError("admin login: %d %r" % (r.status, r.body))
    return r.json["data"]["access_token"]


# ---- logs -------------------------------------------------------------------


def log_files(stack):
    """Paths of the stack's parkd and nginx logs."""
    paths = [os.path.join(stack.dir, "logs", "parkd.log"),
             os.path.join(stack.dir, "logs", "nginx.log")]
    ngl = os.path.join(stack.dir, "nginx", "logs")
    if os.path.isdir(ngl):
        paths += [os.path.join(ngl, n) for n in sorted(os.listdir(ngl))]
    return [p for p in paths if os.path.exists(p)]


def read_logs(stack):
    """{path: text} of every log of the stack."""
    out = {}
    for p in log_files(stack):
        with open(p, "rb") as f:
            out[p] = f.read().decode("utf-8", "replace")
    return out


def check_log_hygiene(stack, events, what):
    """Reliability row 26: no token, password or refresh token in any log;
    every security event (regular expressions) present in parkd's log."""
    logs = read_logs(stack)
    ok(len(logs) >= 3 and any(p.endswith("nginx-access.log") for p in logs),
       "%s: parkd's and nginx's logs are there" % what, *logs.keys())
    secrets_ = [("a JWT (eyJ)", "eyJ")]
    secrets_ += [("a test password", p) for p in PASSWORDS]
    secrets_ += [("a password", stack.admin_password)]
    secrets_ += [("a token", t) for t in TOKENS if t]
    found = []
    for path, text in logs.items():
        for name, s in secrets_:
            if s and s in text:
                found.append("%s in %s" % (name, os.path.basename(path)))
    ok(not found, "%s: no token or password in any log (%d secrets "
       "looked for)" % (what, len(secrets_)), *sorted(set(found))[:10])
    parkd = logs.get(os.path.join(stack.dir, "logs", "parkd.log"), "")
    for name, pattern in events:
        ok(re.search(pattern, parkd), "%s: security event logged: %s"
           % (what, name), "  pattern: %r" % pattern)
    return logs


def wait(cond, timeout=5.0, step=0.05):
    """Polls cond() until true or timeout; returns its last value."""
    deadline = time.monotonic() + timeout
    v = cond()
    while not v and time.monotonic() < deadline:
        time.sleep(step)
        v = cond()
    return v
