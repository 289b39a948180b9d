#!/usr/bin/env python3
"""80-cluster.t: parkd as a cluster (issue #18), driving dev/cluster.

dev/cluster starts, each in a network namespace of its own, a balancer,
two parkd hosts (app1, app2), a PostgreSQL primary (db1) with a
synchronous standby (db2), Redis and an SMTP sink.  Then, in this order:

- 64 clients book a 20-spot lot at once through the balancer: both hosts
  serve, exactly 20 bookings, all different spots, 44 LOT_FULL; no spot
  with two active reservations, no overlapping holds (read on db1).
- 64 clients reserve overlapping windows of a 5-spot lot at once: exactly
  5 succeed; no overlapping holds.
- A lot created through app1 is read at once through app2, and a price
  changed through app1 (its lot cached on app2) is read fresh on app2.
- Both hosts run parkctl exports, mail, tick and remind at the same
  moment: every export file and every e-mail exactly once (the sink).
- Redis killed: both hosts answer the same reads with the same bodies, a
  write is seen by both; Redis back: still the same on both.
- app1 killed (SIGKILL, every process of its namespace) under booking
  load: the balancer moves the traffic; every acknowledged booking is in
  the database; failures only around the kill.
- db1 killed under booking load, db2 promoted: every booking acknowledged
  before the kill is on db2; parkd serves again without a restart; the
  time without service is printed.
- The old primary is fenced: start-host db1 and a second promote are
  refused; rejoin db1 makes it db2's synchronous standby, which a write
  through the balancer reaches.
- Before the cluster starts: a PARKD_CLUSTER_DIR another user made (or one
  anyone may write) is refused, and nothing is written through a link
  planted in it; once it runs, a second cluster on its prefix is refused.

Skipped where the machine cannot make network namespaces (not root, no
ip command, or the kernel refuses).
"""

import atexit
import http.client
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import parktest as T  # noqa: E402
from parktest import diag, is_, ok  # noqa: E402



def net_used(net):
    """True when an address or a route of this machine is in net.0/24
    (what dev/cluster's net_free refuses)."""
    out = ""
    for cmd in (["ip", "-4", "-o", "addr", "show", "to", net + ".0/24"],
                ["ip", "-4", "route", "show", "table", "all", "root",
                 net + ".0/24"]):
        try:
            out += subprocess.run(cmd, capture_output=True, text=True,
                                  timeout=10).stdout
        except OSError:
            return False
    return bool(out.strip())


def free_net():
    """A 10.78.X prefix no address or route of this machine is in: from the
    pid's on, so that two runs at once start apart (a prefix taken between
    this check and the start is refused by dev/cluster, not shared)."""
    for i in range(250):
        net = "10.78.%d" % ((os.getpid() + i) % 250)
        if not net_used(net):
            return net
    return "10.78.%d" % (os.getpid() % 250)


