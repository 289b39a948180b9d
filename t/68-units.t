#!/usr/bin/env python3
"""68-units.t: nothing in the systemd units runs as root on a path the
service user controls (issue #14, item 2).

The units checked are the ones "make install" installs: systemd/*.in as the
build rendered them (the Makefile's sed rule; "make check" builds them
first), the timers as they are, and tmpfiles.d/parkd.conf.

* Every service runs as an unprivileged User=, and no Exec*= command is
  prefixed "+" or "!" (full privileges, or root without the user switch),
  whatever else the prefix holds; no PermissionsStartOnly=.  Simplest rule
  that cannot miss a case: a root command under /var/lib/parkd follows a
  symbolic link parkd planted there (coreutils 9.1 "install -d -o parkd -g
  www-data /var/lib/parkd/exports" gave the link's target to parkd).
* No Exec*= command changes owners or modes (chown, chgrp, chmod, setfacl,
  install): directories are systemd's (StateDirectory=, tmpfiles.d).
* The FastCGI socket's group is parkd-web, the export folder's group, not
  www-data, which other web applications share; the socket's directory is
  no service's RuntimeDirectory= (PID 1 chowns the socket there as root).
* tmpfiles.d/parkd.conf agrees with the units (StateDirectoryMode=) and,
  when systemd-tmpfiles is installed, creates the directories with their
  modes and owners in a scratch root, and changes nothing when a symbolic
  link stands where the export folder should be.
* systemd-analyze verify accepts the units, when it can run here.
"""

import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import parktest as T  # noqa: E402
from parktest import diag, is_, ok, skip  # noqa: E402

EXEC_KEYS = ("ExecCondition", "ExecStartPre", "ExecStart", "ExecStartPost",
             "ExecReload", "ExecStop", "ExecStopPost")
# Commands that change owners or modes: none belongs in a unit.
PERM_TOOLS = {"chown", "chgrp", "chmod", "setfacl", "install"}
SOCKET_GROUP = "parkd-web"


def rendered():
    """{name: text} of every unit and tmpfiles file make install installs:
    the build's rendering of each systemd/**/*.in, and the timers."""
    units = {}
    src = os.path.join(T.SRCDIR, "systemd")
    ins = sorted(glob.glob(os.path.join(src, "**", "*.in"), recursive=True))
    ok(len(ins) >= 8, "systemd/ has its templates (%d)" % len(ins))
    for path in ins:
        rel = os.path.relpath(path, src)[:-len(".in")]
        out = os.path.join(T.BUILDDIR, "systemd", rel)
        if not ok(os.path.isfile(out), "%s was rendered by the build" % rel,
                  "  no %s (run make)" % out):
            continue
        with open(out) as f:
            text = f.read()
        left = re.findall(r"@[A-Za-z_]+@", text)
        ok(not left, "%s: every @name@ was replaced" % rel, "  left: %s"
           % " ".join(sorted(set(left))))
        units[rel] = text
    for path in sorted(glob.glob(os.path.join(src, "*.timer"))):
        with open(path) as f:
            units[os.path.basename(path)] = f.read()
    return units


def parse_unit(text):
    """[(section, key, value)] of a unit file: comments dropped, backslash
    continuations joined, as systemd reads it."""
    rows = []
    section = None
    pending = ""
    for line in text.splitlines():
        if pending:
            line = pending + " " + line.strip()
            pending = ""
        s = line.strip()
        if not s or s[0] in "#;":
            continue
        if s.endswith("\\"):
            pending = s[:-1]
            continue
        m = re.match(r"^\[(.+)\]$", s)
        if m:
            section = m.group(1)
            continue
        key, sep, value = s.partition("=")
        if sep:
            rows.append((section, key.strip(), value.strip()))
    return rows


def values(rows, section, key):
    return [v for (s, k, v) in rows if s == section and k == key]


def commands(value):
    """(prefix, argv) of each command of one Exec*= value (";" separates
    commands, as systemd.service(5) says)."""
    out = []
    cmd = []
    for word in shlex.split(value):
        if word == ";":
            if cmd:
                out.append(cmd)
            cmd = []
        else:
            cmd.append(word)
    if cmd:
        out.append(cmd)
    result = []
    for argv in out:
        m = re.match(r"^([-@:+!|]*)(.*)$", argv[0])
        result.append((m.group(1), [m.group(2)] + argv[1:]))
    return result


