#!/usr/bin/env python3
"""72-windows.t: advance reservations, end to end (issue #16,
../shared/docs/api-contract.md section 4).

Every rule of section 4 through real nginx, parkd and Redis:

* windows: RFC 3339 with Z or an offset (answers in UTC); 29 minutes,
  24 h 15 min, off the grid, in the past, 31 days ahead, end before start,
  bad text: 400 with details.start / details.end; a window whose grid slot
  has begun is allowed; operating hours (400 OUTSIDE_OPERATING_HOURS, read
  in TIMEZONE=Europe/Berlin), the day slots of Berlin's change days
  (2026-03-29: 23 hours, 2026-10-25: 25), and (a second stack that takes
  reservations a year ahead) a window across the change of 2027-03-28
  computed on real UTC instants;
* allocation: windows touching end to start share a spot, an overlap is
  LOT_FULL, best fit (the smallest free gap) against "lowest free", a
  walk-in takes the lowest spot free for its 4-hour hold (the grid shows
  the others as R), a spot with a car on it is never given to a window
  starting within 30 minutes but is to a later one;
* per user: RESERVATION_LIMIT, OVERLAPPING_RESERVATION (same vehicle, or
  one without), different vehicles may overlap;
* check-in: too early, early (the hold starts at the arrival), late in
  the grace, after it (RESERVATION_EXPIRED, a no-show charged 1 hour),
  onto a spot an overstaying car holds (moved; SPOT_OCCUPIED when nothing
  is free), early onto a spot reserved until then (moved, saying so); a no-show's spot is free again at once (before any job ran);
* cancel before the start (free), after it (RESERVATION_STARTED), another
  user's (404); release cost from min(start, arrival) to max(end, leaving);
  a price change never changes a reservation made;
* availability, the lot list with a window, slots, the admin timeline, the
  book list's status=reserved / no_show and upcoming=true;
* lots: shrink, deactivate, delete with upcoming reservations: 409
  LOT_HAS_RESERVATIONS with the count, or cancel_reservations cancels them
  and queues an e-mail to each user;
* and after all of it the database's invariants (parking.invariants():
  counters, no two overlapping holds on a spot).

Time: windows are in the near future; to be "at" a time the test moves a
reservation's times in the database file (as 55-parking.t moves bookings
back), never the clock.
"""

import csv
import datetime
import os
import sys
import time
import zoneinfo

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import parktest as T  # noqa: E402
import parking as P  # noqa: E402
from parktest import diag, is_, ok  # noqa: E402

GRID = 900
H = 3600
ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"


def iso(t):
    return time.strftime(ISO_UTC, time.gmtime(t))


def slot_now():
    """The start of the current grid slot."""
    return int(time.time()) // GRID * GRID


def data(r):
    return (r.json or {}).get("data")


def err(r, status, code, what, field=None):
    j = r.json or {}
    det = j.get("details") or {}
    good = (r.status == status and j.get("success") is False
            and j.get("code") == code)
    if field is not None:
        good = good and isinstance(det.get(field), list) and det[field]
    return ok(good, what, "  %d %r" % (r.status, r.body[:400]))


def reserve(u, lot, start, end, vehicle=None):
    body = {"start": start if isinstance(start, str) else iso(start),
            "end": end if isinstance(end, str) else iso(end)}
    if vehicle is not None:
        body["vehicle_number"] = vehicle
    return u.req("POST", "/api/user/pkl/reserve/%d" % lot, body)


def shift(s, rid, delta):
    """Moves reservation rid's window, hold and placeholder arrival by
    delta seconds (the test's way of being later in time)."""
    P.db_write(s, ("UPDATE reservations SET start_time = start_time + ?1,"
                   " end_time = end_time + ?1, hold_start = hold_start + ?1,"
                   " hold_end = hold_end + ?1, parking_ts = parking_ts + ?1"
                   " WHERE id = ?2", (delta, rid),
                   "UPDATE reservations SET start_time = start_time +"
                   " make_interval(secs => ?1), end_time = end_time +"
                   " make_interval(secs => ?1), hold_start = hold_start +"
                   " make_interval(secs => ?1), hold_end = hold_end +"
                   " make_interval(secs => ?1), parking_ts = parking_ts +"
                   " make_interval(secs => ?1) WHERE id = ?2"))


def row(s, rid):
    c = P.dbconn(s)
    try:
        return c.execute(
            "SELECT status, spot_id, parking_ts, start_time, end_time,"
            " hold_start, hold_end, cost_cents FROM reservations WHERE id = ?",
            (rid,)).fetchone()
    finally:
        c.close()


def spot_no(s, spot_id):
    c = P.dbconn(s)
    try:
        return c.execute("SELECT spot_number FROM spots WHERE id = ?",
                         (spot_id,)).fetchone()[0]
    finally:
        c.close()


# ---- the window's rules ------------------------------------------------------


