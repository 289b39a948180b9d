"""parktest: the harness of parkd's end-to-end tests (t/5*.t).

Two parts, Python standard library only:

* TAP helpers: ok(), is_(), like(), skip(), diag(), done(), and run(main),
  which runs a test's main function, turns an uncaught exception into a
  failed test point, and prints the plan at the end.

* Stack: a private Redis, parkd and nginx in a temporary directory (Redis
  on a unix socket there, nginx on a free port of 127.0.0.1), configured the way dev/run configures them (the nginx
  configuration comes from the same dev/nginx-conf.sh).  Use it as a context
  manager; everything it started is stopped on the way out, also on an
  exception, SIGTERM, SIGINT, or the test's time limit.

    with parktest.Stack(workers=2) as s:
        r = s.req("GET", "/api/health")
        parktest.is_(r.status, 200, "health answers")

Environment (exported by "make check"; defaults for a run by hand from an
in-tree build):
  abs_top_builddir   where parkd and parkctl were built
  abs_top_srcdir     the source tree (nginx/, dev/)
  NGINX              the nginx binary (default: nginx from PATH, /usr/sbin/nginx)
  REDIS_SERVER       the redis-server binary (default: from PATH)
  PARKTEST_KEEP=1    keep the temporary directory even when all passed
  PARKTEST_TIMEOUT   seconds a test file may run (default 300)
  PARKTEST_WRAPPER   a command put before parkd, e.g. "strace -f"
  PARKTEST_VALGRIND=1  run parkd (supervisor and workers) under valgrind's
                     memcheck; when the stack stops, one more test point
                     says whether valgrind saw a memory error or a definite
                     leak (dev/check's valgrind step)
"""

import atexit
import collections
import ctypes
import http.client
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

# ---- TAP -------------------------------------------------------------------

_count = 0
_failed = 0
_done = False


def _out(line):
    """Prints one line of TAP output at once (tests may use threads)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def diag(*lines):
    """Prints diagnostic lines (# ...), each line of each argument."""
    for text in lines:
        for line in str(text).splitlines() or [""]:
            _out("# " + line)


def _where():
    """The file and line of the test code that called a TAP helper."""
    frame = sys._getframe(1)
    here = frame.f_code.co_filename
    while frame is not None and frame.f_code.co_filename == here:
        frame = frame.f_back
    if frame is None:
        return "?"
    return "%s line %d" % (os.path.basename(frame.f_code.co_filename),
                           frame.f_lineno)


def ok(cond, name, *why):
    """Records one test point; on failure prints why (lines) and where.
    Returns bool(cond) so that a test can stop what depends on it."""
    global _count, _failed
    _count += 1
    name = name.replace("#", "\\#").replace("\n", " ")
    if cond:
        _out("ok %d - %s" % (_count, name))
        return True
    _failed += 1
    _out("not ok %d - %s" % (_count, name))
    diag("  at " + _where(), *why)
    return False


def is_(got, want, name):
    """ok(got == want), showing both when they differ."""
    return ok(got == want, name, "  got:  %r" % (got,), "  want: %r" % (want,))


def isnt(got, unwanted, name):
    """ok(got != unwanted)."""
    return ok(got != unwanted, name, "  got %r, which it must not be" % (got,))


def like(got, pattern, name):
    """ok when the text got matches the regular expression pattern."""
    text = got if isinstance(got, str) else repr(got)
    return ok(got is not None and re.search(pattern, text) is not None, name,
              "  got:  %r" % (text[:500],), "  want a match of: %r" % pattern)


def skip(name, reason):
    """Records one skipped test point."""
    global _count
    _count += 1
    _out("ok %d - %s # SKIP %s" % (_count, name.replace("#", "\\#"), reason))


def failures():
    """The number of failed test points so far."""
    return _failed


def bail_out(reason):
    """Stops the whole test file at once (TAP "Bail out!")."""
    _out("Bail out! " + reason.replace("\n", " "))
    sys.exit(255)


def done():
    """Prints the plan and exits: 0 when every test point passed."""
    global _done
    _done = True
    _out("1..%d" % _count)
    sys.exit(1 if _failed else 0)


class TimeLimit(Exception):
    """Raised in the main thread when the test file ran out of time."""


def _on_alarm(signum, frame):
    raise TimeLimit("the test ran longer than PARKTEST_TIMEOUT (%s s)"
                    % os.environ.get("PARKTEST_TIMEOUT", "300"))


def _on_term(signum, frame):
    # SystemExit unwinds the with-blocks, which stop the stacks.
    raise SystemExit(128 + signum)


def run(main):
    """Runs main() under the time limit, reports an uncaught exception as a
    failed test point with its traceback, then calls done()."""
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGHUP, _on_term)
    signal.alarm(int(os.environ.get("PARKTEST_TIMEOUT", "300")))
    try:
        main()
    except SystemExit:
        raise
    except BaseException as e:  # KeyboardInterrupt too: report, then stop
        ok(False, "the test ran to its end without an exception",
           *traceback.format_exception(type(e), e, e.__traceback__))
    finally:
        signal.alarm(0)
    done()


