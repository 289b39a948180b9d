#!/usr/bin/env python3
"""62-exports.t: CSV exports end to end, through real nginx.

Request -> PENDING; "parkctl exports" -> SUCCESS with filename and
download_url; the e-mail ("parkctl mail" writes .eml files: MAIL_SERVER is
empty) carries a working signed link; the download, through nginx's
X-Accel-Redirect, with the link and with the owner's access token: the
right headers, the contract's header row, the user's rows newest first,
RFC 4180 with CRLF, formula cells prefixed with '; a second run does
nothing new.  Refused: another user's task and file (404), the admin
(403), forged, altered, expired and misplaced link tokens (401), path
tricks (../, %2e%2e, %2f, %00, absolute paths, the internal location) and
symbolic links planted in the export folder (never followed).  The link
goes to the account's own address only: another one in the request is
ignored and the answer says where the mail goes (checked through
t/lib/smtpsink, which sees no other recipient).  Batch
safety: two runs at once never process one job twice; a run killed with
SIGKILL midway leaves the job to be retried and no file in place; SIGTERM
puts the job back; a full disk (a 64 KiB tmpfs in a private mount
namespace, when unshare(1) can make one) leaves no file and the job is
retried, then given up after 3 attempts; the cleanup deletes old files and
rows, and orphans, but nothing else.  Reliability plan rows 7, 19, 20.
"""

import base64
import email
import email.policy
import glob
import hashlib
import hmac
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import parking as P  # noqa: E402
import parktest as T  # noqa: E402
import smtpsink  # noqa: E402
from parktest import diag, is_, like, ok, skip  # noqa: E402

PASSWORD = "password-1234"
HEADER = ["reservation_id", "slot_id", "spot_id", "parking_lot_name",
          "parking_lot_address", "parking_timestamp", "leaving_timestamp",
          "duration_hours", "parking_cost", "currency", "status", "remarks",
          "created_at"]
NAME_RE = r"^parking_%d_[0-9]{14}_[0-9a-f]{6}\.csv$"


# ---- helpers -------------------------------------------------------------------

class User:
    def __init__(self, name, uid, token):
        self.name, self.id, self.token = name, uid, token

    @property
    def h(self):
        return {"Authorization": "Bearer " + self.token}


def make_user(s, name):
    r = s.req("POST", "/api/auth/register", body={
        "username": name, "email": name + "@example.com",
        "password": PASSWORD})
    if r.status != 200:
        raise RuntimeError("register %s: %d %r" % (name, r.status, r.body))
    uid = r.json["data"]["id"]
    r = s.req("POST", "/api/auth/login", body={"username": name,
                                               "password": PASSWORD})
    if r.status != 200:
        raise RuntimeError("login %s: %d %r" % (name, r.status, r.body))
    return User(name, uid, r.json["data"]["access_token"])


def make_login(s, name):
    r = s.req("POST", "/api/auth/login", body={"username": name,
                                               "password": PASSWORD})
    if r.status != 200:
        raise RuntimeError("login %s: %d %r" % (name, r.status, r.body))
    return r.json["data"]["access_token"]


def admin_headers(s):
    r = s.req("POST", "/api/auth/login", body={
        "username": s.admin_email, "password": s.admin_password})
    return {"Authorization": "Bearer " + r.json["data"]["access_token"]}


def db(s):
    """A connection to the stack's database: sqlite3, or on PostgreSQL
    (PARKD_DB=postgresql) a t/lib/pgconn one (autocommit, rows by name,
    times as epoch seconds)."""
    c = P.dbconn(s)
    if not T.use_pg():
        c.row_factory = sqlite3.Row
    return c


def q(s, sql, *args):
    c = db(s)
    try:
        return c.execute(sql, args).fetchall()
    finally:
        c.close()


def write(s, *statements):
    """Runs (sql, params) pairs in one transaction (setup behind parkd's
    back; nothing of it is cached)."""
    c = db(s)
    try:
        c.execute("BEGIN IMMEDIATE")
        for sql, params in statements:
            c.execute(sql, params)
        c.execute("COMMIT")
    finally:
        c.close()


def job(s, tid):
    rows = q(s, "SELECT * FROM export_jobs WHERE id = ?", tid)
    return dict(rows[0]) if rows else {}


def exports_dir(s):
    return os.path.join(s.dir, "exports")


def files(s, pattern="*"):
    return sorted(os.path.basename(p) for p in
                  glob.glob(os.path.join(exports_dir(s), pattern)) +
                  glob.glob(os.path.join(exports_dir(s), "." + pattern)))


def request_export(s, u, body=None):
    r = s.req("POST", "/api/user/export-csv", body=body, headers=u.h)
    if r.status != 200:
        raise RuntimeError("export-csv %s: %d %r" % (u.name, r.status,
                                                     r.body))
    return r.json["data"]["task_id"]


def run_exports(s, *args, env=None):
    return subprocess.run([T.PARKCTL, "-c", s.settings_path, "exports"] +
                          list(args), env=s.env(env), capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)


def start_exports(s, *args):
    return subprocess.Popen([T.PARKCTL, "-c", s.settings_path, "exports"] +
                            list(args), env=s.env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL,
                            preexec_fn=T._child_setup)


def add_history(s, uid, lot_id, n, t0=1700000000):
    """n completed reservations of user uid, written straight to the
    database (setup only)."""
    spot = q(s, "SELECT id FROM spots WHERE lot_id = ? ORDER BY "
             "spot_number LIMIT 1", lot_id)[0][0]
    rows = [(spot, lot_id, uid, t0 + i * 7200, t0 + i * 7200 + 3600 + i,
             5000 * (1 + i % 3), "row %d, \"q\"" % i if i % 7 == 0 else
             None, t0 + i * 7200, t0 + i * 7200) for i in range(n)]
    one = P.sql("(?, ?, ?, 'KA01AB1234', ?, ?, 5000, ?, 'completed', ?, ?,"
                " ?)",
                "(?, ?, ?, 'KA01AB1234', to_timestamp(?), to_timestamp(?),"
                " 5000, ?, 'completed', ?, to_timestamp(?),"
                " to_timestamp(?))")
    # 100 rows a statement: one round trip each on PostgreSQL (psql)
    write(s, *[("INSERT INTO reservations (spot_id, lot_id, user_id,"
                " vehicle_number, parking_ts, leaving_ts, hourly_cents,"
                " cost_cents, status, remarks, created_at, updated_at)"
                " VALUES " + ", ".join([one] * len(rows[k:k + 100])),
                [v for r in rows[k:k + 100] for v in r])
               for k in range(0, n, 100)])


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def link_token(s, tid, filename, exp, key=None):
    """A link token made the way exports.c makes them (the test knows
    JWT_SECRET_KEY)."""
    secret = s.settings["JWT_SECRET_KEY"].encode()
    if key is None:
        key = hmac.new(secret, b"parkd export-link key v1",
                       hashlib.sha256).digest()
    msg = ("export:%s:%s:%d" % (tid, filename, exp)).encode()
    return "%s.%d.%s" % (tid, exp, b64url(hmac.new(key, msg,
                                                   hashlib.sha256).digest()))


