#!/usr/bin/env python3
"""71-compat.t: old clients keep working (issue #15, items 1 to 3).

Replays the requests of the old clients as ../shared/docs/api-contract.md
and the old Flask backend's docs show them, extra fields included, through
real nginx, and checks the old shapes:

* register with confirm_password; login with remember_me (the lifetimes
  read from the tokens' exp claims, compared with expires_in and the old
  backend's: access tokens 1 hour, 7 days with remember_me, as its app
  never refreshes); export with user_id and email (the task is the
  caller's);
* unknown query parameters ignored; the ignored names (never the values)
  logged at debug level, once each, every byte outside printable ASCII
  escaped (invalid UTF-8, U+2028, C1 controls, a character the 64-byte cut
  falls in);
* every reservation object (book, history, release, summary, the admin's
  list) carries every old key with the old type; parking_cost is 0.0 while
  active;
* every error envelope carries message, the same text as error, nginx's
  own error pages included;
* money always has a decimal point, in every answer that holds money.
"""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import authlib as A  # noqa: E402
import parktest as T  # noqa: E402
from parktest import diag, is_, ok  # noqa: E402

# The token lifetimes parkd has by default (conf.c conf_defs[],
# man/parkd.conf.5), in seconds; the access tokens' are the old backend's,
# whose app never refreshes: "keep me signed in" is the access token's life.
# The checks below read the real lifetimes from the tokens' claims.
DEFAULT_ACCESS_S = 3600                 # JWT_ACCESS_TOKEN_EXPIRES
DEFAULT_ACCESS_REMEMBER_S = 7 * 86400   # PARKD_JWT_ACCESS_REMEMBER_EXPIRES
DEFAULT_REFRESH_S = 2592000             # JWT_REFRESH_TOKEN_EXPIRES
DEFAULT_REMEMBER_S = 7776000            # PARKD_JWT_REMEMBER_EXPIRES

# The old reservation keys and their types (flask-database.md 2.5).
OLD_RESV_KEYS = {
    "id": int, "spot_id": int, "user_id": int, "parking_timestamp": str,
    "leaving_timestamp": (str, type(None)),
    "expected_leaving_time": (str, type(None)),
    "parking_cost": float, "hourly_rate": float,
    "vehicle_number": (str, type(None)), "vehicle_model": (str, type(None)),
    "vehicle_color": (str, type(None)), "status": str, "remarks":
    (str, type(None)), "duration_str": str, "is_active": bool,
    "is_completed": bool, "is_overdue": bool, "spot_identifier": str,
    "lot_name": str, "created_at": str, "updated_at": str}

# Keys that hold money in any answer, and a money value written without a
# decimal point ("price":30 instead of 30.0).
MONEY_KEYS = ("price", "hourly_rate", "parking_cost", "total_spent",
              "revenue_today", "revenue_month")
INT_MONEY = re.compile(r'"(%s)":(-?\d+)(?=[,}\]])' % "|".join(MONEY_KEYS))

SEEN = []  # every (what, response) whose money is checked at the end


def data(r):
    j = r.json if isinstance(r.json, dict) else {}
    return j.get("data")


def keep(what, r):
    SEEN.append((what, r))
    return r


def check_resv(v, what):
    """Every old key with its old type and meaning."""
    bad = []
    if not isinstance(v, dict):
        return ok(False, what + ": a reservation object", "  %r" % (v,))
    for k, t in OLD_RESV_KEYS.items():
        if k not in v:
            bad.append("missing %s" % k)
        elif not isinstance(v[k], t) or (t is int and isinstance(v[k],
                                                                 bool)):
            bad.append("%s is %r" % (k, v[k]))
    if not bad:
        st = v["status"]
        if v["is_active"] is not (st == "active"):
            bad.append("is_active %r with status %s" % (v["is_active"], st))
        if v["is_completed"] is not (st == "completed"
                                     and v["leaving_timestamp"] is not None):
            bad.append("is_completed %r with status %s"
                       % (v["is_completed"], st))
        if st == "active" and v["parking_cost"] != 0.0:
            bad.append("active with parking_cost %r" % v["parking_cost"])
        # parkd's bookings are walk-ins: no expected time, never overdue
        if v["expected_leaving_time"] is None and v["is_overdue"]:
            bad.append("overdue without an expected leaving time")
    return ok(not bad, what + ": every old key with its old type",
              *(["  " + b for b in bad] + ["  %r" % (v,)]))


