#!/usr/bin/env python3
"""74-windows-load.t: advance reservations under load, under SIGKILL, and
against a model (issue #16; 72-windows.t has the rules one by one).

* Property: a seeded random sequence of reserve, cancel, check-in,
  release, walk-in and "parkctl tick --now" on a 4-spot lot, one request
  at a time, against a model in Python of section 4's rules (best fit,
  the walk-in's lowest spot free for its hold, the overstay guard, the
  move at check-in, no-shows): after every step the database's
  reservations (status, spot, held interval) equal the model's, and every
  answer is the one the model predicts.
* Concurrency: 64 clients (threads, each its own HTTP connections, on 4
  workers) reserve random overlapping windows on a 10-spot lot, with
  walk-ins, cancellations and releases mixed in.  Only 200 and 409
  LOT_FULL come back; afterwards the rows that hold are exactly those the
  acknowledged answers say, no two held intervals on a spot overlap
  (checked by a query, and on the model of the answers), and the
  database's invariants hold.
* Races: one reservation cancelled from 10 threads at once: one 200,
  nine 409 CONFLICT.
* Crash: the same load while a killer sends SIGKILL to a random worker
  every 200 ms: nothing acknowledged is lost (every acknowledged
  reservation is in the database as answered; an acknowledged cancel or
  release stays done), a request fails only with 502, and the invariant
  holds.

Windows lie in the hours ahead (the clock is never moved);
PARKTEST_SEED repeats a run.
"""

import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import parktest as T  # noqa: E402
import parking as P  # noqa: E402
from parktest import diag, is_, ok  # noqa: E402

GRID = 900
H = 3600
HOLD = 4 * H        # PARKD_WALKIN_HOLD_MINUTES
GUARD = 30 * 60     # PARKD_OVERSTAY_GUARD_MINUTES
EARLY = 15 * 60
GRACE = 30 * 60
BIG = 1000000000
SEED = int(os.environ.get("PARKTEST_SEED", random.randrange(1 << 30)))


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def parse(t):
    return int(time.mktime(time.strptime(t, "%Y-%m-%dT%H:%M:%SZ"))
               - time.timezone) if t else None


def slot_now():
    return int(time.time()) // GRID * GRID


def data(r):
    return (r.json or {}).get("data")


# ---- the model ----------------------------------------------------------------


class Model:
    """Section 4 on one lot: rows {id: dict(status, spot, start, end,
    hold)} and which spots have a car."""

    def __init__(self, nspots):
        self.n = nspots
        self.rows = {}

    def holds(self, spot, but=None):
        return [r["hold"] for i, r in self.rows.items()
                if r["spot"] == spot and r["hold"] and i != but]

    def occupied(self, spot):
        return any(r["spot"] == spot and r["status"] == "active"
                   for r in self.rows.values())

    def free(self, spot, s, e, but=None):
        return all(not (a < e and b > s) for a, b in self.holds(spot, but))

    def expire(self, now):
        for r in self.rows.values():
            if r["status"] == "reserved" and r["start"] <= now - GRACE:
                r["status"], r["hold"] = "no_show", None

    def best(self, s, e, not_occupied, but=None):
        cands = []
        for sp in range(1, self.n + 1):
            if sp == but or (not_occupied and self.occupied(sp)):
                continue
            if not self.free(sp, s, e):
                continue
            before = [b for a, b in self.holds(sp) if a < e]
            after = [a for a, b in self.holds(sp) if a >= e]
            pe = max(before) if before else s - BIG
            ns = min(after) if after else e + BIG
            cands.append(((s - pe) + (ns - e), sp))
        return min(cands)[1] if cands else None

    def reserve(self, s, e, now):
        self.expire(now)
        return self.best(s, e, s < now + GUARD)

    def walkin(self, now):
        self.expire(now)
        for sp in range(1, self.n + 1):
            if not self.occupied(sp) and self.free(sp, now, now + HOLD):
                return sp
        return None

    def checkin(self, rid, now):
        """('ok', spot) or the refusal's code."""
        r = self.rows[rid]
        if r["status"] != "reserved":
            return "RESERVATION_EXPIRED" if r["status"] == "no_show" \
                else "CONFLICT"
        if now < r["start"] - EARLY:
            return "CHECKIN_TOO_EARLY"
        if now >= r["start"] + GRACE:
            self.expire(now)
            return "RESERVATION_EXPIRED"
        frm = min(now, r["start"])
        self.expire(now)
        if not self.occupied(r["spot"]) and \
                self.free(r["spot"], frm, r["end"], but=rid):
            return ("ok", r["spot"], frm)
        sp = self.best(frm, r["end"], True, but=r["spot"])
        return ("ok", sp, frm) if sp else "SPOT_OCCUPIED"


