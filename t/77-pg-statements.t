#!/usr/bin/env python3
"""77-pg-statements.t: PostgreSQL's text of every statement of the table
(src/db.c stmt_sql[], printed by t/pgsql-dump), issue #17.

* No row's .pg is NULL.
* Each prepares against sql/pg (PG_SAME ones with ?N made $N, as the driver
  does), every parameter is bigint or text, there are as many as SQLite's
  text has, and a statement's result columns are as many as SQLite's, each
  an integer or text (times read back as unix seconds, booleans as int,
  sums as bigint; never numeric, boolean or timestamptz).
* The statements whose meaning is subtle (time arithmetic, holds and their
  overlaps, best fit, day buckets, counts, claims, LIKE's case, costs,
  no-shows, kept ids) run with the same rows on SQLite (sql/0*.sql) and on
  PostgreSQL (sql/pg), and give the same rows and leave the same state.

Skipped only when the PostgreSQL server binaries are missing.
"""

import glob
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import parktest as T  # noqa: E402
from parktest import diag, is_, ok, skip  # noqa: E402

PG_BIN = os.environ.get("PARKD_PG_BIN", "/usr/lib/postgresql/15/bin")
PSQL = os.path.join(PG_BIN, "psql")
LIB = os.path.join(T.SRCDIR, "dev", "lib.sh")
DUMP = os.path.join(T.BUILDDIR, "t", "pgsql-dump")
T0 = 1700000000
H = 3600
NULL = "<NULL>"


def lib(*words):
    return subprocess.run(
        ["bash", "-c", 'set -euo pipefail; . "$1"; shift; "$@"', "-", LIB]
        + list(words), capture_output=True, text=True)


def statements():
    """[(name, kind, sqlite text, pg text as the driver runs it)]."""
    with open(os.path.join(T.SRCDIR, "src", "db-int.h")) as f:
        body = re.search(r"enum stmt \{(.*?)STMT__COUNT", f.read(),
                         re.S).group(1)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    names = re.findall(r"\b(STMT_\w+)", body)
    out = subprocess.run([DUMP], capture_output=True, check=True).stdout
    f = out.decode().split("\0")
    rows = []
    for i in range(0, len(f) - 1, 4):
        n, kind, lite, pg = f[i:i + 4]
        rows.append((names[int(n)], kind, lite,
                     dollars(lite) if kind == "same" else pg))
    return rows


def dollars(sql):
    """?N -> $N and ? -> the next $N (the driver's PG_SAME rule)."""
    n = [0]

    def f(m):
        if m.group(1):
            return "$" + m.group(1)
        n[0] += 1
        return "$%d" % n[0]
    return re.sub(r"\?(\d*)", f, sql)


def nparams(sqlite_text):
    nums = [int(x) for x in re.findall(r"\?(\d+)", sqlite_text)]
    bare = len(re.findall(r"\?(?!\d)", sqlite_text))
    return max(nums + [bare])


class Pg:
    def __init__(self, sock):
        self.sock = sock

    def psql(self, script, role="parkd"):
        return subprocess.run(
            [PSQL, "-X", "-q", "-At", "-F", "\x1f", "-P", "null=" + NULL,
             "-v", "ON_ERROR_STOP=1", "-h", self.sock, "-U", role, "-d",
             "parkd"], input=script, capture_output=True, text=True)

    def rows(self, sql, role="parkd"):
        p = self.psql(sql + ";\n", role)
        if p.returncode != 0:
            raise RuntimeError("psql: %s: %s" % (sql, p.stderr.strip()))
        return [line.split("\x1f") for line in p.stdout.splitlines()]

    def execute(self, text, args):
        """Rows of statement text run with args (None: NULL)."""
        lits = ", ".join("NULL" if a is None else str(a) if
                         isinstance(a, int) else "'%s'" %
                         a.replace("'", "''") for a in args)
        return self.rows("PREPARE p AS %s;\nEXECUTE p%s" %
                         (text, "(%s)" % lits if args else ""))


def lite_db(path):
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA foreign_keys = ON")
    for f in sorted(glob.glob(os.path.join(T.SRCDIR, "sql",
                                           "[0-9][0-9][0-9]-*.sql"))):
        with open(f) as fh:
            c.executescript(fh.read())
    return c


def lite_rows(c, sql, args=()):
    return [[NULL if v is None else str(v) for v in r]
            for r in c.execute(sql, args)]


# ---- compiling -------------------------------------------------------------