def test_window_rules(s, u, lot):
    base = slot_now() + 2 * H
    for what, st, en, field in [
            ("29 minutes", iso(base), iso(base + 29 * 60), None),
            ("24 h 15 min", iso(base), iso(base + 24 * H + GRID), "end"),
            ("off the grid", iso(base + 60), iso(base + H), "start"),
            ("end before start", iso(base + H), iso(base), "end"),
            ("in the past", iso(slot_now() - GRID),
             iso(slot_now() + H), "start"),
            ("31 days ahead", iso(base + 31 * 86400),
             iso(base + 31 * 86400 + H), "start"),
            ("not RFC 3339", "2026-12-08 10:00", iso(base + H), "start"),
            ("no zone", "2027-01-05T10:00:00", iso(base + H), "start"),
            ("a fraction of a second", iso(base)[:-1] + ".5Z",
             iso(base + H), "start")]:
        r = reserve(u, lot, st, en)
        if field is None:
            # 29 minutes is off the grid as well: either end is named
            j = r.json or {}
            ok(r.status == 400 and j.get("code") == "VALIDATION" and
               (j.get("details") or {}).keys() & {"start", "end"},
               "a window of %s: 400" % what, "  %d %r" % (r.status, r.body))
        else:
            err(r, 400, "VALIDATION", "a window %s: 400 with details.%s"
                % (what, field), field)
    # 30 minutes (the shortest on the grid) and exactly 24 hours are fine
    r = reserve(u, lot, base, base + 30 * 60)
    is_(r.status, 200, "30 minutes is the shortest window")
    rid30 = (data(r) or {}).get("id")
    r = reserve(u, lot, base + 2 * 86400, base + 3 * 86400)
    is_(r.status, 200, "24 hours is the longest")
    rid24 = (data(r) or {}).get("id")
    # an offset in, UTC out; the current grid slot may still be taken
    local = datetime.datetime.fromtimestamp(
        base + 5 * H, datetime.timezone(datetime.timedelta(hours=5,
                                                           minutes=30)))
    r = reserve(u, lot, local.isoformat(), iso(base + 6 * H))
    d = data(r) or {}
    ok(r.status == 200 and d.get("start_time") == iso(base + 5 * H)
       and d.get("end_time") == iso(base + 6 * H),
       "an offset (+05:30) in, the UTC instant with Z out",
       "  %d %r" % (r.status, r.body[:300]))
    ridoff = d.get("id")
    r = reserve(u, lot, slot_now(), slot_now() + H)
    is_(r.status, 200, "a window whose grid slot has begun is allowed")
    ridnow = (data(r) or {}).get("id")
    d = data(r) or {}
    is_(sorted(k for k in ("start_time", "end_time", "is_overdue")
               if k in d), ["end_time", "is_overdue", "start_time"],
        "the reservation object has start_time, end_time, is_overdue")
    ok(d.get("status") == "reserved" and d.get("parking_cost") == 0.0
       and d.get("is_active") is False, "status reserved, cost 0.0",
       "  %r" % d)
    for rid in (rid30, rid24, ridoff):
        u.req("POST", "/api/user/pkl/cancel", {"reservation_id": rid})
    # the one that has begun cannot be cancelled: checked in and left
    u.req("POST", "/api/user/pkl/checkin", {"reservation_id": ridnow})
    u.req("POST", "/api/user/pkl/release", {"reservation_id": ridnow})


def test_hours(s, u):
    """Operating hours in TIMEZONE (Europe/Berlin here)."""
    lot = P.create_lot(s, number_of_spots=2, operating_hours_start="08:00",
                       operating_hours_end="20:00")["id"]
    day = datetime.date.today() + datetime.timedelta(days=3)
    berlin = datetime.timezone(datetime.timedelta(hours=1))  # CET, winter
    # (the test runs in December .. February; a summer date would be +2)
    if not (day.month in (11, 12, 1, 2)):
        T.skip("operating hours in CET", "not winter")
        return lot

    def at(h, m=0):
        return datetime.datetime(day.year, day.month, day.day, h, m,
                                 tzinfo=berlin).isoformat()

    r = reserve(u, lot, at(8), at(20))
    is_(r.status, 200, "08:00-20:00 Berlin: the whole opening fits")
    if r.status == 200:
        u.req("POST", "/api/user/pkl/cancel",
              {"reservation_id": data(r)["id"]})
    r = reserve(u, lot, at(7, 45), at(9))
    err(r, 400, "OUTSIDE_OPERATING_HOURS", "07:45 Berlin is before opening")
    r = reserve(u, lot, at(19), at(20, 15))
    err(r, 400, "OUTSIDE_OPERATING_HOURS", "20:15 Berlin is after closing")
    r = reserve(u, lot, "%sT06:45:00Z" % day, "%sT08:00:00Z" % day)
    err(r, 400, "OUTSIDE_OPERATING_HOURS", "06:45Z (07:45 Berlin) is "
        "outside: hours are read in TIMEZONE, not UTC")
    r = reserve(u, lot, "%sT07:00:00Z" % day, "%sT08:00:00Z" % day)
    is_(r.status, 200, "07:00Z (08:00 Berlin) is inside")
    if r.status == 200:
        u.req("POST", "/api/user/pkl/cancel",
              {"reservation_id": data(r)["id"]})
    r = u.req("GET", "/api/user/pkl/slots/%d?date=%s" % (lot, day))
    sl = data(r) or []
    ok(r.status == 200 and len(sl) == 48 and sl[0]["start"] ==
       "%sT07:00:00Z" % day and sl[-1]["end"] == "%sT19:00:00Z" % day and
       all(x["available_spots"] == 2 for x in sl),
       "slots: 48 of 15 minutes, 08:00-20:00 Berlin in UTC, 2 free each",
       "  %d %r" % (r.status, r.body[:300]))
    return lot


def test_dst_slots(s, u, lot_all_day):
    """A day of the site's zone is 23 or 25 hours on the change days."""
    for day, n in (("2026-03-29", 92), ("2026-10-25", 100),
                   ("2026-06-01", 96)):
        r = u.req("GET", "/api/user/pkl/slots/%d?date=%s" % (lot_all_day,
                                                             day))
        sl = data(r) or []
        is_((r.status, len(sl)), (200, n), "Berlin %s has %d slots of 15 "
            "minutes" % (day, n))
    r = u.req("GET", "/api/user/pkl/slots/%d?date=2026-03-29" % lot_all_day)
    sl = data(r) or []
    ok(sl and sl[0]["start"] == "2026-03-28T23:00:00Z" and
       sl[-1]["end"] == "2026-03-29T22:00:00Z",
       "2026-03-29 Berlin runs from 23:00Z to 22:00Z", "  %r" % sl[:1])
    # with hours 01:00-05:00 the spring day has 3 real hours, autumn's 5
    lot = P.create_lot(s, number_of_spots=1, operating_hours_start="01:00",
                       operating_hours_end="05:00")["id"]
    for day, n in (("2026-03-29", 12), ("2026-10-25", 20)):
        r = u.req("GET", "/api/user/pkl/slots/%d?date=%s" % (lot, day))
        is_((r.status, len(data(r) or [])), (200, n),
            "01:00-05:00 Berlin on %s: %d slots" % (day, n))
    r = u.req("GET", "/api/user/pkl/slots/%d?date=2026-02-30" % lot)
    err(r, 400, "VALIDATION", "slots of 2026-02-30: 400", "date")
    r = u.req("GET", "/api/user/pkl/slots/%d" % lot)
    err(r, 400, "VALIDATION", "slots without a date: 400", "date")


# ---- allocation --------------------------------------------------------------


