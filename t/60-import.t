#!/usr/bin/env python3
"""60-import.t: "parkctl import-flask", end to end.

Two databases of the earlier Flask backend are made by t/lib/flaskdb.py,
one per schema variant, with werkzeug hashes (scrypt, pbkdf2 260000 and
600000 and 1000000 iterations) of known passwords and every inconsistency
the importer repairs: e-mails equal but for case, an admin row, a hash
parkd cannot verify, a phone and a username parkd refuses, number_of_spots
unlike the spot rows (more rows; fewer rows with a gap), one opening hour
without the other, an active reservation on a spot marked free, a spot
marked occupied with no active reservation, two active reservations on one
spot, leaving before parking (mixed clocks), a cancelled reservation
without leaving time, a completed one without cost, links to a missing spot
and to the skipped admin, vehicle model and colour.

Then: a dry run changes nothing; the import reports exactly the expected
repairs, skips and counts; every user logs in through the API with the old
password (and again, after the re-hash); inactive and unverifiable ones are
refused; lots, spot grids and every user's history appear through the API
exactly as expected, with naive local times converted to UTC in the given
zone (a fixed offset, and a zone with summer time) and money in cents; the
second file's rows get new ids where the first took theirs, and its user
whose e-mail parkd has joins that account; a second import of either file
changes nothing and says 0 imported; a database imported before the old
keys (sql/010-old-keys.sql) gets them filled in by a new import, the
"[vehicle: ...]" tag of the importer of then taken off the remarks, once; a failure half-way leaves nothing
behind; after "db reset" the file imports again; the cached admin summary
is current right after an import; files
that are random bytes, text,
empty, damaged, missing, a directory, a foreign SQLite database or one
lacking a column are refused with a clear message, exit status 1 and no
change; usage errors exit 2.
"""

import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import flaskdb as F  # noqa: E402
import parking as P  # noqa: E402
import parktest as T  # noqa: E402
import pgconn  # noqa: E402
from parktest import diag, is_, like, ok  # noqa: E402

# India: UTC+5:30 all year; Central Europe: +1, +2 in summer.
TZ_A = "IST-5:30"
TZ_B = "CET-1CEST,M3.5.0,M10.5.0/3"

PW = {
    "alice": "alice-secret-1", "bob": "bob-secret-22",
    "carol": "carol-old-pw", "carol2": "carol-new-pw",
    "ed": "ed-password-7", "fay": "fay-pw-000",
    "frank": "frank-pw-123", "gina": "gina-pw-456",
    "robert": "robert-pw-4", "nomail": "nomail-pw-5",
}


# ---- the two old databases ---------------------------------------------------