# ---- paths -----------------------------------------------------------------

_HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("abs_top_srcdir") or os.path.dirname(
    os.path.dirname(_HERE))
BUILDDIR = os.environ.get("abs_top_builddir") or SRCDIR


def _which(env, name, fallback):
    return os.environ.get(env) or shutil.which(name) or fallback


NGINX = _which("NGINX", "nginx", "/usr/sbin/nginx")
REDIS_SERVER = _which("REDIS_SERVER", "redis-server", "/usr/bin/redis-server")
PARKD = os.path.join(BUILDDIR, "parkd")
# Under valgrind parkd is some 20 times slower: waits stretch with it.
VALGRIND = os.environ.get("PARKTEST_VALGRIND") == "1"
SLOW = 6 if VALGRIND else 1
PARKCTL = os.path.join(BUILDDIR, "parkctl")


# ---- a private PostgreSQL cluster (dev/lib.sh, issue #17) ----------------

PG_BIN = os.environ.get("PARKD_PG_BIN", "/usr/lib/postgresql/15/bin")
DEV_LIB = os.path.join(SRCDIR, "dev", "lib.sh")


def pg_have():
    """True when the PostgreSQL server binaries are installed."""
    return all(os.access(os.path.join(PG_BIN, b), os.X_OK)
               for b in ("initdb", "pg_ctl", "postgres", "psql"))


def pg_lib(*words, db="parkd"):
    """Runs dev/lib.sh's function words[0] (pg_start, pg_stop, pg_migrate,
    pg_url...) with its arguments; returns the CompletedProcess."""
    env = dict(os.environ, PARKD_PG_DB=db)
    return subprocess.run(
        ["bash", "-c", 'set -euo pipefail; . "$1"; shift; "$@"', "-",
         DEV_LIB] + list(words), env=env, capture_output=True, text=True,
        timeout=300)


def pg_url(d, role="parkd", db="parkd"):
    """The DATABASE_URL of the cluster under d for role (dev/lib.sh
    pg_url)."""
    r = pg_lib("pg_url", d, role, db=db)
    if r.returncode != 0:
        raise RuntimeError("pg_url: " + r.stderr)
    return r.stdout.strip()


def use_pg():
    """True when the end-to-end tests run parkd on PostgreSQL
    (PARKD_DB=postgresql)."""
    return os.environ.get("PARKD_DB", "sqlite") == "postgresql"


_pg_dir = None


def _pg_cluster_stop():
    """Stops the cluster of pg_database() (at exit)."""
    global _pg_dir
    if _pg_dir is None:
        return
    pg_lib("pg_stop", _pg_dir)
    if os.environ.get("PARKTEST_KEEP") != "1" and _failed == 0:
        shutil.rmtree(_pg_dir, ignore_errors=True)
    _pg_dir = None


def pg_database():
    """With PARKD_DB=postgresql: a new database, migrated (sql/pg), on the
    private cluster of this test run (pg_start under /tmp the first time,
    pg_stop at exit); returns the DATABASE_URL for the DML role parkd
    runs as."""
    global _pg_dir
    if not pg_have():
        raise RuntimeError("PARKD_DB=postgresql: no PostgreSQL server "
                           "binaries in " + PG_BIN)
    if _pg_dir is None:
        # Under /tmp: as root the cluster runs as another user, who must
        # reach the directory, and a socket path is short.
        _pg_dir = tempfile.mkdtemp(prefix="parktest-pg-", dir="/tmp")
        atexit.register(_pg_cluster_stop)
    db = "t" + secrets.token_hex(6)
    for step in ("pg_start", "pg_migrate"):
        r = pg_lib(step, _pg_dir, db=db)
        if r.returncode != 0:
            raise RuntimeError("%s: %s" % (step, r.stderr))
    return pg_url(_pg_dir, "parkd", db)