def check_service(name, rows):
    users = values(rows, "Service", "User")
    ok(users and users[-1] not in ("", "root", "0"),
       "%s runs as an unprivileged user (User=%s)"
       % (name, users[-1] if users else "missing"))
    pso = [v for v in values(rows, "Service", "PermissionsStartOnly")
           if v.lower() in ("yes", "true", "1", "on")]
    ok(not pso, "%s has no PermissionsStartOnly=" % name)
    privileged = []
    perms = []
    for (s, k, v) in rows:
        if s != "Service" or k not in EXEC_KEYS:
            continue
        for prefix, argv in commands(v):
            if "+" in prefix or "!" in prefix:
                privileged.append("%s=%s" % (k, v))
            words = [os.path.basename(w) for w in argv]
            # "sh -c 'chown ...'" too: every word of a shell's script.
            for w in argv[1:]:
                words += [os.path.basename(x) for x in re.split(r"[\s;&|()]+",
                                                                w) if x]
            if PERM_TOOLS.intersection(words):
                perms.append("%s=%s" % (k, v))
    ok(not privileged, "%s: no command runs as root (no + or ! prefix)"
       % name, *["  " + c for c in privileged])
    ok(not perms, "%s: no command changes owners or modes" % name,
       *["  " + c for c in perms])


def tmpfiles_lines(text):
    """{path: (type, mode, user, group)} of a tmpfiles.d file."""
    out = {}
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        f = s.split()
        f += ["-"] * (6 - len(f))
        out[f[1]] = (f[0], f[2], f[3], f[4])
    return out


def check_socket(units, services):
    text = units.get("parkd.socket")
    if not ok(text is not None, "parkd.socket is among the units"):
        return None
    rows = parse_unit(text)
    groups = values(rows, "Socket", "SocketGroup")
    group = groups[-1] if groups else ""
    is_(group, SOCKET_GROUP, "parkd.socket: group parkd-web, so nginx's user "
        "connects only through its membership of parkd-web")
    ok(group not in ("www-data", "", "root"),
       "parkd.socket: not group www-data (other web applications share it)",
       "  SocketGroup=%r" % group)
    modes = values(rows, "Socket", "SocketMode")
    ok(modes and int(modes[-1], 8) & 0o007 == 0,
       "parkd.socket: others may not connect (SocketMode=%s)"
       % (modes[-1] if modes else "missing"))
    listen = values(rows, "Socket", "ListenStream")
    if not ok(listen and listen[-1].startswith("/"),
              "parkd.socket listens on a unix socket path"):
        return None
    sockdir = os.path.dirname(listen[-1])
    # RuntimeDirectory=parkd makes /run/parkd the service user's: PID 1
    # would then bind and chown the socket as root in parkd's directory.
    for name, srows in services.items():
        mine = []
        for v in values(srows, "Service", "RuntimeDirectory"):
            mine += v.split()
        owned = [d for d in mine
                 if os.path.basename(sockdir) == d.split("/")[0]]
        ok(not owned, "%s: the socket's directory %s is not its "
           "RuntimeDirectory (PID 1 chowns the socket there as root)"
           % (name, sockdir), "  RuntimeDirectory=%s" % " ".join(mine))
    return sockdir


def check_tmpfiles(units, services, sockdir):
    text = units.get("tmpfiles.d/parkd.conf")
    if not ok(text is not None, "tmpfiles.d/parkd.conf is among the files"):
        return None
    lines = tmpfiles_lines(text)
    is_(lines.get("/var/lib/parkd/exports"), ("d", "2750", "parkd",
                                              SOCKET_GROUP),
        "tmpfiles: the export folder is parkd:parkd-web 2750 (setgid)")
    st = lines.get("/var/lib/parkd")
    is_(st, ("d", "0711", "parkd", "parkd"),
        "tmpfiles: the state directory is parkd:parkd 0711")
    for name, rows in services.items():
        sd = values(rows, "Service", "StateDirectory")
        sm = values(rows, "Service", "StateDirectoryMode")
        if sd:
            is_((sd[-1], sm[-1] if sm else "0755"),
                ("parkd", st[1] if st else None),
                "%s: StateDirectory= agrees with tmpfiles (mode %s)"
                % (name, st[1] if st else "?"))
    if sockdir is not None:
        is_(lines.get(sockdir), ("d", "0755", "root", "root"),
            "tmpfiles: the socket's directory %s is root's" % sockdir)
    return text


def mode_owner(path):
    st = os.lstat(path)
    return (oct(st.st_mode & 0o7777), st.st_uid, st.st_gid)


def run_tmpfiles(tool, root, conf):
    return subprocess.run([tool, "--root=" + root, "--create", conf],
                          capture_output=True, text=True, timeout=60)


