#!/usr/bin/env python3
"""18-pg.t: runs t/18-pg (the PostgreSQL driver's unit test, db-pg.c) on
a private cluster: dev/lib.sh pg_start under a directory of /tmp, the
schema's database migrated by the test itself, through the driver, as the
owner role (PARKD_TEST_PG_URL); pg_stop at the end.  A second cluster,
initialised on its own (its xids overlap the first's), and a multi-host URL
of both (PARKD_TEST_PG_URL2) let t/18-pg lose a COMMIT's answer to a
failover onto another server; its log must say the outcome was unknown
there, and also when the first server restarted (after a crash its xids
can be handed out again).
t/18-pg's own points are passed through.  Skipped when the PostgreSQL
server binaries are missing."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import parktest as T  # noqa: E402
from parktest import diag, ok, skip  # noqa: E402


def main():
    if not T.pg_have():
        skip("the PostgreSQL driver", "no PostgreSQL server binaries in %s"
             % T.PG_BIN)
        return
    prog = os.path.join(T.BUILDDIR, "t", "18-pg")
    d = tempfile.mkdtemp(prefix="parktest-18-", dir="/tmp")
    d2 = tempfile.mkdtemp(prefix="parktest-18b-", dir="/tmp")
    try:
        r = T.pg_lib("pg_start", d)
        ok(r.returncode == 0, "pg_start", r.stderr)
        if r.returncode != 0:
            return
        r = T.pg_lib("pg_start", d2)
        ok(r.returncode == 0, "pg_start (a second cluster)", r.stderr)
        if r.returncode != 0:
            return
        both = "postgresql:///parkd?host=%s&user=parkd_owner" \
            "&target_session_attrs=read-write" % urllib.parse.quote(
                os.path.realpath(d) + "," + os.path.realpath(d2), safe="")
        env = dict(os.environ, PARKD_TEST_PG_URL=T.pg_url(d, "parkd_owner"),
                   PARKD_TEST_PG_URL2=both,
                   PARKD_TEST_PG_URL_B=T.pg_url(d2, "parkd_owner"),
                   PARKD_TEST_DEV_LIB=T.DEV_LIB,
                   PARKD_TEST_PG_DIR=os.path.realpath(d))
        out = subprocess.run([prog], env=env, capture_output=True,
                             text=True, timeout=300)
        lines = out.stdout.splitlines()
        for line in lines:
            if line.startswith("ok ") or line.startswith("not ok "):
                name = line.split(" - ", 1)[-1]
                ok(line.startswith("ok "), "18-pg: " + name)
            elif line.startswith("#"):
                diag(line[1:].strip())
        ok(out.returncode == 0, "t/18-pg exits 0", out.stderr[-2000:])
        ok(re.search(r"new one is to another server .* outcome unknown",
                     out.stderr),
           "the log: the other server's answer was not taken",
           out.stderr[-2000:])
        ok(len(re.findall(r"outcome unknown", out.stderr)) >= 2,
           "the log: the restarted server was not asked either",
           out.stderr[-2000:])
    finally:
        for x in (d, d2):
            r = T.pg_lib("pg_stop", x)
            ok(r.returncode == 0, "pg_stop", r.stderr)
            if T.failures() == 0:
                shutil.rmtree(x, ignore_errors=True)
            else:
                diag("kept " + x)


T.run(main)
