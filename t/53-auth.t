#!/usr/bin/env python3
"""53-auth.t: accounts and tokens through real nginx (issue 3; reliability
plan rows 16, 17 and 26).

Registration and its validation, login (e-mail in any case, exact username,
the admin, inactive accounts), the JWT negative suite with tokens forged in
Python, refresh rotation with reuse detection and the concurrent-refresh
race, the token lifetimes (1 hour, 7 days with remember_me, kept by
refreshes; expires_in is exp - iat; shortened by a reload; a 7-day token
ended at once by logout and deactivation: #15 item 2; the access token a
refresh replaced refused past the leeway in every worker, and tokens issued
before a reload that shortened the lifetimes refused: #14, review of #15,
items 1 and 2), logout in every
worker and across a restart of parkd, password change, the admin's user
management, and at the end the logs: no token or password in them, control
characters escaped, security events present.

t/54-authz.t has the authorisation matrix, mass assignment and the
brute-force limits.
"""

import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import authlib as A  # noqa: E402
import parking as P  # noqa: E402
import parktest as T  # noqa: E402
from authlib import details, forge, is_error, jwt_claims  # noqa: E402
from parktest import diag, is_, like, ok  # noqa: E402

ISO_UTC = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"
USER_KEYS = {"id", "username", "email", "role", "phone", "is_active",
             "created_at", "updated_at", "last_login", "email_verified"}
TOKEN_CODES = ("UNAUTHENTICATED", "TOKEN_EXPIRED", "TOKEN_REVOKED")
WORKERS = 4
LEEWAY = 3  # PARKD_REFRESH_LEEWAY_S of the stack
# The default lifetimes (conf.c; the old backend's for access tokens).
ACCESS_S = 3600                 # JWT_ACCESS_TOKEN_EXPIRES
ACCESS_REMEMBER_S = 7 * 86400   # PARKD_JWT_ACCESS_REMEMBER_EXPIRES
REFRESH_S = 30 * 86400          # JWT_REFRESH_TOKEN_EXPIRES
REFRESH_REMEMBER_S = 90 * 86400  # PARKD_JWT_REMEMBER_EXPIRES
TIMING_TRIES = 11


def user_object(u, what):
    """One test point: u is a user object of the contract."""
    problems = []
    if not isinstance(u, dict):
        return ok(False, what + ": a user object", "  got %r" % (u,))
    missing = USER_KEYS - set(u)
    if missing:
        problems.append("missing %s" % sorted(missing))
    extra = set(u) - USER_KEYS
    if extra:
        problems.append("unexpected %s" % sorted(extra))
    if u.get("role") != "user":
        problems.append("role %r" % u.get("role"))
    if not isinstance(u.get("id"), int):
        problems.append("id %r" % u.get("id"))
    for k in ("created_at", "updated_at"):
        if not re.match(ISO_UTC, str(u.get(k))):
            problems.append("%s %r" % (k, u.get(k)))
    return ok(not problems, what + ": a user object of the contract",
              *problems)


# ---- registration -----------------------------------------------------------


def test_register(c):
    t = A.tag()
    pw = A.new_password()

    def bad(body, field, what):
        r = c.post("/api/auth/register", body)
        good = is_error(r, 400, "VALIDATION", "register " + what)
        d = details(r)
        ok(isinstance(d.get(field), list) and d[field]
           and all(isinstance(x, str) for x in d[field]),
           "register %s: details.%s says why" % (what, field),
           "  details: %r" % d)
        return good

    base = {"username": "rv_" + t, "email": "rv.%s@example.com" % t,
            "password": pw}

    def w(**kw):
        b = dict(base)
        b.update(kw)
        return {k: v for k, v in b.items() if v is not None}

    # username ^[A-Za-z0-9_]{3,80}$
    bad(w(username="ab"), "username", "username of 2 characters")
    bad(w(username="a" * 81), "username", "username of 81 characters")
    bad(w(username="bad name"), "username", "username with a space")
    bad(w(username="bad-name"), "username", "username with a hyphen")
    bad(w(username="b\u00e4d_name"), "username", "username with a non-ASCII "
        "letter")
    bad(w(username="x\nname"), "username", "username with a newline")
    bad(w(username=123), "username", "username as a number")
    bad(w(username=None), "username", "without a username")
    # e-mail
    for e, what in (("not-an-email", "without @"),
                    ("a@b", "with a one-label domain"),
                    ("a@@example.com", "with two @"),
                    ("a b@example.com", "with a space"),
                    ("a@example.c", "with a one-letter TLD"),
                    (".a@example.com", "starting with a dot"),
                    ("a" * 65 + "@example.com", "with a 65-character local "
                     "part"),
                    ("a@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + "."
                     + "e" * 60 + ".com", "over 254 characters"),
                    ("a@exa\rmple.com", "with a CR")):
        bad(w(email=e), "email", "e-mail " + what)
    bad(w(email=None), "email", "without an e-mail")
    # password: 8 to 128 characters, counted as characters
    bad(w(password="Sh0rt-7"), "password", "password of 7 characters")
    bad(w(password="\u00e9" * 7), "password", "password of 7 two-byte "
        "characters (14 bytes)")
    bad(w(password="x" * 129), "password", "password of 129 characters")
    bad(w(password="\u65e5" * 129), "password", "password of 129 "
        "three-byte characters")
    bad(w(password="pass\x01word"), "password", "password with a control "
        "character")
    bad(w(password=None), "password", "without a password")
    # phone
    bad(w(phone="12345"), "phone", "phone of 5 digits")
    bad(w(phone="+1234567890123456"), "phone", "phone of 16 digits")
    bad(w(phone="555-CALL-NOW"), "phone", "phone with letters")
    bad(w(phone="1+5551234567"), "phone", "phone with an inner +")

    # Every rule at its edge, accepted.
    accepted = [
        ("username of 3 characters", dict(username="r%s" % t[:2])),
        ("username of 80 characters", dict(username=("R_" + t + "x" * 80)
                                           [:80])),
        ("password of 8 characters", dict(password="Qz8!kP2#")),
        ("password of 8 three-byte characters (24 bytes)",
         dict(password="\u65e5\u672c\u8a9e\u30d1\u30b9\u30ef\u30fc\u30c9")),
        ("password of 128 four-byte characters (512 bytes)",
         dict(password="\U0001F511" * 128)),
        ("password of 128 characters", dict(password="y" * 128)),
    ]
    for i, (what, fields) in enumerate(accepted):
        body = {"username": "ra%d_%s" % (i, t),
                "email": "ra%d.%s@example.com" % (i, t),
                "password": pw}
        body.update(fields)
        if "password" in fields:
            A.PASSWORDS.append(fields["password"])
        r = c.post("/api/auth/register", body)
        is_(r.status, 200, "register with a %s: 200" % what)
    r = login(c, "ra4.%s@example.com" % t, "\U0001F511" * 128)
    is_(r.status, 200, "the 128-emoji password logs in")

    # The user object, the phone normalised, the e-mail lower-cased.
    r = c.post("/api/auth/register", {
        "username": "Reg_" + t, "email": "Reg.Mixed.%s@Example.COM" % t,
        "password": pw, "phone": " +1 (555) 123-4567 "})
    is_(r.status, 200, "register: 200")
    j = r.json or {}
    ok(j.get("success") is True and isinstance(j.get("message"), str),
       "register: success envelope")
    u = j.get("data") or {}
    user_object(u, "register")
    is_(u.get("username"), "Reg_" + t, "register: the username as given")
    is_(u.get("email"), "reg.mixed.%s@example.com" % t,
        "register: the e-mail stored lower-case")
    is_(u.get("phone"), "+15551234567",
        "register: the phone without spaces, dashes and parentheses")
    is_(u.get("is_active"), True, "register: active")
    is_(u.get("last_login"), None, "register: never logged in")
    text = r.body.decode()
    ok("token" not in text and "password" not in text and pw not in text,
       "register: no token, password or hash in the answer",
       "  body: %r" % text[:300])

    # Duplicates: 409 with the field named.
    r = c.post("/api/auth/register", {"username": "Reg_" + t,
                                      "email": "other.%s@example.com" % t,
                                      "password": pw})
    is_error(r, 409, "CONFLICT", "register a taken username")
    ok("username" in details(r) and "email" not in details(r),
       "taken username: details.username", "  %r" % details(r))
    r = c.post("/api/auth/register", {"username": "Other_" + t,
                                      "email": "REG.MIXED.%s@EXAMPLE.com" % t,
                                      "password": pw})
    is_error(r, 409, "CONFLICT", "register a taken e-mail in another case")
    ok("email" in details(r) and "username" not in details(r),
       "taken e-mail: details.email", "  %r" % details(r))
    r = c.post("/api/auth/register", {"username": "Reg_" + t,
                                      "email": "reg.mixed.%s@example.com" % t,
                                      "password": pw})
    is_error(r, 409, "CONFLICT", "register a taken username and e-mail")
    ok("email" in details(r) and "username" in details(r),
       "both taken: both named", "  %r" % details(r))
    r = c.post("/api/auth/register", {"username": "Adm_" + t,
                                      "email": c.s.admin_email.upper(),
                                      "password": pw})
    is_error(r, 409, "CONFLICT", "register the admin's e-mail (upper case)")
    ok("email" in details(r), "the admin's e-mail: details.email")
    return "Reg_" + t, "reg.mixed.%s@example.com" % t, pw


def login(c, ident, pw, **kw):
    return A.login(c, ident, pw, **kw)