def test_touching(s, u, v, w):
    lot = P.create_lot(s, number_of_spots=1)["id"]
    base = slot_now() + 3 * H
    a = reserve(u, lot, base, base + H)
    b = reserve(v, lot, base + H, base + 2 * H)
    c = reserve(v, lot, base - H, base)
    ok(a.status == 200 and b.status == 200 and c.status == 200 and
       data(a)["spot_id"] == data(b)["spot_id"] == data(c)["spot_id"],
       "windows touching end to start share the one spot",
       "  %d %d %d" % (a.status, b.status, c.status))
    err(reserve(w, lot, base + 45 * 60, base + H + 15 * 60), 409, "LOT_FULL",
        "a window overlapping by 15 minutes on each side: LOT_FULL")
    err(reserve(w, lot, base - 2 * H, base + 15 * 60), 409, "LOT_FULL",
        "one overlapping the start by 15 minutes: LOT_FULL")
    r = u.req("GET", "/api/user/pkl/availability/%d?start=%s&end=%s" % (
        lot, iso(base), iso(base + 2 * H)))
    is_(data(r), {"lot_id": lot, "start": iso(base),
                  "end": iso(base + 2 * H), "available_spots": 0,
                  "total_spots": 1}, "availability of the held window: 0")
    r = u.req("GET", "/api/user/pkl/availability/%d?start=%s&end=%s" % (
        lot, iso(base + 2 * H), iso(base + 3 * H)))
    is_((data(r) or {}).get("available_spots"), 1,
        "availability right after: 1")
    r = u.req("GET", "/api/user/pkl/availability/%d?start=%s&end=%s" % (
        lot, iso(base + 30 * 60), iso(base + 60 * 60)))
    is_((data(r) or {}).get("available_spots"), 0,
        "availability inside a hold that began before the window: 0")
    day = time.strftime("%Y-%m-%d", time.gmtime(base + 2 * H))
    r = u.req("GET", "/api/user/pkl/slots/%d?date=%s" % (lot, day))
    sl = {x["start"]: x["available_spots"] for x in data(r) or []}
    want = {iso(t): 0 for t in range(base - H, base + 2 * H, GRID)}
    ok(all(sl.get(k, 0) == 0 for k in want if k in sl) and
       sl.get(iso(base + 2 * H)) in (1, None) and
       sl.get(iso(base - H - GRID)) in (1, None),
       "slots: the three held hours are taken, the slots around them free",
       "  %r" % {k: sl.get(k) for k in list(want)[:3]})
    err(u.req("GET", "/api/user/pkl/availability/%d?start=%s" % (
        lot, iso(base))), 400, "VALIDATION", "availability without end",
        "end")
    err(u.req("GET", "/api/user/pkl/availability/999999?start=%s&end=%s" % (
        iso(base), iso(base + H))), 404, "NOT_FOUND",
        "availability of no lot: 404")
    for r in (a, b, c):
        rid = data(r)["id"]
        (u if r is a else v).req("POST", "/api/user/pkl/cancel",
                                 {"reservation_id": rid})


def test_best_fit(s, users):
    lot = P.create_lot(s, number_of_spots=3)["id"]
    cet = datetime.timezone(datetime.timedelta(hours=1))
    day = datetime.date.today() + datetime.timedelta(days=2)
    # 02:00 Berlin (winter) on the day after tomorrow: every window below
    # lies on that day there
    T0 = int(datetime.datetime(day.year, day.month, day.day, 2,
                               tzinfo=cet).timestamp())
    got = []
    for i, (a, b) in enumerate([(0, 2), (0, 2), (4, 6), (4, 6)]):
        r = reserve(users[i], lot, T0 + a * H, T0 + b * H)
        got.append((r.status, (data(r) or {}).get("spot_number"),
                    (data(r) or {}).get("id")))
    is_([g[:2] for g in got], [(200, 1), (200, 2), (200, 1), (200, 2)],
        "best fit: [0,2) on 1 and 2; [4,6) on 1 (gap 2 h + open, tie to "
        "the lowest) and 2")
    users[0].req("POST", "/api/user/pkl/cancel",
                 {"reservation_id": got[0][2]})
    r = reserve(users[4], lot, T0 + 2 * H, T0 + 4 * H)
    is_((r.status, (data(r) or {}).get("spot_number")), (200, 2),
        "with spot 1 free before [4,6), [2,4) goes to spot 2, whose gap it "
        "fills exactly, not to spot 1, the lowest free")
    r = reserve(users[5], lot, T0, T0 + H)
    is_((r.status, (data(r) or {}).get("spot_number")), (200, 1),
        "[0,1) goes to spot 1 (gap from nothing to 4 h beats spot 3's "
        "open both sides)")
    r = u_list = users[5].req("GET", "/api/user/pkl/list?start=%s&end=%s" % (
        iso(T0), iso(T0 + 2 * H)))
    mine = [x for x in (data(u_list) or []) if x["id"] == lot]
    ok(r.status == 200 and mine and
       mine[0].get("window_available_spots") == 1 and
       mine[0].get("available_spots") == 3,
       "the lot list with a window: window_available_spots 1 (spot 3), "
       "available now 3", "  %r" % mine)
    err(users[5].req("GET", "/api/user/pkl/list?start=%s" % iso(T0)), 400,
        "VALIDATION", "the list with start but no end: 400", "end")
    r = users[5].req("GET", "/api/user/pkl/list")
    ok(r.status == 200 and all("window_available_spots" not in x
                               for x in data(r) or []),
       "the list without a window has no window_available_spots")
    # the admin's timeline of that day (the site is Berlin)
    r = s.req("GET", "/api/admin/pkl/%d/timeline?date=%s" % (lot, day),
              headers=P.admin_headers(s))
    d = data(r) or {}
    iv = {sp["spot_number"]: [(x["status"], x["start"], x["end"])
                              for x in sp["intervals"]]
          for sp in d.get("spots", [])}
    ok(r.status == 200 and d.get("lot_id") == lot and
       ("reserved", iso(T0 + 4 * H), iso(T0 + 6 * H)) in iv.get(1, []) and
       ("reserved", iso(T0 + 2 * H), iso(T0 + 4 * H)) in iv.get(2, []) and
       iv.get(3) == [],
       "the admin's timeline: each spot's intervals with status",
       "  %d %r" % (r.status, r.body[:500]))
    err(users[0].req("GET", "/api/admin/pkl/%d/timeline?date=%s" % (lot,
                                                                  day)),
        403, "FORBIDDEN", "a user may not read the timeline")
    return lot