def probe_tmpfiles(text, sockdir):
    tool = shutil.which("systemd-tmpfiles")
    if tool is None:
        skip("systemd-tmpfiles creates the directories",
             "systemd-tmpfiles is not installed")
        skip("systemd-tmpfiles leaves a planted link alone",
             "systemd-tmpfiles is not installed")
        return
    tmp = tempfile.mkdtemp(prefix="parkd-68-")
    try:
        root = os.path.join(tmp, "root")
        etc = os.path.join(root, "etc")
        os.makedirs(etc)
        os.chmod(root, 0o755)
        os.chmod(etc, 0o755)
        # --root resolves users in the root's own passwd and group.  As
        # root: ids no one has; otherwise our own (chown to them works
        # unprivileged; the modes still tell).
        if os.geteuid() == 0:
            uid, gid, wgid = 64242, 64242, 64243
        else:
            uid, gid = os.getuid(), os.getgid()
            wgid = gid
        with open(os.path.join(etc, "passwd"), "w") as f:
            f.write("root:x:0:0::/root:/bin/sh\n"
                    "parkd:x:%d:%d::/var/lib/parkd:/usr/sbin/nologin\n"
                    % (uid, gid))
        with open(os.path.join(etc, "group"), "w") as f:
            f.write("root:x:0:\nparkd:x:%d:\n%s:x:%d:www-data\n"
                    % (gid, SOCKET_GROUP, wgid))
        conf = os.path.join(tmp, "parkd.conf")
        with open(conf, "w") as f:
            f.write(text)
        if os.geteuid() != 0:
            # Only root can make root-owned directories: check the rest.
            with open(conf, "w") as f:
                f.write("".join(line + "\n" for line in text.splitlines()
                                if sockdir is None or sockdir not in line))
        r = run_tmpfiles(tool, root, conf)
        state = os.path.join(root, "var/lib/parkd")
        exports = os.path.join(state, "exports")
        want = [(state, ("0o711", uid, gid)),
                (exports, ("0o2750", uid, wgid))]
        if os.geteuid() == 0 and sockdir is not None:
            want.append((root + sockdir, ("0o755", 0, 0)))
        got = [(p, mode_owner(p) if os.path.lexists(p) else None)
               for p, _ in want]
        ok(r.returncode == 0 and got == want,
           "systemd-tmpfiles creates the directories with their modes and "
           "owners", "  exit %d: %s" % (r.returncode, r.stderr.strip()),
           "  got:  %r" % got, "  want: %r" % want)

        # parkd (who owns /var/lib/parkd) replaces the folder by a link to
        # /etc (relative, so that it stays in the scratch root even if it
        # were followed without regard to --root), then tmpfiles runs again
        # as at the next boot.
        os.rmdir(exports)
        os.symlink("../../../etc", exports)
        if os.geteuid() == 0:
            os.lchown(exports, uid, gid)
        before = mode_owner(etc)
        r = run_tmpfiles(tool, root, conf)
        after = mode_owner(etc)
        ok(before == after and os.path.islink(exports),
           "systemd-tmpfiles leaves a planted link alone: the target's mode "
           "and owner are unchanged",
           "  /etc before %r, after %r" % (before, after),
           "  exit %d: %s" % (r.returncode, r.stderr.strip()))
        diag("systemd-tmpfiles on the link: " + (r.stderr.strip() or "-"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def verify(units):
    """systemd-analyze verify on the units, the binaries' paths pointed at
    the build's (verify wants every command to exist)."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        skip("systemd-analyze verify accepts the units",
             "systemd-analyze is not installed")
        return
    tmp = tempfile.mkdtemp(prefix="parkd-68v-")
    try:
        # First a unit that must pass: if it does not, verify cannot run
        # here (a container without what it needs), which is no failure of
        # ours.
        probe = os.path.join(tmp, "parkd-68-probe.service")
        with open(probe, "w") as f:
            f.write("[Service]\nType=oneshot\nExecStart=/bin/true\n")
        argv = [tool, "verify", "--man=no"]
        try:
            r = subprocess.run(argv + [probe], capture_output=True,
                               text=True, timeout=120)
        except subprocess.TimeoutExpired:
            r = None
        os.unlink(probe)
        if r is None or r.returncode != 0:
            skip("systemd-analyze verify accepts the units",
                 "systemd-analyze verify does not work here: %s"
                 % ("timed out" if r is None else
                    r.stderr.strip().replace("\n", " ")[:200]))
            return
        files = []
        for name, text in units.items():
            if "/" in name:
                continue
            text = re.sub(r"(?<=[=\s+!@-])/\S*/(parkctl|parkd)(?=\s|$)",
                          lambda m: os.path.join(T.BUILDDIR, m.group(1)),
                          text)
            path = os.path.join(tmp, name)
            with open(path, "w") as f:
                f.write(text)
            files.append(path)
        r = subprocess.run(argv + sorted(files), capture_output=True,
                           text=True, timeout=120)
        ok(r.returncode == 0 and not r.stderr.strip(),
           "systemd-analyze verify accepts the %d units" % len(files),
           "  exit %d" % r.returncode, r.stderr.strip())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    units = rendered()
    services = {}
    for name, text in sorted(units.items()):
        if name.endswith(".service"):
            services[name] = parse_unit(text)
            check_service(name, services[name])
    ok(len(services) >= 6, "every service was checked (%d)" % len(services))
    sockdir = check_socket(units, services)
    text = check_tmpfiles(units, services, sockdir)
    if text is not None:
        probe_tmpfiles(text, sockdir)
    verify(units)


T.run(main)
