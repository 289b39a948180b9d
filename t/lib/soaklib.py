"""soaklib: the soak load of bench/soak and t/66-soak.t (reliability.md row
25), Python standard library only.

    soak = Soak(stack, clients=8)
    soak.seed(history=50000)     # 10 lots x 100 spots, a user per client
    soak.run(2000)               # warm-up
    start = soak.rss()
    res = soak.run(100000, samples=100)
    end = soak.rss()
    a, b = floors(start, res["rss"], end, 10)   # compare these

Each client thread is one user on a loopback address of its own, with one
kept-alive HTTP/1.1 connection to nginx (reopened when nginx closes it),
and sends, in a fixed pseudo-random mix (seeded):

    30%  GET /api/user/pkl/list          the lots list
    15%  GET /api/admin/pkl/<id>         a lot's spot grid (admin token)
    20%  POST /api/user/pkl/book/<id>, then on the client's next turn of
         the same kind POST /api/user/pkl/release: book and release alternate
    15%  GET /api/user/pkl/book/list     the user's history (10 per page)
    10%  GET /api/user/summary
    10%  GET /api/health

Any other answer than the expected one (200; a booking may also get 409
LOT_FULL) or a failed connection counts as an error, with its first
examples kept.  Requests are counted exactly: run(n) sends n requests,
unless max_seconds runs out first.
"""

import http.client
import json
import random
import threading
import time

import parktest as T
import parking as P

NLOTS = 10
SPOTS = 100
PASSWORD = P.PASSWORD

# (kind, weight)
MIX = [("list", 30), ("grid", 15), ("book", 20), ("history", 15),
       ("summary", 10), ("health", 10)]

# Settings of a soak stack: the same workers all along (so that their
# memory can be followed), cheap hashes for the seed, tokens that outlive
# the run.
SETTINGS = dict(P.FAST_HASH, PARKD_WORKER_MAX_REQUESTS="0",
                JWT_ACCESS_TOKEN_EXPIRES="3600")


