#!/usr/bin/env python3
"""51-server.t: the parkd supervisor, through real nginx.

The socket's mode; a worker killed with SIGKILL is replaced within 1 s while
requests keep succeeding; SIGHUP reloads the settings and replaces every
worker without a failed request (and a reload with bad settings keeps the
old ones serving), and an old worker that does not go is killed after
10 s; SIGTERM drains, exits 0 and removes the socket; weak JWT
secrets are refused with exit status 3; -t, -V and bad usage; systemd's
socket activation (LISTEN_FDS) and notifications (NOTIFY_SOCKET).
"""

import os
import secrets
import signal
import socket
import stat
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import parktest as T  # noqa: E402
from parktest import diag, is_, like, ok  # noqa: E402


def test_socket_mode(s):
    st = os.stat(s.socket_path)
    ok(stat.S_ISSOCK(st.st_mode), "PARKD_SOCKET is a unix socket")
    is_(oct(stat.S_IMODE(st.st_mode)), oct(0o660), "the socket's mode is 0660")


def test_worker_kill(s):
    pids, _ = s.wait_workers(2)
    if not ok(pids is not None, "2 workers at start", "  %r" % s.worker_pids()):
        return
    # Kill each original worker in turn, never a freshly forked one, so that
    # no restart back-off for crash loops comes into play.
    for victim in list(pids):
        with T.RequestLoop(s) as loop:
            time.sleep(0.2)
            os.kill(victim, signal.SIGKILL)
            killed_at = time.monotonic()
            new, waited = s.wait_workers(2, timeout=3, not_in=[victim])
            time.sleep(0.3)
        ok(new is not None and waited < 1.0,
           "worker %d killed: 2 workers again within 1 s" % victim,
           "  waited %.3f s; workers now %r" % (waited, s.worker_pids()))
        # The request the killed worker was serving, if any, may fail (502);
        # every other one must succeed.
        during = loop.failures()
        ok(len(during) <= 1 and all(o == 502 for o in during),
           "requests during the kill succeed (at most the one in flight "
           "fails, with 502)", "  failures: %r" % during)
        after = loop.failures(since=killed_at + 1.0)
        ok(loop.results and not after,
           "requests after the replacement all succeed (%d sent)"
           % len(loop.results), "  failures: %r" % after)


def test_reload(s):
    before, _ = s.wait_workers(2)
    supervisor = s.parkd_pid
    s.write_settings(PARKD_WORKERS=3)
    with T.RequestLoop(s) as loop:
        time.sleep(0.2)
        s.signal_parkd(signal.SIGHUP)
        new, waited = s.wait_workers(3, timeout=10, not_in=before or [])
        time.sleep(0.3)
    ok(new is not None,
       "SIGHUP: 3 new workers (PARKD_WORKERS reloaded), no old one left",
       "  before %r, now %r after %.2f s" % (before, s.worker_pids(), waited))
    is_(s.parkd_pid, supervisor, "SIGHUP: the supervisor stays")
    ok(s.procs["parkd"].poll() is None, "SIGHUP: parkd still runs")
    ok(len(loop.results) > 10 and not loop.failures(),
       "SIGHUP: every request during the reload succeeds (%d sent)"
       % len(loop.results), "  failures: %r" % loop.failures()[:10])

    # A reload with bad settings keeps the old settings and workers.
    current = s.worker_pids()
    good_secret = s.settings["JWT_SECRET_KEY"]
    s.write_settings(JWT_SECRET_KEY="short", PARKD_WORKERS=2)
    with T.RequestLoop(s) as loop:
        s.signal_parkd(signal.SIGHUP)
        time.sleep(1.0)
    ok(s.procs["parkd"].poll() is None,
       "SIGHUP with a weak JWT secret: parkd keeps running")
    is_(len(s.worker_pids()), 3,
        "SIGHUP with bad settings: the old worker count stays")
    ok(not loop.failures() and len(loop.results) > 5,
       "SIGHUP with bad settings: requests keep succeeding",
       "  failures: %r" % loop.failures()[:10])
    like(s.log(), r"JWT_SECRET_KEY", "SIGHUP with bad settings: logged why")
    s.write_settings(JWT_SECRET_KEY=good_secret, PARKD_WORKERS=2)
    s.signal_parkd(signal.SIGHUP)
    back, _ = s.wait_workers(2, timeout=10, not_in=current)
    ok(back is not None, "a later good reload applies (2 workers again)",
       "  workers: %r" % s.worker_pids())


