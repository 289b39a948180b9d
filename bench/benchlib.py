"""benchlib: what bench/run and bench/callgrind share (Python stdlib only).

- build_parkd(): parkd and parkctl built with ./configure's defaults (-g -O2,
  no --enable-debug, no sanitizers) from a copy of a commit (HEAD) or of the
  work tree, so that the developers' in-tree debug build stays as it is;
- build_fcgi_min(): bench/fcgi-min.c, the benchmark's trivial responder;
- stack_class(): t/lib/parktest.py's Stack (Redis, parkd, and nginx from
  dev/nginx-conf.sh, as the tests run them) whose nginx site gets the
  benchmark's locations, /_bench/nginx (case A), /_bench/fcgi (case B),
  /_bench/c10 (case C10), /_bench/e/ (case E) and /_bench/e-ckpt/ (case
  E_ckpt: E with parkd's checkpoint policy), the last four to fcgi-min's
  sockets;
- seed(): 10 lots x 100 spots and users with tokens, through the API;
- run_wrk(): one wrk --latency run and its figures.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(BENCH)

NLOTS = 10
SPOTS = 100


def say(*a):
    print("bench:", *a, file=sys.stderr, flush=True)


def die(msg):
    say(msg)
    sys.exit(1)


# ---- building ---------------------------------------------------------------


def tree_files(ref):
    """{path: bytes} of the tree outside bench/: the commit ref (e.g.
    "HEAD") as git archive gives it, or with ref None the work tree as it
    is (tracked files and new ones git does not ignore)."""
    files = {}
    if ref is not None:
        import io
        import tarfile
        out = subprocess.run(["git", "-C", TOP, "archive", "--format=tar",
                              ref], capture_output=True, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(out)) as tar:
            for m in tar.getmembers():
                if m.isfile() and not m.name.startswith("bench/"):
                    files[m.name] = (tar.extractfile(m).read(), m.mode)
        return files
    out = subprocess.run(
        ["git", "-C", TOP, "ls-files", "-z", "--cached", "--others",
         "--exclude-standard"], capture_output=True, check=True)
    for rel in out.stdout.decode().split("\0"):
        path = os.path.join(TOP, rel)
        if rel and not rel.startswith("bench/") and os.path.isfile(path):
            with open(path, "rb") as f:
                files[rel] = (f.read(), os.stat(path).st_mode)
    return files


def sync_tree(dest, ref):
    """Makes dest hold the files of tree_files(ref), rewriting only those
    whose content differs (their time becomes now, so make rebuilds what
    depends on them and nothing else)."""
    for rel, (data, mode) in tree_files(ref).items():
        dst = os.path.join(dest, rel)
        try:
            with open(dst, "rb") as f:
                if f.read() == data:
                    continue
        except FileNotFoundError:
            pass
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(dst, "wb") as f:
            f.write(data)
        os.chmod(dst, mode & 0o777)


def build_parkd(builddir, ref="HEAD"):
    """Builds parkd and parkctl optimised in builddir/src, a copy of the
    commit ref (None: of the work tree).  Returns that directory."""
    src = os.path.join(builddir, "src")
    os.makedirs(src, exist_ok=True)
    sync_tree(src, ref)
    log = os.path.join(builddir, "build.log")

    def sh(*argv):
        with open(log, "ab") as f:
            f.write(("$ %s\n" % " ".join(argv)).encode())
            f.flush()
            r = subprocess.run(argv, cwd=src, stdout=f,
                               stderr=subprocess.STDOUT)
        if r.returncode != 0:
            die("%s failed (see %s)" % (" ".join(argv), log))

    def newer(a, b):
        return os.path.getmtime(a) > os.path.getmtime(b)

    cfg = os.path.join(src, "configure")
    if (not os.path.exists(cfg) or
            newer(os.path.join(src, "configure.ac"), cfg) or
            newer(os.path.join(src, "Makefile.am"), cfg)):
        say("autoreconf -fi (in %s)" % src)
        sh("autoreconf", "-fi")
    status = os.path.join(src, "config.status")
    if not os.path.exists(status) or newer(cfg, status):
        say("./configure (optimised: no --enable-debug, no --enable-asan)")
        sh("./configure")
    say("make parkd parkctl (in %s)" % src)
    sh("make", "-j%d" % max(2, os.cpu_count() or 2), "parkd", "parkctl")
    with open(os.path.join(src, ".bench-commit"), "w") as f:
        f.write(git_describe(ref) + "\n")
    return src


def resolve(ref):
    """The full hash of ref (so that a commit made during a run changes
    nothing), or None for the work tree."""
    if ref is None:
        return None
    return subprocess.run(["git", "-C", TOP, "rev-parse", "--verify", ref],
                          capture_output=True, text=True,
                          check=True).stdout.strip()


def built_commit(src):
    """What build_parkd() built in src (its description), or "?"."""
    try:
        with open(os.path.join(src, ".bench-commit")) as f:
            return f.read().strip()
    except OSError:
        return "?"


def build_fcgi_min(outdir):
    """Compiles bench/fcgi-min.c (cc -O2 ... -lfcgi -lsqlite3); returns the
    binary."""
    os.makedirs(outdir, exist_ok=True)
    out = os.path.join(outdir, "fcgi-min")
    cc = os.environ.get("CC", "cc")
    r = subprocess.run([cc, "-O2", "-g", "-Wall", "-o", out,
                        os.path.join(BENCH, "fcgi-min.c"), "-lfcgi",
                        "-lsqlite3"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        die("building fcgi-min failed:\n" + r.stderr)
    return out


def git_describe(ref="HEAD"):
    """The commit built: ref's short hash, or with ref None the work
    tree's HEAD with "+work tree" and the files that differ from it."""
    head = subprocess.run(["git", "-C", TOP, "rev-parse", "--short",
                           ref or "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    if ref is not None:
        return head
    st = subprocess.run(["git", "-C", TOP, "status", "--porcelain"],
                        capture_output=True, text=True).stdout.split("\n")
    changed = [line[3:] for line in st
               if line.strip() and not line[3:].startswith("bench/")]
    return head + ("+work tree (%s)" % " ".join(changed) if changed else "")


# ---- HTTP and Redis ---------------------------------------------------------


def api(port, method, path, body=None, token=None, source="127.0.0.1",
        timeout=30):
    """One request through nginx from the loopback address source: nginx
    limits login and register per client address, so each user of the seed
    comes from an address of its own (all of 127.0.0.0/8 is loopback).
    Returns (status, parsed JSON or None)."""
    import http.client
    hdrs = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    if token:
        hdrs["Authorization"] = "Bearer " + token
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                      source_address=(source, 0))
    try:
        conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        raw = r.read()
        try:
            return r.status, json.loads(raw)
        except ValueError:
            return r.status, None
    finally:
        conn.close()


def must(what, status, doc, want=200):
    """Dies unless status is want; returns doc."""
    if status != want:
        die("%s: HTTP %s %s" % (what, status, json.dumps(doc)[:400]))
    return doc


def redis_cmd(where, *args):
    """One Redis command over RESP to a port of 127.0.0.1 or a unix socket's
    path (the stack's Redis: parktest runs it on a socket); returns the raw
    reply (stdlib only)."""
    msg = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        msg += b"$%d\r\n%s\r\n" % (len(a), a)
    if isinstance(where, str):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        s.connect(where)
    else:
        s = socket.create_connection(("127.0.0.1", where), 2)
    with s:
        s.sendall(msg)
        time.sleep(0.05)
        return s.recv(65536)


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


# ---- the stack --------------------------------------------------------------


def import_parktest(builddir):
    """Imports t/lib/parktest.py of the copy in builddir (so that the
    harness, dev/nginx-conf.sh and nginx/ are those of the commit built)."""
    os.environ["abs_top_builddir"] = builddir
    os.environ["abs_top_srcdir"] = builddir
    sys.path.insert(0, os.path.join(builddir, "t", "lib"))
    import parktest
    return parktest


def stack_class(parktest):
    """parktest.Stack with the benchmark's nginx locations and fcgi-min
    (its four instances) stopped with the rest."""

    class BenchStack(parktest.Stack):
        def spawn(self, name, argv, env=None, pass_fds=()):
            if name == "nginx":
                self.add_bench_locations()
            return super().spawn(name, argv, env=env, pass_fds=pass_fds)

        def add_bench_locations(self):
            """Appends the locations of cases A, B (and its variants), C10,
            E and E_ckpt to the server block that dev/nginx-conf.sh made
            from nginx/parkd.conf.in; they inherit everything the site sets
            at server level (the FastCGI parameters included)."""
            site = os.path.join(self.dir, "nginx", "parkd-site.conf")
            with open(site) as f:
                text = f.read().rstrip()
            if not text.endswith("}"):
                raise parktest.StackError("unexpected end of " + site)
            self.fcgi_min_socket = os.path.join(self.dir, "fcgi-min.sock")
            self.fcgi_c10_socket = os.path.join(self.dir, "fcgi-c10.sock")
            self.fcgi_e_socket = os.path.join(self.dir, "fcgi-e.sock")
            self.fcgi_e_ckpt_socket = os.path.join(self.dir,
                                                   "fcgi-e-ckpt.sock")
            extra = (
                "\n    # ---- added by bench/run: its ceilings ----\n"
                "    location = /_bench/nginx {\n"
                "        default_type application/json;\n"
                "        return 200 '{\"success\":true,\"message\":\"ok\","
                "\"data\":{\"bench\":\"nginx\"}}\\n';\n"
                "    }\n"
                "    location = /_bench/fcgi {\n"
                "        fastcgi_pass \"unix:%s\";\n"
                "    }\n"
                "    location = /_bench/fcgi-list {\n"
                "        fastcgi_pass \"unix:%s\";\n"
                "    }\n"
                "    location ^~ /_bench/fcgi-close {\n"
                "        fastcgi_pass \"unix:%s\";\n"
                "    }\n"
                "    location = /_bench/c10 {\n"
                "        fastcgi_pass \"unix:%s\";\n"
                "    }\n"
                "    location ^~ /_bench/e/ {\n"
                "        fastcgi_pass \"unix:%s\";\n"
                "    }\n"
                "    location ^~ /_bench/e-ckpt/ {\n"
                "        fastcgi_pass \"unix:%s\";\n"
                "    }\n" % (self.fcgi_min_socket, self.fcgi_min_socket,
                           self.fcgi_min_socket, self.fcgi_c10_socket,
                           self.fcgi_e_socket, self.fcgi_e_ckpt_socket))
            with open(site, "w") as f:
                f.write(text[:-1] + extra + "}\n")

        def start_fcgi_min(self, binary, workers, wrapper=(), c10=False,
                           e=False, e_ckpt=False):
            """Starts fcgi-min on the socket /_bench/fcgi passes to (case
            B), with c10 on the one of /_bench/c10 (case C10: a query of
            the stack's database per request), with e on the one of
            /_bench/e/ (case E: booking writes to a database of its own,
            self.e_db), or with e_ckpt on the one of /_bench/e-ckpt/ (case
            E_ckpt: E plus parkd's checkpoint policy, on self.e_ckpt_db),
            and waits until it answers through nginx.  Returns its pid."""
            name, sock, extra = "fcgi-min", self.fcgi_min_socket, []
            probe = ("GET", "/_bench/fcgi", None, 200)
            if c10:
                name, sock = "fcgi-c10", self.fcgi_c10_socket
                extra = [os.path.join(self.dir, "parkd.db")]
                probe = ("GET", "/_bench/c10", None, 200)
            elif e:
                name, sock = "fcgi-e", self.fcgi_e_socket
                extra = ["--e", self.e_db]
                # A release by a user who never booked: 409 once the
                # database answers, and it writes nothing.
                probe = ("POST", "/_bench/e/release", "1", 409)
            elif e_ckpt:
                name, sock = "fcgi-e-ckpt", self.fcgi_e_ckpt_socket
                extra = ["--e-ckpt", self.e_ckpt_db]
                probe = ("POST", "/_bench/e-ckpt/release", "1", 409)
            self.spawn(name, list(wrapper) + [binary, sock, str(workers)] +
                       extra)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if api(self.port, probe[0], probe[1],
                           token=probe[2])[0] == probe[3]:
                        return self.procs[name].pid
                except OSError:
                    pass
                time.sleep(0.1)
            raise parktest.StackError("%s does not answer" % name)

        @property
        def e_db(self):
            """Case E's database (fcgi-min's own, not parkd's)."""
            return os.path.join(self.dir, "bench-e.db")

        @property
        def e_ckpt_db(self):
            """Case E_ckpt's database (fcgi-min's own, not E's)."""
            return os.path.join(self.dir, "bench-e-ckpt.db")

        def stop(self, failed=False):
            try:
                self.stop_process("fcgi-min")
                self.stop_process("fcgi-c10")
                self.stop_process("fcgi-e")
                self.stop_process("fcgi-e-ckpt")
            finally:
                super().stop(failed=failed)

    return BenchStack


# Settings every benchmark run uses (bench/run --set adds to them).
SETTINGS = {
    # The same workers from the first request to the last, so that their
    # memory can be followed.
    "PARKD_WORKER_MAX_REQUESTS": "0",
    # Only the seed hashes passwords: the cheapest cost allowed keeps it
    # short (login is not measured here).
    "PARKD_SCRYPT_N": "16384",
    "JWT_ACCESS_TOKEN_EXPIRES": "3600",
    # One active booking per user: book+release alternates exactly.
    "PARKD_MAX_ACTIVE_BOOKINGS": "1",
}


# ---- wrk --------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    return float(m.group(1)) * _UNITS[m.group(2)] if m else None


def run_wrk(url, threads, conns, duration, headers=(), script=None,
            env=None):
    """Runs wrk --latency; returns a dict of its figures and its output."""
    argv = ["wrk", "--latency", "-t%d" % threads, "-c%d" % conns,
            "-d%ds" % duration]
    for h in headers:
        argv += ["-H", h]
    if script:
        argv += ["-s", script]
    argv.append(url)
    r = subprocess.run(argv, capture_output=True, text=True,
                       timeout=duration + 60,
                       env=dict(os.environ, **(env or {})))
    out = r.stdout
    if r.returncode != 0:
        die("wrk failed (%d):\n%s%s" % (r.returncode, out, r.stderr))
    res = {"rps": None, "p50": None, "p75": None, "p90": None, "p99": None,
           "requests": 0, "non2xx": 0, "errors": 0, "out": out}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else 0.0
    for pct in ("50", "75", "90", "99"):
        m = re.search(r"^\s+%s%%\s+(\S+)" % pct, out, re.M)
        if m:
            res["p" + pct] = _ms(m.group(1))
    m = re.search(r"(\d+) requests in", out)
    res["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    res["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                  r"timeout (\d+)", out)
    if m:
        res["errors"] = sum(int(x) for x in m.groups())
    m = re.search(r"^BENCH (.*)$", out, re.M)
    if m:
        res["counts"] = {k: int(v) for k, v in
                         (kv.split("=") for kv in m.group(1).split())}
    return res


def seed(stack, nusers, parallel=4):
    """Creates NLOTS lots of SPOTS spots (as the admin) and nusers users
    (register + login, each from its own loopback address).  Returns
    (admin token, [lot ids], [user tokens])."""
    port = stack.port
    doc = must("admin login", *api(port, "POST", "/api/auth/login", {
        "username": stack.admin_email, "password": stack.admin_password},
        source="127.0.0.2"))
    admin = doc["data"]["access_token"]
    lots = []
    for i in range(NLOTS):
        doc = must("create lot", *api(port, "POST", "/api/admin/pkl/create", {
            "prime_location_name": "Bench Lot %02d" % (i + 1),
            "address": "%d Benchmark Road, Bengaluru" % (i + 1),
            "pin_code": "5600%02d" % (i + 1),
            "number_of_spots": SPOTS, "price": 25.50,
            "description": "seeded by bench/run",
            "operating_hours_start": "06:00",
            "operating_hours_end": "23:00"}, token=admin,
            source="127.0.0.2"))
        lots.append(doc["data"]["id"])

    tokens = [None] * nusers
    errors = []

    def hashing(path, body, src):
        # Register and login hash a password: past PARKD_HASH_CONCURRENCY
        # parkd answers 503 (Retry-After: 1), and a client retries.
        for _ in range(60):
            st, doc = api(port, "POST", path, body, source=src)
            if st != 503:
                break
            time.sleep(1)
        return st, doc

    def make_user(i):
        src = "127.0.%d.%d" % (1 + i // 250, 3 + i % 250)
        name = "bench_user_%03d" % i
        pw = "bench-password-%03d" % i
        try:
            st, doc = hashing("/api/auth/register", {
                "username": name, "email": name + "@bench.test",
                "password": pw}, src)
            if st != 200:
                raise RuntimeError("register %s: %s %s" % (name, st, doc))
            st, doc = hashing("/api/auth/login", {
                "username": name, "password": pw}, src)
            if st != 200:
                raise RuntimeError("login %s: %s %s" % (name, st, doc))
            tokens[i] = doc["data"]["access_token"]
        except Exception as e:
            errors.append(str(e))

    pending = list(range(nusers))
    while pending:
        batch, pending = pending[:parallel], pending[parallel:]
        ts = [threading.Thread(target=make_user, args=(i,)) for i in batch]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    if errors or not all(tokens):
        die("creating users failed: %s" % errors[:3])
    return admin, lots, tokens


# ---- CPU used by others -----------------------------------------------------
#
# The machine is shared (the load generator shares it by design; builds of
# other people may too).  These measure how much of the CPU went to
# processes that are not this benchmark's during a case, so that a run
# disturbed by them can be told apart from a slow parkd.

_TCK = os.sysconf("SC_CLK_TCK")

# Pids whose process trees count as this benchmark's besides its own
# descendants: servers that detach from it, e.g. bench/pg's PostgreSQL
# postmaster (pg_ctl daemonises it), whose CPU would otherwise count as
# other processes'.
EXTRA_ROOTS = []


def _proc_table():
    """{pid: (ppid, utime + stime in ticks, command name)} of every
    process."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        comm = stat[stat.find("(") + 1:stat.rfind(")")]
        try:
            table[int(name)] = (int(fields[1]),
                                int(fields[11]) + int(fields[12]), comm)
        except (IndexError, ValueError):
            continue
    return table


def cpu_sample():
    """(time, busy ticks of the machine, ticks of this process and all its
    descendants, waited-for ones included, {command name: ticks} of those
    descendants, the waited-for ones under "wrk": the only program a case
    runs and waits for)."""
    import resource
    with open("/proc/stat") as f:
        parts = f.readline().split()
    busy = int(parts[1]) + int(parts[2]) + int(parts[3])
    table = _proc_table()
    kids = {}
    for pid, (ppid, _, _) in table.items():
        kids.setdefault(ppid, []).append(pid)
    ours, todo, groups = 0, [os.getpid()] + list(EXTRA_ROOTS), {}
    while todo:
        pid = todo.pop()
        if pid in table:
            ours += table[pid][1]
            comm = table[pid][2]
            groups[comm] = groups.get(comm, 0) + table[pid][1]
        todo.extend(kids.get(pid, ()))
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    waited = int((ru.ru_utime + ru.ru_stime) * _TCK)
    groups["wrk"] = groups.get("wrk", 0) + waited
    return time.monotonic(), busy, ours + waited, groups


def foreign_cpu(a, b):
    """Percent of the machine's CPU time (all CPUs) used between samples a
    and b by processes other than this benchmark's."""
    dt = b[0] - a[0]
    if dt <= 0:
        return 0.0
    other = (b[1] - a[1]) - (b[2] - a[2])
    ncpu = len(os.sched_getaffinity(0))
    return max(0.0, 100.0 * other / (dt * _TCK * ncpu))


def cpu_per_request(a, b, requests):
    """Microseconds of CPU per request between samples a and b, by program
    of this benchmark (parkd, nginx, wrk, fcgi-min, redis-server) and in
    all ("total").  Unlike req/s, this hardly depends on what other
    processes do meanwhile."""
    if requests <= 0:
        return {}
    out, total = {}, 0
    for comm in set(a[3]) | set(b[3]):
        d = b[3].get(comm, 0) - a[3].get(comm, 0)
        if d > 0:
            out[comm] = 1e6 * d / _TCK / requests
            total += d
    out["total"] = 1e6 * total / _TCK / requests
    return out


def wait_quiet(limit_s, threshold=10.0):
    """Waits up to limit_s seconds for a second in which other processes
    use less than threshold percent of the machine.  Returns the last
    figure."""
    deadline = time.monotonic() + limit_s
    warned = False
    while True:
        a = cpu_sample()
        time.sleep(1)
        pct = foreign_cpu(a, cpu_sample())
        if pct < threshold or time.monotonic() >= deadline:
            return pct
        if not warned:
            say("other processes use %.0f%% of the CPU: waiting up to %d s "
                "for a quiet machine" % (pct, limit_s))
            warned = True
