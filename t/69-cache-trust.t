#!/usr/bin/env python3
"""69-cache-trust.t: parkd does not trust what Redis holds (issue #14.4).

Through the real stack, with Redis on a unix socket of mode 0700 (as
dev/run runs it) and again over TCP with requirepass (database 1):

(a) parkd stores each value under the key it computes
    (parkd:v3:lots:<generation>:grid:<lot>:<slot>:<version>,
    ...:summary:...) as a 32-byte tag and the text; a value planted under
    that exact key (an untagged text, a wrong tag, a short value, a list,
    the valid value of another lot's grid or of the summary) is never
    served: the answer is
    the real one, the value is replaced, and a security: line is logged
    (without the value).
(b) TCP: AUTH and SELECT on every new connection (also after Redis
    restarts); a wrong password: every answer is still right, the cache is
    "down", and the log says "redis AUTH failed" without either password;
    a malformed REDIS_CACHE_URL stops parkd -t, naming the setting, not the
    password.
"""

import hashlib
import hmac
import json
import os
import re
import secrets
import signal
import stat
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import parktest as T  # noqa: E402
import parking as P  # noqa: E402
from parktest import diag, is_, ok  # noqa: E402

# The prefix of the keys (KEY_PREFIX in cache.c): v3 since #15 changed the
# bodies' shapes (money with a point, the old reservation keys).
KEY_PREFIX = "parkd:v3:"

# Bad tags are logged at most once a second per worker.
LOG_GAP = 1.1


def data(r):
    return (r.json or {}).get("data")


def normal(x):
    """A body without what depends on the clock."""
    if isinstance(x, dict):
        return {k: normal(v) for k, v in x.items()
                if k not in ("duration_str", "hours_parked", "timestamp")}
    if isinstance(x, list):
        return [normal(v) for v in x]
    return x


def one(s, sql, *args):
    c = P.dbconn(s)
    try:
        return c.execute(sql, args).fetchone()[0]
    finally:
        c.close()