def test_compile(pg, stmts, lite):
    none = [n for n, k, _, _ in stmts if k == "none"]
    is_(none, [], "every statement has a PostgreSQL text (%d rows)"
        % len(stmts))
    for name, kind, ltext, text in stmts:
        if re.match(r"(BEGIN|COMMIT|ROLLBACK|SET)\b", text):
            # utility statements: PREPARE takes none; run them instead
            p = pg.psql("BEGIN;\n%s;\nROLLBACK;\n" % text
                        if not text.startswith(("BEGIN", "COMMIT",
                                                "ROLLBACK"))
                        else "%s;\nROLLBACK;\n" % text
                        if text.startswith("BEGIN")
                        else "BEGIN;\n%s;\n" % text)
            ok(p.returncode == 0, "%s runs on PostgreSQL" % name,
               text, p.stderr)
            continue
        # the driver's own rows (db-pg.c) have no SQLite twin
        n = (nparams(ltext) if ltext else
             len(set(re.findall(r"\$(\d+)", text))))
        p = pg.psql("PREPARE p AS %s;\nSELECT coalesce(array_to_string("
                    "parameter_types, ','), '') FROM pg_prepared_statements"
                    " WHERE name = 'p';\nEXECUTE p%s \\gdesc\n"
                    % (text, "(%s)" % ", ".join(["NULL"] * n) if n else ""))
        if not ok(p.returncode == 0, "%s prepares on PostgreSQL (%s)"
                  % (name, kind), text, p.stderr):
            continue
        lines = p.stdout.splitlines()
        types = lines[0].split(",") if lines[0] else []
        ok(len(types) == n and all(t in ("bigint", "text") for t in types),
           "%s: %d parameters, each bigint or text" % (name, n),
           "got: %r" % types)
        cols = [line.split("\x1f")[1] for line in lines[1:]
                if "\x1f" in line]
        want = None
        if ltext and not ltext.startswith(("PRAGMA", "VACUUM")):
            cur = lite.cursor()
            cur.execute("BEGIN")
            try:
                try:
                    cur.execute(ltext, [None] * n)
                except sqlite3.Error:
                    cur.execute(ltext, [0] * n)  # LIMIT NULL is refused
                want = len(cur.description or ())
            except sqlite3.Error:
                # a write refusing NULLs: its RETURNING list, if any
                m = re.search(r"RETURNING (.*)$", ltext)
                want = len(m.group(1).split(",")) if m else 0
            finally:
                cur.execute("ROLLBACK")
        if want is not None:
            if want == 0 and text.endswith("RETURNING id"):
                want = 1  # last_id()'s column, db_run() ignores it
            ok(len(cols) == want and all(
               c in ("bigint", "integer", "smallint", "text") for c in cols),
               "%s: %d result columns, integers or text" % (name, want),
               "got: %r" % cols)


# ---- the same rows on both engines -----------------------------------------