def make_a(path):
    """The newer schema (admin rows allowed), local time UTC+5:30."""
    db = F.FlaskDB(path, "newer")
    u = {}
    u["alice"] = db.user(
        "alice", "alice@example.com", F.scrypt_hash(PW["alice"]),
        phone="+919876543210", created_at="2025-07-01 10:00:00.123456",
        last_login="2025-07-30 09:00:00")
    u["bob"] = db.user(
        "bob", "Bob@Example.com", F.pbkdf2_hash(PW["bob"]),
        phone="+91 98765 43210 ext 123", created_at="2025-07-02 11:30:00")
    u["carol"] = db.user(
        "carol", "carol@example.com",
        F.scrypt_hash(PW["carol"], salt="CarolOldSalt0001"),
        created_at="2025-07-03 08:00:00", last_login="2025-07-05 08:00:00")
    u["carol2"] = db.user(
        "carol2", "Carol@Example.COM",
        F.pbkdf2_hash(PW["carol2"], salt="CarolNewSalt0002"),
        created_at="2025-07-10 08:00:00", last_login="2025-07-28 18:00:00")
    u["boss"] = db.user("boss", "boss@example.com",
                        F.pbkdf2_hash("boss-pw", iterations=1000),
                        role="admin")
    u["dave"] = db.user("dave", "dave@example.com", "sha256$abc$0123",
                        created_at="2025-07-04 12:00:00")
    u["ed"] = db.user("ed", "ed@example.com",
                      F.pbkdf2_hash(PW["ed"], iterations=600000))
    u["fay"] = db.user("fay", "fay@example.com", F.scrypt_hash(PW["fay"]),
                       is_active=False)

    lot1, s1 = db.lot("Downtown Central Plaza", 5, 25.5,
                      hours=("08:00:00", "20:00:00"),
                      description="Near the metro station",
                      occupied=(1, 3, 5))
    lot2, s2 = db.lot("Business Park North", 4, "30",
                      hours=("9:00", "18:30:00.000000"),
                      spot_numbers=range(1, 7))
    lot3, s3 = db.lot("Airport Terminal", 5, "99.99", spot_numbers=(1, 2, 4),
                      is_active=False)
    lot4, s4 = db.lot("Shopping Mall East", 2, 0.125,
                      hours=("10:00:00", None))
    assert (lot1, lot2, lot3, lot4) == (1, 2, 3, 4)
    assert [s1[1], s2[1], s3[1], s3[4], s4[2]] == [1, 6, 12, 14, 16]

    r = db.reservation
    r(s1[1], u["alice"], "2025-07-10 09:00:00", "2025-07-10 11:30:00", 76.5,
      25.5, "completed", vehicle="ka 01 ab 1234",
      created_at="2025-07-10 03:30:00.250000")
    r(s1[1], u["alice"], "2025-07-30 08:15:00", None, 0.0, 25.5,
      created_at="2025-07-30 02:45:00")
    r(s2[2], u["bob"], "2025-07-29 15:24:58.779801", None, 0.0, 30,
      created_at="2025-07-29 09:54:58.779801",
      expected="2025-07-29 17:00:00")
    r(s1[5], u["carol"], "2025-07-20 10:00:00", None, 0.0, 25.5,
      created_at="2025-07-20 04:30:00")
    r(s1[5], u["carol2"], "2025-07-25 12:00:00", None, 0.0, 25.5,
      created_at="2025-07-25 06:30:00")
    # leaving written by a UTC clock, parking by the local one
    r(s3[1], u["bob"], "2025-07-15 14:00:00", "2025-07-15 09:00:00", 99.99,
      99.99, "completed", created_at="2025-07-15 08:30:00", check=False)
    r(s4[1], u["boss"], "2025-07-16 10:00:00", "2025-07-16 11:00:00", 0.13,
      0.125, "completed", created_at="2025-07-16 04:30:00")
    r(999, u["alice"], "2025-07-17 10:00:00", "2025-07-17 11:00:00", 25.5,
      25.5, "completed", created_at="2025-07-17 04:30:00")
    r(s4[2], u["dave"], "2025-07-01 00:15:00", None, 0.0, 0.125, "cancelled",
      created_at="2025-06-30 18:45:00")
    r(s2[1], u["ed"], "2025-07-05 10:00:00", "2025-07-05 10:20:00", None, 30,
      "completed", created_at="2025-07-05 04:30:00")
    r(s3[2], u["bob"], "2025-07-12 18:00:00", "2025-07-12 19:59:59", 199.98,
      99.99, "completed", model="Swift", color="Red",
      created_at="2025-07-12 12:30:00", expected="2025-07-12 20:00:00")
    r(s1[2], u["fay"], "2025-06-15 10:00:00", "2025-06-15 10:30:00", 25.5,
      25.5, "completed", created_at="2025-06-15 04:30:00")
    db.close()


def make_b(path):
    """The older schema (role 'user' only), local time of Central Europe;
    its ids clash with those of A, and one e-mail is alice's."""
    db = F.FlaskDB(path, "older")
    frank = db.user("frank", "frank@example.org",
                    F.pbkdf2_hash(PW["frank"], iterations=1000000),
                    created_at="2024-01-15 10:00:00")
    gina = db.user("gina", "gina@example.org",
                   F.scrypt_hash(PW["gina"], salt="GinaSalt"),
                   created_at="2024-07-15 10:00:00")
    alice = db.user("alice_b", "ALICE@example.com",
                    F.pbkdf2_hash("not-alices", iterations=1000))
    # A's bob took the name; A's skipped admin left id 5 free
    db.user("bob", "robert@example.org",
            F.pbkdf2_hash(PW["robert"], iterations=1000))
    db.user("nomail", "nomail-user",
            F.pbkdf2_hash(PW["nomail"], iterations=1000))
    lot, s = db.lot("Harbour Side", 3, 12, hours=("07:30:00", "22:00:00"),
                    occupied=(3,), created_at="2024-01-01 08:00:00")
    db.reservation(s[1], frank, "2024-01-20 10:00:00", "2024-01-20 12:30:00",
                   36.0, 12, "completed", created_at="2024-01-20 09:00:00")
    db.reservation(s[2], gina, "2024-07-20 10:00:00", "2024-07-20 11:00:00",
                   12, 12, "completed", created_at="2024-07-20 08:00:00")
    db.reservation(s[3], alice, "2024-07-21 09:00:00", None, 0.0, 12,
                   vehicle="MH12 XY 9", created_at="2024-07-21 07:00:00")
    db.close()


# ---- what the imports must say -------------------------------------------------

