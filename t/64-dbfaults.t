#!/usr/bin/env python3
"""64-dbfaults.t: the database busy and the database full, through real
nginx (reliability.md rows 3 and 7).

* Busy, shorter than PARKD_DB_BUSY_TIMEOUT_MS (5 s): another process holds
  BEGIN IMMEDIATE for 2 s; a booking, a registration and a release sent
  meanwhile wait and then succeed (they finish after the lock is let go),
  while reads answer at once.
* Busy, longer than the timeout (reloaded to 500 ms, lock held 3 s):
  booking, registration, release and login get 503 UNAVAILABLE with
  Retry-After, never a 500, and write nothing (checked in SQLite);
  reads keep answering; once the lock is gone the same requests succeed,
  with no restart.
* Full (PARKD_DB_MAX_PAGES, SQLite's max_page_count, set to the size the
  database has): registrations and bookings succeed while free space
  lasts, then get 503 UNAVAILABLE with Retry-After; a refused booking
  leaves no reservation, and the spots' status and the lots' counts agree
  with the reservations (parking.invariants); refused registrations leave
  no user; reads go on working; raising the cap (SIGHUP) makes writes
  succeed again.

Full disks for the export files are t/62-exports.t's; I/O errors in the
middle of a transaction are t/15-iofault.c's.
"""

import os
import signal
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import parktest as T  # noqa: E402
import parking as P  # noqa: E402
from parktest import diag, is_, ok  # noqa: E402

SLOW = getattr(T, "SLOW", 1)
# parkd's default.  Writes waiting for the lock each hold a worker: with
# as many waiting writes as workers, reads queue behind them (seen with 2).
WORKERS = 4


class Holder:
    """Another process's write lock: a connection of the test's own that
    takes BEGIN IMMEDIATE, holds it for `seconds`, then rolls back."""

    def __init__(self, stack, seconds):
        self.seconds = seconds
        self.c = sqlite3.connect(P.db_path(stack), timeout=30,
                                 isolation_level=None,
                                 check_same_thread=False)
        self.c.execute("PRAGMA busy_timeout = 30000")
        self.c.execute("BEGIN IMMEDIATE")
        self.taken = time.monotonic()
        self.released = None
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        time.sleep(self.seconds)
        self.c.execute("ROLLBACK")
        self.released = time.monotonic()
        self.c.close()

    def wait(self):
        self.thread.join(60)


def timed(fn, out, key):
    """Runs fn() in a thread; out[key] = (response or error, start, end)."""
    def run():
        t0 = time.monotonic()
        try:
            r = fn()
        except Exception as e:  # reported by the caller
            r = "%s: %s" % (type(e).__name__, e)
        out[key] = (r, t0, time.monotonic())
    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th


def register(s, name, n):
    return P.request(s.port, "POST", "/api/auth/register", {
        "username": name, "email": name + "@parking.test",
        "password": P.PASSWORD}, source=P.ip_for(n), timeout=30)


def status(r):
    return r.status if hasattr(r, "status") else r


def is_503(r, what):
    """One test point: 503 UNAVAILABLE with a Retry-After of seconds."""
    good = (hasattr(r, "status") and r.status == 503 and
            (r.json or {}).get("code") == "UNAVAILABLE" and
            r.headers.get("retry-after", "").isdigit())
    return ok(good, what + ": 503 UNAVAILABLE with Retry-After",
              "  got %r %r" % (status(r), getattr(r, "body", b"")[:200]),
              "  Retry-After %r" % (getattr(r, "headers", {}).get(
                  "retry-after"),))


def user_exists(s, name):
    c = P.dbconn(s)
    try:
        return c.execute("SELECT count(*) FROM users WHERE username = ?",
                         (name,)).fetchone()[0] > 0
    finally:
        c.close()


def reservations_of(s, uid):
    c = P.dbconn(s)
    try:
        return c.execute("SELECT id, status FROM reservations WHERE user_id"
                         " = ? ORDER BY id", (uid,)).fetchall()
    finally:
        c.close()


def reload(s, **settings):
    """New settings and a SIGHUP; waits for a new generation of workers."""
    old = s.worker_pids()
    s.write_settings(**settings)
    s.signal_parkd(signal.SIGHUP)
    pids, waited = s.wait_workers(WORKERS, timeout=15 * SLOW, not_in=old)
    ok(pids is not None, "reload with %s: new workers in %.1f s" % (
        ", ".join("%s=%s" % kv for kv in settings.items()), waited),
        "  workers %r (old %r)" % (s.worker_pids(), old))
    return pids