def pg_server_log():
    """The text of the log of this test run's PostgreSQL cluster (what
    the server itself said: a client gone inside a transaction, a lock
    wait cancelled...); "" when no cluster was started."""
    if _pg_dir is None:
        return ""
    try:
        with open(os.path.join(_pg_dir, "postgresql.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


_ports_given = set()


def free_port():
    """A TCP port of 127.0.0.1 that nothing listens on right now, and that
    this process has not handed out before (the kernel may offer a port
    again before the first taker binds it: nginx and Redis once got the
    same one)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _ports_given:
            _ports_given.add(port)
            return port


def tail(path, lines=30):
    """The last lines of a text file, or a note that it is missing."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            text = f.read().decode("utf-8", "replace")
    except OSError as e:
        return "(%s)" % e
    return "\n".join(text.splitlines()[-lines:])


def proc_children(ppid):
    """The pids of the live (not zombie) children of process ppid, read from
    /proc/*/stat."""
    kids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == ppid and fields[0] not in "ZX":
            kids.append(int(name))
    return sorted(kids)


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:][:1] not in "ZX"


# A child started by the harness gets SIGTERM if the test process dies
# without cleaning up (e.g. SIGKILL), so nothing outlives a test run.  The
# function is looked up before any fork.
try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):
    _prctl = None


def _child_setup():
    if _prctl is not None:
        _prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG


# ---- HTTP ------------------------------------------------------------------

_ResponseBase = collections.namedtuple("Response", "status headers body json")


class Response(_ResponseBase):
    """What req() returns: (status, headers, body, json).

    headers has lower-case names; a header sent twice is joined with ", ".
    header_list keeps every (name, value) pair as received."""

    def count(self, name):
        """How many times the header name (any case) was sent."""
        name = name.lower()
        return sum(1 for n, _ in self.header_list if n.lower() == name)

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")


def _response(r):
    body = r.read()
    pairs = r.getheaders()
    headers = {}
    for name, value in pairs:
        key = name.lower()
        headers[key] = headers[key] + ", " + value if key in headers else value
    parsed = None
    if body and "json" in headers.get("content-type", ""):
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
    resp = Response(r.status, headers, body, parsed)
    resp.header_list = pairs
    return resp


def http_request(port, method, path, body=None, headers=None, raw=None,
                 timeout=10, source=None):
    timeout *= SLOW
    """One HTTP/1.1 request to 127.0.0.1:port on a fresh connection.

    body: bytes as they are, str as UTF-8, anything else as JSON (with
    Content-Type: application/json unless headers give one).  headers: a
    dict; Accept defaults to application/json.  raw: the whole request as
    bytes, sent as they are (method, path, body and headers are then only
    used to know whether a body comes back: give method="HEAD" for a raw
    HEAD).  source: the local address to connect from (e.g. "127.0.0.2",
    which nginx does not trust: its login rate limit applies).  Returns a
    Response."""
    src = (source, 0) if source else None
    if raw is not None:
        with socket.create_connection(("127.0.0.1", port), timeout,
                                      source_address=src) as sock:
            sock.sendall(raw)
            r = http.client.HTTPResponse(sock, method=method)
            r.begin()
            return _response(r)
    hdrs = {"Accept": "application/json"}
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
        hdrs["Content-Type"] = "application/json"
    if isinstance(body, str):
        body = body.encode("utf-8")
    hdrs.update(headers or {})
    hdrs = {k: v for k, v in hdrs.items() if v is not None}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                      source_address=src)
    try:
        try:
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
        except (BrokenPipeError, ConnectionResetError):
            # nginx may answer (413) and close before it read all we send;
            # its answer is still there to read.
            if conn.sock is None:
                raise
            r = http.client.HTTPResponse(conn.sock, method=method)
            r.begin()
        return _response(r)
    finally:
        conn.close()


# ---- Redis, spoken directly ----------------------------------------------------


