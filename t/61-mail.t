#!/usr/bin/env python3
"""61-mail.t: "parkctl mail", the outbox's delivery, against t/lib/smtpsink.

- .eml mode (no MAIL_SERVER): one file per message, atomic, mode 0640,
  rewritten rather than duplicated; an unusable folder keeps mail queued.
- SMTP: multipart text and HTML, non-ASCII subjects encoded, CRLF only,
  lines <= 998, dot-stuffing ("." lines arrive intact), one RCPT TO per
  message, exactly once (a second run sends nothing), --limit, job runs.
- Faults (reliability.md test 10): a closed port, a silent server (the run
  ends within PARKD_MAIL_TIMEOUT_S), 451 and 421 answers: mail stays
  queued and, after recovery, 20 of 20 arrive exactly once; 5xx refusals
  fail for good.
- Kill (test 5): SIGKILL at random points while a slow server answers,
  then reruns: nothing lost, at most one duplicate per kill, and every
  duplicate logged.  Two and three runs at once never send one twice.
- Injection (test 11): rows the schema lets through (controls other than
  CR/LF, NUL, '>', spaces) are refused before any SMTP command; the server
  sees exactly one RCPT TO per message.  (db_outbox_add()'s own refusals
  and the builder are t/12-mail.c's.)  On PostgreSQL a NUL cannot be
  stored in text at all: the test checks the engine refuses it.
- Both back ends (PARKD_DB=postgresql): the outbox is read and written
  through t/lib/parking.py's dbconn(); two or three runs at once claim
  with FOR UPDATE SKIP LOCKED there and still send each message once.
- TLS (test 12): STARTTLS to an untrusted certificate, to a wrong host
  name, and to a server hiding STARTTLS all fail with nothing sent in
  clear; with MAIL_CA_FILE trusting the test CA it works; smtps likewise;
  AUTH only inside TLS, and a user name without TLS is refused (exit 3).
- In clear (issue #14): without TLS, only to a loopback MAIL_SERVER; any
  other host is refused by parkd -t, parkctl and the run (exit 3, nothing
  connects, mail stays queued) unless PARKD_MAIL_ALLOW_PLAINTEXT is on.

PARKTEST_SEED=N repeats the random kill points of a run (printed).
"""

import os
import random
import re
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import parking as P  # noqa: E402
import parktest as T  # noqa: E402
import pgconn  # noqa: E402
import smtpsink  # noqa: E402
from parktest import diag, is_, like, ok  # noqa: E402

LEASE_S = 600  # MAIL_LEASE_S in park.h
SENDER = "parkd@localhost"


# ---- helpers ----------------------------------------------------------------


class Outbox:
    """The stack's outbox, read and written directly: sqlite3, or on
    PostgreSQL (PARKD_DB=postgresql) a t/lib/pgconn connection, whose
    rows read back as SQLite's (times as epoch seconds)."""

    def __init__(self, stack):
        self.stack = stack

    def db(self):
        c = P.dbconn(self.stack)
        if not T.use_pg():
            c.row_factory = sqlite3.Row
        return c

    def add(self, key, to="user@example.com", subject="Hello",
            text="Hello.\n", html=None, due=None):
        now = int(time.time())
        self.add_sql(
            "INSERT INTO outbox (idem_key, to_addr, subject, body_text,"
            " body_html, state, attempts, next_attempt_at, created_at)"
            " VALUES (?, ?, ?, ?, ?, 'queued', 0, ?, ?)",
            (key, to, subject, text, html, now if due is None else due,
             now),
            "INSERT INTO outbox (idem_key, to_addr, subject, body_text,"
            " body_html, state, attempts, next_attempt_at, created_at)"
            " VALUES (?, ?, ?, ?, ?, 'queued', 0, to_timestamp(?),"
            " to_timestamp(?))")

    def add_sql(self, sql, args=(), pg=None):
        """Runs sql (pg on PostgreSQL when given) in a connection of its
        own."""
        c = self.db()
        try:
            c.execute(P.sql(sql, pg), args)
        finally:
            c.close()

    def query(self, sql, args=()):
        c = self.db()
        try:
            return c.execute(sql, args).fetchall()
        finally:
            c.close()

    def rows(self):
        return [dict(r) for r in self.query(
            "SELECT * FROM outbox ORDER BY id")]

    def states(self):
        out = {}
        for r in self.rows():
            out[r["state"]] = out.get(r["state"], 0) + 1
        return out

    def clear(self):
        self.add_sql("DELETE FROM outbox")

    def scalar(self, sql, args=()):
        return self.query(sql, args)[0][0]


def mail_argv(s, *args):
    return [T.PARKCTL, "-c", s.settings_path, "mail"] + list(args)


STDERRS = []  # of every run, checked for sanitizer reports at the end


def run_mail(s, *args, now=None, timeout=90):
    """Runs parkctl mail; now: PARKD_FAKE_NOW.  Returns (CompletedProcess,
    seconds it took)."""
    extra = {"PARKD_FAKE_NOW": str(int(now))} if now else {}
    t0 = time.monotonic()
    out = subprocess.run(mail_argv(s, *args), env=s.env(extra),
                         capture_output=True, text=True, timeout=timeout,
                         stdin=subprocess.DEVNULL)
    STDERRS.append(out.stderr)
    return out, time.monotonic() - t0