def test_reload_stuck(s):
    """An old worker that cannot act on its SIGTERM (stopped here with
    SIGSTOP, as one stuck in a request would be) is killed 10 s after the
    reload (parkd.c's STOP_GRACE_MS); the new workers serve meanwhile."""
    before, _ = s.wait_workers(2)
    stuck = before[0]
    os.kill(stuck, signal.SIGSTOP)
    t0 = time.monotonic()
    with T.RequestLoop(s) as loop:
        s.signal_parkd(signal.SIGHUP)
        while T.pid_alive(stuck) and time.monotonic() < t0 + 20:
            time.sleep(0.1)
        gone = time.monotonic() - t0
        time.sleep(0.3)
    ok(not T.pid_alive(stuck) and 9.5 <= gone < 15,
       "reload: an old worker that does not go is killed after 10 s",
       "  gone after %.1f s (alive: %s)" % (gone, T.pid_alive(stuck)))
    like(s.log(), r"worker %d of an old generation still runs 10 s after "
         r"the reload: killing it" % stuck, "  and the log says so")
    ok(len(loop.results) > 10 and not loop.failures(),
       "requests during it succeed (%d sent)" % len(loop.results),
       "  failures: %r" % loop.failures()[:10])
    new, _ = s.wait_workers(2, timeout=5, not_in=before)
    ok(new is not None, "2 workers of the new generation",
       "  workers: %r" % s.worker_pids())