REPORT_A = sorted([
    ("skipped", "user", 5), ("repaired", "user", 2), ("note", "user", 6),
    ("merged", "user", 3), ("repaired", "user", 7),
    ("repaired", "lot", 2), ("repaired", "lot", 3), ("repaired", "lot", 4),
    ("repaired", "spot", 3),
    ("repaired", "reservation", 3), ("repaired", "reservation", 4),
    ("repaired", "reservation", 6), ("repaired", "reservation", 9),
    ("repaired", "reservation", 10),
    ("skipped", "reservation", 7), ("skipped", "reservation", 8),
])
# kind: read, imported, merged, already imported, skipped; repaired
COUNTS_A = {"users": (8, 6, 1, 0, 1, 3), "lots": (4, 4, 0, 0, 0, 3),
            "spots": (16, 16, 0, 0, 0, 1),
            "reservations": (12, 10, 0, 0, 2, 5)}
AGAIN_A = {"users": (8, 0, 0, 7, 1, 0), "lots": (4, 0, 0, 4, 0, 0),
           "spots": (16, 0, 0, 16, 0, 0),
           "reservations": (12, 0, 0, 10, 2, 0)}
REPORT_B = sorted([("merged", "user", 3), ("repaired", "user", 4),
                   ("note", "user", 5)])
COUNTS_B = {"users": (5, 4, 1, 0, 0, 2), "lots": (1, 1, 0, 0, 0, 0),
            "spots": (3, 3, 0, 0, 0, 0),
            "reservations": (3, 3, 0, 0, 0, 0)}
AGAIN_B = {"users": (5, 0, 0, 5, 0, 0), "lots": (1, 0, 0, 1, 0, 0),
           "spots": (3, 0, 0, 3, 0, 0),
           "reservations": (3, 0, 0, 3, 0, 0)}

# The lots through GET /api/admin/pkl/list: the fields compared.
LOT_KEYS = ("id", "prime_location_name", "number_of_spots", "price",
            "is_active", "description", "operating_hours_start",
            "operating_hours_end", "available_spots", "occupied_spots",
            "created_at")
LOTS = [
    (1, "Downtown Central Plaza", 5, 25.5, True, "Near the metro station",
     "08:00", "20:00", 3, 2, "2025-06-01T03:30:00Z"),
    (2, "Business Park North", 6, 30, True, None, "09:00", "18:30", 5, 1,
     "2025-06-01T03:30:00Z"),
    (3, "Airport Terminal", 5, 99.99, False, None, None, None, 5, 0,
     "2025-06-01T03:30:00Z"),
    (4, "Shopping Mall East", 2, 0.13, True, None, None, None, 2, 0,
     "2025-06-01T03:30:00Z"),
    (5, "Harbour Side", 3, 12, True, None, "07:30", "22:00", 2, 1,
     "2024-01-01T07:00:00Z"),
]
# Spot grids: (spot id, number, status, reservation id or None)
GRIDS = {
    1: [(1, 1, "O", 2), (2, 2, "A", None), (3, 3, "A", None),
        (4, 4, "A", None), (5, 5, "O", 5)],
    2: [(6, 1, "A", None), (7, 2, "O", 3), (8, 3, "A", None),
        (9, 4, "A", None), (10, 5, "A", None), (11, 6, "A", None)],
    # the missing numbers 3 and 5 were added after every old spot row
    3: [(12, 1, "A", None), (13, 2, "A", None), (17, 3, "A", None),
        (14, 4, "A", None), (18, 5, "A", None)],
    4: [(15, 1, "A", None), (16, 2, "A", None)],
    5: [(19, 1, "A", None), (20, 2, "A", None), (21, 3, "O", 15)],
}
# History: the fields compared, newest first.
RESV_KEYS = ("id", "spot_id", "spot_number", "lot_id", "user_id",
             "vehicle_number", "parking_timestamp", "leaving_timestamp",
             "hourly_rate", "parking_cost", "status")