def check_error(r, status, what):
    j = r.json if isinstance(r.json, dict) else {}
    return ok(r.status == status and j.get("success") is False
              and isinstance(j.get("error"), str) and j.get("error")
              and j.get("message") == j.get("error"),
              "%s: %d, message is the error's text" % (what, status),
              "  %d %r" % (r.status, r.body[:300]))


def test_register_login(c, s):
    t = A.tag()
    pw = A.new_password()
    name, email = "old_%s" % t, "old.%s@example.com" % t
    # The old backend's docs register with confirm_password.
    r = c.post("/api/auth/register", {"username": name, "email": email,
                                      "password": pw,
                                      "confirm_password": pw})
    is_(r.status, 200, "register with confirm_password: 200")
    u = data(r) or {}
    is_((u.get("username"), u.get("role")), (name, "user"),
        "  the user object")
    r = c.post("/api/auth/register", {"username": name + "x",
                                      "email": "x" + email, "password": "short",
                                      "confirm_password": "short"})
    check_error(r, 400, "register with a bad password and confirm_password")
    ok("password" in ((r.json or {}).get("details") or {}) and
       "confirm_password" not in ((r.json or {}).get("details") or {}),
       "  details name the password, not confirm_password")

    for remember, access_s, refresh_s in (
            (True, DEFAULT_ACCESS_REMEMBER_S, DEFAULT_REMEMBER_S),
            (False, DEFAULT_ACCESS_S, DEFAULT_REFRESH_S),
            (None, DEFAULT_ACCESS_S, DEFAULT_REFRESH_S)):
        body = {"username": email, "password": pw}
        if remember is not None:
            body["remember_me"] = remember
        r = c.post("/api/auth/login", body)
        if not is_(r.status, 200, "login with remember_me=%s: 200"
                   % remember):
            continue
        d = data(r)
        ac, rc = A.jwt_claims(d["access_token"]), A.jwt_claims(
            d["refresh_token"])
        alife, rlife = ac["exp"] - ac["iat"], rc["exp"] - rc["iat"]
        is_(alife, d.get("expires_in"), "remember_me=%s: the access token's "
            "exp - iat is expires_in" % remember)
        is_(alife, access_s, "remember_me=%s: the access lifetime is the "
            "old backend's (%d s)" % (remember, access_s))
        # The session's end and the tokens' iat are one instant.
        is_(rlife, refresh_s, "remember_me=%s: the refresh lifetime is the "
            "setting's (%d s)" % (remember, refresh_s))
    r = c.post("/api/auth/login", {"username": email, "password": pw,
                                   "remember_me": "yes"})
    check_error(r, 400, "login with remember_me \"yes\" (a known field, a "
                "bad value)")
    return email, pw


