#!/usr/bin/env python3
"""66-soak.t: the CI-sized soak of reliability.md row 25 (bench/soak runs
the full 100,000 requests and records its figures in bench/RESULTS.md).

Seeds 10 lots of 100 spots, 8 users and 20,000 completed reservations of
theirs (so the database outgrows SQLite's page cache, which the warm-up
then fills: soaklib's seed()), replaces the workers (SIGHUP) so
that the seed's password hashing is not in the measured heaps, warms up
with 2,000 requests, then sends 10,000 mixed requests from 8 kept-alive
clients (t/lib/soaklib.py: lots list, spot grid, book and release,
history, summary, health), reading every worker's RSS (VmRSS) 50 times
along the way.  Then: no error, the same workers, each one's RSS floor
(the least reading of the first 5 and of the last 5, soaklib.floors())
grown by less than 5%, and the parking invariants hold.
PARKTEST_SOAK_REQUESTS changes the count.
"""

import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import parktest as T  # noqa: E402
import parking as P  # noqa: E402
import soaklib as S  # noqa: E402
from parktest import diag, is_, ok, skip  # noqa: E402

VALGRIND = getattr(T, "VALGRIND", False)
WORKERS = 4
REQUESTS = int(os.environ.get("PARKTEST_SOAK_REQUESTS",
                              "1000" if VALGRIND else "10000"))
WARMUP = 2000 if not VALGRIND else 200
HISTORY = 20000
LIMIT_PCT = 5.0


def main():
    with S.stack(workers=WORKERS) as s:
        soak = S.Soak(s, clients=8,
                      seed=int(os.environ["PARKTEST_SEED"])
                      if os.environ.get("PARKTEST_SEED") else None)
        diag("seed %d (PARKTEST_SEED to repeat)" % soak.seed_value)
        soak.seed(history=HISTORY)
        old = s.worker_pids()
        s.signal_parkd(signal.SIGHUP)
        pids, _ = s.wait_workers(WORKERS, timeout=15 * getattr(T, "SLOW", 1),
                                 not_in=old)
        ok(pids is not None, "fresh workers after the seed")
        w = soak.run(WARMUP)
        is_(w["errors"], 0, "warm-up: %d requests, no error" % w["sent"])
        start = soak.rss()
        r = soak.run(REQUESTS, samples=50, max_seconds=240)
        end = soak.rss()
        soak.close()
        diag("%d requests in %.1f s (%.0f/s), p50 %.1f ms, p99 %.1f ms; "
             "mix %r" % (r["sent"], r["seconds"], r["rate"],
                         r["p50"] * 1000, r["p99"] * 1000, r["kinds"]))
        for done, rss in r["rss"][9::10]:
            diag("  after %6d: RSS kB %r" % (done, sorted(rss.values())))
        diag("RSS idle after the warm-up %r, at the end %r" % (
            sorted(start.values()), sorted(end.values())))
        is_(r["sent"], REQUESTS, "%d requests sent within the time limit"
            % REQUESTS)
        ok(r["errors"] == 0, "no error in %d requests" % r["sent"],
           *r["examples"])
        is_(sorted(end), sorted(start), "the same workers from start to end")
        # Floors over the first and the last 5 readings (S.floors says why).
        g = S.growth(*S.floors(start, r["rss"], end, 5))
        text = ", ".join("%d -> %d kB (%+.1f%%)" % v for v in g.values()
                         if v is not None)
        diag("worker RSS floors: " + text)
        if VALGRIND or S.sanitized(start):
            skip("worker RSS grew < 5%", "under valgrind or ASan")
        else:
            ok(g and all(v is not None and v[2] < LIMIT_PCT
                         for v in g.values()),
               "every worker's RSS grew < %g%% after the warm-up" % LIMIT_PCT,
               "  " + text)
        bad = P.invariants(s)
        ok(not bad, "the parking invariants hold after the soak", *bad)


T.run(main)
