#!/usr/bin/env python3
"""79-db-copy.t: "parkctl db copy --to postgresql://..." (issue #17):
moving a site from SQLite to PostgreSQL.

* A site is built on SQLite through the API (whatever PARKD_DB says: the
  source of a copy is always SQLite): users, a lot, walk-in bookings
  (released and not), an advance reservation, a cancelled one, a CSV
  export written by "parkctl exports", its mail.
* --dry-run into a new, unmigrated database reports the rows and writes
  nothing (not even the schema); into a migrated, empty one, nothing.
* The copy (while the source's parkd runs) commits, saying the counts and
  sums match; then parkd runs on the copy (PostgreSQL) and answers the
  same: the admin's lot list, each user's history (after logging in with
  the password hash copied), the admin's and the users' summaries, a
  lot's spot grid; a new booking gets an id past the copied ones.
* A second copy into the now non-empty database is refused (exit 1) and
  changes nothing; a source that is PostgreSQL, or --to that is not, is
  refused.

The cluster is private (dev/lib.sh pg_start under /tmp); skipped only
when the PostgreSQL server binaries are missing.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import parktest as T  # noqa: E402
import parking as P  # noqa: E402
from parktest import diag, is_, ok, skip  # noqa: E402

GRID = 900
ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"


def psql(d, db, sql):
    """Runs sql on database db of the cluster as its superuser; returns
    the output (unaligned, tuples only)."""
    r = subprocess.run(
        [os.path.join(T.PG_BIN, "psql"), "-X", "-At", "-h", d, "-p",
         "5432", "-U", "postgres", "-d", db, "-c", sql],
        capture_output=True, text=True, timeout=60)
    return r.stdout.strip() if r.returncode == 0 else "ERROR " + r.stderr


def counts(d, db):
    return psql(d, db, "SELECT (SELECT count(*) FROM users) || ' ' ||"
                " (SELECT count(*) FROM lots) || ' ' ||"
                " (SELECT count(*) FROM reservations) || ' ' ||"
                " (SELECT count(*) FROM export_jobs)")


def reads(s, users):
    """What the checks compare: the admin's lots, grid and summary, each
    user's history and summary (volatile numbers left out)."""
    adm = P.admin_headers(s)
    out = {}
    r = s.req("GET", "/api/admin/pkl/list", None, adm)
    out["lots"] = r.json.get("data") if r.status == 200 else r.status
    lot = out["lots"][0]["id"] if isinstance(out["lots"], list) else 0
    r = s.req("GET", "/api/admin/pkl/%d" % lot, None, adm)
    out["grid"] = r.json.get("data") if r.status == 200 else r.status
    r = s.req("GET", "/api/admin/summary", None, adm)
    out["summary"] = r.json.get("data") if r.status == 200 else r.status
    for u in users:
        r = u.req("GET", "/api/user/pkl/book/list?limit=100")
        out["history " + u.username] = (r.json.get("data")
                                        if r.status == 200 else r.status)
        r = u.req("GET", "/api/user/summary")
        out["summary " + u.username] = (r.json.get("data")
                                        if r.status == 200 else r.status)
    return out


