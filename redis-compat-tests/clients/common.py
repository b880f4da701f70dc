"""Shared by the client checks: start a server, run steps, report.

Each check script runs against a fresh ringcache-server (--ringcache PATH) or,
to validate the check itself, against redis-server (--against-redis). Every
step is bounded in time; the script prints one PASS/FAIL line per step and a
final `name: N passed, N failed` line, and exits non-zero on any failure.
"""
import argparse
import os
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from rcompat.servers import ClusterProcess, ServerProcess  # noqa: E402


def parse_args(description, extra=None):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--ringcache", help="path to ringcache-server")
    ap.add_argument("--against-redis", action="store_true",
                    help="run the check against redis-server instead (validates the check)")
    ap.add_argument("--cluster", type=int, default=0, metavar="N",
                    help="run against a local ringcache cluster of N members, replicas 3")
    if extra:
        extra(ap)
    opts = ap.parse_args()
    if not opts.ringcache and not opts.against_redis:
        ap.error("--ringcache PATH or --against-redis is required")
    return opts


def server(opts):
    if opts.against_redis:
        return ServerProcess.redis()
    if opts.cluster:
        return ClusterProcess(opts.ringcache, opts.cluster)
    return ServerProcess.ringcache(opts.ringcache)


def run(argv, timeout, **kw):
    """subprocess.run with a hard timeout; never raises on exit status.
    Returns (returncode, stdout, stderr); returncode None on timeout."""
    try:
        p = subprocess.run(argv, capture_output=True, timeout=timeout, **kw)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        return None, e.stdout or b"", e.stderr or b""


def short(b, n=300):
    if isinstance(b, bytes):
        b = b.decode("utf-8", "replace")
    b = b.strip()
    return b if len(b) <= n else b[:n] + "...(%d chars)" % len(b)


class Report:
    def __init__(self, name):
        self.name = name
        self.passed = self.failed = 0
        self.t0 = time.monotonic()

    def ok(self, step, detail=""):
        self.passed += 1
        print("  PASS %s%s" % (step, (" — " + detail) if detail else ""), flush=True)

    def bad(self, step, detail):
        self.failed += 1
        print("  FAIL %s: %s" % (step, detail), flush=True)

    def check(self, step, cond, detail="", ok_detail=""):
        if cond:
            self.ok(step, ok_detail)
        else:
            self.bad(step, detail or "condition not met")
        return cond

    def step(self, name):
        """Decorator-ish runner: report(step)(fn) runs fn, turning an
        exception into a FAIL with its message."""
        def wrap(fn):
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - any failure is the check's failure
                self.bad(name, "%s: %s\n%s" % (type(e).__name__, e,
                                                "".join(traceback.format_exc(limit=3))))
        return wrap

    def finish(self):
        print("%s: %d passed, %d failed (%.1fs)" % (self.name, self.passed, self.failed,
                                                    time.monotonic() - self.t0), flush=True)
        return 0 if self.failed == 0 and self.passed > 0 else 1
