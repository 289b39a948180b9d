"""smtpsink: a small SMTP server for parkd's tests (Python standard library
only: smtpd is deprecated and gone in Python 3.12).

It accepts mail on 127.0.0.1, keeps every message and the whole dialogue,
and can misbehave on purpose:

    sink = smtpsink.Sink(directory)            # mode "normal": 250 to all
    port = sink.start()
    ... parkctl mail with MAIL_SERVER=127.0.0.1 MAIL_PORT=port
        MAIL_USE_TLS=off ...
    msgs = sink.wait_messages(1, timeout=10)
    msgs[0]["Subject"]                         # email.message.EmailMessage
    msgs[0].rcpts, msgs[0].raw, msgs[0].dialogue
    sink.stop()

Modes (mode=):
  normal        every command succeeds
  reject-rcpt   554 to every RCPT TO (a permanent refusal)
  reject-data   554 after each message's final "." (not kept)
  tempfail      tempfail_code (451; 421 also closes) to the first
                `tempfail` MAIL FROM commands, then normal
  hang          accepts TCP connections and never says a word
  no-service    greets with 554 and closes
  ("refused", a closed port, is a sink that was never started: reserve a
  port with free_port() and start a Sink on it later to "recover".)

TLS: tls=(certfile, keyfile) offers STARTTLS; hide_starttls=True never
offers it (and refuses the command); implicit_tls=True speaks TLS from the
first byte (smtps).  make_certs() makes a throw-away CA and server
certificates with the openssl command.

delay=S waits S seconds after a message's final "." before its 250: the
message is already kept then, as a real server commits before it answers
(a client killed in that window is the "sent but not recorded" case).

Files in the directory: dialogue.log (every line of every session, "C:"
from the client, "S:" from the sink) and messages.jsonl (one JSON object
per message: envelope, tls, raw text).

Run by hand (dev/run): python3 t/lib/smtpsink.py --dir DIR [--port N]
[--mode M] ...; it prints "smtpsink: port N" and serves until SIGTERM.
"""

import argparse
import base64
import email
import email.policy
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

MODES = ("normal", "reject-rcpt", "reject-data", "tempfail", "hang",
         "no-service")
MAX_LINE = 64 * 1024
MAX_DATA = 20 * 1024 * 1024


def free_port():
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _show(line):
    """A received line for the log: CR, LF and other controls visible."""
    text = line.decode("utf-8", "backslashreplace")
    return "".join(c if " " <= c <= "~" or ord(c) > 0x9f
                   else "\\x%02x" % ord(c) for c in text)


def _path(arg):
    """The <path> of a MAIL FROM or RCPT TO argument, without its ESMTP
    parameters (SIZE=...); the whole argument when it has no <...>."""
    arg = arg.strip()
    if arg.startswith("<") and ">" in arg:
        return arg[:arg.index(">") + 1]
    return arg


class _Closed(Exception):
    pass


