#!/usr/bin/python3
"""`make memcached-compat`: the harness's unit tests, the differential harness (difftest.py) on one
server and on a 3-member cluster, and the real-client checks (clients/*.py)
against one server and the cluster, plus each client check against Debian's
memcached (which validates the check itself). Each part runs in its own
process with a time limit; prints every part's output, then one line
`memcached-compat: N passed, M failed`, and exits non-zero on any failure.

    /usr/bin/python3 tests/memcached/run.py --ringcache ./ringcache-server [--only PART]
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = os.environ.get("COMPAT_PYTHON", "/usr/bin/python3")
RC = object()   # stands for "--ringcache PATH"

# name, argv after the interpreter, time limit in seconds
PARTS = [
    ("selftest", ["-m", "unittest", "-q", "test_harness"], 30),
    ("differential", ["difftest.py", RC], 90),
    ("differential-cluster", ["difftest.py", RC, "--cluster", "3"], 90),
    ("pymemcache", ["clients/pymemcache_check.py", RC], 45),
    ("pymemcache-cluster", ["clients/pymemcache_check.py", RC, "--cluster", "3"], 45),
    ("pymemcache-memcached", ["clients/pymemcache_check.py", "--against-memcached"], 45),
    ("libmemcached-tools", ["clients/libmemcached_tools.py", RC], 60),
    ("libmemcached-tools-cluster", ["clients/libmemcached_tools.py", RC, "--cluster", "3"], 60),
    ("libmemcached-tools-memcached", ["clients/libmemcached_tools.py", "--against-memcached"], 60),
    ("cross-protocol", ["clients/cross_protocol.py", RC], 45),
    ("cross-protocol-cluster", ["clients/cross_protocol.py", RC, "--cluster", "3"], 45),
    ("cross-protocol-memcached", ["clients/cross_protocol.py", "--against-memcached"], 45),
]


def counts(text):
    """The last 'N passed, N failed' of a part's output."""
    found = re.findall(r"(\d+) passed, (\d+) failed", text)
    if found:
        return int(found[-1][0]), int(found[-1][1])
    m = re.search(r"Ran (\d+) tests?", text)     # unittest
    if m:
        return (int(m.group(1)), 0) if re.search(r"^OK", text, re.M) else (0, int(m.group(1)))
    return 0, 0


def run_part(cmd, limit):
    """(output text, returncode or None when killed at the time limit)."""
    proc = subprocess.Popen(cmd, cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    chunks = []
    deadline = time.monotonic() + limit
    os.set_blocking(proc.stdout.fileno(), False)
    try:
        while True:
            try:
                data = proc.stdout.read()
            except BlockingIOError:
                data = None
            if data:
                chunks.append(data)
                sys.stdout.write(data.decode("utf-8", "replace"))
                sys.stdout.flush()
            if proc.poll() is not None:
                rest = proc.stdout.read() or b""
                chunks.append(rest)
                sys.stdout.write(rest.decode("utf-8", "replace"))
                return b"".join(chunks).decode("utf-8", "replace"), proc.returncode
            if time.monotonic() > deadline:
                return b"".join(chunks).decode("utf-8", "replace"), None
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            # SIGTERM lets the part stop its servers; then the whole group goes
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(8)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ringcache", required=True, help="path to ringcache-server")
    ap.add_argument("--only", action="append", choices=[p[0] for p in PARTS],
                    help="run only this part (repeatable)")
    opts = ap.parse_args()
    server = os.path.abspath(opts.ringcache)
    if not os.access(server, os.X_OK):
        print("no executable ringcache-server at %s" % server)
        print("memcached-compat: 0 passed, 1 failed")
        return 1

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)

    t0 = time.monotonic()
    summary = []
    try:
        for name, argv, limit in PARTS:
            if opts.only and name not in opts.only:
                continue
            cmd = [PYTHON]
            for a in argv:
                cmd += ["--ringcache", server] if a is RC else [a]
            print("==> %s: %s" % (name, " ".join(cmd)), flush=True)
            start = time.monotonic()
            text, rc = run_part(cmd, limit)
            p, f = counts(text)
            if rc is None:
                print("%s: killed after its time limit of %ds" % (name, limit))
                f += 1
            elif rc != 0 and f == 0:
                f = 1        # a non-zero exit is a failure even without a count
            summary.append((name, p, f, time.monotonic() - start))
    except KeyboardInterrupt:
        summary.append(("interrupted", 0, 1, 0.0))

    print()
    print("%-30s %8s %8s %8s" % ("part", "passed", "failed", "seconds"))
    for name, p, f, secs in summary:
        print("%-30s %8d %8d %8.1f" % (name, p, f, secs))
    passed = sum(s[1] for s in summary)
    failed = sum(s[2] for s in summary)
    print("total time %.1fs" % (time.monotonic() - t0))
    print("memcached-compat: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