HISTORY = {
    "alice": [
        (15, 21, 3, 5, 1, "MH12XY9", "2024-07-21T07:00:00Z", None, 12, 0.0,
         "active"),
        (2, 1, 1, 1, 1, None, "2025-07-30T02:45:00Z", None, 25.5, 0.0,
         "active"),
        (1, 1, 1, 1, 1, "KA01AB1234", "2025-07-10T03:30:00Z",
         "2025-07-10T06:00:00Z", 25.5, 76.5, "completed"),
    ],
    "bob": [
        (11, 13, 2, 3, 2, None, "2025-07-12T12:30:00Z",
         "2025-07-12T14:29:59Z", 99.99, 199.98, "completed"),
        (6, 12, 1, 3, 2, None, "2025-07-15T08:30:00Z",
         "2025-07-15T08:30:00Z", 99.99, 99.99, "completed"),
        (3, 7, 2, 2, 2, None, "2025-07-29T09:54:58Z", None, 30, 0.0,
         "active"),
    ],
    "carol2": [
        (5, 5, 5, 1, 4, None, "2025-07-25T06:30:00Z", None, 25.5, 0.0,
         "active"),
        # completed when reservation 5 began: 122 hours begun x 25.50
        (4, 5, 5, 1, 4, None, "2025-07-20T04:30:00Z",
         "2025-07-25T06:30:00Z", 25.5, 3111, "completed"),
    ],
    "ed_7": [
        # no cost in the old row: one hour begun x 30
        (10, 6, 1, 2, 7, None, "2025-07-05T04:30:00Z",
         "2025-07-05T04:50:00Z", 30, 30, "completed"),
    ],
    "frank": [
        (13, 19, 1, 5, 9, None, "2024-01-20T09:00:00Z",
         "2024-01-20T11:30:00Z", 12, 36, "completed"),
    ],
    "gina": [
        (14, 20, 2, 5, 10, None, "2024-07-20T08:00:00Z",
         "2024-07-20T09:00:00Z", 12, 12, "completed"),
    ],
}
# Through the admin's list: users who cannot log in.
ADMIN_HISTORY = {
    6: [(9, 16, 2, 4, 6, None, "2025-06-30T18:45:00Z", "2025-06-30T18:45:00Z",
         0.13, 0, "cancelled")],
    8: [(12, 2, 2, 1, 8, None, "2025-06-15T04:30:00Z", "2025-06-15T05:00:00Z",
         25.5, 25.5, "completed")],
}
# (login, password, user id, username)
LOGINS = [
    ("alice", PW["alice"], 1, "alice"),
    ("BOB@example.COM", PW["bob"], 2, "bob"),
    ("carol@example.com", PW["carol2"], 4, "carol2"),
    ("Carol@Example.COM", PW["carol2"], 4, "carol2"),
    ("ed@example.com", PW["ed"], 7, "ed_7"),
    ("frank", PW["frank"], 9, "frank"),
    ("gina@example.org", PW["gina"], 10, "gina"),
    ("robert@example.org", PW["robert"], 11, "bob_4"),
    ("nomail", PW["nomail"], 5, "nomail"),
]


# ---- helpers -------------------------------------------------------------------


def data(r):
    return (r.json or {}).get("data")


def login(s, ident, password):
    return s.req("POST", "/api/auth/login",
                 {"username": ident, "password": password})


def bearer(token):
    return {"Authorization": "Bearer " + token}


def stats(s):
    """db stats --json without the job history, which other commands may
    change."""
    out = s.parkctl("db", "stats", "--json")
    if out.returncode != 0:
        raise RuntimeError("db stats: %s" % out.stderr)
    j = json.loads(out.stdout)
    j.pop("jobs", None)
    return j


def report_lines(text):
    """The (verb, kind, id) of every repair, skip, merge and note line."""
    got = []
    for line in text.splitlines():
        m = re.match(r"^(repaired|skipped|merged|note) "
                     r"(user|lot|spot|reservation) (\d+)\b", line)
        if m:
            got.append((m.group(1), m.group(2), int(m.group(3))))
    return sorted(got)


def counts(text):
    got = {}
    for m in re.finditer(r"^(\w+): read (\d+), imported (\d+), merged (\d+), "
                         r"already imported (\d+), skipped (\d+); repaired "
                         r"(\d+)$", text, re.M):
        got[m.group(1)] = tuple(int(x) for x in m.groups()[1:])
    return got


def run_import(s, path, tz, *extra):
    out = s.parkctl("import-flask", "--timezone", tz, *extra, path)
    if out.returncode != 0:
        diag(out.stdout, out.stderr)
    return out


def pick(obj, keys):
    return tuple(obj.get(k) for k in keys)


# ---- the tests -------------------------------------------------------------------


def test_dry_run(s, path_a):
    before = stats(s)
    out = run_import(s, path_a, TZ_A, "--dry-run")
    is_(out.returncode, 0, "a dry run exits 0")
    is_(counts(out.stdout), COUNTS_A, "a dry run reports what the import "
        "would do")
    like(out.stdout, r"(?m)^dry run: rolled back, nothing was changed$",
         "a dry run says nothing was changed")
    is_(stats(s), before, "a dry run changes nothing")