def _resp_read(f):
    line = f.readline()
    if not line:
        raise OSError("redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RuntimeError("redis: " + rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_resp_read(f) for _ in range(n)]
    raise RuntimeError("redis: unexpected reply %r" % line)


def _resp_cmd(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def redis_command(where, *args, password=None, db=0, timeout=2):
    """Sends one command to the Redis at where (a port of 127.0.0.1, or a
    unix socket's path), after AUTH password when one is given and SELECT
    db when it is not 0; returns the reply (str, int, bytes, list or None).
    Raises OSError when Redis is down, RuntimeError on an error reply."""
    if isinstance(where, str):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(where)
        except BaseException:
            s.close()
            raise
    else:
        s = socket.create_connection(("127.0.0.1", where), timeout)
    first = []
    if password is not None:
        first.append(["AUTH", password])
    if db:
        first.append(["SELECT", db])
    with s:
        s.sendall(b"".join(_resp_cmd(c) for c in first + [args]))
        with s.makefile("rb") as f:
            for _ in first:
                _resp_read(f)
            return _resp_read(f)


# ---- the stack ---------------------------------------------------------------


class StackError(Exception):
    """The stack could not be started.  Stack.stop() then prints the ends
    of the logs."""


def settings_text(settings):
    """A settings dict as a KEY=value file."""
    lines = ["# written by t/lib/parktest.py"]
    for key, value in settings.items():
        if "\n" in str(value):
            raise ValueError("a setting cannot hold a newline: " + key)
        lines.append("%s=%s" % (key, value))
    return "\n".join(lines) + "\n"


class Stack:
    """A private Redis (optional), parkd and nginx.

    redis      the Redis of the cache, as production runs it: True (or
               "unix") on a unix socket of the directory, mode 0700
               (REDIS_CACHE_URL=unix://DIR/redis.sock); "tcp" on a port of
               127.0.0.1 with requirepass, database 1
               (redis://:PASSWORD@127.0.0.1:PORT/1); False: none
               (REDIS_CACHE_URL empty)
    workers    PARKD_WORKERS
    settings   extra settings (dict) written into the settings file; a value
               of None leaves the key out
    env        extra environment for parkd (e.g. NOTIFY_SOCKET)
    socket_activation
               hand parkd its listening socket as fd 3 (LISTEN_FDS=1,
               LISTEN_PID), the way systemd's parkd.socket does; PARKD_SOCKET
               then names a path parkd must not use
    services   False: only the directory and the settings (for running
               parkd by hand with run_parkd())

    Attributes: dir, port (nginx), redis_port and redis_password (TCP),
    redis_socket (unix), socket_path, settings_path, settings (dict),
    admin_email, admin_password, parkd_pid.  redis_cmd() talks to the
    stack's Redis."""

    def __init__(self, redis=True, workers=2, settings=None, env=None,
                 socket_activation=False, services=True):
        if redis not in (True, False, "unix", "tcp"):
            raise ValueError("redis: True, False, \"unix\" or \"tcp\"")
        self.use_redis = bool(redis)
        self.redis_mode = ("tcp" if redis == "tcp" else "unix") if redis \
            else None
        self.workers = workers
        self.extra_settings = dict(settings or {})
        self.extra_env = dict(env or {})
        self.socket_activation = socket_activation
        self.services = services
        self.dir = None
        self.procs = {}  # name -> Popen
        self.port = None
        self.redis_port = None
        self.redis_socket = None
        self.redis_password = None
        self.listen_sock = None
        self._failed_before = 0
        self._nvariant = 0

    # -- context manager --

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop(failed=True)
            raise
        return self

    def __exit__(self, etype, e, tb):
        self.stop(failed=etype is not None and etype is not SystemExit)
        return False

    # -- starting --

    def start(self):
        """Creates the directory and settings, then (with services) starts
        Redis, creates the database, starts parkd and nginx, and waits until
        GET /api/health answers 200 through nginx."""
        self._failed_before = _failed
        for path in (PARKD, PARKCTL):
            if not os.access(path, os.X_OK):
                raise StackError("%s is not built (run make)" % path)
        base = tempfile.gettempdir()
        if len(base) > 40:  # unix socket paths must stay short
            base = "/tmp"
        self.dir = tempfile.mkdtemp(prefix="parktest-", dir=base)
        for sub in ("www", "exports", "mail", "logs"):
            os.mkdir(os.path.join(self.dir, sub))
        with open(os.path.join(self.dir, "www", "index.html"), "w") as f:
            f.write("<!DOCTYPE html><html><head><title>parktest</title>"
                    "</head><body>parktest static index</body></html>\n")
        self.socket_path = os.path.join(self.dir, "parkd.sock")
        self.port = free_port()
        redis_url = ""
        if self.redis_mode == "tcp":
            self.redis_port = free_port()
            # Characters a URL must escape, or may not: parkd decodes it.
            self.redis_password = "pw/%s%%@:%s" % (secrets.token_hex(8),
                                                  secrets.token_hex(8))
            redis_url = "redis://:%s@127.0.0.1:%d/1" % (
                self.redis_password.replace("%", "%25").replace("/", "%2F"),
                self.redis_port)
        elif self.redis_mode == "unix":
            self.redis_socket = os.path.join(self.dir, "redis.sock")
            redis_url = "unix://%s?db=0" % self.redis_socket
        self.admin_email = "admin@parkd.test"
        self.admin_password = secrets.token_urlsafe(16)
        self.settings = {
            "JWT_SECRET_KEY": secrets.token_hex(32),
            "SECRET_KEY": secrets.token_hex(32),
            "ADMIN_EMAIL": self.admin_email,
            "ADMIN_PASSWORD": self.admin_password,
            "DATABASE_URL": pg_database() if use_pg() else
            "sqlite:///" + os.path.join(self.dir, "parkd.db"),
            "REDIS_CACHE_URL": redis_url,
            "PARKD_SOCKET": self.socket_path,
            "PARKD_SOCKET_MODE": "0660",
            "PARKD_SOCKET_GROUP": "",
            "PARKD_WORKERS": str(self.workers),
            "PARKD_MAIL_DIR": os.path.join(self.dir, "mail"),
            "EXPORT_FOLDER": os.path.join(self.dir, "exports"),
            "BACKEND_URL": "http://127.0.0.1:%d" % self.port,
            "MAIL_SERVER": "",
        }
        if VALGRIND:
            # Under memcheck a policy-strength hash takes minutes: tests
            # that need the policy set it themselves.
            self.settings["PARKD_SCRYPT_N"] = "16384"
        self.settings.update(self.extra_settings)
        self.settings = {k: v for k, v in self.settings.items()
                         if v is not None}
        self.settings_path = os.path.join(self.dir, "parkd.env")
        self.write_settings()
        if not self.services:
            return
        if self.use_redis:
            self.start_redis()
        out = self.parkctl("db", "init")
        if out.returncode != 0:
            raise StackError("parkctl db init exited %d:\n%s%s" % (
                out.returncode, out.stdout, out.stderr))
        self.start_parkd()
        self.start_nginx()
        self.wait_healthy()

    def write_settings(self, **changes):
        """Applies changes (None removes a key) and rewrites the settings
        file, e.g. before a SIGHUP."""
        for key, value in changes.items():
            if value is None:
                self.settings.pop(key, None)
            else:
                self.settings[key] = str(value)
        tmp = self.settings_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(settings_text(self.settings))
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.settings_path)

    def env(self, extra=None):
        """The environment parkd and parkctl run with: no setting from the
        caller's environment, so the settings file is the only source."""
        keep = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")
        env = {k: v for k, v in os.environ.items()
               if k in keep or k.startswith(("ASAN_", "UBSAN_", "LSAN_",
                                             "MSAN_", "VALGRIND"))}
        env.update(self.extra_env)
        env.update(extra or {})
        return env

    def _log_path(self, name):
        return os.path.join(self.dir, "logs", name + ".log")

    def spawn(self, name, argv, env=None, pass_fds=()):
        """Starts a process whose output goes to logs/NAME.log."""
        log = open(self._log_path(name), "ab")
        try:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=subprocess.STDOUT, env=env,
                                 cwd=self.dir, pass_fds=pass_fds,
                                 preexec_fn=_child_setup)
        finally:
            log.close()
        self.procs[name] = p
        return p

    def parkctl(self, *args, timeout=60):
        """Runs parkctl -c SETTINGS ARGS...; returns the CompletedProcess
        (text stdout and stderr)."""
        return subprocess.run([PARKCTL, "-c", self.settings_path] + list(args),
                              env=self.env(), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def start_redis(self):
        """Starts Redis without persistence and waits until it answers: on
        a unix socket of mode 0700 and no port, or on 127.0.0.1 with a
        password (see redis in the class's comment)."""
        argv = [REDIS_SERVER, "--save", "", "--appendonly", "no",
                "--dir", self.dir, "--daemonize", "no", "--logfile", "",
                "--protected-mode", "yes"]
        if self.redis_mode == "tcp":
            argv += ["--port", str(self.redis_port), "--bind", "127.0.0.1",
                     "--requirepass", self.redis_password]
        else:
            argv += ["--port", "0", "--unixsocket", self.redis_socket,
                     "--unixsocketperm", "700"]
        self.spawn("redis", argv)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.procs["redis"].poll() is not None:
                break
            try:
                if self.redis_cmd("PING", timeout=1) == "PONG":
                    return
            except (OSError, RuntimeError):
                pass
            time.sleep(0.05)
        raise StackError("redis-server did not answer (see the stack's logs)")

    def redis_cmd(self, *args, timeout=2):
        """One command to the stack's Redis, in parkd's database (after
        AUTH when it has a password): see redis_command()."""
        if self.redis_mode == "tcp":
            return redis_command(self.redis_port, *args,
                                 password=self.redis_password, db=1,
                                 timeout=timeout)
        return redis_command(self.redis_socket, *args, timeout=timeout)

    def parkd_argv(self, *args, config=None):
        """The command line of parkd (with PARKTEST_WRAPPER in front)."""
        wrapper = shlex.split(os.environ.get("PARKTEST_WRAPPER", ""))
        if VALGRIND and self.dir:
            vdir = os.path.join(self.dir, "valgrind")
            os.makedirs(vdir, exist_ok=True)
            # Quiet: a log stays empty unless there is something to say.
            wrapper = ["valgrind", "--quiet", "--leak-check=full",
                       "--show-leak-kinds=definite",
                       "--errors-for-leak-kinds=definite",
                       "--log-file=" + os.path.join(vdir, "vg.%p.log")
                       ] + wrapper
        return wrapper + [PARKD, "-c", config or self.settings_path] + list(args)

    def start_parkd(self):
        """Starts the parkd supervisor (not waiting for it)."""
        argv = self.parkd_argv()
        env = self.env()
        pass_fds = ()
        if self.socket_activation:
            if self.listen_sock is None:
                self.activation_path = os.path.join(self.dir, "activated.sock")
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.bind(self.activation_path)
                os.chmod(self.activation_path, 0o660)
                s.listen(128)
                self.listen_sock = s
            fd = self.listen_sock.fileno()
            pass_fds = (fd,)
            env["LISTEN_FDS"] = "1"
            env["LISTEN_FDNAMES"] = "parkd.socket"
            # LISTEN_PID must be parkd's own pid: the shell sets it to its
            # pid, moves the socket to fd 3 and becomes parkd with exec.
            move = "" if fd == 3 else " 3<&%d %d<&-" % (fd, fd)
            argv = ["/bin/sh", "-c",
                    'LISTEN_PID=$$; export LISTEN_PID; '
                    'eval "exec \\"\\$@\\"%s"' % move,
                    "parkd"] + argv
        self.spawn("parkd", argv, env=env, pass_fds=pass_fds)

    @property
    def parkd_pid(self):
        """The supervisor's pid."""
        return self.procs["parkd"].pid

    @property
    def fcgi_socket(self):
        """The socket nginx connects to."""
        if self.socket_activation:
            return self.activation_path
        return self.socket_path

    def start_nginx(self):
        """Writes nginx's configuration with dev/nginx-conf.sh and starts
        nginx; on a lost race for the port, tries other ports."""
        ngdir = os.path.join(self.dir, "nginx")
        for attempt in range(3):
            if attempt:
                self.port = free_port()
            out = subprocess.run(
                ["bash", os.path.join(SRCDIR, "dev", "nginx-conf.sh"),
                 "--prefix", ngdir, "--listen", "127.0.0.1:%d" % self.port,
                 "--socket", self.fcgi_socket,
                 "--webroot", os.path.join(self.dir, "www"),
                 "--exportdir", os.path.join(self.dir, "exports")],
                capture_output=True, text=True,
                env=dict(os.environ, NGINX=NGINX))
            if out.returncode != 0:
                raise StackError("dev/nginx-conf.sh failed:\n" + out.stderr)
            # nginx reads $NGINX as sockets inherited from an old binary
            # (its live upgrade): never hand it ours.
            ngenv = {k: v for k, v in os.environ.items() if k != "NGINX"}
            p = self.spawn("nginx", [
                NGINX, "-p", ngdir, "-c", os.path.join(ngdir, "nginx.conf"),
                "-e", os.path.join(ngdir, "logs", "nginx-error.log")],
                env=ngenv)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and p.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", self.port), 1).close()
                    return
                except OSError:
                    time.sleep(0.05)
            if p.poll() is None:
                break
            if "in use" not in tail(os.path.join(ngdir, "logs",
                                                 "nginx-error.log")):
                break
        raise StackError("nginx did not start (see the stack's logs)")

    def wait_healthy(self, timeout=10):
        """Waits until GET /api/health answers 200 through nginx."""
        deadline = time.monotonic() + timeout * SLOW
        last = None
        while time.monotonic() < deadline:
            if self.procs["parkd"].poll() is not None:
                raise StackError("parkd exited with status %d (its log is "
                                 "printed above)" % self.procs["parkd"].returncode)
            try:
                r = self.req("GET", "/api/health", timeout=2)
                last = "%d %s" % (r.status, r.body[:300])
                if r.status == 200:
                    return
            except OSError as e:
                last = str(e)
            time.sleep(0.1)
        raise StackError("GET /api/health did not answer 200 within %d s "
                         "(last: %s; see the stack's logs)" % (timeout, last))

    # -- using it --

    def req(self, method, path, body=None, headers=None, raw=None, timeout=10,
            source=None):
        """An HTTP request through nginx: see http_request().  Returns a
        Response, which unpacks as (status, headers, body, json).  nginx
        trusts 127.0.0.1 (exempt from the login rate limit); give source
        "127.0.0.2" to be an ordinary client."""
        return http_request(self.port, method, path, body=body,
                            headers=headers, raw=raw, timeout=timeout,
                            source=source)

    def worker_pids(self):
        """The pids of parkd's live worker processes."""
        return proc_children(self.parkd_pid)

    def wait_workers(self, n, timeout=5.0, not_in=()):
        """Polls until parkd has n workers, none of them in not_in.  Returns
        (pids, seconds waited); pids is None on timeout."""
        t0 = time.monotonic()
        while True:
            pids = self.worker_pids()
            if len(pids) == n and not set(pids) & set(not_in):
                return pids, time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                return None, time.monotonic() - t0
            time.sleep(0.01)

    def log(self):
        """Everything parkd wrote to stderr so far."""
        with open(self._log_path("parkd"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def access_log(self):
        """nginx's access log so far (format "parkd", with rid=<id>)."""
        path = os.path.join(self.dir, "nginx", "logs", "nginx-access.log")
        try:
            with open(path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def signal_parkd(self, sig):
        """Sends a signal to the supervisor."""
        os.kill(self.parkd_pid, sig)

    def wait_parkd(self, timeout=10):
        """Waits for the supervisor to exit; its status, or None if it is
        still running after timeout seconds."""
        try:
            return self.procs["parkd"].wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill_redis(self):
        """Stops Redis at once (SIGKILL), as a crash would."""
        p = self.procs.get("redis")
        if p and p.poll() is None:
            p.kill()
            p.wait()

    def run_parkd(self, *args, settings=None, env=None, timeout=15):
        """Runs parkd in the foreground with a variant of the settings
        (settings: changes, None removes a key) and returns the
        CompletedProcess (text stdout, stderr).  For -t, -V, and settings
        that parkd must refuse; a parkd that starts serving is stopped at
        the timeout (and the result then has returncode None)."""
        variant = dict(self.settings)
        for key, value in (settings or {}).items():
            if value is None:
                variant.pop(key, None)
            else:
                variant[key] = str(value)
        self._nvariant += 1
        path = os.path.join(self.dir, "variant-%d.env" % self._nvariant)
        with open(path, "w") as f:
            f.write(settings_text(variant))
        argv = self.parkd_argv(*args, config=path)
        p = subprocess.Popen(argv, env=self.env(env), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, cwd=self.dir, preexec_fn=_child_setup)
        try:
            out, err = p.communicate(timeout=timeout)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            kids = proc_children(p.pid)
            p.kill()
            out, err = p.communicate()
            for pid in kids:
                _kill_quietly(pid, signal.SIGKILL)
            rc = None
        return subprocess.CompletedProcess(argv, rc, out, err)

    # -- stopping --

    def logs_tail(self, lines=30):
        """The ends of every log of the stack, for diagnostics."""
        if not self.dir:
            return ""
        parts = []
        names = ["parkd", "nginx", "redis"]
        for name in names:
            path = self._log_path(name)
            if os.path.exists(path):
                parts.append("---- %s\n%s" % (path, tail(path, lines)))
        err = os.path.join(self.dir, "nginx", "logs", "nginx-error.log")
        if os.path.exists(err):
            parts.append("---- %s\n%s" % (err, tail(err, lines)))
        return "\n".join(parts)

    def stop_process(self, name, sig=signal.SIGTERM, timeout=10):
        """Stops one process: sig, then SIGKILL after timeout seconds."""
        p = self.procs.get(name)
        if p is None or p.poll() is not None:
            return
        kids = proc_children(p.pid) if name == "parkd" else []
        try:
            p.send_signal(sig)
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            diag("%s did not stop within %d s: killing it" % (name, timeout))
            p.kill()
            p.wait()
        for pid in kids:  # workers left behind by a killed supervisor
            _kill_quietly(pid, signal.SIGKILL)

    def _check_valgrind(self):
        """With PARKTEST_VALGRIND=1: one test point, no valgrind report in
        any parkd process (memory errors, definite leaks)."""
        vdir = os.path.join(self.dir, "valgrind")
        if not os.path.isdir(vdir):
            return
        reports = []
        for name in sorted(os.listdir(vdir)):
            with open(os.path.join(vdir, name), errors="replace") as f:
                text = f.read().strip()
            if text:
                reports.append("%s:\n%s" % (name, text[-4000:]))
        ok(not reports, "valgrind: no memory error or definite leak in %d "
           "parkd processes" % len(os.listdir(vdir)), *reports)

    def stop(self, failed=False):
        """Stops nginx, parkd and Redis; removes the directory unless
        something failed (then shows the logs' ends) or PARKTEST_KEEP=1."""
        for name in ("nginx", "parkd", "redis"):
            try:
                self.stop_process(name)
            except Exception as e:  # keep stopping the others
                diag("stopping %s: %s" % (name, e))
        if self.listen_sock is not None:
            self.listen_sock.close()
            self.listen_sock = None
        if self.dir is None:
            return
        self._check_valgrind()
        failed = failed or _failed > self._failed_before
        if failed:
            diag("the stack's logs (directory kept: %s):" % self.dir,
                 self.logs_tail())
        elif os.environ.get("PARKTEST_KEEP"):
            diag("directory kept: " + self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None


def _kill_quietly(pid, sig):
    try:
        os.kill(pid, sig)
    except OSError:
        pass


# ---- load while something happens ---------------------------------------------


class RequestLoop:
    """Sends requests to the stack from a background thread, one after
    another on fresh connections, until stop(); records each outcome.

        with RequestLoop(stack) as loop:
            ...kill a worker...
        loop.results  # [(monotonic time, status or exception text)]"""

    def __init__(self, stack, method="GET", path="/api/health", pause=0.0):
        self.stack = stack
        self.method = method
        self.path = path
        self.pause = pause
        self.results = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                r = self.stack.req(self.method, self.path, timeout=10)
                outcome = r.status
            except Exception as e:  # recorded, not raised: counted later
                outcome = "%s: %s" % (type(e).__name__, e)
            self.results.append((time.monotonic(), outcome))
            if self.pause:
                time.sleep(self.pause)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def stop(self):
        """Stops the thread and waits for its last request."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(15)

    def failures(self, since=None):
        """The outcomes other than 200 (after time since, if given)."""
        return [o for t, o in self.results
                if o != 200 and (since is None or t >= since)]