def parse_csv(data):
    """A strict RFC 4180 reader: UTF-8, quoted fields with "" for a quote,
    unquoted fields without quote, CR or LF, every record ended by CRLF.
    Raises ValueError on anything else."""
    text = data.decode("utf-8")
    recs, i, n = [], 0, len(text)
    while i < n:
        rec = []
        while True:
            if i < n and text[i] == '"':
                j, buf = i + 1, []
                while True:
                    if j >= n:
                        raise ValueError("unterminated quoted field")
                    if text[j] == '"':
                        if j + 1 < n and text[j + 1] == '"':
                            buf.append('"')
                            j += 2
                            continue
                        j += 1
                        break
                    buf.append(text[j])
                    j += 1
                field, i = "".join(buf), j
            else:
                j = i
                while j < n and text[j] not in ",\r":
                    if text[j] in "\"\n":
                        raise ValueError("bare quote or LF at %d" % j)
                    j += 1
                field, i = text[i:j], j
            rec.append(field)
            if i < n and text[i] == ",":
                i += 1
                continue
            if text.startswith("\r\n", i):
                i += 2
                break
            raise ValueError("no CRLF after a field at %d" % i)
        recs.append(rec)
    return recs


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def esc(v):
    """What the contract says a text cell holds."""
    v = v or ""
    return "'" + v if v[:1] in ("=", "+", "-", "@", "\t", "\r", "'") else v


def expected_rows(s, uid):
    """The user's reservations as the CSV must show them, from the
    database."""
    out = []
    for r in q(s, "SELECT r.id, s.spot_number, r.spot_id, l.name, l.address,"
               " r.parking_ts, r.leaving_ts, r.cost_cents, r.status,"
               " r.remarks, r.created_at FROM reservations r"
               " JOIN spots s ON s.id = r.spot_id"
               " JOIN lots l ON l.id = r.lot_id WHERE r.user_id = ?"
               " ORDER BY r.id DESC", uid):
        dur = cost = ""
        if r["leaving_ts"] is not None:
            h = ((r["leaving_ts"] - r["parking_ts"]) * 100 + 1800) // 3600
            dur = "%d.%02d" % divmod(h, 100)
        if r["cost_cents"] is not None:
            cost = "%d.%02d" % divmod(r["cost_cents"], 100)
        out.append([str(r["id"]), str(r["spot_number"]), str(r["spot_id"]),
                    esc(r["name"]), esc(r["address"]), iso(r["parking_ts"]),
                    iso(r["leaving_ts"]) if r["leaving_ts"] else "", dur,
                    cost, "INR", r["status"], esc(r["remarks"]),
                    iso(r["created_at"])])
    return out


def url_path(s, url):
    """The path and query of a link to the stack."""
    prefix = "http://127.0.0.1:%d" % s.port
    return url[len(prefix):] if url and url.startswith(prefix) else None


def error_code(r):
    return (r.json or {}).get("code") if isinstance(r.json, dict) else None


def check_download(r, fname, what):
    """One test point: a good download's status and headers."""
    problems = []
    if r.status != 200:
        problems.append("status %d %r" % (r.status, r.body[:200]))
    for name, want in (("content-type", "text/csv; charset=utf-8"),
                       ("content-disposition",
                        'attachment; filename="%s"' % fname),
                       ("x-content-type-options", "nosniff")):
        if r.count(name) != 1 or r.headers.get(name) != want:
            problems.append("%s: %r (%d times), want %r" % (
                name, r.headers.get(name), r.count(name), want))
    if r.count("cache-control") != 1 or \
            "no-store" not in r.headers.get("cache-control", ""):
        problems.append("cache-control: %r (%d times)" % (
            r.headers.get("cache-control"), r.count("cache-control")))
    if r.count("x-request-id") != 1 or not re.match(
            r"^[0-9a-f]{32}$", r.headers.get("x-request-id", "")):
        problems.append("x-request-id: %r" % r.headers.get("x-request-id"))
    if r.count("x-accel-redirect"):
        problems.append("X-Accel-Redirect reached the client")
    return ok(not problems, what + ": 200, text/csv, attachment, nosniff, "
              "no-store, request id", *problems)


def never_leaks(r):
    return b"root:" not in r.body and b"SQLite format" not in r.body and \
        not (r.status == 200 and "csv" in r.headers.get("content-type", ""))


# ---- the tests --------------------------------------------------------------------

def setup_lots(s, admin):
    """Lots whose names and addresses a spreadsheet would run."""
    lots = []
    for name, addr, price in (
            ("-Minus Lot", '=HYPERLINK("http://evil.example/","click"), '
             "Main Street", 50.5),
            ("Plain Lot", "+91 Ring Road, @Home Tower, Town", 30),
            ("Café Lot", "@Airport Road, Terminal 1 ₹", 100)):
        r = s.req("POST", "/api/admin/pkl/create", headers=admin, body={
            "prime_location_name": name, "address": addr,
            "pin_code": "110001", "number_of_spots": 5, "price": price})
        if r.status != 200:
            raise RuntimeError("create lot: %d %r" % (r.status, r.body))
        lots.append(r.json["data"]["id"])
    return lots


def book(s, u, lot, release=True):
    r = s.req("POST", "/api/user/pkl/book/%d" % lot, headers=u.h,
              body={"vehicle_number": "KA01AB1234"})
    if r.status != 200:
        raise RuntimeError("book: %d %r" % (r.status, r.body))
    rid = r.json["data"]["id"]
    if release:
        r = s.req("POST", "/api/user/pkl/release", headers=u.h,
                  body={"reservation_id": rid})
        if r.status != 200:
            raise RuntimeError("release: %d %r" % (r.status, r.body))
    return rid