def test_import_a(s, path_a):
    out = run_import(s, path_a, TZ_A)
    is_(out.returncode, 0, "the import of the newer-schema file exits 0")
    text = out.stdout
    like(text, r"^import-flask: .*: newer schema \(roles user and admin\), "
         r"source flask-[0-9a-f]{32}, local time IST-5:30\n",
         "the header names the variant, the source and the zone")
    is_(report_lines(text), REPORT_A, "exactly the expected repairs, skips, "
        "merges and notes are reported")
    is_(counts(text), COUNTS_A, "the counts per kind")
    like(text, r"(?m)^committed$", "the import says it committed")
    for pattern, what in [
        (r"skipped user 5 \(boss@example\.com\): role admin", "admin row"),
        (r"merged user 3 \(carol@example\.com\): same e-mail as user 4 but "
         r"for letter case.*logged in last", "case duplicates"),
        (r"note user 6 .*password hash .*needs a new password",
         "unverifiable hash"),
        (r"repaired user 2 \(Bob@Example\.com\): phone .*dropped",
         "phone"),
        (r"repaired user 7 .*username \"ed\" is not one parkd stores.*"
         r"now \"ed_7\"",
         "short username"),
        (r"repaired lot 2 .*number_of_spots 4 but 6 spot rows", "more rows"),
        (r"repaired lot 3 .*number_of_spots 5 but 3 spot rows numbered up "
         r"to 4: 5 spots, 2 of them added", "fewer rows"),
        (r"repaired lot 4 .*opening hours", "half the hours"),
        (r"repaired spot 3 \(Downtown Central Plaza #3\): marked occupied "
         r"without an active reservation: free", "spot marked occupied"),
        (r"repaired reservation 3: active while its spot 7 .*marked free: "
         r"kept active", "active on a free spot"),
        (r"repaired reservation 4: a second active reservation on spot 5 "
         r".*older than reservation 5: completed .*2025-07-25T06:30:00Z, "
         r"cost 3111\.00", "two actives on a spot"),
        (r"repaired reservation 6: leaving time 2025-07-15T03:30:00Z "
         r"before its parking time 2025-07-15T08:30:00Z \(mixed clocks\)",
         "leaving before parking"),
        (r"repaired reservation 9: cancelled without a leaving time",
         "cancelled without leaving"),
        (r"repaired reservation 10: completed without a cost: 30\.00",
         "completed without cost"),
        (r"skipped reservation 7: its user was skipped", "admin's booking"),
        (r"skipped reservation 8: its spot does not exist", "missing spot"),
    ]:
        like(text, pattern, "report: " + what)


def test_import_b(s, path_b, admin):
    # the admin summary is cached: the import must make it stale
    r = s.req("GET", "/api/admin/summary", headers=admin)
    is_((data(r) or {}).get("total_lots"), 4, "the summary before the "
        "second import (now cached)")
    out = run_import(s, path_b, TZ_B)
    is_(out.returncode, 0, "the import of the older-schema file exits 0")
    text = out.stdout
    like(text, r"older schema \(role user only\)", "the older variant is "
         "recognised")
    like(text, r"(?m)^note: this database already holds an import of 1 "
         r"other file", "another source is noted")
    is_(report_lines(text), REPORT_B, "the second file's report")
    like(text, r"merged user 3 \(ALICE@example\.com\): e-mail already "
         r"registered in parkd \(user 1\)", "an e-mail parkd has joins that "
         "account")
    like(text, r"repaired user 4 \(robert@example\.org\): username \"bob\" "
         r"is taken in parkd: now \"bob_4\"", "a taken username is renamed")
    like(text, r"note user 5 \(nomail-user\): e-mail is not an address",
         "an e-mail that is no address is noted")
    is_(counts(text), COUNTS_B, "the second file's counts")
    r = s.req("GET", "/api/admin/summary", headers=admin)
    j = data(r) or {}
    is_((j.get("total_lots"), j.get("total_spots"), j.get("occupied_spots")),
        (5, 21, 4), "the summary right after the import shows its lots "
        "(the cache generation was bumped)")


def test_atomic(s, tmp):
    """A failure half-way (a trigger refuses the last reservation, after
    the users, lots and spots were written) leaves nothing behind."""
    path = os.path.join(tmp, "third.db")
    db = F.FlaskDB(path, "newer")
    hal = db.user("hal", "hal@example.net", F.pbkdf2_hash("hal-pw-9000",
                                                        iterations=1000))
    lot, spots = db.lot("Third Street Garage", 2, 5)
    db.reservation(spots[1], hal, "2025-08-01 10:00:00", "2025-08-01 11:00:00",
                   5, 5, "completed")
    db.reservation(spots[2], hal, "2025-08-01 12:00:00", vehicle="FAIL ME")
    db.close()
    live = P.dbconn(s)
    # PostgreSQL: a trigger is the schema owner's to make (parkd's role
    # may not), so the superuser of the test's own cluster makes it
    sup = pgconn.Connection(re.sub(r"([?&]user=)[^&]*", r"\1postgres",
                                   s.settings["DATABASE_URL"])) \
        if T.use_pg() else live
    if T.use_pg():
        sup.execute("CREATE FUNCTION t60_fail() RETURNS trigger LANGUAGE"
                    " plpgsql AS $$ BEGIN RAISE EXCEPTION 't60: refused';"
                    " END $$")
        sup.execute("CREATE TRIGGER t60_fail BEFORE INSERT ON reservations"
                    " FOR EACH ROW WHEN (NEW.vehicle_number = 'FAILME')"
                    " EXECUTE FUNCTION t60_fail()")
    else:
        live.execute("CREATE TRIGGER t60_fail BEFORE INSERT ON reservations "
                     "WHEN NEW.vehicle_number = 'FAILME' "
                     "BEGIN SELECT RAISE(ABORT, 't60: refused'); END")
    try:
        before = stats(s)
        out = run_import(s, path, TZ_A)
        ok(out.returncode == 1 and "nothing was imported" in out.stderr,
           "a failure half-way: exit status 1, nothing imported",
           "  exit %r: %s" % (out.returncode, out.stderr))
        is_(stats(s), before, "a failure half-way changes nothing")
        n = live.execute("SELECT count(*) FROM users WHERE email = "
                         "'hal@example.net'").fetchone()[0]
        is_(n, 0, "the user written before the failure was rolled back")
    finally:
        if T.use_pg():
            sup.execute("DROP TRIGGER t60_fail ON reservations")
            sup.execute("DROP FUNCTION t60_fail()")
            sup.close()
        else:
            live.execute("DROP TRIGGER t60_fail")
        live.close()
    out = run_import(s, path, TZ_A, "--dry-run")
    like(out.stdout, r"(?m)^users: read 1, imported 1,", "without the "
         "trigger the same file imports (dry run)")


