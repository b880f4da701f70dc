"""Shared by the real-client checks: arguments, the servers under test, the
PASS/FAIL bookkeeping and the closing `NAME: N passed, N failed` line.

Every check script takes --ringcache PATH (one ringcache-server), plus
--cluster N (a local N-member cluster with replicas 3 instead), or
--against-memcached (Debian's memcached, to validate the check itself).
"""
import argparse
import os
import signal
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import mcservers  # noqa: E402

CHECK_TIMEOUT = 30   # seconds, for one check


class CheckTimeout(Exception):
    pass


class Target:
    """What a check talks to: .ports (memcached ports, member 1 first),
    .resp_ports (ringcache only), .kind ("memcached", "ringcache",
    "cluster")."""

    def __init__(self, server, kind):
        self.server = server
        self.kind = kind

    @property
    def ports(self):
        return list(self.server.ports)

    @property
    def port(self):
        return self.server.port

    @property
    def resp_ports(self):
        if self.kind == "memcached":
            return []
        if self.kind == "cluster":
            return self.server.resp_ports
        return [self.server.resp_port]

    @property
    def is_memcached(self):
        return self.kind == "memcached"

    @property
    def is_cluster(self):
        return self.kind == "cluster"


class Checks:
    def __init__(self, name, description=""):
        self.name = name
        ap = argparse.ArgumentParser(description=description)
        ap.add_argument("--ringcache", help="path to ringcache-server")
        ap.add_argument("--cluster", type=int, default=0, metavar="N",
                        help="a local N-member ringcache cluster (replicas 3)")
        ap.add_argument("--against-memcached", action="store_true",
                        help="run the checks against Debian's memcached (validates the checks)")
        ap.add_argument("--include-pending", action="store_true",
                        help="also run the checks of known ringcache bugs (pending)")
        self.opts = ap.parse_args()
        if not self.opts.against_memcached and not self.opts.ringcache:
            ap.error("--ringcache PATH or --against-memcached")
        self.passed = 0
        self.failed = 0
        self.target = None

    def start(self):
        mcservers.install_signal_handlers()
        o = self.opts
        if o.against_memcached:
            server, kind = mcservers.Memcached(), "memcached"
        elif o.cluster:
            server, kind = mcservers.RingcacheCluster(o.ringcache, o.cluster), "cluster"
        else:
            server, kind = mcservers.Ringcache(o.ringcache), "ringcache"
        server.start()
        self.target = Target(server, kind)
        print("%s: against %s on %s" % (self.name, kind, ", ".join(map(str, self.target.ports))),
              flush=True)
        return self.target

    def stop(self):
        if self.target:
            self.target.server.stop()

    def check(self, title, fn, *args, timeout=CHECK_TIMEOUT):
        """Run fn(*args); an exception or an assertion fails the check."""
        def on_alarm(signum, frame):
            raise CheckTimeout("no result after %ds" % timeout)
        old = signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(timeout)
        t0 = time.monotonic()
        try:
            fn(*args)
            self.passed += 1
            print("PASS %s (%.2fs)" % (title, time.monotonic() - t0), flush=True)
        except KeyboardInterrupt:
            raise
        except BaseException as e:  # noqa: B902 — a check's failure of any kind
            self.failed += 1
            print("FAIL %s: %s: %s" % (title, type(e).__name__, e), flush=True)
            tb = traceback.format_exc().strip().splitlines()
            for line in tb[-6:]:
                print("     " + line)
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)

    def pending(self, title, why, fn, *args, **kw):
        """A check of a known ringcache bug: not run (and not counted) unless
        --include-pending; then an ordinary check."""
        if self.opts.include_pending:
            self.check(title + " [pending]", fn, *args, **kw)
        else:
            print("PEND %s: known bug, not run (--include-pending runs it): %s" % (title, why),
                  flush=True)

    def note(self, text):
        print("NOTE %s" % text, flush=True)

    def finish(self):
        print("%s: %d passed, %d failed" % (self.name, self.passed, self.failed), flush=True)
        return 1 if self.failed else 0

    def run(self, body):
        """start, body(self, target), stop (always), finish; the exit status."""
        try:
            try:
                target = self.start()
            except mcservers.ServerError as e:
                print("FAIL start: %s" % e)
                self.failed += 1
                return self.finish()
            body(self, target)
            if not target.server.alive():
                self.failed += 1
                print("FAIL the server is no longer running:\n" + target.server.log_tail())
        except KeyboardInterrupt:
            print("interrupted")
            self.failed += 1
        finally:
            self.stop()
        return self.finish()


def expect(got, want, what=""):
    if got != want:
        raise AssertionError("%s: got %r, want %r" % (what or "value", got, want))


def raw(port, data, timeout=3.0):
    """One request over a fresh connection; the bytes until a reply line
    ending the request arrives (for small, single-line replies)."""
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        buf = b""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            if buf.endswith(b"\r\n") and (not buf.startswith((b"VALUE", b"STAT", b"VA "))
                                          or buf.endswith(b"END\r\n") or buf.startswith(b"VA ")
                                          and buf.count(b"\r\n") >= 2):
                break
        return buf
