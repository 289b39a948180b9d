#!/usr/bin/env python3
"""55-parking.t: the parking part of the API contract, end to end.

Lots: every validation rule of create and update (400 with details), the
lot object's exact fields (available + occupied = number_of_spots), resize
(grow adds free spots; shrink removes the highest free ones, refuses over
occupied ones with the count, and changes nothing then; shrink then grow
brings the same spot rows back), delete (409 when occupied; soft delete of
a lot with history, which leaves every list and booking while the users'
history still names it; hard delete of one without), the spot grid, and
the admin's and users' lists.  Booking: the lowest free spot, the vehicle
number normalised, the price kept at booking time, LOT_FULL, LOT_INACTIVE,
404, BOOKING_LIMIT.  Release: by id or the oldest, another user's id 404,
NO_ACTIVE_RESERVATION, cost = rate x started hours (at least one; times
moved back in the database file).  History: newest first, paged, filtered,
X-Total-Count, only the caller's; the reservation object's exact fields.
Dashboards: /api/user/summary and /api/admin/summary numbers; the admin's
reservation filters and paging.  And a read after a write is never stale,
across workers, although the grid and the admin summary are cached.

PARKING_REDIS=down (set by 58-redis-faults.t) runs the same checks with
Redis killed right after the stack starts.
"""

import datetime
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import parktest as T  # noqa: E402
import parking as P  # noqa: E402
from parktest import diag, is_, like, ok  # noqa: E402

REDIS_DOWN = os.environ.get("PARKING_REDIS") == "down"
ISO_UTC = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"
MAX_ACTIVE = 3
A = None  # the admin's headers


# ---- helpers ---------------------------------------------------------------


def data(r):
    return (r.json or {}).get("data")


def err(r, status, code, what, field=None):
    """One test point: status, the error envelope with code, and (field)
    details naming field."""
    j = r.json or {}
    det = j.get("details") or {}
    good = (r.status == status and j.get("success") is False
            and j.get("code") == code and isinstance(j.get("error"), str))
    if field is not None:
        good = good and isinstance(det.get(field), list) and det[field]
    return ok(good, what, "  %d %r" % (r.status, r.body[:400]))


def check_lot(lot, what):
    """The lot object has exactly the contract's fields, sensible types, and
    available + occupied = number_of_spots."""
    problems = []
    if not isinstance(lot, dict):
        return ok(False, what + ": a lot object", "  %r" % (lot,))
    keys = set(lot) - {"spots"}
    if keys != P.LOT_FIELDS:
        problems.append("fields: missing %r, extra %r" % (
            sorted(P.LOT_FIELDS - keys), sorted(keys - P.LOT_FIELDS)))
    for k in ("id", "number_of_spots", "available_spots", "occupied_spots"):
        if not isinstance(lot.get(k), int) or isinstance(lot.get(k), bool):
            problems.append("%s is not an integer: %r" % (k, lot.get(k)))
    if not problems and (lot["available_spots"] + lot["occupied_spots"]
                         != lot["number_of_spots"]):
        problems.append("available %d + occupied %d != number_of_spots %d" % (
            lot["available_spots"], lot["occupied_spots"],
            lot["number_of_spots"]))
    if not isinstance(lot.get("is_active"), bool):
        problems.append("is_active is not a boolean")
    if not isinstance(lot.get("pin_code"), str):
        problems.append("pin_code is not a string")
    if not isinstance(lot.get("price"), (int, float)):
        problems.append("price is not a number")
    for k in ("created_at", "updated_at"):
        if not re.match(ISO_UTC, str(lot.get(k))):
            problems.append("%s is not ISO 8601 UTC: %r" % (k, lot.get(k)))
    return ok(not problems, what + ": the lot object", *problems)


_extras_seen = set()


def check_resv(v, what):
    """The reservation object: every contract field, types, and the
    derived ones (is_active, spot_identifier, duration_str).  Extra fields
    are allowed and listed once as a diagnostic."""
    problems = []
    if not isinstance(v, dict):
        return ok(False, what + ": a reservation object", "  %r" % (v,))
    missing = P.RESV_FIELDS - set(v)
    if missing:
        problems.append("missing fields %r" % sorted(missing))
    extra = set(v) - P.RESV_FIELDS
    if extra - _extras_seen:
        diag("reservation object: fields beyond the contract: %s"
             % ", ".join(sorted(extra)))
        _extras_seen.update(extra)
    if not missing:
        if v["status"] not in ("active", "completed", "cancelled"):
            problems.append("status %r" % v["status"])
        if v["is_active"] is not (v["status"] == "active"):
            problems.append("is_active %r with status %r" % (v["is_active"],
                                                             v["status"]))
        if v["spot_identifier"] != "%s-%d" % (v["lot_name"], v["spot_number"]):
            problems.append("spot_identifier %r" % v["spot_identifier"])
        dur = r"^\d+h \d+m" + (r" \(ongoing\)$" if v["status"] == "active"
                               else "$")
        if not re.match(dur, str(v["duration_str"])):
            problems.append("duration_str %r" % v["duration_str"])
        if v["status"] == "active" and (v["leaving_timestamp"] is not None
                                        or v["parking_cost"] != 0):
            problems.append("an active reservation with a leaving time or "
                            "cost")
        # Money is a float, never null (0.0 while active: #15 item 3).
        for k in ("parking_cost", "hourly_rate"):
            if not isinstance(v[k], float):
                problems.append("%s %r is not a float" % (k, v[k]))
        if v["status"] == "completed" and (
                not re.match(ISO_UTC, str(v["leaving_timestamp"]))
                or v["is_completed"] is not True):
            problems.append("a completed reservation without leaving time "
                            "or is_completed")
        if v["status"] != "completed" and v["is_completed"] is not False:
            problems.append("is_completed %r with status %r"
                            % (v["is_completed"], v["status"]))
        if not isinstance(v["is_overdue"], bool):
            problems.append("is_overdue %r" % v["is_overdue"])
        for k in ("parking_timestamp", "created_at", "updated_at"):
            if not re.match(ISO_UTC, str(v[k])):
                problems.append("%s %r" % (k, v[k]))
    return ok(not problems, what + ": the reservation object", *problems,
              "  %r" % (v,))


def lot_get(s, lot_id):
    return s.req("GET", "/api/admin/pkl/%d" % lot_id, headers=A)


def grid(s, lot_id):
    """The lot with its spots (the admin's view), or None."""
    r = lot_get(s, lot_id)
    return data(r) if r.status == 200 else None


def admin_list(s):
    return data(s.req("GET", "/api/admin/pkl/list", headers=A)) or []


def ids(objs):
    return [o["id"] for o in objs]


