#!/usr/bin/env python3
"""78-windows-fresh.t: availability and a day's slots are never stale
(issue #16).

Each worker keeps the availability of a window and a day's slots it
rendered (memo.c), for the database's data version and the clock range in
which the answer holds, and a copy in Redis under the lot's version (any
worker's first read after a write elsewhere).  Here 4 workers answer; every read is made 12
times, so that every worker has the answer memoised, and then the lot is
changed by another request (any worker) or by a process of the test's
own writing the database behind parkd's back: a reservation made, a
walk-in booked over the window, released, the reservation cancelled, one
made and cancelled in the file directly.  Each read after a change must
show it at once, on every worker.  (Keyed without the data version, the
memo would answer the old count, and so would Redis keyed without the
lot's version: how this test was checked to fail, 4 and 8 points.)
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import parktest as T  # noqa: E402
import parking as P  # noqa: E402
from parktest import is_, ok  # noqa: E402

GRID = 900
H = 3600
READS = 12


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def data(r):
    return (r.json or {}).get("data")


def reads(u, lot, s, e):
    """(availability counts, slot counts) of READS reads each: the window's
    available_spots, and the slot at s of the day's slots."""
    av, sl = [], []
    for _ in range(READS):
        r = u.req("GET", "/api/user/pkl/availability/%d?start=%s&end=%s" %
                  (lot, iso(s), iso(e)))
        av.append(data(r).get("available_spots") if r.status == 200
                  else "%d %r" % (r.status, r.body[:120]))
        r = u.req("GET", "/api/user/pkl/slots/%d?date=%s" %
                  (lot, time.strftime("%Y-%m-%d", time.gmtime(s))))
        got = None
        if r.status == 200:
            for x in data(r) or []:
                if x.get("start") == iso(s):
                    got = x.get("available_spots")
        else:
            got = "%d %r" % (r.status, r.body[:120])
        sl.append(got)
    return av, sl


def expect(u, lot, s, e, n, what):
    av, sl = reads(u, lot, s, e)
    is_(av, [n] * READS, "availability after %s: %d on every read" %
        (what, n))
    is_(sl, [n] * READS, "the day's slots after %s: %d on every read" %
        (what, n))


def main():
    with T.Stack(workers=4, settings={"TIMEZONE": "UTC"}) as s:
        u, v = P.make_users(s, 2, prefix="fresh")
        lot = P.create_lot(s, number_of_spots=2)["id"]
        # a 30-minute window starting in 1 to 1.5 hours, within one UTC
        # day, inside the walk-in hold (4 hours) of a car booked now
        st = (int(time.time()) // GRID + 5) * GRID
        if st % 86400 > 86400 - 1800:
            st += 1800
        en = st + 1800

        expect(u, lot, st, en, 2, "nothing")
        r = v.req("POST", "/api/user/pkl/reserve/%d" % lot,
                  {"start": iso(st), "end": iso(en)})
        is_(r.status, 200, "v reserves the window")
        rid = (data(r) or {}).get("id")
        expect(u, lot, st, en, 1, "a reservation")
        r = u.req("POST", "/api/user/pkl/book/%d" % lot, {})
        is_(r.status, 200, "u books a walk-in (its hold covers the window)")
        expect(u, lot, st, en, 0, "a walk-in")
        r = u.req("POST", "/api/user/pkl/release", {})
        is_(r.status, 200, "u releases")
        expect(u, lot, st, en, 1, "the release")
        r = v.req("POST", "/api/user/pkl/cancel", {"reservation_id": rid})
        is_(r.status, 200, "v cancels")
        expect(u, lot, st, en, 2, "the cancel")

        # behind parkd's back: no worker wrote these
        r = v.req("POST", "/api/user/pkl/reserve/%d" % lot,
                  {"start": iso(st), "end": iso(en)})
        rid = (data(r) or {}).get("id")
        ok(r.status == 200 and rid, "v reserves again")
        expect(u, lot, st, en, 1, "the second reservation")
        c = P.dbconn(s)
        try:
            c.execute("BEGIN IMMEDIATE")
            c.execute("UPDATE reservations SET status = 'cancelled',"
                      " leaving_ts = parking_ts, cost_cents = 0,"
                      " hold_start = NULL, hold_end = NULL WHERE id = ?",
                      (rid,))
            c.execute("COMMIT")
        finally:
            c.close()
        expect(u, lot, st, en, 2, "a cancel written by another process")
        is_(P.invariants(s), [], "every invariant of the database holds")


T.run(main)