def rss_kb(pid):
    """VmRSS of pid in kB, or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def sanitized(pids):
    """True when parkd runs with AddressSanitizer (its quarantine keeps
    freed memory, so RSS says nothing about parkd's own use)."""
    for pid in pids:
        try:
            with open("/proc/%d/maps" % pid) as f:
                if "libasan" in f.read():
                    return True
        except OSError:
            pass
    return False


def percentile(values, p):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


class Client:
    """One user with its own address and kept-alive connection."""

    def __init__(self, soak, n, token, rnd):
        self.soak = soak
        self.n = n
        self.token = token
        self.rnd = rnd
        self.ip = P.ip_for(1000 + n)
        self.conn = None
        self.active = None  # the reservation to release next

    def call(self, method, path, body=None, token=None):
        """Returns (status, parsed JSON or None); reconnects once when the
        kept connection was closed by nginx."""
        hdrs = {"Accept": "application/json",
                "Authorization": "Bearer " + (token or self.token)}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(
                    "127.0.0.1", self.soak.stack.port, timeout=30,
                    source_address=(self.ip, 0))
            try:
                self.conn.request(method, path, body=data, headers=hdrs)
                r = self.conn.getresponse()
                raw = r.read()
                if r.getheader("connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                try:
                    return r.status, json.loads(raw) if raw else None
                except ValueError:
                    return r.status, None
            except (http.client.RemoteDisconnected, BrokenPipeError,
                    ConnectionResetError, http.client.BadStatusLine):
                # nginx closed the kept connection (keepalive_timeout or
                # keepalive_requests): a request never sent, so retry once.
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise RuntimeError("unreachable")

    def one(self, kind):
        s = self.soak
        if kind == "list":
            st, _ = self.call("GET", "/api/user/pkl/list")
            return st == 200, st
        if kind == "grid":
            lot = self.rnd.choice(s.lots)
            st, _ = self.call("GET", "/api/admin/pkl/%d" % lot,
                              token=s.admin)
            return st == 200, st
        if kind == "history":
            st, _ = self.call("GET", "/api/user/pkl/book/list?limit=10")
            return st == 200, st
        if kind == "summary":
            st, _ = self.call("GET", "/api/user/summary")
            return st == 200, st
        if kind == "health":
            st, _ = self.call("GET", "/api/health")
            return st == 200, st
        if self.active is None:
            lot = s.lots[self.n % len(s.lots)]
            st, doc = self.call("POST", "/api/user/pkl/book/%d" % lot,
                                {"vehicle_number": "SOAK-%d" % self.n})
            if st == 200:
                self.active = doc["data"]["id"]
                return True, "book 200"
            code = (doc or {}).get("code")
            return st == 409 and code == "LOT_FULL", "book %s %s" % (st,
                                                                     code)
        st, doc = self.call("POST", "/api/user/pkl/release",
                            {"reservation_id": self.active})
        if st == 200:
            self.active = None
        return st == 200, "release %s" % st

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Soak:
    def __init__(self, stack, clients=8, seed=None):
        self.stack = stack
        self.nclients = clients
        self.seed_value = seed if seed is not None else random.randrange(
            1 << 30)
        self.rnd = random.Random(self.seed_value)
        self.admin = None
        self.lots = []
        self.clients = []
        self.total = 0
        kinds, weights = zip(*MIX)
        self.kinds = kinds
        self.cum = []
        acc = 0
        for w in weights:
            acc += w
            self.cum.append(acc)

    def seed(self, history=0):
        """Creates the lots (as the admin) and one user per client, and
        `history` completed reservations of those users, written straight
        into the database (a service in use has a past: with it the
        database outgrows SQLite's page cache of 2 MB, so the warm-up
        fills every worker's cache and what the soak then measures is
        not the cache filling up)."""
        self.admin = P.admin_headers(self.stack)["Authorization"][7:]
        for i in range(NLOTS):
            lot = P.create_lot(self.stack, prime_location_name="Soak Lot %d"
                               % (i + 1), number_of_spots=SPOTS, price=7)
            self.lots.append(lot["id"])
        users = P.make_users(self.stack, self.nclients, prefix="soak",
                             first=1000)
        self.clients = [Client(self, i, u.token,
                               random.Random(self.seed_value + i))
                        for i, u in enumerate(users)]
        if history:
            self.add_history(history, [u.id for u in users])

    def add_history(self, n, uids):
        """n completed reservations, spread over the users, lots and the
        last n hours."""
        c = P.dbconn(self.stack)
        try:
            c.execute("BEGIN IMMEDIATE")
            spots = c.execute(
                "SELECT id, lot_id FROM spots WHERE lot_id IN (%s)"
                % ",".join("?" * len(self.lots)), self.lots).fetchall()
            now = int(time.time())
            rows = []
            for i in range(n):
                spot, lot = spots[i % len(spots)]
                t0 = now - (n - i) * 3600
                hours = 1 + i % 5
                rows.append((spot, lot, uids[i % len(uids)], "HIST%d" % i,
                             t0, t0 + hours * 3600 - 60, 700, 700 * hours,
                             t0, t0 + hours * 3600))
            c.executemany(P.sql(
                "INSERT INTO reservations (spot_id, lot_id, user_id,"
                " vehicle_number, parking_ts, leaving_ts, hourly_cents,"
                " cost_cents, status, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'completed', ?, ?)",
                "INSERT INTO reservations (spot_id, lot_id, user_id,"
                " vehicle_number, parking_ts, leaving_ts, hourly_cents,"
                " cost_cents, status, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, to_timestamp(?), to_timestamp(?), ?,"
                " ?, 'completed', to_timestamp(?), to_timestamp(?))"), rows)
            c.execute("UPDATE cache_gen SET gen = gen + 1")
            c.execute("COMMIT")
        finally:
            c.close()

    def pick(self, rnd):
        x = rnd.random() * self.cum[-1]
        for kind, c in zip(self.kinds, self.cum):
            if x < c:
                return kind
        return self.kinds[-1]

    def workers(self):
        return self.stack.worker_pids()

    def rss(self):
        """{worker pid: VmRSS kB}."""
        return {p: rss_kb(p) for p in self.workers()}

    def run(self, n, max_seconds=None, samples=0, on_sample=None):
        """Sends n requests from the clients at once.  Returns a dict:
        sent, seconds, rate, errors (count), examples, kinds (count per
        kind), p50/p99 (s), rss (list of (requests done, {pid: kB}))."""
        lock = threading.Lock()
        state = {"left": n, "done": 0, "errors": 0}
        examples, kinds, lat = [], {}, []
        rss = []
        marks = set(n * (i + 1) // samples for i in range(samples)) \
            if samples else set()
        t0 = time.monotonic()
        deadline = t0 + max_seconds if max_seconds else None
        stop = threading.Event()

        def work(c):
            while not stop.is_set():
                with lock:
                    if state["left"] <= 0:
                        return
                    state["left"] -= 1
                if deadline and time.monotonic() > deadline:
                    stop.set()
                    return
                kind = self.pick(c.rnd)
                a = time.monotonic()
                try:
                    good, what = c.one(kind)
                except Exception as e:  # counted: an error of the run
                    good, what = False, "%s: %s" % (type(e).__name__, e)
                    c.close()
                b = time.monotonic()
                with lock:
                    state["done"] += 1
                    done = state["done"]
                    kinds[kind] = kinds.get(kind, 0) + 1
                    lat.append(b - a)
                    if not good:
                        state["errors"] += 1
                        if len(examples) < 10:
                            examples.append("%s: %s" % (kind, what))
                if done in marks:
                    sample = (done, self.rss())
                    rss.append(sample)
                    if on_sample:
                        on_sample(*sample)

        ts = [threading.Thread(target=work, args=(c,), daemon=True)
              for c in self.clients]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        secs = time.monotonic() - t0
        self.total += state["done"]
        rss.sort(key=lambda x: x[0])  # threads append out of order
        return {"sent": state["done"], "seconds": secs,
                "rate": state["done"] / secs if secs else 0,
                "errors": state["errors"], "examples": examples,
                "kinds": kinds, "p50": percentile(lat, 50),
                "p99": percentile(lat, 99), "rss": rss,
                "timed_out": stop.is_set()}

    def close(self):
        for c in self.clients:
            c.close()


def growth(start, end):
    """{pid: (start kB, end kB, growth %)} for the pids in both; a pid
    missing at the end (a replaced worker) maps to None."""
    out = {}
    for pid, a in start.items():
        b = end.get(pid)
        out[pid] = None if not a or b is None else (a, b, 100.0 * (b - a) / a)
    return out


def floors(first, samples, last, window):
    """The RSS floor of each worker at the start and at the end of a run:
    the least of `first` (the reading before the run) and the `window`
    first samples, and the least of the `window` last samples and `last`
    (the reading after it).  Returns ({pid: kB}, {pid: kB}).

    Why floors: a worker's RSS also holds what glibc keeps of the heap
    after a request (a freed block under a live one is not given back),
    which moves by some 10% from one request to the next whatever the
    request count.  A leak raises the floor; that noise does not."""
    head = [rss for _, rss in samples[:window]]
    tail = [rss for _, rss in samples[-window:]] if window else []
    a, b = {}, {}
    for pid, v in first.items():
        vals = [v] + [r[pid] for r in head if r.get(pid) is not None]
        a[pid] = min(x for x in vals if x is not None)
    for pid, v in last.items():
        vals = [v] + [r[pid] for r in tail if r.get(pid) is not None]
        b[pid] = min(x for x in vals if x is not None)
    return a, b


def stack(workers=4, settings=None, redis=True):
    """A parktest.Stack with the soak's settings."""
    return T.Stack(workers=workers, redis=redis,
                   settings=dict(SETTINGS, **(settings or {})))
