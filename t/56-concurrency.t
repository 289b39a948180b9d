#!/usr/bin/env python3
"""56-concurrency.t: booking and release under concurrency, 4 workers.

64 users (logged in beforehand), each in its own thread, book one 20-spot
lot at the same instant: exactly 20 get a spot, all different, the 44
others 409 LOT_FULL, and nothing else; then the 20 release at once, all
succeed, and the lot is empty.  One user releasing one reservation from 10
threads at once: exactly one 200, nine 409.  Churn (reliability.md row 2,
CI-sized): users book and release at random for a bounded time; afterwards
the database equals the model of the acknowledged operations, and its
invariants and integrity hold.
"""

import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import parktest as T  # noqa: E402
import parking as P  # noqa: E402
from parktest import diag, is_, ok  # noqa: E402

CLIENTS = 64
SPOTS = 20
CHURN_USERS = 16
CHURN_SECONDS = 6
CHURN_MAX_OPS = 400  # per user
MAX_ACTIVE = 3


def at_once(fns):
    """Runs each function in its own thread, all released together by a
    barrier; returns their results (an exception's text on failure)."""
    results = [None] * len(fns)
    barrier = threading.Barrier(len(fns))

    def run(i):
        barrier.wait()
        try:
            results[i] = fns[i]()
        except Exception as e:  # counted by the caller as a bad outcome
            results[i] = "%s: %s" % (type(e).__name__, e)

    ts = [threading.Thread(target=run, args=(i,)) for i in range(len(fns))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    return results


def outcome(r):
    """(status, code or None, data) of a response, or the exception text."""
    if isinstance(r, str):
        return (r, None, None)
    j = r.json or {}
    return (r.status, j.get("code"), j.get("data"))


def test_rush(s, users):
    lot = P.create_lot(s, prime_location_name="Rush Lot",
                       number_of_spots=SPOTS, price=5)
    lid = lot["id"]
    res = at_once([(lambda u=u: u.req("POST", "/api/user/pkl/book/%d" % lid,
                                      {"vehicle_number": "R %d" % u.id}))
                   for u in users])
    outs = [outcome(r) for r in res]
    won = [(users[i], o[2]) for i, o in enumerate(outs) if o[0] == 200]
    full = [o for o in outs if o[:2] == (409, "LOT_FULL")]
    other = [o[:2] for o in outs if o[0] != 200 and o[:2] != (409, "LOT_FULL")]
    is_(len(won), SPOTS, "%d users book a %d-spot lot at once: exactly %d "
        "succeed" % (CLIENTS, SPOTS, SPOTS))
    is_(len(full), CLIENTS - SPOTS, "  the other %d get 409 LOT_FULL"
        % (CLIENTS - SPOTS))
    is_(other, [], "  no other status")
    spots = sorted(d["spot_number"] for _, d in won)
    is_(spots, list(range(1, SPOTS + 1)), "  %d distinct spots, 1..%d"
        % (SPOTS, SPOTS))
    ok(all(d["user_id"] == u.id for u, d in won),
       "  each reservation is its caller's")
    g = P.request(s.port, "GET", "/api/admin/pkl/%d" % lid,
                  headers=P.admin_headers(s)).json["data"]
    is_((g["occupied_spots"], g["available_spots"]), (SPOTS, 0),
        "  the lot is full")
    is_(sorted(x["reservation"]["id"] for x in g["spots"]),
        sorted(d["id"] for _, d in won), "  the grid names the 20 winners")

    res = at_once([(lambda u=u, d=d: u.req(
        "POST", "/api/user/pkl/release", {"reservation_id": d["id"]}))
        for u, d in won])
    outs = [outcome(r) for r in res]
    is_([o[0] for o in outs], [200] * SPOTS,
        "the %d release at once: all 200" % SPOTS)
    ok(all(o[2] and o[2]["status"] == "completed" for o in outs),
       "  each completed")
    g = P.request(s.port, "GET", "/api/admin/pkl/%d" % lid,
                  headers=P.admin_headers(s)).json["data"]
    is_((g["occupied_spots"], g["available_spots"],
         [x["status"] for x in g["spots"]].count("A")),
        (0, SPOTS, SPOTS), "  the lot is empty")

    # One user, one reservation, 10 releases at once.
    u = users[0]
    for attempt, by_id in ((1, True), (2, True), (3, False)):
        b = u.req("POST", "/api/user/pkl/book/%d" % lid, {}).json["data"]
        body = {"reservation_id": b["id"]} if by_id else {}
        res = at_once([(lambda: u.req("POST", "/api/user/pkl/release", body))
                       for _ in range(10)])
        outs = [outcome(r) for r in res]
        codes = sorted((o[0], o[1]) for o in outs)
        is_(codes, [(200, None)] + [(409, "NO_ACTIVE_RESERVATION")] * 9,
            "one reservation released 10 times at once (%s), round %d: one "
            "200, nine 409" % ("by id" if by_id else "without id", attempt))
    is_(P.invariants(s), [], "invariants hold after the rush")
    c = P.dbconn(s)
    try:
        is_(P.overlapping_holds(c), [], "  no two held intervals on a spot "
            "overlap (the walk-ins' holds)")
    finally:
        c.close()


class Churner:
    """One user booking and releasing at random; keeps the model of what
    the server acknowledged."""

    def __init__(self, user, lots, seed, deadline):
        self.u = user
        self.lots = lots
        self.rnd = random.Random(seed)
        self.deadline = deadline
        self.active = {}  # reservation id -> lot id
        self.booked = {}  # every acknowledged booking: id -> lot id
        self.released = set()
        self.problems = []
        self.counts = {}

    def note(self, what):
        self.counts[what] = self.counts.get(what, 0) + 1

    def step(self):
        u, rnd = self.u, self.rnd
        roll = rnd.random()
        if roll < 0.5 or not self.active:
            lid = rnd.choice(self.lots)
            r = u.req("POST", "/api/user/pkl/book/%d" % lid,
                      {"vehicle_number": "C%d" % u.id})
            j = r.json or {}
            if r.status == 200:
                d = j["data"]
                if d["user_id"] != u.id or d["lot_id"] != lid or \
                        d["id"] in self.booked:
                    self.problems.append("book: odd reservation %r" % d)
                self.active[d["id"]] = lid
                self.booked[d["id"]] = lid
                self.note("book 200")
            elif r.status == 409 and j.get("code") == "BOOKING_LIMIT":
                if len(self.active) < MAX_ACTIVE:
                    self.problems.append("BOOKING_LIMIT with %d active"
                                         % len(self.active))
                self.note("book 409 BOOKING_LIMIT")
            elif r.status == 409 and j.get("code") == "LOT_FULL":
                self.note("book 409 LOT_FULL")
            else:
                self.problems.append("book: %d %r" % (r.status, r.body[:200]))
        elif roll < 0.8:
            rid = rnd.choice(sorted(self.active))
            r = u.req("POST", "/api/user/pkl/release", {"reservation_id": rid})
            if r.status == 200 and (r.json or {}).get("data", {}).get("id") \
                    == rid:
                del self.active[rid]
                self.released.add(rid)
                self.note("release by id 200")
            else:
                self.problems.append("release %d: %d %r" % (
                    rid, r.status, r.body[:200]))
        elif roll < 0.9:
            r = u.req("POST", "/api/user/pkl/release", {})
            want = min(self.active)
            got = ((r.json or {}).get("data") or {}).get("id")
            if r.status == 200 and got == want:
                del self.active[want]
                self.released.add(want)
                self.note("release oldest 200")
            else:
                self.problems.append("release oldest (want %d): %d %r" % (
                    want, r.status, r.body[:200]))
        else:
            r = u.req("GET", "/api/user/pkl/book/list?status=active")
            got = sorted(x["id"] for x in (r.json or {}).get("data") or [])
            if r.status != 200 or got != sorted(self.active):
                self.problems.append("active list %r, model %r" % (
                    got, sorted(self.active)))
            self.note("list active 200")

    def run(self, barrier):
        barrier.wait()
        n = 0
        while time.monotonic() < self.deadline and n < CHURN_MAX_OPS:
            try:
                self.step()
            except Exception as e:
                self.problems.append("%s: %s" % (type(e).__name__, e))
            n += 1


def test_churn(s, users):
    lots = [P.create_lot(s, prime_location_name="Churn Lot %d" % i,
                         number_of_spots=n, price=2.5)["id"]
            for i, n in enumerate((4, 8, 16))]
    deadline = time.monotonic() + CHURN_SECONDS
    seed = int(os.environ.get("PARKTEST_SEED", random.randrange(1 << 30)))
    diag("churn seed %d (PARKTEST_SEED to repeat)" % seed)
    churners = [Churner(u, lots, seed + i, deadline)
                for i, u in enumerate(users)]
    barrier = threading.Barrier(len(churners))
    stop_reads = threading.Event()
    read_bad = []
    reads = [0]
    resizes = {}

    def reader():
        # The admin reads grids and the summary all along (cached reads
        # racing the writes): each grid must agree with itself.
        h = P.admin_headers(s)
        while not stop_reads.is_set():
            for lid in lots:
                r = P.request(s.port, "GET", "/api/admin/pkl/%d" % lid,
                              headers=h)
                d = (r.json or {}).get("data") or {}
                sp = d.get("spots") or []
                busy = sum(1 for x in sp if x["status"] == "O")
                if r.status != 200 or d["available_spots"] + \
                        d["occupied_spots"] != d["number_of_spots"] or \
                        len(sp) != d["number_of_spots"] or \
                        busy != d["occupied_spots"] or \
                        any(bool(x["reservation"]) != (x["status"] == "O")
                            for x in sp):
                    read_bad.append(
                        "grid %d: %d, number_of_spots %r, occupied %r, "
                        "%d spots listed, %d of them O" % (
                            lid, r.status, d.get("number_of_spots"),
                            d.get("occupied_spots"), len(sp), busy))
                reads[0] += 1
            r = P.request(s.port, "GET", "/api/admin/summary", headers=h)
            if r.status != 200:
                read_bad.append("summary: %d" % r.status)

    def resizer():
        # The admin resizes the biggest lot back and forth meanwhile.
        h = P.admin_headers(s)
        i = 0
        while not stop_reads.is_set():
            i += 1
            r = P.request(s.port, "POST", "/api/admin/pkl/update/%d"
                          % lots[2], {"number_of_spots": 16 + 8 * (i % 2)},
                          headers=h)
            code = (r.json or {}).get("code")
            if r.status != 200 and (r.status, code) != (409,
                                                        "LOT_NOT_EMPTY"):
                read_bad.append("resize: %d %r" % (r.status, r.body[:200]))
            resizes[r.status] = resizes.get(r.status, 0) + 1

    ts = [threading.Thread(target=c.run, args=(barrier,)) for c in churners]
    rt = threading.Thread(target=reader)
    zt = threading.Thread(target=resizer)
    t0 = time.monotonic()
    rt.start()
    zt.start()
    for t in ts:
        t.start()
    for t in ts:
        t.join(CHURN_SECONDS + 60)
    stop_reads.set()
    rt.join(30)
    zt.join(30)
    took = time.monotonic() - t0
    counts = {}
    for c in churners:
        for k, n in c.counts.items():
            counts[k] = counts.get(k, 0) + n
    total = sum(counts.values())
    diag("churn: %d users, %d operations in %.1f s (%.0f/s): %s" % (
        len(churners), total, took, total / took,
        ", ".join("%s %d" % kv for kv in sorted(counts.items()))))
    problems = [p for c in churners for p in c.problems]
    ok(not problems, "churn: every answer is what the model expects "
       "(200, LOT_FULL or BOOKING_LIMIT)", *problems[:10])
    ok(counts.get("book 200", 0) > 50 and counts.get("book 409 LOT_FULL", 0)
       > 0, "churn: bookings succeeded and lots filled up (a test of "
       "contention)", "  %r" % counts)
    diag("churn: %d grid reads; resizes %r" % (reads[0], resizes))
    ok(not read_bad, "churn: the admin's grid reads (%d) and resizes all "
       "succeeded meanwhile, each grid consistent: its spots, their "
       "statuses and its counts agree" % reads[0], *read_bad[:5])

    # The database equals the model.
    c = P.dbconn(s)
    rows = {r[0]: r[1:] for r in c.execute(
        "SELECT id, user_id, lot_id, status, cost_cents, hourly_cents"
        " FROM reservations WHERE lot_id IN (%s)" % ",".join("?" * len(lots)),
        lots)}
    booked = {}
    active = set()
    released = set()
    for ch in churners:
        for rid, lid in ch.booked.items():
            booked[rid] = (ch.u.id, lid)
        active |= set(ch.active)
        released |= ch.released
    is_(sorted(rows), sorted(booked), "churn: the database holds exactly "
        "the %d acknowledged bookings" % len(booked))
    bad = [rid for rid, (uid, lid) in booked.items()
           if rid in rows and rows[rid][:2] != (uid, lid)]
    is_(bad, [], "churn: each with its user and lot")
    is_(sorted(r for r in rows if rows[r][2] == "active"), sorted(active),
        "churn: the active ones are those booked and not released (%d)"
        % len(active))
    is_(sorted(r for r in rows if rows[r][2] == "completed"), sorted(released),
        "churn: the completed ones are those released (%d)" % len(released))
    ok(all(rows[r][3] == rows[r][4] for r in released if r in rows),
       "churn: each release charged one hour")
    occ = dict(c.execute("SELECT id, occupied FROM lots WHERE id IN (%s)"
                         % ",".join("?" * len(lots)), lots).fetchall())
    want = {lid: sum(1 for r in active if booked[r][1] == lid) for lid in lots}
    is_(occ, want, "churn: lots.occupied equals the model's active count")
    is_(P.overlapping_holds(c), [], "churn: no two held intervals on a "
        "spot overlap")
    c.close()
    is_(P.invariants(s), [], "churn: invariants and PRAGMA integrity_check "
        "hold")
    # The write lock serialises every check-then-write (SQLite's BEGIN
    # IMMEDIATE, PostgreSQL's advisory lock): no race reaches the schema's
    # constraints, the last line behind it.
    is_(P.constraint_refusals(s.log())[:5], [], "rush and churn: the "
        "database's constraints never had to refuse a write (the writers "
        "were serialised)")
    bad = [line for line in s.log().splitlines() if " status=5" in line]
    is_(bad[:5], [], "churn: no 5xx in parkd's log")
    # reliability.md row 3: no write transaction holds the lock 100 ms.
    # db.c logs each one that does; a worker descheduled while it holds
    # the lock on a loaded two-core machine may cause one now and then,
    # so the bound is 1% of the writes, and the count is reported.
    slow = [line for line in s.log().splitlines()
            if "write transaction held the lock" in line]
    writes = len(booked) + len(released)
    diag("churn: %d of about %d write transactions held the lock over "
         "100 ms" % (len(slow), writes))
    ok(len(slow) <= max(1, writes // 100), "churn: write transactions "
       "over 100 ms: %d (at most 1%% of %d)" % (len(slow), writes),
       *slow[:5])


def main():
    settings = {**P.FAST_HASH,
                "PARKD_MAX_ACTIVE_BOOKINGS": str(MAX_ACTIVE)}
    with T.Stack(settings=settings, workers=4) as s:
        t0 = time.monotonic()
        users = P.make_users(s, CLIENTS, prefix="rush")
        diag("%d users registered and logged in in %.1f s"
             % (CLIENTS, time.monotonic() - t0))
        test_rush(s, users)
        test_churn(s, users[:CHURN_USERS])


T.run(main)
