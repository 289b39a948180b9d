#!/usr/bin/env python3
"""76-pg-schema.t: the PostgreSQL schema (sql/pg/) and its private cluster
(dev/lib.sh pg_start, pg_migrate, pg_stop), issue #17.

* pg_start makes a cluster under a private directory: a unix socket only
  (no TCP), fsync on, data checksums, the roles and the database; the DML
  role cannot change the schema.
* pg_migrate applies sql/pg/*.sql and records each in parkd_schema; a second
  run, and two runs at once, change nothing.
* The constraints hold between SEPARATE psql processes (two sessions, each
  its own server backend): of two transactions holding overlapping
  intervals on one spot exactly one commits, the other gets 23P01 (and
  gets in when the first rolls back); touching intervals both commit
  without waiting; a second active reservation on a spot gets 23505.
* Every CHECK of the schema refuses a bad row (each named by the error,
  and every CHECK of the catalogue is reached), and SQLite, built from
  sql/0*.sql, refuses the same row; the base rows are taken by both.
* The triggers: the same operations (inserts, check-ins, releases,
  cancellations, no-shows, moves, deletes, refused changes) are applied to
  SQLite and to PostgreSQL; each is taken or refused by both (with the same
  message for a trigger's refusal), and every row of lots, spots, users,
  reservations, import_map and metrics_counts is the same at the end (counters, versions,
  statuses, holds, 014's totals and metrics_counts; times compared as
  unix seconds).
* sql/pg/sample.sql yields SQLite's sample rows, with the same ids, and
  the sequences move on past them.
* pg_stop leaves no process of the cluster.

Skipped only when the PostgreSQL server binaries are missing.
"""

import difflib
import glob
import os
import re
import select
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import parktest as T  # noqa: E402
from parktest import diag, is_, ok, skip  # noqa: E402

PG_BIN = os.environ.get("PARKD_PG_BIN", "/usr/lib/postgresql/15/bin")
PSQL = os.path.join(PG_BIN, "psql")
LIB = os.path.join(T.SRCDIR, "dev", "lib.sh")
T0 = 1700000000
H = 3600


def lib(dirpath, *words, db="parkd"):
    """Runs dev/lib.sh's function words[0] with its arguments; returns the
    CompletedProcess."""
    env = dict(os.environ, PARKD_PG_DB=db)
    return subprocess.run(
        ["bash", "-c", 'set -euo pipefail; . "$1"; shift; "$@"', "-", LIB]
        + list(words), capture_output=True, text=True, env=env)


# ---- the two dialects ------------------------------------------------------
#
# Statements are written once: T(n) is a time of n unix seconds (SQLite:
# n; PostgreSQL: to_timestamp(n)) and <CR> a carriage return.

def for_sqlite(sql):
    return re.sub(r"\bT\((-?\d+)\)", r"\1", sql).replace("<CR>", "char(13)")


def for_pg(sql):
    return re.sub(r"\bT\((-?\d+)\)", r"to_timestamp(\1)",
                  sql).replace("<CR>", "chr(13)")


class Pg:
    """One database of the private cluster, reached by one psql process per
    statement (as the DML role unless told)."""

    def __init__(self, sock, db):
        self.sock, self.db = sock, db

    def argv(self, role="parkd"):
        return [PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v",
                "VERBOSITY=verbose", "-h", self.sock, "-U", role, "-d",
                self.db]

    def run(self, sql, role="parkd"):
        """(ok, sqlstate, message) of one statement in its own
        transaction."""
        p = subprocess.run(self.argv(role) + ["-c", for_pg(sql)],
                           capture_output=True, text=True)
        if p.returncode == 0:
            return True, None, None
        m = re.search(r"ERROR:\s+([0-9A-Z]{5}): (.*)", p.stderr)
        if not m:
            return False, "?????", p.stderr.strip()
        return False, m.group(1), m.group(2).strip()

    def rows(self, sql, role="parkd"):
        """The rows of a query, as lists of strings ("<NULL>" for NULL)."""
        p = subprocess.run(self.argv(role) + ["-At", "-F", "\x1f", "-P",
                                              "null=<NULL>", "-c", sql],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("psql: %s: %s" % (sql, p.stderr.strip()))
        return [line.split("\x1f") for line in p.stdout.splitlines()]

    def value(self, sql, role="parkd"):
        r = self.rows(sql, role)
        return r[0][0] if r else None


class Lite:
    """A SQLite database made by sql/0*.sql, as db.c makes it (foreign keys
    on)."""

    def __init__(self, path):
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA foreign_keys = ON")
        for f in sorted(glob.glob(os.path.join(T.SRCDIR, "sql",
                                               "[0-9][0-9][0-9]-*.sql"))):
            with open(f) as fh:
                self.conn.executescript(fh.read())

    def run(self, sql):
        """(ok, None, message) of one statement in its own transaction."""
        try:
            self.conn.execute("BEGIN")
            self.conn.execute(for_sqlite(sql))
            self.conn.execute("COMMIT")
            return True, None, None
        except sqlite3.Error as e:
            self.conn.execute("ROLLBACK")
            return False, None, str(e)

    def rows(self, sql):
        return [["<NULL>" if v is None else str(v) for v in r]
                for r in self.conn.execute(sql)]


class Session:
    """A psql process kept open: one server backend, one transaction at a
    time, driven line by line."""

    def __init__(self, pg, role="parkd"):
        argv = pg.argv(role)
        argv[argv.index("ON_ERROR_STOP=1")] = "ON_ERROR_STOP=0"
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True,
                                  bufsize=1)
        self.pid = int(self.call("SELECT pg_backend_pid();", out=True))

    def send(self, sql):
        """Sends statements and a marker; returns at once."""
        self.p.stdin.write(for_pg(sql) + "\n\\echo @done\n")
        self.p.stdin.flush()

    def done(self):
        """Reads up to the marker; returns what came before it."""
        out = []
        while True:
            line = self.p.stdout.readline()
            if line == "":
                raise RuntimeError("psql ended")
            if line.strip() == "@done":
                return "".join(out).strip()
            out.append(line)

    def ready(self):
        """True when the marker's line can be read without blocking."""
        return bool(select.select([self.p.stdout], [], [], 0.02)[0])

    def call(self, sql, out=False):
        if out:
            self.p.stdin.write("\\pset tuples_only on\n\\pset format "
                               "unaligned\n")
        self.send(sql)
        return self.done()

    def close(self):
        """Ends psql; returns its stderr (the errors of the session)."""
        _, err = self.p.communicate("\\q\n", timeout=60)
        return err