def show(out):
    return ["  exit %s" % out.returncode, "  stdout: " + out.stdout[-800:],
            "  stderr: " + out.stderr[-2500:]]


def smtp_settings(s, port, tls=False, ssl=False, ca="", user="", timeout=5):
    s.write_settings(MAIL_SERVER="127.0.0.1", MAIL_PORT=port,
                     MAIL_USE_TLS="on" if tls else "off",
                     MAIL_USE_SSL="on" if ssl else "off",
                     MAIL_CA_FILE=ca, MAIL_USERNAME=user,
                     MAIL_PASSWORD="sink-password" if user else "",
                     PARKD_MAIL_TIMEOUT_S=timeout)


def crlf_only(raw):
    return (re.search(rb"(?<!\r)\n", raw) is None and
            re.search(rb"\r(?!\n)", raw) is None)


def keys_of(msgs):
    return [m["X-Parkd-Idempotency-Key"] for m in msgs]


def part_text(msg, kind):
    body = msg.get_body(preferencelist=(kind,))
    return None if body is None else body.get_content().replace("\r\n", "\n")


# ---- .eml files -------------------------------------------------------------

def test_eml(s, ob):
    mdir = s.settings["PARKD_MAIL_DIR"]
    s.write_settings(MAIL_SERVER="")
    ob.add("eml:1", subject="Plain subject", text="one\n.\ntwo\n",
           html="<p>one</p>")
    ob.add("eml:2", subject="Réservé – ünïcode 🚗", text="ü\n")
    ob.add("eml:3", to="other@example.org")
    out, _ = run_mail(s)
    is_(out.returncode, 0, "eml: parkctl mail exits 0") or diag(*show(out))
    like(out.stdout, r"3 sent", "eml: it says 3 sent")
    names = sorted(os.listdir(mdir))
    is_(len(names), 3, "eml: three files in PARKD_MAIL_DIR")
    ok(all(re.fullmatch(r"\d+-[0-9a-f]{16}\.eml", n) for n in names),
       "eml: named <id>-<key hash>.eml, no temporary file left",
       "  %r" % names)
    modes = {oct(stat.S_IMODE(os.stat(os.path.join(mdir, n)).st_mode))
             for n in names}
    is_(modes, {"0o640"}, "eml: mode 0640")
    msgs = {}
    for n in names:
        with open(os.path.join(mdir, n), "rb") as f:
            raw = f.read()
        ok(crlf_only(raw), "eml: %s has CRLF line ends only" % n)
        m = smtpsink.email.message_from_bytes(
            raw, policy=smtpsink.email.policy.default)
        msgs[m["X-Parkd-Idempotency-Key"]] = m
    is_(sorted(msgs), ["eml:1", "eml:2", "eml:3"], "eml: one file per key")
    if len(msgs) == 3:
        is_(msgs["eml:2"]["Subject"], "Réservé – ünïcode 🚗",
            "eml: the non-ASCII subject decodes back")
        is_(part_text(msgs["eml:1"], "plain"), "one\n.\ntwo",
            "eml: text part intact")
        is_(part_text(msgs["eml:1"], "html"), "<p>one</p>",
            "eml: HTML part intact")
        is_(msgs["eml:3"]["To"], "other@example.org", "eml: To")
        is_(msgs["eml:3"]["From"], SENDER, "eml: From")
    is_(ob.states(), {"sent": 3}, "eml: all three marked sent")
    out, _ = run_mail(s)
    ok(out.returncode == 0 and "0 sent" in out.stdout,
       "eml: a second run sends nothing", *show(out))
    # A crash after the rename but before the commit: the row is due again,
    # and the same file is written again, not a second one.
    ob.add_sql("UPDATE outbox SET state = 'queued', next_attempt_at = 0 "
               "WHERE idem_key = 'eml:1'", (),
               "UPDATE outbox SET state = 'queued', next_attempt_at ="
               " to_timestamp(0) WHERE idem_key = 'eml:1'")
    out, _ = run_mail(s)
    ok(out.returncode == 0 and "1 sent" in out.stdout,
       "eml: a message sent again ...", *show(out))
    is_(sorted(os.listdir(mdir)), names, "eml: ... replaces its file: "
        "still three files")

    # an unusable folder: the message stays queued, the run says so
    bad = os.path.join(s.dir, "not-a-folder")
    with open(bad, "w") as f:
        f.write("x")
    s.write_settings(PARKD_MAIL_DIR=bad)
    ob.add("eml:4")
    out, _ = run_mail(s)
    is_(out.returncode, 1, "eml: PARKD_MAIL_DIR unusable: exit 1")
    r = [x for x in ob.rows() if x["idem_key"] == "eml:4"][0]
    ok(r["state"] == "queued" and r["attempts"] == 1 and
       "PARKD_MAIL_DIR" in (r["last_error"] or ""),
       "eml: ... the message stays queued with the reason", "  %r" % r)
    s.write_settings(PARKD_MAIL_DIR=mdir)
    out, _ = run_mail(s, now=time.time() + 120)
    ok(out.returncode == 0 and "1 sent" in out.stdout,
       "eml: once the folder works it is written", *show(out))
    ob.clear()