def test_walkin_hold(s, u, v):
    """A walk-in takes the lowest spot free for [now, now + 4 h)."""
    lot = P.create_lot(s, number_of_spots=2)["id"]
    r = reserve(u, lot, slot_now() + 2 * H, slot_now() + 3 * H)
    is_((r.status, (data(r) or {}).get("spot_number")), (200, 1),
        "a reservation 2 hours ahead on spot 1")
    rid = (data(r) or {}).get("id")
    g = s.req("GET", "/api/admin/pkl/%d" % lot, headers=P.admin_headers(s))
    st = [x["status"] for x in (data(g) or {}).get("spots", [])]
    is_(st, ["R", "A"], "the grid shows spot 1 as R (reserved within the "
        "walk-in hold), spot 2 A")
    gd = data(g) or {}
    is_((gd.get("available_spots"), gd.get("occupied_spots")), (2, 0),
        "R counts as available")
    r = v.req("POST", "/api/user/pkl/book/%d" % lot, {})
    is_((r.status, (data(r) or {}).get("spot_number")), (200, 2),
        "a walk-in skips spot 1 (held within 4 h) for spot 2")
    wid = (data(r) or {}).get("id")
    d = data(r) or {}
    ok(d.get("end_time") is None and d.get("start_time") ==
       d.get("parking_timestamp") and d.get("is_overdue") is False,
       "a walk-in: end_time null, start_time its arrival", "  %r" % d)
    hs = row(s, wid)
    ok(hs[5] == hs[2] and hs[6] == hs[2] + 4 * H,
       "its hold is [arrival, arrival + 4 h)", "  %r" % (hs,))
    err(u.req("POST", "/api/user/pkl/book/%d" % lot, {}), 409, "LOT_FULL",
        "another walk-in: LOT_FULL (spot 1 is held within its 4 hours)")
    # after the hold (moved back), the walk-in car overstays: spot 2 is
    # occupied now and no window starting within 30 minutes gets it
    P.db_write(s, ("UPDATE reservations SET parking_ts = parking_ts - 5 * "
                   "3600, hold_start = hold_start - 5 * 3600, hold_end = "
                   "hold_end - 5 * 3600, created_at = created_at - 5 * 3600"
                   " WHERE id = ?", (wid,),
                   "UPDATE reservations SET parking_ts = parking_ts -"
                   " interval '5 hours', hold_start = hold_start - interval"
                   " '5 hours', hold_end = hold_end - interval '5 hours',"
                   " created_at = created_at - interval '5 hours'"
                   " WHERE id = ?"))
    u.req("POST", "/api/user/pkl/cancel", {"reservation_id": rid})
    r = reserve(u, lot, slot_now(), slot_now() + H)
    is_((r.status, (data(r) or {}).get("spot_number")), (200, 1),
        "a window starting now: spot 1, never spot 2 with a car on it")
    r2 = reserve(v, lot, slot_now(), slot_now() + H, vehicle="OTHER1")
    err(r2, 409, "LOT_FULL", "a second one starting now: LOT_FULL (spot 2 "
        "is occupied by an overstaying car)")
    r3 = reserve(v, lot, slot_now() + 2 * H, slot_now() + 3 * H,
                 vehicle="OTHER2")
    ok(r3.status == 200, "a window 2 hours ahead may take spot 2 (beyond "
       "the overstay guard)", "  %d %r" % (r3.status, r3.body[:200]))
    o = v.req("GET", "/api/user/pkl/book/list?status=active")
    w = [x for x in data(o) or [] if x["id"] == wid]
    ok(w and w[0]["is_overdue"] is False, "a walk-in past its hold is not "
       "overdue (it has no end)")
    for who, x in ((u, r), (v, r3)):
        if x.status == 200:
            who.req("POST", "/api/user/pkl/cancel",
                    {"reservation_id": data(x)["id"]})
    v.req("POST", "/api/user/pkl/release", {"reservation_id": wid})
    return lot


def test_user_rules(s, u):
    lot = P.create_lot(s, number_of_spots=10)["id"]
    base = slot_now() + 5 * 86400
    # a reservation of another lot 45 minutes past its start, not marked
    # yet (nothing wrote there since): a no-show already, it counts for
    # neither the limit nor overlaps
    other = P.create_lot(s, number_of_spots=1)["id"]
    old = data(reserve(u, other, base, base + 4 * H, vehicle="KA01"))["id"]
    shift(s, old, int(time.time()) - 45 * 60 - base)
    ids = []
    for i in range(5):
        r = reserve(u, lot, base + i * 2 * H, base + (i * 2 + 1) * H,
                    vehicle="KA01")
        ids.append((data(r) or {}).get("id"))
        if r.status != 200:
            ok(False, "reservation %d of 5" % (i + 1), r.body[:200])
    r = reserve(u, lot, base + 20 * H, base + 21 * H, vehicle="KA01")
    err(r, 409, "RESERVATION_LIMIT", "a 6th upcoming reservation: "
        "RESERVATION_LIMIT")
    u.req("POST", "/api/user/pkl/cancel", {"reservation_id": ids.pop()})
    err(reserve(u, lot, base + 30 * 60, base + 90 * 60, vehicle="ka 01"),
        409, "OVERLAPPING_RESERVATION", "the same vehicle (written "
        "differently) overlapping: OVERLAPPING_RESERVATION")
    err(reserve(u, lot, base, base + H), 409, "OVERLAPPING_RESERVATION",
        "one without a vehicle overlapping: OVERLAPPING_RESERVATION")
    r = reserve(u, lot, base, base + H, vehicle="MH02")
    is_(r.status, 200, "another vehicle may overlap")
    ids.append((data(r) or {}).get("id"))
    r = u.req("GET", "/api/user/pkl/book/list?status=reserved")
    ok(r.status == 200 and len(data(r)) == 6 and
       r.headers.get("x-total-count") == "6",
       "status=reserved lists the 5 and the one not marked a no-show yet "
       "(X-Total-Count 6)",
       "  %d %r" % (r.status, r.headers.get("x-total-count")))
    r = u.req("GET", "/api/user/pkl/book/list?upcoming=true")
    st = [x["start_time"] for x in data(r) or []]
    ok(r.status == 200 and len(st) == 5 and st == sorted(st) and
       r.headers.get("x-total-count") == "5",
       "upcoming=true lists the 5, soonest first, not the one past its "
       "grace", "  %r" % st)
    err(u.req("GET", "/api/user/pkl/book/list?upcoming=yes"), 400,
        "VALIDATION", "upcoming=yes: 400", "upcoming")
    err(u.req("GET", "/api/user/pkl/book/list?status=waiting"), 400,
        "VALIDATION", "status=waiting: 400", "status")
    for rid in ids:
        u.req("POST", "/api/user/pkl/cancel", {"reservation_id": rid})
    is_(row(s, old)[0], "reserved", "the stale one in the other lot is "
        "still unmarked, and was not counted: 5 were allowed")
    r = reserve(u, lot, slot_now(), slot_now() + H, vehicle="KA01")
    is_(r.status, 200, "a window of the same vehicle overlapping the stale "
        "one is allowed (it is a no-show)")
    if r.status == 200:
        u.req("POST", "/api/user/pkl/checkin",
              {"reservation_id": data(r)["id"]})
        u.req("POST", "/api/user/pkl/release",
              {"reservation_id": data(r)["id"]})