def test_logins(s):
    for ident, password, uid, name in LOGINS:
        for attempt in ("", " again (re-hashed)"):
            r = login(s, ident, password)
            u = (data(r) or {}).get("user") or {}
            ok(r.status == 200 and u.get("id") == uid and
               u.get("username") == name,
               "%s logs in with the old password%s" % (ident, attempt),
               "  %d %r" % (r.status, r.body[:300]))
    r = login(s, "carol", PW["carol"])
    is_(r.status, 401, "the merged duplicate's own username and password are "
        "gone")
    r = login(s, "dave@example.com", "anything")
    is_(r.status, 401, "a user whose hash parkd cannot verify cannot log in")
    r = login(s, "fay@example.com", PW["fay"])
    is_(r.status, 403, "an inactive old user stays inactive")
    r = login(s, "boss@example.com", "boss-pw")
    is_(r.status, 401, "the old admin row was not imported")
    r = login(s, "alice@example.com", "not-alices")
    is_(r.status, 401, "the second file's alice did not bring her password")


def test_lots(s, admin):
    r = s.req("GET", "/api/admin/pkl/list", headers=admin)
    got = [pick(l, LOT_KEYS) for l in data(r) or []]
    is_(got, LOTS, "the lot list through the API")
    for lot, want in GRIDS.items():
        r = s.req("GET", "/api/admin/pkl/%d" % lot, headers=admin)
        spots = (data(r) or {}).get("spots") or []
        got = [(x["id"], x["spot_number"], x["status"],
                (x.get("reservation") or {}).get("id")) for x in spots]
        is_(got, want, "the spot grid of lot %d" % lot)
    r = s.req("GET", "/api/user/pkl/list",
              headers=bearer(data(login(s, "alice", PW["alice"]))
                             ["access_token"]))
    is_([l["id"] for l in data(r) or []], [1, 2, 4, 5],
        "users see the active lots only")


def test_history(s, admin):
    for name, want in HISTORY.items():
        r = login(s, name if name != "ed_7" else "ed@example.com",
                  PW[name if name != "ed_7" else "ed"])
        if not ok(r.status == 200, "%s logs in" % name):
            continue
        r = s.req("GET", "/api/user/pkl/book/list",
                  headers=bearer(data(r)["access_token"]))
        got = [pick(v, RESV_KEYS) for v in data(r) or []]
        is_(got, want, "%s's history through the API" % name)
    for uid, want in ADMIN_HISTORY.items():
        r = s.req("GET", "/api/admin/reservations?user_id=%d" % uid,
                  headers=admin)
        got = [pick(v, RESV_KEYS) for v in data(r) or []]
        is_(got, want, "user %d's history through the admin's list" % uid)
    r = login(s, "bob", PW["bob"])
    r = s.req("GET", "/api/user/pkl/book/list",
              headers=bearer(data(r)["access_token"]))
    old = {v["id"]: (v["remarks"], v["vehicle_model"], v["vehicle_color"],
                     v["expected_leaving_time"], v["is_overdue"],
                     v["is_completed"]) for v in data(r) or []}
    is_(old.get(11), ("Reservation created successfully", "Swift", "Red",
                      "2025-07-12T14:30:00Z", False, True),
        "the vehicle's model and colour and the expected leaving time (local "
        "time) are kept in their own keys (#15)")
    is_(old.get(3), ("Reservation created successfully", None, None,
                     "2025-07-29T11:30:00Z", True, False),
        "an active reservation past its expected leaving time is overdue")
    is_(old.get(6)[1:5], (None, None, None, False),
        "no model, colour or expected time: null, not overdue")