def waiting(admin, pid):
    """True when backend pid waits for a lock."""
    return admin.value("SELECT wait_event_type FROM pg_stat_activity "
                       "WHERE pid = %d" % pid, role="postgres") == "Lock"


def wait_until_waiting(admin, s):
    """Returns when session s waits for a lock (the test's time limit ends
    a wait that never comes); fails if s finishes instead."""
    while not waiting(admin, s.pid):
        if s.ready():
            return False
        time.sleep(0.02)
    return True


def sqlstate(err):
    m = re.search(r"ERROR:\s+([0-9A-Z]{5}):", err)
    return m.group(1) if m else None


# ---- the tests -------------------------------------------------------------

def test_cluster(d, sock):
    pg = Pg(sock, "parkd")
    is_(pg.value("SHOW listen_addresses", "postgres"), "",
        "the cluster listens on no TCP address")
    is_(pg.value("SHOW unix_socket_directories", "postgres"), sock,
        "its socket is in the private directory")
    st = os.stat(sock)
    ok(st.st_mode & 0o077 == 0, "the socket's directory is 0700",
       oct(st.st_mode))
    is_(pg.value("SHOW fsync", "postgres"), "on", "fsync is on")
    is_(pg.value("SHOW data_checksums", "postgres"), "on",
        "data checksums are on")
    r = pg.run("CREATE TABLE intruder (i int)")
    ok(not r[0] and r[1] == "42501",
       "the DML role cannot create a table (42501)", repr(r))
    r = pg.run("DROP TABLE lots")
    ok(not r[0] and r[1] == "42501",
       "the DML role cannot drop a table (42501)", repr(r))