def test_checkin(s, u, v):
    lot = P.create_lot(s, number_of_spots=2, price=10)["id"]
    far = slot_now() + 86400
    now = int(time.time())

    def new(start_off, length=H, who=u, vehicle=None):
        r = reserve(who, lot, far, far + length, vehicle=vehicle)
        rid = (data(r) or {}).get("id")
        if r.status != 200:
            ok(False, "reserve for the check-in", r.body[:300])
            return None
        shift(s, rid, (now + start_off) - far)
        return rid

    def checkin(rid, who=u):
        return who.req("POST", "/api/user/pkl/checkin",
                       {"reservation_id": rid})

    rid = new(2 * H)
    err(checkin(rid), 409, "CHECKIN_TOO_EARLY", "2 hours before: "
        "CHECKIN_TOO_EARLY")
    err(checkin(rid, v), 404, "NOT_FOUND", "another user's: 404")
    err(u.req("POST", "/api/user/pkl/checkin", {}), 400, "VALIDATION",
        "no reservation_id: 400", "reservation_id")
    u.req("POST", "/api/user/pkl/cancel", {"reservation_id": rid})

    rid = new(10 * 60, vehicle="EARLY")
    r = checkin(rid)
    d = data(r) or {}
    hs = row(s, rid)
    ok(r.status == 200 and d.get("status") == "active" and
       d.get("is_active") is True and hs[5] == hs[2] and hs[5] < hs[3],
       "10 minutes early: checked in, its hold starts at the arrival",
       "  %d %r %r" % (r.status, r.body[:200], hs))
    r = u.req("POST", "/api/user/pkl/release", {"reservation_id": rid})
    # arrival now, window [now + 10 min, now + 70 min): 70 minutes -> 2 h
    is_((r.status, (data(r) or {}).get("parking_cost")), (200, 20.0),
        "release: 2 started hours from the arrival to the window's end "
        "(10.0 an hour)")
    err(checkin(rid), 409, "CONFLICT", "checking in a completed one: 409")

    rid = new(-20 * 60, length=2 * H, vehicle="LATE")
    r = checkin(rid)
    is_(r.status, 200, "20 minutes late (within the grace): checked in")
    r = u.req("POST", "/api/user/pkl/release", {"reservation_id": rid})
    is_((r.status, (data(r) or {}).get("parking_cost")), (200, 20.0),
        "release at once: the whole 2-hour window is paid")

    rid = new(-31 * 60, vehicle="NOSHOW")
    err(checkin(rid), 409, "RESERVATION_EXPIRED", "31 minutes late: "
        "RESERVATION_EXPIRED")
    hs = row(s, rid)
    ok(hs[0] == "no_show" and hs[7] == 1000 and hs[5] is None,
       "it is a no-show, charged 1 hour, holding nothing", "  %r" % (hs,))
    r = u.req("GET", "/api/user/pkl/book/list?status=no_show")
    ok(r.status == 200 and [x["id"] for x in data(r)] == [rid] and
       data(r)[0]["parking_cost"] == 10.0, "status=no_show lists it with "
       "its charge")

    # an overstaying walk-in on the reserved spot: the check-in moves
    rid = new(3 * H, vehicle="MOVE")
    spot = row(s, rid)[1]
    w = v.req("POST", "/api/user/pkl/book/%d" % lot, {})
    wid = (data(w) or {}).get("id")
    ok(w.status == 200 and (data(w) or {}).get("spot_id") != spot,
       "a walk-in meanwhile takes the other spot",
       "  %d %r" % (w.status, w.body[:200]))
    # swap: the walk-in's car is on the reserved spot, its hold over
    P.db_write(s, ("UPDATE reservations SET status = 'completed',"
                   " leaving_ts = parking_ts, cost_cents = hourly_cents"
                   " WHERE id = ?",
                   (wid,)),
               ("INSERT INTO reservations (spot_id, lot_id, user_id,"
                " parking_ts, hourly_cents, created_at, updated_at,"
                " hold_start, hold_end) VALUES (?, ?, ?, ?, 1000, ?, ?, ?,"
                " ?)", (spot, lot, v.id, now - 6 * H, now - 6 * H,
                        now - 6 * H, now - 6 * H, now - 2 * H),
                "INSERT INTO reservations (spot_id, lot_id, user_id,"
                " parking_ts, hourly_cents, created_at, updated_at,"
                " hold_start, hold_end) VALUES (?, ?, ?, to_timestamp(?),"
                " 1000, to_timestamp(?), to_timestamp(?), to_timestamp(?),"
                " to_timestamp(?))"))
    shift(s, rid, -3 * H)
    r = checkin(rid)
    d = data(r) or {}
    ok(r.status == 200 and d.get("spot_id") != spot and
       "spot %d" % d.get("spot_number", 0) in (r.json or {}).get(
           "message", "") and "still occupied" in (r.json or {}).get(
           "message", ""),
       "the reserved spot is held by an overstaying car: the check-in "
       "moves to the free spot and says which",
       "  %d %r" % (r.status, r.body[:300]))
    u.req("POST", "/api/user/pkl/release", {"reservation_id": rid})
    # again, with the other spot taken too: SPOT_OCCUPIED
    at = slot_now() + 3 * H
    rid = (data(reserve(u, lot, at, at + H, vehicle="NOROOM")) or {}).get(
        "id")
    rid2 = (data(reserve(v, lot, at, at + H, vehicle="BLOCK")) or {}).get(
        "id")
    ok(row(s, rid)[1] == spot and row(s, rid2)[1] != spot,
       "two reservations 3 hours ahead: best fit puts the first on the "
       "overstayer's spot (its gap is bounded), the second on the other")
    shift(s, rid2, now - at)
    is_(v.req("POST", "/api/user/pkl/checkin",
              {"reservation_id": rid2}).status, 200,
        "the second checks in on the other spot")
    shift(s, rid, now - at)
    err(checkin(rid), 409, "SPOT_OCCUPIED", "the first: its spot has the "
        "overstaying car, the other is taken: SPOT_OCCUPIED")
    is_(row(s, rid)[0], "reserved", "and it is still reserved")
    return lot


