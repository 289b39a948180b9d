#!/usr/bin/env python3
"""63-jobs.t: parkctl remind, report, cleanup and backup, and the job runs
"parkctl db stats" shows.

The stack runs without SMTP (MAIL_SERVER empty), so every e-mail stays in
the outbox table, which the test reads with sqlite3.  Times move with
PARKD_FAKE_NOW in parkctl's environment (park_now() reads it); the rows
the jobs look at are inserted with sqlite3 at chosen times.

Reminders: the right people (no booking for PARKD_REMIND_AFTER_DAYS = 3
days, counted from registration for users who never booked; active users
only; the limit itself included), the nudge's text; no second one on a
rerun the same day; a new day sends again; a day missed is never sent
later; lots added in the last day send every active user one naming them
(inactive and older lots not named).  Crash and concurrency: parkctl remind
killed with SIGKILL in the middle of its chunks, then rerun, queues each
due user's reminder exactly once (reliability.md row 5), and two runs at
once do too, their items adding up to the users due (row 27).

Reports: the numbers of a seeded December (bookings, hours, total, average,
most-used lot, busiest weekday, the table), reservations across the month's
edges counted by their start, cancelled ones and inactive users left out,
the default month on 2027-01-03 is 2026-12, --month 2026-01 works, the
report of January 2027 from 2027-02-01, no duplicate on reruns, a month
without activity sends nothing, a month not over or malformed is refused
(exit 2); the HTML has the bar chart (tables with widths and bgcolor, no
style block, script or image) and escapes the lot's name and the vehicle.

Cleanup: deletes old sent/failed mail, login failures past the window,
sessions expired or revoked 30 days ago, job runs older than 90 days but
the newest of each job, old reminder marks, and the old exports (file and
row) through exports_cleanup(); keeps everything newer, queued mail and
other files; marks runs left "running" for a day as failed; the WAL is
truncated.  Backup: a valid copy (integrity ok, the same rows) made while
the API writes, mode 0600, never over an existing file, no temporary file
left; exit codes.  db stats: the newest run of each job, in text and JSON.
Finally "parkctl mail" turns the outbox into one .eml file per message.
"""

import datetime
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import parktest as T  # noqa: E402
import parking as P  # noqa: E402
import pgconn  # noqa: E402
from parktest import diag, is_, like, ok  # noqa: E402

DAY = 86400
REMIND_DAYS = 3


def ts(text):
    """Unix time of "YYYY-MM-DD HH:MM[:SS]" in UTC."""
    fmt = "%Y-%m-%d %H:%M:%S" if text.count(":") == 2 else "%Y-%m-%d %H:%M"
    return int(datetime.datetime.strptime(text, fmt).replace(
        tzinfo=datetime.timezone.utc).timestamp())


def day_of(t):
    return datetime.datetime.fromtimestamp(
        t, datetime.timezone.utc).strftime("%Y-%m-%d")