def test_request(s, alice, bob, admin):
    """Requests, validation, status; another user and the admin refused."""
    r = s.req("POST", "/api/user/export-csv", headers=alice.h)
    is_(r.status, 200, "export-csv without a body: 200")
    data = (r.json or {}).get("data") or {}
    tid = data.get("task_id", "")
    like(tid, r"^[0-9a-f]{32}$", "task_id is 32 hex digits")
    is_(data.get("state"), "PENDING", "state PENDING at once")
    ok(data.get("email") == "alice@example.com" and
       data.get("email_ignored") is False and
       "alice@example.com" in ((r.json or {}).get("message") or ""),
       "the answer names the address the link goes to", "  %r" % r.json)
    r = s.req("GET", "/api/user/export-status/" + tid, headers=alice.h)
    st = (r.json or {}).get("data") or {}
    ok(r.status == 200 and st.get("state") == "PENDING" and
       st.get("progress") == 0 and st.get("filename") is None and
       st.get("download_url") is None and st.get("error") is None,
       "status: PENDING, progress 0, no file yet", "  %r" % r.body[:300])
    is_(job(s, tid).get("email"), "alice@example.com",
        "the job mails the caller's own address by default")

    r = s.req("GET", "/api/user/export-status/" + tid, headers=bob.h)
    ok(r.status == 404 and error_code(r) == "NOT_FOUND",
       "another user's task: 404 NOT_FOUND (%d)" % r.status)
    r = s.req("GET", "/api/user/export-status/" + tid, headers=admin)
    is_(r.status, 403, "the admin asking for the status: 403")
    for bad in ("0" * 32, tid.upper(), tid[:31], tid + "0", "..%2f" + tid,
                "%2e%2e"):
        r = s.req("GET", "/api/user/export-status/" + bad, headers=alice.h)
        is_(r.status, 404, "status of %r: 404" % bad)
    r = s.req("GET", "/api/user/export-status/" + tid)
    is_(r.status, 401, "status without a token: 401")
    r = s.req("GET", "/api/user/export-status/%s?token=%s" % (
        tid, link_token(s, tid, "parking_1_20260101000000_abcdef.csv",
                        int(time.time()) + 600)))
    is_(r.status, 401, "status with a link token instead of a token: 401")

    r = s.req("POST", "/api/user/export-csv", headers=bob.h,
              body={"email": "not an address"})
    ok(r.status == 400 and "email" in ((r.json or {}).get("details") or {}),
       "a bad email: 400 with details.email (%d)" % r.status)
    # user_id is ignored, never refused (#15; t/54-authz.t and
    # t/71-compat.t show the export is then the caller's): only the bad
    # email is named, and no job is queued.
    r = s.req("POST", "/api/user/export-csv", headers=bob.h,
              body={"user_id": alice.id, "email": "not an address"})
    d = (r.json or {}).get("details") or {}
    ok(r.status == 400 and "email" in d and "user_id" not in d,
       "user_id and a bad email: 400 naming only email (%d)" % r.status)
    r = s.req("POST", "/api/user/export-csv", body="[1]",
              headers=dict(bob.h, **{"Content-Type": "application/json"}))
    is_(r.status, 400, "a body that is not an object: 400")
    r = s.req("POST", "/api/user/export-csv", headers=admin)
    is_(r.status, 403, "the admin requesting an export: 403")
    r = s.req("POST", "/api/user/export-csv")
    is_(r.status, 401, "a request without a token: 401")
    return tid


def test_run(s, alice, tid):
    """parkctl exports -> SUCCESS; the job run recorded; the mail queued."""
    out = run_exports(s)
    ok(out.returncode == 0 and "1 exported" in out.stdout,
       "parkctl exports: exit 0, 1 exported", "  rc %d" % out.returncode,
       "  " + out.stdout + out.stderr)
    r = s.req("GET", "/api/user/export-status/" + tid, headers=alice.h)
    st = (r.json or {}).get("data") or {}
    fname = st.get("filename") or ""
    ok(st.get("state") == "SUCCESS" and st.get("progress") == 100 and
       re.match(NAME_RE % alice.id, fname) and st.get("error") is None and
       st.get("finished_at"),
       "status: SUCCESS, 100, filename parking_<id>_<time>_<hex>.csv",
       "  %r" % st)
    url = st.get("download_url") or ""
    like(url, r"^http://127\.0\.0\.1:%d/api/user/download-csv/%s\?token=%s"
         r"\.[0-9]+\.[A-Za-z0-9_-]{43}$" % (s.port, re.escape(fname), tid),
         "download_url: BACKEND_URL, the file and a signed link")
    ok(fname in files(s), "the file is in the export folder")
    mode = os.stat(os.path.join(exports_dir(s), fname)).st_mode & 0o777
    is_(oct(mode), oct(0o640), "the file's mode is 0640")
    ok(not [f for f in files(s) if f.startswith(".tmp-")],
       "no temporary file is left")
    runs = q(s, "SELECT status, items, errors FROM job_runs WHERE job = "
             "'exports' ORDER BY id DESC LIMIT 1")
    ok(runs and tuple(runs[0]) == ("ok", 1, 0),
       "the run is recorded in job_runs: ok, 1 item",
       "  %r" % [tuple(x) for x in runs])
    mails = q(s, "SELECT * FROM outbox WHERE idem_key = ?", "export:" + tid)
    ok(len(mails) == 1 and mails[0]["to_addr"] == "alice@example.com" and
       mails[0]["body_html"] and fname in mails[0]["body_text"],
       "one e-mail queued (idempotency key export:<task>), text and HTML "
       "parts, to alice", "  %r" % [dict(m) for m in mails][:1])
    return fname, url