FIXTURE = """
INSERT INTO users (id, username, email, password_hash, is_active,
    created_at, updated_at, email_verified) VALUES
 (1, 'Alice', 'alice@x.org', 'h', 1, T(-864000), T(-864000), 1),
 (2, 'bob_b', 'bob@x.org', 'h', 1, T(-86400), T(-86400), 0),
 (3, 'carol', 'carol@x.org', 'h', 0, T(-864000), T(-864000), 1);
INSERT INTO lots (id, name, address, pin_code, price_cents, number_of_spots,
    created_at, updated_at) VALUES
 (1, 'Lot One', 'a', '1', 250, 4, T(-864000), T(-864000)),
 (2, 'Lot Two', 'b', '2', 100, 2, T(-3600), T(-3600));
INSERT INTO spots (id, lot_id, spot_number) VALUES
 (1, 1, 1), (2, 1, 2), (3, 1, 3), (4, 1, 4), (5, 2, 1), (6, 2, 2);
INSERT INTO reservations (id, spot_id, lot_id, user_id, vehicle_number,
    parking_ts, hourly_cents, status, created_at, updated_at, hold_start,
    hold_end) VALUES
 (1, 1, 1, 1, 'AB1', T(-7300), 250, 'active', T(-7300), T(-7300),
    T(-7300), T(3600));
INSERT INTO reservations (id, spot_id, lot_id, user_id, vehicle_number,
    parking_ts, hourly_cents, status, created_at, updated_at, start_time,
    end_time, hold_start, hold_end) VALUES
 (2, 2, 1, 2, NULL, T(3600), 250, 'reserved', T(-100), T(-100), T(3600),
    T(10800), T(3600), T(10800)),
 (3, 3, 1, 1, 'AB1', T(-7200), 250, 'reserved', T(-9000), T(-9000),
    T(-7200), T(-3600), T(-7200), T(-3600)),
 (4, 4, 1, 2, 'CD2', T(7200), 250, 'reserved', T(-50), T(-50), T(7200),
    T(14400), T(7200), T(14400)),
 (5, 3, 1, 2, NULL, T(20000), 250, 'reserved', T(-50), T(-50), T(20000),
    T(30000), T(20000), T(30000));
INSERT INTO reservations (id, spot_id, lot_id, user_id, vehicle_number,
    parking_ts, leaving_ts, hourly_cents, cost_cents, status, created_at,
    updated_at) VALUES
 (6, 5, 2, 1, 'AB1', T(-200000), T(-190000), 100, 300, 'completed',
    T(-200000), T(-190000)),
 (7, 6, 2, 2, 'ZZ', T(-100000), T(-100000), 100, 0, 'cancelled',
    T(-100000), T(-100000)),
 (8, 5, 2, 2, 'ZZ', T(-86399), T(-80000), 100, 200, 'completed',
    T(-86399), T(-80000));
INSERT INTO login_failures (account, at, remote_addr) VALUES
 ('alice', T(-50), '10.0.0'), ('alice', T(-40), '10.0.1'),
 ('alice', T(-30), '10.0.0'), ('addr:10.0.0', T(-20), '10.0.0'),
 ('bob', T(-5000), '10.0.0');
INSERT INTO outbox (idem_key, to_addr, subject, body_text, state, attempts,
    next_attempt_at, created_at) VALUES
 ('resv-remind:2', 'bob@x.org', 's', 'b', 'queued', 0, T(-10), T(-10)),
 ('resv-remind:7', 'bob@x.org', 's', 'b', 'queued', 0, T(-10), T(-10)),
 ('reset:1', 'alice@x.org', 's', 'link', 'sending', 1, T(-5), T(-100)),
 ('m:1', 'alice@x.org', 's', 'b', 'queued', 0, T(100), T(-10)),
 ('m:2', 'alice@x.org', 's', 'b', 'queued', 2, T(-10), T(-20));
INSERT INTO export_jobs (id, user_id, email, state, attempts, claimed_at,
    created_at, updated_at) VALUES
 ('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 1, 'alice@x.org', 'PROGRESS', 1,
    T(-4000), T(-5000), T(-4000)),
 ('bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 2, 'bob@x.org', 'PENDING', 0, NULL,
    T(-4500), T(-4500));
INSERT INTO sessions (id, user_id, is_admin, refresh_jti, created_at,
    last_used_at, expires_at, admin_fp) VALUES
 ('0123456789abcdef0123456789abcdef', 1, 0, 'j', T(-10), T(-10), T(1000),
    NULL),
 ('fedcba9876543210fedcba9876543210', NULL, 1, 'j', T(-10), T(-10),
    T(1000), 'fp1');
"""


def for_sqlite(sql):
    return re.sub(r"\bT\((-?\d+)\)", lambda m: str(T0 + int(m.group(1))),
                  sql)


def for_pg(sql):
    return re.sub(r"\bT\((-?\d+)\)",
                  lambda m: "to_timestamp(%d)" % (T0 + int(m.group(1))), sql)


def E(col, pg):
    return "extract(epoch FROM %s)::bigint" % col if pg else col


# (statement, arguments: T0 + n for ("t", n)), state query or None.  Run
# in order on both engines: the writes change what later reads see.
def t(n):
    return ("t", n)


