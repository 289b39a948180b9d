"""parking: helpers shared by the parking tests (t/55-t/58), stdlib only.

* Users: make_users() registers and logs in many users at once, each from
  its own loopback address (127.0.x.y), so that nginx's per-address login
  limit (30/min, burst 20) never gets in the way; User.req() sends that
  user's requests from its address with its token.
* The admin: admin_headers().
* Lots: lot_body(), create_lot().
* The database: dbconn() opens the stack's SQLite file (WAL, so a test may
  read it, and write it to move times, while parkd runs); invariants()
  lists every broken invariant of the parking tables; bump_gen() tells the
  cache that the test changed rows behind parkd's back.
* Redis: redis_cmd() speaks RESP over a socket (no redis-cli needed).
"""

import http.client
import json
import os
import re
import socket
import sqlite3
import threading
import time

import parktest as T
import pgconn

PASSWORD = "password-1234"

# Settings that make password hashing cheap in a test stack (the smallest
# scrypt parameters parkd accepts): tests log in many users.
# Cheap hashes (2 MiB, a few ms), which need no bound on how many run at
# once: a slot per worker, so that setting up users at once never meets
# the hash gate's 503 (t/53-auth.t tests the gate; make_user() retries a
# 503 anyway).
FAST_HASH = {"PARKD_SCRYPT_N": "16384", "PARKD_SCRYPT_R": "1",
             "PARKD_HASH_CONCURRENCY": "64"}

# Under valgrind (PARKTEST_VALGRIND=1) parkd is many times slower: the
# tests keep their checks of correctness and skip those of timing.
VALGRIND = getattr(T, "VALGRIND", False)

# parktest.free_port() binds port 0 and closes the socket: two calls in a
# row can return the same port (seen: Stack.start() gave nginx and Redis
# one port; nginx then failed to bind and the stack timed out).  Until the
# harness fixes it, never hand out a port twice in this process.
_given_ports = set()
_free_port = T.free_port


def _distinct_free_port():
    for _ in range(100):
        port = _free_port()
        if port not in _given_ports:
            _given_ports.add(port)
            return port
    raise RuntimeError("no fresh free port")


T.free_port = _distinct_free_port

# The contract's objects: the exact fields of each.
LOT_FIELDS = {
    "id", "prime_location_name", "address", "pin_code", "number_of_spots",
    "price", "is_active", "description", "operating_hours_start",
    "operating_hours_end", "available_spots", "occupied_spots", "created_at",
    "updated_at"}
RESV_FIELDS = {
    "id", "spot_id", "spot_number", "lot_id", "lot_name", "user_id",
    "vehicle_number", "parking_timestamp", "leaving_timestamp",
    "hourly_rate", "parking_cost", "status", "duration_str", "is_active",
    "spot_identifier", "remarks", "created_at", "updated_at",
    # the old backend's keys (#15 item 3)
    "is_completed", "is_overdue", "expected_leaving_time", "vehicle_model",
    "vehicle_color"}
SPOT_FIELDS = {"id", "spot_number", "status", "reservation"}
SPOT_RESV_FIELDS = {"id", "user_id", "username", "vehicle_number",
                    "parking_timestamp"}


def ip_for(n):
    """A loopback source address of its own for client number n (never
    127.0.0.1, which the tests' other requests use)."""
    n += 2
    return "127.%d.%d.%d" % (1 + n // 62500, n // 250 % 250, n % 250 + 2)


def request(port, method, path, body=None, headers=None, source=None,
            timeout=10):
    """One request on a fresh connection from address source (None: any).
    Returns a parktest.Response (status, headers, body, json)."""
    timeout *= getattr(T, "SLOW", 1)  # longer under valgrind
    hdrs = {"Accept": "application/json"}
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
        hdrs["Content-Type"] = "application/json"
    if isinstance(body, str):
        body = body.encode("utf-8")
    hdrs.update(headers or {})
    conn = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=timeout,
        source_address=(source, 0) if source else None)
    try:
        conn.request(method, path, body=body, headers=hdrs)
        return T._response(conn.getresponse())
    finally:
        conn.close()


def bearer(token):
    return {"Authorization": "Bearer " + token}