def test_parking(c, s, admin, email, pw):
    tok = A.login(c, email, pw).json["data"]["access_token"]
    r = keep("lot create", c.post("/api/admin/pkl/create", {
        "prime_location_name": "Compat Lot", "address": "1 Old Client Road",
        "pin_code": "560001", "number_of_spots": 3, "price": 30,
        "created_by": 1, "id": 777}, token=admin))
    is_(r.status, 200, "lot create with created_by and id: 200")
    lot = data(r) or {}
    ok(lot.get("id") != 777, "  the id sent is not used")
    is_(repr(lot.get("price")), "30.0", "  price 30 is written 30.0")
    lid = lot.get("id")
    keep("admin lot list", c.get("/api/admin/pkl/list", token=admin))
    keep("user lot list", c.get("/api/user/pkl/list", token=tok))

    r = keep("book", c.post("/api/user/pkl/book/%d" % lid,
                            {"vehicle_number": "KA01AB1234",
                             "user_id": 1, "vehicle_model": "Swift",
                             "vehicle_color": "Red", "status": "completed"},
                            token=tok))
    is_(r.status, 200, "book with user_id, vehicle_model, vehicle_color and "
        "status: 200")
    b = data(r) or {}
    check_resv(b, "book")
    is_((b.get("status"), b.get("parking_cost"), b.get("vehicle_model"),
         b.get("vehicle_color"), b.get("is_overdue")),
        ("active", 0.0, None, None, False),
        "  active, cost 0.0, the sent model and colour not stored, not "
        "overdue (a walk-in)")
    ok(re.search(rb'"parking_cost":0\.0[,}]', r.body),
       "  parking_cost is written 0.0 while active")
    r = keep("history", c.get("/api/user/pkl/book/list?page=2&user_id=1"
                              "&sort=desc", token=tok))
    is_(r.status, 200, "history with unknown query parameters: 200")
    for v in data(r) or []:
        check_resv(v, "history")
    r = keep("summary", c.get("/api/user/summary", token=tok))
    check_resv((data(r) or {}).get("active_reservation"), "summary")
    r = keep("release", c.post("/api/user/pkl/release",
                               {"reservation_id": b.get("id"),
                                "parking_cost": 0, "user_id": 1},
                               token=tok))
    is_(r.status, 200, "release with parking_cost and user_id: 200")
    v = data(r) or {}
    check_resv(v, "release")
    is_((v.get("status"), v.get("parking_cost"), v.get("is_completed")),
        ("completed", 30.0, True), "  completed, one hour charged (not the "
        "parking_cost sent), is_completed")
    r = keep("admin reservations", c.get("/api/admin/reservations?lot_id=%d"
                                         "&foo=1" % lid, token=admin))
    for v in data(r) or []:
        check_resv(v, "the admin's list")
    keep("user summary", c.get("/api/user/summary", token=tok))
    keep("admin summary", c.get("/api/admin/summary", token=admin))
    keep("lot update", c.post("/api/admin/pkl/update/%d" % lid,
                              {"price": 12.5, "spots": []}, token=admin))
    return tok


def test_export(c, s, tok, email):
    me = c.get("/api/auth/me", token=tok)
    uid = ((data(me) or {}).get("user") or data(me) or {}).get("id")
    other = A.User(c, "oth")
    # The old app's request: its own user_id and its own address.
    r = c.post("/api/user/export-csv", {"user_id": uid, "email": email},
               token=tok)
    is_(r.status, 200, "export-csv with user_id and email: 200")
    task = (data(r) or {}).get("task_id")
    r = c.get("/api/user/export-status/%s" % task, token=tok)
    is_(r.status, 200, "  the task is the caller's")
    # Another user's id in user_id: ignored, the export is the caller's.
    r = c.post("/api/user/export-csv", {"user_id": other.id}, token=tok)
    task2 = (data(r) or {}).get("task_id")
    ok(r.status in (200, 429), "export-csv with another user's id: not "
       "refused for it (%d)" % r.status)
    if task2:
        other.login()
        is_(c.get("/api/user/export-status/%s" % task2,
                  token=other.access).status, 404,
            "  the user named by user_id cannot see it")


def test_errors(c, s):
    check_error(c.get("/api/nowhere"), 404, "unknown route")
    check_error(c.call("PUT", "/api/auth/login", body={}), 405,
                "wrong method")
    check_error(c.get("/api/user/profile"), 401, "no token")
    check_error(c.post("/api/auth/login", {"username": "x"}), 400,
                "login without a password")
    r = s.req("POST", "/api/auth/login", body=b"{}", headers={
        "Content-Type": "text/plain"})
    check_error(r, 415, "a body that is not JSON")
    big = b'{"username":"' + b"x" * (128 * 1024) + b'"}'
    r = s.req("POST", "/api/auth/login", body=big, headers={
        "Content-Type": "application/json"})
    check_error(r, 413, "a body over nginx's limit (nginx's own page)")


