#!/usr/bin/env python3
"""65-socket.t: the FastCGI socket and what a peer on it can do
(reliability.md row 15 and finding F1).

t/51-server.t checks the socket's mode (0660) without a group and that a
SIGKILLed worker is replaced; this file goes further:

* With PARKD_SOCKET_GROUP set, the socket belongs to parkd's user and that
  group, mode 0660; parkd refuses a mode that lets others write.
* Another user (nobody, no groups) cannot connect: EACCES from the socket
  itself (the directories on the way are opened up, so that the refusal is
  the socket's); the same user in the socket's group (the web server's)
  connects and is answered.  Needs root to switch users, else skipped.
* A privileged peer sends the PARAMS record of F1 (nameLen = valueLen =
  0x40000000): Debian's libfcgi 2.4.2-2+deb12u1 aborts the worker reading
  it.  It costs at most that one worker, which the supervisor replaces
  within 1 s, while requests through nginx keep succeeding.  (Should a
  fixed libfcgi refuse the record instead, no worker dies and the test
  still passes, saying so.)
* Malformed FastCGI streams (random bytes, bad versions and types, lying
  lengths, an unknown role, a body shorter than its CONTENT_LENGTH) do not
  take down the supervisor, and parkd keeps serving through nginx.
* A peer that stalls in the middle of a record holds one worker (libfcgi
  has no read timeout: the socket's permissions are the defence), the
  others go on serving, and the worker is free again when the peer goes.
* A worker closes the connection as soon as it has answered a request it
  read to its end (libfcgi's lingering close waited for the peer to close
  first); it still lingers after a 413 whose body it left unread.
"""

import grp
import os
import pwd
import random
import signal
import socket
import stat
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import parktest as T  # noqa: E402
from parktest import diag, is_, like, ok, skip  # noqa: E402

SLOW = getattr(T, "SLOW", 1)
WORKERS = 3

# ---- FastCGI records --------------------------------------------------------

BEGIN, ABORT, END, PARAMS, STDIN = 1, 2, 3, 4, 5
RESPONDER, AUTHORIZER = 1, 2


def record(kind, content=b"", rid=1, version=1, length=None, pad=0):
    """One record; length lies about the content when given."""
    n = len(content) if length is None else length
    return struct.pack(">BBHHBB", version, kind, rid, n, pad, 0) + \
        content + b"\0" * pad


def begin(role=RESPONDER, flags=0, rid=1):
    return record(BEGIN, struct.pack(">HB5x", role, flags), rid)


def nv_len(n):
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


def params(pairs, rid=1):
    body = b"".join(nv_len(len(k)) + nv_len(len(v)) + k + v
                    for k, v in pairs)
    return record(PARAMS, body, rid) + record(PARAMS, b"", rid)


def health_request(extra=()):
    """A well-formed GET /api/health as nginx would send it."""
    pairs = [(b"REQUEST_METHOD", b"GET"), (b"REQUEST_URI", b"/api/health"),
             (b"SCRIPT_NAME", b"/api/health"), (b"REMOTE_ADDR", b"127.0.0.1"),
             (b"SERVER_PROTOCOL", b"HTTP/1.1")] + list(extra)
    return begin() + params(pairs) + record(STDIN, b"")


# nameLen = valueLen = 0x40000000 in the four-byte form: libfcgi adds them
# (plus 2) as an int, which overflows (F1).
F1 = begin() + record(PARAMS, b"\xc0\x00\x00\x00\xc0\x00\x00\x00" +
                      b"A" * 64)


def fcgi_exchange(path, data, timeout=5, close_write=False):
    """Sends data on a new connection to the socket and reads until the
    peer closes (or timeout).  Returns the bytes read."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout * SLOW)
    got = b""
    try:
        s.connect(path)
        s.sendall(data)
        if close_write:
            s.shutdown(socket.SHUT_WR)
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
    except OSError:
        pass
    finally:
        s.close()
    return got


def stdout_of(reply):
    """The STDOUT content of a FastCGI reply (record by record)."""
    out, i = b"", 0
    while i + 8 <= len(reply):
        _, kind, _, n, pad, _ = struct.unpack(">BBHHBB", reply[i:i + 8])
        if kind == 6:
            out += reply[i + 8:i + 8 + n]
        i += 8 + n + pad
    return out


# ---- another user -----------------------------------------------------------

PROBE = r"""
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("errno %d" % e.errno)
    sys.exit(0)