def test_migrate(d, sock):
    pg = Pg(sock, "parkd")
    files = sorted(glob.glob(os.path.join(T.SRCDIR, "sql", "pg",
                                          "[0-9][0-9][0-9]-*.sql")))
    want = [[str(i + 1), os.path.basename(f)] for i, f in enumerate(files)]
    got = pg.rows("SELECT version, name FROM parkd_schema ORDER BY version")
    is_(got, want, "parkd_schema records every migration of sql/pg")

    def dump():
        p = subprocess.run([os.path.join(PG_BIN, "pg_dump"), "-h", sock,
                            "-U", "postgres", "--schema-only", "parkd"],
                           capture_output=True, text=True)
        # less the random key of \restrict (pg_dump's CVE-2025-8714 fix)
        return "\n".join(line for line in p.stdout.splitlines()
                         if not re.match(r"\\(un)?restrict ", line))

    before = dump()
    stamps = pg.rows("SELECT version, applied_at FROM parkd_schema")
    r = lib(d, "pg_migrate", d)
    ok(r.returncode == 0, "pg_migrate runs again", r.stderr)
    after = dump()
    ok(before and after == before, "a second run changes no object",
       *list(difflib.unified_diff(before.splitlines(), after.splitlines(),
                                  lineterm=""))[:40])
    is_(pg.rows("SELECT version, applied_at FROM parkd_schema"), stamps,
        "nor parkd_schema")

    # Two migrators at once on a new database: each file applied once.
    r = lib(d, "pg_start", d, db="race")
    ok(r.returncode == 0, "pg_start makes a second database", r.stderr)
    env = dict(os.environ, PARKD_PG_DB="race")
    ps = [subprocess.Popen(["bash", "-c", '. "$1"; pg_migrate "$2"', "-",
                            LIB, d], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
          for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in ps]
    ok(all(p.returncode == 0 for p in ps), "two pg_migrate at once succeed",
       *[o[1] for o in outs])
    is_(Pg(sock, "race").rows("SELECT version, name FROM parkd_schema "
                              "ORDER BY version"), want,
        "and record each migration once")


def test_concurrency(d, sock):
    """Separate psql processes, each its own backend and transaction."""
    admin = Pg(sock, "conc")
    pg = Pg(sock, "conc")
    for sql in [
        "INSERT INTO users (id, username, email, password_hash, created_at,"
        " updated_at) VALUES (1, 'alice', 'alice@x.org', 'h', T(%d), T(%d))"
        % (T0, T0),
        "INSERT INTO lots (id, name, address, pin_code, price_cents,"
        " number_of_spots, created_at, updated_at) VALUES (1, 'Lot One',"
        " 'a', '1', 100, 3, T(%d), T(%d))" % (T0, T0),
        "INSERT INTO spots (id, lot_id, spot_number) VALUES (1, 1, 1),"
        " (2, 1, 2), (3, 1, 3)",
    ]:
        r = pg.run(sql)
        ok(r[0], "fixture: " + sql[:40], repr(r))

    def held(rid, spot, a, b):
        return ("INSERT INTO reservations (id, spot_id, lot_id, user_id,"
                " parking_ts, hourly_cents, status, created_at, updated_at,"
                " start_time, end_time, hold_start, hold_end) VALUES"
                " (%d, %d, 1, 1, T(%d), 100, 'reserved', T(%d), T(%d),"
                " T(%d), T(%d), T(%d), T(%d));"
                % (rid, spot, a, T0, T0, a, b, a, b))

    # Overlapping holds: the second waits for the first, then is refused.
    a, b = Session(pg), Session(pg)
    a.send("BEGIN;" + held(1, 1, T0, T0 + 2 * H))
    a.done()
    b.send(held(2, 1, T0 + H, T0 + 3 * H))
    ok(wait_until_waiting(admin, b),
       "an overlapping hold on the spot waits for the open transaction")
    a.send("COMMIT;")
    a.done()
    b.done()
    ea, eb = a.close(), b.close()
    ok(sqlstate(ea) is None, "the first transaction commits", ea)
    is_(sqlstate(eb), "23P01", "the second gets an exclusion violation")
    like_name = "reservations_hold_excl" in eb
    ok(like_name, "naming reservations_hold_excl", eb)
    is_(pg.rows("SELECT id FROM reservations WHERE spot_id = 1"), [["1"]],
        "exactly one of the two holds is stored")

    # The same, the first rolling back: the second gets in.
    a, b = Session(pg), Session(pg)
    a.send("BEGIN;" + held(3, 2, T0, T0 + 2 * H))
    a.done()
    b.send(held(4, 2, T0 + H, T0 + 3 * H))
    ok(wait_until_waiting(admin, b), "an overlapping hold waits again")
    a.send("ROLLBACK;")
    a.done()
    b.done()
    ea, eb = a.close(), b.close()
    ok(sqlstate(eb) is None, "and commits when the first rolls back", eb)
    is_(pg.rows("SELECT id FROM reservations WHERE spot_id = 2"), [["4"]],
        "only the second hold is stored")

    # Touching intervals ([t, t+1h) and [t+1h, t+2h)) do not conflict: the
    # second commits after the first did (it may wait for the lot's row,
    # which both count themselves on, never for the other's hold).
    a, b = Session(pg), Session(pg)
    a.send("BEGIN;" + held(5, 3, T0, T0 + H))
    a.done()
    b.send("BEGIN;" + held(6, 3, T0 + H, T0 + 2 * H))
    a.send("COMMIT;")
    a.done()
    b.done()
    b.send("COMMIT;")
    b.done()
    ea, eb = a.close(), b.close()
    ok(sqlstate(ea) is None and sqlstate(eb) is None,
       "two touching holds on one spot both commit", ea, eb)
    is_(pg.rows("SELECT id FROM reservations WHERE spot_id = 3 ORDER BY id"),
        [["5"], ["6"]], "both are stored")

    # Two active reservations on one spot (walk-ins without a hold, so that
    # only the unique index can refuse).
    walkin = ("INSERT INTO reservations (id, spot_id, lot_id, user_id,"
              " parking_ts, hourly_cents, status, created_at, updated_at)"
              " VALUES (%d, 3, 1, 1, T(%d), 100, 'active', T(%d), T(%d));")
    a, b = Session(pg), Session(pg)
    a.send("BEGIN;" + walkin % (7, T0, T0, T0))
    a.done()
    b.send(walkin % (8, T0, T0, T0))
    ok(wait_until_waiting(admin, b),
       "a second active reservation on the spot waits for the first")
    a.send("COMMIT;")
    a.done()
    b.done()
    ea, eb = a.close(), b.close()
    ok(sqlstate(ea) is None, "the first commits", ea)
    is_(sqlstate(eb), "23505", "the second gets a unique violation")
    ok("reservations_spot_active" in eb, "naming reservations_spot_active",
       eb)
    is_(pg.rows("SELECT occupied, resv_count, resv_reserved FROM lots"),
        [["1", "5", "4"]], "the lot counts what was stored, nothing else")
    is_(pg.rows("SELECT status FROM spots WHERE id = 3"), [["O"]],
        "the spot is occupied")


# Base rows, one per table; a case replaces some values.  Every value is
# neutral SQL (see for_sqlite/for_pg).
BASE = {
    "users": dict(username="'u{n}'", email="'u{n}@x.org'",
                  password_hash="'h'", created_at="T(1000)",
                  updated_at="T(1000)"),
    "sessions": dict(id="'{h32}'", user_id="1", is_admin="0",
                     refresh_jti="'j'", created_at="T(1)",
                     last_used_at="T(1)", expires_at="T(2)"),
    "login_failures": dict(account="'a{n}'", at="T(1)"),
    "account_tokens": dict(hash="'{h64}'", purpose="'reset'", user_id="1",
                           email="'x'", created_at="T(1)",
                           expires_at="T(2)"),
    "recovery_requests": dict(addr_hash="'{h64}'", at="T(1)"),
    "lots": dict(name="'Lot {n}'", address="'a'", pin_code="'1'",
                 price_cents="100", number_of_spots="5",
                 created_at="T(1)", updated_at="T(1)"),
    "spots": dict(lot_id="1", spot_number="{n}", status="'A'"),
    "reservations": dict(spot_id="1", lot_id="1", user_id="1",
                         parking_ts="T(5000)", leaving_ts="T(6000)",
                         hourly_cents="100", cost_cents="10",
                         status="'completed'", created_at="T(1)",
                         updated_at="T(1)"),
    "export_jobs": dict(id="'{h32}'", user_id="1", email="'x'",
                        created_at="T(1)", updated_at="T(1)"),
    "outbox": dict(idem_key="'k{n}'", to_addr="'a@b'", subject="'s'",
                   body_text="'b'", next_attempt_at="T(1)",
                   created_at="T(1)"),
    "job_runs": dict(job="'j'", started_at="T(1)"),
    "reminders_sent": dict(user_id="1", day="'2024-01-{n2}'"),
    "reports_sent": dict(user_id="1", month="'20{n2}-01'"),
    "import_map": dict(source="'s'", kind="'user'", old_id="{n}",
                       new_id="1"),
}

# (the CHECK the row breaks (or those it may be named by: a negative count
# breaks its ordering CHECK too), table, values)
CASES = [
    ("users_username_check", "users", dict(username="'ab'")),
    ("users_username_check", "users", dict(username="'%s'" % ("u" * 81))),
    ("users_email_check", "users", dict(email="'Upper{n}@x.org'")),
    ("users_email_check", "users", dict(email="'ab'")),
    ("users_password_hash_check", "users", dict(password_hash="''")),
    ("users_phone_check", "users", dict(phone="'%s'" % ("1" * 21))),
    ("users_is_active_check", "users", dict(is_active="2")),
    ("users_resv_cancelled_check", "users", dict(resv_cancelled="1")),
    (("users_resv_finished_check", "users_resv_cancelled_check"), "users",
     dict(resv_finished="-1")),
    ("users_parked_secs_check", "users", dict(parked_secs="-1")),
    ("users_spent_cents_check", "users", dict(spent_cents="-1")),
    ("users_email_verified_check", "users", dict(email_verified="2")),
    ("users_resv_no_show_check", "users", dict(resv_no_show="-1")),
    ("sessions_admin_check", "sessions", dict(is_admin="1")),
    ("sessions_admin_check", "sessions", dict(user_id="NULL")),
    ("sessions_revoked_check", "sessions", dict(revoked_at="T(5)")),
    ("sessions_id_check", "sessions", dict(id="'%s'" % ("g" * 32))),
    ("sessions_id_check", "sessions", dict(id="'%s'" % ("a" * 31))),
    ("sessions_is_admin_check", "sessions", dict(is_admin="2")),
    ("sessions_remember_check", "sessions", dict(remember="2")),
    ("login_failures_account_check", "login_failures",
     dict(account="'Abc'")),
    ("account_tokens_hash_check", "account_tokens",
     dict(hash="'%s'" % ("A" * 64))),
    ("account_tokens_purpose_check", "account_tokens",
     dict(purpose="'other'")),
    ("recovery_requests_addr_hash_check", "recovery_requests",
     dict(addr_hash="'%s'" % ("a" * 63))),
    ("lots_name_check", "lots", dict(name="'ab'")),
    ("lots_address_check", "lots", dict(address="'%s'" % ("a" * 501))),
    ("lots_pin_code_check", "lots", dict(pin_code="'12345678901'")),
    ("lots_price_cents_check", "lots", dict(price_cents="1000001")),
    ("lots_price_cents_check", "lots", dict(price_cents="-1")),
    ("lots_number_of_spots_check", "lots", dict(number_of_spots="1001")),
    ("lots_occupied_check", "lots", dict(occupied="6")),
    ("lots_occupied_check", "lots", dict(occupied="-1")),
    ("lots_is_active_check", "lots", dict(is_active="2")),
    ("lots_hours_check", "lots", dict(hours_start="'06:00'")),
    ("lots_hours_start_check", "lots",
     dict(hours_start="'6:00'", hours_end="'07:00'")),
    ("lots_hours_start_check", "lots",
     dict(hours_start="'24:00'", hours_end="'07:00'")),
    ("lots_hours_end_check", "lots",
     dict(hours_start="'06:00'", hours_end="'23:60'")),
    ("lots_hours_end_check", "lots",
     dict(hours_start="'06:00'", hours_end="'07:00 '")),
    (("lots_resv_count_check", "lots_resv_cancelled_check"), "lots",
     dict(resv_count="-1")),
    ("lots_resv_cancelled_check", "lots", dict(resv_cancelled="1")),
    ("lots_resv_reserved_check", "lots", dict(resv_reserved="-1")),
    ("lots_resv_no_show_check", "lots", dict(resv_no_show="-1")),
    ("spots_spot_number_check", "spots", dict(spot_number="0")),
    ("spots_status_check", "spots", dict(status="'X'")),
    ("spots_removed_check", "spots", dict(status="'O'",
                                          removed_at="T(5)")),
    ("reservations_vehicle_number_check", "reservations",
     dict(vehicle_number="'%s'" % ("n" * 21))),
    ("reservations_hourly_cents_check", "reservations",
     dict(hourly_cents="-1")),
    ("reservations_cost_cents_check", "reservations", dict(cost_cents="-1")),
    ("reservations_status_check", "reservations", dict(status="'done'")),
    ("reservations_vehicle_model_check", "reservations",
     dict(vehicle_model="'%s'" % ("m" * 51))),
    ("reservations_vehicle_color_check", "reservations",
     dict(vehicle_color="'%s'" % ("c" * 21))),
    ("reservations_expected_leaving_ts_check", "reservations",
     dict(expected_leaving_ts="T(-1)")),
    ("reservations_end_time_check", "reservations",
     dict(start_time="T(7000)", end_time="T(7000)")),
    ("reservations_leaving_check", "reservations", dict(leaving_ts="NULL")),
    ("reservations_leaving_check", "reservations",
     dict(status="'active'")),
    ("reservations_charged_check", "reservations", dict(cost_cents="NULL")),
    ("reservations_leaving_order_check", "reservations",
     dict(leaving_ts="T(4999)")),
    ("reservations_reserved_holds_check", "reservations",
     dict(status="'reserved'", leaving_ts="NULL", start_time="T(7000)",
          end_time="T(8000)")),
    ("reservations_hold_check", "reservations", dict(hold_start="T(5000)")),
    ("reservations_hold_order_check", "reservations",
     dict(hold_start="T(5000)", hold_end="T(5000)")),
    ("reservations_window_check", "reservations", dict(end_time="T(7000)")),
    ("reservations_window_needed_check", "reservations",
     dict(status="'no_show'")),
    ("export_jobs_id_check", "export_jobs", dict(id="'%s'" % ("F" * 32))),
    ("export_jobs_state_check", "export_jobs", dict(state="'DONE'")),
    ("export_jobs_progress_check", "export_jobs", dict(progress="101")),
    ("export_jobs_filename_check", "export_jobs", dict(filename="'a/b'")),
    ("export_jobs_filename_check", "export_jobs", dict(filename="'.x'")),
    ("export_jobs_filename_check", "export_jobs", dict(filename="''")),
    ("export_jobs_attempts_check", "export_jobs", dict(attempts="-1")),
    ("outbox_to_addr_check", "outbox", dict(to_addr="'a@b' || <CR>")),
    ("outbox_to_addr_check", "outbox", dict(to_addr="'ab'")),
    ("outbox_subject_check", "outbox", dict(subject="'s' || <CR> || 'x'")),
    ("outbox_subject_check", "outbox",
     dict(subject="'%s'" % ("s" * 999))),
    ("outbox_state_check", "outbox", dict(state="'lost'")),
    ("outbox_attempts_check", "outbox", dict(attempts="-1")),
    ("job_runs_status_check", "job_runs", dict(status="'done'")),
    ("reminders_sent_day_check", "reminders_sent", dict(day="'2024-1-01'")),
    ("reminders_sent_day_check", "reminders_sent",
     dict(day="'2024-01-01x'")),
    ("reports_sent_month_check", "reports_sent", dict(month="'2024-1'")),
    ("import_map_kind_check", "import_map", dict(kind="'car'")),
]

# Rows at the edges that both engines take.
GOOD = [
    ("lots", dict(hours_start="'00:00'", hours_end="'23:59'")),
    ("lots", dict(occupied="5", number_of_spots="5")),
    ("export_jobs", dict(filename="'a.csv'")),
    ("users", dict(username="'u{n}%s'" % ("x" * 70))),
    ("reservations", dict(expected_leaving_ts="T(0)")),
    ("reservations", dict(status="'cancelled'", cost_cents="NULL")),
    ("sessions", dict(is_admin="1", user_id="NULL")),
]


def render(table, values, n):
    row = dict(BASE[table])
    row.update(values)
    fill = dict(n=n, n2="%02d" % (n % 100), h32="%032x" % n,
                h64="%064x" % n)
    cols = list(row)
    return "INSERT INTO %s (%s) VALUES (%s)" % (
        table, ", ".join(cols), ", ".join(row[c].format(**fill)
                                          for c in cols))


def test_checks(sock, lite):
    pg = Pg(sock, "checks")
    fixture = [
        "INSERT INTO users (id, username, email, password_hash, created_at,"
        " updated_at) VALUES (1, 'alice', 'alice@x.org', 'h', T(1), T(1))",
        "INSERT INTO lots (id, name, address, pin_code, price_cents,"
        " number_of_spots, created_at, updated_at) VALUES (1, 'Lot One',"
        " 'a', '1', 100, 3, T(1), T(1))",
        "INSERT INTO spots (id, lot_id, spot_number) VALUES (1, 1, 1)",
    ]
    for sql in fixture:
        r1, r2 = pg.run(sql), lite.run(sql)
        ok(r1[0] and r2[0], "fixture: " + sql[:40], repr(r1), repr(r2))
    # Rows written with their ids: the sequences move on past them (as
    # SQLite's max(id) + 1 does by itself).
    r = pg.run("SELECT parkd_sync_ids()")
    ok(r[0], "parkd_sync_ids() as the DML role", repr(r))
    n = 1000
    for table in BASE:
        n += 1
        sql = render(table, {}, n)
        r1, r2 = pg.run(sql), lite.run(sql)
        ok(r1[0] and r2[0], "both take the base row of %s" % table,
           sql, repr(r1), repr(r2))
    for table, values in GOOD:
        n += 1
        sql = render(table, values, n)
        r1, r2 = pg.run(sql), lite.run(sql)
        ok(r1[0] and r2[0], "both take %s %r" % (table, values), sql,
           repr(r1), repr(r2))
    reached = set()
    for names, table, values in CASES:
        n += 1
        if isinstance(names, str):
            names = (names,)
        sql = render(table, values, n)
        r1, r2 = pg.run(sql), lite.run(sql)
        named = re.search(r'check constraint "([^"]+)"', r1[2] or "")
        got = named.group(1) if named else None
        ok(not r1[0] and r1[1] == "23514" and got in names,
           "PostgreSQL refuses %s %r: %s" % (table, values, names[0]),
           sql, repr(r1))
        ok(not r2[0] and ("CHECK constraint failed" in r2[2]),
           "SQLite refuses it too", sql, repr(r2))
        if got in names:
            reached.add(names[0])
    every = {r[0] for r in pg.rows(
        "SELECT conname FROM pg_constraint WHERE contype = 'c' AND"
        " connamespace = 'public'::regnamespace AND"
        " conrelid <> 'parkd_schema'::regclass")}
    is_(sorted(every - reached), [],
        "every CHECK of the schema was broken by a case (%d)" % len(every))
    r = pg.run("INSERT INTO parkd_schema (version, name) VALUES (0, 'x')",
               role="parkd_owner")
    ok(not r[0] and r[1] == "23514", "parkd_schema refuses version 0",
       repr(r))


def resv(rid, spot, lot, user, status, parking, leaving=None, cost=None,
         start=None, end=None, hs=None, he=None):
    def t(v):
        return "NULL" if v is None else "T(%d)" % v

    return ("INSERT INTO reservations (id, spot_id, lot_id, user_id,"
            " parking_ts, leaving_ts, hourly_cents, cost_cents, status,"
            " created_at, updated_at, start_time, end_time, hold_start,"
            " hold_end) VALUES (%d, %d, %d, %d, %s, %s, 100, %s, '%s',"
            " T(%d), T(%d), %s, %s, %s, %s)"
            % (rid, spot, lot, user, t(parking), t(leaving),
               "NULL" if cost is None else cost, status, T0, T0, t(start),
               t(end), t(hs), t(he)))


NOT_IN_LOT = "reservation spot is not in the reservation lot"
REMOVED = "spot is removed or its lot deleted"
MOVED = "reservation spot and lot cannot change"
REFUSED = object()  # refused by both, in each engine's words


def operations():
    """(statement, None when it is taken, or the message of its refusal
    (REFUSED: refused in each engine's words))."""
    user = ("INSERT INTO users (id, username, email, password_hash,"
            " created_at, updated_at) VALUES (%d, '%s', '%s@x.org', 'h',"
            " T(%d), T(%d))")
    lot = ("INSERT INTO lots (id, name, address, pin_code, price_cents,"
           " number_of_spots, created_at, updated_at) VALUES (%d, '%s',"
           " 'a', '1', 100, %d, T(%d), T(%d))")
    upd = "UPDATE reservations SET %s WHERE id = %d"
    return [
        (user % (1, "alice", "alice", T0, T0), None),
        (user % (2, "bob", "bob", T0, T0), None),
        (user % (3, "carol", "carol", T0, T0), None),
        (user % (4, "dave", "dave", T0, T0), None),
        (lot % (1, "Lot One", 3, T0, T0), None),
        (lot % (2, "Lot Two", 2, T0, T0), None),
        (lot % (3, "Lot Three", 2, T0, T0), None),
        ("INSERT INTO spots (id, lot_id, spot_number) VALUES (1, 1, 1),"
         " (2, 1, 2), (3, 1, 3), (4, 2, 1), (5, 2, 2), (6, 3, 1), (7, 3, 2)",
         None),
        ("INSERT INTO import_map (source, kind, old_id, new_id) VALUES"
         " ('s', 'user', 10, 4), ('s', 'user', 11, 1), ('s', 'lot', 20, 3),"
         " ('s', 'spot', 30, 6), ('s', 'spot', 31, 5),"
         " ('s', 'reservation', 40, 103), ('s', 'reservation', 41, 104)",
         None),
        # a walk-in, a reservation ahead, finished rows written as such
        (resv(101, 1, 1, 1, "active", T0, hs=T0, he=T0 + 4 * H), None),
        (resv(102, 2, 1, 1, "reserved", T0 + H, start=T0 + H,
              end=T0 + 3 * H, hs=T0 + H, he=T0 + 3 * H), None),
        (resv(103, 3, 1, 2, "completed", T0 - 2 * H, T0 - H, 500,
              hs=T0 - 2 * H, he=T0 - H), None),
        (resv(104, 4, 2, 2, "cancelled", T0 - 5 * H, T0 - 5 * H), None),
        (resv(105, 5, 2, 1, "no_show", T0 - 10 * H, T0 - 9 * H, 300,
              start=T0 - 10 * H, end=T0 - 9 * H), None),
        (resv(106, 4, 1, 1, "active", T0), NOT_IN_LOT),
        ("UPDATE spots SET removed_at = T(%d) WHERE id = 3" % T0, None),
        (resv(107, 3, 1, 3, "active", T0), REMOVED),
        (resv(108, 3, 1, 3, "reserved", T0 + 5 * H, start=T0 + 5 * H,
              end=T0 + 6 * H, hs=T0 + 5 * H, he=T0 + 6 * H), REMOVED),
        (resv(109, 3, 1, 3, "completed", T0 - 3 * H, T0 - 2 * H, 1), None),
        # check-in, release, a release that leaves the hold to the trigger
        (upd % ("status = 'active', parking_ts = T(%d), hold_start = T(%d)"
                % (T0 + H, T0 + H), 102), None),
        (upd % ("status = 'completed', leaving_ts = T(%d), cost_cents = 200,"
                " hold_start = NULL, hold_end = NULL" % (T0 + 2 * H), 101),
         None),
        (upd % ("status = 'completed', leaving_ts = T(%d), cost_cents = 400"
                % (T0 + 3 * H), 102), None),
        (upd % ("cost_cents = 650", 103), None),
        (upd % ("leaving_ts = T(%d)" % (T0 - H + 600), 103), None),
        (upd % ("status = 'active', leaving_ts = NULL", 104),
         "a finished reservation cannot become active"),
        (upd % ("user_id = 3", 103), "a reservation cannot change user"),
        (upd % ("status = 'reserved'", 105),
         "a reservation cannot become reserved again"),
        # moves of a reservation made ahead
        (resv(110, 1, 1, 3, "reserved", T0 + 10 * H, start=T0 + 10 * H,
              end=T0 + 12 * H, hs=T0 + 10 * H, he=T0 + 12 * H), None),
        (upd % ("spot_id = 2", 110), None),
        (upd % ("spot_id = 4", 110), NOT_IN_LOT),
        (upd % ("spot_id = 3", 110), NOT_IN_LOT),
        (upd % ("lot_id = 2, spot_id = 4", 110), MOVED),
        (upd % ("spot_id = 2", 103), MOVED),
        # a no-show, a cancellation
        (upd % ("status = 'no_show', leaving_ts = T(%d), cost_cents = 900"
                % (T0 + 10 * H), 110), None),
        (resv(111, 1, 1, 3, "reserved", T0 + 20 * H, start=T0 + 20 * H,
              end=T0 + 21 * H, hs=T0 + 20 * H, he=T0 + 21 * H), None),
        (upd % ("status = 'cancelled', leaving_ts = parking_ts", 111), None),
        # overlapping and touching holds
        (resv(112, 1, 1, 2, "active", T0 + 2 * H, hs=T0 + 2 * H,
              he=T0 + 6 * H), None),
        (resv(113, 1, 1, 3, "reserved", T0 + 5 * H, start=T0 + 5 * H,
              end=T0 + 7 * H, hs=T0 + 5 * H, he=T0 + 7 * H), REFUSED),
        (resv(114, 1, 1, 3, "reserved", T0 + 6 * H, start=T0 + 6 * H,
              end=T0 + 8 * H, hs=T0 + 6 * H, he=T0 + 8 * H), None),
        (upd % ("hold_end = T(%d)" % (T0 + 6 * H + 1), 112), REFUSED),
        # deletes of each kind
        ("DELETE FROM reservations WHERE id = 112", None),
        ("DELETE FROM reservations WHERE id = 114", None),
        ("DELETE FROM reservations WHERE id = 103", None),
        ("DELETE FROM reservations WHERE id = 105", None),
        # a status set to itself, then a walk-in cancelled
        (resv(115, 1, 1, 1, "active", T0 + 30 * H), None),
        (upd % ("status = 'active'", 115), None),
        (upd % ("status = 'cancelled', leaving_ts = T(%d)" % (T0 + 31 * H),
                115), None),
        # a finished row given a hold without naming its status keeps it,
        # in both engines, and it is checked
        (upd % ("hold_start = T(%d), hold_end = T(%d)"
                % (T0 + 40 * H, T0 + 41 * H), 101), None),
        (resv(116, 1, 1, 1, "completed", T0 + 40 * H, T0 + 41 * H, 1,
              hs=T0 + 40 * H, he=T0 + 41 * H), REFUSED),
        (resv(117, 1, 1, 1, "completed", T0 + 41 * H, T0 + 42 * H, 1,
              hs=T0 + 41 * H, he=T0 + 42 * H), None),
        # several rows in one statement
        (resv(118, 2, 1, 1, "reserved", T0 + 60 * H, start=T0 + 60 * H,
              end=T0 + 61 * H, hs=T0 + 60 * H, he=T0 + 61 * H), None),
        (resv(119, 1, 1, 2, "reserved", T0 + 60 * H, start=T0 + 60 * H,
              end=T0 + 61 * H, hs=T0 + 60 * H, he=T0 + 61 * H), None),
        ("UPDATE reservations SET status = 'cancelled', leaving_ts ="
         " parking_ts WHERE status = 'reserved'", None),
        (upd % ("parking_ts = T(%d)" % (T0 - H), 101), None),
        # mail and exports through their states (014's counts of the
        # states that keep history); user 4's export goes with the user
        ("INSERT INTO outbox (id, idem_key, to_addr, subject, body_text,"
         " state, next_attempt_at, created_at) VALUES"
         " (1, 'k1', 'a@b.c', 's', 'b', 'queued', T(%d), T(%d)),"
         " (2, 'k2', 'a@b.c', 's', 'b', 'sent', T(%d), T(%d)),"
         " (3, 'k3', 'a@b.c', 's', 'b', 'failed', T(%d), T(%d))"
         % ((T0,) * 6), None),
        ("UPDATE outbox SET state = 'sending' WHERE id = 1", None),
        ("UPDATE outbox SET state = 'sent' WHERE id = 1", None),
        ("UPDATE outbox SET state = 'queued' WHERE id = 3", None),
        ("UPDATE outbox SET state = 'failed' WHERE id = 2", None),
        ("DELETE FROM outbox WHERE id = 2", None),
        ("INSERT INTO export_jobs (id, user_id, email, state, created_at,"
         " updated_at) VALUES ('%s', 4, 'x@y.z', 'SUCCESS', T(%d), T(%d)),"
         " ('%s', 1, 'x@y.z', 'PENDING', T(%d), T(%d)),"
         " ('%s', 1, 'x@y.z', 'FAILURE', T(%d), T(%d))"
         % ("a" * 32, T0, T0, "b" * 32, T0, T0, "c" * 32, T0, T0), None),
        ("UPDATE export_jobs SET state = 'PROGRESS' WHERE id = '%s'"
         % ("b" * 32), None),
        ("UPDATE export_jobs SET state = 'SUCCESS' WHERE id = '%s'"
         % ("b" * 32), None),
        # rows that go, and their mappings
        ("DELETE FROM users WHERE id = 3", REFUSED),
        ("DELETE FROM users WHERE id = 4", None),
        ("DELETE FROM lots WHERE id = 2", REFUSED),
        ("DELETE FROM lots WHERE id = 3", None),
        ("DELETE FROM spots WHERE id = 5", None),
        ("UPDATE spots SET removed_at = T(%d) WHERE id = 1" % T0, None),
    ]


COMPARE = [
    ("lots", "id"), ("spots", "id"), ("users", "id"),
    ("reservations", "id"), ("import_map", "source, kind, old_id"),
    ("metrics_counts", "name"),
]


def test_triggers(sock, lite):
    pg = Pg(sock, "parkd")
    for sql, want in operations():
        r1, r2 = pg.run(sql), lite.run(sql)
        short = re.sub(r"\s+", " ", sql)[:70]
        if want is None:
            ok(r1[0] and r2[0], "both take: " + short, sql, repr(r1),
               repr(r2))
        elif want is REFUSED:
            ok(not r1[0] and not r2[0] and r1[1].startswith("23"),
               "both refuse: " + short, sql, repr(r1), repr(r2))
        else:
            ok(not r1[0] and r1[2] == want and r1[1] == "23514" and
               not r2[0] and r2[2] == want,
               "both refuse, saying '%s': %s" % (want, short), sql,
               repr(r1), repr(r2))
    timecols = {tuple(r) for r in pg.rows(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = 'public' AND"
        " data_type = 'timestamp with time zone'")}
    for table, order in COMPARE:
        cols = [r[1] for r in lite.conn.execute(
            "PRAGMA table_info(%s)" % table)]
        sel = ", ".join("extract(epoch FROM %s)::bigint" % c
                        if (table, c) in timecols else c for c in cols)
        a = pg.rows("SELECT %s FROM %s ORDER BY %s" % (sel, table, order))
        b = lite.rows("SELECT %s FROM %s ORDER BY %s" % (", ".join(cols),
                                                      table, order))
        ok(a == b and len(a) > 0,
           "every row of %s is the same in both engines (%d rows)"
           % (table, len(a)),
           *["pg:     %r\nsqlite: %r" % (x, y)
             for x, y in zip(a, b) if x != y])
    # A few values by hand, so that a mistake made in both is seen too.
    is_(pg.rows("SELECT occupied, resv_reserved, resv_no_show FROM lots"
                " WHERE id = 1"), [["0", "0", "1"]],
        "lot 1 ends with nothing occupied or reserved, and one no-show")
    is_(pg.rows("SELECT no_shows_total, revenue_cents_total FROM lots"
                " WHERE id = 1"), [["1", "1500"]],
        "lot 1's totals: one no-show, 2 + 4 + 9 charged (rows written "
        "finished and cost changes count nothing)")
    is_(pg.rows("SELECT name, n FROM metrics_counts ORDER BY name"),
        [["exports FAILURE", "1"], ["exports SUCCESS", "1"],
         ["outbox failed", "0"], ["outbox sent", "1"]],
        "metrics_counts: one sent, none failed; one export of each end "
        "(the deleted user's went with it)")
    is_(pg.rows("SELECT resv_finished, resv_cancelled, resv_no_show,"
                " parked_secs, spent_cents FROM users WHERE id = 3"),
        [["3", "1", "1", "3600", "901"]],
        "carol: 3 finished, 1 cancelled, 1 no-show, 1 h parked, 9.01 spent")
    is_(pg.rows("SELECT id FROM reservations WHERE hold_start IS NOT NULL"
                " AND status <> 'active' AND status <> 'reserved'"),
        [["101"]], "only the finished row given a hold by name keeps one")


def test_sample(sock, lite):
    """sql/pg/sample.sql makes the rows sql/sample.sql makes, ids too."""
    pg = Pg(sock, "sample")
    p = subprocess.run(pg.argv() + ["-f", os.path.join(
        T.SRCDIR, "sql", "pg", "sample.sql")], capture_output=True,
        text=True)
    ok(p.returncode == 0, "the DML role loads sql/pg/sample.sql", p.stderr)
    with open(os.path.join(T.SRCDIR, "sql", "sample.sql")) as f:
        lite.conn.executescript(f.read())
    for table, cols in [
        ("lots", "id, name, address, pin_code, price_cents, number_of_spots,"
         " occupied, is_active, description, hours_start, hours_end"),
        ("spots", "id, lot_id, spot_number, status, removed_at"),
        ("users", "id, username, email, password_hash, phone, is_active,"
         " last_login"),
    ]:
        sql = "SELECT %s FROM %s ORDER BY id" % (cols, table)
        a, b = pg.rows(sql), lite.rows(sql)
        ok(a == b and len(a) > 0, "the sample's %s are SQLite's (%d rows)"
           % (table, len(a)))
    r = pg.run("INSERT INTO users (username, email, password_hash,"
               " created_at, updated_at) VALUES ('newbie', 'new@x.org', 'h',"
               " T(1), T(1))")
    ok(r[0], "a user added after the sample gets a new id", repr(r))
    is_(pg.rows("SELECT id FROM users WHERE username = 'newbie'"), [["4"]],
        "id 4, as in SQLite")
    is_(pg.rows("SELECT count(*) FROM users WHERE created_at ="
                " date_trunc('second', created_at)"), [["4"]],
        "the sample's times are whole seconds")


def cluster_pids(d):
    """Pids of processes whose working directory is under d (every
    process of a PostgreSQL server runs in its data directory)."""
    pids = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            cwd = os.readlink("/proc/%s/cwd" % p)
        except OSError:
            continue
        if cwd == d or cwd.startswith(d + "/"):
            pids.append(int(p))
    return pids


def main():
    if not all(os.access(os.path.join(PG_BIN, b), os.X_OK)
               for b in ("initdb", "pg_ctl", "postgres", "psql")):
        skip("the PostgreSQL schema and cluster",
             "no PostgreSQL server binaries in %s (apt-get install "
             "postgresql)" % PG_BIN)
        return
    # Under /tmp, not TMPDIR: as root the cluster runs as another user,
    # who must reach the directory, and a socket path is short.
    d = tempfile.mkdtemp(prefix="parktest-76-", dir="/tmp")
    started = False
    try:
        r = lib(d, "pg_start", d)
        started = True
        ok(r.returncode == 0, "pg_start makes and starts the cluster",
           r.stderr, T.tail(os.path.join(d, "postgresql.log")))
        if r.returncode != 0:
            return
        r = lib(d, "pg_start", d)
        ok(r.returncode == 0, "pg_start again, on a running cluster",
           r.stderr)
        for db in ("parkd", "checks", "conc", "sample"):
            r = lib(d, "pg_start", d, db=db)
            r2 = lib(d, "pg_migrate", d, db=db)
            ok(r.returncode == 0 and r2.returncode == 0,
               "pg_migrate applies sql/pg to database %s" % db,
               r.stderr, r2.stderr)
        test_cluster(d, d)
        test_migrate(d, d)
        test_concurrency(d, d)
        test_checks(d, Lite(os.path.join(d, "checks.db")))
        test_triggers(d, Lite(os.path.join(d, "parkd.db")))
        test_sample(d, Lite(os.path.join(d, "sample.db")))
    finally:
        if started:
            pid = None
            try:
                with open(os.path.join(d, "data", "postmaster.pid")) as f:
                    pid = int(f.readline())
            except (OSError, ValueError):
                pass
            r = lib(d, "pg_stop", d)
            ok(r.returncode == 0, "pg_stop stops the cluster", r.stderr)
            ok(pid is not None and not T.pid_alive(pid),
               "the postmaster is gone", repr(pid))
            left = cluster_pids(d)
            is_(left, [], "no process of the cluster is left")
        if T.failures() == 0 and os.environ.get("PARKTEST_KEEP") != "1":
            shutil.rmtree(d, ignore_errors=True)
        else:
            diag("kept " + d)


T.run(main)