CASES = [
    ("STMT_SPOTS_GRID", [1, t(0), t(H)]),
    ("STMT_SPOTS_GRID", [1, t(H), t(2 * H)]),
    ("STMT_SPOT_FIRST_FREE", [1, t(0), t(H), 0]),
    ("STMT_SPOT_FIRST_FREE", [1, t(0), t(4 * H), 0]),
    ("STMT_SPOT_FIRST_FREE", [1, t(0), t(4 * H), 1]),
    ("STMT_RESV_BEST_SPOT", [1, t(3 * H), t(4 * H), 0, 0]),
    ("STMT_RESV_BEST_SPOT", [1, t(10800), t(14000), 0, 2]),
    ("STMT_RESV_BEST_SPOT", [1, t(0), t(H), 1, 0]),
    ("STMT_RESV_SPOT_CAN_HOLD", [2, t(0), t(H), 0]),
    ("STMT_RESV_SPOT_CAN_HOLD", [2, t(0), t(H + 1), 0]),
    ("STMT_RESV_SPOT_CAN_HOLD", [2, t(0), t(H + 1), 2]),
    ("STMT_RESV_HOLDS", [1, t(-H), t(5 * H), t(0), 900, 86400]),
    ("STMT_RESV_HOLDS_BARE", [1, t(-H), t(5 * H), t(0), 900, 86400]),
    ("STMT_RESV_LOT_DAY", [1, t(-86400), t(86400), 86400, t(0)]),
    ("STMT_RESV_USER_OVERLAP", [2, t(3000), t(4000), "XX", t(-900)]),
    ("STMT_RESV_USER_OVERLAP", [1, t(0), t(100), "QQ", t(-900)]),
    ("STMT_RESV_STALE_LOT", [1, t(0), 900]),
    ("STMT_RESV_REMIND_DUE", [t(0), 2 * H]),
    ("STMT_RESV_LIST_UPCOMING", [2, t(0), 900, 10, 0]),
    ("STMT_RESV_COUNT_UPCOMING", [1, t(0), 900]),
    ("STMT_SUM_PER_DAY", [t(-300000)]),
    ("STMT_SUM_USER", [1, t(0)]),
    ("STMT_SUM_AHEAD", [t(-86400), t(86400)]),
    ("STMT_SUM_REVENUE", [t(-195000)]),
    ("STMT_SUM_COUNTS", []),
    ("STMT_STATS_SPOTS", []),
    ("STMT_STATS_RESERVATIONS", []),
    ("STMT_RESV_COUNT_USER", [2, None]),
    ("STMT_RESV_COUNT_USER", [2, "reserved"]),
    ("STMT_RESV_COUNT_ADMIN_LOTS", [None, None, "completed"]),
    ("STMT_RESV_COUNT_ADMIN_LOTS", [1, None, "reserved"]),
    ("STMT_RESV_LIST_ADMIN", [None, None, None, t(-100000), t(0), 5, 1]),
    ("STMT_USERS_LIST", ["%ALI%", 10, 0]),
    ("STMT_USERS_COUNT", ["%B\\_B%"]),
    ("STMT_LOGIN_FAIL_COUNT", ["alice", "alice", t(-60), "10.0.0",
                               "addr:10.0.0"]),
    ("STMT_SESSION_CHECK", ["0123456789abcdef0123456789abcdef", t(0), "x"]),
    ("STMT_SESSION_CHECK", ["fedcba9876543210fedcba9876543210", t(0),
                            "fp2"]),
    ("STMT_SESSION_GET", ["fedcba9876543210fedcba9876543210", "fp1"]),
    ("STMT_SESSION_GET", ["fedcba9876543210fedcba9876543210", None]),
    ("STMT_BATCH_REMIND_DUE", [0, "2023-11-14", t(-3600), 0, 10, 0]),
    ("STMT_BATCH_REPORT_DUE", [0, "2023-11", t(-300000), t(0), 10, 0]),
    ("STMT_EXPORT_USER_COUNTS", [1, t(-4600)]),
    # writes, each followed by the state it leaves
    ("STMT_OUTBOX_DROP_STALE", [t(0)],
     "SELECT idem_key, state, {next_attempt_at}, last_error FROM outbox"
     " ORDER BY id"),
    ("STMT_OUTBOX_DUE", [t(0), 10]),
    ("STMT_OUTBOX_CLAIM", [5, t(300), t(0)],
     "SELECT id, state, attempts, {next_attempt_at} FROM outbox ORDER BY id"),
    ("STMT_OUTBOX_SENT", [3, t(-5), t(1)],
     "SELECT id, state, body_text, {sent_at} FROM outbox ORDER BY id"),
    ("STMT_OUTBOX_RELEASE", [5, t(300), t(60)],
     "SELECT id, state, attempts, {next_attempt_at} FROM outbox ORDER BY id"),
    ("STMT_EXPORT_NEXT", [t(-3600)]),
    ("STMT_EXPORT_GIVE_UP", ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", t(0)],
     "SELECT id, state, error, {finished_at} FROM export_jobs ORDER BY id"),
    ("STMT_EXPORT_NEXT", [t(-3600)]),
    ("STMT_RESV_COMPLETE", [t(0), 1],
     "SELECT id, status, {leaving_ts}, cost_cents, CASE WHEN hold_start IS NULL THEN 1 ELSE 0 END"
     " FROM reservations ORDER BY id"),
    ("STMT_RESV_CLOSED", [1]),
    ("STMT_RESV_EXPIRE_LOT", [1, t(0), 900, 30],
     "SELECT id, status, {leaving_ts}, cost_cents, CASE WHEN hold_start IS NULL THEN 1 ELSE 0 END"
     " FROM reservations ORDER BY id"),
    ("STMT_RESV_CHECKIN", [2, 1, t(3000), t(3000)],
     "SELECT id, status, spot_id, {parking_ts}, {hold_start}, {hold_end}"
     " FROM reservations ORDER BY id"),
    ("STMT_SUM_USER", [2, t(4000)]),
    ("STMT_USER_STATS", None),
    ("STMT_SPOTS_ADD", [2, 2, 4],
     "SELECT id, lot_id, spot_number FROM spots ORDER BY id"),
    ("STMT_IMPORT_USER_INSERT", [50, "imp1", "imp1@x.org", "h", None, 1,
                                 t(0), t(0), None],
     "SELECT id, username FROM users ORDER BY id"),
    ("STMT_IMPORT_USER_INSERT", [None, "imp2", "imp2@x.org", "h", None, 1,
                                 t(0), t(0), t(-5)],
     "SELECT id, username, {last_login} FROM users ORDER BY id"),
    ("STMT_IMPORT_MAP_PUT", ["f", "user", 7, 50],
     "SELECT * FROM import_map"),
    ("STMT_IMPORT_MAP_PUT", ["f", "user", 7, 51],
     "SELECT * FROM import_map"),
    ("STMT_LOGIN_FAIL_UNCOUNT", ["alice"],
     "SELECT account, {at} FROM login_failures ORDER BY at"),
    ("STMT_BATCH_CLEAN_LOGIN_FAILURES", [t(-35), 1],
     "SELECT account, {at} FROM login_failures ORDER BY at"),
]