def test_checkin_early_move(s, u, v):
    """An early check-in whose spot another reservation holds until the
    window starts moves, and says so (not "occupied": no car is on it)."""
    lot = P.create_lot(s, number_of_spots=2, price=10)["id"]
    far = slot_now() + 86400
    x = (data(reserve(v, lot, far, far + 1800, vehicle="BEFORE")) or {}
         ).get("id")
    y = (data(reserve(u, lot, far + 1800, far + 5400, vehicle="AFTER")) or
         {}).get("id")
    ok(x and y and row(s, x)[1] == row(s, y)[1], "two windows end to start "
       "on one spot (best fit)")
    now = int(time.time())
    # x: [now - 20 min, now + 10 min), in its grace, not checked in;
    # y: [now + 10 min, now + 70 min): 10 minutes early
    for rid in (x, y):
        shift(s, rid, now - 20 * 60 - far)
    r = u.req("POST", "/api/user/pkl/checkin", {"reservation_id": y})
    msg = (r.json or {}).get("message", "")
    ok(r.status == 200 and (data(r) or {}).get("spot_id") != row(s, x)[1]
       and "early" in msg and "occupied" not in msg and "spot %d" % (
           data(r) or {}).get("spot_number", 0) in msg,
       "checked in 10 minutes early while the spot is reserved until "
       "then: moved, and the message says why", "  %d %r" % (
           r.status, r.body[:300]))
    u.req("POST", "/api/user/pkl/release", {"reservation_id": y})
    # x has started: out of the way by hand, so that v's later windows
    # do not meet it
    P.db_write(s, ("UPDATE reservations SET status = 'cancelled',"
                   " leaving_ts = parking_ts, cost_cents = 0, hold_start ="
                   " NULL, hold_end = NULL WHERE id = ?", (x,)))


def test_no_show_frees(s, u, v):
    """A reservation past its grace frees its spot before any job ran."""
    lot = P.create_lot(s, number_of_spots=1, price=7)["id"]
    far = slot_now() + 86400
    r = reserve(u, lot, far, far + 2 * H)
    rid = data(r)["id"]
    now = int(time.time())
    shift(s, rid, now - 45 * 60 - far)
    r = v.req("POST", "/api/user/pkl/book/%d" % lot, {})
    ok(r.status == 200, "a walk-in takes the spot of a reservation 45 "
       "minutes past its start (no job has run)",
       "  %d %r" % (r.status, r.body[:200]))
    hs = row(s, rid)
    ok(hs[0] == "no_show" and hs[7] == 700, "the reservation was marked "
       "no_show on the way, charged 1 hour", "  %r" % (hs,))
    v.req("POST", "/api/user/pkl/release", {})


def test_cancel(s, u, v):
    lot = P.create_lot(s, number_of_spots=1)["id"]
    far = slot_now() + 86400
    r = reserve(u, lot, far, far + H)
    rid = data(r)["id"]
    err(v.req("POST", "/api/user/pkl/cancel", {"reservation_id": rid}), 404,
        "NOT_FOUND", "cancelling another user's: 404")
    r = u.req("POST", "/api/user/pkl/cancel", {"reservation_id": rid})
    d = data(r) or {}
    ok(r.status == 200 and d.get("status") == "cancelled" and
       d.get("parking_cost") == 0.0, "cancel before the start: cancelled, "
       "free", "  %d %r" % (r.status, r.body[:200]))
    err(u.req("POST", "/api/user/pkl/cancel", {"reservation_id": rid}), 409,
        "CONFLICT", "cancelling it again: 409")
    r = reserve(u, lot, far, far + H)
    ok(r.status == 200, "the window is free again")
    rid = data(r)["id"]
    shift(s, rid, int(time.time()) - 5 * 60 - far)
    err(u.req("POST", "/api/user/pkl/cancel", {"reservation_id": rid}), 409,
        "RESERVATION_STARTED", "5 minutes after the start: "
        "RESERVATION_STARTED")
    u.req("POST", "/api/user/pkl/checkin", {"reservation_id": rid})
    u.req("POST", "/api/user/pkl/release", {"reservation_id": rid})


def test_price_kept(s, u):
    lot = P.create_lot(s, number_of_spots=1, price=4)["id"]
    far = slot_now() + 86400
    rid = data(reserve(u, lot, far, far + H))["id"]
    r = s.req("POST", "/api/admin/pkl/update/%d" % lot, {"price": 9},
              headers=P.admin_headers(s))
    is_(r.status, 200, "the price changes")
    r = u.req("GET", "/api/user/pkl/book/list?status=reserved")
    mine = [x for x in data(r) or [] if x["id"] == rid]
    is_(mine and mine[0]["hourly_rate"], 4.0, "the reservation keeps the "
        "price of its making")
    u.req("POST", "/api/user/pkl/cancel", {"reservation_id": rid})


