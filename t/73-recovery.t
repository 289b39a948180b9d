#!/usr/bin/env python3
"""73-recovery.t: account recovery and e-mail verification (issue #20,
api-contract.md section 6) through real nginx, parkd and "parkctl mail"
into t/lib/smtpsink.

- The whole flow: forgot -> mail (text and HTML, the web app's link on
  BACKEND_URL, the token in the #fragment) -> reset: the old password is
  refused and the new one works, the sessions from before are refused at
  once (access and refresh tokens), a notice is mailed, the link is refused
  the second time, a newer link spends the older one, and one account's
  link touches no other account.
- Expiry: a link presented after PARKD_RESET_TOKEN_TTL_S (parkd restarted
  with PARKD_FAKE_NOW past it) is refused; a fresh one still works then.
- Known and unknown addresses (and the admin's) get the same answer, and
  their median times over 10 tries each differ by less than a factor of 2
  (both printed).
- The per-address limit (PARKD_RECOVERY_MAX_REQUESTS, reloaded by SIGHUP):
  known and unknown addresses get the same statuses (200, 200, 200, 429
  with Retry-After); nginx limits one client address on its own.
- A reset racing others with the same token (separate clients, 4 workers):
  exactly one succeeds, the others get 400 INVALID_TOKEN.
- Verification: registration mails a link; email_verified false, then true;
  the link works once; a changed address is unverified and gets a new link
  (the old one no longer counts); "send again" spends the older link;
  REQUIRE_EMAIL_VERIFICATION on refuses an unverified login with 403
  EMAIL_NOT_VERIFIED, and a reset by e-mail verifies the address.
- #14, the review of #20 (separate clients, 4 workers): a login with the
  old password overlapping a reset keeps no session and (rehash: the stored
  hash weaker than the policy) never writes the old password back; a login
  overlapping a deactivation leaves no session for after the activation;
  a password change from a pre-reset session overlapping the reset writes
  nothing (401 TOKEN_REVOKED).  With REQUIRE_EMAIL_VERIFICATION on, a
  session whose address became unverified gets only me, profile, profile
  update, send again and logout (refresh and other routes 403
  EMAIL_NOT_VERIFIED), and an export queued while verified fails instead
  of going to the new address.  Changing the address needs the current
  password, tells the old address, spends reset links (changing back
  revives none), and a later reset's notice goes to both addresses.  A
  deactivation spends the account's reset links.
- Tokens never appear in any log (parkd, nginx access and error), the
  table holds only their SHA-256, and no column of any table holds a token
  once its mail is sent.  "parkctl cleanup" removes spent and expired
  tokens and keeps live ones.
"""

import hashlib
import os
import re
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import authlib as A  # noqa: E402
import parking as P  # noqa: E402
import parktest as T  # noqa: E402
import smtpsink  # noqa: E402
from authlib import is_error  # noqa: E402
from parktest import diag, is_, like, ok  # noqa: E402

WORKERS = 4
TTL = 1800              # PARKD_RESET_TOKEN_TTL_S (the default)
TIMING_TRIES = 10
TIMING_ROUNDS = 3
RACERS = 6
LINK_RE = re.compile(r"(http://127\.0\.0\.1:\d+)(/reset-password|"
                     r"/verify-email)#token=([A-Za-z0-9_-]{43})(?![\w-])")

SEEN_TOKENS = []        # every link token (checked absent from the logs)


class Mail:
    """The stack's outgoing mail: "parkctl mail" into the sink."""

    def __init__(self, s, sink):
        self.s = s
        self.sink = sink
        self.taken = 0

    def new(self):
        """Delivers what is queued; returns the messages that arrived
        since the last call."""
        out = self.s.parkctl("mail")
        if out.returncode != 0:
            diag("parkctl mail exited %d: %s %s" % (
                out.returncode, out.stdout[-400:], out.stderr[-800:]))
        # The sink keeps a message just after its answer to DATA.
        with db(self.s) as d:
            sent = d.execute("SELECT count(*) FROM outbox WHERE "
                             "state = 'sent'").fetchone()[0]
        msgs = self.sink.wait_messages(sent, timeout=5)
        fresh = msgs[self.taken:]
        self.taken = len(msgs)
        return fresh

    def link(self, to, page, what):
        """Delivers and returns (token, message) of the one new mail to
        `to` with a link to page; None when there is none."""
        got = [m for m in self.new() if to_(m, to)]
        for m in got:
            text = part(m, "plain") or ""
            hit = LINK_RE.search(text)
            if hit and hit.group(2) == page:
                SEEN_TOKENS.append(hit.group(3))
                return hit.group(3), m
        ok(False, "%s: a mail to %s with a %s link" % (what, to, page),
           "  got %d mails: %r" % (len(got), [m["Subject"] for m in got]))
        return None, None


def to_(msg, addr):
    """1 when addr is a recipient of msg (the sink keeps <addr>)."""
    return any(r.strip("<>").lower() == addr.lower() for r in msg.rcpts)