def db_rows(s, lot):
    c = P.dbconn(s)
    try:
        return {i: (st, n, hs, he) for i, st, n, hs, he in c.execute(
            "SELECT r.id, r.status, s.spot_number, r.hold_start, r.hold_end"
            " FROM reservations r JOIN spots s ON s.id = r.spot_id"
            " WHERE r.lot_id = ?", (lot,))}
    finally:
        c.close()


def model_rows(m):
    return {i: (r["status"], r["spot"], (r["hold"] or (None, None))[0],
                (r["hold"] or (None, None))[1]) for i, r in m.rows.items()}


def test_property(s, users):
    rnd = random.Random(SEED)
    lot = P.create_lot(s, number_of_spots=4, price=5)["id"]
    m = Model(4)
    steps = int(os.environ.get("PARKTEST_PROPERTY_STEPS", "160"))
    mism = []
    counts = {}
    tick_at = None
    for step in range(steps):
        u = rnd.choice(users)
        mine = [i for i, r in m.rows.items() if r["user"] == u.id]
        op = rnd.choice(["reserve"] * 5 + ["cancel", "checkin", "checkin",
                                           "release", "release", "walkin",
                                           "tick"])
        what = op
        if op == "reserve":
            # from the slot that has begun (often: check-ins need it) to
            # 10 hours ahead, 30 min..4 h
            s0 = slot_now() + GRID * (0 if rnd.random() < 0.3 else
                                      rnd.randrange(1, 40))
            e0 = s0 + GRID * rnd.randrange(2, 17)
            r = u.req("POST", "/api/user/pkl/reserve/%d" % lot, {
                "start": iso(s0), "end": iso(e0),
                "vehicle_number": "P%d" % step})
            d = data(r) or {}
            now = parse(d.get("created_at")) or int(time.time())
            want = m.reserve(s0, e0, now)
            if r.status == 200:
                got = d["spot_number"]
                m.rows[d["id"]] = dict(status="reserved", spot=got,
                                       start=s0, end=e0, hold=(s0, e0),
                                       user=u.id)
                what += " 200"
            else:
                got = (r.json or {}).get("code")
                what += " " + str(got)
            if (want or "LOT_FULL") != got:
                mism.append("step %d reserve [%s, %s): server %r, model %r"
                            % (step, iso(s0), iso(e0), got, want))
        elif op == "cancel":
            cand = [i for i in mine if m.rows[i]["status"] == "reserved"]
            if not cand:
                continue
            rid = rnd.choice(cand)
            r = u.req("POST", "/api/user/pkl/cancel",
                      {"reservation_id": rid})
            started = m.rows[rid]["start"] <= int(time.time())
            if r.status == 200:
                m.rows[rid].update(status="cancelled", hold=None)
            code = (r.json or {}).get("code")
            what += " %d" % r.status
            if (r.status != 200 and not started) or (started and not (
                    r.status == 409 and code == "RESERVATION_STARTED")):
                mism.append("step %d cancel %d: %d %s" % (step, rid,
                                                          r.status, code))
        elif op == "checkin":
            cand = [i for i in mine if m.rows[i]["status"] == "reserved"]
            if not cand:
                continue
            # mostly those whose check-in has opened, sometimes any
            due = [i for i in cand
                   if m.rows[i]["start"] - EARLY <= time.time()]
            if due and rnd.random() < 0.8:
                cand = due
            rid = rnd.choice(cand)
            r = u.req("POST", "/api/user/pkl/checkin",
                      {"reservation_id": rid})
            d = data(r) or {}
            now = parse(d.get("parking_timestamp")) or int(time.time())
            want = m.checkin(rid, now)
            if r.status == 200:
                got = ("ok", d["spot_number"], min(now, m.rows[rid]["start"]))
                m.rows[rid].update(status="active", spot=d["spot_number"],
                                   hold=(got[2], m.rows[rid]["end"]))
            else:
                got = (r.json or {}).get("code")
            what += " " + (got[0] if isinstance(got, tuple) else str(got))
            if got != want:
                mism.append("step %d checkin %d: server %r, model %r"
                            % (step, rid, got, want))
        elif op == "release":
            cand = [i for i in mine if m.rows[i]["status"] == "active"]
            if not cand:
                continue
            rid = rnd.choice(cand)
            r = u.req("POST", "/api/user/pkl/release",
                      {"reservation_id": rid})
            what += " %d" % r.status
            if r.status == 200:
                m.rows[rid].update(status="completed", hold=None)
            else:
                mism.append("step %d release %d: %d" % (step, rid, r.status))
        elif op == "walkin":
            r = u.req("POST", "/api/user/pkl/book/%d" % lot, {})
            d = data(r) or {}
            now = parse(d.get("parking_timestamp")) or int(time.time())
            want = m.walkin(now)
            if r.status == 200:
                got = d["spot_number"]
                m.rows[d["id"]] = dict(status="active", spot=got, start=now,
                                       end=None, hold=(now, now + HOLD),
                                       user=u.id)
            else:
                got = (r.json or {}).get("code")
            what += " " + ("200" if r.status == 200 else str(got))
            if (want or "LOT_FULL") != got:
                mism.append("step %d walk-in: server %r, model %r"
                            % (step, got, want))
        else:
            # a tick as of a time ahead: windows starting before it minus
            # the grace become no-shows, in both
            tick_at = slot_now() + GRID * rnd.randrange(2, 12)
            p = s.parkctl("tick", "--now", str(tick_at))
            m.expire(tick_at)
            what += " %d" % p.returncode
        counts[what] = counts.get(what, 0) + 1
        got_rows = db_rows(s, lot)
        if got_rows != model_rows(m):
            diff = sorted(set(got_rows.items()) ^ set(model_rows(m).items()),
                          key=lambda x: x[0])
            mism.append("step %d (%s): database and model differ: %r"
                        % (step, what, diff[:6]))
            # go on from the database's state, so one difference is told
            # once
            for i, (st, sp, hs, he) in got_rows.items():
                if i in m.rows:
                    m.rows[i].update(status=st, spot=sp,
                                     hold=(hs, he) if hs else None)
        if len(mism) > 10:
            break
    diag("property: %d steps: %s" % (steps, ", ".join(
        "%s %d" % kv for kv in sorted(counts.items()))))
    ok(not mism, "property: after every step the database equals the "
       "model, and every answer is the model's (seed %d)" % SEED, *mism[:10])
    ok(counts.get("reserve 200", 0) >= 10 and
       sum(n for k, n in counts.items() if k.startswith("checkin ok")) >= 1,
       "the sequence reserved and checked in (%d reserves)"
       % counts.get("reserve 200", 0))