# ---- login ------------------------------------------------------------------


def set_hashes(s, *pairs):
    """Stores password hashes (user id, hash) behind parkd's back, in one
    write transaction of the stack's database (either back end)."""
    db = P.dbconn(s)
    try:
        db.execute("BEGIN IMMEDIATE")
        for uid, h in pairs:
            db.execute("UPDATE users SET password_hash = ? WHERE id = ?",
                       (h, uid))
        db.execute("COMMIT")
    finally:
        db.close()


def test_timing(c):
    """Every failed login costs at least one verification at the policy: a
    known user's wrong password, an unknown user, the admin's wrong
    password (ADMIN_PASSWORD in clear: checked against a hash made at
    start), a user whose stored hash pw_parse refuses (an import), and
    users whose imported hashes are cheaper than the policy
    (pbkdf2:sha256:1, and scrypt N=16384 r=1, an eighth of this stack's
    N=16384 r=8).  Medians of interleaved tries are within a factor of 2
    (review lessons: the admin answered in 0.9 ms, the bad hash at once,
    a cheap imported hash in a fraction of an unknown name's time)."""
    s = c.s
    known = A.User(c, "tk")
    bad = A.User(c, "tbad")
    cheap = A.User(c, "tcheap")
    cheap2 = A.User(c, "tcheap2")
    set_hashes(s, (bad.id, "sha256$Xk3pQ9rT$" + "ab" * 32),
               (cheap.id, "pbkdf2:sha256:1$Xk3pQ9rT$" + "ab" * 32),
               (cheap2.id, "scrypt:16384:1:1$Xk3pQ9rT$" + "ab" * 64))
    cases = [
        ("known user, wrong password", lambda: (known.email, "Wrong-pw-1")),
        ("unknown user", lambda: ("ghost.%s@example.com" % A.tag(),
                                  "Wrong-pw-1")),
        ("admin, wrong password", lambda: (s.admin_email, "Wrong-pw-1")),
        ("stored hash pw_parse refuses", lambda: (bad.email, "Wrong-pw-1")),
        ("imported pbkdf2:sha256:1", lambda: (cheap.email, "Wrong-pw-1")),
        ("imported scrypt:16384:1:1", lambda: (cheap2.email, "Wrong-pw-1")),
    ]
    times = {name: [] for name, _ in cases}
    statuses = set()
    for _ in range(TIMING_TRIES):
        for name, creds in cases:
            ident, pw = creds()
            t0 = time.monotonic()
            r = login(c, ident, pw)
            times[name].append(time.monotonic() - t0)
            statuses.add(r.status)
    is_(statuses, {401}, "timing: every try answered 401")
    med = {n: sorted(t)[len(t) // 2] * 1000 for n, t in times.items()}
    for n in med:
        diag("login time, %s: median %.1f ms of %d" % (n, med[n],
                                                     TIMING_TRIES))
    lo, hi = min(med.values()), max(med.values())
    ok(hi <= 2 * lo, "failed logins cost the same: the slowest median "
       "(%.1f ms) within twice the fastest (%.1f ms)" % (hi, lo),
       *["  %s: %.1f ms" % kv for kv in sorted(med.items())])


def test_login(c, username, email, pw):
    r = login(c, email.upper(), pw)
    is_(r.status, 200, "login by e-mail in upper case: 200")
    d = (r.json or {}).get("data") or {}
    ok(isinstance(d.get("access_token"), str) and
       isinstance(d.get("refresh_token"), str),
       "login: access and refresh tokens")
    user_object(d.get("user"), "login")
    like(str(d.get("user", {}).get("last_login")), ISO_UTC,
         "login: last_login is set")
    claims = jwt_claims(d["access_token"])
    ok(set(claims) >= {"sub", "role", "type", "jti", "sid", "iat", "nbf",
                       "exp", "iss", "username", "email"}
       and claims["type"] == "access" and claims["role"] == "user"
       and claims["sub"] == str(d["user"]["id"])
       and claims["exp"] - claims["iat"] == ACCESS_S,
       "the access token's claims", "  %r" % claims)
    rc = jwt_claims(d["refresh_token"])
    ok(rc.get("type") == "refresh" and rc.get("sid") == claims["sid"]
       and "username" not in rc, "the refresh token's claims", "  %r" % rc)

    r = login(c, username, pw)
    is_(r.status, 200, "login by exact username: 200")
    r2 = c.get("/api/auth/me", token=r.json["data"]["access_token"])
    is_(r2.status, 200, "me: 200")
    u = ((r2.json or {}).get("data") or {}).get("user")
    user_object(u, "me")
    like(str((u or {}).get("last_login")), ISO_UTC, "me: last_login set")

    r = login(c, username.lower(), pw)
    is_error(r, 401, "UNAUTHENTICATED", "login by username in another case "
             "(usernames are exact)")
    wrong = login(c, email, pw + "x")
    unknown = login(c, "nobody.%s@example.com" % A.tag(), pw)
    unknown_name = login(c, "nobody_" + A.tag(), pw)
    is_error(wrong, 401, "UNAUTHENTICATED", "wrong password")
    is_(wrong.json.get("error") if wrong.json else None,
        "Invalid username/email or password", "wrong password: the text")
    is_((unknown.status, unknown.body), (wrong.status, wrong.body),
        "unknown e-mail: the same status and body as a wrong password")
    is_((unknown_name.status, unknown_name.body), (wrong.status, wrong.body),
        "unknown username: the same status and body as a wrong password")
    is_(unknown.headers.get("www-authenticate"),
        wrong.headers.get("www-authenticate"),
        "unknown user and wrong password: the same WWW-Authenticate")
    # The admin.
    s = c.s
    r = login(c, s.admin_email.upper(), s.admin_password)
    is_(r.status, 200, "admin login by e-mail in upper case: 200")
    au = ((r.json or {}).get("data") or {}).get("user") or {}
    ok(au.get("id") == "admin" and au.get("username") == "admin"
       and au.get("email") == s.admin_email and au.get("role") == "admin"
       and au.get("is_active") is True and "password" not in r.body.decode(),
       "admin login: the admin user object of the contract", "  %r" % au)
    ac = jwt_claims(r.json["data"]["access_token"])
    ok(ac.get("sub") == "admin" and ac.get("role") == "admin",
       "admin token: sub and role admin", "  %r" % ac)
    r2 = c.get("/api/auth/me", token=r.json["data"]["access_token"])
    is_(((r2.json or {}).get("data") or {}).get("user"), au,
        "admin me: the same admin object")
    r = login(c, s.admin_email, s.admin_password + "x")
    is_((r.status, r.body), (wrong.status, wrong.body),
        "admin with a wrong password: the same answer as any")
    r = login(c, "admin", s.admin_password)
    is_(r.status, 401, "the admin logs in by its e-mail only")

    # Bodies the login refuses.
    r = c.post("/api/auth/login", {"username": email, "password": pw,
                                   "remember_me": "yes"})
    is_error(r, 400, "VALIDATION", "login with remember_me not a boolean")
    r = c.post("/api/auth/login", {"username": email})
    is_error(r, 400, "VALIDATION", "login without a password")


def test_inactive(c, admin):
    u = A.User(c, "inact")
    acc, ref = u.login()
    r = c.post("/api/admin/users/%d/deactivate" % u.id, token=admin)
    is_(r.status, 200, "admin deactivates a user")
    is_(((r.json or {}).get("data") or {}).get("is_active"), False,
        "deactivate: the user object says inactive")
    r = login(c, u.email, u.password)
    is_error(r, 403, "ACCOUNT_INACTIVE", "inactive account, right password")
    r = login(c, u.email, u.password + "x")
    is_error(r, 401, "UNAUTHENTICATED", "inactive account, wrong password "
             "(the same 401 as anyone)")
    r = c.get("/api/auth/me", token=acc)
    ok(r.status in (401, 403) and A.envelope_error(r) is not None,
       "a deactivated user's access token is refused at once (%d)" % r.status,
       "  %r" % r.body[:200])
    r = c.post("/api/auth/refresh", token=ref)
    ok(r.status in (401, 403) and A.envelope_error(r) is not None,
       "a deactivated user's refresh token is refused (%d)" % r.status)
    r = c.post("/api/admin/users/%d/activate" % u.id, token=admin)
    is_(r.status, 200, "admin activates the user again")
    r = login(c, u.email, u.password)
    is_(r.status, 200, "activated: logs in again")
    r = c.get("/api/auth/me", token=acc)
    is_(r.status, 401, "the session ended by deactivation stays ended")
    return acc, ref


# ---- JWT negative suite -----------------------------------------------------


def test_jwt_suite(c, admin, dead_access, dead_refresh):
    """Reliability row 16: every forged or stale token 401 (403 for the
    inactive account), and a valid one accepted."""
    s = c.s
    secret = s.settings["JWT_SECRET_KEY"]
    u = A.User(c, "jwt")
    acc, ref = u.login()
    other = A.User(c, "jwt2")
    claims = jwt_claims(acc)
    now = int(time.time())

    def me(token):
        return c.get("/api/auth/me", token=token)

    r = me(acc)
    is_(r.status, 200, "JWT: the issued access token is accepted")
    r = me(forge(claims, secret))
    if not is_(r.status, 200, "JWT: a token forged here with the real "
               "secret and the same claims is accepted (the forging is "
               "right)"):
        diag("the forged token: %s" % forge(claims, secret))

    def c2(**changes):
        d = dict(claims)
        for k, v in changes.items():
            if v is None:
                d.pop(k, None)
            else:
                d[k] = v
        return d

    sig = acc.rsplit(".", 1)[1]
    head_payload = acc.rsplit(".", 1)[0]
    forged_sig = "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefgh"
                                        "ijklmnopqrstuvwxyz0123456789-_")
                         for _ in sig)
    tampered = forge(c2(sub=str(other.id), username=other.username,
                        email=other.email), secret).rsplit(".", 1)[0] + \
        "." + sig
    cases = [
        ("alg none, unsigned", forge(claims, "", alg="none")),
        ("alg NONE, unsigned", forge(claims, "", alg="NONE")),
        ("alg none with the real HMAC", forge(claims, secret,
                                             header={"alg": "none",
                                                     "typ": "JWT"},
                                             mac_alg="HS256")),
        ("HS384 signed with the real secret", forge(claims, secret,
                                                    alg="HS384")),
        ("HS512 signed with the real secret", forge(claims, secret,
                                                    alg="HS512")),
        ("RS256 header, HMAC of the secret", forge(claims, secret,
                                                   header={"alg": "RS256",
                                                           "typ": "JWT"},
                                                   mac_alg="HS256")),
        ("lower-case hs512 header", forge(claims, secret,
                                          header={"alg": "hs512",
                                                  "typ": "JWT"},
                                          mac_alg="HS512")),
        ("signed with an empty key", forge(claims, "")),
        ("signed with a guessable key (secret)", forge(claims, "secret")),
        ("tampered payload (another user's id), signature kept", tampered),
        ("forged signature of the same length", head_payload + "." +
         forged_sig),
        ("no signature", head_payload + "."),
        ("expired: exp = now - 61", forge(c2(iat=now - 961, nbf=now - 961,
                                             exp=now - 61), secret)),
        ("nbf = now + 120", forge(c2(nbf=now + 120), secret)),
        ("iat = now + 120", forge(c2(iat=now + 120), secret)),
        ("no exp", forge(c2(exp=None), secret)),
        ("exp as a string", forge(c2(exp=str(now + 900)), secret)),
        ("exp as a float", forge(c2(exp=now + 900.5), secret)),
        ("exp as 1.9e9 written as a float", forge(c2(exp=1.9e9), secret)),
        ("wrong iss", forge(c2(iss="someone-else"), secret)),
        ("no iss", forge(c2(iss=None), secret)),
        ("an aud claim", forge(c2(aud="parkd"), secret)),
        ("role admin with the user's sub", forge(c2(role="admin"), secret)),
        ("role admin, sub admin, the user's session",
         forge(c2(role="admin", sub="admin"), secret)),
        ("sub of another user, the user's session",
         forge(c2(sub=str(other.id)), secret)),
        ("type refresh signed with the access key",
         forge(c2(type="refresh"), secret)),
        ("an unknown sid", forge(c2(sid=secrets.token_hex(16)), secret)),
        ("a refresh token used as an access token", ref),
        ("a jku header, signed with another key",
         forge(claims, "attacker-key", header={
             "alg": "HS256", "typ": "JWT",
             "jku": "http://127.0.0.1:1/keys"})),
        ("typ at+jwt", forge(claims, secret, header={"alg": "HS256",
                                                     "typ": "at+jwt"})),
        ("junk: a space inside", acc[:20] + " " + acc[20:]),
        ("junk: a quote inside", acc[:20] + '"' + acc[20:]),
        ("over-long (4 KiB more)", acc + "A" * 4096),
    ]
    for what, tok in cases:
        r = me(tok)
        is_error(r, 401, TOKEN_CODES, "JWT %s" % what)
    r = me(forge(c2(iat=now - 961, nbf=now - 961, exp=now - 61), secret))
    is_error(r, 401, "TOKEN_EXPIRED", "JWT expired: code TOKEN_EXPIRED")
    r = c.get("/api/auth/me", headers={"Authorization": "Bearer"})
    is_error(r, 401, "UNAUTHENTICATED", "JWT: an empty Bearer")
    r = c.get("/api/auth/me", headers={"Authorization": "Basic " + acc})
    is_error(r, 401, "UNAUTHENTICATED", "JWT: the token under Basic")
    r = c.get("/api/auth/me")
    is_error(r, 401, "UNAUTHENTICATED", "JWT: no Authorization")
    ok(r.headers.get("www-authenticate", "").startswith("Bearer"),
       "401: WWW-Authenticate: Bearer")
    r = c.get("/api/user/profile", token=forge(claims, secret, alg="HS512"))
    is_error(r, 401, TOKEN_CODES, "JWT HS512 on a user route")
    r = c.get("/api/admin/users", token=forge(c2(role="admin", sub="admin"),
                                              secret))
    is_error(r, 401, TOKEN_CODES, "JWT forged admin claims on an admin route")
    r = c.post("/api/auth/refresh", token=acc)
    is_error(r, 401, TOKEN_CODES, "JWT: an access token used to refresh")
    rclaims = jwt_claims(ref)
    r = c.post("/api/auth/refresh", token=forge(rclaims, secret))
    is_error(r, 401, TOKEN_CODES, "JWT: refresh claims signed with the "
             "access key")
    r = c.post("/api/auth/refresh", token=forge(rclaims, secret,
                                                alg="HS512"))
    is_error(r, 401, TOKEN_CODES, "JWT: refresh token HS512")
    r = c.post("/api/auth/refresh", token=forge(rclaims, "", alg="none"))
    is_error(r, 401, TOKEN_CODES, "JWT: refresh token alg none")

    # Stale sessions.
    a2, r2 = u.session()
    is_(c.post("/api/auth/logout", token=a2).status, 200, "logout: 200")
    is_error(me(a2), 401, "TOKEN_REVOKED", "JWT: access token after logout")
    is_error(c.post("/api/auth/refresh", token=r2), 401, TOKEN_CODES,
             "JWT: refresh token after logout")
    p_acc, p_ref = u.session()
    r = c.post("/api/user/password", {"current_password": u.password,
                                      "new_password": A.new_password()},
               token=acc)
    is_(r.status, 200, "password changed in another session")
    is_error(me(p_acc), 401, "TOKEN_REVOKED", "JWT: access token of another "
             "session after a password change")
    is_error(c.post("/api/auth/refresh", token=p_ref), 401, TOKEN_CODES,
             "JWT: refresh token of another session after a password change")
    r = me(dead_access)
    ok(r.status in (401, 403) and A.envelope_error(r) is not None,
       "JWT: the access token of a deactivated user: refused (%d)" % r.status)
    r = c.post("/api/auth/refresh", token=dead_refresh)
    ok(r.status in (401, 403) and A.envelope_error(r) is not None,
       "JWT: the refresh token of a deactivated user: refused (%d)"
       % r.status)
    # While deactivated (not yet reactivated): 403 for a live session.
    v = A.User(c, "deact")
    va, vr = v.login()
    c.post("/api/admin/users/%d/deactivate" % v.id, token=admin)
    r = me(va)
    ok(r.status in (401, 403) and A.envelope_error(r) is not None,
       "JWT: a token of a user deactivated a moment ago: refused (%d)"
       % r.status)
    r = c.post("/api/auth/refresh", token=vr)
    ok(r.status in (401, 403) and A.envelope_error(r) is not None,
       "JWT: its refresh token: refused (%d)" % r.status)
    is_(me(acc).status, 200, "JWT: the valid token is still accepted after "
        "all that")