class Sink:
    """One SMTP server on 127.0.0.1 (or host).  See the module's
    documentation."""

    def __init__(self, directory, mode="normal", port=0, tls=None,
                 hide_starttls=False, implicit_tls=False, tempfail=0,
                 tempfail_code=451, delay=0.0, auth=False, host="127.0.0.1"):
        if mode not in MODES:
            raise ValueError("unknown mode %r" % mode)
        if implicit_tls and not tls:
            raise ValueError("implicit_tls needs tls=(cert, key)")
        self.dir = directory
        self.host = host
        os.makedirs(directory, exist_ok=True)
        self.mode = mode
        self.port = port
        self.tls = tls
        self.hide_starttls = hide_starttls
        self.implicit_tls = implicit_tls
        self.tempfail_left = tempfail
        self.tempfail_code = tempfail_code
        self.delay = delay
        self.auth = auth
        self._ctx = None
        if tls:
            self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            self._ctx.load_cert_chain(tls[0], tls[1])
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = None
        self._threads = []
        self._socks = set()
        self._messages = []
        self._dialogue = []  # (session, line)
        self._sessions = 0
        self.credentials = []  # (session, tls, user, password) of AUTH

    # -- running --

    def start(self):
        """Listens and serves in background threads; returns the port."""
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, self.port))
        s.listen(64)
        s.settimeout(0.2)
        self.port = s.getsockname()[1]
        self._listener = s
        t = threading.Thread(target=self._accept_loop, daemon=True)
        t.start()
        self._threads.append(t)
        return self.port

    def stop(self):
        """Stops listening and closes every connection."""
        self._stop.set()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            socks = list(self._socks)
        for c in socks:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                c.close()
            except OSError:
                pass
        for t in self._threads:
            t.join(5)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- what arrived --

    def messages(self):
        """The messages received so far, in order: EmailMessage objects
        with extra attributes raw (bytes, dots unstuffed), wire (the DATA
        bytes as sent), mail_from, rcpts (list), tls (bool), session (its
        number), dialogue (the session's lines up to the message) and
        bare_lf (a line of the DATA ended with LF alone)."""
        with self._lock:
            return list(self._messages)

    def wait_messages(self, n, timeout=10.0):
        """Waits until at least n messages arrived (or timeout); returns
        messages()."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.messages()) >= n:
                break
            time.sleep(0.02)
        return self.messages()

    def dialogue(self, session=None):
        """Every line so far ("C: ..." and "S: ..."), of one session or
        of all."""
        with self._lock:
            return [line for s, line in self._dialogue
                    if session is None or s == session]

    def commands(self, verb):
        """The client lines starting with verb (e.g. "RCPT TO")."""
        verb = verb.upper()
        return [line for line in self.dialogue()
                if line.startswith("C: ") and
                line[3:].upper().startswith(verb)]

    @property
    def sessions(self):
        """How many connections were accepted."""
        with self._lock:
            return self._sessions

    # -- the server --

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            with self._lock:
                self._sessions += 1
                sid = self._sessions
                self._socks.add(sock)
            t = threading.Thread(target=self._serve, args=(sock, sid),
                                 daemon=True)
            t.start()
            self._threads.append(t)

    def _log(self, sid, line):
        with self._lock:
            self._dialogue.append((sid, line))
            with open(os.path.join(self.dir, "dialogue.log"), "a") as f:
                f.write("%d %s\n" % (sid, line))

    def _serve(self, sock, sid):
        conn = _Session(self, sock, sid)
        try:
            conn.run()
        except (_Closed, OSError, ssl.SSLError) as e:
            self._log(sid, "-- closed: %s" % (e or "by the client"))
        finally:
            with self._lock:
                self._socks.discard(conn.sock)
                self._socks.discard(sock)
            try:
                conn.sock.close()
            except OSError:
                pass

    def _keep(self, sid, tls, mail_from, rcpts, wire, raw, bare_lf):
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        msg.raw = raw
        msg.wire = wire
        msg.mail_from = mail_from
        msg.rcpts = list(rcpts)
        msg.tls = tls
        msg.session = sid
        msg.bare_lf = bare_lf
        msg.dialogue = self.dialogue(sid)
        with self._lock:
            self._messages.append(msg)
            with open(os.path.join(self.dir, "messages.jsonl"), "a") as f:
                f.write(json.dumps({
                    "session": sid, "time": time.time(), "tls": tls,
                    "mail_from": mail_from, "rcpts": rcpts,
                    "bare_lf": bare_lf,
                    "raw": raw.decode("utf-8", "backslashreplace")}) + "\n")


class _Session:
    """One SMTP connection."""

    def __init__(self, sink, sock, sid):
        self.sink = sink
        self.sock = sock
        self.sid = sid
        self.buf = b""
        self.tls = False
        self.reset()

    def reset(self):
        self.mail_from = None
        self.rcpts = []

    def send(self, line):
        self.sink._log(self.sid, "S: " + line)
        self.sock.sendall(line.encode() + b"\r\n")

    def readline(self):
        while b"\n" not in self.buf:
            if len(self.buf) > MAX_LINE:
                raise _Closed("line too long")
            data = self.sock.recv(65536)
            if not data:
                raise _Closed("")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line + b"\n"

    def run(self):
        s = self.sink
        self.sock.settimeout(60)
        if s.mode == "hang":
            s._log(self.sid, "-- hang: accepted, saying nothing")
            s._stop.wait()
            return
        if s.implicit_tls:
            self.sock = s._ctx.wrap_socket(self.sock, server_side=True)
            with s._lock:
                s._socks.add(self.sock)
            self.tls = True
        if s.mode == "no-service":
            self.send("554 5.3.2 smtpsink.test no service for you")
            return
        self.send("220 smtpsink.test ESMTP parktest")
        while not s._stop.is_set():
            line = self.readline()
            s._log(self.sid, "C: " + _show(line.rstrip(b"\r\n")) +
                   ("" if line.endswith(b"\r\n") else " [bare LF]"))
            cmd = line.rstrip(b"\r\n").decode("utf-8", "replace")
            verb = cmd.split(" ", 1)[0].upper()
            arg = cmd[len(verb):].strip()
            handler = getattr(self, "do_" + verb, None)
            if handler is None or not verb.isalpha():
                self.send("500 5.5.2 command not recognised")
                continue
            if handler(arg) == "quit":
                return

    def do_EHLO(self, arg):
        s = self.sink
        lines = ["smtpsink.test greets %s" % arg, "8BITMIME",
                 "SIZE %d" % MAX_DATA]
        if s._ctx is not None and not self.tls and not s.hide_starttls:
            lines.append("STARTTLS")
        if s.auth:
            lines.append("AUTH PLAIN")
        for i, text in enumerate(lines):
            self.send("250%s%s" % (" " if i == len(lines) - 1 else "-",
                                   text))
        self.reset()

    def do_HELO(self, arg):
        self.send("250 smtpsink.test")
        self.reset()

    def do_STARTTLS(self, arg):
        s = self.sink
        if s._ctx is None or self.tls or s.hide_starttls:
            self.send("502 5.5.1 STARTTLS not offered")
            return
        if self.buf:  # commands sent ahead of the handshake: injection
            self.send("554 5.5.1 data after STARTTLS")
            return "quit"
        self.send("220 2.0.0 ready for TLS")
        self.sock = s._ctx.wrap_socket(self.sock, server_side=True)
        with s._lock:
            s._socks.add(self.sock)
        self.tls = True
        self.reset()

    def do_AUTH(self, arg):
        parts = arg.split()
        if not parts or parts[0].upper() != "PLAIN":
            self.send("504 5.5.4 only PLAIN")
            return
        if len(parts) > 1:
            blob = parts[1]
        else:
            self.send("334 ")
            blob = self.readline().strip().decode()
        try:
            _, user, pw = base64.b64decode(blob).split(b"\0", 2)
        except ValueError:
            self.send("501 5.5.2 bad AUTH PLAIN")
            return
        self.sink.credentials.append((self.sid, self.tls, user.decode(),
                                      pw.decode()))
        self.send("235 2.7.0 accepted")

    def do_MAIL(self, arg):
        s = self.sink
        if not arg.upper().startswith("FROM:"):
            self.send("501 5.5.4 syntax: MAIL FROM:<address>")
            return
        with s._lock:
            fail = s.mode == "tempfail" and s.tempfail_left > 0
            if fail:
                s.tempfail_left -= 1
        if fail:
            code = s.tempfail_code
            self.send("%d 4.3.0 try again later" % code)
            return "quit" if code == 421 else None
        self.mail_from = _path(arg[5:])
        self.rcpts = []
        self.send("250 2.1.0 ok")

    def do_RCPT(self, arg):
        if self.mail_from is None:
            self.send("503 5.5.1 MAIL first")
            return
        if not arg.upper().startswith("TO:"):
            self.send("501 5.5.4 syntax: RCPT TO:<address>")
            return
        if self.sink.mode == "reject-rcpt":
            self.send("554 5.7.1 recipient refused")
            return
        self.rcpts.append(_path(arg[3:]))
        self.send("250 2.1.5 ok")

    def do_DATA(self, arg):
        s = self.sink
        if not self.rcpts:
            self.send("503 5.5.1 RCPT first")
            return
        self.send("354 end data with <CR><LF>.<CR><LF>")
        wire, raw, bare_lf = [], [], False
        size = 0
        while True:
            line = self.readline()
            size += len(line)
            if size > MAX_DATA:
                raise _Closed("message too big")
            if not line.endswith(b"\r\n"):
                bare_lf = True
            if line in (b".\r\n", b".\n"):
                break
            wire.append(line)
            raw.append(line[1:] if line.startswith(b".") else line)
        s._log(self.sid, "C: <%d bytes of data>" % size)
        if s.mode == "reject-data":
            self.reset()
            self.send("554 5.6.0 message refused")
            return
        s._keep(self.sid, self.tls, self.mail_from, self.rcpts,
                b"".join(wire), b"".join(raw), bare_lf)
        self.reset()
        if s.delay:
            s._stop.wait(s.delay)
        self.send("250 2.0.0 kept")

    def do_RSET(self, arg):
        self.reset()
        self.send("250 2.0.0 ok")

    def do_NOOP(self, arg):
        self.send("250 2.0.0 ok")

    def do_VRFY(self, arg):
        self.send("252 2.1.5 cannot verify")

    def do_QUIT(self, arg):
        self.send("221 2.0.0 bye")
        return "quit"


# ---- certificates --------------------------------------------------------


def _openssl(args, cwd):
    out = subprocess.run(["openssl"] + args, cwd=cwd, capture_output=True,
                         text=True)
    if out.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(args), out.stderr))


def make_certs(directory):
    """Makes a throw-away CA and two server certificates signed by it with
    the openssl command (EC P-256, valid 2 days).  Returns a dict of paths:
    ca (the CA certificate: trust it with MAIL_CA_FILE), cert and key (for
    localhost and 127.0.0.1), wrong_cert and wrong_key (for
    wrong-name.test only, to check host name verification)."""
    os.makedirs(directory, exist_ok=True)
    p = lambda name: os.path.join(directory, name)
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    _openssl(["req", "-x509", "-new"] + key + [
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=parktest throw-away CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign"], directory)
    for name, san in (("server", "DNS:localhost,IP:127.0.0.1"),
                      ("wrong", "DNS:wrong-name.test")):
        with open(p(name + ".ext"), "w") as f:
            f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
                    "keyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=serverAuth\n" % san)
        _openssl(["req", "-new"] + key + [
            "-keyout", name + ".key", "-out", name + ".csr",
            "-subj", "/CN=" + san.split(",")[0][4:]], directory)
        _openssl(["x509", "-req", "-in", name + ".csr", "-CA", "ca.pem",
                  "-CAkey", "ca.key", "-set_serial",
                  str(int.from_bytes(os.urandom(8), "big")),
                  "-days", "2", "-out", name + ".pem",
                  "-extfile", name + ".ext"], directory)
    return {"ca": p("ca.pem"), "cert": p("server.pem"),
            "key": p("server.key"), "wrong_cert": p("wrong.pem"),
            "wrong_key": p("wrong.key")}


# ---- by hand ---------------------------------------------------------------


def main(argv):
    ap = argparse.ArgumentParser(description="An SMTP sink for tests.")
    ap.add_argument("--dir", required=True, help="where to log")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1",
                    help="the address to listen on (dev/cluster: the mail "
                         "namespace's)")
    ap.add_argument("--mode", choices=MODES, default="normal")
    ap.add_argument("--tempfail", type=int, default=0)
    ap.add_argument("--tempfail-code", type=int, default=451)
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--make-certs", action="store_true",
                    help="make a CA and certificates in DIR/certs and use "
                         "them (trust DIR/certs/ca.pem)")
    ap.add_argument("--hide-starttls", action="store_true")
    ap.add_argument("--implicit-tls", action="store_true")
    ap.add_argument("--auth", action="store_true")
    a = ap.parse_args(argv)
    tls = None
    if a.make_certs:
        c = make_certs(os.path.join(a.dir, "certs"))
        tls = (c["cert"], c["key"])
    elif a.tls_cert:
        tls = (a.tls_cert, a.tls_key or a.tls_cert)
    sink = Sink(a.dir, mode=a.mode, port=a.port, tls=tls,
                hide_starttls=a.hide_starttls, implicit_tls=a.implicit_tls,
                tempfail=a.tempfail, tempfail_code=a.tempfail_code,
                delay=a.delay, auth=a.auth, host=a.host)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *x: done.set())
    signal.signal(signal.SIGINT, lambda *x: done.set())
    port = sink.start()
    print("smtpsink: port %d" % port, flush=True)
    while not done.wait(0.5):
        pass
    sink.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
