#!/usr/bin/env python3
"""67-deps.t: the dependency baseline of reliability.md (test plan row 28).

SECURITY.md's table "Library versions checked" names the Debian packages
whose pitfalls the defences were checked against, and their versions.  Each
must be installed at that version or newer (dpkg --compare-versions): an
older one may lack a fix the tests rely on (libjwt's CVE-2024-25189 patch,
libfcgi's partial CVE-2025-23016 fix, curl's backports...).  The probes of
the pitfalls themselves are tests of their own: F1 t/65-socket.t, F2
t/08-token and t/53-auth.t, F3 t/01-json, F4 t/58-redis-faults.t, F5
t/56-concurrency.t, F6 t/12-mail and t/61-mail.t, F7 t/07-pw.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import parktest as T  # noqa: E402
from parktest import diag, ok, skip  # noqa: E402


def floors():
    """(package, version) rows of SECURITY.md's "Library versions checked"."""
    path = os.path.join(T.SRCDIR, "SECURITY.md")
    with open(path) as f:
        text = f.read()
    part = text.split("## Library versions checked", 1)
    if len(part) != 2:
        return []
    rows = []
    for line in part[1].splitlines():
        m = re.match(r"^\|\s*([a-z0-9][a-z0-9.+-]*)\s*\|\s*([^|\s]+)\s*\|$",
                     line)
        if m and m.group(1) != "package":
            rows.append((m.group(1), m.group(2)))
        elif rows and not line.startswith("|"):
            break
    return rows


def main():
    rows = floors()
    ok(len(rows) >= 9, "SECURITY.md names the checked packages (%d)" % len(rows))
    if shutil.which("dpkg-query") is None:
        skip("package versions", "not a Debian system (no dpkg-query)")
        return
    for pkg, floor in rows:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg],
                             capture_output=True, text=True)
        have = out.stdout.strip()
        if out.returncode != 0 or not have:
            ok(False, "%s is installed" % pkg, out.stderr.strip())
            continue
        ge = subprocess.run(["dpkg", "--compare-versions", have, "ge",
                             floor]).returncode == 0
        ok(ge, "%s %s is at least %s" % (pkg, have, floor))
        if ge and have != floor:
            diag("%s is newer than the version checked: run dev/check" % pkg)
    lib_floors()


def lib_floors():
    """dev/lib.sh's below_floor, which dev/run and dev/check use to bring
    such packages up to their floors, on a table of our own: a package
    below its floor is named, one at or above it is not, nor is a row of
    another table."""
    have = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libc6"],
                          capture_output=True, text=True).stdout.strip()
    table = ("# x\n\n## Library versions checked\n\n"
             "| package | version |\n|---|---|\n"
             "| libc6 | %s |\n| dpkg | 99:1 |\n"
             "| parkd-no-such-package | 1.0 |\n\n## Next\n\n"
             "| libc6 | 99:1 |\n" % have)
    d = tempfile.mkdtemp(prefix="parktest-67-")
    path = os.path.join(d, "SECURITY.md")
    with open(path, "w") as f:
        f.write(table)
    out = subprocess.run(
        ["bash", "-c", '. "$1/dev/lib.sh"; below_floor "$2"', "-",
         T.SRCDIR, path], capture_output=True, text=True)
    lines = sorted(out.stdout.splitlines())
    ok(out.returncode == 0, "below_floor runs", out.stderr.strip())
    ok(len(lines) == 2 and lines[0].startswith("dpkg ") and
       lines[0].endswith(" 99:1") and
       lines[1] == "parkd-no-such-package - 1.0",
       "below_floor names the package below its floor and the missing "
       "one, not the one at its floor nor another table's row",
       repr(lines))
    shutil.rmtree(d, ignore_errors=True)


T.run(main)