def ctl(s, *args, now=None, timeout=120):
    """parkctl -c SETTINGS ARGS with the clock at now (None: the real one)."""
    env = s.env({"PARKD_FAKE_NOW": str(now)} if now else None)
    return subprocess.run([T.PARKCTL, "-c", s.settings_path] + list(args),
                          env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def ctl_popen(s, *args, now=None):
    env = s.env({"PARKD_FAKE_NOW": str(now)} if now else None)
    return subprocess.Popen([T.PARKCTL, "-c", s.settings_path] + list(args),
                            env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)


def ran(out, what, code=0):
    return is_(out.returncode, code, "%s exits %d" % (what, code)) or \
        diag("stdout: " + out.stdout, "stderr: " + out.stderr[-2000:])


def q(c, sql, *params):
    return c.execute(sql, params).fetchall()


def q1(c, sql, *params):
    return c.execute(sql, params).fetchone()[0]


def write(c, *statements):
    """(sql, params) pairs in one BEGIN IMMEDIATE transaction."""
    c.execute("BEGIN IMMEDIATE")
    try:
        for sql, params in statements:
            c.execute(sql, params)
        c.execute("COMMIT")
    except BaseException:
        c.execute("ROLLBACK")
        raise


_user_seq = [0]


def insert(c, lite, pg, params):
    """Runs an INSERT (SQLite's text, PostgreSQL's with to_timestamp()
    for the times); returns the new row's id (PostgreSQL: RETURNING id)."""
    if T.use_pg():
        return c.execute(pg + " RETURNING id", params).fetchone()[0]
    return c.execute(lite, params).lastrowid


def add_user(c, name=None, created=0, active=1):
    _user_seq[0] += 1
    name = name or "jobuser%d" % _user_seq[0]
    return insert(
        c, "INSERT INTO users (username, email, password_hash, is_active,"
        " created_at, updated_at) VALUES (?, ?, 'x', ?, ?, ?)",
        "INSERT INTO users (username, email, password_hash, is_active,"
        " created_at, updated_at) VALUES (?, ?, 'x', ?, to_timestamp(?),"
        " to_timestamp(?))",
        (name, name.lower() + "@jobs.test", active, created, created))


def add_lot(c, name, created, spots=10, price=5000, active=1,
            address=None):
    lot = insert(
        c, "INSERT INTO lots (name, address, pin_code, price_cents,"
        " number_of_spots, is_active, created_at, updated_at)"
        " VALUES (?, ?, '560001', ?, ?, ?, ?, ?)",
        "INSERT INTO lots (name, address, pin_code, price_cents,"
        " number_of_spots, is_active, created_at, updated_at)"
        " VALUES (?, ?, '560001', ?, ?, ?, to_timestamp(?),"
        " to_timestamp(?))",
        (name, address or name + " Road 1", price, spots, active, created,
         created))
    for n in range(1, spots + 1):
        c.execute("INSERT INTO spots (lot_id, spot_number) VALUES (?, ?)",
                  (lot, n))
    return lot


def add_resv(c, user, lot, start, end, cents=None, spot=1, vehicle="KA01",
             status=None):
    """A finished reservation (end None: active) of user in lot."""
    sid = q1(c, "SELECT id FROM spots WHERE lot_id = ? AND spot_number = ?",
             lot, spot)
    status = status or ("active" if end is None else "completed")
    if cents is None and status == "completed":
        cents = 0
    return insert(
        c, "INSERT INTO reservations (spot_id, lot_id, user_id,"
        " vehicle_number, parking_ts, leaving_ts, hourly_cents, cost_cents,"
        " status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 1000, ?,"
        " ?, ?, ?)",
        "INSERT INTO reservations (spot_id, lot_id, user_id,"
        " vehicle_number, parking_ts, leaving_ts, hourly_cents, cost_cents,"
        " status, created_at, updated_at) VALUES (?, ?, ?, ?,"
        " to_timestamp(?), to_timestamp(?), 1000, ?, ?, to_timestamp(?),"
        " to_timestamp(?))",
        (sid, lot, user, vehicle, start, end, cents, status, start, start))


def reminders(c, day):
    """{user id: (subject, text)} of the outbox's reminders of day."""
    rows = q(c, "SELECT idem_key, subject, body_text, to_addr FROM outbox"
             " WHERE idem_key LIKE ?", "remind:%:" + day)
    return {int(k.split(":")[1]): (subj, text, to)
            for k, subj, text, to in rows}


def expected_due(c, now, everyone=False):
    """The active users the contract says are due a reminder at now."""
    rows = q(c, "SELECT u.id, coalesce((SELECT max(parking_ts) FROM"
             " reservations r WHERE r.user_id = u.id), u.created_at)"
             " FROM users u WHERE u.is_active = 1")
    return {uid for uid, last in rows
            if everyone or last <= now - REMIND_DAYS * DAY}


# ---- reminders -------------------------------------------------------------

D1 = ts("2027-03-10 12:00")


def test_remind_people(s, c):
    c.execute("BEGIN IMMEDIATE")
    LOT_A = add_lot(c, "Central Plaza", D1 - 30 * DAY, spots=20)
    add_lot(c, "Business Park", D1 - 10 * DAY, spots=5)
    u = {}
    u["idle"] = add_user(c, "idle_user", D1 - 30 * DAY)
    add_resv(c, u["idle"], LOT_A, D1 - 5 * DAY, D1 - 5 * DAY + 3600, 1000)
    u["recent"] = add_user(c, "recent_user", D1 - 30 * DAY)
    add_resv(c, u["recent"], LOT_A, D1 - 1 * DAY, D1 - DAY + 600, 1000,
             spot=2)
    u["never_old"] = add_user(c, "never_old", D1 - 10 * DAY)
    u["never_new"] = add_user(c, "never_new", D1 - 1 * DAY)
    u["inactive"] = add_user(c, "gone_user", D1 - 30 * DAY, active=0)
    u["edge"] = add_user(c, "edge_user", D1 - 30 * DAY)
    add_resv(c, u["edge"], LOT_A, D1 - 3 * DAY - 7200, D1 - 3 * DAY, 1000,
             spot=3)
    add_resv(c, u["edge"], LOT_A, D1 - 3 * DAY, D1 - 3 * DAY + 60, 1000,
             spot=4)
    u["edge_minus"] = add_user(c, "edge_minus", D1 - 30 * DAY)
    add_resv(c, u["edge_minus"], LOT_A, D1 - 3 * DAY + 4 * 3600,
             D1 - 2 * DAY, 1000, spot=5)
    u["parked"] = add_user(c, "parked_user", D1 - 30 * DAY)
    add_resv(c, u["parked"], LOT_A, D1 - 4 * DAY, None, spot=6)
    c.execute("COMMIT")

    day1 = day_of(D1)
    out = ctl(s, "remind", now=D1)
    ran(out, "remind on day 1")
    like(out.stdout, r"day %s: 4 reminders queued" % day1,
         "it says what it did")
    got = reminders(c, day1)
    want = {u["idle"], u["never_old"], u["edge"], u["parked"]}
    is_(set(got), want, "the due users get one: no booking for 3 days "
        "(the limit included, also while parked), or registered 3+ days "
        "ago without one; not the recent, new or inactive ones")
    is_(set(got), expected_due(c, D1), "as the contract's rule computes")
    is_(sorted(r[0] for r in q(c, "SELECT user_id FROM reminders_sent"
                               " WHERE day = ?", day1)), sorted(want),
        "reminders_sent holds the same users for the day")
    subj, text, to = got[u["idle"]]
    is_(to, "idle_user@jobs.test", "addressed to the user")
    like(subj, r"^Need a parking spot\? 24 are free right now$",
         "the nudge's subject counts the free spots (20 + 5 - 1 parked)")
    like(text, r"Hello idle_user,", "the text greets the user")
    like(text, r"not booked a parking spot for 5 days",
         "the text counts the days since the last booking")
    like(got[u["never_old"]][1], r"registered 10 days ago",
         "a user who never booked: counted from registration")
    like(text, r"Book a spot at http://127\.0\.0\.1:\d+/",
         "the text links to BACKEND_URL")
    ok(all("new parking lot" not in t for _, t, _ in got.values()),
       "no lot is called new (none was added in the last day)")

    out = ctl(s, "remind", now=D1 + 3 * 3600)
    ran(out, "remind again the same day")
    like(out.stdout, r"0 reminders queued", "the rerun queues nothing")
    is_(len(reminders(c, day1)), 4, "still one per user for the day")
    is_(q1(c, "SELECT count(*) FROM outbox WHERE idem_key LIKE 'remind:%'"),
        4, "no other reminder row")

    # the next day: the same rule again, edge_minus is now due too
    d2 = D1 + DAY
    out = ctl(s, "remind", now=d2)
    ran(out, "remind on day 2")
    got2 = reminders(c, day_of(d2))
    is_(set(got2), want | {u["edge_minus"]}, "a new day sends again, to "
        "whoever is due that day")

    # day 3 is missed; day 4 sends day 4's only
    d4 = D1 + 3 * DAY
    out = ctl(s, "remind", now=d4 + 7 * 3600)
    ran(out, "remind on day 4 after a missed day 3")
    is_(reminders(c, day_of(D1 + 2 * DAY)), {}, "the missed day is never "
        "sent later")
    is_(q1(c, "SELECT count(*) FROM reminders_sent WHERE day = ?",
           day_of(D1 + 2 * DAY)), 0, "nor marked")
    is_(set(reminders(c, day_of(d4))), expected_due(c, d4),
        "day 4 sends day 4's reminders")
    per_user = q(c, "SELECT user_id, day, count(*) FROM reminders_sent"
                 " GROUP BY user_id, day HAVING count(*) > 1")
    is_(per_user, [], "never two marks for a user and a day")

    # a lot added in the last day: every active user, naming it
    d5 = D1 + 4 * DAY
    c.execute("BEGIN IMMEDIATE")
    add_lot(c, "Harbour Point", d5 - 2 * 3600, spots=8, price=2550,
            address="7 Dock Lane")
    add_lot(c, "Closed Yard", d5 - 3600, active=0)
    add_lot(c, "Yesterday Lot", d5 - DAY - 60)
    c.execute("COMMIT")
    out = ctl(s, "remind", now=d5)
    ran(out, "remind with a new lot")
    got5 = reminders(c, day_of(d5))
    active = {r[0] for r in q(c, "SELECT id FROM users WHERE is_active = 1")}
    is_(set(got5), active, "every active user gets one (the recent and new "
        "users too), no inactive one")
    subj, text, _ = got5[u["recent"]]
    is_(subj, "A new parking lot is open", "the subject says so")
    like(text, r"Harbour Point, 7 Dock Lane: 8 spots, 25\.50 per hour",
         "the text names the new lot with its address, spots and price")
    ok("Closed Yard" not in text and "Yesterday Lot" not in text and
       "Central Plaza" not in text,
       "inactive lots and lots older than a day are not named")
    return u


def run_killed(s, now, chunk):
    """Starts remind, kills it with SIGKILL once it committed a first
    chunk, then reruns it.  Returns the marks seen at the kill."""
    c = P.dbconn(s)
    day = day_of(now)
    p = ctl_popen(s, "remind", "--chunk", str(chunk), now=now)
    marks = 0
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline and p.poll() is None:
            marks = q1(c, "SELECT count(*) FROM reminders_sent"
                       " WHERE day = ?", day)
            if marks > 0:
                time.sleep(random.random() * 0.004)
                break
            time.sleep(0.0005)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
        p.communicate(timeout=20)
        marks = q1(c, "SELECT count(*) FROM reminders_sent WHERE day = ?",
                   day)
        if T.use_pg():
            # the killed run's job lock goes when the server ends its
            # session, a moment after the process (never before)
            job_lock_free(c, "remind")
        out = ctl(s, "remind", "--chunk", str(chunk), now=now + 60)
        ran(out, "remind rerun after SIGKILL (%s)" % day)
    finally:
        c.close()
    return marks


def test_remind_kill(s, c):
    """Reliability row 5: SIGKILL at random points, then a rerun."""
    c.execute("BEGIN IMMEDIATE")
    base = D1 + 10 * DAY
    for i in range(150):
        add_user(c, None, base - (5 + i % 3) * DAY)
    c.execute("COMMIT")
    midway = 0
    rounds = 5
    for r in range(rounds):
        now = base + r * DAY
        due = expected_due(c, now)
        marks = run_killed(s, now, chunk=1 + r % 3 * 3)
        if 0 < marks < len(due):
            midway += 1
        day = day_of(now)
        got = reminders(c, day)
        ok(set(got) == due and len(got) == len(due) and
           q1(c, "SELECT count(*) FROM reminders_sent WHERE day = ?", day)
           == len(due),
           "killed at %d of %d, then rerun: every due user has exactly one "
           "reminder for %s" % (marks, len(due), day),
           "  missing %r, extra %r" % (sorted(due - set(got))[:10],
                                       sorted(set(got) - due)[:10]))
    diag("SIGKILL landed midway in %d of %d rounds" % (midway, rounds))
    ok(midway >= 1, "at least one kill landed between two chunks")
    is_(q(c, "SELECT idem_key, count(*) FROM outbox GROUP BY idem_key"
          " HAVING count(*) > 1"), [], "no idempotency key twice")
    ok(q1(c, "PRAGMA integrity_check") == "ok", "integrity ok after kills")


# the second key of each job's advisory lock (src/db-jobs.c, sql/pg/README)
JOB_LOCKS = {"remind": 10, "report": 11, "tick": 12, "cleanup": 13,
             "backup": 14}


def job_lock_free(c, job, timeout=10):
    """PostgreSQL: waits until no session holds job's advisory lock;
    returns whether it is free."""
    deadline = time.monotonic() + timeout
    while True:
        n = q1(c, "SELECT count(*) FROM pg_locks WHERE locktype ="
               " 'advisory' AND classid = 1885434475 AND objid = ?"
               " AND objsubid = 2 AND granted", JOB_LOCKS[job])
        if n == 0 or time.monotonic() > deadline:
            return n == 0
        time.sleep(0.02)


def test_remind_concurrent(s, c):
    """Reliability row 27: two runs at once."""
    for r in range(2):
        now = D1 + (20 + r) * DAY
        due = expected_due(c, now)
        last = q1(c, "SELECT coalesce(max(id), 0) FROM job_runs")
        ps = [ctl_popen(s, "remind", "--chunk", "5", now=now)
              for _ in range(2)]
        outs = [p.communicate(timeout=60) for p in ps]
        ok(all(p.returncode == 0 for p in ps), "two runs at once both "
           "exit 0", *[o[1] for o in outs])
        got = reminders(c, day_of(now))
        is_(set(got), due, "together they reach every due user (%d)"
            % len(due))
        # (on PostgreSQL one of them may have found the job's lock taken:
        # it records no run)
        items = q(c, "SELECT items FROM job_runs WHERE job = 'remind'"
                  " AND id > ? ORDER BY id", last)
        is_(sum(i for (i,) in items), len(due), "their items add up to the "
            "users due: no message counted (or queued) twice (%r)"
            % (items,))


def test_job_lock(s, c):
    """Two hosts' timers fire one job at once (contract section 5): on
    PostgreSQL the job's advisory lock lets one run and the other skip;
    on SQLite (one host, no lock) both run, each user once.  The test
    holds the write lock meanwhile, so that the first run is still
    working when the second starts."""
    for job, args, now in (("remind", ("--chunk", "5"), D1 + 30 * DAY),
                           ("tick", ("--now", str(D1 + 30 * DAY)), None)):
        due = expected_due(c, now) if job == "remind" else None
        last = q1(c, "SELECT coalesce(max(id), 0) FROM job_runs")
        c.execute("BEGIN IMMEDIATE")
        try:
            ps = [ctl_popen(s, job, *args, now=now) for _ in range(2)]
            time.sleep(1.5)
        finally:
            c.execute("ROLLBACK")
        outs = [p.communicate(timeout=60) for p in ps]
        ok(all(p.returncode == 0 for p in ps), "%s: two runs at once both "
           "exit 0" % job, *[o[0] + o[1] for o in outs])
        skipped = [o[0] for o in outs if "skipped: another run of %s holds"
                   " its lock" % job in o[0]]
        runs = q(c, "SELECT status FROM job_runs WHERE job = ? AND id > ?",
                 job, last)
        if T.use_pg():
            ok(len(skipped) == 1, "%s on PostgreSQL: one of two runs at "
               "once finds the job's lock taken and skips" % job,
               *[o[0] + o[1] for o in outs])
            is_(runs, [("ok",)], "%s: one run recorded, the other none"
                % job)
        else:
            is_((len(skipped), len(runs)), (0, 2), "%s on SQLite (no job "
                "lock): both run and are recorded" % job)
        if due is not None:
            got = reminders(c, day_of(now))
            ok(set(got) == due and len(got) == len(due),
               "%s: every due user has one reminder (%d)" % (job, len(due)))
    if T.use_pg():
        # the lock is the session's: held by another session, every run
        # skips; once let go, the next run works
        h = P.dbconn(s)
        try:
            h.execute("SELECT pg_advisory_lock(1885434475, ?)",
                      (JOB_LOCKS["cleanup"],))
            out = ctl(s, "cleanup")
            ran(out, "cleanup while another session holds its lock")
            like(out.stdout, r"skipped: another run of cleanup holds its "
                 "lock", "it says it skipped")
        finally:
            h.close()
        ok(job_lock_free(c, "cleanup"), "the lock goes with its session")
        out = ctl(s, "cleanup")
        ran(out, "cleanup once the lock is free")
        ok("skipped" not in out.stdout, "it runs", out.stdout)
        ok(job_lock_free(c, "cleanup"), "and its lock is gone when parkctl "
           "exits")


# ---- reports ---------------------------------------------------------------

def test_report(s, c):
    c.execute("BEGIN IMMEDIATE")
    old = ts("2026-06-01 00:00")
    x = add_lot(c, "Downtown Central", old, spots=10, price=5000)
    y = add_lot(c, "O'Brien & Sons <Garage>", old, spots=10, price=3000)
    a = add_user(c, "report_a", old)
    b = add_user(c, "report_b", old)
    gone = add_user(c, "report_gone", old, active=0)
    jan = add_user(c, "report_jan", old)
    add_resv(c, a, x, ts("2026-12-07 08:00"), ts("2026-12-07 10:30"), 15000,
             spot=1, vehicle="KA01AB1234")
    add_resv(c, a, x, ts("2026-12-14 09:00"), ts("2026-12-14 10:00"), 5000,
             spot=2, vehicle="KA01AB1234")
    add_resv(c, a, y, ts("2026-12-31 23:00"), ts("2027-01-01 01:00"), 6000,
             spot=1, vehicle="X<b>&1")
    # not December: before, after, and a cancelled one
    add_resv(c, a, x, ts("2026-11-30 23:00"), ts("2026-12-01 01:00"), 10000,
             spot=3)
    add_resv(c, a, y, ts("2027-01-01 00:00"), ts("2027-01-01 01:00"), 3000,
             spot=2)
    add_resv(c, a, x, ts("2026-12-20 10:00"), ts("2026-12-20 10:00"), None,
             spot=4, status="cancelled")
    add_resv(c, b, x, ts("2026-11-10 10:00"), ts("2026-11-10 11:00"), 5000,
             spot=5)
    add_resv(c, gone, x, ts("2026-12-10 10:00"), ts("2026-12-10 11:00"),
             5000, spot=6)
    add_resv(c, jan, y, ts("2026-01-15 10:00"), ts("2026-01-15 12:00"), 6000,
             spot=3)
    c.execute("COMMIT")

    jan3 = ts("2027-01-03 09:00")
    out = ctl(s, "report", now=jan3)
    ran(out, "report on 2027-01-03 (default month)")
    like(out.stdout, r"month 2026-12: 1 reports queued",
         "the default month on 2027-01-03 is 2026-12")
    rows = q(c, "SELECT idem_key, to_addr, subject, body_text, body_html"
             " FROM outbox WHERE idem_key LIKE 'report:%'")
    is_([r[0] for r in rows], ["report:%d:2026-12" % a], "one report: the "
        "active user who parked in December (not the inactive one, not the "
        "one who parked in November only)")
    if not rows:
        return
    _, to, subj, text, html = rows[0]
    is_(to, "report_a@jobs.test", "to the user")
    is_(subj, "Your parking report for December 2026", "the subject")
    for label, value in (("Bookings", "3"), ("Hours parked", "5h 30m"),
                         ("Total spent", "260.00"),
                         ("Average duration", "1h 50m"),
                         ("Most-used lot", "Downtown Central"),
                         ("Busiest weekday", "Monday")):
        like(text, r"\n  %s: +%s\n" % (label, value.replace("(", r"\(")),
             "text: %s %s" % (label, value))
        like(html, r">%s</td><td [^>]*>%s</td>" % (label, value),
             "HTML: %s %s" % (label, value))
    like(text, r"2026-12-31 23:00  O'Brien & Sons <Garage>, spot 1, "
         r"X<b>&1  2h 00m  60\.00", "the text lists the reservation that "
         "started on the 31st")
    ok("2026-11-30" not in text and "2027-01-01 00:00" not in text and
       "2026-12-20" not in text, "reservations of other months and the "
       "cancelled one are left out")
    is_(html.count("<tr><td style=\"padding:6px 4px;"), 3,
        "the HTML table has the 3 reservations")
    ok("O&#39;Brien &amp; Sons &lt;Garage&gt;" in html and
       "<Garage>" not in html, "the lot's name is escaped in the HTML")
    ok("X&lt;b&gt;&amp;1" in html and "X<b>" not in html,
       "the vehicle is escaped")
    like(html, r'<table role="presentation" width="100%" [^>]*><tr><td '
         r'height="14" bgcolor="#2563eb"', "the chart: the busiest lot's bar "
         "is a table cell of full width with bgcolor")
    like(html, r'<table role="presentation" width="50%" [^>]*><tr><td '
         r'height="14" bgcolor="#2563eb"', "a lot with half the bookings "
         "has a bar half as wide")
    like(html, r"Usage per lot", "the chart has a title")
    ok(all(t not in html.lower() for t in ("<style", "<script", "<img",
                                            "<link", "javascript:",
                                            "url(")),
       "no style block, script, image or external CSS")

    out = ctl(s, "report", now=jan3 + 3600)
    ran(out, "report rerun")
    like(out.stdout, r"0 reports queued", "the rerun queues nothing")
    out = ctl(s, "report", "--month", "2026-12", now=jan3 + 7200)
    ran(out, "report --month 2026-12 rerun")
    is_(q1(c, "SELECT count(*) FROM outbox WHERE idem_key LIKE"
           " 'report:%:2026-12'"), 1, "still one December report")

    out = ctl(s, "report", "--month", "2026-01", now=jan3)
    ran(out, "report --month 2026-01")
    rows = q(c, "SELECT idem_key, body_text FROM outbox WHERE idem_key LIKE"
             " 'report:%:2026-01'")
    is_([r[0] for r in rows], ["report:%d:2026-01" % jan],
        "January 2026 reports its user")
    if rows:
        like(rows[0][1], r"^Your parking in January 2026\n",
             "the January report names its month")
        like(rows[0][1], r"Total spent: +60\.00\n", "and its numbers")

    n = q1(c, "SELECT count(*) FROM outbox")
    out = ctl(s, "report", "--month", "2026-06", now=jan3)
    ran(out, "report of a month without activity")
    is_(q1(c, "SELECT count(*) FROM outbox"), n,
        "a month without activity sends nothing")
    out = ctl(s, "report", "--month", "2027-01", now=jan3)
    ran(out, "report of a month not over yet", 2)
    like(out.stderr, r"has not ended", "it says why")
    out = ctl(s, "report", "--month", "2026-13", now=jan3)
    ran(out, "report --month 2026-13", 2)
    out = ctl(s, "report", "--month", "26-01", now=jan3)
    ran(out, "report --month 26-01", 2)

    # the 1st of February: January 2027, which holds a's reservation of
    # 2027-01-01 00:00 (and not the one that started on the 31st)
    out = ctl(s, "report", now=ts("2027-02-01 09:00"))
    ran(out, "report on 2027-02-01")
    rows = q(c, "SELECT idem_key, body_text FROM outbox WHERE idem_key LIKE"
             " 'report:%:2027-01'")
    is_([r[0] for r in rows], ["report:%d:2027-01" % a],
        "January 2027 from 2027-02-01")
    if rows:
        like(rows[0][1], r"Bookings: +1\n", "one booking in January 2027")


# ---- cleanup ---------------------------------------------------------------

def test_cleanup(s, c):
    now = int(time.time())
    window = 900
    c.execute("BEGIN IMMEDIATE")
    uid = add_user(c, "cleanup_user", now - 100 * DAY)
    ob = []
    for key, state, created, sent in (
            ("old-sent", "sent", now - 40 * DAY, now - 40 * DAY),
            ("old-failed", "failed", now - 40 * DAY, None),
            ("new-sent", "sent", now - 5 * DAY, now - 5 * DAY),
            ("old-queued", "queued", now - 40 * DAY, None),
            ("old-created-new-sent", "sent", now - 40 * DAY,
             now - 2 * DAY)):
        c.execute(P.sql("INSERT INTO outbox (idem_key, to_addr, subject,"
                        " body_text, state, next_attempt_at, created_at,"
                        " sent_at) VALUES (?, 'x@jobs.test', 's', 't', ?,"
                        " ?, ?, ?)",
                        "INSERT INTO outbox (idem_key, to_addr, subject,"
                        " body_text, state, next_attempt_at, created_at,"
                        " sent_at) VALUES (?, 'x@jobs.test', 's', 't', ?,"
                        " to_timestamp(?), to_timestamp(?),"
                        " to_timestamp(?))"),
                  ("clean:" + key, state, created, created, sent))
        ob.append(key)
    c.execute(P.sql("INSERT INTO login_failures (account, at) VALUES"
                    " ('old-fail', ?), ('new-fail', ?)",
                    "INSERT INTO login_failures (account, at) VALUES"
                    " ('old-fail', to_timestamp(?)), ('new-fail',"
                    " to_timestamp(?))"),
              (now - 2 * window, now - 10))
    for sid, exp, rev in (("a" * 32, now - 40 * DAY, None),
                          ("b" * 32, now + 40 * DAY, now - 40 * DAY),
                          ("c" * 32, now + 40 * DAY, now - 5 * DAY),
                          ("d" * 32, now + 40 * DAY, None),
                          ("e" * 32, now - 5 * DAY, None)):
        c.execute(P.sql("INSERT INTO sessions (id, user_id, refresh_jti,"
                        " created_at, last_used_at, expires_at, revoked_at,"
                        " revoked_reason) VALUES (?, ?, 'j', ?, ?, ?, ?, ?)",
                        "INSERT INTO sessions (id, user_id, refresh_jti,"
                        " created_at, last_used_at, expires_at, revoked_at,"
                        " revoked_reason) VALUES (?, ?, 'j', to_timestamp(?),"
                        " to_timestamp(?), to_timestamp(?), to_timestamp(?),"
                        " ?)"),
                  (sid, uid, now - 100 * DAY, now - 100 * DAY, exp, rev,
                   "test" if rev else None))
    runs = {}
    for name, job, started, status in (
            ("x-old", "cleanup-test-x", now - 100 * DAY, "ok"),
            ("x-new", "cleanup-test-x", now - 95 * DAY, "ok"),
            ("y-only", "cleanup-test-y", now - 100 * DAY, "failed"),
            ("z-recent", "cleanup-test-z", now - 10 * DAY, "ok"),
            ("stale", "cleanup-test-stale", now - 2 * DAY, "running"),
            ("running", "cleanup-test-run", now - 60, "running")):
        runs[name] = insert(
            c, "INSERT INTO job_runs (job, started_at, status) VALUES"
            " (?, ?, ?)", "INSERT INTO job_runs (job, started_at, status)"
            " VALUES (?, to_timestamp(?), ?)", (job, started, status))
    c.execute("INSERT INTO reminders_sent (user_id, day) VALUES (?, ?),"
              " (?, ?)", (uid, day_of(now - 100 * DAY), uid,
                          day_of(now - DAY)))
    # exports: an old finished job with its file, a recent one, and a file
    # of another kind that cleanup must leave alone
    folder = s.settings["EXPORT_FOLDER"]
    files = {}
    for key, finished in (("old", now - 10 * DAY), ("new", now - DAY)):
        stamp = datetime.datetime.fromtimestamp(
            finished, datetime.timezone.utc).strftime("%Y%m%d%H%M%S")
        name = "parking_%d_%s_%s.csv" % (uid, stamp,
                                         "a1b2c3" if key == "old" else
                                         "d4e5f6")
        path = os.path.join(folder, name)
        with open(path, "w") as f:
            f.write("reservation_id\r\n")
        os.utime(path, (finished, finished))
        files[key] = path
        c.execute(P.sql("INSERT INTO export_jobs (id, user_id, email,"
                        " state, progress, filename, created_at, updated_at,"
                        " finished_at) VALUES (?, ?, 'x@jobs.test',"
                        " 'SUCCESS', 100, ?, ?, ?, ?)",
                        "INSERT INTO export_jobs (id, user_id, email,"
                        " state, progress, filename, created_at, updated_at,"
                        " finished_at) VALUES (?, ?, 'x@jobs.test',"
                        " 'SUCCESS', 100, ?, to_timestamp(?),"
                        " to_timestamp(?), to_timestamp(?))"), (("1" if key == "old" else "2") * 32, uid,
                                   name, finished, finished, finished))
    other = os.path.join(folder, "README.txt")
    with open(other, "w") as f:
        f.write("not an export\n")
    os.utime(other, (now - 30 * DAY, now - 30 * DAY))
    c.execute("COMMIT")

    wal = P.db_path(s) + "-wal"
    wal_before = os.path.getsize(wal) if os.path.exists(wal) else 0
    out = ctl(s, "cleanup")
    ran(out, "cleanup")
    diag(out.stdout.strip())
    left = {k[len("clean:"):] for (k,) in q(
        c, "SELECT idem_key FROM outbox WHERE idem_key LIKE 'clean:%'")}
    is_(left, {"new-sent", "old-queued", "old-created-new-sent"},
        "mail: sent or failed 30+ days ago goes; newer and queued stay")
    is_([a for (a,) in q(c, "SELECT account FROM login_failures"
                              " ORDER BY account")], ["new-fail"],
        "login failures older than the window go")
    is_([sid[0] for (sid,) in q(c, "SELECT id FROM sessions ORDER BY id")],
        ["c", "d", "e"], "sessions expired or revoked 30+ days ago go, "
        "newer ones stay")
    have = {r for (r,) in q(c, "SELECT id FROM job_runs")}
    ok(runs["x-old"] not in have, "an old job run goes")
    ok(runs["x-new"] in have and runs["y-only"] in have,
       "the newest run of each job stays, however old")
    ok(runs["z-recent"] in have, "a recent job run stays")
    is_(q(c, "SELECT status, message FROM job_runs WHERE id = ?",
          runs["stale"]), [("failed", "did not finish (killed or crashed)")],
        "a run left running for a day is marked failed")
    is_(q1(c, "SELECT status FROM job_runs WHERE id = ?", runs["running"]),
        "running", "a run started a minute ago is left alone")
    is_([d for (d,) in q(c, "SELECT day FROM reminders_sent WHERE"
                              " user_id = ?", uid)], [day_of(now - DAY)],
        "reminder marks older than 90 days go")
    ok(not os.path.exists(files["old"]) and
       q1(c, "SELECT count(*) FROM export_jobs WHERE id = ?", "1" * 32) == 0,
       "the export past the retention goes, file and row")
    ok(os.path.exists(files["new"]) and
       q1(c, "SELECT count(*) FROM export_jobs WHERE id = ?", "2" * 32) == 1,
       "a recent export stays")
    ok(os.path.exists(other), "another file in the folder is left alone")
    if T.use_pg():
        # the server's WAL is its own: no claim of a checkpoint parkctl
        # did not make
        like(out.stdout, r"no checkpoint: PostgreSQL manages its WAL",
             "PostgreSQL: the message says the server keeps its WAL")
        ok("truncated" not in out.stdout, "and claims no truncation",
           out.stdout)
    else:
        like(out.stdout, r"checkpoint done, WAL truncated",
             "the WAL checkpoint completed")
        size = os.path.getsize(wal) if os.path.exists(wal) else 0
        # what is left: the job's own record of its end, written
        # afterwards
        ok(size <= 32 + 2 * (4096 + 24) < wal_before,
           "wal_checkpoint(TRUNCATE) emptied the WAL (%d bytes before, %d "
           "after)" % (wal_before, size))
    out = ctl(s, "cleanup")
    ran(out, "cleanup again")
    like(out.stdout, r"mail 0, login failures 0, sessions 0, job runs 0, "
         r"reminder marks 0", "a second run finds nothing old")


# ---- backup ----------------------------------------------------------------

def test_backup(s, c):
    P.admin_headers(s)
    base = q1(c, "SELECT count(*) FROM lots")
    stop = threading.Event()
    made = []
    errors = []

    def writer():
        while not stop.is_set():
            try:
                made.append(P.create_lot(s, number_of_spots=3)["id"])
            except Exception as e:  # reported below
                errors.append(str(e))
                return

    folder = os.path.join(s.dir, "backup")
    os.mkdir(folder)
    # PostgreSQL: the engine's tools are the backup; --pg-dump runs
    # pg_dump.  SQLite: a copy of the file; --pg-dump is not for it.
    how = ("--pg-dump",) if T.use_pg() else ()
    if T.use_pg():
        out = ctl(s, "backup", os.path.join(folder, "plain.db"))
        ran(out, "PostgreSQL: backup FILE (no file copy there)", 2)
        like(out.stderr, r"PostgreSQL database: its own tools are the "
             r"backup(.|\n)*backup --pg-dump FILE(.|\n)*pg_basebackup "
             r"with WAL archiving", "it says pg_dump and base backups are "
             "the tools")
    else:
        out = ctl(s, "backup", "--pg-dump", os.path.join(folder, "x.dump"))
        ran(out, "SQLite: backup --pg-dump", 2)
        like(out.stderr, r"--pg-dump is for a PostgreSQL database",
             "it says why")
    ok(os.listdir(folder) == [], "nothing written")
    copies = []  # (path, exit status, stdout, lots made before, after)
    t = threading.Thread(target=writer)
    t.start()
    try:
        time.sleep(0.3)
        for i in range(3):
            target = os.path.join(folder, "copy%d.db" % i)
            before = len(made)
            out = ctl(s, "backup", *how, target)
            copies.append((target, out, before, len(made)))
    finally:
        stop.set()
        t.join()
    is_(errors, [], "the API kept answering")
    ok(sum(after - before for _, _, before, after in copies) > 0,
       "the API wrote during the backups (%r lots)"
       % [after - before for _, _, before, after in copies])
    for target, out, before, after in copies:
        (test_dump if T.use_pg() else test_copy)(
            s, c, target, out, base + before, base + after + 1)
    ok(sorted(os.listdir(folder)) == ["copy0.db", "copy1.db", "copy2.db"],
       "no temporary file is left beside the copies",
       "  %r" % os.listdir(folder))

    target = copies[0][0]
    size, mtime = os.path.getsize(target), os.path.getmtime(target)
    out = ctl(s, "backup", *how, target)
    ran(out, "backup onto an existing file", 1)
    like(out.stderr, r"exists: refusing to overwrite", "it says why")
    ok(os.path.getsize(target) == size and
       os.path.getmtime(target) == mtime, "the existing file is untouched")
    out = ctl(s, "backup", *how, os.path.join(s.dir, "nodir", "x.db"))
    ran(out, "backup into a missing folder", 1)
    ok(not os.path.exists(os.path.join(s.dir, "nodir")), "nothing made")
    out = ctl(s, "backup")
    ran(out, "backup without a file", 2)


def test_dump(s, c, target, out, lots_min, lots_max):
    """PostgreSQL: checks one pg_dump archive made by parkctl backup
    --pg-dump while lots were created, by restoring it into a new
    database of the test's cluster (as its superuser)."""
    name = os.path.basename(target)
    ran(out, "backup --pg-dump %s while the API writes" % name)
    like(out.stdout, r"%s: \d+ bytes, pg_dump custom format \(pg_restore\),"
         r" schema version \d+, archive readable" % name,
         "it says what it wrote")
    if not ok(os.path.exists(target), "%s exists" % name):
        return
    is_(oct(stat.S_IMODE(os.stat(target).st_mode)), oct(0o600),
        "%s is readable by its owner only" % name)
    url = s.settings["DATABASE_URL"]
    sup_url = re.sub(r"([?&]user=)[^&]*", r"\1postgres", url)
    db = "r" + name.split(".")[0] + str(os.getpid())
    sup = pgconn.Connection(sup_url)
    try:
        sup.execute('CREATE DATABASE "%s"' % db)
    finally:
        sup.close()
    restored = re.sub(r"^postgresql:///[^?]*", "postgresql:///" + db,
                      sup_url)
    r = subprocess.run([os.path.join(T.PG_BIN, "pg_restore"),
                        "--dbname=" + restored, "--single-transaction",
                        "--exit-on-error", target], capture_output=True,
                       text=True, timeout=120)
    is_(r.returncode, 0, "%s restores with pg_restore --single-transaction"
        % name) or diag(r.stderr[-2000:])
    b = pgconn.Connection(restored)
    try:
        differ = [t for t in ("users", "reservations", "outbox",
                              "reminders_sent", "reports_sent", "sessions",
                              "export_jobs")
                  if q1(b, "SELECT count(*) FROM " + t) !=
                  q1(c, "SELECT count(*) FROM " + t)]
        is_(differ, [], "%s has the same rows as the database" % name)
        n = q1(b, "SELECT count(*) FROM lots")
        ok(lots_min <= n <= lots_max, "%s has the lots of one moment of the "
           "run (%d in [%d, %d])" % (name, n, lots_min, lots_max))
        v = "SELECT max(version) FROM parkd_schema"
        is_(q1(b, v), q1(c, v), "%s has the schema version" % name)
        ok(q1(b, "SELECT count(*) FROM spots") ==
           q1(b, "SELECT coalesce(sum(number_of_spots), 0) FROM lots"),
           "%s is consistent: every lot's spots are there" % name)
    finally:
        b.close()


def test_copy(s, c, target, out, lots_min, lots_max):
    """Checks one copy made by parkctl backup while lots were created."""
    name = os.path.basename(target)
    ran(out, "backup %s while the API writes" % name)
    like(out.stdout, r"%s: \d+ bytes, schema version \d+, integrity ok"
         % name, "it says what it wrote")
    if not ok(os.path.exists(target), "%s exists" % name):
        return
    is_(oct(stat.S_IMODE(os.stat(target).st_mode)), oct(0o600),
        "%s is readable by its owner only" % name)
    b = sqlite3.connect("file:%s?mode=ro" % target, uri=True)
    try:
        is_(b.execute("PRAGMA integrity_check").fetchall(), [("ok",)],
            "%s passes integrity_check" % name)
        # (not job_runs: each backup records its own run)
        differ = [t for t in ("users", "reservations", "outbox",
                              "reminders_sent", "reports_sent", "sessions",
                              "export_jobs")
                  if q1(b, "SELECT count(*) FROM " + t) !=
                  q1(c, "SELECT count(*) FROM " + t)]
        is_(differ, [], "%s has the same rows as the database" % name)
        n = q1(b, "SELECT count(*) FROM lots")
        ok(lots_min <= n <= lots_max, "%s has the lots of one moment of the "
           "run (%d in [%d, %d])" % (name, n, lots_min, lots_max))
        is_(q1(b, "PRAGMA user_version"), q1(c, "PRAGMA user_version"),
            "%s has the schema version" % name)
        ok(q1(b, "SELECT count(*) FROM spots") ==
           q1(b, "SELECT coalesce(sum(number_of_spots), 0) FROM lots"),
           "%s is consistent: every lot's spots are there" % name)
    finally:
        b.close()


# ---- stats and mail ----------------------------------------------------------

def test_stats(s, c):
    out = ctl(s, "db", "stats", "--json")
    ran(out, "db stats --json")
    try:
        jobs = json.loads(out.stdout)["jobs"]
    except (ValueError, KeyError) as e:
        ok(False, "db stats --json has jobs", str(e), out.stdout[:500])
        return
    for job in ("remind", "report", "cleanup", "backup"):
        if not ok(job in jobs, "db stats shows the last %s run" % job):
            continue
        j = jobs[job]
        ok(set(j) == {"started_at", "finished_at", "status", "items",
                      "errors", "message"},
           "%s: start, end, status, items, errors, message" % job)
    last = q(c, "SELECT status, items, errors, message FROM job_runs"
             " WHERE job = 'backup' ORDER BY id DESC LIMIT 1")[0]
    j = jobs.get("backup", {})
    is_((j.get("status"), j.get("items"), j.get("errors"), j.get("message")),
        last, "the backup entry is its newest run (the failed one)")
    like(jobs.get("remind", {}).get("message", ""), r"reminders queued",
         "the remind entry says what it did")
    like(jobs.get("report", {}).get("started_at") or "",
         r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", "times are ISO 8601 UTC")
    out = ctl(s, "db", "stats")
    ran(out, "db stats")
    like(out.stdout, r"\njobs +\S+ \w+ \d{4}-", "the text lists the jobs")
    like(out.stdout, r"\n +remind ok \S+ \(\d+s\), \d+ items, 0 errors: day ",
         "one line per job: name, status, start, duration, items, errors, "
         "message")


def test_mail(s, c):
    out = ctl(s, "mail", "-h")
    if out.returncode != 0:
        T.skip("parkctl mail writes .eml files", "no parkctl mail")
        return
    queued = q1(c, "SELECT count(*) FROM outbox WHERE state = 'queued'")
    # the jobs above queued their mail at their fake times: deliver it
    # from a later one
    later = ts("2028-01-01 00:00")
    out = ctl(s, "mail", "--limit", "100000", now=later, timeout=300)
    ran(out, "parkctl mail")
    maildir = s.settings["PARKD_MAIL_DIR"]
    eml = [f for f in os.listdir(maildir) if f.endswith(".eml")]
    is_(len(eml), queued, "one .eml file per queued message")
    reports = []
    for f in eml:
        with open(os.path.join(maildir, f), "rb") as fh:
            text = fh.read()
        if b"Your parking report for December 2026" in text:
            reports.append(text)
    is_(len(reports), 1, "the December report was written once")
    if reports:
        like(reports[0].decode("utf-8", "replace"),
             r"(?i)content-type: text/html", "with its HTML part")
    out = ctl(s, "mail", now=later)
    ran(out, "parkctl mail again")
    is_(len([f for f in os.listdir(maildir) if f.endswith(".eml")]),
        len(eml), "a second run writes nothing new")


def test_systemd(s):
    """The units: systemd-analyze verify, and the exposure of each service
    in the "OK" band or better (reliability.md row 27)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        T.skip("systemd units verify", "no systemd-analyze")
        return
    src = os.path.join(T.SRCDIR, "systemd")
    out_dir = os.path.join(s.dir, "units")
    os.mkdir(out_dir)
    jobs = ("exports", "mail", "remind", "report", "cleanup")
    units = []
    for job in jobs:
        with open(os.path.join(src, "parkctl-%s.service.in" % job)) as f:
            text = f.read()
        # what the Makefile's edit rule does, with paths that exist here
        for var, value in (("bindir", T.BUILDDIR), ("sbindir", T.BUILDDIR),
                           ("sysconfdir", s.dir),
                           ("localstatedir", s.dir)):
            text = text.replace("@%s@" % var, value)
        ok("@" not in text.replace("@system-service", "").replace(
            "@privileged", ""), "parkctl-%s.service: every @var@ is "
           "replaced by the edit rule's variables" % job)
        like(text, r"\nExecStart=%s/parkctl -c \S+/parkd/parkd\.env -q %s\n"
             % (T.BUILDDIR, job), "parkctl-%s.service runs parkctl %s"
             % (job, job))
        for key in ("Type=oneshot", "User=parkd", "NoNewPrivileges=yes",
                    "ProtectSystem=strict", "PrivateTmp=yes",
                    "ReadWritePaths=-%s/lib/parkd" % s.dir):
            ok("\n%s\n" % key in text, "parkctl-%s.service has %s"
               % (job, key))
        path = os.path.join(out_dir, "parkctl-%s.service" % job)
        with open(path, "w") as f:
            f.write(text)
        units.append(path)
        with open(os.path.join(src, "parkctl-%s.timer" % job)) as f:
            timer = f.read()
        like(timer, r"\nPersistent=true\n", "parkctl-%s.timer catches up "
             "missed runs" % job)
        path = os.path.join(out_dir, "parkctl-%s.timer" % job)
        with open(path, "w") as f:
            f.write(timer)
        units.append(path)
    r = subprocess.run([analyze, "verify", "--man=no"] + units,
                       capture_output=True, text=True, timeout=60)
    ok(r.returncode == 0 and r.stderr.strip() == "",
       "systemd-analyze verify accepts the units", r.stderr[-2000:])
    for job in jobs:
        r = subprocess.run([analyze, "security", "--offline=true",
                            os.path.join(out_dir, "parkctl-%s.service"
                                         % job)],
                           capture_output=True, text=True, timeout=60)
        m = re.search(r"Overall exposure level for \S+: ([0-9.]+)",
                      r.stdout)
        if m is None:
            T.skip("parkctl-%s.service exposure" % job,
                   "systemd-analyze security --offline not available")
            continue
        ok(float(m.group(1)) <= 2.0, "parkctl-%s.service: exposure %s "
           "(OK band or better)" % (job, m.group(1)))
    cal = {"exports": "minutely", "mail": "minutely",
           "remind": "*-*-* 18:00:00", "report": "*-*-01 09:00:00",
           "cleanup": "*-*-* 03:30:00"}
    for job, when in cal.items():
        with open(os.path.join(src, "parkctl-%s.timer" % job)) as f:
            like(f.read(), r"\nOnCalendar=%s\n" % re.escape(when),
                 "parkctl-%s.timer: OnCalendar=%s" % (job, when))


def main():
    settings = {"PARKD_SCRYPT_N": "16384", "MAIL_SERVER": ""}
    with T.Stack(settings=settings, redis=False, workers=2) as s:
        c = P.dbconn(s)
        try:
            test_remind_people(s, c)
            test_remind_kill(s, c)
            test_remind_concurrent(s, c)
            test_job_lock(s, c)
            test_report(s, c)
            test_cleanup(s, c)
            test_backup(s, c)
            test_stats(s, c)
            test_mail(s, c)
            test_systemd(s)
        finally:
            c.close()


if __name__ == "__main__":
    T.run(main)
