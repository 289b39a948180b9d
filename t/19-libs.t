#!/usr/bin/env python3
"""19-libs.t: every library behind one file of ours (STYLE.md, Libraries).

Each library's headers are included by one file of src/ alone: SQLite by
db-sqlite.c (the SQLite driver of the data layer, issue #17: the rest of
the data layer sees struct dbstmt and the db_col_*() accessors, so a second
back end is one more driver file), libpq by db-pg.c (the PostgreSQL driver), json-c by json.c, hiredis by cache.c,
OpenSSL by crypto.c, libjwt by token.c, libcurl by mail.c, libfcgi by
fcgi.c.  The check reads the sources: a header included anywhere else, or
an engine call (sqlite3_*) outside its file, fails it.  It checks itself on
a made-up tree: a second file including sqlite3.h, or calling sqlite3_step,
is found.
"""

import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import parktest as T  # noqa: E402
from parktest import ok  # noqa: E402

# library: (its one file, the pattern of its headers, a call only it makes)
LIBS = {
    "SQLite": ("db-sqlite.c", r"sqlite3\.h", r"\bsqlite3_[a-z0-9_]+\s*\("),
    "libpq": ("db-pg.c", r"(libpq-fe|libpq-events|postgres_ext)\.h",
              r"\bPQ[a-z][A-Za-z]+\s*\("),
    "json-c": ("json.c", r"json-c/", None),
    "hiredis": ("cache.c", r"hiredis/", None),
    "OpenSSL": ("crypto.c", r"openssl/", None),
    "libjwt": ("token.c", r"jwt\.h", None),
    "libcurl": ("mail.c", r"curl/", None),
    "libfcgi": ("fcgi.c", r"fcgi(app|_stdio|_config)?\.h", None),
}


def strip_comments(text):
    """text without C comments and string literals (a comment may name a
    function; the statement table's SQL names none)."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    return re.sub(r'"(\\.|[^"\\\n])*"', '""', text)


def offenders(srcdir):
    """{library: [(file, what)]} of the files breaking the rule."""
    found = {}
    names = sorted(n for n in os.listdir(srcdir)
                   if n.endswith(".c") or n.endswith(".h"))
    for name in names:
        with open(os.path.join(srcdir, name), errors="replace") as f:
            text = f.read()
        code = strip_comments(text)
        for lib, (home, header, call) in LIBS.items():
            if name == home:
                continue
            if re.search(r'^\s*#\s*include\s*[<"]' + header, text, re.M):
                found.setdefault(lib, []).append((name, "includes it"))
            if call and re.search(call, code):
                found.setdefault(lib, []).append((name, "calls it"))
    return found


def main():
    src = os.path.join(T.SRCDIR, "src")
    bad = offenders(src)
    for lib, (home, _, _) in LIBS.items():
        ok(os.path.exists(os.path.join(src, home)), "%s's file %s exists" %
           (lib, home))
        ok(lib not in bad, "only %s includes or calls %s" % (home, lib),
           *["%s %s" % (f, w) for f, w in bad.get(lib, [])])

    # The check can fail: a made-up tree with a second SQLite file.
    d = tempfile.mkdtemp(prefix="parkd-libs-")
    try:
        with open(os.path.join(d, "db-sqlite.c"), "w") as f:
            f.write("#include <sqlite3.h>\nint x(void) "
                    "{ return sqlite3_step(0); }\n")
        with open(os.path.join(d, "db-lots.c"), "w") as f:
            f.write("/* sqlite3_step( in a comment is fine */\n"
                    "static const char *s = \"sqlite3_x(\";\n"
                    "int y(void) { return sqlite3_column_int64(0, 0); }\n")
        with open(os.path.join(d, "db-int.h"), "w") as f:
            f.write("#include <sqlite3.h>\n")
        got = offenders(d).get("SQLite", [])
        ok(sorted(got) == [("db-int.h", "includes it"),
                           ("db-lots.c", "calls it")],
           "the check finds a second file including or calling SQLite, "
           "not its comments or strings", repr(got))
    finally:
        shutil.rmtree(d, ignore_errors=True)


T.run(main)
