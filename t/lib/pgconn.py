"""pgconn.py: the tests' own connection to a PostgreSQL database, with the
little of Python's sqlite3 interface the tests use (execute, fetchone,
fetchall, iteration, executemany, close, row access by index or by name),
so that one test reads and writes the database behind parkd's back on
either back end (issue #17: every end-to-end test runs on both).

It speaks through one psql process per connection (the PostgreSQL client
is there wherever the server is; no Python driver is installable on every
machine the suite runs on), kept open so that a transaction spans several
execute() calls.  Parameters are "?" or "?N" as in sqlite3, sent as SQL
literals.  Results come back as text and are read back as the test
expects from SQLite: integers as int, booleans as 1 and 0, timestamptz as
epoch seconds (the PostgreSQL schema keeps every time as timestamptz;
sql/pg/README), NULL as None, the rest as str.

What differs in SQL between the engines stays in the test, side by side:
P.sql(stack, sqlite_text, pg_text) picks one.  Only these SQLite forms are
understood here: "BEGIN IMMEDIATE" (BEGIN and parkd's own write lock, so a
test's write waits for parkd's writers as on SQLite), "PRAGMA
integrity_check" (PostgreSQL checks its pages itself: "ok"), and "PRAGMA
foreign_key_check" (enforced by the engine: no row).
"""

import datetime
import os
import re
import subprocess

END = "\x1dEND\x1d"
NULL = "\x1cNULL\x1c"
FS = "\x1f"
RS = "\x1e"
# parkd's write lock (db-pg.c, sql/pg/README): ("park", 2)
WRITE_LOCK = "SELECT pg_advisory_xact_lock(1885434475, 2)"

_ts = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)\+00$")
_int = re.compile(r"^-?\d+$")
_param = re.compile(r"\?(\d*)")


class Error(Exception):
    """A statement failed; sqlstate tells which way (23505, 23P01...)."""

    def __init__(self, msg, sqlstate):
        super().__init__(msg)
        self.sqlstate = sqlstate


class IntegrityError(Error):
    """A constraint refused the statement (SQLSTATE class 23), as
    sqlite3.IntegrityError."""


def literal(v):
    """v as a SQL literal."""
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, bytes):
        return "'\\x%s'::bytea" % v.hex()
    return "'" + str(v).replace("'", "''") + "'"


def bind(sql, params):
    """sql with each ?, ?N replaced by the literal of its parameter
    (quoted strings left alone)."""
    params = list(params or ())
    out, last = [], [0]

    def one(m):
        # as SQLite: a bare "?" is one past the largest number so far
        k = int(m.group(1)) if m.group(1) else last[0] + 1
        last[0] = max(last[0], k)
        return literal(params[k - 1])

    # split on single-quoted strings so a "?" inside one stays
    for part in re.split(r"('(?:[^']|'')*')", sql):
        out.append(part if part.startswith("'") else _param.sub(one, part))
    return "".join(out)


def value(text):
    """One field as the test expects it from SQLite."""
    if text == NULL:
        return None
    if text in ("t", "f"):
        return 1 if text == "t" else 0  # a boolean, as SQLite's 1 and 0
    if _int.match(text):
        return int(text)
    m = _ts.match(text)
    if m:
        fmt = "%Y-%m-%d %H:%M:%S.%f" if "." in m.group(1) else \
            "%Y-%m-%d %H:%M:%S"
        t = datetime.datetime.strptime(m.group(1), fmt).replace(
            tzinfo=datetime.timezone.utc)
        return int(t.timestamp())
    return text


class Row(tuple):
    """A row, by index or by column name (as sqlite3.Row)."""

    def __new__(cls, values, names):
        r = super().__new__(cls, values)
        r._names = names
        return r

    def __getitem__(self, k):
        if isinstance(k, str):
            return tuple.__getitem__(self, self._names.index(k))
        return tuple.__getitem__(self, k)

    def keys(self):
        return list(self._names)


class Cursor:
    def __init__(self, rows, rowcount):
        self._rows = rows
        self.rowcount = rowcount

    def fetchone(self):
        return self._rows.pop(0) if self._rows else None

    def fetchall(self):
        rows, self._rows = self._rows, []
        return rows

    def __iter__(self):
        return iter(self.fetchall())


class Connection:
    """One psql session on url (a libpq URI)."""

    def __init__(self, url, psql="psql"):
        self.p = subprocess.Popen(
            [psql, "-X", "-q", "-A", "-F", FS, "-R", RS, "-P", "footer=off",
             "-P", "null=" + NULL, "-v", "ON_ERROR_STOP=0", "-d", url],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, env=dict(os.environ, PGTZ="UTC"))
        self.execute("SET TimeZone = 'UTC'")

    def _read(self):
        buf = b""
        while END.encode() not in buf:
            chunk = os.read(self.p.stdout.fileno(), 65536)
            if not chunk:
                raise Error("psql exited: %r" % buf[-500:], "08006")
            buf += chunk
        text, tail = buf.decode().split(END, 1)
        return text, tail.split()

    def execute(self, sql, params=()):
        """Runs one statement; returns a Cursor over its rows."""
        s = sql.strip().rstrip(";")
        u = s.upper()
        if u == "BEGIN IMMEDIATE":
            self.execute("BEGIN")
            return self.execute(WRITE_LOCK)
        if u.startswith("PRAGMA INTEGRITY_CHECK"):
            return Cursor([Row(("ok",), ["integrity_check"])], -1)
        if u.startswith("PRAGMA FOREIGN_KEY_CHECK"):
            return Cursor([], -1)
        if u.startswith("PRAGMA"):
            raise Error("a SQLite PRAGMA on PostgreSQL: " + s, "0A000")
        q = bind(s, params)
        # \gset-free: the rows, then the outcome on a line of its own
        self.p.stdin.write(("%s\n;\n\\echo '%s' :ERROR :SQLSTATE "
                            ":ROW_COUNT\n" % (q, END)).encode())
        self.p.stdin.flush()
        text, (err, state, count) = self._read()
        if err == "true":
            cls = IntegrityError if state.startswith("23") else Error
            raise cls("%s\n-- in: %s" % (text.strip(), q), state)
        return Cursor(self._rows(text), int(count) if _int.match(count)
                      else -1)

    @staticmethod
    def _rows(text):
        text = text.rstrip("\n")
        if not text:
            return []
        recs = text.split(RS)
        names = recs[0].split(FS)
        return [Row(tuple(value(f) for f in r.split(FS)), names)
                for r in recs[1:]]

    def executemany(self, sql, seq):
        for params in seq:
            self.execute(sql, params)

    def commit(self):
        self.execute("COMMIT")

    def rollback(self):
        self.execute("ROLLBACK")

    def close(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.close()
            except OSError:
                pass
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