# ---- load -----------------------------------------------------------------------


class Client:
    """One user's random requests and the answers it was given."""

    def __init__(self, u, lot, base, seed, stop, ops):
        self.u, self.lot, self.base = u, lot, base
        self.rnd = random.Random(seed)
        self.stop, self.ops = stop, ops
        self.reserved = {}   # acknowledged: id -> (spot_id, start, end)
        self.cancelled = set()
        self.walkins = {}    # acknowledged: id -> (spot_id, arrival)
        self.released = set()
        self.lost = []       # requests whose answer was lost (crash)
        self.lost_ids = set()  # cancels and releases of those
        self.failures = []   # (t0, t1, status or error)
        self.bad = []
        self.counts = {}

    def note(self, k):
        self.counts[k] = self.counts.get(k, 0) + 1

    def call(self, what, method, path, body=None):
        t0 = time.monotonic()
        try:
            r = self.u.req(method, path, body, timeout=30)
        except Exception as e:
            r = None
            self.failures.append((t0, time.monotonic(), type(e).__name__))
        if r is not None and r.status >= 500:
            self.failures.append((t0, time.monotonic(), r.status))
            r = None
        if r is None:
            self.lost.append(what)
            if body and "reservation_id" in body:
                self.lost_ids.add(body["reservation_id"])
        return r

    def reserve(self):
        s0 = self.base + GRID * self.rnd.randrange(0, 40)
        e0 = s0 + GRID * self.rnd.randrange(2, 17)
        r = self.call("reserve", "POST", "/api/user/pkl/reserve/%d" % self.lot,
                      {"start": iso(s0), "end": iso(e0),
                       "vehicle_number": "V%d" % self.rnd.randrange(1 << 30)})
        if r is None:
            return
        code = (r.json or {}).get("code")
        if r.status == 200:
            d = r.json["data"]
            self.reserved[d["id"]] = (d["spot_id"], s0, e0)
            self.note("reserve 200")
        elif r.status == 409 and code == "LOT_FULL":
            self.note("reserve LOT_FULL")
        else:
            self.bad.append("reserve: %d %r" % (r.status, r.body[:200]))

    def cancel(self):
        cand = sorted(set(self.reserved) - self.cancelled)
        if not cand:
            return self.reserve()
        rid = self.rnd.choice(cand)
        r = self.call("cancel", "POST", "/api/user/pkl/cancel",
                      {"reservation_id": rid})
        if r is None:
            return
        code = (r.json or {}).get("code")
        if r.status == 200 or (r.status == 409 and code == "CONFLICT" and
                               rid in self.lost_ids):
            # (409: a cancel whose answer was lost had done it)
            self.cancelled.add(rid)
            self.note("cancel %d" % r.status)
        else:
            self.bad.append("cancel %d: %d %r" % (rid, r.status,
                                                  r.body[:200]))

    def walkin(self):
        r = self.call("walkin", "POST", "/api/user/pkl/book/%d" % self.lot,
                      {})
        if r is None:
            return
        code = (r.json or {}).get("code")
        if r.status == 200:
            d = r.json["data"]
            self.walkins[d["id"]] = (d["spot_id"],
                                     parse(d["parking_timestamp"]))
            self.note("walk-in 200")
        elif r.status == 409 and code == "LOT_FULL":
            self.note("walk-in LOT_FULL")
        else:
            self.bad.append("walk-in: %d %r" % (r.status, r.body[:200]))

    def release(self):
        cand = sorted(set(self.walkins) - self.released)
        if not cand:
            return self.walkin()
        rid = self.rnd.choice(cand)
        r = self.call("release", "POST", "/api/user/pkl/release",
                      {"reservation_id": rid})
        if r is None:
            return
        code = (r.json or {}).get("code")
        if r.status == 200 or (r.status == 409 and
                               code == "NO_ACTIVE_RESERVATION" and
                               rid in self.lost_ids):
            self.released.add(rid)
            self.note("release %d" % r.status)
        else:
            self.bad.append("release %d: %d %r" % (rid, r.status,
                                                   r.body[:200]))

    def run(self):
        n = 0
        while not self.stop.is_set() and (self.ops is None or n < self.ops):
            n += 1
            x = self.rnd.random()
            if x < 0.55:
                self.reserve()
            elif x < 0.7:
                self.cancel()
            elif x < 0.85:
                self.walkin()
            else:
                self.release()