class User:
    """A registered, logged-in user: id, username, token, refresh, ip."""

    def __init__(self, stack, username, ip):
        self.stack = stack
        self.username = username
        self.ip = ip
        self.id = None
        self.token = None
        self.refresh = None

    @property
    def headers(self):
        return bearer(self.token)

    def req(self, method, path, body=None, timeout=10):
        return request(self.stack.port, method, path, body, self.headers,
                       source=self.ip, timeout=timeout)

    def login(self):
        r = hashing(self.stack.port, "/api/auth/login",
                    {"username": self.username, "password": PASSWORD},
                    self.ip)
        if r.status != 200:
            raise RuntimeError("login of %s: %d %r" % (self.username,
                                                       r.status, r.body[:300]))
        self.token = r.json["data"]["access_token"]
        self.refresh = r.json["data"]["refresh_token"]
        self.id = r.json["data"]["user"]["id"]
        return self


def hashing(port, path, body, source):
    """A POST that hashes a password (login, register): past
    PARKD_HASH_CONCURRENCY hashes at once parkd answers 503 with
    Retry-After, and a client waits and tries again, as this does."""
    for _ in range(60):
        r = request(port, "POST", path, body, source=source)
        if r.status != 503 or r.headers.get("retry-after") is None:
            return r
        time.sleep(float(r.headers["retry-after"]))
    return r


def make_user(stack, username, n):
    """Registers username (from address ip_for(n)) and logs it in."""
    u = User(stack, username, ip_for(n))
    r = hashing(stack.port, "/api/auth/register",
                {"username": username, "email": username.lower() +
                 "@parking.test", "password": PASSWORD}, u.ip)
    if r.status != 200:
        raise RuntimeError("register %s: %d %r" % (username, r.status,
                                                   r.body[:300]))
    return u.login()