def part(msg, kind):
    body = msg.get_body(preferencelist=(kind,))
    return None if body is None else body.get_content()


def db(s):
    """The test's own connection to the stack's database (sqlite3, or a
    t/lib/pgconn one with PARKD_DB=postgresql)."""
    return P.dbconn(s)


def sha(tok):
    return hashlib.sha256(tok.encode()).hexdigest()


def forgot(c, email, **kw):
    return c.post("/api/auth/forgot-password", {"email": email}, **kw)


def reset(c, tok, pw, **kw):
    return c.post("/api/auth/reset-password",
                  {"token": tok, "new_password": pw}, **kw)


def verify(c, tok):
    return c.post("/api/auth/verify-email", {"token": tok})


def me(c, access):
    return c.get("/api/auth/me", token=access)


def refresh(c, rt):
    return c.post("/api/auth/refresh", token=rt)


def same_answer(r1, r2):
    """Status and body of two answers, less the request id."""
    def strip(r):
        j = dict(r.json) if isinstance(r.json, dict) else {"raw": r.body}
        j.pop("request_id", None)
        return r.status, j
    return strip(r1) == strip(r2)


# ---- the flow -------------------------------------------------------------

def test_flow(c, mail):
    s = c.s
    a = A.User(c, "rec")
    b = A.User(c, "rob")
    mail.new()  # their verification mails
    a_access, a_refresh = a.login()
    a2_access, a2_refresh = a.session()
    b_access, _ = b.login()

    r1 = forgot(c, a.email.upper())
    r2 = forgot(c, "nobody.%s@example.com" % A.tag())
    r3 = forgot(c, s.admin_email)
    is_(r1.status, 200, "forgot, known address (any case): 200")
    ok(same_answer(r1, r2) and same_answer(r1, r3),
       "forgot: the same answer for a known, an unknown and the admin's "
       "address", "  %r\n  %r\n  %r" % (r1.body, r2.body, r3.body))
    ok(isinstance(r1.json, dict) and "data" not in r1.json,
       "forgot: no data in the answer")

    tok, m = mail.link(a.email, "/reset-password", "forgot")
    if tok is None:
        return a, b
    others = [x for x in mail.sink.messages() if to_(x, s.admin_email)]
    is_(others, [], "forgot: no mail to the admin")
    like(m["Subject"], r"(?i)reset", "mail: the subject names the reset")
    html = part(m, "html") or ""
    link = "%s/reset-password#token=%s" % (s.settings["BACKEND_URL"], tok)
    ok(link in (part(m, "plain") or "") and link in html,
       "mail: text and HTML parts carry BACKEND_URL/reset-password#token=",
       "  html: %r" % html[:300])

    with db(s) as d:
        rows = d.execute(P.sql(
            "SELECT hash, purpose, user_id, used_at, expires_at - created_at"
            " FROM account_tokens WHERE user_id = ? AND purpose = 'reset'",
            "SELECT hash, purpose, user_id, used_at, extract(epoch FROM"
            " expires_at - created_at)::bigint FROM account_tokens"
            " WHERE user_id = ? AND purpose = 'reset'"), (a.id,)).fetchall()
    ok(any(r[0] == sha(tok) and r[3] is None for r in rows),
       "db: the token's SHA-256 is stored, unused", "  %r" % rows)
    ok(all(tok not in str(r) for r in rows), "db: the token itself is not")
    ok(any(r[4] == TTL for r in rows), "db: it lives PARKD_RESET_TOKEN_TTL_S")

    # A verification token is no reset token, nor a malformed one.
    is_error(reset(c, "x" * 43, "Whatever-pw-1"), 400, "INVALID_TOKEN",
             "reset with an unknown token")
    is_error(reset(c, tok[:-1], "Whatever-pw-1"), 400, "INVALID_TOKEN",
             "reset with a token cut short")
    is_error(reset(c, tok, "short"), 400, "VALIDATION",
             "reset with a password too short")

    new_pw = A.new_password()
    r = reset(c, tok, new_pw)
    is_(r.status, 200, "reset: 200") or diag("  %r" % r.body)
    is_error(A.login(c, a.email, a.password), 401, "UNAUTHENTICATED",
             "after reset: the old password is refused")
    is_(A.login(c, a.email, new_pw).status, 200,
        "after reset: the new password works")
    for name, acc in (("first", a_access), ("second", a2_access)):
        is_error(me(c, acc), 401, "TOKEN_REVOKED",
                 "after reset: the %s session's access token is refused"
                 % name)
    is_error(refresh(c, a_refresh), 401, "TOKEN_REVOKED",
             "after reset: a refresh token from before is refused")
    is_(me(c, b_access).status, 200,
        "after reset: another user's session goes on")
    is_error(reset(c, tok, A.new_password()), 400, "INVALID_TOKEN",
             "the link refused the second time")
    a.password = new_pw
    is_(A.login(c, a.email, new_pw).status, 200,
        "the second try changed nothing")

    notice = [x for x in mail.new() if to_(x, a.email)]
    ok(any(re.search(r"(?i)password was changed", x["Subject"] or "")
           for x in notice), "reset: a notice is mailed to the address",
       "  %r" % [x["Subject"] for x in notice])
    with db(s) as d:
        verified = d.execute("SELECT email_verified FROM users WHERE id = ?",
                             (a.id,)).fetchone()[0]
    is_(verified, 1, "reset: the link proved the address (verified)")

    # A newer link spends the older; one account's link is not another's.
    forgot(c, a.email)
    old, _ = mail.link(a.email, "/reset-password", "first of two")
    forgot(c, a.email)
    newer, _ = mail.link(a.email, "/reset-password", "second of two")
    forgot(c, b.email)
    btok, _ = mail.link(b.email, "/reset-password", "other user")
    if old and newer and btok:
        is_error(reset(c, old, A.new_password()), 400, "INVALID_TOKEN",
                 "a newer link spends the older one")
        b_pw = A.new_password()
        is_(reset(c, btok, b_pw).status, 200, "b's link resets b")
        is_(A.login(c, a.email, a.password).status, 200,
            "b's link left a's password alone")
        is_error(A.login(c, b.email, b.password), 401, "UNAUTHENTICATED",
                 "b's old password is refused")
        b.password = b_pw
        a.password = A.new_password()
        is_(reset(c, newer, a.password).status, 200,
            "the newer link of a still works (b's reset did not spend it)")
        is_error(reset(c, btok, A.new_password()), 400, "INVALID_TOKEN",
                 "b's spent link cannot serve again")
    return a, b