def build_site(s):
    """Users, a lot, bookings, reservations and an export on stack s;
    returns the users."""
    users = P.make_users(s, 4, prefix="mover")
    lot = P.create_lot(s, number_of_spots=6, price=20)["id"]
    P.create_lot(s, number_of_spots=3, price=5)
    for u in users[:3]:
        r = u.req("POST", "/api/user/pkl/book/%d" % lot,
                  {"vehicle_number": "KA01 %s" % u.username[-1]})
        ok(r.status == 200, "source: %s books" % u.username,
           r.body[:200])
    for u in users[:2]:
        r = u.req("POST", "/api/user/pkl/release", {})
        ok(r.status == 200, "source: %s releases" % u.username,
           r.body[:200])
    start = (int(time.time()) // GRID + 8) * GRID
    for i, u in enumerate(users[2:]):
        r = u.req("POST", "/api/user/pkl/reserve/%d" % lot, {
            "start": time.strftime(ISO_UTC, time.gmtime(start + i * GRID)),
            "end": time.strftime(ISO_UTC,
                                 time.gmtime(start + (i + 4) * GRID))})
        ok(r.status == 200, "source: %s reserves a window" % u.username,
           r.body[:200])
        if i == 1 and r.status == 200:
            rid = r.json["data"]["id"]
            r = u.req("POST", "/api/user/pkl/cancel",
                      {"reservation_id": rid})
            ok(r.status == 200, "source: %s cancels it" % u.username,
               r.body[:200])
    r = users[0].req("POST", "/api/user/export-csv", {})
    ok(r.status in (200, 202), "source: an export is queued", r.body[:200])
    out = s.parkctl("exports")
    ok(out.returncode == 0, "source: parkctl exports writes it",
       out.stderr[-500:])
    s.parkctl("mail")
    return users


def main():
    if not T.pg_have():
        skip("parkctl db copy", "no PostgreSQL server binaries in " +
             T.PG_BIN)
        return
    # The source is SQLite whatever the suite runs on.
    os.environ["PARKD_DB"] = "sqlite"
    d = tempfile.mkdtemp(prefix="parktest-pg-", dir="/tmp")
    started = False
    try:
        for db in ("copy", "dry"):
            r = T.pg_lib("pg_start", d, db=db)
            ok(r.returncode == 0, "pg_start makes database " + db,
               r.stderr[-500:])
            started = True
        r = T.pg_lib("pg_migrate", d, db="dry")
        ok(r.returncode == 0, "database dry is migrated", r.stderr[-500:])
        owner = T.pg_url(d, "parkd_owner", "copy")
        dml = T.pg_url(d, "parkd", "copy")
        with T.Stack() as s:
            users = build_site(s)
            before = reads(s, users)

            # --dry-run: nothing written, not even the schema
            out = s.parkctl("db", "copy", "--to", owner, "--dry-run")
            ok(out.returncode == 0, "--dry-run exits 0", out.stderr[-800:])
            ok("would be migrated" in out.stdout and
               "users              5 rows would be copied" not in
               out.stdout and "nothing was written" in out.stdout,
               "--dry-run reports the rows and the migration", out.stdout)
            ok("users              4 rows would be copied" in out.stdout,
               "--dry-run counts the source's 4 users", out.stdout)
            is_(psql(d, "copy", "SELECT to_regclass('parkd_schema') IS"
                     " NULL"), "t", "--dry-run did not migrate the target")
            out = s.parkctl("db", "copy", "--to",
                            T.pg_url(d, "parkd", "dry"), "--dry-run")
            ok(out.returncode == 0 and "nothing was written" in out.stdout,
               "--dry-run into a migrated empty database",
               out.stdout + out.stderr[-500:])
            is_(counts(d, "dry"), "0 0 0 0",
                "--dry-run wrote no row into it")

            # refusals
            out = s.parkctl("db", "copy", "--to", "/tmp/x.db")
            ok(out.returncode == 1 and "postgresql://" in out.stderr,
               "--to that is not postgresql:// is refused", out.stderr)
            out = s.parkctl("db", "copy")
            is_(out.returncode, 2, "no --to: a usage error")

            # the copy, while the source's parkd runs
            out = s.parkctl("db", "copy", "--to", owner)
            ok(out.returncode == 0, "the copy exits 0",
               out.stdout + out.stderr[-1500:])
            ok("the counts and sums of every table match" in out.stdout,
               "the copy says its counts and sums match", out.stdout)
            lite = P.dbconn(s)
            want = "%d %d %d %d" % tuple(lite.execute(q).fetchone()[0] for q in (
                "SELECT count(*) FROM users", "SELECT count(*) FROM lots",
                "SELECT count(*) FROM reservations",
                "SELECT count(*) FROM export_jobs"))
            hashes = lite.execute("SELECT group_concat(password_hash, ',')"
                                  " FROM (SELECT password_hash FROM users"
                                  " ORDER BY id)").fetchone()[0]
            lite.close()
            is_(counts(d, "copy"), want,
                "the copy has the source's users, lots, reservations and "
                "exports")
            is_(psql(d, "copy", "SELECT string_agg(password_hash, ','"
                     " ORDER BY id) FROM users"), hashes,
                "the password hashes are copied as they are")

            # a second copy is refused and changes nothing
            out = s.parkctl("db", "copy", "--to", owner)
            ok(out.returncode == 1 and "not empty" in out.stderr,
               "a copy into a non-empty database is refused", out.stderr)
            is_(counts(d, "copy"), want, "the refused copy changed nothing")

        # parkd on the copy
        with T.Stack(settings={"DATABASE_URL": dml}) as t:
            for u in users:
                u.stack = t
                try:
                    u.login()
                    ok(True, "%s logs in on the copy with the copied "
                       "password" % u.username)
                except RuntimeError as e:
                    ok(False, "%s logs in on the copy" % u.username, str(e))
            after = reads(t, users)
            for k in before:
                ok(before[k] == after[k], "on the copy: the same " + k,
                   "source: " + json.dumps(before[k])[:1500],
                   "copy:   " + json.dumps(after[k])[:1500])
            lot = before["lots"][0]["id"]
            r = users[3].req("POST", "/api/user/pkl/book/%d" % lot, {})
            ok(r.status == 200, "a booking on the copy", r.body[:300])
            biggest = max(h["id"] for k, v in before.items()
                          if k.startswith("history") and isinstance(v, list)
                          for h in v)
            ok(r.status == 200 and r.json["data"]["id"] > biggest,
               "its id comes after the copied ones (sequences synced)",
               r.body[:200], "largest copied: %d" % biggest)
    finally:
        if started:
            T.pg_lib("pg_stop", d)
        if T.failures() == 0 and os.environ.get("PARKTEST_KEEP") != "1":
            shutil.rmtree(d, ignore_errors=True)
        else:
            diag("kept " + d)


T.run(main)