def hours(seconds):
    return -(-seconds // 3600)


def update(s, lot_id, body):
    return s.req("POST", "/api/admin/pkl/update/%d" % lot_id, body, A)


def history_copy(u, resv):
    """The caller's history entry of reservation resv, with resv's
    duration_str (the history's is computed at its own time)."""
    r = u.req("GET", "/api/user/pkl/book/list?limit=100")
    got = {x["id"]: x for x in data(r) or []}.get(resv.get("id"))
    if got is not None:
        got = dict(got, duration_str=resv.get("duration_str"))
    return got


def book(u, lot_id, body=None):
    return u.req("POST", "/api/user/pkl/book/%d" % lot_id,
                 body if body is not None else {})


def release(u, rid=None):
    return u.req("POST", "/api/user/pkl/release",
                 {} if rid is None else {"reservation_id": rid})


def move_to(s, rid, ts):
    """Moves reservation rid's times so that it started at ts exactly."""
    P.db_write(s, ("UPDATE reservations SET"
                   " created_at = created_at - (parking_ts - ?1),"
                   " updated_at = updated_at - (parking_ts - ?1),"
                   " leaving_ts = leaving_ts - (parking_ts - ?1),"
                   " parking_ts = ?1 WHERE id = ?2", (ts, rid),
                   "UPDATE reservations SET"
                   " created_at = created_at - (parking_ts - to_timestamp(?1)),"
                   " updated_at = updated_at - (parking_ts - to_timestamp(?1)),"
                   " leaving_ts = leaving_ts - (parking_ts - to_timestamp(?1)),"
                   " parking_ts = to_timestamp(?1) WHERE id = ?2"))


def move_back(s, rid, seconds):
    """Moves reservation rid's times back by seconds in the database."""
    P.db_write(s, ("UPDATE reservations SET parking_ts = parking_ts - ?1,"
                   " created_at = created_at - ?1,"
                   " updated_at = updated_at - ?1,"
                   " leaving_ts = leaving_ts - ?1 WHERE id = ?2",
                   (seconds, rid),
                   "UPDATE reservations SET"
                   " parking_ts = parking_ts - make_interval(secs => ?1),"
                   " created_at = created_at - make_interval(secs => ?1),"
                   " updated_at = updated_at - make_interval(secs => ?1),"
                   " leaving_ts = leaving_ts - make_interval(secs => ?1)"
                   " WHERE id = ?2"))


# ---- lots: validation ------------------------------------------------------


CREATE_BAD = [
    # (field, value or None to leave it out, what)
    ("prime_location_name", None, "name missing"),
    ("prime_location_name", "ab", "name of 2 characters"),
    ("prime_location_name", "   ab   ", "name of 2 characters once trimmed"),
    ("prime_location_name", "x" * 101, "name of 101 characters"),
    ("prime_location_name", "Lot <b>", "name with <>"),
    ("prime_location_name", "Lot_1", "name with _"),
    ("prime_location_name", "Lot\n12", "name with a newline"),
    ("prime_location_name", 12345, "name as a number"),
    ("address", None, "address missing"),
    ("address", "Short st", "address of 8 characters"),
    ("address", "   12345678   ", "address of 8 characters once trimmed"),
    ("address", "a" * 501, "address of 501 characters"),
    ("pin_code", None, "pin_code missing"),
    ("pin_code", 560001, "pin_code as a number"),
    ("pin_code", "12345", "pin_code of 5 digits"),
    ("pin_code", "12345678901", "pin_code of 11 digits"),
    ("pin_code", "56OO01", "pin_code with letters"),
    ("pin_code", "560 001", "pin_code with a space"),
    ("number_of_spots", None, "number_of_spots missing"),
    ("number_of_spots", 0, "number_of_spots 0"),
    ("number_of_spots", 1001, "number_of_spots 1001"),
    ("number_of_spots", -3, "number_of_spots -3"),
    ("number_of_spots", 2.5, "number_of_spots 2.5"),
    ("number_of_spots", "5", "number_of_spots as a string"),
    ("number_of_spots", True, "number_of_spots true"),
    ("price", None, "price missing"),
    ("price", -1, "price -1"),
    ("price", 10000.01, "price 10000.01"),
    ("price", 1.234, "price with 3 decimals"),
    ("price", "10", "price as a string"),
    ("is_active", "yes", "is_active a string"),
    ("is_active", 1, "is_active 1"),
    ("operating_hours_start", "8:00", "hours start 8:00"),
    ("operating_hours_start", "24:00", "hours start 24:00"),
    ("operating_hours_end", "12:60", "hours end 12:60"),
]


def test_create_validation(s):
    for field, value, what in CREATE_BAD:
        body = P.lot_body(**{field: value})
        if value is None:
            body.pop(field, None)
        if field.startswith("operating_hours"):
            body.setdefault("operating_hours_start", "08:00")
            body.setdefault("operating_hours_end", "20:00")
            body[field] = value
        r = s.req("POST", "/api/admin/pkl/create", body, A)
        err(r, 400, "VALIDATION", "create, %s: 400 naming %s" % (what, field),
            field)
    # Hours come both or neither.
    for present, missing in (("operating_hours_start", "operating_hours_end"),
                             ("operating_hours_end", "operating_hours_start")):
        r = s.req("POST", "/api/admin/pkl/create",
                  P.lot_body(**{present: "08:00"}), A)
        err(r, 400, "VALIDATION", "create with only %s: 400 naming %s"
            % (present, missing), missing)
    r = s.req("POST", "/api/admin/pkl/create",
              P.lot_body(operating_hours_start="08:00",
                         operating_hours_end=None), A)
    is_(r.status, 400, "create with a start and a null end: 400")
    for body, what in (("[1, 2]", "a JSON array"), ("{", "malformed JSON"),
                       ("", "no body")):
        r = s.req("POST", "/api/admin/pkl/create", body, dict(A, **{
            "Content-Type": "application/json"}))
        is_(r.status, 400, "create with %s: 400" % what)
    before = len(admin_list(s))
    r = s.req("POST", "/api/admin/pkl/create",
              P.lot_body(occupied_spots=3, available_spots=0, id=999), A)
    if r.status == 200:
        lot = data(r)
        ok(lot["id"] != 999 and lot["occupied_spots"] == 0
           and lot["available_spots"] == 5,
           "create with id/occupied_spots in the body: never stored",
           "  %r" % lot)
        is_(len(admin_list(s)), before + 1, "  (it made one lot)")
    else:
        is_(r.status, 400, "create with fields beyond the contract: 400 "
            "(or ignored)")
        is_(len(admin_list(s)), before, "  and no lot made")

    # The accepted edges, stored normalised.
    good = [
        (dict(prime_location_name="  Trim Me  "), "prime_location_name",
         "Trim Me", "name trimmed"),
        (dict(prime_location_name="Abc"), "prime_location_name", "Abc",
         "name of 3 characters"),
        (dict(prime_location_name="O'Brien St. 5, North-East"),
         "prime_location_name", "O'Brien St. 5, North-East",
         "name with -.,'"),
        (dict(prime_location_name="Caf\u00e9 " + "\u00e9" * 95),
         "prime_location_name", "Caf\u00e9 " + "\u00e9" * 95,
         "name of 100 letters, some not ASCII"),
        (dict(address="  10 chars.  "), "address", "10 chars.",
         "address trimmed (10 characters is not enough: 9 left)"),
        (dict(address="1234567890"), "address", "1234567890",
         "address of 10 characters"),
        (dict(address="x" * 500), "address", "x" * 500,
         "address of 500 characters"),
        (dict(pin_code="012345"), "pin_code", "012345",
         "pin_code with a leading zero kept"),
        (dict(pin_code="0123456789"), "pin_code", "0123456789",
         "pin_code of 10 digits"),
        (dict(number_of_spots=1), "number_of_spots", 1, "1 spot"),
        (dict(number_of_spots=1000), "number_of_spots", 1000, "1000 spots"),
        (dict(price=0), "price", 0, "price 0"),
        (dict(price=10000), "price", 10000, "price 10000"),
        (dict(price=12.34), "price", 12.34, "price 12.34"),
        (dict(price=25.5), "price", 25.5, "price 25.5"),
        (dict(is_active=False), "is_active", False, "is_active false"),
        (dict(operating_hours_start="00:00", operating_hours_end="23:59"),
         "operating_hours_end", "23:59", "hours 00:00 to 23:59"),
        (dict(operating_hours_start=None, operating_hours_end=None),
         "operating_hours_start", None, "no hours"),
        (dict(description="Covered,\nnear the gate"), "description",
         "Covered,\nnear the gate", "a description"),
    ]
    for kw, field, want, what in good:
        r = s.req("POST", "/api/admin/pkl/create", P.lot_body(**kw), A)
        if field == "address" and want == "10 chars.":
            err(r, 400, "VALIDATION", "create, " + what, "address")
            continue
        if not ok(r.status == 200, "create, %s: 200" % what,
                  "  %d %r" % (r.status, r.body[:300])):
            continue
        lot = data(r)
        is_(lot.get(field), want, "create, %s: stored as %r" % (what, want)
            if len(repr(want)) < 40 else "create, %s: stored" % what)
        again = grid(s, lot["id"])
        is_(again and again.get(field), want, "  and read back the same")
        if kw.get("number_of_spots") == 1000:
            is_(len(again["spots"]), 1000, "  1000 spots made")
            is_([sp["spot_number"] for sp in again["spots"]],
                list(range(1, 1001)), "  numbered 1 to 1000")


def test_lot_object(s):
    r = s.req("POST", "/api/admin/pkl/create", P.lot_body(
        prime_location_name="Object Lot", address="1 Object Road, Lotville",
        pin_code="400001", number_of_spots=4, price=12.5,
        description="near the station", operating_hours_start="06:30",
        operating_hours_end="22:00"), A)
    is_(r.status, 200, "create a full lot: 200")
    lot = data(r)
    check_lot(lot, "create")
    want = {"prime_location_name": "Object Lot",
            "address": "1 Object Road, Lotville", "pin_code": "400001",
            "number_of_spots": 4, "price": 12.5, "is_active": True,
            "description": "near the station",
            "operating_hours_start": "06:30", "operating_hours_end": "22:00",
            "available_spots": 4, "occupied_spots": 0}
    is_({k: lot.get(k) for k in want}, want, "create: the lot as sent, "
        "active by default, every spot free")
    is_(lot["created_at"], lot["updated_at"], "create: updated_at = "
        "created_at")
    g = grid(s, lot["id"])
    check_lot(g, "GET one")
    is_({k: g.get(k) for k in P.LOT_FIELDS}, lot,
        "GET one: the same lot object")
    is_([(sp["spot_number"], sp["status"], sp["reservation"])
         for sp in g["spots"]],
        [(n, "A", None) for n in range(1, 5)],
        "GET one: spots 1..4, all free, no reservation")
    ok(all(set(sp) == P.SPOT_FIELDS for sp in g["spots"]),
       "GET one: each spot has exactly id, spot_number, status, reservation",
       "  %r" % g["spots"][:2])
    is_(len(set(sp["id"] for sp in g["spots"])), 4, "GET one: 4 spot ids")
    err(lot_get(s, 999999), 404, "NOT_FOUND", "GET an unknown lot: 404")
    err(s.req("POST", "/api/admin/pkl/update/999999", {"price": 1}, A), 404,
        "NOT_FOUND", "update an unknown lot: 404")
    err(s.req("DELETE", "/api/admin/pkl/delete/999999", headers=A), 404,
        "NOT_FOUND", "delete an unknown lot: 404")
    for lst in (admin_list(s),):
        bad = [l["id"] for l in lst if not (
            set(l) == P.LOT_FIELDS and l["available_spots"] +
            l["occupied_spots"] == l["number_of_spots"])]
        ok(lst and not bad, "admin list: every lot object exact and its "
           "counts add up (%d lots)" % len(lst), "  bad: %r" % bad)
    return lot


def test_update(s, lot):
    lid = lot["id"]
    before = grid(s, lid)
    for field, value, what in CREATE_BAD:
        if value is None:
            continue
        body = {field: value}
        if field.startswith("operating_hours"):
            body = {"operating_hours_start": "08:00",
                    "operating_hours_end": "20:00", field: value}
        r = update(s, lid, body)
        err(r, 400, "VALIDATION", "update, %s: 400 naming %s" % (what, field),
            field)
    err(update(s, lid, {"operating_hours_start": "09:00"}), 400, "VALIDATION",
        "update with only a start: 400 naming the end", "operating_hours_end")
    err(update(s, lid, {"operating_hours_end": "09:00"}), 400, "VALIDATION",
        "update with only an end: 400 naming the start",
        "operating_hours_start")
    r = update(s, lid, {"price": 99, "pin_code": 123456})
    is_(r.status, 400, "update with one good and one bad field: 400")
    after = grid(s, lid)
    is_(after, before, "a refused update changed nothing")

    r = update(s, lid, {})
    is_(r.status, 200, "update with an empty body: 200")
    is_(data(r), {k: before[k] for k in P.LOT_FIELDS} | {
        "updated_at": data(r)["updated_at"]},
        "  the lot unchanged")
    r = update(s, lid, {"price": 20.25})
    if is_(r.status, 200, "update the price alone: 200"):
        lot2 = data(r)
        check_lot(lot2, "update")
        is_(lot2["price"], 20.25, "  the new price")
        is_({k: lot2[k] for k in P.LOT_FIELDS - {"price", "updated_at"}},
            {k: before[k] for k in P.LOT_FIELDS - {"price", "updated_at"}},
            "  every other field kept")
    r = update(s, lid, {"prime_location_name": "  Renamed Lot ",
                        "address": " 2 Other Road, Lotville ",
                        "pin_code": "0400002", "description": None,
                        "operating_hours_start": None,
                        "operating_hours_end": None, "is_active": False})
    is_(r.status, 200, "update name, address, pin, description, hours, "
        "is_active: 200")
    got = {k: (data(r) or {}).get(k) for k in (
        "prime_location_name", "address", "pin_code", "description",
        "operating_hours_start", "operating_hours_end", "is_active")}
    is_(got, {"prime_location_name": "Renamed Lot",
              "address": "2 Other Road, Lotville", "pin_code": "0400002",
              "description": None, "operating_hours_start": None,
              "operating_hours_end": None, "is_active": False},
        "  stored trimmed; null clears description and hours")
    r = update(s, lid, {"operating_hours_start": "07:00",
                        "operating_hours_end": "19:30", "is_active": True,
                        "description": "again"})
    is_([data(r).get(k) for k in ("operating_hours_start",
                                  "operating_hours_end", "is_active",
                                  "description")],
        ["07:00", "19:30", True, "again"], "update: hours set again")
    is_(grid(s, lid)["price"], 20.25, "  and the price kept")


def test_lists(s, users):
    u = users[0]
    on = P.create_lot(s, prime_location_name="Open Lot")
    off = P.create_lot(s, prime_location_name="Closed Lot", is_active=False)
    a = ids(admin_list(s))
    r = u.req("GET", "/api/user/pkl/list")
    is_(r.status, 200, "user list: 200")
    ul = data(r) or []
    ok(on["id"] in a and off["id"] in a, "admin list: active and inactive "
       "lots", "  %r" % a)
    ok(on["id"] in ids(ul) and off["id"] not in ids(ul),
       "user list: the active lot only", "  %r" % ids(ul))
    ok(all(l["is_active"] is True for l in ul), "user list: only active lots")
    ok(all(set(l) == P.LOT_FIELDS for l in ul),
       "user list: the same lot object")
    is_(a, sorted(a), "admin list: in id order")
    is_(ids(ul), [i for i in a if i in set(ids(ul))],
        "user list: the admin's order")
    r = book(u, off["id"])
    err(r, 409, "LOT_INACTIVE", "book an inactive lot: 409 LOT_INACTIVE")
    update(s, off["id"], {"is_active": True})
    ok(off["id"] in ids(data(u.req("GET", "/api/user/pkl/list")) or []),
       "activated: in the user list at once")
    update(s, off["id"], {"is_active": False})
    ok(off["id"] not in ids(data(u.req("GET", "/api/user/pkl/list")) or []),
       "deactivated: out of the user list at once")
    r = s.req("GET", "/api/user/pkl/list", headers=A)
    err(r, 403, "FORBIDDEN", "the admin on the user list: 403")
    r = u.req("GET", "/api/admin/pkl/list")
    err(r, 403, "FORBIDDEN", "a user on the admin list: 403")
    r = u.req("GET", "/api/admin/pkl/%d" % on["id"])
    err(r, 403, "FORBIDDEN", "a user on a lot's grid: 403")
    r = s.req("GET", "/api/user/pkl/list")
    is_(r.status, 401, "the user list without a token: 401")


def test_booking(s, users):
    u, v = users[1], users[2]
    lot = P.create_lot(s, prime_location_name="Booking Lot",
                       number_of_spots=3, price=12.5)
    lid = lot["id"]
    r = book(u, lid, {"vehicle_number": " ka 01-ab 1234 "})
    if not is_(r.status, 200, "book: 200"):
        diag("  %r" % r.body[:300])
        return
    b1 = data(r)
    check_resv(b1, "book")
    is_([b1[k] for k in ("spot_number", "lot_id", "lot_name", "user_id",
                          "vehicle_number", "hourly_rate", "status")],
        [1, lid, "Booking Lot", u.id, "KA01-AB1234", 12.5, "active"],
        "book: spot 1 of the lot, for the caller, vehicle upper-case "
        "without spaces, the lot's rate, active")
    is_(b1["spot_identifier"], "Booking Lot-1", "book: spot_identifier")
    is_(b1["duration_str"], "0h 0m (ongoing)", "book: duration_str")
    is_(history_copy(u, b1), b1, "book: the answer is the reservation as "
        "stored (the history's copy)")
    r = book(v, lid)
    b2 = data(r) or {}
    is_((r.status, b2.get("spot_number"), b2.get("vehicle_number")),
        (200, 2, None), "book without a body: spot 2, no vehicle")
    g = grid(s, lid)
    is_([sp["status"] for sp in g["spots"]], ["O", "O", "A"],
        "grid: spots 1 and 2 occupied")
    is_(g["spots"][0]["reservation"], {
        "id": b1["id"], "user_id": u.id, "username": u.username,
        "vehicle_number": "KA01-AB1234",
        "parking_timestamp": b1["parking_timestamp"]},
        "grid: the occupied spot names its reservation, user, vehicle, time")
    is_(g["spots"][0]["id"], b1["spot_id"], "grid: the spot's id")
    is_((g["available_spots"], g["occupied_spots"]), (1, 2),
        "grid: 1 available, 2 occupied")
    check_lot(g, "grid after bookings")
    # Releasing spot 1 frees the lowest number: the next booking takes it.
    r = release(u, b1["id"])
    is_(r.status, 200, "release spot 1")
    r = book(u, lid, {"vehicle_number": "x1"})
    is_((data(r) or {}).get("spot_number"), 1,
        "book again: the lowest free spot (1) while 3 is also free")
    b3 = data(r)
    r = book(v, lid, {"vehicle_number": "MH-12"})
    is_((data(r) or {}).get("spot_number"), 3, "book: spot 3")
    b4 = data(r)
    r = book(users[3], lid)
    err(r, 409, "LOT_FULL", "book a full lot: 409 LOT_FULL")
    like((r.json or {}).get("error"), r"(?i)no available spots",
         "  \"No available spots\"")
    err(book(u, 999999), 404, "NOT_FOUND", "book an unknown lot: 404")
    is_(u.req("POST", "/api/user/pkl/book/0", {}).status, 404,
        "book lot 0: 404")
    for bad, what in (("AB_12", "an underscore"), ("x" * 21, "21 characters"),
                      ("   ", "only spaces"), ("--", "no letter or digit"),
                      ("KA\u00e901", "a non-ASCII letter"), (1234, "a number"),
                      ("", "empty")):
        r = book(v, lid, {"vehicle_number": bad})
        err(r, 400, "VALIDATION", "book with a vehicle number of %s: 400"
            % what, "vehicle_number")
    r = book(users[3], lid, {"vehicle_number": "AB 12", "spot_id": 3})
    ok(r.status in (400, 409), "book with a spot_id in the body: not obeyed",
       "  %d %r" % (r.status, r.body[:200]))
    r = s.req("POST", "/api/user/pkl/book/%d" % lid, {}, A)
    err(r, 403, "FORBIDDEN", "the admin booking: 403")

    # The price at booking time is kept.
    update(s, lid, {"price": 40})
    r = release(v, b4["id"])
    j = data(r) or {}
    is_((r.status, j.get("hourly_rate"), j.get("parking_cost")),
        (200, 12.5, 12.5), "the lot's price changed after booking: the "
        "release charges the rate of booking time (12.5)")
    r = book(v, lid)
    is_((data(r) or {}).get("hourly_rate"), 40, "a new booking: the new rate")
    release(v, data(r)["id"])

    # The per-user limit (PARKD_MAX_ACTIVE_BOOKINGS).
    big = P.create_lot(s, prime_location_name="Big Lot", number_of_spots=10)
    w = users[4]
    held = []
    for i in range(MAX_ACTIVE):
        r = book(w, big["id"])
        if r.status == 200:
            held.append(data(r)["id"])
    is_(len(held), MAX_ACTIVE, "book %d times: all 200" % MAX_ACTIVE)
    r = book(w, big["id"])
    err(r, 409, "BOOKING_LIMIT", "one more: 409 BOOKING_LIMIT")
    r = book(w, lid)
    err(r, 409, "BOOKING_LIMIT", "  in another lot too")
    release(w)
    r = book(w, big["id"])
    is_(r.status, 200, "after a release: booking again works")
    held = held[1:] + [data(r)["id"]]
    for rid in held:
        release(w, rid)
    release(u, b3["id"])


def test_release(s, users):
    u, v = users[1], users[2]
    lot = P.create_lot(s, prime_location_name="Release Lot",
                       number_of_spots=5, price=7.25)
    lid = lot["id"]
    err(release(u), 409, "NO_ACTIVE_RESERVATION",
        "release with nothing active: 409 NO_ACTIVE_RESERVATION")
    r1 = data(book(u, lid))
    r2 = data(book(u, lid))
    r3 = data(book(v, lid))
    err(release(u, r3["id"]), 404, "NOT_FOUND",
        "release another user's reservation: 404")
    is_(grid(s, lid)["occupied_spots"], 3, "  and it stays active")
    err(release(u, 99999999), 404, "NOT_FOUND",
        "release an unknown reservation: 404")
    for bad in ("1", 0, -1, 1.5, True):
        r = u.req("POST", "/api/user/pkl/release", {"reservation_id": bad})
        err(r, 400, "VALIDATION", "release with reservation_id %r: 400"
            % (bad,), "reservation_id")
    r = u.req("POST", "/api/user/pkl/release", {"reservation_id": None})
    j = data(r) or {}
    is_((r.status, j.get("id")), (200, r1["id"]),
        "release with reservation_id null: the oldest active")
    r = release(u)
    j = data(r) or {}
    is_((r.status, j.get("id")), (200, r2["id"]),
        "release without an id: the oldest active one left")
    check_resv(j, "release")
    is_((j.get("status"), j.get("is_active"), j.get("parking_cost")),
        ("completed", False, 7.25), "release: completed, one hour charged")
    ok(j.get("leaving_timestamp") and j["leaving_timestamp"] >=
       j["parking_timestamp"], "release: a leaving time")
    is_(j.get("duration_str"), "0h 0m", "release: duration_str")
    is_(history_copy(u, j), j, "release: the answer is the reservation as "
        "stored (the history's copy)")
    err(release(u, r2["id"]), 409, "NO_ACTIVE_RESERVATION",
        "release the same reservation again: 409")
    err(release(u), 409, "NO_ACTIVE_RESERVATION",
        "release again without an id: 409")
    g = grid(s, lid)
    is_([sp["status"] for sp in g["spots"]], ["A", "A", "O", "A", "A"],
        "grid: the released spots are free at once")

    # The cost: rate x started hours, at least one.  The parking time is
    # moved back in the database (the clock cannot be faked per request).
    cases = [(2 * 3600 + 5 * 60, 3, "2h 5m"), (2 * 3600 - 30, 2, "1h 59m"),
             (3600 + 1, 2, "1h 0m"), (59 * 60, 1, "0h 59m"),
             (25 * 3600 + 60, 26, "25h 1m")]
    for back, nh, dur in cases:
        b = data(book(u, lid, {"vehicle_number": "COST1"}))
        move_back(s, b["id"], back)
        r = release(u, b["id"])
        j = data(r) or {}
        is_((r.status, j.get("parking_cost"), j.get("duration_str")),
            (200, round(nh * 7.25, 2), dur),
            "parked %s: %d started hours x 7.25 = %s" % (dur, nh,
                                                          round(nh * 7.25, 2)))
    release(v, r3["id"])


def test_resize(s, users):
    u = users[1]
    lot = P.create_lot(s, prime_location_name="Resize Lot", number_of_spots=5)
    lid = lot["id"]
    b = [data(book(u, lid))["id"] for _ in range(3)]  # spots 1, 2, 3
    release(u, b[0])  # occupied: 2 and 3
    spot_ids = {sp["spot_number"]: sp["id"] for sp in grid(s, lid)["spots"]}

    r = update(s, lid, {"number_of_spots": 8})
    j = data(r) or {}
    is_((r.status, j.get("number_of_spots"), j.get("available_spots"),
         j.get("occupied_spots")), (200, 8, 6, 2),
        "grow 5 -> 8: 8 spots, 6 free, 2 occupied")
    g = grid(s, lid)
    is_([(sp["spot_number"], sp["status"]) for sp in g["spots"]],
        [(1, "A"), (2, "O"), (3, "O"), (4, "A"), (5, "A"), (6, "A"),
         (7, "A"), (8, "A")], "grow: the grid shows new free spots 6..8")
    is_({sp["spot_number"]: sp["id"] for sp in g["spots"] if
         sp["spot_number"] <= 5}, spot_ids, "grow: spots 1..5 keep their ids")

    r = update(s, lid, {"number_of_spots": 2, "price": 99})
    err(r, 409, "LOT_NOT_EMPTY", "shrink 8 -> 2 over occupied spot 3: 409")
    like((r.json or {}).get("error"), r"\b1\b", "  the message says 1 "
         "occupied")
    r = update(s, lid, {"number_of_spots": 1})
    err(r, 409, "LOT_NOT_EMPTY", "shrink 8 -> 1 over spots 2 and 3: 409")
    like((r.json or {}).get("error"), r"\b2\b", "  the message says 2 "
         "occupied")
    g2 = grid(s, lid)
    is_((g2["number_of_spots"], g2["price"], len(g2["spots"])),
        (8, g["price"], 8), "a refused shrink changed nothing (not even the "
        "price sent with it)")

    r = update(s, lid, {"number_of_spots": 3})
    j = data(r) or {}
    is_((r.status, j.get("number_of_spots"), j.get("available_spots"),
         j.get("occupied_spots")), (200, 3, 1, 2),
        "shrink 8 -> 3 (4..8 free): 200, 3 spots")
    g = grid(s, lid)
    is_([sp["spot_number"] for sp in g["spots"]], [1, 2, 3],
        "shrink: the highest-numbered spots went")
    # Spot 1 has history (b[0]); spot 3 gets some: shrinking below them
    # keeps their rows (history names them); growing revives them.
    release(u, b[2])
    r = update(s, lid, {"number_of_spots": 1})
    err(r, 409, "LOT_NOT_EMPTY", "shrink 3 -> 1 with spot 2 occupied: 409")
    release(u, b[1])
    r = update(s, lid, {"number_of_spots": 1})
    is_((r.status, (data(r) or {}).get("number_of_spots")), (200, 1),
        "shrink 3 -> 1 when free: 200")
    is_([sp["spot_number"] for sp in grid(s, lid)["spots"]], [1],
        "  the grid shows spot 1 only")
    r = book(u, lid)
    is_((data(r) or {}).get("spot_number"), 1, "  booking gets spot 1")
    err(book(users[2], lid), 409, "LOT_FULL", "  and then the lot is full")
    release(u, data(r)["id"])
    r = update(s, lid, {"number_of_spots": 6})
    is_((r.status, (data(r) or {}).get("available_spots")), (200, 6),
        "grow 1 -> 6: 200, 6 free")
    g = grid(s, lid)
    is_([sp["spot_number"] for sp in g["spots"]], [1, 2, 3, 4, 5, 6],
        "  spot numbers 1..6 again")
    back = {sp["spot_number"]: sp["id"] for sp in g["spots"]}
    is_([back[n] for n in (1, 2, 3)], [spot_ids[n] for n in (1, 2, 3)],
        "  spots 1..3, which have history, are the same rows revived")
    hist = {x["id"]: x for x in data(u.req(
        "GET", "/api/user/pkl/book/list?limit=100")) or []}
    is_([(hist[i]["spot_number"], hist[i]["spot_id"]) for i in b],
        [(n, spot_ids[n]) for n in (1, 2, 3)],
        "history keeps the spot numbers and ids through shrink and grow")
    nums = []
    for _ in range(6):
        r = book(users[3 + len(nums) % 3], lid)
        nums.append((data(r) or {}).get("spot_number"))
        if len(nums) % 3 == 0:
            for w in users[3:6]:
                while release(w).status == 200:
                    pass
    is_(nums, [1, 2, 3, 1, 2, 3], "revived and new spots are booked lowest "
        "first")
    is_(P.invariants(s), [], "the database's invariants hold after resizing")


def test_delete(s, users):
    u = users[1]
    # Occupied: 409.
    lot = P.create_lot(s, prime_location_name="Delete Lot", number_of_spots=3)
    lid = lot["id"]
    b = data(book(u, lid, {"vehicle_number": "DEL 1"}))
    r = s.req("DELETE", "/api/admin/pkl/delete/%d" % lid, headers=A)
    err(r, 409, "LOT_NOT_EMPTY", "delete a lot with an occupied spot: 409")
    ok(grid(s, lid) is not None, "  the lot is still there")
    release(u, b["id"])
    # With history: soft delete.
    r = s.req("DELETE", "/api/admin/pkl/delete/%d" % lid, headers=A)
    is_(r.status, 200, "delete a lot with history: 200")
    check_lot(data(r), "delete")
    is_((data(r) or {}).get("id"), lid, "delete: answers the deleted lot")
    err(lot_get(s, lid), 404, "NOT_FOUND", "  GET it: 404")
    ok(lid not in ids(admin_list(s)), "  gone from the admin list")
    ok(lid not in ids(data(u.req("GET", "/api/user/pkl/list")) or []),
       "  gone from the user list")
    err(book(u, lid), 404, "NOT_FOUND", "  booking it: 404")
    err(update(s, lid, {"price": 1}), 404, "NOT_FOUND", "  updating it: 404")
    err(s.req("DELETE", "/api/admin/pkl/delete/%d" % lid, headers=A), 404,
        "NOT_FOUND", "  deleting it again: 404")
    hist = [x for x in data(u.req("GET", "/api/user/pkl/book/list?limit=100"))
            or [] if x["id"] == b["id"]]
    ok(hist and hist[0]["lot_name"] == "Delete Lot"
       and hist[0]["spot_number"] == 1 and hist[0]["lot_id"] == lid
       and hist[0]["spot_identifier"] == "Delete Lot-1",
       "  the user's history still names the lot and spot", "  %r" % hist)
    r = s.req("GET", "/api/admin/reservations?lot_id=%d" % lid, headers=A)
    is_(ids(data(r) or []), [b["id"]], "  the admin's reservations still "
        "show it")
    c = P.dbconn(s)
    row = c.execute("SELECT deleted_at IS NOT NULL, (SELECT count(*) FROM "
                    "spots WHERE lot_id = ?1) FROM lots WHERE id = ?1",
                    (lid,)).fetchone()
    is_(row, (1, 3), "  its rows are kept, marked deleted, with its spots")
    # Without history: removed.
    lot2 = P.create_lot(s, prime_location_name="Empty Lot", number_of_spots=4)
    r = s.req("DELETE", "/api/admin/pkl/delete/%d" % lot2["id"], headers=A)
    is_((r.status, (data(r) or {}).get("prime_location_name")),
        (200, "Empty Lot"), "delete a lot without history: 200, the lot")
    row = c.execute("SELECT (SELECT count(*) FROM lots WHERE id = ?1),"
                    " (SELECT count(*) FROM spots WHERE lot_id = ?1)",
                    (lot2["id"],)).fetchone()
    is_(row, (0, 0), "  it is removed with its spots")
    c.close()
    err(lot_get(s, lot2["id"]), 404, "NOT_FOUND", "  GET it: 404")
    r = u.req("DELETE", "/api/admin/pkl/delete/%d" % lot["id"])
    err(r, 403, "FORBIDDEN", "a user deleting a lot: 403")


def test_history(s):
    u, other = P.make_users(s, 2, prefix="hist", first=100)
    lot = P.create_lot(s, prime_location_name="History Lot",
                       number_of_spots=5, price=3)
    made = []
    for i in range(5):
        made.append(data(book(u, lot["id"], {"vehicle_number": "H%d" % i}))
                    ["id"])
        if i < 3:
            release(u, made[-1])
    o = data(book(other, lot["id"]))["id"]
    r = u.req("GET", "/api/user/pkl/book/list")
    got = data(r) or []
    is_(ids(got), made[::-1], "history: the caller's 5, newest first")
    is_(r.headers.get("x-total-count"), "5", "history: X-Total-Count 5")
    ok(o not in ids(got), "history: not another user's")
    for x in got:
        check_resv(x, "history item %d" % x["id"])
    pages = []
    for off in (0, 2, 4, 6):
        r = u.req("GET", "/api/user/pkl/book/list?limit=2&offset=%d" % off)
        pages.append(ids(data(r) or []))
        is_(r.headers.get("x-total-count"), "5",
            "history limit=2 offset=%d: X-Total-Count 5" % off)
    is_(pages, [made[4:2:-1], made[2:0:-1], made[:1], []],
        "history pages of 2: newest first, no overlap, then empty")
    r = u.req("GET", "/api/user/pkl/book/list?status=active")
    is_((ids(data(r) or []), r.headers.get("x-total-count")),
        (made[4:2:-1], "2"), "history status=active: the 2 active")
    r = u.req("GET", "/api/user/pkl/book/list?status=completed&limit=1")
    is_((ids(data(r) or []), r.headers.get("x-total-count")),
        ([made[2]], "3"), "history status=completed&limit=1: newest of 3")
    r = u.req("GET", "/api/user/pkl/book/list?status=cancelled")
    is_((data(r), r.headers.get("x-total-count")), ([], "0"),
        "history status=cancelled: none")
    for q in ("limit=0", "limit=101", "limit=x", "offset=-1",
              "status=done"):
        r = u.req("GET", "/api/user/pkl/book/list?" + q)
        err(r, 400, "VALIDATION", "history ?%s: 400" % q)
    r = u.req("GET", "/api/user/pkl/book/list?limit=100")
    is_(len(data(r) or []), 5, "history limit=100: allowed")
    r = s.req("GET", "/api/user/pkl/book/list", headers=A)
    err(r, 403, "FORBIDDEN", "the admin on a user's history: 403")
    for rid in made[3:]:
        release(u, rid)
    release(other, o)
    return u


def day_start(ts):
    return ts - ts % 86400


def test_admin_reservations(s, users):
    u, v = P.make_users(s, 2, prefix="adm", first=200)
    l1 = P.create_lot(s, prime_location_name="Filter Lot One")
    l2 = P.create_lot(s, prime_location_name="Filter Lot Two")
    mine = []
    for lot, who in ((l1, u), (l1, v), (l2, u), (l2, v), (l1, u)):
        mine.append((data(book(who, lot["id"]))["id"], lot["id"], who.id))
    release(u, mine[0][0])
    release(v, mine[3][0])
    # Move two of them to known days: 2025-03-10 and 2025-03-20.
    t1 = int(datetime.datetime(2025, 3, 10, 12, tzinfo=datetime.timezone.utc)
             .timestamp())
    t2 = int(datetime.datetime(2025, 3, 20, 12, tzinfo=datetime.timezone.utc)
             .timestamp())
    move_to(s, mine[0][0], t1)
    move_to(s, mine[1][0], t2)

    def q(query):
        r = s.req("GET", "/api/admin/reservations?" + query, headers=A)
        return r, ids(data(r) or [])

    all_ids = [m[0] for m in mine]
    r, got = q("limit=100")
    is_(r.status, 200, "admin reservations: 200")
    ok(set(all_ids) <= set(got), "admin reservations: every user's")
    is_(got, sorted(got, reverse=True), "admin reservations: newest first")
    total = int(r.headers.get("x-total-count", "-1"))
    ok(total >= len(all_ids) and total == len(got) or len(got) == 100,
       "admin reservations: X-Total-Count %d" % total)
    for x in (data(r) or [])[:3]:
        check_resv(x, "admin reservation %d" % x["id"])
    r, got = q("lot_id=%d" % l2["id"])
    is_(got, [m[0] for m in mine if m[1] == l2["id"]][::-1],
        "filter lot_id")
    is_(r.headers.get("x-total-count"), "2", "  X-Total-Count 2")
    r, got = q("user_id=%d&lot_id=%d" % (u.id, l1["id"]))
    is_(got, [mine[4][0], mine[0][0]], "filter user_id and lot_id")
    is_(r.headers.get("x-total-count"), "2", "  X-Total-Count 2")
    r, got = q("lot_id=%d&status=active" % l1["id"])
    is_((got, r.headers.get("x-total-count")),
        ([mine[4][0], mine[1][0]], "2"), "filter lot_id and status=active")
    r, got = q("user_id=%d&status=completed" % v.id)
    is_(got, [mine[3][0]], "filter user_id and status=completed")
    r, got = q("user_id=%d&status=active" % u.id)
    is_(got, [mine[4][0], mine[2][0]], "filter user_id and status=active")
    r, got = q("from=2025-03-01&to=2025-04-01")
    is_(got, [mine[1][0], mine[0][0]], "filter from/to (dates)")
    r, got = q("from=2025-03-15&to=2025-04-01")
    is_(got, [mine[1][0]], "filter from a date in between")
    r, got = q("from=2025-03-10T00:00:00Z&to=2025-03-10T12:00:00Z")
    is_(got, [], "filter: to is exclusive")
    r, got = q("from=2025-03-10T12:00:00Z&to=2025-03-10T12:00:01Z")
    is_(got, [mine[0][0]], "filter: from is inclusive")
    r, got = q("user_id=%d&limit=1&offset=1" % u.id)
    is_((got, r.headers.get("x-total-count")), ([mine[2][0]], "3"),
        "paging: limit=1 offset=1 of 3")
    r, got = q("user_id=999999")
    is_((got, r.headers.get("x-total-count")), ([], "0"),
        "filter an unknown user: none")
    for bad in ("lot_id=x", "user_id=0", "status=gone", "from=2025-13-01",
                "to=yesterday", "limit=0", "limit=101", "offset=-2"):
        r = s.req("GET", "/api/admin/reservations?" + bad, headers=A)
        err(r, 400, "VALIDATION", "admin reservations ?%s: 400" % bad)
    err(u.req("GET", "/api/admin/reservations"), 403, "FORBIDDEN",
        "a user on the admin's reservations: 403")
    for rid, _, who in mine:
        for x in (u, v):
            if x.id == who:
                release(x, rid)


def test_summaries(s):
    def admin_sum():
        r = s.req("GET", "/api/admin/summary", headers=A)
        return data(r) if r.status == 200 else {}

    a0 = admin_sum()
    u, v = P.make_users(s, 2, prefix="sum", first=300)
    lot = P.create_lot(s, prime_location_name="Summary Lot",
                       number_of_spots=4, price=10)

    def user_sum(x):
        r = x.req("GET", "/api/user/summary")
        return data(r) if r.status == 200 else {}

    us = user_sum(u)
    is_({k: us.get(k) for k in ("active_reservation", "total_bookings",
                                 "hours_parked", "total_spent")},
        {"active_reservation": None, "total_bookings": 0, "hours_parked": 0,
         "total_spent": 0}, "user summary of a new user: nothing")
    keys = {"total_users", "total_lots", "total_spots", "occupied_spots",
            "available_spots", "active_reservations", "revenue_today",
            "revenue_month", "lots", "bookings_per_day"}
    ok(keys <= set(a0), "admin summary: the fields",
       "  missing %r" % sorted(keys - set(a0)))
    today = datetime.datetime.now(datetime.timezone.utc).date()
    days = [x.get("date") for x in a0.get("bookings_per_day", [])]
    is_(days, [(today - datetime.timedelta(days=29 - i)).isoformat()
               for i in range(30)],
        "admin summary: 30 days of bookings, ending today (UTC)")

    # u: one active now; one completed 2h5m long (3 h); one completed
    # 40 days ago; v: one active.
    b1 = data(book(u, lot["id"]))
    b2 = data(book(u, lot["id"]))
    move_back(s, b2["id"], 2 * 3600 + 5 * 60)
    c2 = data(release(u, b2["id"]))
    b3 = data(book(u, lot["id"]))
    c3 = data(release(u, b3["id"]))
    move_back(s, b3["id"], 40 * 86400)
    b4 = data(book(v, lot["id"]))
    us = user_sum(u)
    is_((us.get("active_reservation") or {}).get("id"), b1["id"],
        "user summary: the active reservation")
    check_resv(us.get("active_reservation"), "user summary")
    is_(us.get("total_bookings"), 3, "user summary: 3 bookings")
    is_(us.get("total_spent"), c2["parking_cost"] + c3["parking_cost"],
        "user summary: total spent = the two costs (%s)" % (
            c2["parking_cost"] + c3["parking_cost"]))
    ok(2.08 <= (us.get("hours_parked") or 0) <= 2.2,
       "user summary: about 2.08 hours parked",
       "  %r" % us.get("hours_parked"))
    is_((user_sum(v).get("total_bookings"), user_sum(v).get("total_spent")),
        (1, 0), "user summary: only the caller's")

    a1 = admin_sum()
    is_(a1.get("total_users", 0) - a0.get("total_users", 0), 2,
        "admin summary: 2 more users")
    is_(a1.get("occupied_spots", 0) - a0.get("occupied_spots", 0), 2,
        "admin summary: 2 more occupied spots")
    is_(a1.get("active_reservations", 0) - a0.get("active_reservations", 0),
        2, "admin summary: 2 more active reservations")
    is_(a1.get("total_spots", 0) - a0.get("total_spots", 0), 4,
        "admin summary: 4 more spots")
    is_(a1.get("available_spots"), a1.get("total_spots", 0) -
        a1.get("occupied_spots", 0), "admin summary: available = total - "
        "occupied")
    is_(round(a1.get("revenue_today", 0) - a0.get("revenue_today", 0), 2), 30,
        "admin summary: revenue today +30 (the 3-hour one; the other left "
        "40 days ago)")
    is_(round(a1.get("revenue_month", 0) - a0.get("revenue_month", 0), 2), 30,
        "admin summary: revenue this month +30")
    per = {x["id"]: x for x in a1.get("lots", [])}
    mine = per.get(lot["id"], {})
    is_([mine.get(k) for k in ("number_of_spots", "occupied_spots",
                               "available_spots", "occupancy_percent")],
        [4, 2, 2, 50], "admin summary: the lot's occupancy 2 of 4, 50%")
    listed = {l["id"]: l for l in admin_list(s)}
    ok(set(per) == set(listed) and all(
        per[i]["occupied_spots"] == listed[i]["occupied_spots"]
        for i in per), "admin summary: per-lot occupancy equals the list")
    is_(a1.get("total_lots"), len(listed), "admin summary: total_lots")
    is_(a1.get("occupied_spots"), sum(l["occupied_spots"]
                                      for l in listed.values()),
        "admin summary: occupied = the lots' sum")
    d0 = {x["date"]: x["bookings"] for x in a0.get("bookings_per_day", [])}
    d1 = {x["date"]: x["bookings"] for x in a1.get("bookings_per_day", [])}
    b2day = datetime.datetime.fromisoformat(
        c2["parking_timestamp"].replace("Z", "+00:00")).date().isoformat()
    want = {k: 0 for k in d1}
    for day in (today.isoformat(), today.isoformat(), b2day):
        want[day] = want.get(day, 0) + 1
    is_({k: d1[k] - d0.get(k, 0) for k in d1 if d1[k] != d0.get(k, 0)},
        {k: n for k, n in want.items() if n},
        "admin summary: bookings per day: +2 today, +1 on the day the moved "
        "one started, none for 40 days ago")
    # Completed last month and earlier this month (when today is not the
    # 1st): revenue_month only.
    if today.day > 1:
        first = int(datetime.datetime(today.year, today.month, 1, 1,
                                      tzinfo=datetime.timezone.utc)
                    .timestamp())
        c = data(release(v, b4["id"]))
        move_back(s, c["id"], int(time.time()) - first)
        a2 = admin_sum()
        is_((round(a2.get("revenue_today", 0) - a1.get("revenue_today"), 2),
             round(a2.get("revenue_month", 0) - a1.get("revenue_month"), 2)),
            (0, 10), "admin summary: a release earlier this month counts in "
            "the month only")
    else:
        T.skip("admin summary: a release earlier this month", "today is "
               "the 1st")
        release(v, b4["id"])
    err(u.req("GET", "/api/admin/summary"), 403, "FORBIDDEN",
        "a user on the admin summary: 403")
    err(s.req("GET", "/api/user/summary", headers=A), 403, "FORBIDDEN",
        "the admin on the user summary: 403")
    release(u, b1["id"])


def test_not_stale(s):
    """Reads right after writes, many times: the grid and the admin summary
    are cached, and 4 workers answer in turn."""
    u, = P.make_users(s, 1, prefix="fresh", first=400)
    lot = P.create_lot(s, prime_location_name="Fresh Lot", number_of_spots=3)
    lid = lot["id"]
    stale = []
    rounds = 25
    for i in range(rounds):
        g0 = grid(s, lid)  # warm the cache
        a0 = data(s.req("GET", "/api/admin/summary", headers=A)) or {}
        b = data(book(u, lid, {"vehicle_number": "FR%d" % i}))
        for k in range(3):
            g = grid(s, lid)
            sp = [x for x in g["spots"] if x["reservation"] and
                  x["reservation"]["id"] == b["id"]]
            if not sp or g["occupied_spots"] != g0["occupied_spots"] + 1:
                stale.append("round %d read %d: grid without booking %d"
                             % (i, k, b["id"]))
            a = data(s.req("GET", "/api/admin/summary", headers=A)) or {}
            if a.get("occupied_spots") != a0.get("occupied_spots", -9) + 1:
                stale.append("round %d read %d: summary occupied %r, want %r"
                             % (i, k, a.get("occupied_spots"),
                                a0.get("occupied_spots", -9) + 1))
        release(u, b["id"])
        for k in range(3):
            g = grid(s, lid)
            if g["occupied_spots"] != g0["occupied_spots"] or any(
                    x["reservation"] and x["reservation"]["id"] == b["id"]
                    for x in g["spots"]):
                stale.append("round %d read %d: grid still shows %d"
                             % (i, k, b["id"]))
            a = data(s.req("GET", "/api/admin/summary", headers=A)) or {}
            if a.get("occupied_spots") != a0.get("occupied_spots"):
                stale.append("round %d: summary after release %r"
                             % (i, a.get("occupied_spots")))
        n = 3 + i % 4
        update(s, lid, {"number_of_spots": n})
        for k in range(3):
            g = grid(s, lid)
            if len(g["spots"]) != n or g["number_of_spots"] != n:
                stale.append("round %d: grid of %d spots after resize to %d"
                             % (i, len(g["spots"]), n))
            a = data(s.req("GET", "/api/admin/summary", headers=A)) or {}
            per = {x["id"]: x for x in a.get("lots", [])}
            if per.get(lid, {}).get("number_of_spots") != n:
                stale.append("round %d: summary lot size %r after resize to"
                             " %d" % (i, per.get(lid), n))
    ok(not stale, "%d rounds of book/release/resize, each read 3 times at "
       "once: the grid and the admin summary are never stale" % rounds,
       *stale[:10])

    # A renamed user: the grid shows the new name at once.
    b = data(book(u, lid, {"vehicle_number": "REN1"}))
    stale = []
    for i in range(10):
        grid(s, lid)
        name = "fresh_renamed_%d" % i
        r = u.req("POST", "/api/user/profile/update", {"username": name})
        if r.status != 200:
            stale.append("rename %d: %d %r" % (i, r.status, r.body[:200]))
            break
        for k in range(3):
            g = grid(s, lid)
            got = [x["reservation"]["username"] for x in g["spots"]
                   if x["reservation"] and x["reservation"]["id"] == b["id"]]
            if got != [name]:
                stale.append("rename %d read %d: grid says %r" % (i, k, got))
    ok(not stale, "a renamed user: the grid shows the new name at once "
       "(10 renames, 3 reads each)", *stale[:10])
    release(u, b["id"])
    if REDIS_DOWN:
        T.skip("the grid and the summary were served from Redis",
               "Redis is down in this run")
    else:
        keys = P.parkd_keys(s)
        ok(any(":grid:" in k for k in keys) and
           any(":summary:" in k for k in keys),
           "the grid and the summary are in Redis (so the checks above "
           "read through the cache)", "  keys: %r" % keys[:10])


def test_memo(s):
    """The lists and grids each worker keeps (memo.c) are keyed by SQLite's
    data version, which any commit changes: a write by another program,
    with no cache generation bumped, shows in the very next list from every
    worker; so do bookings and releases through the API.  A kept text is
    byte for byte the text rendered."""
    u, = P.make_users(s, 1, prefix="memo", first=420)
    lot = P.create_lot(s, prime_location_name="Memo Lot", number_of_spots=4)
    lid = lot["id"]
    reads = 12  # 4 workers: every worker answers several times

    def user_lot():
        r = u.req("GET", "/api/user/pkl/list")
        return r, {x["id"]: x for x in data(r) or []}.get(lid)

    bodies = set(user_lot()[0].body for _ in range(reads))
    is_(len(bodies), 1, "%d user lists in a row: one text, byte for byte"
        % reads)
    admin_bodies = set(s.req("GET", "/api/admin/pkl/list", headers=A).body
                       for _ in range(reads))
    is_(len(admin_bodies), 1, "%d admin lists in a row: one text" % reads)

    bad = []
    for i in range(5):
        name = "Renamed Behind %d" % i
        c = P.dbconn(s)
        try:
            c.execute("UPDATE lots SET name = ? WHERE id = ?", (name, lid))
        finally:
            c.close()
        for k in range(reads):
            got = (user_lot()[1] or {}).get("prime_location_name")
            if got != name:
                bad.append("rename %d read %d: user list says %r"
                           % (i, k, got))
            got = {x["id"]: x for x in admin_list(s)}.get(lid, {}).get(
                "prime_location_name")
            if got != name:
                bad.append("rename %d read %d: admin list says %r"
                           % (i, k, got))
            if REDIS_DOWN:  # with Redis up, the grid relies on generations
                got = (grid(s, lid) or {}).get("prime_location_name")
                if got != name:
                    bad.append("rename %d read %d: grid says %r"
                               % (i, k, got))
    ok(not bad, "5 renames by another program (no generation bumped), %d "
       "reads each: every list shows the new name at once" % reads,
       *bad[:10])

    bad = []
    for i in range(5):
        b = data(book(u, lid, {"vehicle_number": "MEMO%d" % i}))
        for k in range(reads):
            got = (user_lot()[1] or {}).get("available_spots")
            if got != 3:
                bad.append("booking %d read %d: available %r" % (i, k, got))
        release(u, b["id"])
        for k in range(reads):
            got = (user_lot()[1] or {}).get("available_spots")
            if got != 4:
                bad.append("release %d read %d: available %r" % (i, k, got))
    ok(not bad, "5 bookings and releases, %d reads after each: the list "
       "is never stale" % reads, *bad[:10])


def main():
    global A
    settings = {**P.FAST_HASH,
                "PARKD_MAX_ACTIVE_BOOKINGS": str(MAX_ACTIVE),
                "PARKD_REDIS_BREAKER_S": "1"}
    with T.Stack(settings=settings, workers=4) as s:
        if REDIS_DOWN:
            s.kill_redis()
            r = s.req("GET", "/api/health")
            is_(((data(r) or {}).get("checks") or {}).get("cache"), "down",
                "Redis killed: health says the cache is down")
        A = P.admin_headers(s)
        users = P.make_users(s, 6, prefix="park")
        t0 = time.monotonic()
        test_create_validation(s)
        lot = test_lot_object(s)
        test_update(s, lot)
        test_lists(s, users)
        test_booking(s, users)
        test_release(s, users)
        test_resize(s, users)
        test_delete(s, users)
        test_history(s)
        test_admin_reservations(s, users)
        test_summaries(s)
        test_not_stale(s)
        test_memo(s)
        is_(P.invariants(s), [], "the database's invariants hold at the end")
        bad = [line for line in s.log().splitlines()
               if " status=500 " in line or "statement left open" in line]
        is_(bad, [], "no 500 and no statement left open in parkd's log")
        diag("the checks took %.1f s" % (time.monotonic() - t0))


T.run(main)