def test_again(s, path_a, path_b):
    before = stats(s)
    for path, tz, want, what in [(path_a, TZ_A, AGAIN_A, "first"),
                                 (path_b, TZ_B, AGAIN_B, "second")]:
        out = run_import(s, path, tz)
        is_(out.returncode, 0, "importing the %s file again exits 0" % what)
        is_(counts(out.stdout), want, "importing the %s file again imports "
            "nothing (0 imported, all already imported)" % what)
        ok(not re.search(r"(?m)^(repaired|merged) ", out.stdout),
           "and repairs nothing", out.stdout)
    out = run_import(s, path_a, TZ_A, "--dry-run")
    is_(counts(out.stdout), AGAIN_A, "a dry run of it again says the same")
    is_(stats(s), before, "the second imports changed nothing")


def bob_old_keys(s):
    """Reservations 11 and 3 of bob as the API shows them: remarks, the
    three old keys."""
    r = login(s, "bob", PW["bob"])
    r = s.req("GET", "/api/user/pkl/book/list",
              headers=bearer(data(r)["access_token"]))
    return {v["id"]: (v["remarks"], v["vehicle_model"], v["vehicle_color"],
                      v["expected_leaving_time"]) for v in data(r) or []
            if v["id"] in (3, 11)}


def test_backfill(s, path_a):
    """A database imported before sql/010-old-keys.sql: the importer of
    then put model and colour into the remarks and dropped the expected
    leaving time.  Importing the file again fills them in."""
    want = bob_old_keys(s)
    P.db_write(s, ("UPDATE reservations SET vehicle_model = NULL,"
                   " vehicle_color = NULL, expected_leaving_ts = NULL"
                   " WHERE id IN (3, 11)", ()),
               ("UPDATE reservations SET remarks = remarks ||"
                " ' [vehicle: Swift Red]' WHERE id = 11", ()))
    old = {3: ("Reservation created successfully", None, None, None),
           11: ("Reservation created successfully [vehicle: Swift Red]",
                None, None, None)}
    is_(bob_old_keys(s), old, "as the importer before #15 left them: no old "
        "keys, model and colour in the remarks")
    out = run_import(s, path_a, TZ_A, "--dry-run")
    like(out.stdout, r"(?m)^reservations imported before: old keys filled "
         r"in 2, \"\[vehicle: \.\.\.\]\" taken off the remarks of 1$",
         "a dry run reports the old keys it would fill in")
    is_(bob_old_keys(s), old, "and changes nothing")
    out = run_import(s, path_a, TZ_A)
    is_(out.returncode, 0, "importing the file again exits 0")
    like(out.stdout, r"(?m)^filled reservation 11: imported before without "
         r"its old keys: vehicle model, vehicle colour, expected leaving time "
         r"filled in from the old file; \"\[vehicle: Swift Red\]\" taken "
         r"off the remarks$", "reservation 11: model, colour, expected time, "
         "remarks reported")
    like(out.stdout, r"(?m)^filled reservation 3: imported before without "
         r"its old keys: expected leaving time filled in from the old file$",
         "reservation 3: the expected time reported")
    is_(len(re.findall(r"(?m)^filled ", out.stdout)), 2,
        "no other reservation is filled in")
    like(out.stdout, r"(?m)^reservations imported before: old keys filled "
         r"in 2, \"\[vehicle: \.\.\.\]\" taken off the remarks of 1$",
         "the summary counts them")
    is_(counts(out.stdout), AGAIN_A, "and imports nothing")
    is_(bob_old_keys(s), want, "the old keys are filled in from the old file "
        "and the tag is off the remarks")
    after = stats(s)
    out = run_import(s, path_a, TZ_A)
    like(out.stdout, r"(?m)^reservations imported before: old keys filled "
         r"in 0, \"\[vehicle: \.\.\.\]\" taken off the remarks of 0$",
         "a third run fills in nothing")
    ok(not re.search(r"(?m)^filled ", out.stdout), "  and reports no row")
    is_(bob_old_keys(s), want, "  and changes nothing")
    is_(stats(s), after, "  (db stats too)")