def killer(s, stop, kills, bad, workers):
    first_seen = {}
    rnd = random.Random(SEED)
    while not stop.is_set():
        tick = time.monotonic()
        pids = s.worker_pids()
        for p in pids:
            first_seen.setdefault(p, tick)
        old = [p for p in pids if tick - first_seen[p] >= 1.0]
        if old:
            victim = rnd.choice(old)
            try:
                os.kill(victim, signal.SIGKILL)
                kills.append(time.monotonic())
            except ProcessLookupError:
                pass
            new, waited = s.wait_workers(workers, timeout=5, not_in=[victim])
            if new is None:
                bad.append("after killing %d: no replacement in %.1f s"
                           % (victim, waited))
        left = 0.2 - (time.monotonic() - tick)
        if left > 0:
            time.sleep(left)


def check_load(s, lot, clients, crash, what):
    counts = {}
    for c in clients:
        for k, n in c.counts.items():
            counts[k] = counts.get(k, 0) + n
    failures = [f for c in clients for f in c.failures]
    diag("%s: %s; %d lost answers" % (what, ", ".join(
        "%s %d" % kv for kv in sorted(counts.items())), len(failures)))
    bad = [b for c in clients for b in c.bad]
    ok(not bad, "%s: every answer was 200 or 409 LOT_FULL" % what, *bad[:10])
    if crash:
        is_(sorted(set(str(f[2]) for f in failures) - {"502"}), [],
            "%s: failed requests all got 502 (the worker died)" % what)
    else:
        is_(failures, [], "%s: no request failed" % what)
    ok(counts.get("reserve 200", 0) >= 20 and
       counts.get("reserve LOT_FULL", 0) >= 5,
       "%s: reservations were made and refused (%d, %d)"
       % (what, counts.get("reserve 200", 0),
          counts.get("reserve LOT_FULL", 0)))

    c = P.dbconn(s)
    try:
        rows = {i: (st, sp, hs, he) for i, st, sp, hs, he in c.execute(
            "SELECT id, status, spot_id, hold_start, hold_end"
            " FROM reservations WHERE lot_id = ?", (lot,))}
        overl = P.overlapping_holds(c)
    finally:
        c.close()
    is_(overl, [], "%s: no two held intervals on a spot overlap (query)"
        % what)
    # the model of the acknowledged answers
    want = {}
    for cl in clients:
        for rid, (sp, s0, e0) in cl.reserved.items():
            if rid not in cl.cancelled:
                want[rid] = ("reserved", sp, s0, e0)
        for rid, (sp, t) in cl.walkins.items():
            if rid not in cl.released:
                want[rid] = ("active", sp, t, t + HOLD)
    per_spot = {}
    for st, sp, a, b in want.values():
        per_spot.setdefault(sp, []).append((a, b))
    clash = []
    for sp, iv in per_spot.items():
        iv.sort()
        clash += [(sp, x, y) for x, y in zip(iv, iv[1:]) if y[0] < x[1]]
    is_(clash, [], "%s: the acknowledged answers overlap nowhere either"
        % what)
    lost_acks = []
    for cl in clients:
        for rid, (sp, s0, e0) in cl.reserved.items():
            r = rows.get(rid)
            if rid in cl.lost_ids and r is not None and r[1] == sp and \
                    r[0] in ("reserved", "cancelled"):
                continue  # its cancel's answer was lost: either is right
            if r is None or r[1] != sp or (
                    rid not in cl.cancelled and r[:1] != ("reserved",)) or (
                    rid in cl.cancelled and r[0] != "cancelled"):
                lost_acks.append("reservation %d: %r" % (rid, r))
        for rid, (sp, t) in cl.walkins.items():
            r = rows.get(rid)
            if rid in cl.lost_ids and r is not None and r[1] == sp and \
                    r[0] in ("active", "completed"):
                continue  # its release's answer was lost
            if r is None or r[1] != sp or (rid in cl.released) != (
                    r[0] == "completed"):
                lost_acks.append("walk-in %d: %r" % (rid, r))
    ok(not lost_acks, "%s: every acknowledged answer is in the database as "
       "answered" % what, *lost_acks[:10])
    holding = {i: (r[0], r[1], r[2], r[3]) for i, r in rows.items()
               if r[2] is not None}
    extra = sorted(set(holding) - set(want))
    if crash:
        undone = set().union(*(cl.lost_ids for cl in clients))
        gone = sorted(set(want) - set(holding) - undone)
        is_(gone, [], "%s: every acknowledged hold is held" % what)
    if crash:
        # a reservation or walk-in whose answer was lost may have
        # committed: the only rows that hold beyond the model
        lost_n = sum(1 for cl in clients for w in cl.lost
                     if w in ("reserve", "walkin"))
        ok(len(extra) <= lost_n, "%s: rows that hold beyond the answers: "
           "%d, at most the %d lost answers" % (what, len(extra), lost_n))
    else:
        is_(holding, want, "%s: the rows that hold are exactly those the "
            "answers say" % what)
    is_(P.invariants(s), [], "%s: the database's invariants hold" % what)
    # The write lock serialises every check-then-write (SQLite's BEGIN
    # IMMEDIATE, PostgreSQL's advisory lock): no race reaches the schema's
    # constraints (the holds' exclusion), the last line behind it.
    is_(P.constraint_refusals(s.log())[:5], [], "%s: the database's "
        "constraints never had to refuse a write (the writers were "
        "serialised)" % what)