def make_users(stack, n, prefix="user", first=0, threads=8):
    """n users prefix0.. (registered and logged in, several at a time);
    first offsets their numbers (and addresses) so that calls do not
    collide."""
    users = [None] * n
    errors = []
    lock = threading.Lock()
    todo = list(range(n))

    def work():
        while True:
            with lock:
                if not todo:
                    return
                i = todo.pop()
            try:
                users[i] = make_user(stack, "%s%d" % (prefix, first + i),
                                     first + i)
            except Exception as e:  # reported by the caller
                with lock:
                    errors.append(str(e))

    ts = [threading.Thread(target=work) for _ in range(min(threads, n))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise RuntimeError("making users: " + "; ".join(errors[:5]))
    return users


def admin_headers(stack):
    """The admin's Authorization header (logs in once per stack)."""
    cached = getattr(stack, "_parking_admin", None)
    if cached:
        return cached
    r = stack.req("POST", "/api/auth/login", {
        "username": stack.admin_email, "password": stack.admin_password})
    if r.status != 200:
        raise RuntimeError("admin login: %d %r" % (r.status, r.body[:300]))
    stack._parking_admin = bearer(r.json["data"]["access_token"])
    return stack._parking_admin


_lot_seq = [0]


def lot_body(**kw):
    """A valid create body; keywords replace or (None) remove fields."""
    _lot_seq[0] += 1
    b = {"prime_location_name": "Test Lot %d" % _lot_seq[0],
         "address": "%d Test Street, Test City" % _lot_seq[0],
         "pin_code": "560001", "number_of_spots": 5, "price": 10}
    for k, v in kw.items():
        if v is None:
            b.pop(k, None)
        else:
            b[k] = v
    return b


def create_lot(stack, **kw):
    """Creates a lot (lot_body(**kw)); returns its lot object."""
    r = stack.req("POST", "/api/admin/pkl/create", lot_body(**kw),
                  admin_headers(stack))
    if r.status != 200:
        raise RuntimeError("create lot: %d %r" % (r.status, r.body[:300]))
    return r.json["data"]


def db_path(stack):
    return os.path.join(stack.dir, "parkd.db")


def dbconn(stack):
    """A connection of the test's own to the stack's database (autocommit;
    writes use BEGIN IMMEDIATE like parkd's).  On PostgreSQL
    (PARKD_DB=postgresql) a pgconn.Connection, with the same interface."""
    if T.use_pg():
        return pgconn.Connection(stack.settings["DATABASE_URL"])
    c = sqlite3.connect(db_path(stack), timeout=10, isolation_level=None)
    c.execute("PRAGMA busy_timeout = 10000")
    return c


def sql(lite, pg=None):
    """The text of a test's statement for the back end the suite runs on:
    lite on SQLite, pg on PostgreSQL (lite when the text is portable)."""
    return pg if pg is not None and T.use_pg() else lite


def is_constraint_error(e):
    """True when e is a constraint's refusal on either back end."""
    return isinstance(e, (sqlite3.IntegrityError, pgconn.IntegrityError))


def db_write(stack, *statements):
    """Runs (sql, params) pairs in one write transaction and bumps the
    cache generation, as parkd does for every write that cached reads
    show (a test writing behind parkd's back must say so too)."""
    c = dbconn(stack)
    try:
        c.execute("BEGIN IMMEDIATE")
        for st in statements:
            # (sql, params) or (sqlite text, params, PostgreSQL text)
            c.execute(sql(st[0], st[2] if len(st) > 2 else None), st[1])
        c.execute("UPDATE cache_gen SET gen = gen + 1 WHERE family = 'lots'")
        c.execute("COMMIT")
    finally:
        c.close()


def invariants(stack):
    """Every broken invariant of the database, as text lines (empty: all
    hold): integrity_check, foreign_key_check, at most one active
    reservation per spot, spots.status and lots.occupied equal to what the
    reservation rows say, number_of_spots equal to the spots not removed,
    completed reservations with a cost, the counts and totals kept on lots
    and users (007) equal to the rows."""
    c = dbconn(stack)
    bad = []
    try:
        res = [r[0] for r in c.execute("PRAGMA integrity_check")]
        if res != ["ok"]:
            bad.append("integrity_check: %r" % res[:5])
        fk = c.execute("PRAGMA foreign_key_check").fetchall()
        if fk:
            bad.append("foreign_key_check: %r" % fk[:5])
        for row in c.execute(
                "SELECT spot_id, count(*) FROM reservations"
                " WHERE status = 'active' GROUP BY spot_id"
                " HAVING count(*) > 1"):
            bad.append("spot %d has %d active reservations" % row)
        for row in c.execute(
                "SELECT * FROM (SELECT l.id, l.occupied, (SELECT count(*)"
                " FROM reservations r WHERE r.lot_id = l.id"
                " AND r.status = 'active') AS n FROM lots l) x"
                " WHERE x.occupied <> x.n"):
            bad.append("lot %d: occupied %d, active reservations %d" % row)
        for row in c.execute(
                "SELECT s.id, s.status FROM spots s WHERE s.status <>"
                " CASE WHEN EXISTS (SELECT 1 FROM reservations r"
                " WHERE r.spot_id = s.id AND r.status = 'active')"
                " THEN 'O' ELSE 'A' END"):
            bad.append("spot %d: status %s disagrees with reservations" % row)
        for row in c.execute(
                "SELECT * FROM (SELECT l.id, l.number_of_spots, (SELECT"
                " count(*) FROM spots s WHERE s.lot_id = l.id"
                " AND s.removed_at IS NULL) AS n FROM lots l) x"
                " WHERE x.number_of_spots <> x.n"):
            bad.append("lot %d: number_of_spots %d, spots %d" % row)
        for row in c.execute(
                "SELECT r.id FROM reservations r JOIN spots s"
                " ON s.id = r.spot_id WHERE s.lot_id <> r.lot_id"):
            bad.append("reservation %d: spot of another lot" % row)
        for row in c.execute(
                "SELECT id FROM reservations WHERE status = 'completed'"
                " AND (cost_cents IS NULL OR leaving_ts IS NULL"
                " OR cost_cents < hourly_cents)"):
            bad.append("reservation %d: completed without a cost" % row)
        # The counts and totals kept on the rows (migrations 007, 011).
        for row in c.execute(
                "SELECT 'lot', l.id FROM lots l WHERE l.resv_count <>"
                " (SELECT count(*) FROM reservations r WHERE r.lot_id = l.id)"
                " OR l.resv_cancelled <> (SELECT count(*) FROM reservations r"
                " WHERE r.lot_id = l.id AND r.status = 'cancelled')"
                " OR l.resv_reserved <> (SELECT count(*) FROM reservations r"
                " WHERE r.lot_id = l.id AND r.status = 'reserved')"
                " OR l.resv_no_show <> (SELECT count(*) FROM reservations r"
                " WHERE r.lot_id = l.id AND r.status = 'no_show')"
                " UNION ALL SELECT 'user', u.id FROM users u"
                " WHERE u.resv_finished <> (SELECT count(*) FROM reservations"
                " r WHERE r.user_id = u.id AND r.status <> 'active'"
                " AND r.status <> 'reserved')"
                " OR u.resv_cancelled <> (SELECT"
                " count(*) FROM reservations r WHERE r.user_id = u.id AND"
                " r.status = 'cancelled') OR u.resv_no_show <> (SELECT"
                " count(*) FROM reservations r WHERE r.user_id = u.id AND"
                " r.status = 'no_show') OR u.parked_secs <> (SELECT"
                " coalesce(sum(" + sql("leaving_ts - parking_ts",
                                       "extract(epoch FROM leaving_ts"
                                       " - parking_ts)::bigint") +
                "), 0) FROM reservations"
                " r WHERE r.user_id = u.id AND r.status = 'completed') OR"
                " u.spent_cents <> (SELECT coalesce(sum(cost_cents), 0) FROM"
                " reservations r WHERE r.user_id = u.id AND (r.status ="
                " 'completed' OR r.status = 'no_show'))"):
            bad.append("%s %d: kept counts or totals disagree with its"
                       " reservations" % row)
        # The held intervals of one spot never overlap (011), and only
        # active and reserved rows hold.
        for row in overlapping_holds(c):
            bad.append("reservations %d and %d hold overlapping intervals"
                       " on one spot" % row)
        for row in c.execute(
                "SELECT id FROM reservations WHERE hold_start IS NOT NULL"
                " AND status <> 'active' AND status <> 'reserved'"):
            bad.append("reservation %d is finished but holds" % row)
    finally:
        c.close()
    return bad


def overlapping_holds(c):
    """Pairs of reservation ids whose held intervals on one spot overlap
    (sql/013's invariant; none when it holds), read on connection c."""
    return c.execute(
        "SELECT a.id, b.id FROM reservations a JOIN reservations b"
        " ON a.spot_id = b.spot_id AND a.id < b.id"
        " WHERE a.hold_start IS NOT NULL AND b.hold_start IS NOT NULL"
        " AND a.hold_start < b.hold_end AND b.hold_start < a.hold_end"
        ).fetchall()


def constraint_refusals(log_text):
    """The lines of parkd's log where the database's constraints refused a
    write (PostgreSQL: SQLSTATE class 23; SQLite: a SQLITE_CONSTRAINT code).
    Under the write lock every check-then-write sees the commits before
    it, so a race between requests never reaches the constraints: on
    either engine they are the last line, and a load that hits them shows
    writers that were not serialised."""
    out = []
    for line in log_text.splitlines():
        if " db: " not in line:
            continue
        m = re.search(r"\(SQLSTATE (\w+)\)", line)
        if m and m.group(1).startswith("23"):
            out.append(line)
            continue
        m = re.search(r"\(code (\d+)\) in:", line)
        if m and int(m.group(1)) & 0xff == 19:  # SQLITE_CONSTRAINT
            out.append(line)
    return out


# ---- Redis, spoken directly ------------------------------------------------


def redis_cmd(where, *args, timeout=2):
    """Sends one command to a Redis: where is a Stack (its Redis, with its
    password), a port of 127.0.0.1 or a unix socket's path.  Returns the
    reply (str, int, bytes, list or None); raises OSError when it is
    down."""
    if isinstance(where, T.Stack):
        return where.redis_cmd(*args, timeout=timeout)
    return T.redis_command(where, *args, timeout=timeout)


def parkd_keys(stack):
    """The cache keys parkd wrote into the stack's Redis (sorted)."""
    keys = stack.redis_cmd("KEYS", "parkd:*") or []
    return sorted(k.decode() for k in keys)