# A cluster of this run's own (a name from the pid, a free /24), so that
# two runs at once on one machine never meet.
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"
NAME = "t" + "".join(_B36[os.getpid() // 36 ** i % 36] for i in range(4))
NET = free_net()
LB = (NET + ".10", 8080)
APP = {"app1": (NET + ".21", 8080), "app2": (NET + ".22", 8080)}
CDIR = "/tmp/parkd-t80-%d" % os.getpid()
CLUSTER = os.path.join(T.SRCDIR, "dev", "cluster")
PSQL = os.path.join(T.PG_BIN, "psql")
PASSWORD = "password-1234"
CLIENTS = 64
SPOTS = 20
SETTINGS = "PARKD_SCRYPT_N=16384 PARKD_SCRYPT_R=1 PARKD_HASH_CONCURRENCY=64"


def cluster_env():
    env = dict(os.environ, PARKD_CLUSTER_NAME=NAME, PARKD_CLUSTER_NET=NET,
               PARKD_CLUSTER_DIR=CDIR, PARKD_CLUSTER_JOBS_EVERY="0",
               PARKD_CLUSTER_SETTINGS=SETTINGS,
               PARKD_BUILDDIR=os.path.dirname(T.PARKD))
    return env


def cluster(*args, timeout=180):
    return subprocess.run([CLUSTER] + list(args), env=cluster_env(),
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def can_netns():
    """None when network namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "not root: ip netns needs root"
    if subprocess.run(["sh", "-c", "command -v ip"],
                      capture_output=True).returncode != 0:
        return "no ip command (iproute2)"
    probe = "t80probe%d" % os.getpid()
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True,
                       text=True)
    if r.returncode != 0:
        return "ip netns add refused: " + r.stderr.strip()
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    if not T.pg_have():
        return "no PostgreSQL server binaries in " + T.PG_BIN
    return None


def req(where, method, path, body=None, token=None, timeout=10):
    """One request on a fresh connection to where (address, port).
    Returns (status, json or None); an OSError is raised."""
    hdrs = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    if token:
        hdrs["Authorization"] = "Bearer " + token
    c = http.client.HTTPConnection(where[0], where[1], timeout=timeout)
    try:
        c.request(method, path, body=data, headers=hdrs)
        r = c.getresponse()
        raw = r.read()
        try:
            j = json.loads(raw)
        except ValueError:
            j = None
        return r.status, j
    finally:
        c.close()


def psql(host, sql):
    """Rows (lists of str) of sql on host's (db1, db2) socket, as the
    superuser, in the parkd database."""
    r = subprocess.run([PSQL, "-X", "-At", "-F", "\t", "-h",
                        os.path.join(CDIR, host), "-p", "5432", "-U",
                        "postgres", "-d", "parkd", "-c", sql],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError("psql on %s: %s" % (host, r.stderr))
    return [line.split("\t") for line in r.stdout.splitlines() if line]


def login(ident, password, where=LB):
    for _ in range(60):
        st, j = req(where, "POST", "/api/auth/login",
                    {"username": ident, "password": password})
        if st == 503:
            time.sleep(0.5)
            continue
        if st != 200:
            raise RuntimeError("login %s: %d %r" % (ident, st, j))
        return j["data"]["access_token"], j["data"]["user"]["id"]
    raise RuntimeError("login %s: 503 throughout" % ident)


def make_users(n, prefix):
    users = [None] * n
    errors = []

    def work(i):
        name = "%s%d" % (prefix, i)
        try:
            for _ in range(60):
                st, j = req(LB, "POST", "/api/auth/register", {
                    "username": name, "email": name + "@parking.test",
                    "password": PASSWORD})
                if st != 503:
                    break
                time.sleep(0.5)
            if st != 200:
                raise RuntimeError("register %s: %d %r" % (name, st, j))
            users[i] = login(name, PASSWORD)
        except Exception as e:
            errors.append(str(e))

    ts = []
    for i in range(n):
        ts.append(threading.Thread(target=work, args=(i,)))
        ts[-1].start()
        if len(ts) % 8 == 0:
            for t in ts[-8:]:
                t.join(60)
    for t in ts:
        t.join(60)
    if errors:
        raise RuntimeError("making users: " + "; ".join(errors[:3]))
    return users


def admin_token():
    env = {}
    with open(os.path.join(CDIR, "cluster.env")) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            env[k] = v
    return login(env["ADMIN_EMAIL"], env["ADMIN_PASSWORD"])[0]


def create_lot(admin, spots, name, where=LB):
    st, j = req(where, "POST", "/api/admin/pkl/create", {
        "prime_location_name": name, "address": name + " Street, Test City",
        "pin_code": "560001", "number_of_spots": spots, "price": 5}, admin)
    if st != 200:
        raise RuntimeError("create lot: %d %r" % (st, j))
    return j["data"]["id"]


def at_once(fns):
    results = [None] * len(fns)
    barrier = threading.Barrier(len(fns))

    def run(i):
        barrier.wait()
        try:
            results[i] = fns[i]()
        except Exception as e:
            results[i] = ("%s: %s" % (type(e).__name__, e), None)

    ts = [threading.Thread(target=run, args=(i,)) for i in range(len(fns))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    return results


def lb_upstreams():
    """Which host served each request so far (the balancer's log)."""
    seen = {}
    with open(os.path.join(CDIR, "lb", "logs", "access.log")) as f:
        for line in f:
            for part in line.split():
                if part.startswith("up="):
                    seen[part[3:]] = seen.get(part[3:], 0) + 1
    return seen


def test_rush(admin, users):
    lid = create_lot(admin, SPOTS, "Rush Lot")
    res = at_once([(lambda u=u: req(LB, "POST", "/api/user/pkl/book/%d" % lid,
                                    {"vehicle_number": "R %d" % u[1]}, u[0]))
                   for u in users])
    won = [j["data"] for st, j in res if st == 200]
    full = [1 for st, j in res if st == 409 and j and j.get("code") ==
            "LOT_FULL"]
    is_(len(won), SPOTS, "%d clients book a %d-spot lot at once through the "
        "balancer: exactly %d succeed" % (CLIENTS, SPOTS, SPOTS))
    is_(len(full), CLIENTS - SPOTS, "  the other %d get 409 LOT_FULL"
        % (CLIENTS - SPOTS))
    is_(sorted(d["spot_number"] for d in won), list(range(1, SPOTS + 1)),
        "  0 double bookings: %d distinct spots" % SPOTS)
    ups = lb_upstreams()
    ok(all(ups.get("%s:%d" % a, 0) > 0 for a in APP.values()),
       "  the balancer sent requests to both hosts", "  %r" % ups)
    diag("requests per host: %r" % ups)
    dup = psql("db1", "SELECT spot_id, count(*) FROM reservations WHERE "
               "status = 'active' GROUP BY spot_id HAVING count(*) > 1")
    is_(dup, [], "  0 double bookings: no spot with two active "
        "reservations (db1)")
    over = psql("db1", "SELECT a.id, b.id FROM reservations a JOIN "
                "reservations b ON a.spot_id = b.spot_id AND a.id < b.id "
                "WHERE a.hold_start IS NOT NULL AND b.hold_start IS NOT NULL "
                "AND a.hold_start < b.hold_end AND b.hold_start < a.hold_end")
    is_(over, [], "  0 overlapping holds (db1)")
    return lid


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def test_windows(admin, users):
    """64 clients reserve overlapping windows of a 5-spot lot at once:
    [T+2h, T+4h) and [T+3h, T+5h) all share [T+3h, T+4h), so exactly 5
    succeed, whichever host answers."""
    lid = create_lot(admin, 5, "Window Lot")
    t = int(time.time()) // 900 * 900 + 2 * 3600
    res = at_once([(lambda i=i, u=u: req(
        LB, "POST", "/api/user/pkl/reserve/%d" % lid,
        {"start": iso(t + (i % 2) * 3600), "end": iso(t + 2 * 3600 +
                                                      (i % 2) * 3600),
         "vehicle_number": "W %d" % u[1]}, u[0]))
        for i, u in enumerate(users)])
    won = [j["data"] for st, j in res if st == 200]
    other = sorted(set((st, j and j.get("code")) for st, j in res
                       if st != 200))
    is_(len(won), 5, "%d clients reserve overlapping windows of a 5-spot "
        "lot at once through the balancer: exactly 5 succeed" % CLIENTS)
    is_(other, [(409, "LOT_FULL")], "  the others get 409 LOT_FULL")
    is_(sorted(d["spot_number"] for d in won), [1, 2, 3, 4, 5],
        "  on 5 different spots")
    over = psql("db1", "SELECT a.id, b.id FROM reservations a JOIN "
                "reservations b ON a.spot_id = b.spot_id AND a.id < b.id "
                "WHERE a.hold_start IS NOT NULL AND b.hold_start IS NOT NULL "
                "AND a.hold_start < b.hold_end AND b.hold_start < a.hold_end")
    is_(over, [], "  0 overlapping holds (db1)")
    held = psql("db1", "SELECT count(*) FROM reservations WHERE "
                "hold_start IS NOT NULL")
    ok(int(held[0][0]) >= SPOTS + 5, "  the check saw the holds (%s rows "
       "hold an interval)" % held[0][0])


def test_fresh(admin):
    lid = create_lot(admin, 3, "Fresh Lot", where=APP["app1"])
    st, j = req(APP["app2"], "GET", "/api/admin/pkl/%d" % lid, token=admin)
    is_((st, j and j["data"].get("prime_location_name")), (200, "Fresh Lot"),
        "a lot created through app1 is read at once through app2")
    # A cached read on app2, a write through app1, the read again on app2.
    before = req(APP["app2"], "GET", "/api/admin/pkl/%d" % lid, token=admin)
    st, j = req(APP["app1"], "POST", "/api/admin/pkl/update/%d" % lid,
                {"price": 9}, admin)
    is_(st, 200, "  the lot's price changed through app1")
    st, j = req(APP["app2"], "GET", "/api/admin/pkl/%d" % lid, token=admin)
    is_((st, j and j["data"].get("price")), (200, 9),
        "  app2 reads the new price at once (it had the old one: %r)"
        % (before[1] and before[1]["data"].get("price"),))


def ns_run(host, *args):
    """parkctl ARGS with host's settings, in host's namespace (Popen)."""
    return subprocess.Popen(
        ["ip", "netns", "exec", "%s-%s" % (NAME, host), T.PARKCTL, "-c",
         os.path.join(CDIR, host, "parkd.env")] + list(args),
        env=dict({"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                 **{k: v for k, v in os.environ.items()
                    if k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")}),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        stdin=subprocess.DEVNULL)


def both_at_once(*args):
    """Runs parkctl ARGS on app1 and app2 at the same moment; returns
    [(exit status, output)] of both."""
    ps = [ns_run(h, *args) for h in ("app1", "app2")]
    out = []
    for p in ps:
        try:
            text, _ = p.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
            text, _ = p.communicate()
        out.append((p.returncode, text))
    return out


def sink_messages():
    path = os.path.join(CDIR, "mail", "messages.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def subject(raw):
    for line in raw.split("\n"):
        if line.lower().startswith("subject:"):
            return line[8:].strip()
    return None


def test_jobs(users):
    tasks = []
    for u in users[:16]:
        st, j = req(LB, "POST", "/api/user/export-csv", {}, u[0])
        if st == 200:
            tasks.append(j["data"]["task_id"])
    is_(len(tasks), 16, "16 exports requested through the balancer")
    for job in ("exports", "tick", "remind", "mail"):
        res = both_at_once("-q", job)
        is_([r[0] for r in res], [0, 0], "parkctl %s on both hosts at the "
            "same moment: both exit 0" % job)
        for r in res:
            if r[0] != 0:
                diag(r[1][-2000:])
    rows = psql("db1", "SELECT state, filename FROM export_jobs")
    is_(sorted(r[0] for r in rows), ["SUCCESS"] * 16,
        "  every export done once (SUCCESS)")
    files = [f for f in os.listdir(os.path.join(CDIR, "shared", "exports"))
             if not f.startswith(".")]
    is_(sorted(files), sorted(r[1] for r in rows),
        "  one file per export in the shared folder, no other")
    queued = psql("db1", "SELECT state, count(*) FROM outbox GROUP BY state")
    sent = int(dict((r[0], r[1]) for r in queued).get("sent", 0))
    is_([r[0] for r in queued], ["sent"], "  every queued e-mail was sent")
    msgs = sink_messages()
    is_(len(msgs), sent, "  the SMTP sink got as many messages as the "
        "outbox sent (%d)" % sent)
    keys = [(tuple(m["rcpts"]), subject(m["raw"])) for m in msgs]
    dups = sorted(k for k in set(keys) if keys.count(k) > 1)
    is_(dups, [], "  no e-mail twice (recipient and subject)")
    exp = [k for k in keys if k[1] and "xport" in k[1]]
    is_(len(exp), 16, "  16 export e-mails, one per export")
    ok(sent > 16, "  the reminders went out too (%d e-mails in all)" % sent)


def lots_list(where, admin):
    st, j = req(where, "GET", "/api/admin/pkl/list", token=admin)
    return st, j and j.get("data")


def test_redis(admin):
    a = lots_list(APP["app1"], admin)
    b = lots_list(APP["app2"], admin)
    ok(a[0] == 200 and a == b, "Redis up: both hosts list the same lots")
    r = cluster("kill", "redis")
    is_(r.returncode, 0, "Redis killed (SIGKILL)")
    a2 = lots_list(APP["app1"], admin)
    b2 = lots_list(APP["app2"], admin)
    ok(a2 == a and b2 == a, "  both hosts answer as before (fail-open)")
    lid = create_lot(admin, 2, "No Redis Lot", where=APP["app1"])
    a3 = lots_list(APP["app1"], admin)
    b3 = lots_list(APP["app2"], admin)
    ok(a3 == b3 and lid in [x["id"] for x in _lots(b3[1])],
       "  a lot created on app1 without Redis is listed by app2")
    r = cluster("start-host", "redis")
    ok(r.returncode == 0, "Redis started again", r.stderr[-1000:])
    # Warm the cache on both hosts, write through app2, read on app1.
    for _ in range(3):
        lots_list(APP["app1"], admin)
        lots_list(APP["app2"], admin)
    st, j = req(APP["app2"], "POST", "/api/admin/pkl/update/%d" % lid,
                {"price": 11}, admin)
    is_(st, 200, "  a write through app2 with Redis back")
    for h in ("app1", "app2"):
        st, j = req(APP[h], "GET", "/api/admin/pkl/%d" % lid, token=admin)
        is_((st, j and j["data"].get("price")), (200, 11),
            "  %s reads the new price (caches coherent)" % h)
    ok(lots_list(APP["app1"], admin) == lots_list(APP["app2"], admin),
       "  both hosts list the same lots")


def _lots(data):
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for v in data.values():
            if isinstance(v, list):
                return v
    return []


class Load:
    """Users booking and releasing through the balancer in threads, until
    stop() (at most max_s seconds).  Records (time, op, status, id)."""

    def __init__(self, users, lid, max_s=90):
        self.users = users
        self.lid = lid
        self.max_s = max_s
        self.ops = []
        self.lock = threading.Lock()
        self.halt = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(u,))
                        for u in users]

    def rec(self, t0, *x):
        """Records (end time, op, status, id, start time t0)."""
        with self.lock:
            self.ops.append((time.monotonic(),) + x + (t0,))

    def run(self, u):
        end = time.monotonic() + self.max_s
        while not self.halt.is_set() and time.monotonic() < end:
            t0 = time.monotonic()
            try:
                st, j = req(LB, "POST", "/api/user/pkl/book/%d" % self.lid,
                            {"vehicle_number": "L %d" % u[1]}, u[0],
                            timeout=10)
            except OSError as e:
                self.rec(t0, "book", str(e), None)
                time.sleep(0.05)
                continue
            rid = j["data"]["id"] if st == 200 else None
            self.rec(t0, "book", st, rid)
            if st != 200:
                time.sleep(0.05)
                continue
            # Release until acknowledged (or the load stops).
            while not self.halt.is_set() and time.monotonic() < end:
                t0 = time.monotonic()
                try:
                    st, j = req(LB, "POST", "/api/user/pkl/release",
                                {"reservation_id": rid}, u[0], timeout=10)
                except OSError as e:
                    st = str(e)
                self.rec(t0, "release", st, rid)
                if st in (200, 409):
                    break
                time.sleep(0.05)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self.halt.set()
        for t in self.threads:
            t.join(30)

    def booked(self):
        return [x[3] for x in self.ops if x[1] == "book" and x[2] == 200]

    def released(self):
        return [x[3] for x in self.ops if x[1] == "release" and x[2] == 200]

    def failures(self, since=0.0, until=float("inf")):
        return [x for x in self.ops if since <= x[0] < until and
                x[2] not in (200, 409)]

    def successes(self, since=0.0):
        return [x for x in self.ops if x[0] >= since and x[2] == 200]


def in_db(host, ids):
    """{id: status} of the reservations ids on host."""
    if not ids:
        return {}
    rows = psql(host, "SELECT id, status FROM reservations WHERE id IN (%s)"
                % ",".join(str(int(i)) for i in ids))
    return {int(r[0]): r[1] for r in rows}


def test_kill_app(admin, users):
    lid = create_lot(admin, 40, "Load Lot A")
    with Load(users[16:32], lid) as load:
        time.sleep(3)
        t_kill = time.monotonic()
        r = cluster("kill", "app1")
        is_(r.returncode, 0, "app1 killed under load (SIGKILL, every process "
            "of its namespace)")
        time.sleep(6)
        load.stop()
    booked = load.booked()
    ok(len(load.successes(t_kill + 1)) > 20, "  bookings go on after the "
       "kill (%d operations acknowledged in all, %d after the kill)" % (
           len(load.successes()), len(load.successes(t_kill))))
    found = in_db("db1", booked)
    is_(sorted(i for i in booked if i not in found), [],
        "  every acknowledged booking (%d) is in the database" % len(booked))
    rel = load.released()
    is_(sorted(i for i in rel if found.get(i) != "completed"), [],
        "  every acknowledged release (%d) is completed" % len(rel))
    before = load.failures(until=t_kill)
    after = load.failures(since=t_kill + 2)
    during = load.failures(since=t_kill, until=t_kill + 2)
    is_(before, [], "  no failure before the kill")
    is_(after, [], "  no failure from 2 s after the kill on")
    diag("failures while app1 died: %d %r" % (len(during), [
        x[2] for x in during][:5]))
    r = cluster("start-host", "app1")
    ok(r.returncode == 0, "app1 started again", r.stderr[-1000:])
    st, _ = req(APP["app1"], "GET", "/api/health")
    is_(st, 200, "  and answers")


def test_failover(admin, users):
    lid = create_lot(admin, 40, "Load Lot B")
    with Load(users[32:48], lid) as load:
        time.sleep(3)
        t_kill = time.monotonic()
        r = cluster("kill", "db1")
        is_(r.returncode, 0, "db1 (the primary) killed under booking load")
        r = cluster("promote")
        ok(r.returncode == 0, "db2 promoted (pg_ctl promote)", r.stderr)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and \
                not [x for x in load.successes(t_kill) if x[1] == "book"]:
            time.sleep(0.1)
        time.sleep(9)  # past every worker's reconnection back-off (5 s)
        load.stop()
    # Without service: from the first failure after the kill to the first
    # booking sent after that failure and acknowledged.
    fails = sorted(x[0] for x in load.failures(since=t_kill))
    back = sorted(x[0] for x in load.ops if x[1] == "book" and x[2] == 200
                  and fails and x[4] > fails[0])
    ok(back, "  parkd books again on the new primary without a restart")
    if back:
        diag("time without service: %.2f s (first failure after the kill "
             "to the first booking acknowledged after it; %d failed "
             "requests)" % (back[0] - fails[0], len(fails)))
    booked = load.booked()
    found = in_db("db2", booked)
    is_(sorted(i for i in booked if i not in found), [],
        "  every acknowledged booking (%d) is on db2" % len(booked))
    rel = load.released()
    is_(sorted(i for i in rel if found.get(i) != "completed"), [],
        "  every acknowledged release (%d) is completed on db2" % len(rel))
    late = load.failures(since=back[0] + 6) if back else []
    ok(back and not late, "  no failure from 6 s after service came back "
       "(each worker reconnects after its back-off, at most 5 s)",
       "  %r" % [(round(x[0] - back[0], 2), x[2]) for x in late[:10]])
    if back:
        diag("failures after service came back, s after it: %r" % [
            (round(x[0] - back[0], 2), x[2]) for x in
            load.failures(since=back[0])][:20])
    res = both_at_once("-q", "tick")
    is_([x[0] for x in res], [0, 0], "  parkctl tick on both hosts works on "
        "the new primary")
    dup = psql("db2", "SELECT spot_id, count(*) FROM reservations WHERE "
               "status = 'active' GROUP BY spot_id HAVING count(*) > 1")
    is_(dup, [], "  no spot with two active reservations (db2)")


def test_fencing(admin):
    r = cluster("start-host", "db1")
    ok(r.returncode != 0 and "rejoin" in r.stderr, "start-host of the old "
       "primary db1 after the promote is refused (two primaries)",
       r.stderr[-1000:])
    pids = subprocess.run(["ip", "netns", "pids", NAME + "-db1"],
                          capture_output=True, text=True).stdout.split()
    is_(pids, [], "  nothing runs in db1's namespace")
    r = cluster("promote")
    ok(r.returncode != 0 and "still runs" in r.stderr, "promote while the "
       "primary (db2) runs is refused", r.stderr[-1000:])
    r = cluster("rejoin", "db1", timeout=240)
    if not ok(r.returncode == 0, "rejoin db1: a standby of db2 again",
              r.stderr[-2000:]):
        return
    is_(psql("db1", "SELECT pg_is_in_recovery()"), [["t"]],
        "  db1 is in recovery (a standby)")
    is_(psql("db2", "SELECT sync_state FROM pg_stat_replication WHERE "
             "application_name = 'db1'"), [["sync"]],
        "  db1 is db2's synchronous standby")
    lid = create_lot(admin, 2, "Fenced Lot")
    seen = []
    for _ in range(100):
        seen = psql("db1", "SELECT count(*) FROM lots WHERE id = %d"
                    % int(lid))
        if seen == [["1"]]:
            break
        time.sleep(0.1)
    is_(seen, [["1"]], "  a lot created through the balancer (on db2) is "
        "replayed on db1")


def test_unsafe_dir():
    """dev/cluster start with a PARKD_CLUSTER_DIR it must refuse."""
    victim = "/tmp/parkd-t80-victim-%d" % os.getpid()
    for owner, mode, why in ((65534, 0o755, "another user's"),
                             (0, 0o777, "a world-writable")):
        d = "/tmp/parkd-t80-unsafe-%d" % os.getpid()
        subprocess.run(["rm", "-rf", d])
        with open(victim, "w") as f:
            f.write("precious\n")
        os.mkdir(d)
        os.chmod(d, mode)
        os.symlink(victim, os.path.join(d, "cluster.env.tmp"))
        os.chown(d, owner, owner)
        try:
            r = subprocess.run([CLUSTER, "start"], env=dict(
                cluster_env(), PARKD_CLUSTER_DIR=d), capture_output=True,
                text=True, timeout=120, stdin=subprocess.DEVNULL)
            with open(victim) as f:
                kept = f.read()
            ok(r.returncode != 0 and "refusing" in r.stderr and
               kept == "precious\n" and sorted(os.listdir(d)) ==
               ["cluster.env.tmp"], "start in %s directory is refused, "
               "nothing written through its link" % why, r.stderr[-1000:])
        finally:
            subprocess.run(["rm", "-rf", d, victim])
    r = subprocess.run(["ip", "netns", "list"], capture_output=True,
                       text=True)
    ok(NAME + "-" not in r.stdout, "  no namespace made")


def test_same_net():
    d = "/tmp/parkd-t80-second-%d" % os.getpid()
    env = dict(cluster_env(), PARKD_CLUSTER_DIR=d,
               PARKD_CLUSTER_NAME=NAME[:4] + ("y" if NAME[4] != "y" else "x"))
    r = subprocess.run([CLUSTER, "start"], env=env, capture_output=True,
                       text=True, timeout=300, stdin=subprocess.DEVNULL)
    if r.returncode == 0:
        subprocess.run([CLUSTER, "stop"], env=env, capture_output=True,
                       timeout=120)
    ok(r.returncode != 0 and "in use" in r.stderr and not os.path.exists(d),
       "a second cluster on the same prefix is refused", r.stderr[-1000:])


def sweep():
    """Stops the clusters of earlier runs that died without stopping theirs
    (their directory names a pid that no longer runs)."""
    for d in os.listdir("/tmp"):
        if not d.startswith("parkd-t80-") or not d[10:].isdigit():
            continue
        if T.pid_alive(int(d[10:])):
            continue
        env = {}
        try:
            with open(os.path.join("/tmp", d, "cluster.env")) as f:
                for line in f:
                    k, _, v = line.rstrip("\n").partition("=")
                    env[k] = v
        except OSError:
            continue
        if "NAME" in env and "NET" in env:
            diag("stopping the cluster %s left by an earlier run" % d)
            subprocess.run([CLUSTER, "stop"], env=dict(
                os.environ, PARKD_CLUSTER_NAME=env["NAME"],
                PARKD_CLUSTER_NET=env["NET"],
                PARKD_CLUSTER_DIR=os.path.join("/tmp", d)),
                capture_output=True, timeout=120)


def stop_cluster():
    """dev/cluster stop; keeps the directory (logs) when a test failed."""
    env = {}
    if T.failures():
        env["PARKD_CLUSTER_KEEP"] = "1"
        diag("kept the cluster's directory (logs): " + CDIR)
    subprocess.run([CLUSTER, "stop"], env=dict(cluster_env(), **env),
                   capture_output=True, timeout=120)


def main():
    why = can_netns()
    if why:
        T.skip("cluster in network namespaces", why)
        return
    sweep()
    test_unsafe_dir()
    atexit.register(stop_cluster)
    t0 = time.monotonic()
    r = cluster("start", timeout=300)
    if not ok(r.returncode == 0, "dev/cluster starts (%.1f s)"
              % (time.monotonic() - t0), r.stderr[-3000:]):
        return
    st, j = req(LB, "GET", "/api/health")
    is_((st, j and j["data"]["checks"].get("database_backend")),
        (200, "postgresql"), "the balancer answers /api/health")
    admin = admin_token()
    users = make_users(CLIENTS, "client")
    ok(True, "%d users registered and logged in through the balancer"
       % CLIENTS)
    test_rush(admin, users)
    test_windows(admin, users)
    test_fresh(admin)
    test_jobs(users)
    test_redis(admin)
    test_kill_app(admin, users)
    test_same_net()
    test_failover(admin, users)
    test_fencing(admin)


if __name__ == "__main__":
    T.run(main)