def test_mail(s, tid, fname):
    """parkctl mail writes the .eml; its link downloads the file."""
    have = subprocess.run([T.PARKCTL, "-h"], capture_output=True,
                          text=True).stdout
    body = None
    if re.search(r"^\s+mail\b", have, re.M):
        out = s.parkctl("mail")
        is_(out.returncode, 0, "parkctl mail: exit 0 (%s)"
            % (out.stdout + out.stderr).strip()[:200])
        found = []
        for path in glob.glob(os.path.join(s.dir, "mail", "*.eml")):
            with open(path, "rb") as f:
                m = email.message_from_binary_file(
                    f, policy=email.policy.default)
            text = m.get_body(("plain",))
            html = m.get_body(("html",))
            if text is not None and fname in text.get_content():
                found.append((m, text.get_content(),
                              html.get_content() if html else ""))
        ok(len(found) == 1, "one .eml names the file (%d)" % len(found))
        if found:
            m, body, html = found[0]
            is_(m["To"], "alice@example.com", "the e-mail goes to alice")
            ok(fname in html and "href=" in html,
               "the HTML part links to the file too")
    else:
        diag("parkctl has no mail command yet: reading the outbox")
        rows = q(s, "SELECT body_text FROM outbox WHERE idem_key = ?",
                 "export:" + tid)
        body = rows[0][0] if rows else None
    m = re.search(r"http://\S+", body or "")
    link = m.group(0) if m else None
    ok(link and fname in link and "token=" in link,
       "the e-mail carries the signed link", "  %r" % (body or "")[:400])
    return link


def test_download(s, alice, bob, admin, fname, link, mail_link):
    """The file through nginx, by link and by token; its content."""
    r1 = s.req("GET", url_path(s, mail_link) or "/none")
    check_download(r1, fname, "the e-mail's link, no token")
    r2 = s.req("GET", url_path(s, link) or "/none")
    check_download(r2, fname, "the status's download_url, no token")
    r3 = s.req("GET", "/api/user/download-csv/" + fname, headers=alice.h)
    check_download(r3, fname, "alice's access token")
    ok(r1.body == r2.body == r3.body and r1.body,
       "the same bytes each way")
    with open(os.path.join(exports_dir(s), fname), "rb") as f:
        ok(f.read() == r3.body, "the bytes of the file in the folder")
    r = s.req("HEAD", "/api/user/download-csv/" + fname, headers=alice.h)
    ok(r.status == 200 and r.body == b"" and
       r.headers.get("content-type") == "text/csv; charset=utf-8",
       "HEAD: 200, no body, text/csv (%d)" % r.status)

    data = r3.body
    ok(data.endswith(b"\r\n") and not data.startswith(b"\xef\xbb\xbf"),
       "the file ends with CRLF and has no byte-order mark")
    try:
        recs = parse_csv(data)
        ok(True, "the file is strict RFC 4180 CSV in UTF-8 with CRLF")
    except (ValueError, UnicodeDecodeError) as e:
        ok(False, "the file is strict RFC 4180 CSV in UTF-8 with CRLF",
           "  %s" % e, "  %r" % data[:500])
        return
    is_(recs[0] if recs else None, HEADER, "the header row: the contract's "
        "13 columns")
    want = expected_rows(s, alice.id)
    is_(recs[1:], want, "one row per reservation, newest first, each field "
        "as the contract says")
    cells = [c for rec in recs[1:] for c in rec]
    ok(not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")],
       "no cell starts with = + - @ TAB or CR")
    ok("'-Minus Lot" in cells and any(c.startswith("'=HYPERLINK(")
                                      for c in cells) and
       "'+91 Ring Road, @Home Tower, Town" in cells and
       "'@Airport Road, Terminal 1 ₹" in cells and "'=1+2" in cells,
       "formula-looking names, addresses and remarks get a ' in front")
    ok('line one\nline "two", three' in cells,
       "a remark with a newline, quotes and a comma reads back")
    statuses = [rec[10] for rec in recs[1:]]
    ok(statuses[:1] == ["active"] and recs[1][6] == "" and
       recs[1][7] == "" and recs[1][8] == "",
       "the active reservation: no leaving time, duration or cost",
       "  %r" % recs[1:2])

    # Other callers.
    r = s.req("GET", "/api/user/download-csv/" + fname, headers=bob.h)
    ok(r.status == 404 and error_code(r) == "NOT_FOUND" and never_leaks(r),
       "bob's token on alice's file: 404 (%d)" % r.status)
    r = s.req("GET", url_path(s, link), headers=bob.h)
    ok(r.status == 404 and never_leaks(r),
       "bob's token with alice's link: the token wins, 404 (%d)"
       % r.status)
    r = s.req("GET", "/api/user/download-csv/" + fname, headers=admin)
    ok(r.status == 403 and never_leaks(r),
       "the admin's token: 403 (%d)" % r.status)
    r = s.req("GET", "/api/user/download-csv/" + fname)
    ok(r.status == 401 and error_code(r) == "UNAUTHENTICATED" and
       r.headers.get("www-authenticate") == "Bearer",
       "no token and no link: 401 with WWW-Authenticate (%d)" % r.status)
    return data


def test_second_run(s, tid):
    n_out = len(q(s, "SELECT 1 FROM outbox"))
    n_eml = len(glob.glob(os.path.join(s.dir, "mail", "*.eml")))
    before = files(s)
    out = run_exports(s)
    ok(out.returncode == 0 and "0 exported" in out.stdout,
       "a second parkctl exports: exit 0, nothing exported",
       "  " + out.stdout + out.stderr)
    is_(len(q(s, "SELECT 1 FROM outbox")), n_out, "no new e-mail queued")
    is_(files(s), before, "no new file")
    is_(job(s, tid).get("attempts"), 1, "the job was run once")
    if os.path.exists(os.path.join(s.dir, "mail")) and n_eml:
        s.parkctl("mail")
        is_(len(glob.glob(os.path.join(s.dir, "mail", "*.eml"))), n_eml,
            "a second parkctl mail sends nothing new")