# ---- SMTP -------------------------------------------------------------------

def test_smtp(s, ob, work):
    sink = smtpsink.Sink(os.path.join(work, "sink-normal"))
    port = sink.start()
    try:
        smtp_settings(s, port)
        body = "Dear user,\n.\n..two dots\n.hidden\nFrom here\r\nend " \
               "with = sign \nnaïve\n" + "x" * 300 + "\n"
        ob.add("smtp:1", subject="Réservation confirmée – n°12 🚗",
               text=body, html="<p>Hello <b>you</b></p>\n<p>.</p>\n")
        for i in range(2, 6):
            ob.add("smtp:%d" % i, to="user%d@example.com" % i,
                   subject="Plain %d" % i)
        out, took = run_mail(s)
        is_(out.returncode, 0, "smtp: exit 0") or diag(*show(out))
        msgs = sink.wait_messages(5, 5)
        is_(len(msgs), 5, "smtp: 5 messages arrived")
        is_(sorted(keys_of(msgs)), ["smtp:%d" % i for i in range(1, 6)],
            "smtp: each once, with its idempotency key")
        is_(len(sink.commands("RCPT TO")), 5,
            "smtp: exactly one RCPT TO per message")
        ok(all(m.rcpts == ["<%s>" % m["To"]] for m in msgs),
           "smtp: the envelope recipient is the To address",
           *["  %r %r" % (m.rcpts, m["To"]) for m in msgs])
        ok(all(m.mail_from == "<%s>" % SENDER for m in msgs),
           "smtp: MAIL FROM is MAIL_DEFAULT_SENDER")
        ok(all(crlf_only(m.raw) and not m.bare_lf for m in msgs),
           "smtp: CRLF only, no bare LF")
        longest = max(len(l) for m in msgs for l in m.raw.split(b"\r\n"))
        ok(longest <= 998, "smtp: no line over 998 bytes (%d)" % longest)
        ok(all(max(m.raw) < 0x80 for m in msgs), "smtp: 7-bit clean")
        m1 = [m for m in msgs if m["X-Parkd-Idempotency-Key"] == "smtp:1"]
        if ok(m1, "smtp: the multipart message is there"):
            m1 = m1[0]
            is_(m1.get_content_type(), "multipart/alternative",
                "smtp: multipart/alternative")
            is_(m1["Subject"], "Réservation confirmée – n°12 🚗",
                "smtp: non-ASCII subject decodes back")
            ok(b"Subject: =?UTF-8?B?" in m1.raw,
               "smtp: ... and was RFC 2047 encoded on the wire")
            want = body.replace("\r\n", "\n").rstrip("\n")
            is_(part_text(m1, "plain").rstrip("\n"), want,
                "smtp: text part intact: '.' lines, leading dots, From, "
                "'=', trailing space, UTF-8, a 300-byte line")
            is_(part_text(m1, "html"), "<p>Hello <b>you</b></p>\n<p>.</p>",
                "smtp: HTML part intact")
            ok(b"\r\n..\r\n" in m1.wire and b"\r\n...two dots" in m1.wire,
               "smtp: dot-stuffed on the wire (by libcurl)")
            ok(m1["Message-ID"] and m1["Date"] and
               m1["MIME-Version"] == "1.0", "smtp: Message-ID, Date, "
               "MIME-Version")
        rows = ob.rows()
        ok(all(r["state"] == "sent" and r["sent_at"] and r["attempts"] == 1
               for r in rows), "smtp: every row sent, sent_at set, 1 attempt")
        out, _ = run_mail(s)
        ok(out.returncode == 0 and "0 sent" in out.stdout,
           "smtp: a second run sends nothing", *show(out))
        time.sleep(0.2)
        is_(len(sink.messages()), 5, "smtp: ... nothing more arrived")

        # --limit
        ob.clear()
        for i in range(7):
            ob.add("limit:%d" % i)
        out, _ = run_mail(s, "--limit", "3")
        ok(out.returncode == 0 and "3 sent" in out.stdout,
           "smtp: --limit 3 sends 3", *show(out))
        is_(ob.states(), {"sent": 3, "queued": 4}, "smtp: ... 4 left")
        out, _ = run_mail(s)
        is_(ob.states(), {"sent": 7}, "smtp: the next run sends the rest")
        runs = ob.scalar("SELECT count(*) FROM job_runs WHERE job = 'mail'"
                         " AND status = 'ok' AND finished_at IS NOT NULL")
        ok(runs >= 4, "smtp: each run is recorded in job_runs (%d)" % runs)
        last = (ob.query("SELECT items, errors, message FROM job_runs"
                         " WHERE job = 'mail' ORDER BY id DESC"
                         " LIMIT 1") or [None])[0]
        ok(last is not None and last["items"] == 4 and last["errors"] == 0,
           "smtp: the run's record counts its items",
           "  %r" % (dict(last) if last else None))
    finally:
        sink.stop()
    ob.clear()


