#!/usr/bin/env python3
"""18-pg.t: runs t/18-pg (the PostgreSQL driver's unit test, db-pg.c) on
a private cluster: dev/lib.sh pg_start under a directory of /tmp, the
schema's database migrated by the test itself, through the driver, as the
owner role (PARKD_TEST_PG_URL); pg_stop at the end.  t/18-pg's own points
are passed through.  Skipped when the PostgreSQL server binaries are
missing."""

import os
import shutil
import subprocess
import sys
import tempfile

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
    try:
        r = T.pg_lib("pg_start", d)
        ok(r.returncode == 0, "pg_start", r.stderr)
        if r.returncode != 0:
            return
        env = dict(os.environ, PARKD_TEST_PG_URL=T.pg_url(d, "parkd_owner"))
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
    finally:
        r = T.pg_lib("pg_stop", d)
        ok(r.returncode == 0, "pg_stop", r.stderr)
        if T.failures() == 0:
            shutil.rmtree(d, ignore_errors=True)
        else:
            diag("kept " + d)


T.run(main)