def test_links(s, alice, bob, admin, tid, fname, link, bob_file):
    """Forged, altered, expired and misplaced link tokens."""
    path = url_path(s, link)
    base, tok = path.split("?token=")
    t_id, t_exp, t_sig = tok.split(".")
    now = int(time.time())
    flip = t_sig[:-1] + ("A" if t_sig[-1] != "A" else "B")
    cases = [
        ("a signature with one character changed",
         "%s?token=%s.%s.%s" % (base, t_id, t_exp, flip), 401),
        ("a later expiry with the old signature",
         "%s?token=%s.%d.%s" % (base, t_id, int(t_exp) + 3600, t_sig), 401),
        ("the token on another file (bob's)",
         "/api/user/download-csv/%s?token=%s" % (bob_file, tok), 401),
        ("a token signed with JWT_SECRET_KEY itself",
         "%s?token=%s" % (base, link_token(
             s, tid, fname, now + 600,
             key=s.settings["JWT_SECRET_KEY"].encode())), 401),
        ("another task id with the signature", "%s?token=%s.%s.%s" % (
            base, "0" * 32, t_exp, t_sig), 401),
        ("alice's access token as the link token",
         "%s?token=%s" % (base, alice.token), 401),
        ("a %00 in the token", "%s?token=%%00" % base, 401),
        ("an empty token", "%s?token=" % base, 401),
        ("a token truncated", "%s?token=%s" % (base, tok[:-1]), 401),
    ]
    for what, p, want in cases:
        r = s.req("GET", p)
        ok(r.status == want and never_leaks(r),
           "link: %s: %d (%d %s)" % (what, want, r.status, error_code(r)))
    r = s.req("GET", "%s?token=%s" % (base, link_token(s, tid, fname,
                                                       now - 5)))
    ok(r.status == 401 and error_code(r) == "TOKEN_EXPIRED",
       "link: well signed but expired: 401 TOKEN_EXPIRED (%d %s)"
       % (r.status, error_code(r)))
    r = s.req("GET", "%s?token=%s" % (base, link_token(s, tid, fname,
                                                       now + 600)))
    is_(r.status, 200, "link: a token made here the same way works (the "
        "test knows the key)")
    ghost = "parking_%d_20260101000000_abcdef.csv" % alice.id
    r = s.req("GET", "/api/user/download-csv/%s?token=%s" % (
        ghost, link_token(s, tid, ghost, now + 600)))
    ok(r.status == 404 and never_leaks(r),
       "link: well signed for a file no job has: 404 (%d)" % r.status)
    r = s.req("GET", path, headers={"Authorization": "Basic eDp5"})
    is_(r.status, 401, "link with another Authorization scheme: the header "
        "wins, 401")

    # A deactivated owner's links stop working.  (Deactivation also ends
    # alice's sessions: she logs in again after.)
    r = s.req("POST", "/api/admin/users/%d/deactivate" % alice.id,
              headers=admin)
    if r.status == 200:
        r = s.req("GET", path)
        ok(r.status == 403 and error_code(r) == "ACCOUNT_INACTIVE",
           "link of a deactivated account: 403 (%d)" % r.status)
        s.req("POST", "/api/admin/users/%d/activate" % alice.id,
              headers=admin)
        r = s.req("GET", path)
        is_(r.status, 200, "reactivated: the link works again")
        alice.token = make_login(s, alice.name)
    else:
        skip("link of a deactivated account", "deactivate: %d" % r.status)

    # Tokens never reach a log.
    logs = s.log() + s.access_log()
    ok(t_sig not in logs and tok not in logs,
       "no link token in parkd's log or nginx's access log")


def test_paths(s, alice, fname, tok):
    """Path tricks never escape the folder nor name another file."""
    h = alice.h
    tricks = [
        "/api/user/download-csv/../../../etc/passwd",
        "/api/user/download-csv/..%2f..%2f..%2fetc%2fpasswd",
        "/api/user/download-csv/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/api/user/download-csv/%2e%2e",
        "/api/user/download-csv/..",
        "/api/user/download-csv/%2e%2e%2fparkd.db",
        "/api/user/download-csv/..%2f" + fname,
        "/api/user/download-csv/%2e%2e%2fexports%2f" + fname,
        "/api/user/download-csv/" + fname + "%00",
        "/api/user/download-csv/" + fname + "%00.txt",
        "/api/user/download-csv/%00" + fname,
        "/api/user/download-csv/%2fetc%2fpasswd",
        "/api/user/download-csv//etc/passwd",
        "/api/user/download-csv/%2F" + fname,
        "/api/user/download-csv/parkd.db",
        "/api/user/download-csv/passwd",
        "/api/user/download-csv/" + fname + "/",
        "/api/user/download-csv/" + fname + "/..",
        "/api/user/download-csv/.tmp-" + "0" * 32 + "-00000000.csv",
        "/api/user/download-csv/%5c..%5c..%5cetc%5cpasswd",
        "/_exports/" + fname,
        "/_exports/../parkd.db",
        "/_exports/%2e%2e/parkd.db",
        "/_parkd/../_exports/" + fname,
    ]
    for p in tricks:
        for how, hdrs, path in (("token", h, p),
                                ("link", None, p + "?token=" + tok)):
            try:
                r = s.req("GET", path, headers=hdrs)
            except Exception as e:  # a closed connection is a refusal
                ok(True, "%s (%s): refused (%s)" % (p, how, e))
                continue
            # 200 only for nginx's web app (the path normalised away
            # from /api/ and /_exports/ into the static files).
            ok(never_leaks(r) and r.status in (200, 400, 401, 403, 404) and
               not (r.status == 200 and b"parktest static index" not in
                    r.body),
               "%s (%s): refused (%d %s)" % (
                   p, how, r.status, r.headers.get("content-type")),
               "  %r" % r.body[:200])
    r = s.req("GET", "/api/user/download-csv/%2e%2e", headers=h)
    ok(r.status == 404 and error_code(r) == "NOT_FOUND",
       "%2e%2e reaches parkd as \"..\": 404 NOT_FOUND before any lookup")


def test_symlinks(s, alice, fname):
    """A link planted in the folder is never followed."""
    d = exports_dir(s)
    real = os.path.join(d, fname)
    aside = os.path.join(d, "aside.bin")
    os.rename(real, aside)
    try:
        for target, what in (("/etc/passwd", "/etc/passwd"),
                             (aside, "a file of the folder")):
            os.symlink(target, real)
            try:
                r = s.req("GET", "/api/user/download-csv/" + fname,
                          headers=alice.h)
                ok(r.status in (403, 404) and never_leaks(r),
                   "a symlink to %s planted as alice's file: not followed "
                   "(%d)" % (what, r.status), "  %r" % r.body[:200])
            finally:
                os.unlink(real)
    finally:
        os.rename(aside, real)
    r = s.req("GET", "/api/user/download-csv/" + fname, headers=alice.h)
    is_(r.status, 200, "the real file again: 200")
    ghost = "parking_%d_20260101000000_abcdef.csv" % alice.id
    os.symlink("/etc/passwd", os.path.join(d, ghost))
    try:
        r = s.req("GET", "/api/user/download-csv/" + ghost, headers=alice.h)
        ok(r.status == 404 and never_leaks(r),
           "a symlink named like an export of alice but in no job: 404 "
           "(%d)" % r.status)
    finally:
        os.unlink(os.path.join(d, ghost))


