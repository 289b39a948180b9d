#!/usr/bin/env python3
"""70-browser.t: the web app in headless Chromium against the real stack.

Starts a stack (Redis, parkd, nginx) with the sample data, builds the web
root into it (web/build.mjs: the app and /api/docs), and runs
t/browser/e2e.mjs with Node.js, which drives Debian's chromium through the
npm package playwright-core: a driver registers, logs in, searches, books,
sees the spot and the running cost, releases and sees the final cost,
reserves ahead (a window, the lot's free places and day slots, the
upcoming list with its countdown, the admin's day timeline, cancel),
pages the history, exports to CSV (progress, download, e-mailed link; the
test runs "parkctl exports" and "parkctl mail" and reads the .eml), changes
profile and password; a driver who forgot the password asks for a
link, follows the e-mailed link (.eml), resets it and logs in, and the
link is refused the second time; an unverified driver sees the profile's
notice and sends the link again; the admin creates a lot, sees the booked spot in the
grid, resizes, is refused a delete (409), filters reservations, deactivates
and activates a user; an expired access token makes exactly one refresh
for two calls at once; logout; a phone-sized screen; /api/docs.  Every
request any page makes must go to the page's own origin.

The script prints "ok - NAME", "not ok - NAME", "... # SKIP why" and "#"
lines; this wrapper numbers them into TAP.  Screenshots go to
$abs_top_builddir/t/artifacts/ (the page load time is a diagnostic line).

Needs node, the npm packages of package.json (npm ci) and /usr/bin/chromium.
Without them the file is skipped, unless PARKD_REQUIRE_BROWSER=1 (dev/check
sets it), which makes a missing piece a failure.  CHROMIUM names another
browser binary.
"""

import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import parktest as T  # noqa: E402
from parktest import diag, ok  # noqa: E402

SRC = T.SRCDIR
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = os.path.join(T.BUILDDIR, "t", "artifacts")
SCRIPT = os.path.join(SRC, "t", "browser", "e2e.mjs")


def missing():
    """What the test needs and does not have, as a list of words."""
    out = []
    if not shutil.which("node"):
        out.append("node")
    for pkg in ("playwright-core", "swagger-ui-dist"):
        if not os.path.isfile(os.path.join(SRC, "node_modules", pkg,
                                           "package.json")):
            out.append("the npm package %s (run npm ci)" % pkg)
    if not os.access(CHROMIUM, os.X_OK):
        out.append(CHROMIUM + " (apt-get install chromium)")
    return out


DONE = "# e2e: done"


def relay(proc):
    """Turns the script's output into numbered TAP test points; True when
    the script said it reached its end."""
    point = re.compile(r"^(not )?ok - (.*?)(?: # SKIP (.*))?$")
    done = False
    for line in proc.stdout:
        line = line.rstrip("\n")
        m = point.match(line)
        if m and m.group(3) is not None:
            T.skip(m.group(2), m.group(3))
        elif m:
            ok(m.group(1) is None, m.group(2))
        elif line == DONE:
            done = True
        elif line.startswith("#"):
            diag(line[1:].lstrip())
        elif line:
            diag(line)
    return done


def main():
    lack = missing()
    if lack:
        why = "needs " + ", ".join(lack)
        if os.environ.get("PARKD_REQUIRE_BROWSER") == "1":
            ok(False, "the browser test can run", "  " + why)
            return
        print("1..0 # SKIP " + why)
        sys.exit(0)
    with T.Stack(workers=2) as s:
        r = s.parkctl("db", "reset", "--yes")
        if not ok(r.returncode == 0, "the sample data is loaded",
                  r.stdout, r.stderr):
            return
        www = os.path.join(s.dir, "www")
        b = subprocess.run(["node", os.path.join(SRC, "web", "build.mjs"),
                            "--out", www], capture_output=True, text=True)
        if not ok(b.returncode == 0, "web/build.mjs builds the web root",
                  b.stdout, b.stderr):
            return
        diag(b.stdout.strip())
        shutil.rmtree(ARTIFACTS, ignore_errors=True)
        os.makedirs(ARTIFACTS, exist_ok=True)
        env = dict(os.environ,
                   PARKD_URL="http://127.0.0.1:%d" % s.port,
                   PARKD_ADMIN_EMAIL=s.admin_email,
                   PARKD_ADMIN_PASSWORD=s.admin_password,
                   PARKD_JWT_SECRET=s.settings["JWT_SECRET_KEY"],
                   PARKCTL=T.PARKCTL,
                   PARKD_SETTINGS=s.settings_path,
                   PARKD_MAIL_DIR=s.settings["PARKD_MAIL_DIR"],
                   PARKD_ARTIFACTS=ARTIFACTS,
                   CHROMIUM=CHROMIUM)
        errlog = os.path.join(s.dir, "logs", "e2e.stderr")
        with open(errlog, "w") as errf:
            proc = subprocess.Popen(["node", SCRIPT], stdout=subprocess.PIPE,
                                    stderr=errf, text=True, env=env, cwd=SRC,
                                    stdin=subprocess.DEVNULL,
                                    preexec_fn=T._child_setup)
        try:
            done = relay(proc)
            rc = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        err = T.tail(errlog, 60)
        ok(done, "the browser script ran to its end",
           "  exit status %s" % rc, err[-4000:])


T.run(main)
