#!/usr/bin/python3
"""`make compat`: the harness's own unit tests, the differential harness
(difftest.py) and the client matrix (clients/*.py), each in its own process
with a time limit. Prints every part's output, then a summary; exits non-zero
if anything failed.

    /usr/bin/python3 redis-compat-tests/run.py --ringcache ./ringcache-server
"""
import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = os.environ.get("COMPAT_PYTHON", "/usr/bin/python3")

# name, argv after the interpreter, time limit in seconds
PARTS = [
    ("selftest", ["-m", "unittest", "-q", "rcompat.test_rcompat"], 60),
    ("differential", ["difftest.py"], 150),
    ("redis-cli", ["clients/redis_cli.py"], 90),
    ("redis-benchmark", ["clients/redis_benchmark.py"], 120),
    ("python-redis", ["clients/python_redis.py"], 90),
    ("ioredis", ["clients/ioredis.py"], 360),
    # the same cases and clients against a local 3-member cluster with replicas 3
    ("differential-cluster", ["difftest.py", "--cluster", "3"], 150),
    ("redis-cli-cluster", ["clients/redis_cli.py", "--cluster", "3"], 90),
    ("python-redis-cluster", ["clients/python_redis.py", "--cluster", "3"], 90),
    ("ioredis-cluster", ["clients/ioredis.py", "--cluster", "3"], 360),
]


def counts(text):
    """The last 'N passed, N failed' in a part's output (unittest: 'Ran N tests')."""
    found = re.findall(r"(\d+) passed, (\d+) failed", text)
    if found:
        return int(found[-1][0]), int(found[-1][1])
    m = re.search(r"Ran (\d+) tests?", text)
    if m:
        return (int(m.group(1)), 0) if re.search(r"^OK", text, re.M) else (0, int(m.group(1)))
    return 0, 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ringcache", required=True, help="path to ringcache-server")
    ap.add_argument("--only", action="append", choices=[p[0] for p in PARTS],
                    help="run only this part (repeatable)")
    opts = ap.parse_args()
    server = os.path.abspath(opts.ringcache)
    if not os.access(server, os.X_OK):
        print("no executable ringcache-server at %s" % server)
        print("compat: 0 passed, 1 failed")
        return 1

    t0 = time.monotonic()
    summary = []
    for name, argv, limit in PARTS:
        if opts.only and name not in opts.only:
            continue
        cmd = [PYTHON] + argv + ([] if name == "selftest" else ["--ringcache", server])
        print("==> %s: %s" % (name, " ".join(cmd)), flush=True)
        start = time.monotonic()
        # Output streams through as it comes; a part that outlives its limit
        # is killed (with its process group) and counted as failed.
        proc = subprocess.Popen(cmd, cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        chunks = []
        deadline = start + limit
        timed_out = False
        os.set_blocking(proc.stdout.fileno(), False)
        while True:
            try:
                data = proc.stdout.read()
            except BlockingIOError:
                data = None
            if data:
                chunks.append(data)
                sys.stdout.write(data.decode("utf-8", "replace"))
                sys.stdout.flush()
            if proc.poll() is not None and not data:
                rest = proc.stdout.read() or b""
                chunks.append(rest)
                sys.stdout.write(rest.decode("utf-8", "replace"))
                break
            if time.monotonic() > deadline:
                timed_out = True
                os.killpg(proc.pid, 9)
                proc.wait()
                break
            time.sleep(0.05)
        text = b"".join(chunks).decode("utf-8", "replace")
        p, f = counts(text)
        status = proc.returncode
        if timed_out:
            f += 1
            note = "killed after %ds" % limit
        elif status != 0 and f == 0:
            f += 1
            note = "exit status %d" % status
        else:
            note = ""
        summary.append((name, p, f, time.monotonic() - start, note))

    print("==> summary (%.0fs)" % (time.monotonic() - t0))
    for name, p, f, secs, note in summary:
        print("  %-20s %5d passed, %d failed  %5.1fs %s" % (name, p, f, secs, note))
    total_p = sum(s[1] for s in summary)
    total_f = sum(s[2] for s in summary)
    print("compat: %d passed, %d failed" % (total_p, total_f))
    return 0 if total_f == 0 and total_p > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