# ---- refresh rotation -------------------------------------------------------


def test_rotation(c):
    u = A.User(c, "rot")
    a0, r0 = u.login()
    r = c.post("/api/auth/refresh", token=r0)
    is_(r.status, 200, "refresh: 200")
    d = (r.json or {}).get("data") or {}
    a1, r1 = d.get("access_token"), d.get("refresh_token")
    A.TOKENS.extend([a1 or "", r1 or ""])
    ok(r1 and r1 != r0 and a1 and a1 != a0, "refresh: new access and "
       "refresh tokens")
    user_object(d.get("user"), "refresh")
    ok(jwt_claims(r1)["sid"] == jwt_claims(r0)["sid"] and
       jwt_claims(r1)["jti"] != jwt_claims(r0)["jti"],
       "refresh: same session, new jti")
    is_(c.get("/api/auth/me", token=a1).status, 200, "the new access token "
        "works")
    r = c.post("/api/auth/refresh", token=r1)
    is_(r.status, 200, "refresh again with the new token: 200")
    r2 = r.json["data"]["refresh_token"]
    a2 = r.json["data"]["access_token"]
    A.TOKENS.extend([a2, r2])
    ok(r2 not in (r0, r1), "each refresh gives a new refresh token")
    # r1 again, within the leeway: the pair it was rotated to, not reuse.
    r = c.post("/api/auth/refresh", token=r1)
    is_(r.status, 200, "the token rotated just before, again within the "
        "leeway: 200")
    if r.status == 200:
        is_((r.json["data"]["access_token"], r.json["data"]["refresh_token"]),
            (a2, r2), "within the leeway: the same new pair again")
    is_(c.get("/api/auth/me", token=a2).status, 200,
        "within the leeway: that pair's access token still works")
    # An older token (r0 was retired two rotations ago) is reuse: the whole
    # session ends, however soon.
    r = c.post("/api/auth/refresh", token=r0)
    is_error(r, 401, "TOKEN_REVOKED", "a token retired two rotations ago: "
             "reuse")
    is_error(c.post("/api/auth/refresh", token=r2), 401, TOKEN_CODES,
             "after reuse, the newest refresh token is refused too")
    is_error(c.get("/api/auth/me", token=a2), 401, "TOKEN_REVOKED",
             "after reuse, the session's access token is refused")
    is_error(c.get("/api/auth/me", token=a0), 401, "TOKEN_REVOKED",
             "after reuse, the first access token is refused")
    # Past the leeway, the token rotated just before is reuse too.
    _, q0 = u.session()
    r = c.post("/api/auth/refresh", token=q0)
    is_(r.status, 200, "leeway: a fresh session refreshes")
    qa1 = r.json["data"]["access_token"] if r.status == 200 else ""
    A.TOKENS.extend([qa1, r.json["data"]["refresh_token"]
                     if r.status == 200 else ""])
    time.sleep(LEEWAY + 1.2)
    r = c.post("/api/auth/refresh", token=q0)
    is_error(r, 401, "TOKEN_REVOKED", "the token rotated just before, again "
             "%.0f s later (past the %d s leeway): reuse" % (LEEWAY + 1.2,
                                                            LEEWAY))
    is_error(c.get("/api/auth/me", token=qa1), 401, "TOKEN_REVOKED",
             "past the leeway: reuse ends the session")
    # Other sessions of the same user live on.
    a3, r3 = u.session()
    is_(c.get("/api/auth/me", token=a3).status, 200,
        "another session of that user is not touched")
    # The admin's refresh.
    r = login(c, c.s.admin_email, c.s.admin_password)
    r = c.post("/api/auth/refresh", token=r.json["data"]["refresh_token"])
    is_(r.status, 200, "the admin refreshes")
    A.TOKENS.extend([r.json["data"]["access_token"],
                     r.json["data"]["refresh_token"]])
    is_((r.json["data"].get("user") or {}).get("id"), "admin",
        "the admin's refresh answers the admin object")


