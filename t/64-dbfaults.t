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

On PostgreSQL (PARKD_DB=postgresql, issue #17) the busy tests hold
parkd's advisory write lock (pgconn's BEGIN IMMEDIATE; the wait is
lock_timeout), and in place of the full file come PostgreSQL's own
faults, each under a load of clients booking and releasing: a statement
past PARKD_PG_STATEMENT_TIMEOUT_MS, a deadlock forced between a booking
and the test's session, parkd's sessions killed with
pg_terminate_backend, the server stopped (fast) and started again.  Each
time: no 500, every acknowledged booking and release in the database, no
booking answered 503 in it (a COMMIT whose answer was lost is looked up
by parkd; only while the server is down can it stay unknown, which parkd
logs), the invariants, and booking works again with the same workers.

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
import pgconn  # noqa: E402
from parktest import diag, is_, like, ok  # noqa: E402

SLOW = getattr(T, "SLOW", 1)
# parkd's default.  Writes waiting for the lock each hold a worker: with
# as many waiting writes as workers, reads queue behind them (seen with 2).
WORKERS = 4


class Holder:
    """Another process's write lock: a connection of the test's own that
    takes BEGIN IMMEDIATE, holds it for `seconds`, then rolls back (on
    PostgreSQL, BEGIN and parkd's advisory write lock: pgconn)."""

    def __init__(self, stack, seconds):
        self.seconds = seconds
        if T.use_pg():
            self.c = P.dbconn(stack)
        else:
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


# ---- PostgreSQL's faults (issue #17) ----------------------------------------
#
# What a full SQLite file is to SQLite, these are to PostgreSQL: the
# server stopped under load and started again, a statement past
# statement_timeout, a deadlock, parkd's connections killed
# (pg_terminate_backend).  Each time: no 500, a refused write leaves
# nothing, every acknowledged booking is in the database, the invariants
# hold, and parkd recovers by itself (the same workers).


class Load:
    """Threads that book and release on lot as users until stopped,
    recording every answer: the reservations acknowledged (id ->
    vehicle), the vehicles whose booking was refused, and anything that is
    neither 200, 409 nor 503."""

    def __init__(self, s, users, lot, tag):
        self.s, self.lot, self.tag = s, lot, tag
        self.log_from = len(s.log())
        self.answers = {}
        self.acked = {}
        self.released = set()
        self.refused = []
        self.bad = []
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(u, i),
                                         daemon=True)
                        for i, u in enumerate(users)]
        for th in self.threads:
            th.start()

    def note(self, what, r):
        st = status(r)
        with self.lock:
            self.answers[st] = self.answers.get(st, 0) + 1
            if st not in (200, 409, 503):
                self.bad.append("%s: %r %r" % (what, st, getattr(
                    r, "body", b"")[:200]))
        return st

    def run(self, u, i):
        n = 0
        while not self.stop_ev.is_set():
            n += 1
            v = "%s%d-%d" % (self.tag, i, n)
            try:
                r = u.req("POST", "/api/user/pkl/book/%d" % self.lot,
                          {"vehicle_number": v}, timeout=30)
            except Exception as e:  # no answer at all: recorded
                r = "%s: %s" % (type(e).__name__, e)
            st = self.note("book " + v, r)
            if st == 200:
                rid = r.json["data"]["id"]
                with self.lock:
                    self.acked[rid] = v
                try:
                    r = u.req("POST", "/api/user/pkl/release",
                              {"reservation_id": rid}, timeout=30)
                except Exception as e:
                    r = "%s: %s" % (type(e).__name__, e)
                if self.note("release %d" % rid, r) == 200:
                    with self.lock:
                        self.released.add(rid)
            else:
                if st == 503:
                    with self.lock:
                        self.refused.append(v)
                time.sleep(0.05)

    def stop(self):
        self.stop_ev.set()
        for th in self.threads:
            th.join(60)