def test_lot_changes(s, u, v):
    A = P.admin_headers(s)
    lot = P.create_lot(s, number_of_spots=3)["id"]
    far = slot_now() + 86400
    rids = [data(reserve(w, lot, far, far + H, vehicle="FIRST"))["id"]
            for w in (u, v)]
    rids.append(data(reserve(u, lot, far, far + H, vehicle="THIRD"))["id"])
    spots = sorted(spot_no(s, row(s, x)[1]) for x in rids)
    is_(spots, [1, 2, 3], "three reservations on spots 1..3")
    r = s.req("POST", "/api/admin/pkl/update/%d" % lot,
              {"number_of_spots": 1}, headers=A)
    err(r, 409, "LOT_HAS_RESERVATIONS", "shrinking to 1 spot: "
        "LOT_HAS_RESERVATIONS", "cancel_reservations")
    ok("2 upcoming" in (r.json or {}).get("error", ""), "with the count 2",
       "  %r" % r.body[:300])
    r = s.req("POST", "/api/admin/pkl/update/%d" % lot, {"is_active": False},
              headers=A)
    err(r, 409, "LOT_HAS_RESERVATIONS", "deactivating: "
        "LOT_HAS_RESERVATIONS")
    ok("3 upcoming" in (r.json or {}).get("error", ""), "with the count 3")
    r = s.req("DELETE", "/api/admin/pkl/delete/%d" % lot, headers=A)
    err(r, 409, "LOT_HAS_RESERVATIONS", "deleting: LOT_HAS_RESERVATIONS")
    r = s.req("DELETE", "/api/admin/pkl/delete/%d?cancel_reservations=maybe"
              % lot, headers=A)
    err(r, 400, "VALIDATION", "cancel_reservations=maybe: 400",
        "cancel_reservations")
    c = P.dbconn(s)
    before = c.execute("SELECT count(*) FROM outbox WHERE idem_key LIKE "
                       "'resv-cancel:%'").fetchone()[0]
    c.close()
    r = s.req("POST", "/api/admin/pkl/update/%d" % lot,
              {"number_of_spots": 1, "cancel_reservations": True}, headers=A)
    is_((r.status, (data(r) or {}).get("number_of_spots")), (200, 1),
        "shrinking with cancel_reservations: done")
    st = sorted((spot_no(s, row(s, x)[1]), row(s, x)[0]) for x in rids)
    is_(st, [(1, "reserved"), (2, "cancelled"), (3, "cancelled")],
        "the two on the removed spots are cancelled, spot 1's kept")
    c = P.dbconn(s)
    mails = c.execute("SELECT to_addr FROM outbox WHERE idem_key LIKE "
                      "'resv-cancel:%' ORDER BY id").fetchall()
    c.close()
    is_(len(mails) - before, 2, "an e-mail to each of their users is "
        "queued")
    r = s.req("DELETE", "/api/admin/pkl/delete/%d?cancel_reservations=true"
              % lot, headers=A)
    is_(r.status, 200, "deleting with cancel_reservations=true")
    is_(row(s, rids[[spot_no(s, row(s, x)[1]) for x in rids].index(1)])[0],
        "cancelled", "the last one is cancelled too")


def outbox_keys(s, like):
    c = P.dbconn(s)
    try:
        return [r[0] for r in c.execute(
            "SELECT idem_key FROM outbox WHERE idem_key LIKE ? ORDER BY id",
            (like,))]
    finally:
        c.close()


def test_tick(s, u, v):
    """parkctl tick: no-shows and reminders, each exactly once."""
    lot = P.create_lot(s, number_of_spots=2, price=6)["id"]
    soon = slot_now() + H  # 45 to 60 minutes from now
    r1 = data(reserve(u, lot, soon, soon + H, vehicle="TICK1"))["id"]
    far = slot_now() + 86400
    r2 = data(reserve(v, lot, far, far + H))["id"]
    shift(s, r2, int(time.time()) - 31 * 60 - far)
    later = slot_now() + 3 * H
    r3 = data(reserve(u, lot, later, later + H, vehicle="TICK3"))["id"]
    for i in range(3):
        p = s.parkctl("tick")
        ok(p.returncode == 0, "parkctl tick, run %d" % (i + 1),
           p.stdout + p.stderr)
    is_(outbox_keys(s, "resv-remind:%%"), ["resv-remind:%d" % r1],
        "one reminder, for the reservation starting within the hour, "
        "however often tick runs")
    hs = row(s, r2)
    ok(hs[0] == "no_show" and hs[7] == 600 and hs[5] is None,
       "the reservation 31 minutes past its start is a no-show charged an "
       "hour (6.00)", "  %r" % (hs,))
    is_(row(s, r1)[0], "reserved", "the one starting soon is untouched")
    c = P.dbconn(s)
    n = c.execute("SELECT count(*) FROM job_runs WHERE job = 'tick' AND "
                  "status = 'ok'").fetchone()[0]
    subj = c.execute("SELECT subject, to_addr FROM outbox WHERE idem_key ="
                     " ?", ("resv-remind:%d" % r1,)).fetchone()
    c.close()
    ok(n >= 3, "each run is recorded (%d)" % n)
    ok(subj and "Reminder" in subj[0] and subj[1] == u.username.lower() +
       "@parking.test", "the reminder goes to the user", "  %r" % (subj,))
    local = datetime.datetime.fromtimestamp(
        row(s, r1)[3], zoneinfo.ZoneInfo("Europe/Berlin")).strftime(
            "%Y-%m-%d %H:%M %Z")
    ok(subj and subj[0].endswith("starts at " + local),
       "its subject gives the start in TIMEZONE (%s)" % local,
       "  %r" % (subj,))
    p = s.parkctl("tick", "--now", iso(later - 30 * 60))
    ok(p.returncode == 0 and "1 reminder" in p.stdout + p.stderr,
       "tick --now 30 minutes before the third: its reminder is due",
       p.stdout + p.stderr)
    is_(outbox_keys(s, "resv-remind:%%"), ["resv-remind:%d" % r1,
                                          "resv-remind:%d" % r3],
        "and queued once")
    is_(row(s, r1)[0], "no_show", "as of then, the first is a no-show")
    # a reminder whose reservation is no longer reserved is not sent (the
    # #16 review: a cancelled reservation's reminder went out)
    p = s.parkctl("mail")
    c = P.dbconn(s)
    st = dict(c.execute("SELECT idem_key, state FROM outbox WHERE idem_key"
                        " IN (?, ?)", ("resv-remind:%d" % r1,
                                       "resv-remind:%d" % r3)).fetchall())
    c.close()
    ok(p.returncode == 0 and st.get("resv-remind:%d" % r1) == "failed" and
       st.get("resv-remind:%d" % r3) == "sent", "parkctl mail: the "
       "no-show's reminder is not sent, the reserved one's is",
       "  %r %s" % (st, p.stdout + p.stderr))
    p = s.parkctl("tick", "--now", "yesterday")
    is_(p.returncode, 2, "tick --now yesterday: usage error (2)")

    # the CSV export lists the no-show with its charge
    r = v.req("POST", "/api/user/export-csv", {})
    tid = (data(r) or {}).get("task_id")
    p = s.parkctl("exports")
    st = v.req("GET", "/api/user/export-status/%s" % tid)
    fn = (data(st) or {}).get("filename")
    rows = []
    if fn:
        with open(os.path.join(s.dir, "exports", fn), newline="") as f:
            rows = list(csv.DictReader(f))
    mine = [x for x in rows if x.get("reservation_id") == str(r2)]
    ok(mine and mine[0]["status"] == "no_show" and
       mine[0]["parking_cost"] in ("6.00", "6.0"),
       "the CSV export lists the no-show with its charge",
       "  %r" % (mine or rows[:2]))