def test_access_retired(c):
    """#14, review of #15, item 1: a refresh retires the access token it
    replaces, in every worker, once PARKD_REFRESH_LEEWAY_S has passed (the
    session row keeps the current access jti and, for the leeway, the one
    before); a refresh repeated within the leeway re-signs the same pair,
    whose access token stays current."""
    u = A.User(c, "retire")
    r = login(c, u.email, u.password, remember=True)
    if not is_(r.status, 200, "retire: login with remember_me"):
        return
    a1, r1 = r.json["data"]["access_token"], r.json["data"]["refresh_token"]
    A.TOKENS.extend([a1, r1])
    is_(statuses(hit_all(c, a1)), [200] * 16,
        "retire: the login's access token A1 answers in every worker")
    r = c.post("/api/auth/refresh", token=r1)
    if not is_(r.status, 200, "retire: refresh"):
        return
    a2, r2 = r.json["data"]["access_token"], r.json["data"]["refresh_token"]
    A.TOKENS.extend([a2, r2])
    is_(statuses(hit_all(c, a1)), [200] * 16,
        "retire: within the leeway, A1 still answers (a request in flight "
        "while another tab refreshed)")
    r = c.post("/api/auth/refresh", token=r1)
    ok(r.status == 200 and r.json["data"]["access_token"] == a2,
       "retire: a refresh repeated within the leeway gives A2 again")
    time.sleep(LEEWAY + 1.2)
    got = hit_all(c, a1)
    is_(statuses(got), [401] * 16, "retire: past the leeway, A1 (a %d-day "
        "token) is refused in every worker" % (ACCESS_REMEMBER_S // 86400))
    ok(all((A.envelope_error(x) or ("",))[0] == "TOKEN_REVOKED" for x in got
           if getattr(x, "status", 0) == 401),
       "retire: ... as TOKEN_REVOKED")
    is_(statuses(hit_all(c, a2)), [200] * 16,
        "retire: A2 (re-signed by the repeated refresh too) answers")
    r = c.post("/api/auth/refresh", token=r2)
    if not is_(r.status, 200, "retire: a second refresh"):
        return
    a3 = r.json["data"]["access_token"]
    A.TOKENS.extend([a3, r.json["data"]["refresh_token"]])
    is_(c.get("/api/auth/me", token=a2).status, 200,
        "retire: A2 within the leeway of the second refresh")
    is_(c.get("/api/auth/me", token=a1).status, 401,
        "retire: A1 stays refused")
    time.sleep(LEEWAY + 1.2)
    is_(statuses(hit_all(c, a2)), [401] * 16,
        "retire: A2 refused past the leeway of the second refresh")
    is_(statuses(hit_all(c, a3)), [200] * 16, "retire: A3 answers")
    # The admin's sessions rotate the same way.
    r = login(c, c.s.admin_email, c.s.admin_password)
    ad = r.json["data"]
    r = c.post("/api/auth/refresh", token=ad["refresh_token"])
    A.TOKENS.extend([ad["access_token"], r.json["data"]["access_token"],
                     r.json["data"]["refresh_token"]])
    time.sleep(LEEWAY + 1.2)
    is_(c.get("/api/auth/me", token=ad["access_token"]).status, 401,
        "retire: the admin's access token replaced by a refresh is refused "
        "past the leeway")
    is_(c.get("/api/auth/me", token=r.json["data"]["access_token"]).status,
        200, "retire: the admin's new access token answers")


def test_lifetime_cut(c):
    """#14, review of #15, item 2: a reload that shortens the access
    lifetimes applies to tokens already issued: each is checked against
    iat + the lifetime now configured for its session's remember_me.  The
    clock is moved 90 s on (PARKD_FAKE_NOW) so that a 60 s lifetime is
    already over for tokens made before."""
    s = c.s
    u = A.User(c, "cut")
    r7 = login(c, u.email, u.password, remember=True)
    r1 = login(c, u.email, u.password)
    if not (is_(r7.status, 200, "cut: a remember_me login") and
            is_(r1.status, 200, "cut: a plain login")):
        return
    old7, old1 = r7.json["data"]["access_token"], \
        r1.json["data"]["access_token"]
    A.TOKENS.extend([old7, old1, r7.json["data"]["refresh_token"],
                     r1.json["data"]["refresh_token"]])
    s.stop_process("parkd")
    s.extra_env["PARKD_FAKE_NOW"] = str(int(time.time()) + 90)
    s.start_parkd()
    s.wait_healthy()
    try:
        is_(statuses(hit_all(c, old7)), [200] * 16,
            "cut: 90 s on, the 7-day token answers (lifetimes as before)")
        is_(statuses(hit_all(c, old1)), [200] * 16,
            "cut: 90 s on, the 1-hour token answers")
        ok(reload(s, JWT_ACCESS_TOKEN_EXPIRES=60,
                  PARKD_JWT_ACCESS_REMEMBER_EXPIRES=60),
           "cut: SIGHUP with both access lifetimes at 60 s")
        got = hit_all(c, old7)
        is_(statuses(got), [401] * 16, "cut: the 7-day token issued before "
            "the reload is refused in every worker")
        ok(all((A.envelope_error(x) or ("",))[0] == "TOKEN_EXPIRED" for x in got
               if getattr(x, "status", 0) == 401),
           "cut: ... as TOKEN_EXPIRED (the client refreshes)")
        is_error(c.get("/api/auth/me", token=old1), 401, "TOKEN_EXPIRED",
                 "cut: the 1-hour token issued before is refused too")
        r = c.post("/api/auth/refresh", token=r7.json["data"]["refresh_token"])
        if is_(r.status, 200, "cut: its session refreshes"):
            A.TOKENS.extend([r.json["data"]["access_token"],
                             r.json["data"]["refresh_token"]])
            is_(c.get("/api/auth/me", token=r.json["data"][
                "access_token"]).status, 200,
                "cut: the refreshed 60 s token answers")
    finally:
        s.write_settings(JWT_ACCESS_TOKEN_EXPIRES=None,
                         PARKD_JWT_ACCESS_REMEMBER_EXPIRES=None)
        s.stop_process("parkd")
        s.extra_env.pop("PARKD_FAKE_NOW", None)
        s.start_parkd()
        s.wait_healthy()


def test_refresh_race(c, runs=30, clients=6):
    """Concurrent refreshes with one token, on separate connections through
    the multi-worker stack (two tabs, a retry): every one 200 with the same
    new pair, and that pair works (reliability row 17, review lesson)."""
    u = A.User(c, "race")
    bad = []
    for i in range(runs):
        _, ref = u.session()
        barrier = threading.Barrier(clients)
        out = [None] * clients

        def go(k):
            barrier.wait()
            try:
                r = c.post("/api/auth/refresh", token=ref)
                d = (r.json or {}).get("data") or {}
                out[k] = (r.status, d.get("access_token"),
                          d.get("refresh_token"))
            except Exception as e:  # recorded, reported below
                out[k] = (repr(e), None, None)

        th = [threading.Thread(target=go, args=(k,)) for k in range(clients)]
        for t in th:
            t.start()
        for t in th:
            t.join(30)
        if any(o[0] != 200 for o in out) or len(set(out)) != 1:
            bad.append("run %d: %r" % (i, [(o[0], (o[2] or "")[-8:])
                                           for o in out]))
            continue
        acc, new = out[0][1], out[0][2]
        A.TOKENS.extend([acc, new])
        if c.get("/api/auth/me", token=acc).status != 200:
            bad.append("run %d: the new access token is refused" % i)
        r = c.post("/api/auth/refresh", token=new)
        if r.status != 200:
            bad.append("run %d: the new refresh token is refused: %d"
                       % (i, r.status))
        else:
            A.TOKENS.extend([r.json["data"]["access_token"],
                             r.json["data"]["refresh_token"]])
    ok(not bad, "%d concurrent refreshes with one token: all 200 with one "
       "and the same new pair, which works, in each of %d runs"
       % (clients, runs), *bad[:10])


# ---- token lifetimes (#15 item 2) -------------------------------------------


def lifetimes(r):
    """(access exp - iat, expires_in, refresh exp - iat, access claims,
    refresh claims) of a login or refresh answer."""
    d = (r.json or {}).get("data") or {}
    ac = jwt_claims(d.get("access_token") or "x.e30.x")
    rc = jwt_claims(d.get("refresh_token") or "x.e30.x")
    return (ac.get("exp", 0) - ac.get("iat", 0), d.get("expires_in"),
            rc.get("exp", 0) - rc.get("iat", 0), ac, rc)


def check_pair(r, what, access_s, refresh_s=None):
    """A 200 whose access token lives access_s (and says so in expires_in),
    and whose refresh token lives refresh_s (when given) and no shorter than
    the access token.  Returns the answer's data."""
    if not is_(r.status, 200, what + ": 200"):
        return {}
    alife, expires_in, rlife, ac, rc = lifetimes(r)
    is_(alife, access_s, what + ": the access token's exp - iat is %d s"
        % access_s)
    is_(expires_in, alife, what + ": expires_in is the access token's "
        "exp - iat")
    ok(ac.get("iat") == ac.get("nbf") == rc.get("iat") and
       rc.get("exp", 0) >= ac.get("exp", 1),
       what + ": one iat; the refresh token outlives the access token",
       "  access %r" % ac, "  refresh %r" % rc)
    if refresh_s is not None:
        is_(rlife, refresh_s, what + ": the refresh token's exp - iat is "
            "%d s" % refresh_s)
    d = r.json["data"]
    A.TOKENS.extend([d["access_token"], d["refresh_token"]])
    return d


def hit_all(c, token, n=16):
    """n concurrent GET /api/auth/me with token on separate connections
    (several workers): their responses."""
    out = []

    def one():
        try:
            out.append(c.get("/api/auth/me", token=token))
        except Exception as e:  # reported by the caller as a non-response
            out.append(e)

    th = [threading.Thread(target=one) for _ in range(n)]
    for t in th:
        t.start()
    for t in th:
        t.join(30)
    return out


def statuses(rs):
    return sorted(getattr(r, "status", repr(r)) for r in rs)


def test_lifetimes(c):
    """Access tokens live 1 hour, 7 days after a login with remember_me
    (the old backend's lifetimes: its app never refreshes); a refresh keeps
    the session's choice; expires_in is exp - iat; a refresh token ends
    with its session, never before its access token."""
    u = A.User(c, "life")
    for remember, access_s, refresh_s in (
            (None, ACCESS_S, REFRESH_S), (False, ACCESS_S, REFRESH_S),
            (True, ACCESS_REMEMBER_S, REFRESH_REMEMBER_S)):
        check_pair(login(c, u.email, u.password, remember=remember),
                   "login, remember_me %s" % remember, access_s, refresh_s)
    check_pair(login(c, c.s.admin_email, c.s.admin_password, remember=True),
               "the admin's login, remember_me", ACCESS_REMEMBER_S,
               REFRESH_REMEMBER_S)

    # Refreshes keep the session's remember_me; the session's end stays.
    for remember, access_s in ((True, ACCESS_REMEMBER_S), (False, ACCESS_S)):
        d = check_pair(login(c, u.email, u.password, remember=remember),
                       "login before refreshes, remember_me %s" % remember,
                       access_s)
        if not d:
            continue
        end = jwt_claims(d["refresh_token"])["exp"]
        time.sleep(1.1)  # the refresh's iat is a later second
        r = c.post("/api/auth/refresh", token=d["refresh_token"])
        d2 = check_pair(r, "refresh, remember_me %s" % remember, access_s)
        if not d2:
            continue
        rc = jwt_claims(d2["refresh_token"])
        ok(rc["exp"] == end and rc["iat"] > jwt_claims(
            d["refresh_token"])["iat"],
           "refresh, remember_me %s: a later iat, and the refresh token "
           "still ends with the session (%d)" % (remember, end),
           "  %r" % rc)
        r = c.post("/api/auth/refresh", token=d2["refresh_token"])
        d3 = check_pair(r, "second refresh, remember_me %s" % remember,
                        access_s)
        if not d3:
            continue
        # The token rotated just before, again within the leeway: the same
        # pair, signed again, with the same lifetimes.
        r = c.post("/api/auth/refresh", token=d2["refresh_token"])
        d4 = check_pair(r, "repeated refresh within the leeway, "
                        "remember_me %s" % remember, access_s)
        is_((d4.get("access_token"), d4.get("refresh_token"),
             d4.get("expires_in")),
            (d3["access_token"], d3["refresh_token"], d3["expires_in"]),
            "repeated refresh, remember_me %s: the same tokens and "
            "expires_in" % remember)

    # A 7-day token is revoked at once all the same: logout...
    d = check_pair(login(c, u.email, u.password, remember=True),
                   "a 7-day session", ACCESS_REMEMBER_S)
    if d:
        warm = hit_all(c, d["access_token"])
        is_(statuses(warm), [200] * len(warm), "the 7-day access token "
            "works in every worker (each has it verified and cached)")
        is_(c.post("/api/auth/logout", token=d["access_token"]).status, 200,
            "logout of the 7-day session")
        after = hit_all(c, d["access_token"])
        ok(all(getattr(r, "status", 0) == 401 and
               (A.envelope_error(r) or ("",))[0] == "TOKEN_REVOKED"
               for r in after),
           "after logout, at once: the 7-day access token is 401 "
           "TOKEN_REVOKED in every worker", "  %r" % statuses(after))
    # ... and deactivation.
    v = A.User(c, "life7")
    d = check_pair(login(c, v.email, v.password, remember=True),
                   "another 7-day session", ACCESS_REMEMBER_S)
    admin = A.admin_login(c)
    if d:
        warm = hit_all(c, d["access_token"])
        is_(statuses(warm), [200] * len(warm), "its 7-day access token "
            "works in every worker")
        r = c.post("/api/admin/users/%d/deactivate" % v.id, token=admin)
        is_(r.status, 200, "the admin deactivates its user")
        after = hit_all(c, d["access_token"])
        ok(all(getattr(r, "status", 0) in (401, 403) and
               A.envelope_error(r) is not None for r in after),
           "after deactivation, at once: the 7-day access token is refused "
           "in every worker", "  %r" % statuses(after))
        r = c.post("/api/auth/refresh", token=d["refresh_token"])
        ok(r.status in (401, 403) and A.envelope_error(r) is not None,
           "after deactivation: its refresh token is refused (%d)"
           % r.status)


def test_lifetimes_shortened(c):
    """The admin may shorten the lifetimes: a reload applies them to new
    logins and to the next refresh of older sessions; an access token never
    outlives its refresh token, and expires_in says how long it lives."""
    s = c.s
    u = A.User(c, "short")
    old = check_pair(login(c, u.email, u.password, remember=True),
                     "a remember_me session before the reload",
                     ACCESS_REMEMBER_S)
    current = s.worker_pids()
    s.write_settings(JWT_ACCESS_TOKEN_EXPIRES=300,
                     JWT_REFRESH_TOKEN_EXPIRES=300,
                     PARKD_JWT_ACCESS_REMEMBER_EXPIRES=600)
    s.signal_parkd(signal.SIGHUP)
    pids, _ = s.wait_workers(WORKERS, timeout=15, not_in=current)
    ok(pids is not None, "SIGHUP with shorter lifetimes: new workers")
    try:
        check_pair(login(c, u.email, u.password), "after shortening: "
                   "login", 300, 300)
        check_pair(login(c, u.email, u.password, remember=True),
                   "after shortening: login with remember_me", 600,
                   REFRESH_REMEMBER_S)
        if old:
            check_pair(c.post("/api/auth/refresh",
                              token=old["refresh_token"]),
                       "after shortening: refresh of a session made "
                       "before", 600)
        # A session of 300 s refreshed 2 s later: the refresh token ends
        # with the session, and the access token with it, 298 s on.
        d = check_pair(login(c, u.email, u.password), "a 300 s session",
                       300, 300)
        if d:
            time.sleep(2.1)
            r = c.post("/api/auth/refresh", token=d["refresh_token"])
            end = jwt_claims(d["refresh_token"])["exp"]
            if is_(r.status, 200, "its refresh 2 s later: 200"):
                alife, expires_in, rlife, ac, rc = lifetimes(r)
                A.TOKENS.extend([r.json["data"]["access_token"],
                                 r.json["data"]["refresh_token"]])
                ok(ac["exp"] == rc["exp"] == end and alife < 300,
                   "its refresh: access and refresh tokens end with the "
                   "session (%d), %d s after their iat" % (end, alife),
                   "  access %r" % ac, "  refresh %r" % rc)
                is_(expires_in, alife, "its refresh: expires_in is the "
                    "access token's exp - iat (%d), not the setting" % alife)
    finally:
        current = s.worker_pids()
        s.write_settings(JWT_ACCESS_TOKEN_EXPIRES=None,
                         JWT_REFRESH_TOKEN_EXPIRES=None,
                         PARKD_JWT_ACCESS_REMEMBER_EXPIRES=None)
        s.signal_parkd(signal.SIGHUP)
        pids, _ = s.wait_workers(WORKERS, timeout=15, not_in=current)
        ok(pids is not None, "SIGHUP with the default lifetimes again")
    check_pair(login(c, u.email, u.password), "defaults again: login",
               ACCESS_S, REFRESH_S)


# ---- logout -----------------------------------------------------------------


def request_pids(s, rids):
    """{request id: worker pid} from parkd's log lines."""
    pids = {}
    for line in s.log().splitlines():
        m = re.search(r"parkd\[(\d+)\]: req id=([0-9a-f]{32}) ", line)
        if m and m.group(2) in rids:
            pids[m.group(2)] = int(m.group(1))
    return pids


def test_logout_workers(c, rounds=8, per_round=12):
    """Logout ends the access and refresh tokens at once in every worker
    (the check is durable, not a per-worker cache)."""
    s = c.s
    u = A.User(c, "out")
    rids, bad = set(), []
    workers = set(s.worker_pids())
    for n in range(rounds):
        acc, ref = u.session()
        # Warm every worker with the live token (any cache would now hold
        # it as valid).
        warm = []

        def hit(token, sink):
            r = c.get("/api/auth/me", token=token)
            sink.append(r)

        th = [threading.Thread(target=hit, args=(acc, warm))
              for _ in range(per_round)]
        for t in th:
            t.start()
        for t in th:
            t.join(30)
        if any(r.status != 200 for r in warm):
            bad.append("round %d: before logout %r" % (
                n, sorted(r.status for r in warm)))
        r = c.post("/api/auth/logout", token=acc)
        if r.status != 200:
            bad.append("round %d: logout %d" % (n, r.status))
        after = []
        th = [threading.Thread(target=hit, args=(acc, after))
              for _ in range(per_round)]
        for t in th:
            t.start()
        for t in th:
            t.join(30)
        for r in after:
            rids.add(r.headers.get("x-request-id", ""))
            if r.status != 401 or (A.envelope_error(r) or ("",))[0] != \
                    "TOKEN_REVOKED":
                bad.append("round %d: after logout %d %r" % (n, r.status,
                                                             r.body[:80]))
        r = c.post("/api/auth/refresh", token=ref)
        if r.status != 401:
            bad.append("round %d: refresh after logout %d" % (n, r.status))
    ok(not bad, "logout: %d x %d requests with the logged-out token, all "
       "401 TOKEN_REVOKED; its refresh token 401" % (rounds, per_round),
       *bad[:10])
    served = set(request_pids(s, rids).values())
    diag("workers %s; the post-logout requests were served by %s"
         % (sorted(workers), sorted(served)))
    ok(len(served) >= 2 and served <= workers | set(s.worker_pids()),
       "the post-logout requests were served by several workers (%d of %d)"
       % (len(served), len(workers)))
    ok(len(served & workers) == len(workers) or len(served) >= 3,
       "nearly every worker refused the logged-out token",
       "  served by %r of %r" % (sorted(served), sorted(workers)))


def test_restart(c):
    """Revocation is durable: it survives a restart of parkd."""
    s = c.s
    u = A.User(c, "rst")
    dead_a, dead_r = u.session()
    live_a, _ = u.session()
    is_(c.post("/api/auth/logout", token=dead_a).status, 200,
        "restart: logout before")
    s.stop_process("parkd")
    s.start_parkd()
    s.wait_healthy()
    is_error(c.get("/api/auth/me", token=dead_a), 401, "TOKEN_REVOKED",
             "after a restart of parkd: the logged-out access token is "
             "still refused")
    is_error(c.post("/api/auth/refresh", token=dead_r), 401, TOKEN_CODES,
             "after a restart: its refresh token too")
    is_(c.get("/api/auth/me", token=live_a).status, 200,
        "after a restart: a live session's token still works")


# ---- the hash gate ----------------------------------------------------------


def hammer_logins(c, stop, sink, k):
    """Failed logins of unknown names (each its own counter) until stop."""
    while not stop.is_set():
        try:
            r = login(c, "ham%d.%s@example.com" % (k, A.tag()), "Wrong-pw-1")
            sink.append((r.status, r.headers.get("retry-after"),
                         (A.envelope_error(r) or ("",))[0]))
        except Exception as e:  # recorded, reported by the caller
            sink.append((repr(e), None, None))


def test_gate_load(c, clients=8):
    """While logins are hammered, the other routes keep answering: hashes
    take at most half the workers by default."""
    u = A.User(c, "gate")
    acc, _ = u.login()
    stop, sink = threading.Event(), []
    th = [threading.Thread(target=hammer_logins, args=(c, stop, sink, k))
          for k in range(clients)]
    for t in th:
        t.start()
    lat, bad = [], []
    try:
        time.sleep(0.5)
        for _ in range(40):
            t0 = time.monotonic()
            r = c.get("/api/user/pkl/list", token=acc)
            lat.append((time.monotonic() - t0) * 1000)
            if r.status != 200:
                bad.append(r.status)
    finally:
        stop.set()
        for t in th:
            t.join(30)
    lat.sort()
    statuses = sorted(set(st for st, _, _ in sink), key=str)
    diag("GET /api/user/pkl/list under %d login hammers: p50 %.0f ms, p99 "
         "%.0f ms, max %.0f ms; %d logins: %r" % (
             clients, lat[len(lat) // 2], lat[int(len(lat) * 0.99)],
             lat[-1], len(sink), statuses))
    ok(not bad, "under the login hammer, GET /api/user/pkl/list answers "
       "200 every time (40 requests)", "  %r" % bad)
    ok(set(statuses) <= {401, 503}, "the hammered logins: 401 or 503 "
       "only", "  %r" % statuses)


def test_gate(c, clients=8):
    """With PARKD_HASH_CONCURRENCY=1, concurrent logins get some 503 with
    Retry-After (never a 500); a worker killed while it hashes does not
    keep its slot."""
    s = c.s
    slow = A.User(c, "slow")
    s.write_settings(PARKD_HASH_CONCURRENCY=1)
    s.stop_process("parkd")
    s.start_parkd()
    s.wait_healthy()
    try:
        barrier = threading.Barrier(clients)
        out = [None] * clients

        def go(k):
            barrier.wait()
            r = login(c, "gate%d.%s@example.com" % (k, A.tag()),
                      "Wrong-pw-1")
            out[k] = (r.status, r.headers.get("retry-after"),
                      (A.envelope_error(r) or ("",))[0])

        th = [threading.Thread(target=go, args=(k,)) for k in range(clients)]
        for t in th:
            t.start()
        for t in th:
            t.join(60)
        diag("%d concurrent logins with one hash slot: %r" % (clients,
                                                             sorted(out)))
        busy = [o for o in out if o and o[0] == 503]
        ok(busy and all(o[1] == "1" and o[2] == "UNAVAILABLE" for o in busy),
           "one hash slot: some of %d concurrent logins get 503 UNAVAILABLE "
           "with Retry-After: 1" % clients, "  %r" % out)
        ok(all(o and o[0] in (401, 503) for o in out), "the others 401; "
           "no 500", "  %r" % out)
        r = c.post("/api/auth/register", {"username": "g_" + A.tag(),
                                          "email": "g.%s@example.com"
                                          % A.tag(),
                                          "password": A.new_password()})
        is_(r.status, 200, "one hash slot, alone: register hashes")

        # A login that hashes for a second or more (a stored PBKDF2 hash
        # of 5,000,000 iterations, the cap); its worker killed meanwhile.
        set_hashes(s, (slow.id, "pbkdf2:sha256:5000000$Xk3pQ9rT2mW7vB1n$"
                       + "ab" * 32))
        result = []
        t = threading.Thread(target=lambda: result.append(
            c.post("/api/auth/login", {"username": slow.email,
                                       "password": "Wrong-pw-1"})))
        before = s.worker_pids()
        t.start()
        time.sleep(0.4)
        # Review lesson: a login that found the slot taken waited up to
        # 100 ms in its worker, so a flood of logins took the workers from
        # every route.  Now it is refused at once.
        busy, took, health = [], [], []
        for k in range(7):
            t0 = time.monotonic()
            r = login(c, "busy%d.%s@example.com" % (k, A.tag()), "Wrong-pw-1")
            took.append((time.monotonic() - t0) * 1000)
            busy.append(r.status)
            t0 = time.monotonic()
            c.get("/api/health")
            health.append((time.monotonic() - t0) * 1000)
        took.sort()
        health.sort()
        diag("refused logins while the one slot hashes: %r, median %.1f ms "
             "(GET /api/health: median %.1f ms)" % (busy, took[3],
                                                    health[3]))
        is_(busy, [503] * 7, "the one slot held by a long hash: 7 logins "
            "get 503")
        ok(took[3] < health[3] + 60, "a refused login answers at once, no "
           "wait for a slot: median %.1f ms, within 60 ms of GET "
           "/api/health's %.1f ms (it waited 100 ms)" % (took[3],
                                                         health[3]))
        for pid in before:
            os.kill(pid, signal.SIGKILL)
        t.join(30)
        pids, _ = s.wait_workers(WORKERS, timeout=10, not_in=before)
        ok(pids is not None, "the killed workers are replaced")
        like(s.log(), r"died holding a hash slot; freed",
             "the supervisor freed the dead worker's hash slot")
        r = login(c, "after.%s@example.com" % A.tag(), "Wrong-pw-1")
        is_(r.status, 401, "after a worker died hashing, logins hash again "
            "(the slot was not leaked)")
    finally:
        s.write_settings(PARKD_HASH_CONCURRENCY=None)
        s.stop_process("parkd")
        s.start_parkd()
        s.wait_healthy()


# ---- the admin's password ---------------------------------------------------


def restart(s, **changes):
    s.write_settings(**changes)
    s.stop_process("parkd")
    s.start_parkd()
    s.wait_healthy()


def cpu_ticks(pid):
    """utime + stime of a process, in clock ticks (0 when it is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def test_gate_stopped(c):
    """Review lesson: a worker stopped (SIGSTOP) while it hashed kept its
    hash slot forever: with one slot, every login got 503 for good.  The
    supervisor kills a worker that holds a slot past PARKD_HASH_HOLD_MAX_S
    (2 s here), and the slot comes back."""
    s = c.s
    slow = A.User(c, "stop")
    restart(s, PARKD_HASH_CONCURRENCY=1, PARKD_HASH_HOLD_MAX_S=2)
    set_hashes(s, (slow.id, "pbkdf2:sha256:5000000$Xk3pQ9rT2mW7vB1n$"
                   + "ab" * 32))
    holder = None
    try:
        pids = s.worker_pids()
        before = {p: cpu_ticks(p) for p in pids}
        t = threading.Thread(target=lambda: c.post(
            "/api/auth/login", {"username": slow.email,
                                "password": "Wrong-pw-1"}))
        t.start()
        time.sleep(0.5)
        # The worker hashing is the one whose CPU time grows.
        grown = sorted((cpu_ticks(p) - before[p], p) for p in pids)
        holder = grown[-1][1]
        os.kill(holder, signal.SIGSTOP)
        t0 = time.monotonic()
        r = login(c, "stop.%s@example.com" % A.tag(), "Wrong-pw-1")
        is_(r.status, 503, "the one slot's holder stopped (SIGSTOP) while "
            "it hashes: a login gets 503")
        st = None
        while time.monotonic() - t0 < 10:
            st = login(c, "stop.%s@example.com" % A.tag(),
                       "Wrong-pw-1").status
            if st == 401:
                break
            time.sleep(0.25)
        diag("logins hash again %.1f s after the holder was stopped" %
             (time.monotonic() - t0))
        is_(st, 401, "after PARKD_HASH_HOLD_MAX_S, logins hash again (401)")
        like(s.log(), r"worker %d has held a hash slot for more than 2 s "
             r"\(stopped or stuck\): killing it" % holder,
             "the supervisor killed the stopped holder")
        like(s.log(), r"worker %d died holding a hash slot; freed" % holder,
             "and freed its slot")
        t.join(30)
    finally:
        if holder is not None:
            try:
                os.kill(holder, signal.SIGCONT)
            except OSError:
                pass
        restart(s, PARKD_HASH_CONCURRENCY=None, PARKD_HASH_HOLD_MAX_S=None)


def test_addr_cap(c):
    """PARKD_LOGIN_ADDR_MAX_FAILURES: failed logins from one address at all
    names (each unknown name had its own count: cycling names bought a
    hash per try without end).  A success is not counted."""
    s = c.s
    u = A.User(c, "cap")
    restart(s, PARKD_LOGIN_ADDR_MAX_FAILURES="5")
    try:
        t = A.tag()
        st = [login(c, "cap%d.%s@example.com" % (k, t), "Wrong-pw-1",
                    source="127.0.0.60").status for k in range(5)]
        is_(st, [401] * 5, "5 wrong logins at 5 names from one address: "
            "401 each")
        r = login(c, "cap9.%s@example.com" % t, "Wrong-pw-1",
                  source="127.0.0.60")
        is_error(r, 429, "RATE_LIMITED", "the 6th name from that address, "
                 "with a cap of 5: 429")
        ra = r.headers.get("retry-after", "")
        ok(ra.isdigit() and 1 <= int(ra) <= 900, "with Retry-After within "
           "the window (%r)" % ra)
        is_(login(c, u.email, u.password, source="127.0.0.60").status, 429,
            "the right password from that address: 429 too")
        is_(login(c, u.email, u.password, source="127.0.0.61").status, 200,
            "another address logs in")
        st = [login(c, u.email, u.password, source="127.0.0.62").status
              for _ in range(6)]
        is_(st, [200] * 6, "6 right logins from one address: 200 each")
        is_(login(c, "cap8.%s@example.com" % t, "Wrong-pw-1",
                  source="127.0.0.62").status, 401,
            "then a wrong one: 401 (successes do not count)")
    finally:
        restart(s, PARKD_LOGIN_ADDR_MAX_FAILURES="1000000")


def reload(s, **changes):
    current = s.worker_pids()
    s.write_settings(**changes)
    s.signal_parkd(signal.SIGHUP)
    pids, _ = s.wait_workers(WORKERS, timeout=15, not_in=current)
    return pids is not None


def test_admin_password_back(c):
    """Review lesson: the admin's sessions were bound to the credential's
    fingerprint only, so ADMIN_PASSWORD changed and changed back revived
    them.  The supervisor revokes, at start and at each reload, the admin
    sessions of another credential: going back does not revive them."""
    s = c.s
    r = login(c, s.admin_email, s.admin_password)
    is_(r.status, 200, "the admin logs in")
    a1 = r.json["data"]["access_token"] if r.status == 200 else ""
    r1 = r.json["data"]["refresh_token"] if r.status == 200 else ""
    first = s.admin_password
    other = "Adm-" + secrets.token_urlsafe(16)
    A.PASSWORDS.append(other)
    ok(reload(s, ADMIN_PASSWORD=other), "SIGHUP with another "
       "ADMIN_PASSWORD: new workers")
    is_error(c.get("/api/auth/me", token=a1), 401, "TOKEN_REVOKED",
             "another ADMIN_PASSWORD: the admin's token is refused")
    ok(reload(s, ADMIN_PASSWORD=first), "SIGHUP with the first "
       "ADMIN_PASSWORD again: new workers")
    is_error(c.get("/api/auth/me", token=a1), 401, "TOKEN_REVOKED",
             "the first ADMIN_PASSWORD back: the old token stays refused")
    is_error(c.post("/api/auth/refresh", token=r1), 401, TOKEN_CODES,
             "and its refresh token")
    like(s.log(), r"security: the admin credential changed: \d+ admin "
         r"sessions revoked", "the supervisor logged the revocation")
    r = login(c, s.admin_email, first)
    is_(r.status, 200, "the first ADMIN_PASSWORD logs in again")


def test_admin_password_change(c):
    """Admin sessions are bound to the configured credential: a restart
    with the same settings keeps them, another ADMIN_PASSWORD or an
    ADMIN_PASSWORD_HASH ends them."""
    s = c.s
    u = A.User(c, "adm")
    ua, _ = u.session()
    r = login(c, s.admin_email, s.admin_password)
    a1, r1 = r.json["data"]["access_token"], r.json["data"]["refresh_token"]
    restart(s)
    is_(c.get("/api/auth/me", token=a1).status, 200, "a restart with the "
        "same settings keeps the admin's session")
    old = s.admin_password
    A.PASSWORDS.append(old)
    s.admin_password = "Adm-" + secrets.token_urlsafe(16)
    restart(s, ADMIN_PASSWORD=s.admin_password)
    is_error(c.get("/api/auth/me", token=a1), 401, "TOKEN_REVOKED",
             "another ADMIN_PASSWORD: the admin's access token is refused")
    is_error(c.post("/api/auth/refresh", token=r1), 401, TOKEN_CODES,
             "another ADMIN_PASSWORD: the admin's refresh token too")
    is_(c.get("/api/auth/me", token=ua).status, 200,
        "a user's session is not touched")
    is_(login(c, s.admin_email, old).status, 401,
        "the old admin password no longer logs in")
    r = login(c, s.admin_email, s.admin_password)
    is_(r.status, 200, "the new admin password logs in")
    a2 = r.json["data"]["access_token"] if r.status == 200 else ""
    r2 = r.json["data"]["refresh_token"] if r.status == 200 else ""
    p = subprocess.run([T.PARKCTL, "-c", s.settings_path, "hash-password"],
                       input=s.admin_password + "\n", capture_output=True,
                       text=True, env=s.env(), timeout=60)
    out = p.stdout.strip()
    ok(p.returncode == 0 and out.startswith("scrypt:"),
       "parkctl hash-password makes a hash", "  %r" % p.stderr)
    restart(s, ADMIN_PASSWORD=None, ADMIN_PASSWORD_HASH="'%s'" % out)
    is_error(c.get("/api/auth/me", token=a2), 401, "TOKEN_REVOKED",
             "ADMIN_PASSWORD replaced by ADMIN_PASSWORD_HASH: the admin's "
             "session ends")
    is_error(c.post("/api/auth/refresh", token=r2), 401, TOKEN_CODES,
             "and its refresh token")
    r = login(c, s.admin_email, s.admin_password)
    is_(r.status, 200, "the admin logs in with ADMIN_PASSWORD_HASH")
    if r.status == 200:
        a3 = r.json["data"]["access_token"]
        restart(s)
        is_(c.get("/api/auth/me", token=a3).status, 200, "a restart with "
            "the same ADMIN_PASSWORD_HASH keeps the admin's session")


# ---- password change --------------------------------------------------------


def test_password_change(c):
    u = A.User(c, "pwc")
    a1, r1 = u.session()
    a2, r2 = u.session()
    r = c.post("/api/user/password", {"current_password": u.password + "x",
                                      "new_password": A.new_password()},
               token=a1)
    is_error(r, 400, "VALIDATION", "password change, wrong current password")
    ok("current_password" in details(r), "details.current_password")
    r = c.post("/api/user/password", {"current_password": u.password,
                                      "new_password": "short"}, token=a1)
    is_error(r, 400, "VALIDATION", "password change, new password too short")
    ok("new_password" in details(r), "details.new_password")
    r = c.post("/api/user/password", {"current_password": u.password},
               token=a1)
    is_error(r, 400, "VALIDATION", "password change without new_password")
    new = A.new_password()
    r = c.post("/api/user/password", {"current_password": u.password,
                                      "new_password": new}, token=a1)
    is_(r.status, 200, "password change: 200")
    ok(new not in r.body.decode() and "scrypt" not in r.body.decode(),
       "password change: the answer holds no password or hash")
    is_(c.get("/api/auth/me", token=a1).status, 200,
        "password change: this session is kept")
    r = c.post("/api/auth/refresh", token=r1)
    is_(r.status, 200, "password change: this session's refresh works")
    if r.status == 200:
        A.TOKENS.extend([r.json["data"]["access_token"],
                         r.json["data"]["refresh_token"]])
    is_error(c.get("/api/auth/me", token=a2), 401, "TOKEN_REVOKED",
             "password change: another session's access token ends")
    is_error(c.post("/api/auth/refresh", token=r2), 401, TOKEN_CODES,
             "password change: another session's refresh token ends")
    is_error(login(c, u.email, u.password), 401, "UNAUTHENTICATED",
             "password change: the old password no longer logs in")
    is_(login(c, u.email, new).status, 200,
        "password change: the new password logs in")
    r = c.post("/api/user/password", {"current_password": new,
                                      "new_password": A.new_password()},
               token=a2)
    is_(r.status, 401, "password change with a revoked token: 401")


# ---- the admin's user management --------------------------------------------


def test_admin_users(c, admin):
    t = A.tag()
    pw = A.new_password()
    names = ["lk%s_one" % t, "lk%sxone" % t, "lk%sAtwo" % t]
    emails = ["lk%s%%z@example.com" % t, "lk%sabz@example.com" % t,
              "lk%s.three@example.com" % t]
    ids = []
    for n, e in zip(names, emails):
        r = A.register(c, n, e, pw)
        is_(r.status, 200, "admin list: register %s" % n)
        ids.append((r.json or {}).get("data", {}).get("id"))

    def lst(query):
        r = c.get("/api/admin/users" + query, token=admin)
        d = (r.json or {}).get("data")
        return r, d if isinstance(d, list) else None

    r, d = lst("?q=lk" + t)
    is_(r.status, 200, "admin list: 200")
    is_(sorted(u.get("username") for u in d or []), sorted(names),
        "admin list: q matches usernames (substring)")
    is_(r.headers.get("x-total-count"), "3", "admin list: X-Total-Count")
    for u in d or []:
        user_object(u, "admin list " + u.get("username", "?"))
    r, d = lst("?q=LK" + t)
    is_(len(d or []), 3, "admin list: the search ignores ASCII case")
    r, d = lst("?q=lk%s_" % t)
    is_([u.get("username") for u in d or []], [names[0]],
        "admin list: _ in q is a literal underscore, not a wildcard")
    r, d = lst("?q=lk%s%%25z" % t)
    is_([u.get("email") for u in d or []], [emails[0]],
        "admin list: % in q is a literal percent sign, not a wildcard")
    r, d = lst("?q=lk%s.three%%40example" % t)
    is_([u.get("username") for u in d or []], [names[2]],
        "admin list: q matches e-mails")
    r, d = lst("?q=lk%s&limit=2" % t)
    is_(len(d or []), 2, "admin list: limit=2 gives 2")
    is_(r.headers.get("x-total-count"), "3", "admin list: the total is "
        "all matches, not the page")
    first = [u["id"] for u in d or []]
    r, d = lst("?q=lk%s&limit=2&offset=2" % t)
    second = [u["id"] for u in d or []]
    is_(sorted(first + second), sorted(ids), "admin list: two pages give "
        "every match once")
    r, d = lst("?q=lk%s&offset=10" % t)
    ok(r.status == 200 and d == [] and r.headers.get("x-total-count") == "3",
       "admin list: an offset past the end gives [] and the total")
    r, d = lst("?q=nothing_matches_" + t)
    ok(r.status == 200 and d == [] and r.headers.get("x-total-count") == "0",
       "admin list: no match gives [] and 0")
    r, d = lst("")
    ok(r.status == 200 and d is not None and
       int(r.headers.get("x-total-count", "0")) >= len(d) >= 3,
       "admin list without parameters")
    for q in ("?limit=0", "?limit=101", "?limit=abc", "?offset=-1",
              "?q=" + "x" * 101, "?limit=1.5"):
        is_error(c.get("/api/admin/users" + q, token=admin), 400,
                 "VALIDATION", "admin list %s" % q)

    # Deactivation ends the user's sessions at once; activation.
    victim_acc = login(c, emails[1], pw).json["data"]["access_token"]
    is_(c.get("/api/auth/me", token=victim_acc).status, 200,
        "the user's token works before")
    r = c.post("/api/admin/users/%d/deactivate" % ids[1], token=admin)
    is_(r.status, 200, "deactivate: 200")
    user_object((r.json or {}).get("data"), "deactivate")
    r2 = c.get("/api/auth/me", token=victim_acc)
    ok(r2.status in (401, 403), "deactivate: the user's token stops at once "
       "(%d)" % r2.status)
    r, d = lst("?q=lk%sxone" % t)
    is_([u.get("is_active") for u in d or []], [False],
        "admin list shows the user inactive")
    is_(c.post("/api/admin/users/%d/deactivate" % ids[1],
               token=admin).status, 200, "deactivate twice: 200")
    r = c.post("/api/admin/users/%d/activate" % ids[1], token=admin)
    is_(r.status, 200, "activate: 200")
    is_(((r.json or {}).get("data") or {}).get("is_active"), True,
        "activate: active again")
    is_(login(c, emails[1], pw).status, 200, "activated user logs in")
    for what, path in (("deactivate", "/api/admin/users/999999999/deactivate"),
                       ("activate", "/api/admin/users/999999999/activate")):
        is_error(c.post(path, token=admin), 404, "NOT_FOUND",
                 "%s an unknown user id" % what)
    for bad_id in ("0", "-1", "abc", "01"):
        r = c.post("/api/admin/users/%s/deactivate" % bad_id, token=admin)
        is_error(r, 404, "NOT_FOUND", "deactivate user id %r" % bad_id)


# ---- logs -------------------------------------------------------------------


def test_log_injection(c):
    """A username with CR/LF in a login attempt appears escaped."""
    t = A.tag()
    evil = "evil%s\r\nparkd[1]: info: security: login admin FORGED%s" % (t, t)
    r = login(c, evil, "whatever-password")
    is_(r.status, 401, "login with CR/LF in the username: 401")
    text = c.s.log()
    lines = [ln for ln in text.splitlines() if "FORGED" + t in ln]
    ok(lines and all("evil%s\\r\\n" % t in ln for ln in lines),
       "the CR/LF appear escaped (\\r\\n) on the failed-login line, never "
       "as a line break", *lines[:3])


def main():
    # The timing test fails many logins from 127.0.0.1: t/54 tests the
    # limits (test_addr_cap lowers the address's cap for itself).
    settings = {"PARKD_SCRYPT_N": "16384",
                "PARKD_REFRESH_LEEWAY_S": str(LEEWAY),
                "PARKD_LOGIN_MAX_FAILURES": "100",
                "PARKD_LOGIN_ADDR_MAX_FAILURES": "1000000"}
    with T.Stack(workers=WORKERS, settings=settings) as s:
        c = A.Client(s)
        admin = A.admin_login(c)
        username, email, pw = test_register(c)
        A.PASSWORDS.append(pw)
        test_login(c, username, email, pw)
        test_timing(c)
        dead_a, dead_r = test_inactive(c, admin)
        test_jwt_suite(c, admin, dead_a, dead_r)
        test_rotation(c)
        test_lifetimes(c)
        test_lifetimes_shortened(c)
        test_access_retired(c)
        test_lifetime_cut(c)
        test_refresh_race(c)
        test_logout_workers(c)
        test_password_change(c)
        test_admin_users(c, admin)
        test_log_injection(c)
        test_restart(c)
        test_gate_load(c)
        test_gate(c)
        test_gate_stopped(c)
        test_addr_cap(c)
        test_admin_password_back(c)
        test_admin_password_change(c)
        c.check_no_hash("53-auth")
        A.check_log_hygiene(s, [
            ("failed login", r"security: failed login addr=\S+ account="),
            ("login", r"security: login user \d+ session"),
            ("admin login", r"security: login admin session"),
            ("refresh token reuse", r"security: refresh token reuse"),
            ("repeated refresh", r"security: refresh repeated within the "
             r"leeway; session"),
            ("logout", r"security: logout session"),
            ("password change", r"security: password changed for user \d+"),
            ("wrong current password", r"security: password change with a "
             r"wrong current password"),
            ("deactivation", r"security: admin deactivated user \d+"),
            ("activation", r"security: admin activated user \d+"),
            ("inactive login", r"security: login of inactive user \d+"),
        ], "53-auth")


T.run(main)