def test_injection(s, ob, work):
    sink = smtpsink.Sink(os.path.join(work, "sink-inject"))
    port = sink.start()
    try:
        smtp_settings(s, port)
        # The schema refuses CR and LF in addresses and subjects ...
        for col, val in (("to_addr", "v@example.com\r\nRCPT TO:<evil@x.net>"),
                         ("to_addr", "v@example.com\n"),
                         ("subject", "hi\r\nBcc: evil@x.net")):
            try:
                ob.add_sql("INSERT INTO outbox (idem_key, to_addr, subject,"
                           " body_text, next_attempt_at, created_at) VALUES"
                           " ('crlf', ?, ?, 't', 0, 0)",
                           (val if col == "to_addr" else "v@example.com",
                            val if col == "subject" else "s"),
                           "INSERT INTO outbox (idem_key, to_addr, subject,"
                           " body_text, next_attempt_at, created_at) VALUES"
                           " ('crlf', ?, ?, 't', to_timestamp(0),"
                           " to_timestamp(0))")
                refused = False
            except Exception as e:
                if not P.is_constraint_error(e):
                    raise
                refused = True
            ok(refused, "inject: the schema refuses %s with %r"
               % (col, val))
        # ... the rest is mail.c's to refuse, before any SMTP command.
        bad = [
            ("inj:gt", "v@example.com> RCPT TO:<evil@x.net", "s"),
            ("inj:space", "v@example.com evil@x.net", "s"),
            ("inj:vt", "v@example.com\x0bRCPT TO:<evil@x.net>", "s"),
            ("inj:tab", "v@example.com\tevil@x.net", "s"),
            ("inj:angle", "<v@example.com>", "s"),
            ("inj:comma", "v@example.com,evil@x.net", "s"),
            ("inj:8bit", "vé@example.com", "s"),
            ("inj:long", "v" * 70 + "@example.com", "s"),
            ("inj:subj-tab", "v@example.com", "a\tBcc: evil@x.net"),
            ("inj:subj-esc", "v@example.com", "a\x1b[2J"),
            ("inj:subj-nel", "v@example.com", "a\u0085Bcc: evil@x.net"),
        ]
        for key, to, subject in bad:
            ob.add(key, to=to, subject=subject)
        # NUL bytes, which C strings would cut short.  SQLite stores them
        # in TEXT (mail.c must refuse the row); PostgreSQL's text cannot
        # hold one: the row never gets in.
        nuls = 0
        for key, to, subject in (
                ("inj:nul-to", "7640782E636F6D0065766C", None),
                ("inj:nul-subj", None, "6869004263633A20657669")):
            if not T.use_pg():
                ob.add_sql("INSERT INTO outbox (idem_key, to_addr, subject,"
                           " body_text, next_attempt_at, created_at) VALUES"
                           " (?, %s, %s, 't', 0, 0)" % (
                               "CAST(X'%s' AS TEXT)" % to if to
                               else "'v@example.com'",
                               "CAST(X'%s' AS TEXT)" % subject if subject
                               else "'s'"), (key,))
                nuls += 1
                continue
            try:
                ob.add_sql("INSERT INTO outbox (idem_key, to_addr, subject,"
                           " body_text, next_attempt_at, created_at) VALUES"
                           " (?, %s, %s, 't', to_timestamp(0),"
                           " to_timestamp(0))" % (
                               "convert_from('\\x%s', 'UTF8')" % to if to
                               else "'v@example.com'",
                               "convert_from('\\x%s', 'UTF8')" % subject
                               if subject else "'s'"), (key,))
                refused = None
            except pgconn.Error as e:
                refused = e.sqlstate
            is_(refused, "22021", "inject: PostgreSQL refuses a NUL in "
                "%s (invalid byte sequence): it never reaches the outbox"
                % ("to_addr" if to else "subject"))
        ob.add("inj:good", to="good@example.com", subject="Fine")
        out, _ = run_mail(s)
        is_(out.returncode, 1, "inject: exit 1 (some refused)") \
            or diag(*show(out))
        msgs = sink.wait_messages(1, 3)
        time.sleep(0.2)
        msgs = sink.messages()
        is_(keys_of(msgs), ["inj:good"], "inject: only the good message "
            "reached the server")
        is_(len(sink.commands("RCPT TO")), 1, "inject: exactly one RCPT TO "
            "in the whole dialogue")
        is_(len(sink.commands("MAIL FROM")), 1, "inject: exactly one MAIL "
            "FROM")
        ok(not any("evil" in line.lower() for line in sink.dialogue()),
           "inject: nothing injected appears in the dialogue",
           *["  " + l for l in sink.dialogue() if "evil" in l.lower()])
        rows = {r["idem_key"]: r for r in ob.rows()}
        nbad = len(bad) + nuls
        failed = [k for k, r in rows.items() if r["state"] == "failed"]
        is_(len(failed), nbad, "inject: every bad message is failed")
        ok(all(rows[k]["last_error"] for k in failed),
           "inject: ... with the reason", *["  %s: %s" % (
               k, rows[k]["last_error"]) for k in failed])
        if nuls:
            like(rows["inj:nul-subj"]["last_error"] or "", "NUL",
                 "inject: the NUL is named")
        like(rows["inj:gt"]["last_error"] or "", "recipient",
             "inject: the recipient is named")
        like(rows["inj:subj-tab"]["last_error"] or "", "subject",
             "inject: the subject is named")
        like(out.stderr, r"refused, never sent", "inject: logged")
        ok("\x0b" not in out.stderr and "\x1b" not in out.stderr,
           "inject: the log escapes control characters")
        out, _ = run_mail(s, now=time.time() + 86400)
        ok(out.returncode == 0 and "0 sent" in out.stdout,
           "inject: failed messages are not tried again", *show(out))
    finally:
        sink.stop()
    ob.clear()