def test_cancel_race(s, users):
    """One reservation cancelled by its owner from 10 threads at once,
    three times: exactly one cancel commits (200), the nine others find it
    cancelled (409 CONFLICT); the cancel takes no lock of the lot's, so
    only the write lock keeps two from both seeing it reserved."""
    lot = P.create_lot(s, number_of_spots=2, price=3)["id"]
    u = users[0]
    for round_ in range(1, 4):
        s0 = slot_now() + (4 + round_) * H
        r = u.req("POST", "/api/user/pkl/reserve/%d" % lot,
                  {"start": iso(s0), "end": iso(s0 + H),
                   "vehicle_number": "RACE %d" % round_})
        rid = (data(r) or {}).get("id")
        ok(r.status == 200 and rid, "round %d: a reservation" % round_,
           "  %d %r" % (r.status, r.body[:200]))
        barrier = threading.Barrier(10)
        out = [None] * 10

        def one(i):
            barrier.wait()
            try:
                a = u.req("POST", "/api/user/pkl/cancel",
                          {"reservation_id": rid})
                out[i] = (a.status, (a.json or {}).get("code"))
            except Exception as e:  # counted as a wrong answer
                out[i] = (type(e).__name__, str(e))

        ts = [threading.Thread(target=one, args=(i,)) for i in range(10)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        is_(sorted(out, key=str), [(200, None)] + [(409, "CONFLICT")] * 9,
            "a reservation cancelled 10 times at once, round %d: one 200, "
            "nine 409 CONFLICT" % round_)
    is_(P.invariants(s), [], "after the cancels: the database's invariants "
        "hold")


def test_load(s, users, crash):
    what = "crash" if crash else "concurrency"
    lot = P.create_lot(s, number_of_spots=10, price=3)["id"]
    base = slot_now() + H
    stop = threading.Event()
    clients = [Client(u, lot, base, SEED * 7 + i + (1000 if crash else 0),
                      stop, None if crash else 12)
               for i, u in enumerate(users)]
    ts = [threading.Thread(target=c.run) for c in clients]
    kills, kill_bad = [], []
    kstop = threading.Event()
    kt = threading.Thread(target=killer, args=(s, kstop, kills, kill_bad,
                                               4))
    for t in ts:
        t.start()
    if crash:
        time.sleep(0.3)
        kt.start()
        time.sleep(float(os.environ.get("PARKTEST_CRASH_SECONDS", "8")))
        kstop.set()
        kt.join(30)
        time.sleep(0.5)
        stop.set()
    for t in ts:
        t.join(120)
    if crash:
        ok(len(kills) >= 5, "crash: workers killed during the load (%d)"
           % len(kills))
        is_(kill_bad, [], "crash: every killed worker was replaced")
    check_load(s, lot, clients, crash, what)


def main():
    settings = {**P.FAST_HASH, "PARKD_MAX_ACTIVE_BOOKINGS": "100",
                "PARKD_RESERVATION_LIMIT": "100"}
    diag("seed %d (PARKTEST_SEED to repeat)" % SEED)
    with T.Stack(settings=settings, workers=4) as s:
        users = P.make_users(s, 64, prefix="load", threads=8)
        test_property(s, users[:4])
        test_cancel_race(s, users)
        test_load(s, users, crash=False)
        test_load(s, users, crash=True)


T.run(main)
