#!/usr/bin/python3
"""redis-cli against ringcache: interactive hints (built by redis-cli from the
server's COMMAND DOCS) load without errors, --pipe mass insertion of 100k
keys, --scan, --bigkeys, --eval reported as unsupported cleanly, SHUTDOWN."""
import fcntl
import os
import pty
import re
import select
import signal
import struct
import tempfile
import termios
import time

import common

CLI = os.environ.get("REDIS_CLI", "/usr/bin/redis-cli")
NKEYS = 100000


class Pty:
    """redis-cli in interactive mode on a pseudo-terminal."""

    def __init__(self, argv):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # child
            try:
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 220, 0, 0))
                os.environ["TERM"] = "xterm"
                os.environ.pop("REDISCLI_HISTFILE", None)
                os.environ["HOME"] = tempfile.mkdtemp()
                os.execv(argv[0], argv)
            finally:
                os._exit(127)
        self.out = b""
        self.status = None
        self.reaped = False

    def read_until(self, pattern, timeout):
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while time.monotonic() < deadline:
            if rx.search(self.out):
                return True
            r, _, _ = select.select([self.fd], [], [], 0.05)
            if r:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:
                    break
                if not data:
                    break
                self.out += data
        return bool(rx.search(self.out))

    def type(self, text):
        os.write(self.fd, text)

    def close(self, timeout=5.0):
        """Exit status of redis-cli, or None if it had to be killed."""
        if self.reaped:
            return self.status
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.reaped, self.status = True, os.waitstatus_to_exitcode(status)
                os.close(self.fd)
                return self.status
            self.read_until(rb"(?!)", 0.05)   # keep draining the pty
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        os.close(self.fd)
        self.reaped = True
        return None


def interactive(rep, t, port, ringcache):
    prompt = rb"127\.0\.0\.1:%s> " % port.encode()
    if not rep.check("interactive: prompt, no error at startup",
                     t.read_until(prompt, 10) and b"rror" not in t.out,
                     "output: %r" % strip_ansi(t.out)[-300:]):
        return
    # Hints are what redis-cli 7 builds from the server's COMMAND DOCS reply.
    hints = [
        (b"set ", rb"key value \[NX\|XX\] \[GET\] \[EX seconds\|PX milliseconds"),
        (b"getex k ", rb"\[EX seconds\|PX milliseconds\|EXAT unix-time-seconds"),
        (b"expire k 10 ", rb"\[NX\|XX\|GT\|LT\]"),
        (b"client setname ", rb"connection-name"),
        (b"config get ", rb"parameter"),
        (b"scan 0 ", rb"\[MATCH pattern\] \[COUNT count\] \[TYPE type\]"),
    ]
    if ringcache:
        # Only ringcache's COMMAND DOCS has this (Redis 7.2) subcommand: its
        # hint proves the hints were built from the server's reply.
        hints.append((b"client setinfo ", rb"LIB-NAME libname\|LIB-VER libver"))
    for typed, want in hints:
        t.out = b""
        t.type(typed)
        rep.check("interactive: hint for %r" % typed.decode(), t.read_until(want, 5),
                  "hint not shown; screen: %r" % strip_ansi(t.out)[-300:])
        t.out = b""
        t.type(b"\x15")  # Ctrl-U clears the line (linenoise stays in raw mode)
        t.read_until(prompt + rb"\r\x1b\[\d+C$", 3)
    # After Enter, wait for the reply and the next prompt before typing on:
    # keys typed while redis-cli is not in raw mode would be cooked by the tty.
    for cmd, want in [(b"PING", rb"PONG"), (b"SET hello world", rb"OK"),
                      (b"GET hello", rb'"world"'), (b"INCR n", rb"\(integer\) 1"),
                      (b"SET bin \"\\x00\\xff\"", rb"OK"), (b"STRLEN bin", rb"\(integer\) 2"),
                      (b"NOSUCH", rb"\(error\) ERR unknown command 'NOSUCH'")]:
        t.out = b""
        t.type(cmd + b"\r")
        rep.check("interactive: %s" % cmd.decode(),
                  t.read_until(rb"\r\n" + want + rb"[^\n]*\r\n" + prompt, 5),
                  "screen: %r" % strip_ansi(t.out)[-300:])
    t.out = b""
    t.type(b"quit\r")
    code = t.close()
    rep.check("interactive: quit", code == 0, "exit status %r; screen %r" % (code, strip_ansi(t.out)[-200:]))


def strip_ansi(b):
    return re.sub(rb"\x1b\[[0-9;]*[A-Za-z]", b"", b)