def test_refusals(s, ob, work):
    """5xx at RCPT: failed for good at once, the others still go."""
    sink = smtpsink.Sink(os.path.join(work, "sink-554"), mode="reject-rcpt")
    port = sink.start()
    try:
        smtp_settings(s, port)
        ob.add("r554:1")
        ob.add("r554:2")
        out, _ = run_mail(s)
        is_(out.returncode, 1, "554: exit 1")
        rows = ob.rows()
        ok(all(r["state"] == "failed" and "554" in (r["last_error"] or "")
               for r in rows), "554: both failed with the server's answer",
           *["  %r" % r for r in rows])
        is_(len(sink.commands("RCPT TO")), 2, "554: both were tried once")
    finally:
        sink.stop()
    ob.clear()
    sink = smtpsink.Sink(os.path.join(work, "sink-554-data"),
                         mode="reject-data")
    port = sink.start()
    try:
        smtp_settings(s, port)
        ob.add("r554d:1")
        ob.add("r554d:2")
        out, _ = run_mail(s)
        is_(out.returncode, 1, "554 after the data: exit 1")
        rows = ob.rows()
        ok(all(r["state"] == "failed" and "554" in (r["last_error"] or "")
               for r in rows), "554 after the data: both failed for good",
           *["  %r" % r for r in rows])
        is_(len(sink.commands("DATA")), 2, "554 after the data: each "
            "transmitted once")
    finally:
        sink.stop()
    ob.clear()


# ---- faults (reliability test 10) -------------------------------------------

def test_faults(s, ob, work):
    n = 20
    for i in range(n):
        ob.add("fault:%02d" % i)
    base = time.time()

    # 1. nothing listens
    port = smtpsink.free_port()
    smtp_settings(s, port, timeout=2)
    out, took = run_mail(s)
    is_(out.returncode, 1, "refused: exit 1")
    ok(took < 5, "refused: the run ends at once (%.1f s)" % took)
    like(out.stdout, r"stopped early", "refused: it stops early")
    rows = ob.rows()
    is_(ob.states(), {"queued": n}, "refused: all %d still queued" % n)
    is_(sorted(r["attempts"] for r in rows), [0] * (n - 1) + [1],
        "refused: one attempt counted, the rest given back untried")
    ok(any("onnect" in (r["last_error"] or "") for r in rows),
       "refused: the reason is kept", *["  %r" % r["last_error"]
                                       for r in rows if r["last_error"]])

    # 2. a server that accepts and never speaks
    hang = smtpsink.Sink(os.path.join(work, "sink-hang"), mode="hang")
    hport = hang.start()
    try:
        smtp_settings(s, hport, timeout=2)
        out, took = run_mail(s, now=base + 3600)
        is_(out.returncode, 1, "hang: exit 1")
        ok(took < 8, "hang: the run ends within PARKD_MAIL_TIMEOUT_S "
           "(2 s): %.1f s" % took)
        is_(hang.sessions, 1, "hang: one connection, then it stops")
        like(out.stderr, r"[Tt]imeout|timed out", "hang: a timeout")
        is_(ob.states(), {"queued": n}, "hang: all still queued")
    finally:
        hang.stop()

    # 3. it comes back, answering 451 to the first 3 MAIL FROM
    sink = smtpsink.Sink(os.path.join(work, "sink-451"), port=port,
                         mode="tempfail", tempfail=3)
    sink.start()
    try:
        smtp_settings(s, port, timeout=5)
        out, _ = run_mail(s, now=base + 7200)
        is_(out.returncode, 1, "451: exit 1 (3 not sent)")
        like(out.stdout, r"17 sent, 3 queued again", "451: 17 sent, 3 "
             "queued again") or diag(*show(out))
        again = [r for r in ob.rows() if r["state"] == "queued"]
        ok(len(again) == 3 and all(
            "451" in r["last_error"] and
            r["next_attempt_at"] > base + 7200 for r in again),
           "451: with the answer and a back-off",
           *["  %r" % r for r in again])
        out, _ = run_mail(s, now=base + 7201)
        ok(out.returncode == 0 and "0 sent" in out.stdout,
           "451: not retried before the back-off", *show(out))
        out, _ = run_mail(s, now=base + 4 * 3600)
        ok(out.returncode == 0 and "3 sent" in out.stdout,
           "451: retried after the back-off", *show(out))
        out, _ = run_mail(s, now=base + 5 * 3600)
        ok("0 sent" in out.stdout, "451: then nothing is left")
        keys = keys_of(sink.messages())
        is_(len(keys), n, "faults: %d messages arrived" % n)
        is_(len(set(keys)), n, "faults: 0 lost, 0 duplicates")
        is_(ob.states(), {"sent": n}, "faults: all marked sent")
    finally:
        sink.stop()
    ob.clear()

    # 4. a greeting of 554 is about the server, not the message
    sink = smtpsink.Sink(os.path.join(work, "sink-noservice"),
                         mode="no-service")
    port = sink.start()
    try:
        smtp_settings(s, port)
        for i in range(3):
            ob.add("nosvc:%d" % i)
        out, _ = run_mail(s)
        ok(out.returncode == 1 and "stopped early" in out.stdout,
           "554 greeting: the run stops", *show(out))
        is_(ob.states(), {"queued": 3}, "554 greeting: all still queued")
        is_(sink.sessions, 1, "554 greeting: one connection")
    finally:
        sink.stop()
    ob.clear()

    # 5. 421 (service closing): the run stops and gives the rest back
    sink = smtpsink.Sink(os.path.join(work, "sink-421"), mode="tempfail",
                         tempfail=1, tempfail_code=421)
    port = sink.start()
    try:
        smtp_settings(s, port)
        for i in range(3):
            ob.add("f421:%d" % i)
        out, _ = run_mail(s)
        ok(out.returncode == 1 and "stopped early" in out.stdout,
           "421: the run stops", *show(out))
        is_(ob.states(), {"queued": 3}, "421: all still queued")
        out, _ = run_mail(s, now=time.time() + 3600)
        is_(out.returncode, 0, "421: the next run sends them")
        is_(sorted(keys_of(sink.messages())), ["f421:0", "f421:1",
                                               "f421:2"],
            "421: each exactly once")
    finally:
        sink.stop()
    ob.clear()