def test_limit(s, bob):
    tids = [request_export(s, bob) for _ in range(3)]
    r = s.req("POST", "/api/user/export-csv", headers=bob.h)
    ok(r.status == 429 and error_code(r) == "EXPORT_LIMIT" and
       r.headers.get("retry-after") == "60",
       "a 4th export while 3 wait: 429 EXPORT_LIMIT, Retry-After 60 (%d %s)"
       % (r.status, error_code(r)))
    out = run_exports(s)
    ok(out.returncode == 0 and "3 exported" in out.stdout,
       "the 3 are exported", "  " + out.stdout + out.stderr)
    r = s.req("POST", "/api/user/export-csv", headers=bob.h)
    is_(r.status, 200, "then bob may ask again")
    run_exports(s)
    return tids


def export_answer(s, u, body):
    r = s.req("POST", "/api/user/export-csv", body=body, headers=u.h)
    if r.status != 200:
        raise RuntimeError("export-csv %s: %d %r" % (u.name, r.status,
                                                     r.body))
    return r.json


def test_email_option(s, erin, work):
    """The link goes to the account's own address only (issue #14): an
    email other than it is ignored, and the answer says where the mail
    goes; an old client sending its own address (any case) keeps working;
    a job stored with another address (before the fix) is mailed to the
    account too.  Delivered through a real SMTP server: it sees the
    account's address only."""
    own = "erin@example.com"
    other = "other.person@example.net"
    a = export_answer(s, erin, {"email": "  Other.Person@Example.NET "})
    d = a.get("data") or {}
    ok(d.get("email") == own and d.get("email_ignored") is True and
       own in (a.get("message") or "") and
       "other.person" not in (a.get("message") or ""),
       "another address: 200, the answer names the account's address and "
       "says the other one is ignored", "  %r" % a)
    tid = d.get("task_id")
    logged = [l for l in s.log().splitlines() if "security: export " +
              str(tid) in l]
    ok(len(logged) == 1 and "ignored" in logged[0] and
       "user %d" % erin.id in logged[0] and "@" not in logged[0],
       "parkd logs the ignored address by user and job, never the "
       "address itself", "  %r" % logged)
    b = export_answer(s, erin, {"email": "Erin@Example.COM"})
    d = b.get("data") or {}
    ok(d.get("email") == own and d.get("email_ignored") is False and
       own in (b.get("message") or ""),
       "an old client sending its own address (other case): 200, not "
       "ignored", "  %r" % b)
    tid2 = d.get("task_id")
    c = export_answer(s, erin, {"email": None})
    d = c.get("data") or {}
    ok(d.get("email") == own and d.get("email_ignored") is False,
       "email null: the account's address", "  %r" % c)
    tid3 = d.get("task_id")
    is_([job(s, t).get("email") for t in (tid, tid2, tid3)], [own] * 3,
        "every job stores the account's address, never the one given")
    # A job queued before the fix with another recipient stored.
    write(s, ("UPDATE export_jobs SET email = ? WHERE id = ?",
              (other, tid3)))
    out = run_exports(s)
    ok(out.returncode == 0 and "3 exported" in out.stdout,
       "the 3 are exported", "  " + out.stdout + out.stderr)
    rows = q(s, "SELECT to_addr FROM outbox WHERE idem_key IN (?, ?, ?)",
             "export:" + tid, "export:" + tid2, "export:" + tid3)
    is_(sorted(x[0] for x in rows), [own] * 3,
        "the 3 e-mails are queued to the account's address, also the one "
        "of the job that had another address stored")

    sink = smtpsink.Sink(os.path.join(work, "sink-exports"))
    port = sink.start()
    try:
        s.write_settings(MAIL_SERVER="127.0.0.1", MAIL_PORT=port,
                         MAIL_USE_TLS="off")
        out = s.parkctl("mail")
        is_(out.returncode, 0, "parkctl mail to the SMTP sink: exit 0 (%s)"
            % (out.stdout + out.stderr).strip()[-300:])
        msgs = [m for m in sink.wait_messages(3, 10)
                if (m["X-Parkd-Idempotency-Key"] or "").startswith(
                    "export:")]
        want = {"export:" + t for t in (tid, tid2, tid3)}
        got = [m for m in msgs if m["X-Parkd-Idempotency-Key"] in want]
        ok(len(got) == 3 and all(m.rcpts == ["<%s>" % own] and
                                 m["To"] == own for m in got),
           "the SMTP server got the 3 e-mails, each for %s only" % own,
           *["  %r %r" % (m.rcpts, m["To"]) for m in got])
        ok(not [l for l in sink.dialogue() if other in l.lower()] and
           not [m for m in sink.messages() if other.encode() in
                m.raw.lower()],
           "the other address never reached the SMTP server")
    finally:
        sink.stop()
        s.write_settings(MAIL_SERVER="", MAIL_PORT=None, MAIL_USE_TLS=None)


def test_inactive(s, admin, erin):
    """An account deactivated before its export runs gets no file."""
    tid = request_export(s, erin)
    r = s.req("POST", "/api/admin/users/%d/deactivate" % erin.id,
              headers=admin)
    if r.status != 200:
        skip("export of a deactivated account", "deactivate: %d" % r.status)
        return
    out = run_exports(s)
    j = job(s, tid)
    ok(out.returncode == 1 and j["state"] == "FAILURE" and
       "deactivated" in (j["error"] or "") and j["filename"] is None and
       not q(s, "SELECT 1 FROM outbox WHERE idem_key = ?", "export:" + tid),
       "an account deactivated before the run: FAILURE, no file, no mail",
       "  rc %d %r" % (out.returncode, j))
    s.req("POST", "/api/admin/users/%d/activate" % erin.id, headers=admin)