def test_busy_short(s, users, lot):
    """The lock is held for less than the busy timeout: writes wait."""
    u1, u2 = users[0], users[1]
    out = {}
    h = Holder(s, 2.0)
    ths = [
        timed(lambda: u1.req("POST", "/api/user/pkl/book/%d" % lot,
                             {"vehicle_number": "BUSY-1"}, timeout=30),
              out, "book"),
        timed(lambda: register(s, "busyshort", 50), out, "register"),
        timed(lambda: u2.req("GET", "/api/user/pkl/list", timeout=30),
              out, "read"),
    ]
    for th in ths:
        th.join(30 * SLOW)
    h.wait()
    for key in ("book", "register"):
        r, t0, t1 = out.get(key, (None, 0, 0))
        ok(status(r) == 200 and t1 >= h.released,
           "lock held 2 s (< 5 s timeout): %s waits, then 200" % key,
           "  got %r after %.2f s; lock let go after %.2f s"
           % (status(r), t1 - h.taken, (h.released or 0) - h.taken))
    r, t0, t1 = out.get("read", (None, 0, 0))
    ok(status(r) == 200 and t1 < h.released,
       "a read during the lock answers at once (%.3f s)" % (t1 - t0),
       "  got %r" % (status(r),))
    diag("waits: book %.2f s, register %.2f s, lock held %.2f s" % (
        out["book"][2] - out["book"][1], out["register"][2] -
        out["register"][1], h.released - h.taken))
    return out["book"][0].json["data"]["id"] if status(
        out["book"][0]) == 200 else None


def test_busy_long(s, users, lot, resv):
    """The lock is held past the busy timeout: 503, nothing written."""
    u1, u2, u3 = users[0], users[1], users[2]
    reload(s, PARKD_DB_BUSY_TIMEOUT_MS=500)
    before = reservations_of(s, u2.id)
    out = {}
    h = Holder(s, 3.0 * SLOW)
    ths = [
        timed(lambda: u2.req("POST", "/api/user/pkl/book/%d" % lot,
                             {"vehicle_number": "BUSY-2"}, timeout=30),
              out, "book"),
        timed(lambda: register(s, "busylong", 51), out, "register"),
        timed(lambda: u1.req("POST", "/api/user/pkl/release",
                             {"reservation_id": resv}, timeout=30),
              out, "release"),
        timed(lambda: P.request(s.port, "POST", "/api/auth/login", {
            "username": u3.username, "password": P.PASSWORD},
            source=u3.ip, timeout=30), out, "login"),
        timed(lambda: u3.req("GET", "/api/user/pkl/book/list", timeout=30),
              out, "read"),
    ]
    for th in ths:
        th.join(30 * SLOW)
    h.wait()
    for key in ("book", "register", "release", "login"):
        r, t0, t1 = out.get(key, (None, 0, 0))
        is_503(r, "lock held %g s (> 500 ms timeout): %s" % (h.seconds,
                                                            key))
        diag("%s answered after %.2f s" % (key, t1 - t0))
    ok(all(status(out[k][0]) != 500 for k in out), "no 500 at all",
       "  %r" % {k: status(v[0]) for k, v in out.items()})
    r = out["read"][0]
    is_(status(r), 200, "a read during the long lock: 200")
    is_(reservations_of(s, u2.id), before, "the refused booking wrote nothing")
    ok(not user_exists(s, "busylong"),
       "the refused registration wrote no user")
    is_([st for i, st in reservations_of(s, u1.id) if i == resv], ["active"],
        "the refused release left the reservation active")
    bad = P.invariants(s)
    ok(not bad, "invariants hold after the refusals", *bad)

    # Recovery: the same requests, now that the lock is gone, succeed
    # without any restart.
    pids = s.worker_pids()
    r = u2.req("POST", "/api/user/pkl/book/%d" % lot,
               {"vehicle_number": "BUSY-2"})
    is_(r.status, 200, "after the lock: booking 200")
    r = register(s, "busylong", 51)
    is_(r.status, 200, "after the lock: registration 200")
    r = u1.req("POST", "/api/user/pkl/release", {"reservation_id": resv})
    is_(r.status, 200, "after the lock: release 200")
    is_(s.worker_pids(), pids, "recovered by the same workers")
    reload(s, PARKD_DB_BUSY_TIMEOUT_MS=5000)