# ---- kill and concurrency (reliability test 5, CI-sized) --------------------

def test_kill(s, ob, work, rng):
    n, kills = 24, 10
    for i in range(n):
        ob.add("kill:%02d" % i)
    sink = smtpsink.Sink(os.path.join(work, "sink-kill"), delay=0.25)
    port = sink.start()
    logs = []
    try:
        smtp_settings(s, port)
        base = time.time()
        for k in range(kills):
            # each run's clock is a lease later than the last one's, so it
            # takes over what the killed run left 'sending'
            env = s.env({"PARKD_FAKE_NOW": str(int(base + k * (LEASE_S + 1)))})
            p = subprocess.Popen(mail_argv(s), env=env,
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True,
                                 stdin=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.02, 0.9))
            p.send_signal(signal.SIGKILL)
            o, e = p.communicate(timeout=30)
            logs.append(e)
        out, _ = run_mail(s, now=base + kills * (LEASE_S + 1))
        logs.append(out.stderr)
        is_(out.returncode, 0, "kill: the rerun completes") \
            or diag(*show(out))
        time.sleep(0.3)
        keys = keys_of(sink.messages())
        dups = len(keys) - len(set(keys))
        is_(sorted(set(keys)), ["kill:%02d" % i for i in range(n)],
            "kill: nothing lost after %d SIGKILLs" % kills)
        ok(dups <= kills, "kill: at most one duplicate per kill (%d)" % dups)
        logged = sum(e.count("may arrive twice") for e in logs)
        ok(logged >= dups, "kill: every possible duplicate is logged "
           "(%d logged, %d duplicates)" % (logged, dups))
        is_(ob.states(), {"sent": n}, "kill: all marked sent")
        is_(ob.scalar("PRAGMA integrity_check"), "ok",
            "kill: integrity_check ok")
        diag("kill: %d duplicates, %d logged as possible" % (dups, logged))
    finally:
        sink.stop()
    ob.clear()


def test_concurrent(s, ob, work):
    for runs in (2, 3):
        n = 20
        for i in range(n):
            ob.add("conc%d:%02d" % (runs, i))
        sink = smtpsink.Sink(os.path.join(work, "sink-conc%d" % runs),
                             delay=0.05)
        port = sink.start()
        try:
            smtp_settings(s, port)
            procs = [subprocess.Popen(mail_argv(s), env=s.env(),
                                      stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True,
                                      stdin=subprocess.DEVNULL)
                     for _ in range(runs)]
            outs = [p.communicate(timeout=60) for p in procs]
            codes = [p.returncode for p in procs]
            is_(codes, [0] * runs, "%d runs at once: all exit 0" % runs) \
                or diag(*[o[1] for o in outs])
            sent = [int(re.search(r"(\d+) sent", o[0]).group(1))
                    if re.search(r"(\d+) sent", o[0]) else -1 for o in outs]
            keys = keys_of(sink.messages())
            is_(sorted(keys), sorted("conc%d:%02d" % (runs, i)
                                     for i in range(n)),
                "%d runs at once: each message exactly once" % runs)
            is_(sum(sent), n, "%d runs at once: the runs' counts add up "
                "(%r)" % (runs, sent))
        finally:
            sink.stop()
        ob.clear()