def grid_key(s, lot):
    """The key parkd caches a lot's grid under, computed as parkd does
    (cache_fetch() in cache.c, lots_admin_get() in lots.c): the grid's R
    state moves with the clock, so the key holds the 15-minute slot
    (PARKD_RESERVATION_GRID_MINUTES) too (#16)."""
    gen = one(s, "SELECT gen FROM cache_gen WHERE family = 'lots'")
    ver = one(s, "SELECT version FROM lots WHERE id = ?", lot)
    return KEY_PREFIX + "lots:%d:grid:%d:%d:%d" % (gen, lot,
                                              int(time.time()) // 900, ver)


def summary_key(s):
    """The key of the admin summary (resv.c): the day and the sum of the
    lots' versions."""
    gen = one(s, "SELECT gen FROM cache_gen WHERE family = 'lots'")
    ver = one(s, "SELECT coalesce(sum(version), 0) FROM lots")
    return KEY_PREFIX + "lots:%d:summary:%d:%d" % (
        gen, int(time.time()) // 86400, ver)


def tag(s, key, text):
    """The tag parkd writes before a value (cache.c): HMAC-SHA-256 of the
    key with its NUL and the text, keyed by HMAC-SHA-256(SECRET_KEY,
    "parkd cache v1")."""
    k = hmac.new(s.settings["SECRET_KEY"].encode(), b"parkd cache v1",
                 hashlib.sha256).digest()
    return hmac.new(k, key.encode() + b"\0" + text, hashlib.sha256).digest()


def security_lines(s, since):
    return [l for l in s.log()[since:].splitlines() if "security:" in l and
            "integrity" in l]


def forged_checks(s, where):
    A = P.admin_headers(s)
    (u,) = P.make_users(s, 1, prefix="trust" + where[:3])
    la = P.create_lot(s, prime_location_name="Real Lot " + where,
                      number_of_spots=5, price=7)["id"]
    lb = P.create_lot(s, prime_location_name="Other Lot " + where,
                      number_of_spots=3, price=2)["id"]
    is_(u.req("POST", "/api/user/pkl/book/%d" % la,
              {"vehicle_number": "TR 1"}).status, 200, where + ": a booking")
    path = "/api/admin/pkl/%d" % la
    real = normal(s.req("GET", path, headers=A).json)
    again = normal(s.req("GET", path, headers=A).json)
    is_(again, real, where + ": the grid twice (the second from Redis)")
    key = grid_key(s, la)
    keys = P.parkd_keys(s)
    ok(key in keys, where + ": parkd cached the grid under the key computed "
       "as parkd does: " + key, "  keys: %r" % keys)
    raw = s.redis_cmd("GET", key) or b""
    try:
        text = json.loads(raw[32:])
    except ValueError:
        text = None
    ok(len(raw) > 32 and normal(text) == real["data"],
       where + ": its value is a 32-byte tag and the grid's text",
       "  %r" % raw[:80])
    is_(raw[:32], tag(s, key, raw[32:]), where + ": the tag is computed as "
        "parkd does")

    # The valid values of another lot's grid and of the summary.
    s.req("GET", "/api/admin/pkl/%d" % lb, headers=A)
    other = s.redis_cmd("GET", grid_key(s, lb))
    s.req("GET", "/api/admin/summary", headers=A)
    summ = s.redis_cmd("GET", summary_key(s))
    ok(other and summ, where + ": the other lot's grid and the summary are "
       "cached too")

    planted = dict(real["data"], prime_location_name="PLANTED",
                   address="PLANTED", price=0.01)
    planted_text = json.dumps(planted, separators=(",", ":")).encode()
    forgeries = [
        ("an untagged text", planted_text),
        ("a text with a random tag", secrets.token_bytes(32) + planted_text),
        ("a tag of zeros", bytes(32) + planted_text),
        ("a value shorter than a tag", b"PLANTED"),
        ("an empty value", b""),
        ("another lot's grid, validly tagged for its own key", other),
        ("the summary, validly tagged for its own key", summ),
        ("a list", None),
    ]
    for what, value in forgeries:
        time.sleep(LOG_GAP)
        since = len(s.log())
        s.redis_cmd("DEL", key)
        if value is None:
            s.redis_cmd("RPUSH", key, planted_text)
        else:
            s.redis_cmd("SET", key, value, "EX", 300)
        r = s.req("GET", path, headers=A)
        ok(r.status == 200 and normal(r.json) == real and
           b"PLANTED" not in r.body, where + ": " + what + " under the "
           "grid's key: the real grid is answered", "  %r" % r.body[:200])
        after = s.redis_cmd("GET", key) or b""
        ok(after != value and len(after) > 32 and b"PLANTED" not in after and
           normal(json.loads(after[32:])) == real["data"],
           "  and parkd stored the real grid over it")
        lines = security_lines(s, since)
        ok(len(lines) == 1 and key in lines[0] and "PLANTED" not in
           lines[0], "  and logged one security: line naming the key",
           *lines)
        again = s.req("GET", path, headers=A)
        is_(normal(again.json), real, "  the next read (from Redis): real")

    # What the build before #15 stored: the same key under parkd:v2:,
    # validly tagged (same SECRET_KEY), an old shape.  Never read.
    old_key = "parkd:v2:" + key[len(KEY_PREFIX):]
    s.redis_cmd("DEL", key)
    s.redis_cmd("SET", old_key, tag(s, old_key, planted_text) + planted_text,
                "EX", 300)
    r = s.req("GET", path, headers=A)
    ok(r.status == 200 and normal(r.json) == real and
       b"PLANTED" not in r.body, where + ": a validly tagged body of the "
       "previous build under its parkd:v2: key is not served",
       "  %r" % r.body[:200])
    ok(key in P.parkd_keys(s), "  the real grid is stored under " + key)
    s.redis_cmd("DEL", old_key)

    # The summary's own key, planted.
    time.sleep(LOG_GAP)
    since = len(s.log())
    real_s = normal(s.req("GET", "/api/admin/summary", headers=A).json)
    skey = summary_key(s)
    fake = dict(real_s["data"], total_users=9999, revenue_month=1e6)
    s.redis_cmd("SET", skey, json.dumps(fake), "EX", 300)
    r = s.req("GET", "/api/admin/summary", headers=A)
    ok(normal(r.json) == real_s and b"9999" not in r.body,
       where + ": a summary planted under its key: the real one answered",
       "  %r" % r.body[:200])
    ok(len(security_lines(s, since)) == 1, "  and logged")
    return la


def test_unix():
    settings = dict(P.FAST_HASH, PARKD_MEMO_KB="0")
    with T.Stack(settings=settings, workers=2) as s:
        ok(s.settings["REDIS_CACHE_URL"] == "unix://%s?db=0" % s.redis_socket,
           "the stack's parkd uses Redis by its unix socket")
        mode = stat.S_IMODE(os.stat(s.redis_socket).st_mode)
        is_(oct(mode), oct(0o700), "  the socket's mode is 0700")
        is_(s.redis_cmd("CONFIG", "GET", "port"), [b"port", b"0"],
            "  and Redis listens on no TCP port")
        forged_checks(s, "unix")
        bad = [l for l in s.log().splitlines()
               if re.search(r" status=5\d\d ", l)]
        is_(bad[:5], [], "no 5xx in parkd's log")


def cache_state(s):
    r = s.req("GET", "/api/health")
    return ((data(r) or {}).get("checks") or {}).get("cache")


def wait_cache(s, want, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cache_state(s) == want:
            return True
        time.sleep(0.1)
    return False


def test_tcp():
    settings = dict(P.FAST_HASH, PARKD_MEMO_KB="0",
                    PARKD_REDIS_BREAKER_S="1")
    with T.Stack(settings=settings, workers=2, redis="tcp") as s:
        pw = s.redis_password
        url = s.settings["REDIS_CACHE_URL"]
        ok(url.startswith("redis://:") and url.endswith(
           "@127.0.0.1:%d/1" % s.redis_port) and "%2F" in url,
           "the stack's parkd uses Redis over TCP with a password (escaped "
           "in the URL) and database 1")
        try:
            T.redis_command(s.redis_port, "PING")
            refused = None
        except RuntimeError as e:
            refused = str(e)
        like(refused, "NOAUTH", "  Redis refuses commands without it")
        is_(cache_state(s), "up", "health: the cache is up")
        la = forged_checks(s, "tcp")
        is_(T.redis_command(s.redis_port, "DBSIZE", password=pw), 0,
            "parkd wrote nothing to database 0: it sent SELECT 1")

        # Redis restarts: parkd connects again, with AUTH and SELECT.
        s.kill_redis()
        s.start_redis()
        ok(wait_cache(s, "up"), "Redis restarted: the cache is up again")
        A = P.admin_headers(s)
        time.sleep(1.2)  # every worker's breaker (1 s) closed
        for _ in range(4):
            s.req("GET", "/api/admin/pkl/%d" % la, headers=A)
        ok(grid_key(s, la) in P.parkd_keys(s),
           "  parkd caches in database 1 again after reconnecting")

        # A wrong password: parkd answers right, without the cache.
        path = "/api/admin/pkl/%d" % la
        real = normal(s.req("GET", path, headers=A).json)
        wrong = "wr0ng-" + secrets.token_hex(8)
        since = len(s.log())
        s.write_settings(REDIS_CACHE_URL="redis://:%s@127.0.0.1:%d/1"
                         % (wrong, s.redis_port))
        old = s.worker_pids()
        s.signal_parkd(signal.SIGHUP)
        pids, _ = s.wait_workers(2, timeout=10, not_in=old)
        ok(pids, "SIGHUP with a wrong Redis password: new workers")
        s.redis_cmd("FLUSHDB")
        answers = [s.req("GET", path, headers=A) for _ in range(6)]
        ok(all(r.status == 200 and normal(r.json) == real for r in answers),
           "  every read answers the real grid (the cache fails open)")
        is_(cache_state(s), "down", "  health: the cache is down")
        is_(P.parkd_keys(s), [], "  and nothing was cached")
        log = s.log()[since:]
        like(log, r"redis AUTH failed: WRONGPASS",
             "  the log says AUTH failed")
        ok(wrong not in log and pw not in log and
           "wr0ng" not in log, "  and holds neither password")

        # A malformed URL stops parkd -t, naming the setting only.
        for bad_url, why in (
                ("redis://:%s@127.0.0.1:70000/1" % wrong, "port"),
                ("redis://:%s@127.0.0.1:6379/16" % wrong, "database"),
                ("unix://:%s@" % wrong, "no socket")):
            p = s.run_parkd("-t", settings={"REDIS_CACHE_URL": bad_url})
            out = p.stdout + p.stderr
            ok(p.returncode not in (0, None) and "REDIS_CACHE_URL" in out and
               why in out and wrong not in out,
               "parkd -t refuses a REDIS_CACHE_URL with a bad %s, naming the "
               "setting, not the password" % why, "  %r" % out[-300:])

        s.write_settings(REDIS_CACHE_URL=url)
        old = s.worker_pids()
        s.signal_parkd(signal.SIGHUP)
        s.wait_workers(2, timeout=10, not_in=old)
        ok(wait_cache(s, "up"), "the right password again: the cache is up")
        ok(pw not in s.log(), "the password is nowhere in parkd's log")


def like(got, pattern, name):
    return T.like(got, pattern, name)


def main():
    test_unix()
    test_tcp()


T.run(main)