def page_count(s):
    c = P.dbconn(s)
    try:
        return c.execute("PRAGMA page_count").fetchone()[0]
    finally:
        c.close()


def test_full(s, users, lot):
    pages = page_count(s)
    reload(s, PARKD_DB_MAX_PAGES=pages)
    diag("database capped at its size: %d pages" % pages)
    answers = {}

    # Registrations until the first 503 (each needs a little space).
    registered, refused = [], []
    for i in range(300):
        name = "full%03d" % i
        r = register(s, name, 100 + i)
        answers[r.status] = answers.get(r.status, 0) + 1
        if r.status == 200:
            registered.append(name)
        else:
            refused.append((name, r))
            break
    ok(refused, "registrations fill the database: 503 after %d" %
       len(registered), "  answers %r" % answers)
    if refused:
        is_503(refused[0][1], "registration in a full database")
        ok(not user_exists(s, refused[0][0]),
           "the refused registration left no user row")

    # Bookings until the first 503; each other answer must be 200.
    u = users[3]
    acked, first_503 = [], None
    for i in range(300):
        r = u.req("POST", "/api/user/pkl/book/%d" % lot,
                  {"vehicle_number": "FULL-%d" % i})
        answers[r.status] = answers.get(r.status, 0) + 1
        if r.status == 200:
            acked.append(r.json["data"]["id"])
            continue
        first_503 = r
        break
    ok(first_503 is not None, "bookings fill the database: refused after %d"
       % len(acked), "  answers %r" % answers)
    if first_503 is not None:
        is_503(first_503, "booking in a full database")
    ok(500 not in answers, "no 500 while the database is full",
       "  answers %r" % answers)
    got = [i for i, st in reservations_of(s, u.id)]
    is_(got, acked, "exactly the acknowledged bookings are in the database")
    bad = P.invariants(s)
    ok(not bad, "full database: spots, lots and reservations agree", *bad)
    c = P.dbconn(s)
    try:
        occ, n, act = c.execute(
            "SELECT occupied, (SELECT count(*) FROM spots WHERE lot_id = ?1"
            " AND status = 'O'), (SELECT count(*) FROM reservations WHERE"
            " lot_id = ?1 AND status = 'active') FROM lots WHERE id = ?1",
            (lot,)).fetchone()
    finally:
        c.close()
    ok(occ == n == act, "the lot says %d occupied, %d spots are, %d active "
       "reservations" % (occ, n, act))
    ok("full" in s.log(), "parkd's log says the database is full")

    # Reads go on.
    for path, who in (("/api/user/pkl/list", u),
                      ("/api/user/pkl/book/list", u)):
        r = who.req("GET", path)
        is_(r.status, 200, "full database: GET %s still 200" % path)
    r = s.req("GET", "/api/health")
    is_(r.status, 200, "full database: health 200")

    # A bigger cap, a reload: writes succeed again.
    reload(s, PARKD_DB_MAX_PAGES=pages + 100000)
    r = u.req("POST", "/api/user/pkl/book/%d" % lot,
              {"vehicle_number": "AFTER"})
    is_(r.status, 200, "cap raised: booking 200")
    r = register(s, refused[0][0] if refused else "fullafter", 99)
    is_(r.status, 200, "cap raised: the refused registration now 200")
    bad = P.invariants(s)
    ok(not bad, "invariants hold at the end", *bad)


def main():
    settings = dict(P.FAST_HASH, PARKD_MAX_ACTIVE_BOOKINGS="100",
                    PARKD_WORKER_MAX_REQUESTS="0")
    with T.Stack(settings=settings, workers=WORKERS) as s:
        lot = P.create_lot(s, number_of_spots=400, price=3)["id"]
        users = P.make_users(s, 4, prefix="dbf")
        pids = s.worker_pids()
        resv = test_busy_short(s, users, lot)
        is_(s.worker_pids(), pids, "the short lock cost no worker")
        if ok(resv is not None, "a reservation to release later"):
            test_busy_long(s, users, lot, resv)
        test_full(s, users, lot)
        ok(s.procs["parkd"].poll() is None, "parkd still runs")
        fives = [line for line in s.log().splitlines()
                 if " status=5" in line and " status=503" not in line]
        ok(not fives, "parkd answered no 5xx but 503", *fives[:5])


T.run(main)