def fill(q, pg):
    return re.sub(r"\{(\w+)\}", lambda m: E(m.group(1), pg), q)


def test_same(pg, lite, stmts):
    by = {n: (lt, text) for n, _, lt, text in stmts}
    lite.executescript(for_sqlite(FIXTURE))
    p = pg.psql(for_pg(FIXTURE) + "SELECT parkd_sync_ids();\n")
    ok(p.returncode == 0, "the fixture loads on PostgreSQL", p.stderr)
    for case in CASES:
        name, args = case[0], case[1]
        if args is None:
            q = ("SELECT id, resv_finished, resv_cancelled, resv_no_show,"
                 " parked_secs, spent_cents FROM users ORDER BY id")
            is_(pg.rows(q), lite_rows(lite, q),
                "users' counters agree after the writes")
            continue
        a = [T0 + x[1] if isinstance(x, tuple) else x for x in args]
        ltext, text = by[name]
        try:
            cur = lite.cursor()
            want = lite_rows(cur, ltext, a)
            if text.endswith("RETURNING id") and want == []:
                want = [[str(cur.lastrowid)]]  # what last_id() gives
        except sqlite3.Error as e:
            want = "sqlite: %s" % e
        try:
            got = pg.execute(text, a)
        except RuntimeError as e:
            got = str(e)
        is_(got, want, "%s%r: the same rows on both engines" % (name, args))
        if len(case) > 2:
            is_(pg.rows(fill(case[2], True)),
                lite_rows(lite, fill(case[2], False)),
                "%s: the same state after it" % name)


def main():
    if not all(os.access(os.path.join(PG_BIN, b), os.X_OK)
               for b in ("initdb", "pg_ctl", "postgres", "psql")):
        skip("PostgreSQL's statements", "no PostgreSQL server binaries in"
             " %s (apt-get install postgresql)" % PG_BIN)
        return
    stmts = statements()
    d = tempfile.mkdtemp(prefix="parktest-77-", dir="/tmp")
    started = False
    try:
        r = lib("pg_start", d)
        started = True
        r2 = lib("pg_migrate", d)
        if not ok(r.returncode == 0 and r2.returncode == 0,
                  "a private cluster with sql/pg", r.stderr, r2.stderr):
            return
        pg = Pg(d)
        test_compile(pg, stmts, lite_db(os.path.join(d, "shape.db")))
        test_same(pg, lite_db(os.path.join(d, "same.db")), stmts)
    finally:
        if started:
            r = lib("pg_stop", d)
            ok(r.returncode == 0, "pg_stop stops the cluster", r.stderr)
        if T.failures() == 0 and os.environ.get("PARKTEST_KEEP") != "1":
            shutil.rmtree(d, ignore_errors=True)
        else:
            diag("kept " + d)


T.run(main)
