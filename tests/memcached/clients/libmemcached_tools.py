#!/usr/bin/python3
"""libmemcached's command-line tools (Debian's libmemcached-tools) against
ringcache's memcached port: memccp, memccat, memcexist, memctouch, memcrm,
memcdump, memcstat, memcping, memcflush, memcslap and memcaslap with a
small bounded load, and memccapable's ASCII protocol tests. On a cluster
the tools get every member (libmemcached hashes the keys over them) and a
key written through one member is read through each of the others.

    /usr/bin/python3 tests/memcached/clients/libmemcached_tools.py --ringcache ./ringcache-server [--cluster 3]
    /usr/bin/python3 tests/memcached/clients/libmemcached_tools.py --against-memcached
"""
import os
import shutil
import subprocess
import tempfile

from common import Checks, expect, raw

TOOL_TIMEOUT = 30


def run(argv, timeout=TOOL_TIMEOUT, ok=True):
    """A tool's (returncode, stdout+stderr text); with ok, a non-zero exit fails."""
    if shutil.which(argv[0]) is None:
        raise AssertionError("%s is not installed (apt-get install libmemcached-tools)" % argv[0])
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, timeout=timeout)
    out = p.stdout.decode("utf-8", "replace")
    if ok and p.returncode != 0:
        raise AssertionError("%s exited %d: %s" % (" ".join(argv), p.returncode, out.strip()[-500:]))
    return p.returncode, out


def servers(ports):
    return "--servers=" + ",".join("127.0.0.1:%d" % p for p in ports)


def copy_cat(t, tmp):
    s = servers(t.ports)
    paths = []
    for i in range(20):
        path = os.path.join(tmp, "file%02d.txt" % i)
        with open(path, "wb") as f:
            f.write(b"contents of file %d\n" % i)
        paths.append(path)
    run(["memccp", s, "--flag=7", "--expire=1000"] + paths)
    _, out = run(["memccat", s] + [os.path.basename(p) for p in paths])
    want = "".join("contents of file %d\n\n" % i for i in range(20))   # memccat adds a newline
    expect(out, want, "memccat of 20 files")
    _, out = run(["memccat", s, "--flag", "file03.txt"])
    expect(out.splitlines()[0], "7", "memccat --flag")
    # memccp --add refuses an existing key, --replace a missing one
    rc, _ = run(["memccp", s, "--add", paths[0]], ok=False)
    if rc == 0:
        raise AssertionError("memccp --add of an existing key succeeded")
    # the flags and value on the wire, from each server the keys live on
    for p in t.ports if t.is_cluster else [t.port]:
        expect(raw(p, b"get file05.txt\r\n"), b"VALUE file05.txt 7 19\r\ncontents of file 5\n\r\nEND\r\n",
               "get through port %d" % p)


def exist_touch_rm(t, tmp):
    s = servers(t.ports)
    path = os.path.join(tmp, "victim")
    with open(path, "wb") as f:
        f.write(b"v")
    run(["memccp", s, path])
    run(["memcexist", s, "victim"])
    rc, _ = run(["memcexist", s, "no-such-key"], ok=False)
    if rc == 0:
        raise AssertionError("memcexist found a key that does not exist")
    run(["memctouch", s, "--expire=500", "victim"])
    rc, _ = run(["memctouch", s, "--expire=500", "no-such-key"], ok=False)
    if rc == 0:
        raise AssertionError("memctouch of a missing key succeeded")
    ttl = raw(t.port, b"mg victim t\r\n")
    if not ttl.startswith(b"HD t"):
        raise AssertionError("mg t after memctouch: %r" % ttl)
    if not 495 <= int(ttl[4:].strip()) <= 500:
        raise AssertionError("TTL after memctouch --expire=500: %r" % ttl)
    run(["memcrm", s, "victim"])
    rc, _ = run(["memcexist", s, "victim"], ok=False)
    if rc == 0:
        raise AssertionError("the key is still there after memcrm")
    rc, _ = run(["memccat", s, "victim"], ok=False)
    if rc == 0:
        raise AssertionError("memccat of a removed key succeeded")