def check_load(s, ld, what):
    """The points every fault ends with: no 500, the database holds
    exactly what was acknowledged, the invariants."""
    diag("%s: answers %r, %d bookings acknowledged, %d refused" % (
        what, ld.answers, len(ld.acked), len(ld.refused)))
    ok(not ld.bad, "%s: every answer 200, 409 or 503 (no 500, no lost "
       "connection)" % what, *ld.bad[:5])
    c = P.dbconn(s)
    try:
        rows = {v: (i, st) for i, v, st in c.execute(
            "SELECT id, vehicle_number, status FROM reservations WHERE"
            " vehicle_number LIKE ?", (ld.tag + "%",))}
    finally:
        c.close()
    lost = [rid for rid, v in ld.acked.items() if rows.get(v, (None,))[0]
            != rid]
    ok(ld.acked and not lost, "%s: every acknowledged booking (%d) is in "
       "the database" % (what, len(ld.acked)), "  lost: %r" % lost[:10])
    notdone = [rid for rid in ld.released
               if rows.get(ld.acked[rid], (0, ""))[1] != "completed"]
    ok(not notdone, "%s: every acknowledged release (%d) is completed"
       % (what, len(ld.released)), "  %r" % notdone[:10])
    ghosts = [v for v in ld.refused if v in rows]
    # A COMMIT whose answer is lost with the connection: parkd asks the
    # server what became of it (pg_xact_status) and answers by that; only
    # a server that is down cannot tell, and parkd logs it as unknown.
    unknown = s.log()[ld.log_from:].count("outcome unknown")
    ok(len(ghosts) <= unknown, "%s: no booking answered 503 (%d) is in "
       "the database, but for COMMITs whose outcome the server could not "
       "tell (%d)" % (what, len(ld.refused), unknown), "  %r" % ghosts[:10])
    diag("%s: COMMIT answers lost and resolved by the server: %d, outcome "
         "unknown: %d" % (what, s.log()[ld.log_from:].count(
             "the answer to COMMIT was lost"), unknown))
    bad = P.invariants(s)
    ok(not bad, "%s: invariants hold" % what, *bad)


def recovered(s, u, lot, what, pids, timeout=20):
    """Books and releases until it works (parkd reconnects by itself);
    one test point, and one for the same workers."""
    deadline = time.monotonic() + timeout * SLOW
    last = None
    while time.monotonic() < deadline:
        r = u.req("POST", "/api/user/pkl/book/%d" % lot,
                  {"vehicle_number": "REC"}, timeout=30)
        last = status(r)
        if last == 200:
            u.req("POST", "/api/user/pkl/release",
                  {"reservation_id": r.json["data"]["id"]})
            break
        time.sleep(0.2)
    is_(last, 200, "%s: booking works again without restarting parkd" % what)
    is_(sorted(s.worker_pids()), sorted(pids), "%s: the same workers" % what)


def test_pg_server_stop(s, users, lot):
    """The server stopped (fast: its sessions end) while clients book,
    then started again."""
    pids = s.worker_pids()
    ld = Load(s, users, lot, "STOP")
    time.sleep(1.0)
    r = T.pg_lib("pg_stop", T._pg_dir)
    ok(r.returncode == 0, "PostgreSQL stopped under load", r.stderr)
    down = {}
    for path, who in (("/api/user/pkl/book/%d" % lot, users[0]),
                      ("/api/user/pkl/book/list", users[0])):
        rr = who.req("POST" if "book/" in path and "list" not in path
                     else "GET", path, {"vehicle_number": "DOWN"}
                     if "list" not in path else None, timeout=30)
        down[path] = rr
    is_503(down["/api/user/pkl/book/%d" % lot], "server down: a booking")
    ok(status(down["/api/user/pkl/book/list"]) in (200, 503),
       "server down: a read is 503 or served from a copy, never 500",
       "  %r" % status(down["/api/user/pkl/book/list"]))
    rr = s.req("GET", "/api/health")
    is_(rr.status, 503, "server down: /api/health 503")
    time.sleep(1.0)
    r = T.pg_lib("pg_start", T._pg_dir)
    ok(r.returncode == 0, "PostgreSQL started again", r.stderr)
    time.sleep(3.0)
    ld.stop()
    check_load(s, ld, "server stopped and started")
    ok(ld.answers.get(503, 0) > 0, "the clients saw 503s while it was down")
    recovered(s, users[0], lot, "after the restart of PostgreSQL", pids)
    rr = s.req("GET", "/api/health")
    is_(rr.status, 200, "health 200 again")