def test_concurrent(s, users):
    """Two runs at once: every job exported exactly once."""
    tids = []
    for u in users:
        tids += [request_export(s, u), request_export(s, u)]
    n_runs = len(q(s, "SELECT 1 FROM job_runs WHERE job = 'exports'"))
    a = start_exports(s, "--pause-ms", "30")
    b = start_exports(s, "--pause-ms", "30")
    outs = [p.communicate(timeout=60) for p in (a, b)]
    ok(a.returncode == 0 and b.returncode == 0,
       "two runs at once: both exit 0", *["  " + o[0] + o[1] for o in outs])
    jobs = [job(s, t) for t in tids]
    ok(all(j["state"] == "SUCCESS" and j["attempts"] == 1 for j in jobs),
       "all %d jobs SUCCESS, each claimed once" % len(jobs),
       *["  %s %s %s" % (j["id"], j["state"], j["attempts"]) for j in jobs])
    runners = {j["claimed_by"] for j in jobs}
    diag("jobs per runner: %r" % {r: sum(1 for j in jobs
                                         if j["claimed_by"] == r)
                                  for r in runners})
    mails = q(s, "SELECT idem_key FROM outbox WHERE idem_key IN (%s)" %
              ",".join("?" * len(tids)), *["export:" + t for t in tids])
    is_(len(mails), len(tids), "one e-mail per job")
    for u in users:
        mine = files(s, "parking_%d_*.csv" % u.id)
        is_(len(mine), 2, "%s: two files, one per job" % u.name)
    runs = q(s, "SELECT status, items FROM job_runs WHERE job = 'exports' "
             "ORDER BY id")[n_runs:]
    ok(len(runs) == 2 and all(r[0] == "ok" for r in runs) and
       sum(r[1] for r in runs) == len(tids),
       "the two runs are recorded and their items add up to %d" % len(tids),
       "  %r" % [tuple(r) for r in runs])
    for u in users[:1]:
        fn = job(s, tids[0])["filename"]
        r = s.req("GET", "/api/user/download-csv/" + fn, headers=u.h)
        try:
            n = len(parse_csv(r.body)) - 1
        except (ValueError, UnicodeDecodeError):
            n = -1
        is_(n, len(expected_rows(s, u.id)), "%s's file has every row "
            "(written in pages)" % u.name)