def test_dashboard(s):
    """The admin's summary: reservations waiting for their start and the
    no-show rate of the last 30 days, against the rows."""
    # nothing is written from here on: a second later every row of the
    # test lies before the summary's "now"
    time.sleep(1.1)
    r = s.req("GET", "/api/admin/summary", headers=P.admin_headers(s))
    d = data(r) or {}
    now = int(time.time())
    c = P.dbconn(s)
    try:
        up = c.execute("SELECT count(*) FROM reservations r JOIN lots l ON"
                       " l.id = r.lot_id WHERE r.status = 'reserved' AND"
                       " l.deleted_at IS NULL").fetchone()[0]
        ns, ci = c.execute(
            P.sql("SELECT sum(status = 'no_show'), sum(start_time IS NOT"
                  " NULL AND (status = 'active' OR status = 'completed'))"
                  " FROM reservations WHERE parking_ts >= ? AND"
                  " parking_ts <= ?",
                  "SELECT sum((status = 'no_show')::int), sum((start_time"
                  " IS NOT NULL AND (status = 'active' OR status ="
                  " 'completed'))::int) FROM reservations WHERE parking_ts"
                  " >= to_timestamp(?) AND parking_ts <= to_timestamp(?)"),
            (now - 30 * 86400, now)).fetchone()
    finally:
        c.close()
    ok(ns > 0 and ci > 0, "the test made no-shows (%d) and check-ins (%d)"
       % (ns, ci))
    is_((d.get("upcoming_reservations"), d.get("no_shows_30d"),
         d.get("no_show_percent")),
        (up, ns, int(ns * 10000 // (ns + ci)) / 100.0),
        "the admin summary: upcoming reservations, no-shows and their rate")
    # the admin's list counts the new statuses from the lots' counters
    c = P.dbconn(s)
    try:
        want = dict(c.execute("SELECT status, count(*) FROM reservations"
                              " GROUP BY status").fetchall())
    finally:
        c.close()
    got = {}
    for st in ("reserved", "no_show", "completed", "cancelled", "active"):
        r = s.req("GET", "/api/admin/reservations?status=%s&limit=1" % st,
                  headers=P.admin_headers(s))
        got[st] = int(r.headers.get("x-total-count", "-1"))
    is_(got, {k: want.get(k, 0) for k in got}, "the admin's reservation "
        "counts by status (X-Total-Count) equal the rows")


def test_dst_window():
    """A window across Berlin's change of 2027-03-28 (a stack that takes
    reservations a year ahead): real UTC instants."""
    day = datetime.date(2027, 3, 28)
    if (day - datetime.date.today()).days > 360 or \
            datetime.date.today() >= day:
        T.skip("a window across 2027-03-28", "the date is not within a "
               "year ahead any more")
        return
    with T.Stack(settings={"TIMEZONE": "Europe/Berlin",
                           "PARKD_RESERVATION_MAX_DAYS_AHEAD": "366"}) as s:
        u = P.make_user(s, "dst1user", 1)
        lot = P.create_lot(s, number_of_spots=1,
                           operating_hours_start="00:00",
                           operating_hours_end="06:00")["id"]
        r = reserve(u, lot, "2027-03-28T00:00:00+01:00",
                    "2027-03-28T04:00:00+02:00")
        d = data(r) or {}
        ok(r.status == 200 and d.get("start_time") ==
           "2027-03-27T23:00:00Z" and d.get("end_time") ==
           "2027-03-28T02:00:00Z", "00:00 CET to 04:00 CEST is 3 real "
           "hours, 23:00Z to 02:00Z", "  %d %r" % (r.status, r.body[:300]))
        # 05:00-06:30 local crosses the closing at 06:00 CEST
        err(reserve(u, lot, "2027-03-28T05:00:00+02:00",
                    "2027-03-28T06:30:00+02:00"), 400,
            "OUTSIDE_OPERATING_HOURS", "past 06:00 CEST on the change "
            "day: outside")
        r = u.req("GET", "/api/user/pkl/slots/%d?date=2027-03-28" % lot)
        sl = data(r) or []
        ok(len(sl) == 20 and sum(x["available_spots"] == 0 for x in sl) ==
           12, "the change day's hours 00:00-06:00 are 5 real hours (20 "
           "slots), 12 of them taken", "  %d slots" % len(sl))
        is_(P.invariants(s), [], "invariants (DST stack)")


def test_grace_ended():
    """A window whose grid slot has begun but whose check-in time has
    ended (a grace shorter than the grid) is refused: it would be a
    no-show, and charged, the moment it was made (the #16 review)."""
    with T.Stack(settings={"PARKD_RESERVATION_GRID_MINUTES": "60",
                           "PARKD_RESERVATION_MIN_MINUTES": "60",
                           "PARKD_CHECKIN_GRACE_MINUTES": "0"}) as s:
        u = P.make_user(s, "graceuser", 1)
        lot = P.create_lot(s, number_of_spots=1)["id"]
        hour = int(time.time()) // H * H
        err(reserve(u, lot, iso(hour), iso(hour + H)), 400, "VALIDATION",
            "grace 0, grid 60: the hour that has begun is refused with "
            "details.start", "start")
        r = reserve(u, lot, iso(hour + H), iso(hour + 2 * H))
        is_(r.status, 200, "the next hour is taken")
        r = u.req("GET", "/api/user/summary")
        ok(r.status == 200 and (data(r) or {}).get("total_spent") in
           (0, 0.0, None), "and nothing was charged",
           "  %d %r" % (r.status, r.body[:200]))


def main():
    with T.Stack(settings={"TIMEZONE": "Europe/Berlin"}) as s:
        us = P.make_users(s, 8, prefix="win")
        u, v = us[0], us[1]
        lot_all = P.create_lot(s, number_of_spots=4)["id"]
        test_window_rules(s, u, lot_all)
        test_hours(s, u)
        test_dst_slots(s, u, lot_all)
        test_touching(s, u, v, us[7])
        test_best_fit(s, us[2:8])
        test_walkin_hold(s, u, v)
        test_user_rules(s, us[2])
        test_checkin(s, u, v)
        test_checkin_early_move(s, u, v)
        test_no_show_frees(s, u, v)
        test_cancel(s, u, v)
        test_price_kept(s, u)
        test_lot_changes(s, u, v)
        test_tick(s, us[3], us[4])
        test_dashboard(s)
        bad = P.invariants(s)
        is_(bad, [], "every invariant of the database holds")
    test_dst_window()
    test_grace_ended()


T.run(main)