def test_log(s, pw):
    text = A.read_logs(s).get(os.path.join(s.dir, "logs", "parkd.log"), "")
    lines = [ln for ln in text.splitlines() if "ignored" in ln]
    ok(any('ignored body fields: "confirm_password"' in ln for ln in lines),
       "the log names confirm_password as ignored", *lines[:5])
    ok(any("ignored query fields:" in ln and '"page"' in ln
           and '"user_id"' in ln for ln in lines),
       "the log names the ignored query parameters", *lines[:5])
    ok(all("debug" in ln for ln in lines), "  at debug level")
    leaked = [ln for ln in lines if "Swift" in ln or "KA01AB1234" in ln
              or "desc" in ln or pw in ln]
    ok(not leaked, "  names only, never values", *leaked[:3])


def test_log_bytes(c, s):
    """Ignored names are anyone's bytes (an anonymous route's query too):
    the debug line holds printable ASCII only, every other byte escaped
    whole (\\xNN), even where the 64-byte cut falls inside a UTF-8
    character; a name sent twice is listed once."""
    H = {"Content-Type": "application/json"}
    # U+2028 (line separator), U+0085 (NEL), U+009B (C1 CSI) + "31m"; a
    # 2-byte character cut at byte 64; both marked "zq".
    body = ('{"zq\\u2028b\\u0085c\\u009b31m":1,"%s\u00e9":1,'
            '"username":"x","password":"y"}' % ("zq" + "a" * 61))
    c.post("/api/auth/login", body, headers=H)
    # an anonymous route: invalid UTF-8 and a repeated name in the query
    c.call("GET", "x", raw=b"GET /api/health?zq\xff\xfe\xc3=1&zqdup=1&"
           b"zqdup=2&zqdup=3 HTTP/1.1\r\nHost: x\r\nConnection: close"
           b"\r\n\r\n")
    with open(os.path.join(s.dir, "logs", "parkd.log"), "rb") as f:
        lines = [ln for ln in f.read().split(b"\n")
                 if b"ignored" in ln and b'"zq' in ln]
    body_l = [ln for ln in lines if b"ignored body fields:" in ln]
    query_l = [ln for ln in lines if b"ignored query fields:" in ln]
    ok(len(body_l) == 1 and len(query_l) == 1, "one line each for the "
       "body and the query", *[repr(ln) for ln in lines])
    bad = [ln for ln in lines if any(b < 0x20 or b > 0x7e for b in ln)]
    ok(lines and not bad, "  each of printable ASCII only",
       *[repr(ln) for ln in bad])
    want = (b'"zq\\xe2\\x80\\xa8b\\xc2\\x85c\\xc2\\x9b31m"',
            b'"zq' + b"a" * 61 + b'\\xc3"',
            b'"zq\\xff\\xfe\\xc3"')
    for w in want:
        ok(any(w in ln for ln in lines), "  %s is written %s" % (
            "the cut name" if b"aaa" in w else "the name", w.decode()),
            *[repr(ln) for ln in lines])
    ok(query_l and query_l[0].count(b'"zqdup"') == 1,
       "  a name sent three times is listed once",
       *[repr(ln) for ln in query_l])


def test_money():
    bad = []
    for what, r in SEEN:
        for m in INT_MONEY.finditer(r.body.decode("utf-8", "replace")):
            bad.append("%s: %s" % (what, m.group(0)))
    ok(SEEN and not bad, "money always has a decimal point (%d answers)"
       % len(SEEN), *bad[:10])


def main():
    with T.Stack() as s:
        c = A.Client(s)
        admin = A.admin_login(c)
        email, pw = test_register_login(c, s)
        tok = test_parking(c, s, admin, email, pw)
        test_export(c, s, tok, email)
        test_errors(c, s)
        test_money()
        test_log(s, pw)
        test_log_bytes(c, s)
        diag("%d requests" % len(c.seen))


T.run(main)