s.sendall(bytes.fromhex(sys.argv[2]))
s.shutdown(socket.SHUT_WR)
got = b""
s.settimeout(10)
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
print("connected uid=%d gid=%d groups=%r" % (os.getuid(), os.getgid(),
                                             os.getgroups()))
print("reply " + got.hex())
"""


def python_for_others():
    """A Python that another user may run (the test's may be under a
    private home directory)."""
    for path in ("/usr/bin/python3", sys.executable):
        st = os.stat(path)
        if st.st_mode & 0o001:
            d, ok_ = os.path.dirname(path), True
            while d != "/":
                ok_ = ok_ and bool(os.stat(d).st_mode & 0o001)
                d = os.path.dirname(d)
            if ok_:
                return path
    return None


def as_user(uid, gid, groups, path):
    """Runs the connect probe as uid/gid with exactly the given
    supplementary groups; returns its stdout."""
    def drop():
        T._child_setup()
        os.setgroups(groups)
        os.setgid(gid)
        os.setuid(uid)
    r = subprocess.run([python_for_others(), "-c", PROBE, path,
                        health_request().hex()], preexec_fn=drop,
                       capture_output=True, text=True, timeout=30 * SLOW,
                       env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                       cwd="/")
    return r.stdout + r.stderr


def web_group():
    """A group of the system to play the web server's, not nobody's own."""
    nobody = pwd.getpwnam("nobody")
    for name in ("www-data", "daemon", "adm", "staff", "users"):
        try:
            g = grp.getgrnam(name)
        except KeyError:
            continue
        if g.gr_gid != nobody.pw_gid and g.gr_gid != 0:
            return g
    return None


def test_permissions():
    g = web_group()
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        nobody = None
    if g is None or nobody is None:
        skip("socket group and other users", "no user nobody or no group")
        return
    with T.Stack(workers=1, redis=False,
                 settings={"PARKD_SOCKET_GROUP": g.gr_name}) as s:
        st = os.stat(s.socket_path)
        ok(stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660,
           "with PARKD_SOCKET_GROUP: a socket of mode 0660",
           "  mode %o" % stat.S_IMODE(st.st_mode))
        is_(st.st_uid, os.geteuid(), "the socket belongs to parkd's user")
        is_(st.st_gid, g.gr_gid, "the socket's group is %s" % g.gr_name)
        r = s.req("GET", "/api/health")
        is_(r.status, 200, "nginx reaches parkd through it")

        r = s.run_parkd("-t", settings={"PARKD_SOCKET_MODE": "0666"})
        is_(r.returncode, 3, "parkd refuses PARKD_SOCKET_MODE=0666")
        like(r.stderr, r"PARKD_SOCKET_MODE", "... naming the setting")

        if os.geteuid() != 0 or python_for_others() is None:
            for name in ("another user cannot connect",
                         "the web server's group can"):
                skip(name, "not root, or no Python other users may run")
            return
        # Only the socket's own mode may stop them: let others through the
        # directory (mkdtemp made it 0700).
        os.chmod(s.dir, 0o711)
        out = as_user(nobody.pw_uid, nobody.pw_gid, [], s.socket_path)
        like(out, r"^errno 13\b",
             "nobody (no groups) cannot connect to the socket: EACCES")
        out = as_user(nobody.pw_uid, nobody.pw_gid, [g.gr_gid],
                      s.socket_path)
        m = [line for line in out.splitlines() if line.startswith("reply ")]
        reply = bytes.fromhex(m[0][6:]) if m else b""
        ok(out.startswith("connected") and b'"healthy"' in stdout_of(reply),
           "nobody in group %s connects and is answered" % g.gr_name,
           "  %s" % out[:300])


def test_f1(s):
    """The crafted PARAMS record of F1, three times, while nginx traffic
    runs."""
    deaths = 0
    for round_ in range(3):
        pids, _ = s.wait_workers(WORKERS, timeout=5)
        time.sleep(1.2)  # every worker older than 1 s: no crash back-off
        with T.RequestLoop(s) as loop:
            time.sleep(0.3)
            fcgi_exchange(s.socket_path, F1, timeout=5)
            sent = time.monotonic()
            gone = []
            deadline = sent + 2 * SLOW
            while time.monotonic() < deadline and not gone:
                gone = [p for p in pids or [] if not T.pid_alive(p)]
                time.sleep(0.01)
            new, waited = s.wait_workers(WORKERS, timeout=3 * SLOW,
                                         not_in=gone)
            waited = time.monotonic() - sent
            time.sleep(0.5)
        ok(len(gone) <= 1, "F1 record %d: at most one worker lost" %
           (round_ + 1), "  lost %r of %r" % (gone, pids))
        if gone:
            deaths += 1
            ok(new is not None and waited < 1.0 * SLOW,
               "F1 record %d: worker %d replaced within 1 s (%.3f s)"
               % (round_ + 1, gone[0], waited),
               "  workers now %r" % s.worker_pids())
        ok(loop.results and not loop.failures(),
           "F1 record %d: %d requests through nginx meanwhile, none failed"
           % (round_ + 1, len(loop.results)),
           "  failures %r" % loop.failures()[:5])
    if deaths:
        like(s.log(), r"killed by signal %d" % signal.SIGABRT,
             "the supervisor logged the abort (SIGABRT) and replaced it")
        diag("F1: %d of 3 crafted records aborted a worker: this libfcgi "
             "still has the overflow (reliability.md F1)" % deaths)
    else:
        diag("F1: no worker died: this libfcgi refuses the record")
    ok(s.procs["parkd"].poll() is None, "F1: the supervisor still runs")


def test_malformed(s):
    supervisor = s.parkd_pid
    rnd = random.Random(int(os.environ.get("PARKTEST_SEED",
                                           random.randrange(1 << 30))))
    streams = []
    for _ in range(30):
        streams.append(("random", bytes(rnd.getrandbits(8) for _ in
                                        range(rnd.randint(1, 8192)))))
    streams += [
        ("version 0", record(BEGIN, b"\0\1\0\0\0\0\0\0", version=0)),
        ("version 2", record(BEGIN, b"\0\1\0\0\0\0\0\0", version=2)),
        ("type 0", record(0, b"abc")),
        ("type 99", begin() + record(99, b"x" * 10)),
        ("unknown role", begin(role=7) + params([(b"A", b"B")])),
        ("authorizer role", begin(role=AUTHORIZER) + params([(b"A", b"B")])),
        ("STDIN first", record(STDIN, b"{}")),
        ("ABORT at once", begin() + record(ABORT)),
        ("lying record length", begin() + record(PARAMS, b"\x01\x01AB",
                                                 length=60000)),
        ("header cut", begin()[:5]),
        ("no end of PARAMS", begin() + record(PARAMS, b"\x01\x01AB")),
        ("2 GB name", begin() + record(PARAMS, b"\xff\xff\xff\xf0\x00" +
                                       b"x" * 100)),
        ("short body", begin() + params([
            (b"REQUEST_METHOD", b"POST"),
            (b"REQUEST_URI", b"/api/auth/login"),
            (b"CONTENT_TYPE", b"application/json"),
            (b"CONTENT_LENGTH", b"100")]) + record(STDIN, b"{\"a\":")),
        ("huge CONTENT_LENGTH", begin() + params([
            (b"REQUEST_METHOD", b"POST"),
            (b"REQUEST_URI", b"/api/auth/login"),
            (b"CONTENT_TYPE", b"application/json"),
            (b"CONTENT_LENGTH", b"99999999999999999999")]) +
         record(STDIN, b"{}") + record(STDIN, b"")),
        ("bad CONTENT_LENGTH", begin() + params([
            (b"REQUEST_METHOD", b"POST"),
            (b"REQUEST_URI", b"/api/auth/login"),
            (b"CONTENT_LENGTH", b"-1")]) + record(STDIN, b"")),
        ("request id 0", begin(rid=0) + params([(b"A", b"B")], rid=0)),
        ("two requests", health_request() + health_request()),
    ]
    replies = {}
    with T.RequestLoop(s) as loop:
        for what, data in streams:
            replies[what] = fcgi_exchange(s.socket_path, data, timeout=3,
                                          close_write=True)
            time.sleep(0.02)
        time.sleep(0.5)
    ok(s.procs["parkd"].poll() is None and s.parkd_pid == supervisor,
       "%d malformed FastCGI streams: the supervisor still runs"
       % len(streams))
    pids, _ = s.wait_workers(WORKERS, timeout=15 * SLOW)
    ok(pids is not None, "... and has its %d workers" % WORKERS,
       "  workers %r" % s.worker_pids())
    ok(loop.results and not loop.failures(),
       "... while %d requests through nginx all succeeded"
       % len(loop.results), "  failures %r" % loop.failures()[:5])
    aborted = s.log().count("killed by signal")
    diag("worker deaths logged so far (F1 included): %d" % aborted)
    out = stdout_of(replies["short body"])
    like(out.decode("latin-1"), r"Status: 400",
         "a body shorter than its CONTENT_LENGTH: 400")
    out = stdout_of(replies["huge CONTENT_LENGTH"])
    like(out.decode("latin-1"), r"Status: (400|413)",
         "a CONTENT_LENGTH of 20 digits: 400 or 413")
    out = stdout_of(fcgi_exchange(s.socket_path, health_request(),
                                  close_write=True))
    like(out.decode("latin-1"), r'"healthy"',
         "a well-formed request on the socket is still answered")


def test_stalled_peer(s):
    """A peer that stops in the middle of a record holds one worker."""
    pids, _ = s.wait_workers(WORKERS, timeout=5)
    peer = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    peer.connect(s.socket_path)
    peer.sendall(begin() + record(PARAMS, b"\x0e", length=100))
    with T.RequestLoop(s) as loop:
        time.sleep(2)
    ok(loop.results and not loop.failures(),
       "a stalled FastCGI peer: %d requests through nginx meanwhile, all "
       "200" % len(loop.results), "  failures %r" % loop.failures()[:5])
    peer.close()
    time.sleep(0.3)
    r = fcgi_exchange(s.socket_path, health_request(), close_write=True)
    ok(b'"healthy"' in stdout_of(r), "after the peer closes, parkd serves")
    is_(s.worker_pids(), pids, "the stalled peer cost no worker")


def answer_then_send(path, data):
    """Sends data on a new connection and reads the answer to the worker's
    end of file, then sends one more byte.  Returns the answer and whether
    the worker still held the connection (libfcgi's lingering close ends
    with shutdown() and waits for us to close; a worker that closed at once
    makes the byte fail with EPIPE)."""
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(5 * SLOW)
    got = b""
    try:
        c.connect(path)
        c.sendall(data)
        while True:
            b = c.recv(65536)
            if not b:
                break
            got += b
        try:
            c.send(b"x")
            held = True
        except (BrokenPipeError, ConnectionResetError):
            held = False
    finally:
        c.close()
    return got, held


def test_close():
    """How a worker ends a connection: at once when the request was read
    to its end (on a unix socket a close loses nothing), lingering like
    libfcgi when it left a body unread, which nginx may still be sending."""
    with T.Stack(workers=1, redis=False) as s:
        out, held = answer_then_send(s.socket_path, health_request())
        ok(b'"healthy"' in stdout_of(out) and not held,
           "a request read to its end: answered, and the worker has closed "
           "the connection (no lingering)", "  held %r, %r" % (held, out[:120]))
        big = begin() + params([
            (b"REQUEST_METHOD", b"POST"),
            (b"REQUEST_URI", b"/api/auth/login"),
            (b"CONTENT_TYPE", b"application/json"),
            (b"CONTENT_LENGTH", b"1000000")]) + record(STDIN, b"{" * 1000)
        out, held = answer_then_send(s.socket_path, big)
        ok(b"Status: 413" in stdout_of(out) and held,
           "a body over the cap left unread: 413, and the worker lingers "
           "until the peer closes", "  held %r, %r" % (held, out[:120]))
        out, held = answer_then_send(s.socket_path, health_request())
        ok(b'"healthy"' in stdout_of(out),
           "the worker serves the next connection")


def main():
    test_permissions()
    with T.Stack(workers=WORKERS, redis=False) as s:
        r = fcgi_exchange(s.socket_path, health_request(), close_write=True)
        ok(b'"healthy"' in stdout_of(r),
           "a raw FastCGI request on the socket is answered (the test's "
           "client works)", "  %r" % r[:200])
        test_f1(s)
        test_malformed(s)
        test_stalled_peer(s)
    test_close()


T.run(main)