def main():
    opts = common.parse_args(__doc__)
    rep = common.Report("redis-cli")
    with common.server(opts) as srv:
        port = str(srv.port)
        base = [CLI, "-h", "127.0.0.1", "-p", port]

        @rep.step("interactive mode: hints from COMMAND DOCS, no errors")
        def _():
            t = Pty(base)
            try:
                interactive(rep, t, port, not opts.against_redis)
            finally:
                t.close(2.0)

        common.run(base + ["FLUSHALL"], 10)

        @rep.step("--pipe mass insertion")
        def _():
            payload = b"".join(
                b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v)
                for k, v in ((b"key:%d" % i, b"value:%d" % i) for i in range(NKEYS)))
            t0 = time.monotonic()
            code, out, err = common.run(base + ["--pipe"], 120, input=payload)
            text = (out + err).decode("utf-8", "replace")
            ok = code == 0 and re.search(r"errors: 0, replies: %d" % NKEYS, text)
            rep.check("--pipe: %d SETs" % NKEYS, ok, "exit %r: %s" % (code, common.short(text)),
                      "%.1fs" % (time.monotonic() - t0))
            code, out, _ = common.run(base + ["DBSIZE"], 10)
            rep.check("--pipe: DBSIZE", out.strip() == b"%d" % NKEYS, "DBSIZE said %r" % out)
            code, out, _ = common.run(base + ["GET", "key:99999"], 10)
            rep.check("--pipe: GET key:99999", out.strip() == b"value:99999", "got %r" % out)

        @rep.step("--scan")
        def _():
            code, out, err = common.run(base + ["--scan"], 60)
            keys = out.split()
            rep.check("--scan: every key once", code == 0 and len(keys) == NKEYS and len(set(keys)) == NKEYS,
                      "exit %r, %d keys (%d distinct); %s" % (code, len(keys), len(set(keys)), common.short(err)))
            code, out, err = common.run(base + ["--scan", "--pattern", "key:1*"], 60)
            want = {b"key:%d" % i for i in range(NKEYS) if str(i).startswith("1")}
            got = set(out.split())
            rep.check("--scan --pattern key:1*", code == 0 and got == want,
                      "exit %r, %d keys, %d expected" % (code, len(got), len(want)))
            code, out, err = common.run(base + ["--scan", "--pattern", "nomatch*"], 60)
            rep.check("--scan --pattern nomatch*", code == 0 and out.strip() == b"",
                      "exit %r: %s" % (code, common.short(out + err)))

        @rep.step("--bigkeys")
        def _():
            common.run(base + ["SET", "the-biggest", "x" * 5000], 10)
            code, out, err = common.run(base + ["--bigkeys"], 90)
            text = out.decode("utf-8", "replace")
            ok = code == 0 and "Biggest string found '\"the-biggest\"' has 5000 bytes" in text \
                and re.search(r"^%d strings with " % (NKEYS + 1), text, re.M)
            rep.check("--bigkeys", ok, "exit %r: %s" % (code, common.short(text[-600:] + err.decode())))

        @rep.step("--eval is unsupported, cleanly")
        def _():
            with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
                f.write("return redis.call('GET', KEYS[1])\n")
                script = f.name
            try:
                code, out, err = common.run(base + ["--eval", script, "key:1", ",", "arg"], 15)
            finally:
                os.unlink(script)
            text = (out + err).decode("utf-8", "replace")
            if opts.against_redis:
                rep.check("--eval (redis-server runs it)", code == 0 and "value:1" in text,
                          "exit %r: %s" % (code, common.short(text)))
            else:
                # redis-cli prints the error reply; 7.0 exits 0 after an error
                # reply, so the check is: the reply came back, no hang, no
                # dropped connection.
                ok = code is not None and "ERR unknown command 'EVAL'" in text \
                    and "closed the connection" not in text
                rep.check("--eval: reported as an unknown command, no hang", ok,
                          "exit %r: %s" % (code, common.short(text)),
                          "exit %d: %s" % (code or 0, common.short(text, 120)))
            code, out, _ = common.run(base + ["PING"], 10)
            rep.check("--eval: server still answers", out.strip() == b"PONG", "PING said %r" % out)

        @rep.step("SHUTDOWN")
        def _():
            code, out, err = common.run(base + ["SHUTDOWN", "NOSAVE"], 15)
            rep.check("SHUTDOWN NOSAVE: redis-cli", code == 0, "exit %r: %s" % (code, common.short(out + err)))
            try:
                status = srv.proc.wait(10)
            except Exception:  # noqa: BLE001
                status = None
            rep.check("SHUTDOWN NOSAVE: server exits with status 0", status == 0,
                      "server exit status %r; log: %s" % (status, srv.log_tail(5)))
    return rep.finish()


if __name__ == "__main__":
    raise SystemExit(main())