# ---- TLS (reliability test 12) ----------------------------------------------

def one_tls_case(s, ob, work, name, sink_kw, settings_kw, want_ok,
                 want_err=None):
    sink = smtpsink.Sink(os.path.join(work, "sink-" + name), **sink_kw)
    port = sink.start()
    try:
        smtp_settings(s, port, **settings_kw)
        ob.add("tls:" + name)
        out, _ = run_mail(s)
        time.sleep(0.1)
        msgs = sink.messages()
        if want_ok:
            if not ok(out.returncode == 0 and len(msgs) == 1 and
                      msgs[0].tls, "tls %s: sent, inside TLS" % name,
                      *show(out)):
                return
            dl = sink.dialogue(msgs[0].session)
            first = [i for i, l in enumerate(dl)
                     if l.startswith(("C: MAIL", "C: AUTH"))]
            tls_at = -1 if sink_kw.get("implicit_tls") else min(
                [i for i, l in enumerate(dl) if l == "C: STARTTLS"] or
                [len(dl)])
            ok(first and tls_at < first[0], "tls %s: no MAIL FROM before "
               "TLS" % name, *["  " + l for l in dl])
        else:
            is_(out.returncode, 1, "tls %s: exit 1" % name)
            is_(len(msgs), 0, "tls %s: nothing sent" % name)
            is_(sink.commands("MAIL FROM"), [],
                "tls %s: no MAIL FROM ever crossed in clear" % name)
            rows = ob.rows()
            ok(rows and rows[0]["state"] == "queued",
               "tls %s: the message stays queued" % name)
            if want_err:
                like(rows[0]["last_error"] or "", want_err,
                     "tls %s: the reason (%s)" % (name, want_err))
        return sink
    finally:
        sink.stop()
        ob.clear()


def test_tls(s, ob, work):
    try:
        certs = smtpsink.make_certs(os.path.join(work, "certs"))
    except (OSError, RuntimeError) as e:
        T.skip("TLS cases", "cannot make certificates: %s" % e)
        return
    good = (certs["cert"], certs["key"])
    wrong = (certs["wrong_cert"], certs["wrong_key"])
    ca = certs["ca"]
    one_tls_case(s, ob, work, "untrusted", {"tls": good}, {"tls": True},
                 False, r"certificate|SSL|curl 60")
    one_tls_case(s, ob, work, "wrong-name", {"tls": wrong},
                 {"tls": True, "ca": ca}, False,
                 r"name|certificate|curl 60")
    one_tls_case(s, ob, work, "hidden-starttls",
                 {"tls": good, "hide_starttls": True},
                 {"tls": True, "ca": ca}, False, r"curl 64")
    one_tls_case(s, ob, work, "no-tls-at-all", {},
                 {"tls": True, "ca": ca}, False, r"curl 64")
    one_tls_case(s, ob, work, "starttls", {"tls": good},
                 {"tls": True, "ca": ca}, True)
    one_tls_case(s, ob, work, "smtps", {"tls": good, "implicit_tls": True},
                 {"ssl": True, "ca": ca}, True)
    one_tls_case(s, ob, work, "smtps-untrusted",
                 {"tls": good, "implicit_tls": True}, {"ssl": True}, False,
                 r"certificate|SSL|curl 60")

    # AUTH: only inside TLS
    sink = smtpsink.Sink(os.path.join(work, "sink-auth"), tls=good,
                         auth=True)
    port = sink.start()
    try:
        smtp_settings(s, port, tls=True, ca=ca, user="parkd")
        ob.add("auth:1")
        out, _ = run_mail(s)
        is_(out.returncode, 0, "auth: sent") or diag(*show(out))
        ok(sink.credentials and all(c[1] for c in sink.credentials),
           "auth: the password was sent inside TLS only",
           "  %r" % sink.credentials)
        ok("sink-password" not in out.stderr + out.stdout,
           "auth: the password is not logged")
    finally:
        sink.stop()
    ob.clear()
    sink = smtpsink.Sink(os.path.join(work, "sink-auth-clear"), auth=True)
    port = sink.start()
    try:
        smtp_settings(s, port, user="parkd")
        ob.add("auth:2")
        out, _ = run_mail(s)
        is_(out.returncode, 3, "auth: a user name without TLS is a "
            "settings error (exit 3)")
        is_(sink.sessions, 0, "auth: ... and nothing connects")
        is_(ob.states(), {"queued": 1}, "auth: the message stays queued")
    finally:
        sink.stop()
    ob.clear()


# ---- in clear only to this machine (issue #14) ------------------------------