def test_term(s, sig, name):
    workers = s.worker_pids()
    s.signal_parkd(sig)
    rc = s.wait_parkd(15)
    is_(rc, 0, "%s: the supervisor exits 0" % name)
    ok(not os.path.exists(s.socket_path), "%s: the socket file is removed" % name)
    deadline = time.monotonic() + 2
    while any(T.pid_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    ok(not any(T.pid_alive(p) for p in workers), "%s: no worker is left" % name,
       "  alive: %r" % [p for p in workers if T.pid_alive(p)])


def test_refusals():
    """Settings parkd must refuse, -t, -V and usage errors (no services)."""
    with T.Stack(services=False) as s:
        weak = {
            "a missing JWT secret": None,
            "an empty JWT secret": "",
            "a 31-byte JWT secret": secrets.token_hex(16)[:31],
            "a well-known JWT secret": "change-me" * 4,
        }
        for what, value in weak.items():
            r = s.run_parkd(settings={"JWT_SECRET_KEY": value})
            is_(r.returncode, 3, "parkd refuses %s: exit 3" % what)
            like(r.stderr, r"JWT_SECRET_KEY", "... and names JWT_SECRET_KEY")
            ok(not os.path.exists(s.socket_path), "... before making its socket")
            r = s.run_parkd("-t", settings={"JWT_SECRET_KEY": value})
            is_(r.returncode, 3, "parkd -t refuses %s: exit 3" % what)

        r = s.run_parkd(env={"JWT_SECRET_KEY": "change-me" * 4})
        is_(r.returncode, 3, "a weak JWT secret in the environment overrides "
            "a good one in the file: exit 3")

        r = s.run_parkd("-t")
        is_(r.returncode, 0, "parkd -t: good settings, exit 0")
        if r.returncode != 0:
            diag(r.stderr)
        ok(not os.path.exists(s.socket_path), "parkd -t makes no socket")

        r = s.run_parkd("-t", settings={"PARKD_WORKERS": "0"})
        is_(r.returncode, 3, "parkd -t: PARKD_WORKERS=0 is out of bounds, exit 3")

        r = s.run_parkd("-V")
        ok(r.returncode == 0 and (r.stdout + r.stderr).strip(),
           "parkd -V prints a version, exit 0", "  %r %r" % (r.returncode, r.stdout))
        r = s.run_parkd("-h")
        is_(r.returncode, 0, "parkd -h: exit 0")
        r = s.run_parkd("-Z")
        is_(r.returncode, 2, "parkd -Z (unknown option): exit 2")


def test_activation():
    """systemd's parkd.socket: parkd serves on the socket it is handed as fd
    3 and, as that socket belongs to systemd, leaves its file in place."""
    with T.Stack(workers=2, socket_activation=True) as s:
        r = s.req("GET", "/api/health")
        is_(r.status, 200, "socket activation: health through the passed socket")
        ok(not os.path.exists(s.socket_path),
           "socket activation: parkd binds no socket of its own")
        s.signal_parkd(signal.SIGTERM)
        is_(s.wait_parkd(15), 0, "socket activation: SIGTERM, exit 0")
        ok(os.path.exists(s.activation_path),
           "socket activation: the passed socket's file stays (systemd's)")


def recv_notify(sock, timeout):
    """The next sd_notify datagram and the sender's pid (None on timeout)."""
    sock.settimeout(timeout)
    try:
        data, anc, _, _ = sock.recvmsg(4096, socket.CMSG_SPACE(12))
    except socket.timeout:
        return None, None
    pid = None
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", payload[:12])[0]
    return data.decode("utf-8", "replace"), pid


def wait_notify(sock, word, timeout=10):
    """Reads notifications until one holds the line word; returns (the
    messages read, the pid that sent the matching one)."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg, pid = recv_notify(sock, max(0.01, deadline - time.monotonic()))
        if msg is None:
            break
        seen.append(msg)
        if word in msg.split("\n"):
            return seen, pid
    return seen, None


def test_notify():
    """Type=notify: READY=1 once serving, RELOADING=1 then READY=1 on
    SIGHUP, STOPPING=1 on SIGTERM, all from the supervisor's pid."""
    d = tempfile.mkdtemp(prefix="parktest-notify-", dir="/tmp")
    path = os.path.join(d, "notify.sock")
    n = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    n.bind(path)
    n.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    try:
        with T.Stack(workers=1, env={"NOTIFY_SOCKET": path}) as s:
            seen, pid = wait_notify(n, "READY=1")
            ok(pid is not None, "NOTIFY_SOCKET: READY=1", "  got %r" % seen)
            is_(pid, s.parkd_pid, "READY=1 comes from the supervisor")
            s.signal_parkd(signal.SIGHUP)
            seen, pid = wait_notify(n, "RELOADING=1")
            ok(pid is not None, "SIGHUP: RELOADING=1", "  got %r" % seen)
            seen, pid = wait_notify(n, "READY=1")
            ok(pid is not None, "after the reload: READY=1", "  got %r" % seen)
            s.signal_parkd(signal.SIGTERM)
            seen, pid = wait_notify(n, "STOPPING=1")
            ok(pid is not None, "SIGTERM: STOPPING=1", "  got %r" % seen)
            is_(s.wait_parkd(15), 0, "notify: exit 0")
    finally:
        n.close()
        os.unlink(path)
        os.rmdir(d)


def main():
    with T.Stack(workers=2) as s:
        test_socket_mode(s)
        test_worker_kill(s)
        test_reload(s)
        test_reload_stuck(s)
        test_term(s, signal.SIGTERM, "SIGTERM")
    with T.Stack(workers=2) as s:
        test_term(s, signal.SIGINT, "SIGINT")
    test_refusals()
    test_activation()
    test_notify()


T.run(main)