def dump(t, tmp):
    s = servers(t.ports)
    for i in range(5):
        raw(t.port, b"set dumpkey%d 0 0 1\r\nx\r\n" % i)
    _, out = run(["memcdump", s])
    keys = set(out.split())
    # memcdump lists what stats cachedump gives (memcached 1.6 may list
    # nothing of a fresh slab); what it lists must be real keys
    extra = {k for k in keys if not k.startswith(("dumpkey", "file", "victim"))}
    expect(extra, set(), "memcdump keys that were never set")


def stat_ping(t, tmp):
    for p in t.ports:
        s = servers([p])
        _, out = run(["memcstat", s])
        for field in ("pid:", "uptime:", "version: 1.6", "curr_connections:", "cmd_get:",
                      "get_hits:", "curr_items:"):
            if field not in out:
                raise AssertionError("memcstat on %d has no %r:\n%s" % (p, field, out[:800]))
        _, out = run(["memcstat", s, "--args=settings"])
        if "item_size_max: 1048576" not in out:
            raise AssertionError("memcstat --args=settings:\n%s" % out[:800])
        run(["memcping", s])
    run(["memcping", servers(t.ports)])


def slap(t, tmp):
    s = servers(t.ports)
    for test in ("set", "get", "mget"):
        _, out = run(["memcslap", s, "--concurrency=2", "--execute-number=500", "--test=" + test])
        if "Time total" not in out or "rror" in out:
            raise AssertionError("memcslap --test=%s:\n%s" % (test, out[-800:]))
    _, out = run(["memcslap", s, "--concurrency=2", "--execute-number=300", "--test=set",
                  "--noreply"])
    if "Time total" not in out or "rror" in out:
        raise AssertionError("memcslap --noreply:\n%s" % out[-800:])


def aslap(t, tmp):
    s = ",".join("127.0.0.1:%d" % p for p in t.ports)
    _, out = run(["memcaslap", "-s", s, "-x", "2000", "-T", "2", "-c", "4"])
    if "Ops: 2000" not in out:
        raise AssertionError("memcaslap -x 2000:\n%s" % out[-800:])
    for line in out.splitlines():
        if line.startswith(("get_misses", "written_bytes")):
            continue
        if "error" in line.lower() and not line.strip().endswith(": 0"):
            raise AssertionError("memcaslap: %s" % line)


def capable(t, tmp):
    _, out = run(["memccapable", "-h", "127.0.0.1", "-p", str(t.port), "-a", "-t", "3"])
    if "All tests passed" not in out:
        raise AssertionError("memccapable -a:\n%s" % out[-1500:])


def flush(t, tmp):
    s = servers(t.ports)
    raw(t.port, b"set flushme 0 0 1\r\nx\r\n")
    run(["memcexist", s, "flushme"])
    run(["memcflush", s])
    for p in t.ports:
        expect(raw(p, b"get flushme\r\n"), b"END\r\n", "get after memcflush on %d" % p)


def body(checks, t):
    tmp = tempfile.mkdtemp(prefix="mccompat-tools-")
    try:
        checks.check("memccp + memccat (20 files, flags, --add)", copy_cat, t, tmp)
        checks.check("memcexist, memctouch, memcrm", exist_touch_rm, t, tmp)
        checks.check("memcdump", dump, t, tmp)
        checks.check("memcstat (+ settings), memcping", stat_ping, t, tmp)
        checks.check("memcslap set/get/mget/noreply (2 threads, 500 keys)", slap, t, tmp)
        checks.check("memcaslap -x 2000 -T 2 -c 4", aslap, t, tmp)
        checks.check("memccapable -a (ASCII protocol tests)", capable, t, tmp)
        checks.check("memcflush", flush, t, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(Checks("libmemcached-tools", __doc__).run(body))