def test_refused(s, tmp, path_a):
    before = stats(s)
    cases = []
    path = os.path.join(tmp, "random.db")
    with open(path, "wb") as f:
        f.write(os.urandom(8192))
    cases.append((path, r"is not an SQLite database", "random bytes"))
    path = os.path.join(tmp, "notes.txt")
    with open(path, "w") as f:
        f.write("users, lots and reservations\n" * 20)
    cases.append((path, r"is not an SQLite database", "a text file"))
    path = os.path.join(tmp, "empty.db")
    open(path, "w").close()
    cases.append((path, r"is not an SQLite database \(the file is empty\)",
                  "an empty file"))
    path = os.path.join(tmp, "damaged.db")
    make_a(path)
    size = os.path.getsize(path)
    with open(path, "r+b") as f:  # every page but the schema's
        f.seek(4096)
        f.write(os.urandom(size - 4096))
    cases.append((path, r"is damaged", "a damaged SQLite file"))
    path = os.path.join(tmp, "foreign.db")
    db = F.sqlite3.connect(path)
    db.executescript("CREATE TABLE customers (id INTEGER PRIMARY KEY, name);"
                     "CREATE TABLE orders (id INTEGER PRIMARY KEY, total);"
                     "INSERT INTO customers VALUES (1, 'x');")
    db.close()
    cases.append((path, r"is not a database of the Flask backend: it has no "
                  r"table \"users\"", "a foreign SQLite database"))
    path = os.path.join(tmp, "almost.db")
    make_b(path)
    db = F.sqlite3.connect(path)
    db.executescript("ALTER TABLE reservations DROP COLUMN remarks;")
    db.close()
    cases.append((path, r"table \"reservations\" has no column \"remarks\"",
                  "a database lacking a column"))
    cases.append((os.path.join(tmp, "missing.db"),
                  r"No such file or directory", "a missing file"))
    cases.append((tmp, r"is not a regular file", "a directory"))
    for path, pattern, what in cases:
        mtime = os.stat(path).st_mtime_ns if os.path.exists(path) else None
        out = s.parkctl("import-flask", path)
        ok(out.returncode == 1, "%s is refused with exit status 1" % what,
           "  exit %r: %s" % (out.returncode, out.stderr))
        like(out.stderr, r"parkctl: import-flask: .*" + pattern +
             r".*; nothing was imported", "%s: a clear message" % what)
        is_(out.stdout, "", "%s: no report" % what)
        if mtime is not None:
            is_(os.stat(path).st_mtime_ns, mtime, "%s: the file is left as "
                "it was" % what)
    is_(stats(s), before, "the refused files changed nothing")

    out = s.parkctl("import-flask")
    ok(out.returncode == 2 and "file to import is missing" in out.stderr,
       "no FILE: usage error 2", out.stderr)
    out = s.parkctl("import-flask", "--timezone", "Mars/Olympus_Mons",
                    path_a)
    ok(out.returncode == 2 and "unknown time zone" in out.stderr,
       "an unknown time zone: usage error 2", out.stderr)
    out = s.parkctl("import-flask", "--bogus", path_a)
    is_(out.returncode, 2, "an unknown option: usage error 2")
    out = s.parkctl("import-flask", "--help")
    ok(out.returncode == 0 and "import-flask [--dry-run] [--timezone TZ] "
       "FILE" in out.stdout, "--help prints the usage line", out.stdout)
    is_(stats(s), before, "the usage errors changed nothing")


def test_after_reset(s, path_a):
    """db reset deletes every row: the file imports again (ids are reused,
    so the old mappings must not survive their rows)."""
    out = s.parkctl("db", "reset", "--yes")
    is_(out.returncode, 0, "db reset")
    out = run_import(s, path_a, TZ_A)
    is_(out.returncode, 0, "the file imports again after a reset")
    like(out.stdout, r"(?m)^users: read 8, imported 6, merged 1, already "
         r"imported 0, skipped 1;", "every user is imported again")
    like(out.stdout, r"(?m)^reservations: read 12, imported 10, merged 0, "
         r"already imported 0, skipped 2;", "every reservation is imported "
         "again")
    like(out.stdout, r"repaired lot 1 \(Downtown Central Plaza\): imported "
         r"before, deleted in parkd since: imported again", "and says so")
    r = login(s, "alice", PW["alice"])
    u = (data(r) or {}).get("user") or {}
    ok(r.status == 200 and u.get("id") not in (None, 1),
       "alice logs in again, with a new id (the sample users took 1 to 3)",
       "  %d %r" % (r.status, r.body[:300]))


def main():
    with T.Stack(settings={"PARKD_SCRYPT_N": "16384"}) as s:
        tmp = os.path.join(s.dir, "old")
        os.mkdir(tmp)
        path_a = os.path.join(tmp, "parking_app.db")
        path_b = os.path.join(tmp, "older.db")
        make_a(path_a)
        make_b(path_b)
        admin = bearer(data(login(s, s.admin_email, s.admin_password))
                       ["access_token"])
        test_dry_run(s, path_a)
        test_import_a(s, path_a)
        test_import_b(s, path_b, admin)
        test_logins(s)
        test_lots(s, admin)
        test_history(s, admin)
        test_again(s, path_a, path_b)
        test_backfill(s, path_a)
        test_refused(s, tmp, path_a)
        test_atomic(s, tmp)
        test_after_reset(s, path_a)


T.run(main)