def wait_progress(s, tid, proc, timeout=15):
    """Waits until the job reports progress; its row then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        j = job(s, tid)
        if j.get("state") == "PROGRESS" and j.get("progress", 0) > 0:
            return j
        time.sleep(0.01)
    return None


def test_kill(s, carol):
    """SIGKILL midway, SIGTERM midway."""
    tid = request_export(s, carol)
    p = start_exports(s, "--pause-ms", "300")
    j = wait_progress(s, tid, p)
    st = s.req("GET", "/api/user/export-status/" + tid,
               headers=carol.h).json or {}
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=30)
    if not ok(j is not None, "the run reports progress while it writes"):
        return
    ok((st.get("data") or {}).get("state") == "PROGRESS" and
       0 < (st.get("data") or {}).get("progress", 0) < 100,
       "status during the run: PROGRESS with a percentage",
       "  %r" % st.get("data"))
    j = job(s, tid)
    ok(j["state"] == "PROGRESS" and j["filename"] is None,
       "killed with SIGKILL: the job is left PROGRESS, without a file",
       "  %r" % j)
    mine = files(s, "parking_%d_*.csv" % carol.id)
    is_(mine, [], "no file of carol is in place")
    tmps = [f for f in files(s) if f.startswith(".tmp-" + tid)]
    ok(len(tmps) == 1, "a partial temporary file remains, under a name no "
       "download can ask for (%r)" % tmps)
    r = s.req("GET", "/api/user/download-csv/" + (tmps or ["x"])[0],
              headers=carol.h)
    is_(r.status, 404, "the temporary file cannot be downloaded")

    out = run_exports(s)
    ok(out.returncode == 0 and "0 exported" in out.stdout and
       job(s, tid)["state"] == "PROGRESS",
       "a run at once leaves the job alone (its claim is fresh)",
       "  " + out.stdout + out.stderr)
    time.sleep(2.2)
    out = run_exports(s, "--stale-after", "1")
    j = job(s, tid)
    ok(out.returncode == 0 and j["state"] == "SUCCESS" and
       j["attempts"] == 2,
       "after the claim is stale, a run takes the job over: SUCCESS, "
       "attempt 2", "  %r" % j, "  " + out.stdout + out.stderr)
    is_(len(files(s, "parking_%d_*.csv" % carol.id)), 1,
        "one file in place")
    ok(not [f for f in files(s) if f.startswith(".tmp-")],
       "the dead run's temporary file was removed")
    is_(len(q(s, "SELECT 1 FROM outbox WHERE idem_key = ?",
              "export:" + tid)), 1, "one e-mail for the job")
    r = s.req("GET", "/api/user/download-csv/" + (j["filename"] or "x"),
              headers=carol.h)
    try:
        n = len(parse_csv(r.body)) - 1
    except (ValueError, UnicodeDecodeError):
        n = -1
    is_(n, len(expected_rows(s, carol.id)), "the file has every row")

    # SIGTERM: the run stops after its page and gives the job back.
    tid = request_export(s, carol)
    p = start_exports(s, "--pause-ms", "300")
    j = wait_progress(s, tid, p)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=30)
    j = job(s, tid)
    ok(p.returncode == 1 and j["state"] == "PENDING" and
       "stopped" in (j["error"] or "") and j["filename"] is None,
       "SIGTERM: exit 1, the job back to PENDING with the reason",
       "  rc %s %r" % (p.returncode, j), "  " + out + err)
    ok(not [f for f in files(s) if f.startswith(".tmp-")] and
       len(files(s, "parking_%d_*.csv" % carol.id)) == 1,
       "SIGTERM: no temporary file and no new file left")
    out = run_exports(s)
    is_(job(s, tid)["state"], "SUCCESS", "the next run exports it")


def unshare_cmd():
    """The command prefix that gives a private mount namespace, or None."""
    base = shutil.which("unshare")
    if base is None:
        return None
    for pre in ([base, "--mount"], [base, "--user", "--map-root-user",
                                    "--mount"]):
        if pre[1] == "--mount" and os.geteuid() != 0:
            continue
        d = os.path.join(T.tempfile.gettempdir(), "parktest-ns-probe")
        os.makedirs(d, exist_ok=True)
        r = subprocess.run(pre + ["sh", "-c", 'mount -t tmpfs -o size=64k '
                                  'tmpfs "$1"', "sh", d],
                           capture_output=True, timeout=20)
        os.rmdir(d)
        if r.returncode == 0:
            return pre
    return None


def run_in_tmpfs(s, pre):
    """parkctl exports with a 64 KiB tmpfs over the export folder.
    Returns (exit status, stdout, what the tmpfs held at the end)."""
    script = ('d=$1; shift; mount -t tmpfs -o size=64k parktest "$d" || '
              'exit 97; "$@"; rc=$?; echo "==ls"; ls -A "$d"; exit $rc')
    r = subprocess.run(pre + ["sh", "-c", script, "sh", exports_dir(s),
                              T.PARKCTL, "-c", s.settings_path, "exports"],
                       env=s.env(), capture_output=True, text=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    out, _, ls = r.stdout.partition("==ls\n")
    return r.returncode, out + r.stderr, ls.split()


def test_disk_full(s, dave):
    pre = unshare_cmd()
    if pre is None:
        skip("disk full: the job is retried, no file left",
             "no private mount namespace (unshare) here")
        return
    tid = request_export(s, dave)
    rc, out, left = run_in_tmpfs(s, pre)
    j = job(s, tid)
    ok(rc == 1 and j["state"] == "PENDING" and j["attempts"] == 1 and
       "No space left" in (j["error"] or "") and j["filename"] is None,
       "disk full: exit 1, the job back to PENDING with the reason",
       "  rc %d %r" % (rc, j), "  " + out)
    is_(left, [], "disk full: nothing left in the folder (no partial file)")
    st = (s.req("GET", "/api/user/export-status/" + tid,
                headers=dave.h).json or {}).get("data") or {}
    ok(st.get("state") == "PENDING" and "No space" in (st.get("error") or ""),
       "the status says why it waits", "  %r" % st)
    out = run_exports(s)
    j = job(s, tid)
    ok(out.returncode == 0 and j["state"] == "SUCCESS" and j["error"] is None,
       "space again: the next run exports it", "  %r" % j)

    tid = request_export(s, dave)
    for _ in range(3):
        run_in_tmpfs(s, pre)
    j = job(s, tid)
    ok(j["state"] == "PENDING" and j["attempts"] == 3,
       "three full-disk runs: three attempts", "  %r" % j)
    out = run_exports(s)
    j = job(s, tid)
    ok(out.returncode == 1 and j["state"] == "FAILURE" and
       (j["error"] or "").startswith("Gave up after 3 attempts") and
       "No space" in j["error"] and j["filename"] is None,
       "then FAILURE with the reason (exit 1)", "  %r" % j)
    st = (s.req("GET", "/api/user/export-status/" + tid,
                headers=dave.h).json or {}).get("data") or {}
    ok(st.get("state") == "FAILURE" and st.get("error") and
       st.get("filename") is None and st.get("download_url") is None,
       "status: FAILURE with the error, no file", "  %r" % st)
    is_(len(q(s, "SELECT 1 FROM outbox WHERE idem_key = ?",
              "export:" + tid)), 0, "no e-mail for a failed export")


def test_cleanup(s, bob):
    have = subprocess.run([T.PARKCTL, "-h"], capture_output=True,
                          text=True).stdout
    if not re.search(r"^\s+cleanup\b", have, re.M):
        skip("cleanup of old exports", "parkctl has no cleanup command yet")
        return
    d = exports_dir(s)
    pending = request_export(s, bob)
    old = time.time() - 10 * 86400
    planted = {"parking_999_20200101000000_abcdef.csv": "file",
               ".tmp-%s-0badc0de.csv" % ("e" * 32): "file",
               "parking_998_20200101000000_abcdef.csv": "link",
               "README": "file"}
    for name, kind in planted.items():
        path = os.path.join(d, name)
        if kind == "link":
            os.symlink("/etc/passwd", path)
        else:
            with open(path, "w") as f:
                f.write("x\r\n")
        os.utime(path, (old, old), follow_symlinks=False)
    finished = q(s, "SELECT count(*) FROM export_jobs WHERE state IN "
                 "('SUCCESS', 'FAILURE')")[0][0]
    now = int(time.time()) + 8 * 86400
    r = subprocess.run([T.PARKCTL, "-c", s.settings_path, "cleanup"],
                       env=s.env({"PARKD_FAKE_NOW": str(now)}),
                       capture_output=True, text=True, timeout=60)
    left = files(s)
    ok(r.returncode == 0, "parkctl cleanup 8 days later: exit 0",
       "  " + r.stdout + r.stderr)
    ok(not [f for f in left if re.match(r"^parking_.*\.csv$", f) and
            not os.path.islink(os.path.join(d, f))] and
       ".tmp-%s-0badc0de.csv" % ("e" * 32) not in left,
       "every export file and temporary file is gone", "  %r" % left)
    ok("README" in left and "parking_998_20200101000000_abcdef.csv" in left,
       "other files and symbolic links are left alone", "  %r" % left)
    rows = q(s, "SELECT state FROM export_jobs")
    ok(finished > 0 and [x[0] for x in rows] == ["PENDING"] and
       job(s, pending), "finished jobs' rows deleted, the pending job kept",
       "  %r" % [tuple(x) for x in rows])
    os.unlink(os.path.join(d, "README"))
    os.unlink(os.path.join(d, "parking_998_20200101000000_abcdef.csv"))


def main():
    with T.Stack(redis=False, workers=2, settings={
            "PARKD_SCRYPT_N": "16384"}) as s:
        admin = admin_headers(s)
        lots = setup_lots(s, admin)
        alice, bob, carol, dave, erin, u1, u2, u3 = [
            make_user(s, n) for n in ("alice", "bob", "carol", "dave",
                                      "erin", "user1", "user2", "user3")]
        r1 = book(s, alice, lots[0])
        r2 = book(s, alice, lots[1])
        book(s, alice, lots[2], release=False)
        write(s, ("UPDATE reservations SET remarks = ? WHERE id = ?",
                  ('line one\nline "two", three', r1)),
              ("UPDATE reservations SET remarks = '=1+2' WHERE id = ?",
               (r2,)))
        book(s, bob, lots[1])
        add_history(s, carol.id, lots[1], 3000)
        add_history(s, dave.id, lots[0], 1500)
        for u in (u1, u2, u3):
            add_history(s, u.id, lots[2], 1200)

        tid = test_request(s, alice, bob, admin)
        fname, link = test_run(s, alice, tid)
        mail_link = test_mail(s, tid, fname)
        test_download(s, alice, bob, admin, fname, link, mail_link or link)
        test_second_run(s, tid)
        bob_tids = test_limit(s, bob)
        bob_file = job(s, bob_tids[0]).get("filename") or "x"
        test_links(s, alice, bob, admin, tid, fname, link, bob_file)
        test_paths(s, alice, fname, link.split("?token=")[1])
        test_symlinks(s, alice, fname)
        test_email_option(s, erin, os.path.join(s.dir, "smtp"))
        test_inactive(s, admin, erin)
        test_concurrent(s, [u1, u2, u3])
        test_kill(s, carol)
        test_disk_full(s, dave)
        test_cleanup(s, bob)


T.run(main)