def test_plaintext(s, ob, work):
    """SMTP without TLS to a host that is not loopback is refused before
    anything connects, unless PARKD_MAIL_ALLOW_PLAINTEXT is on.  "127.1"
    is a host that libcurl reaches on 127.0.0.1 (where the sink is) but
    that parkd does not take for loopback (only localhost, 127.x.y.z in
    full and ::1 are), so the refusal is visible: nothing connects."""
    sink = smtpsink.Sink(os.path.join(work, "sink-plain"))
    port = sink.start()
    try:
        smtp_settings(s, port)
        s.write_settings(MAIL_SERVER="127.1")
        ob.add("plain:1")
        out, _ = run_mail(s)
        is_(out.returncode, 3, "plain: MAIL_SERVER=127.1 without TLS is a "
            "settings error (exit 3)") or diag(*show(out))
        like(out.stderr, r"MAIL_USE_TLS \(.*not a loopback address.*"
             r"PARKD_MAIL_ALLOW_PLAINTEXT=on", "plain: the error names "
             "MAIL_USE_TLS and the setting that would allow it")
        is_(sink.sessions, 0, "plain: ... and nothing connected")
        rows = ob.rows()
        ok(len(rows) == 1 and rows[0]["state"] == "queued" and
           rows[0]["attempts"] == 0, "plain: the message stays queued, "
           "untried", "  %r" % rows)
        r = s.run_parkd("-t")
        ok(r.returncode == 3 and "PARKD_MAIL_ALLOW_PLAINTEXT" in r.stderr,
           "plain: parkd -t refuses the settings too (exit 3)",
           "  %r %s" % (r.returncode, r.stderr[-400:]))
        out = s.parkctl("db", "stats")
        is_(out.returncode, 3, "plain: so does any parkctl command")

        s.write_settings(PARKD_MAIL_ALLOW_PLAINTEXT="on")
        out, _ = run_mail(s)
        is_(out.returncode, 0, "plain: with PARKD_MAIL_ALLOW_PLAINTEXT=on "
            "it is sent") or diag(*show(out))
        msgs = sink.wait_messages(1, 5)
        ok(len(msgs) == 1 and not msgs[0].tls and
           keys_of(msgs) == ["plain:1"], "plain: ... in clear, once")
        like(out.stderr, r"without TLS, as PARKD_MAIL_ALLOW_PLAINTEXT "
             r"allows", "plain: ... with a warning in the log")

        # loopback named as such needs no setting
        s.write_settings(PARKD_MAIL_ALLOW_PLAINTEXT=None,
                         MAIL_SERVER="localhost")
        ob.add("plain:2")
        out, _ = run_mail(s)
        is_(out.returncode, 0, "plain: MAIL_SERVER=localhost without TLS "
            "needs no setting") or diag(*show(out))
        msgs = sink.wait_messages(2, 5)
        is_(keys_of(msgs), ["plain:1", "plain:2"], "plain: ... and is "
            "sent")
    finally:
        sink.stop()
        s.write_settings(PARKD_MAIL_ALLOW_PLAINTEXT=None,
                         MAIL_SERVER="127.0.0.1")
    ob.clear()


def test_usage(s):
    for args, code, name in ((["--limit", "0"], 2, "--limit 0"),
                             (["--limit", "x"], 2, "--limit x"),
                             (["extra"], 2, "an extra argument"),
                             (["--bogus"], 2, "an unknown option"),
                             (["--help"], 0, "--help")):
        out, _ = run_mail(s, *args)
        is_(out.returncode, code, "usage: parkctl mail %s exits %d"
            % (name, code))
    out = s.parkctl("--help")
    like(out.stdout, r"\n  mail \[--limit N\] ", "usage: parkctl --help "
         "lists mail")
    s.write_settings(MAIL_SERVER="", MAIL_DEFAULT_SENDER="not an address")
    out, _ = run_mail(s)
    is_(out.returncode, 3, "usage: a bad MAIL_DEFAULT_SENDER is a settings "
        "error (exit 3)")
    s.write_settings(MAIL_DEFAULT_SENDER=SENDER)
    s.write_settings(MAIL_SERVER="bad/host")
    out, _ = run_mail(s)
    is_(out.returncode, 3, "usage: a MAIL_SERVER that is not a host is a "
        "settings error (exit 3)")
    s.write_settings(MAIL_SERVER="")


def main():
    seed = int(os.environ.get("PARKTEST_SEED") or random.randrange(1 << 30))
    diag("PARKTEST_SEED=%d" % seed)
    rng = random.Random(seed)
    with T.Stack(redis=False, services=False,
                 settings={"MAIL_DEFAULT_SENDER": SENDER}) as s:
        out = s.parkctl("db", "init")
        if not ok(out.returncode == 0, "db init", out.stderr):
            return
        ob = Outbox(s)
        work = os.path.join(s.dir, "smtp")
        os.mkdir(work)
        test_usage(s)
        test_eml(s, ob)
        test_smtp(s, ob, work)
        test_injection(s, ob, work)
        test_refusals(s, ob, work)
        test_faults(s, ob, work)
        test_kill(s, ob, work, rng)
        test_concurrent(s, ob, work)
        test_tls(s, ob, work)
        test_plaintext(s, ob, work)
        bad = [e for e in STDERRS if "Sanitizer" in e or
               "runtime error:" in e]
        ok(not bad, "no sanitizer report in %d runs" % len(STDERRS),
           *bad[:2])


T.run(main)