def test_expiry(c, mail, a):
    """A link after its lifetime: parkd restarted with the clock past it."""
    s = c.s
    forgot(c, a.email)
    tok, _ = mail.link(a.email, "/reset-password", "expiry")
    if tok is None:
        return
    later = int(time.time()) + TTL + 5
    s.stop_process("parkd")
    s.extra_env["PARKD_FAKE_NOW"] = str(later)
    s.start_parkd()
    s.wait_healthy()
    try:
        is_error(reset(c, tok, A.new_password()), 400, "INVALID_TOKEN",
                 "expiry: the link is refused %d s after it was made"
                 % (TTL + 5))
        forgot(c, a.email)
        fresh, _ = mail.link(a.email, "/reset-password", "expiry, fresh")
        if fresh:
            a.password = A.new_password()
            is_(reset(c, fresh, a.password).status, 200,
                "expiry: a link made at that time works then")
    finally:
        s.stop_process("parkd")
        s.extra_env.pop("PARKD_FAKE_NOW", None)
        s.start_parkd()
        s.wait_healthy()


def test_timing(c, mail):
    s = c.s
    known = A.User(c, "tim")
    cases = [
        ("known address", lambda: known.email),
        ("unknown address", lambda: "ghost.%s@example.com" % A.tag()),
    ]
    answers = []
    # A round: TIMING_TRIES of each, interleaved, and the medians.  The
    # answers take about a millisecond, so another process's burst can
    # double one round's median: up to TIMING_ROUNDS rounds, and the first
    # within a factor of 2 passes.  A real difference (a hash, a mail
    # rendered for one side only) shows in every round.
    for rnd in range(TIMING_ROUNDS):
        times = {n: [] for n, _ in cases}
        for _ in range(TIMING_TRIES):
            for name, addr in cases:
                e = addr()
                t0 = time.monotonic()
                r = forgot(c, e)
                times[name].append(time.monotonic() - t0)
                answers.append(r)
        med = {n: sorted(t)[len(t) // 2] * 1000 for n, t in times.items()}
        for n in sorted(med):
            diag("forgot-password time, round %d, %s: median %.2f ms of "
                 "%d" % (rnd + 1, n, med[n], TIMING_TRIES))
        lo, hi = min(med.values()), max(med.values())
        if hi < 2 * lo:
            break
    ok(all(same_answer(answers[0], r) for r in answers) and
       answers[0].status == 200,
       "timing: all %d answers are the same 200" % len(answers))
    ok(hi < 2 * lo, "timing: the slower median (%.2f ms) is within twice "
       "the faster (%.2f ms), round %d" % (hi, lo, rnd + 1))
    rounds = rnd + 1
    got = [m for m in mail.new() if to_(m, known.email)]
    is_(len(got), rounds * TIMING_TRIES + 1,
        "timing: each request for the known address queued its mail "
        "(and registration one)")
    SEEN_TOKENS.extend(h.group(3) for m in got
                       for h in [LINK_RE.search(part(m, "plain") or "")] if h)


def test_limit(c, mail):
    s = c.s
    s.write_settings(PARKD_RECOVERY_MAX_REQUESTS=3)
    before, _ = s.wait_workers(WORKERS)
    s.signal_parkd(signal.SIGHUP)
    s.wait_workers(WORKERS, timeout=10, not_in=before or [])
    try:
        known = A.User(c, "lim")
        mail.new()
        seqs = {}
        for name, e in (("known", known.email),
                        ("unknown", "nope.%s@example.com" % A.tag())):
            rs = [forgot(c, e) for _ in range(4)]
            seqs[name] = [r.status for r in rs]
            is_error(rs[3], 429, "RATE_LIMITED",
                     "limit: the 4th request for a %s address" % name)
            ra = rs[3].headers.get("retry-after", "")
            ok(ra.isdigit() and 0 < int(ra) <= 3600,
               "limit: with Retry-After (%s address): %r" % (name, ra))
        is_(seqs["known"], seqs["unknown"],
            "limit: known and unknown addresses answer alike: %r"
            % seqs["known"])
        got = [m for m in mail.new() if to_(m, known.email)]
        SEEN_TOKENS.extend(h.group(3) for m in got
                           for h in [LINK_RE.search(part(m, "plain") or "")]
                           if h)
        is_(len(got), 3, "limit: three mails, none past the limit")
        # The web app's "send again" counts for the address too.
        acc, _ = known.login()
        is_error(c.post("/api/user/verify-email/resend", token=acc), 429,
                 "RATE_LIMITED", "limit: send again, past the limit")
    finally:
        s.write_settings(PARKD_RECOVERY_MAX_REQUESTS=100)
        before, _ = s.wait_workers(WORKERS)
        s.signal_parkd(signal.SIGHUP)
        s.wait_workers(WORKERS, timeout=10, not_in=before or [])
    # nginx: one client address that nginx does not trust, many addresses
    statuses = [forgot(c, "n%d.%s@example.com" % (i, A.tag()),
                       source="127.0.0.2").status for i in range(12)]
    ok(200 in statuses and statuses.count(429) >= 3,
       "nginx: one client address is limited on its own (%r)" % statuses)
    mail.new()


def test_race(c, mail):
    a = A.User(c, "race")
    mail.new()
    for rnd in range(3):
        forgot(c, a.email)
        tok, _ = mail.link(a.email, "/reset-password", "race")
        if tok is None:
            return
        barrier = threading.Barrier(RACERS)
        results = [None] * RACERS
        pws = [A.new_password() for _ in range(RACERS)]

        def one(i):
            barrier.wait()
            results[i] = reset(c, tok, pws[i])
        ts = [threading.Thread(target=one, args=(i,)) for i in range(RACERS)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        sts = [r.status if r else None for r in results]
        codes = [(A.envelope_error(r) or ("",))[0] for r in results
                 if r and r.status != 200]
        ok(sts.count(200) == 1 and sts.count(400) == RACERS - 1 and
           set(codes) == {"INVALID_TOKEN"},
           "race %d: %d resets with one token at once: exactly one "
           "succeeds, the others 400 INVALID_TOKEN" % (rnd + 1, RACERS),
           "  statuses %r codes %r" % (sts, codes))
        if sts.count(200) == 1:
            winner = pws[sts.index(200)]
            is_(A.login(c, a.email, winner).status, 200,
                "race %d: the winner's password is the one set" % (rnd + 1))
            a.password = winner
        mail.new()


def test_verification(c, mail, a):
    s = c.s
    u = A.User(c, "ver")
    tok, m = mail.link(u.email, "/verify-email", "register")
    r = c.post("/api/auth/login", {"username": u.email,
                                   "password": u.password})
    is_(r.status, 200, "verification off: an unverified user logs in")
    acc = r.json["data"]["access_token"]
    is_(r.json["data"]["user"].get("email_verified"), False,
        "user object: email_verified false after registration")
    if tok is None:
        return
    ok(tok in (part(m, "html") or ""), "verify mail: HTML part too")
    r = verify(c, tok)
    is_(r.status, 200, "verify: 200") or diag("  %r" % r.body)
    is_((r.json or {}).get("data", {}).get("email_verified"), True,
        "verify: answers the user object, verified")
    is_error(verify(c, tok), 400, "INVALID_TOKEN", "verify: the link once")
    is_error(verify(c, "A" * 43), 400, "INVALID_TOKEN",
             "verify: an unknown token")
    is_(c.post("/api/user/verify-email/resend", token=acc).json.get(
        "message"), "Email address is already verified",
        "send again: nothing to send for a verified address")

    # A changed address: unverified, a new link; the old link is dead.
    new_email = "moved.%s@example.com" % A.tag()
    r = c.post("/api/user/profile/update", {"email": new_email,
                                            "current_password": u.password},
               token=acc)
    is_(r.json.get("data", {}).get("email_verified"), False,
        "a changed address is unverified again")
    t1, _ = mail.link(new_email, "/verify-email", "changed address")
    is_(c.post("/api/user/verify-email/resend", token=acc).status, 200,
        "send again: 200")
    t2, _ = mail.link(new_email, "/verify-email", "send again")
    if t1 and t2:
        is_error(verify(c, t1), 400, "INVALID_TOKEN",
                 "send again spends the older link")
        # A link to an address that is no longer the account's.
        r = c.post("/api/user/profile/update",
                   {"email": "third.%s@example.com" % A.tag(),
                    "current_password": u.password}, token=acc)
        mail.new()
        is_error(verify(c, t2), 400, "INVALID_TOKEN",
                 "a link to the account's former address does not verify "
                 "the new one")

    # REQUIRE_EMAIL_VERIFICATION on.
    v = A.User(c, "req")
    w = A.User(c, "wex")
    w_access, _ = w.login()  # a session from before the setting
    mail.new()
    admin = A.admin_login(c)
    r = c.post("/api/admin/pkl/create", {
        "prime_location_name": "Recovery Test Lot", "address":
        "1 Verification Street, Testville", "pin_code": "560001",
        "number_of_spots": 3, "price": 10}, token=admin)
    is_(r.status, 200, "a new lot (every active user is due a reminder)")
    s.write_settings(REQUIRE_EMAIL_VERIFICATION="on")
    before, _ = s.wait_workers(WORKERS)
    s.signal_parkd(signal.SIGHUP)
    s.wait_workers(WORKERS, timeout=10, not_in=before or [])
    try:
        is_error(A.login(c, v.email, v.password), 403, "EMAIL_NOT_VERIFIED",
                 "required: an unverified user's login")
        is_error(c.post("/api/user/export-csv", {}, token=w_access), 403,
                 "EMAIL_NOT_VERIFIED", "required: an unverified user's "
                 "export (a session from before)")
        out = s.parkctl("remind")
        is_(out.returncode, 0, "required: parkctl remind runs") or diag(
            out.stdout, out.stderr)
        with db(s) as d:
            keys = [k for (k,) in d.execute(P.sql(
                "SELECT idem_key FROM outbox WHERE idem_key GLOB 'remind:*'",
                "SELECT idem_key FROM outbox WHERE idem_key LIKE"
                " 'remind:%'"))]
        uids = {int(k.split(":")[1]) for k in keys}
        ok(a.id in uids and v.id not in uids and w.id not in uids,
           "required: reminders go to verified addresses only",
           "  reminded %r; verified %d, unverified %d, %d" % (
               sorted(uids), a.id, v.id, w.id))
        forgot(c, v.email)
        tok, _ = mail.link(v.email, "/reset-password", "required, reset")
        if tok:
            v.password = A.new_password()
            is_(reset(c, tok, v.password).status, 200, "required: reset")
            is_(A.login(c, v.email, v.password).status, 200,
                "required: a reset by e-mail verifies the address: login")
    finally:
        s.write_settings(REQUIRE_EMAIL_VERIFICATION="off")
        before, _ = s.wait_workers(WORKERS)
        s.signal_parkd(signal.SIGHUP)
        s.wait_workers(WORKERS, timeout=10, not_in=before or [])


# ---- #14, the review of #20 ---------------------------------------------

def reload(s, **changes):
    before, _ = s.wait_workers(WORKERS)
    s.write_settings(**changes)
    s.signal_parkd(signal.SIGHUP)
    s.wait_workers(WORKERS, timeout=15, not_in=before or [])


def both(f, g, delay):
    """Runs f, then g delay seconds later, each in its own thread (its own
    connection, so likely another worker); their answers."""
    out = [None, None]

    def run(i, fn, d):
        time.sleep(d)
        try:
            out[i] = fn()
        except Exception as e:  # reported by the caller
            out[i] = e
    ts = [threading.Thread(target=run, args=(0, f, 0)),
          threading.Thread(target=run, args=(1, g, delay))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    return out


def st(r):
    return getattr(r, "status", repr(r))


def test_login_race(c, mail, rehash, tries=6):
    """Item 3: a login with the old password overlapping a reset.  The
    login read the hash, then verified it (slow) while the reset committed;
    it may not create a session, nor (rehash: the stored hash is weaker
    than the policy) write the old password's new hash over the reset's.
    Separate clients; the login starts 0 to 75 ms after the reset, within
    the reset's hashing."""
    s = c.s
    what = "login race%s" % (" (rehash)" if rehash else "")
    users = [A.User(c, "lr%d" % i) for i in range(tries)]
    mail.new()
    if rehash:
        reload(s, PARKD_SCRYPT_N="65536")
    survived, reverted, lost = [], [], 0
    try:
        for i, u in enumerate(users):
            forgot(c, u.email)
            tok, _ = mail.link(u.email, "/reset-password", what)
            if tok is None:
                return
            newpw = A.new_password()
            rr, lr = both(lambda: reset(c, tok, newpw),
                          lambda: A.login(c, u.email, u.password),
                          0.015 * (i % 6))
            if st(rr) != 200:
                ok(False, "%s %d: the reset succeeds (%s)" % (what, i, st(rr)))
                continue
            if st(lr) == 200:
                acc = lr.json["data"]["access_token"]
                ref = lr.json["data"]["refresh_token"]
                if me(c, acc).status != 401 or \
                        refresh(c, ref).status != 401:
                    survived.append(i)
            elif st(lr) == 401:
                lost += 1
            else:
                ok(False, "%s %d: the login answers 200 or 401 (%s)"
                   % (what, i, st(lr)))
            if A.login(c, u.email, newpw).status != 200 or \
                    A.login(c, u.email, u.password).status != 401:
                reverted.append(i)
    finally:
        if rehash:
            reload(s, PARKD_SCRYPT_N="16384")
    diag("%s: %d of %d logins lost to the reset" % (what, lost, tries))
    is_(survived, [], "%s: no login session survives the reset" % what)
    is_(reverted, [], "%s: the reset's password stays, the old one is "
        "refused" % what)


def test_deactivate_race(c, tries=6):
    """Item 3, deactivation: a login overlapping a deactivation leaves no
    session that works once the account is active again."""
    admin = A.admin_login(c)
    survived = []
    for i in range(tries):
        u = A.User(c, "dr%d" % i)
        lr, dr = both(lambda: A.login(c, u.email, u.password),
                      lambda: c.post("/api/admin/users/%d/deactivate" % u.id,
                                     token=admin), 0.01 * (i % 5))
        is_(st(dr), 200, "deactivation race %d: deactivated" % i)
        c.post("/api/admin/users/%d/activate" % u.id, token=admin)
        if st(lr) == 200 and me(c, lr.json["data"]["access_token"]).status \
                != 401:
            survived.append(i)
    is_(survived, [], "deactivation race: no login session outlives the "
        "deactivation")


def test_pwchange_race(c, mail, tries=6):
    """Item 4: POST /api/user/password from a session made before a reset,
    with the old password as current, overlapping the reset: the reset's
    password stands (the change answers 401, or ran before the reset)."""
    lost = []
    users = [A.User(c, "pc%d" % i) for i in range(tries)]
    mail.new()
    for i, u in enumerate(users):
        acc, _ = u.login()
        forgot(c, u.email)
        tok, _ = mail.link(u.email, "/reset-password", "password change race")
        if tok is None:
            return
        resetpw, otherpw = A.new_password(), A.new_password()
        rr, cr = both(lambda: reset(c, tok, resetpw),
                      lambda: c.post("/api/user/password", {
                          "current_password": u.password,
                          "new_password": otherpw}, token=acc),
                      0.015 * (i % 6))
        is_(st(rr), 200, "password change race %d: the reset succeeds" % i)
        ok(st(cr) in (200, 401), "password change race %d: the change "
           "answers 200 (before the reset) or 401 (%s)" % (i, st(cr)))
        if A.login(c, u.email, resetpw).status != 200 or \
                A.login(c, u.email, otherpw).status != 401:
            lost.append(i)
        if st(cr) == 401:
            is_((A.envelope_error(cr) or ("",))[0], "TOKEN_REVOKED",
                "password change race %d: 401 TOKEN_REVOKED" % i)
    is_(lost, [], "password change race: the reset's password always "
        "stands")


def test_unverified_session(c, mail):
    """Items 5 and 6: with REQUIRE_EMAIL_VERIFICATION on, a session whose
    address became unverified reaches only the routes that get it verified
    or fixed (and logout); refresh is refused; an export queued while
    verified is not mailed to the new address."""
    s = c.s
    u = A.User(c, "uv")
    tok, _ = mail.link(u.email, "/verify-email", "unverified session")
    if tok is None:
        return
    is_(verify(c, tok).status, 200, "unverified session: verified first")
    reload(s, REQUIRE_EMAIL_VERIFICATION="on")
    try:
        acc, ref = u.login()
        r = c.post("/api/user/export-csv", {}, token=acc)
        is_(r.status, 200, "unverified session: an export queued while "
            "verified")
        task = ((r.json or {}).get("data") or {}).get("task_id")
        other = "elsewhere.%s@example.org" % A.tag()
        r = c.post("/api/user/profile/update", {
            "email": other, "current_password": u.password}, token=acc)
        is_(r.status, 200, "unverified session: the address changed")
        is_error(A.login(c, other, u.password), 403, "EMAIL_NOT_VERIFIED",
                 "unverified session: a login is refused")
        for path in ("/api/user/pkl/list", "/api/user/summary",
                     "/api/user/pkl/book/list"):
            is_error(c.get(path, token=acc), 403, "EMAIL_NOT_VERIFIED",
                     "unverified session: GET %s refused" % path)
        is_error(c.post("/api/user/password", {
            "current_password": u.password,
            "new_password": A.new_password()}, token=acc), 403,
            "EMAIL_NOT_VERIFIED", "unverified session: password change "
            "refused")
        is_error(refresh(c, ref), 403, "EMAIL_NOT_VERIFIED",
                 "unverified session: refresh refused")
        for m, path in (("GET", "/api/user/profile"),
                        ("GET", "/api/auth/me")):
            is_(c.call(m, path, token=acc).status, 200,
                "unverified session: %s %s answers" % (m, path))
        out = s.parkctl("exports")
        is_(out.returncode, 1, "unverified session: parkctl exports exits "
            "1 (a job failed)") or diag(out.stdout, out.stderr)
        got = [m for m in mail.new() if to_(m, other)]
        subjects = [m["Subject"] for m in got]
        ok(not [x for x in subjects if "xport" in x],
           "unverified session: no export mail to the unverified address",
           "  %r" % subjects)
        with db(s) as d:
            row = d.execute("SELECT state, error FROM export_jobs WHERE "
                            "id = ?", (task,)).fetchone()
        ok(row and row[0] == "FAILURE" and "not verified" in (row[1] or ""),
           "unverified session: the export failed, saying why", "  %r"
           % (row,))
        r = c.post("/api/user/verify-email/resend", token=acc)
        is_(r.status, 200, "unverified session: send again answers")
        t2, _ = mail.link(other, "/verify-email", "unverified session")
        if t2:
            is_(verify(c, t2).status, 200, "unverified session: verified "
                "again")
            is_(c.get("/api/user/pkl/list", token=acc).status, 200,
                "unverified session: verified, the routes answer again")
            r = refresh(c, ref)
            is_(r.status, 200, "unverified session: verified, refresh "
                "answers")
            if r.status == 200:
                acc = r.json["data"]["access_token"]
        is_(c.post("/api/auth/logout", token=acc).status, 200,
            "unverified session: logout")
    finally:
        reload(s, REQUIRE_EMAIL_VERIFICATION="off")


def test_email_change(c, mail):
    """Item 7: another address needs the current password (400 when
    missing or wrong, counted like a password change); the old address is
    told; the notice of a later reset goes to both addresses.  Item 8: an
    address change spends the reset links, so changing back revives
    none."""
    u = A.User(c, "mv")
    mail.new()
    acc, _ = u.login()
    new = "moved.%s@example.org" % A.tag()
    r = c.post("/api/user/profile/update", {"email": new}, token=acc)
    is_error(r, 400, "VALIDATION", "email change: without current_password")
    ok("current_password" in A.details(r), "email change: details name "
       "current_password")
    r = c.post("/api/user/profile/update", {
        "email": new, "current_password": u.password + "x"}, token=acc)
    is_error(r, 400, "VALIDATION", "email change: a wrong current_password")
    ok("current_password" in A.details(r), "email change: ... named")
    is_(c.get("/api/user/profile", token=acc).json["data"]["email"],
        u.email, "email change: refused changes changed nothing")
    r = c.post("/api/user/profile/update", {"email": u.email,
                                            "phone": "+15550002222"},
               token=acc)
    is_(r.status, 200, "email change: the same address needs no password")
    forgot(c, u.email)
    old_link, _ = mail.link(u.email, "/reset-password", "email change")
    r = c.post("/api/user/profile/update", {
        "email": new, "current_password": u.password}, token=acc)
    is_(r.status, 200, "email change: with the current password: 200")
    got = mail.new()
    notice = [m for m in got if to_(m, u.email)]
    ok(len(notice) == 1 and new in (part(notice[0], "plain") or ""),
       "email change: a notice to the old address names the new one",
       "  %r" % [(m.rcpts, m["Subject"]) for m in got])
    r = c.post("/api/user/profile/update", {
        "email": u.email, "current_password": u.password}, token=acc)
    is_(r.status, 200, "email change: back to the first address")
    mail.new()
    if old_link:
        is_error(reset(c, old_link, A.new_password()), 400, "INVALID_TOKEN",
                 "email change: a reset link from before the change is "
                 "spent, even after changing back")
    r = c.post("/api/user/profile/update", {
        "email": new, "current_password": u.password}, token=acc)
    mail.new()
    forgot(c, new)
    tok, _ = mail.link(new, "/reset-password", "email change, reset")
    if tok:
        is_(reset(c, tok, A.new_password()).status, 200,
            "email change: reset through the new address")
        got = mail.new()
        to = sorted(r.strip("<>").lower() for m in got for r in m.rcpts)
        is_(to, sorted([u.email.lower(), new.lower()]),
            "email change: the reset's notice goes to the new address and "
            "to the one before")


def test_inactive_links(c, mail):
    """Item 8: a reset link stops working when the account is deactivated,
    and is not revived by activating it again."""
    admin = A.admin_login(c)
    u = A.User(c, "in")
    mail.new()
    forgot(c, u.email)
    tok, _ = mail.link(u.email, "/reset-password", "inactive")
    if tok is None:
        return
    is_(c.post("/api/admin/users/%d/deactivate" % u.id,
               token=admin).status, 200, "inactive: deactivated")
    is_error(reset(c, tok, A.new_password()), 400, "INVALID_TOKEN",
             "inactive: the reset link of a deactivated account is refused")
    c.post("/api/admin/users/%d/activate" % u.id, token=admin)
    is_error(reset(c, tok, A.new_password()), 400, "INVALID_TOKEN",
             "inactive: ... and stays spent once active again")
    is_(A.login(c, u.email, u.password).status, 200,
        "inactive: the password is the one from before")


def test_storage(c, mail):
    """No token in any column of any table once its mail is out; the
    cleanup removes spent and expired tokens, never a live one."""
    s = c.s
    u = A.User(c, "cln")
    mail.new()
    forgot(c, u.email)
    live, _ = mail.link(u.email, "/reset-password", "cleanup")
    found = []
    with db(s) as d:
        tables = [r[0] for r in d.execute(P.sql(
            "SELECT name FROM sqlite_master WHERE type = 'table'",
            "SELECT tablename FROM pg_tables"
            " WHERE schemaname = current_schema()"))]
        for t in tables:
            for row in d.execute('SELECT * FROM "%s"' % t):
                text = "\x00".join(str(v) for v in row)
                for tok in SEEN_TOKENS:
                    # a bytea column reads back as \x and hex
                    if tok in text or tok.encode().hex() in text:
                        found.append("%s: %.8s..." % (t, tok))
        hashes = {r[0] for r in d.execute("SELECT hash FROM account_tokens")}
        spent = d.execute("SELECT count(*) FROM account_tokens WHERE "
                          "used_at IS NOT NULL").fetchone()[0]
    ok(len(SEEN_TOKENS) > 20 and not found,
       "db: none of the %d tokens mailed is in any table (%d tables)"
       % (len(SEEN_TOKENS), len(tables)), *found[:5])
    ok(sha(SEEN_TOKENS[0]) in hashes, "db: the tokens' hashes are there")
    ok(spent > 5, "db: spent tokens before the cleanup (%d)" % spent)
    out = s.parkctl("cleanup")
    is_(out.returncode, 0, "cleanup: exits 0") or diag(out.stdout, out.stderr)
    like(out.stdout + out.stderr, r"account tokens \d+",
         "cleanup: reports the tokens it removed")
    with db(s) as d:
        left = d.execute(P.sql(
            "SELECT hash, used_at FROM account_tokens WHERE "
            "used_at IS NOT NULL OR expires_at <= ?",
            "SELECT hash, used_at FROM account_tokens WHERE "
            "used_at IS NOT NULL OR expires_at <= to_timestamp(?)"),
            (int(time.time()),)).fetchall()
        kept = d.execute("SELECT count(*) FROM account_tokens WHERE "
                         "hash = ?", (sha(live or ""),)).fetchone()[0]
    is_(left, [], "cleanup: no spent or expired token is left")
    is_(kept, 1, "cleanup: the live link's token stays")
    if live:
        is_(reset(c, live, A.new_password()).status, 200,
            "cleanup: the live link still works")


def test_logs(s):
    logs = A.read_logs(s)
    ok(any(p.endswith("nginx-access.log") for p in logs) and len(logs) >= 3,
       "logs: parkd's and nginx's logs are there", *logs.keys())
    found = ["%.8s... in %s" % (t, os.path.basename(p))
             for p, text in logs.items() for t in SEEN_TOKENS if t in text]
    ok(SEEN_TOKENS and not found, "logs: none of the %d link tokens is in "
       "any log" % len(SEEN_TOKENS), *found[:5])
    parkd = logs.get(os.path.join(s.dir, "logs", "parkd.log"), "")
    for name, pat in (
            ("reset queued", r"security: password reset link queued for "
             r"user \d+"),
            ("unknown address", r"security: password reset asked for an "
             r"address of no active user"),
            ("reset", r"security: password reset for user \d+ by e-mail "
             r"link; every session revoked"),
            ("bad link", r"security: password reset with an invalid link"),
            ("verified", r"security: e-mail address of user \d+ verified"),
            ("limit", r"security: recovery mail limit for address"),
            ("unverified login", r"security: login of user \d+ refused: "
             r"e-mail not verified")):
        ok(re.search(pat, parkd), "logs: security event: " + name)


def main():
    work = os.environ.get("TMPDIR", "/tmp")
    sink = smtpsink.Sink(os.path.join(work, "sink-73-%d" % os.getpid()))
    port = sink.start()
    settings = {"PARKD_SCRYPT_N": "16384",
                "PARKD_HASH_CONCURRENCY": str(RACERS + 2),
                "PARKD_RECOVERY_MAX_REQUESTS": "100",
                "PARKD_LOGIN_MAX_FAILURES": "100",
                "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(port),
                "MAIL_USE_TLS": "off"}
    try:
        with T.Stack(workers=WORKERS, settings=settings) as s:
            c = A.Client(s)
            mail = Mail(s, sink)
            a, _ = test_flow(c, mail)
            test_expiry(c, mail, a)
            test_timing(c, mail)
            test_limit(c, mail)
            test_race(c, mail)
            test_verification(c, mail, a)
            test_login_race(c, mail, False)
            test_login_race(c, mail, True)
            test_deactivate_race(c)
            test_pwchange_race(c, mail)
            test_unverified_session(c, mail)
            test_email_change(c, mail)
            test_inactive_links(c, mail)
            test_storage(c, mail)
            c.check_no_hash("73-recovery")
            test_logs(s)
    finally:
        sink.stop()


T.run(main)