def test_pg_statement_timeout(s, users, lot):
    """A statement running past PARKD_PG_STATEMENT_TIMEOUT_MS (here: the
    wait for the write lock, held by the test, with lock_timeout longer)
    is cancelled: 503, nothing written."""
    u = users[1]
    reload(s, PARKD_PG_STATEMENT_TIMEOUT_MS=300,
           PARKD_DB_BUSY_TIMEOUT_MS=10000)
    pids = s.worker_pids()
    before = reservations_of(s, u.id)
    out = {}
    h = Holder(s, 2.0 * SLOW)
    th = timed(lambda: u.req("POST", "/api/user/pkl/book/%d" % lot,
                             {"vehicle_number": "STMT-TO"}, timeout=30),
               out, "book")
    th.join(30 * SLOW)
    h.wait()
    r, t0, t1 = out.get("book", (None, 0, 0))
    is_503(r, "a statement past statement_timeout (300 ms)")
    ok(t1 < h.released, "cancelled before the lock was let go (%.2f s)"
       % (t1 - t0))
    is_(reservations_of(s, u.id), before, "the cancelled booking wrote "
        "nothing")
    like(s.log(), r"57014|statement timeout", "parkd's log names the "
         "statement timeout")
    recovered(s, u, lot, "after statement_timeout", pids)
    reload(s, PARKD_PG_STATEMENT_TIMEOUT_MS=30000,
           PARKD_DB_BUSY_TIMEOUT_MS=5000)


def test_pg_deadlock(s, users, lot):
    """A deadlock between a booking and another session: the test locks
    the lot's row, the booking takes the write lock and waits for the row,
    the test then waits for the write lock.  PostgreSQL breaks the cycle
    (40P01) by failing one of them: the booking answers 503 and wrote
    nothing, or (the test's session the victim, or a retry) 200 and is
    there."""
    u = users[2]
    pids = s.worker_pids()
    before = reservations_of(s, u.id)
    c = P.dbconn(s)
    out = {}
    victim = None
    try:
        c.execute("BEGIN")
        c.execute("SELECT id FROM lots WHERE id = ? FOR UPDATE", (lot,))
        th = timed(lambda: u.req("POST", "/api/user/pkl/book/%d" % lot,
                                 {"vehicle_number": "DEADLOCK"},
                                 timeout=30), out, "book")
        time.sleep(0.4)
        try:
            c.execute(pgconn.WRITE_LOCK)
        except pgconn.Error as e:
            victim = "the test's session (%s)" % e.sqlstate
        c.execute("ROLLBACK")
    finally:
        c.close()
    th.join(30 * SLOW)
    r = out.get("book", (None,))[0]
    diag("deadlock victim: %s; the booking answered %r" % (
        victim or "the booking", status(r)))
    ok(status(r) in (200, 503), "the booking in a deadlock: 200 or 503, "
       "never 500", "  %r" % (status(r),))
    if status(r) == 503:
        is_503(r, "the booking chosen as the deadlock's victim")
        is_(reservations_of(s, u.id), before, "and it wrote nothing")
        like(s.log(), r"40P01|deadlock", "parkd's log names the deadlock")
    elif status(r) == 200:
        rid = r.json["data"]["id"]
        ok(rid in [i for i, st in reservations_of(s, u.id)],
           "the booking answered 200 is in the database")
        u.req("POST", "/api/user/pkl/release", {"reservation_id": rid})
    bad = P.invariants(s)
    ok(not bad, "deadlock: invariants hold", *bad)
    recovered(s, u, lot, "after the deadlock", pids)


def test_pg_terminate(s, users, lot):
    """parkd's connections killed with pg_terminate_backend, five times,
    while clients book and release."""
    pids = s.worker_pids()
    ld = Load(s, users, lot, "KILL")
    c = P.dbconn(s)
    killed = 0
    try:
        for i in range(5):
            time.sleep(0.6)
            killed += len(c.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name"
                " = 'parkd' AND pid <> pg_backend_pid()").fetchall())
    finally:
        c.close()
    time.sleep(1.0)
    ld.stop()
    ok(killed >= 5, "%d of parkd's sessions terminated" % killed)
    check_load(s, ld, "connections killed")
    ok(ld.answers.get(200, 0) > 0, "bookings went on between the kills")
    like(s.log(), r"reconnected to PostgreSQL", "parkd's log shows the "
         "reconnections")
    recovered(s, users[0], lot, "after pg_terminate_backend", pids)


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
        if T.use_pg():
            test_pg_statement_timeout(s, users, lot)
            test_pg_deadlock(s, users, lot)
            test_pg_terminate(s, users, lot)
            test_pg_server_stop(s, users, lot)
        else:
            test_full(s, users, lot)
        ok(s.procs["parkd"].poll() is None, "parkd still runs")
        fives = [line for line in s.log().splitlines()
                 if " status=5" in line and " status=503" not in line]
        ok(not fives, "parkd answered no 5xx but 503", *fives[:5])


T.run(main)
