#!/usr/bin/python3
"""pymemcache (Debian's python3-pymemcache) against ringcache's memcached
port: base.Client text commands (get/set/add/replace/append/prepend, gets +
cas, incr/decr, touch, delete, noreply, serde flags, expiry, stats, version,
flush_all, big values, errors), PooledClient under threads, and HashClient
over every member of a cluster (keys hashed client-side; every member must
also answer every key, forwarding). pymemcache's meta support is used when
the installed version has any (3.5.2, Debian 12's, has none: the meta
commands are covered by difftest.py).

    /usr/bin/python3 tests/memcached/clients/pymemcache_check.py --ringcache ./ringcache-server [--cluster 3]
    /usr/bin/python3 tests/memcached/clients/pymemcache_check.py --against-memcached
"""
import threading
import time

from common import Checks, expect, raw

import pymemcache
from pymemcache import serde
from pymemcache.client.base import Client, PooledClient
from pymemcache.client.hash import HashClient
from pymemcache.exceptions import (MemcacheClientError, MemcacheIllegalInputError,
                                   MemcacheServerError)

TIMEOUTS = dict(connect_timeout=3, timeout=5, no_delay=True)


def client(port, **kw):
    args = dict(TIMEOUTS)
    args.update(kw)
    return Client(("127.0.0.1", port), **args)


def basic(t):
    c = client(t.port)
    c.flush_all()
    expect(c.set("k", "v"), True, "set")
    expect(c.get("k"), b"v", "get")
    expect(c.get("missing"), None, "get miss")
    expect(c.get("missing", default=b"d"), b"d", "get default")
    expect(c.set("k", b"\x00\r\n\xff"), True, "set binary")
    expect(c.get("k"), b"\x00\r\n\xff", "get binary")
    expect(c.set_many({"a": "1", "b": "2", "c": "3"}), [], "set_many failures")
    expect(c.get_many(["a", "b", "c", "nope"]), {"a": b"1", "b": b"2", "c": b"3"}, "get_many")
    expect(c.add("a", "x", noreply=False), False, "add existing")
    expect(c.add("new", "x", noreply=False), True, "add new")
    expect(c.replace("nope", "x", noreply=False), False, "replace missing")
    expect(c.replace("new", "y", noreply=False), True, "replace")
    expect(c.append("new", "_a", noreply=False), True, "append")
    expect(c.prepend("new", "p_", noreply=False), True, "prepend")
    expect(c.get("new"), b"p_y_a", "after append/prepend")
    expect(c.append("nope", "x", noreply=False), False, "append missing")
    expect(c.delete("new", noreply=False), True, "delete")
    expect(c.delete("new", noreply=False), False, "delete missing")
    c.delete_many(["a", "b"])
    expect(c.get_many(["a", "b", "c"]), {"c": b"3"}, "after delete_many")
    c.close()


def cas(t):
    c = client(t.port)
    c.set("ck", "1")
    value, token = c.gets("ck")
    expect(value, b"1", "gets value")
    if not token:
        raise AssertionError("gets gave no CAS token")
    expect(c.cas("ck", "2", token), True, "cas with the right token")
    expect(c.cas("ck", "3", token), False, "cas with a stale token")
    expect(c.get("ck"), b"2", "value after cas")
    expect(c.cas("nope", "x", b"1"), None, "cas on a missing key")
    many = c.gets_many(["ck", "nope"])
    expect(list(many), ["ck"], "gets_many keys")
    v2, t2 = many["ck"]
    expect(v2, b"2", "gets_many value")
    if t2 == token:
        raise AssertionError("the CAS token did not change after a cas")
    c.set("ck", "4")
    expect(c.gets("ck")[1] != t2, True, "a set changes the CAS token")
    c.close()


def counters(t):
    c = client(t.port)
    c.set("n", "10")
    expect(c.incr("n", 5), 15, "incr")
    expect(c.decr("n", 3), 12, "decr")
    expect(c.decr("n", 100), 0, "decr below 0 stops at 0")
    expect(c.incr("nope", 1), None, "incr missing")
    expect(c.decr("nope", 1), None, "decr missing")
    c.set("n", "18446744073709551615")
    expect(c.incr("n", 2), 1, "incr wraps at 2^64")
    c.set("s", "abc")
    try:
        c.incr("s", 1)
        raise AssertionError("incr on a non-number did not raise")
    except MemcacheClientError as e:
        if "non-numeric" not in str(e):
            raise
    expect(c.incr("n", 1, noreply=True), None, "incr noreply")
    # memcached rewrites a shorter result in place, padded with spaces
    expect(c.get("n"), b"2" + b" " * 19, "value after incr noreply")
    c.close()


def noreply_and_touch(t):
    c = client(t.port, default_noreply=True)
    expect(c.set("nr", "1"), True, "set noreply")
    expect(c.add("nr", "2"), True, "add noreply (no answer to read)")
    expect(c.get("nr"), b"1", "add noreply did not overwrite")
    c.delete("nr")
    expect(c.get("nr"), None, "delete noreply")
    c.set("tk", "v", expire=1000)
    expect(c.touch("tk", 2000, noreply=False), True, "touch")
    expect(c.touch("nope", 10, noreply=False), False, "touch missing")
    c.touch("tk", 2000)  # noreply
    expect(c.get("tk"), b"v", "after touch")
    c.close()


def expiry(t):
    c = client(t.port)
    c.set("e1", "v", expire=1)
    c.set("e2", "v", expire=100)
    c.set("e3", "v", expire=int(time.time()) + 100)     # absolute
    c.set("e4", "v", expire=int(time.time()) - 10)      # absolute, past
    expect(c.get("e4"), None, "past absolute exptime")
    c.set("e5", "v", expire=-1)
    expect(c.get("e5"), None, "negative exptime")
    time.sleep(2.1)
    expect(c.get_many(["e1", "e2", "e3"]), {"e2": b"v", "e3": b"v"}, "after 2 s")
    c.close()


def flags_serde(t):
    c = client(t.port, serde=serde.pickle_serde)
    c.set("int", 42)
    c.set("str", "text")
    c.set("obj", {"a": [1, 2]})
    expect(c.get("int"), 42, "int through serde (flags 2)")
    expect(c.get("str"), "text", "str through serde")
    expect(c.get("obj"), {"a": [1, 2]}, "pickled object (flags 1)")
    c.set("f", b"raw", flags=12345)
    # the flags come back with the value
    expect(raw(t.port, b"get f\r\n"), b"VALUE f 12345 3\r\nraw\r\nEND\r\n", "flags on the wire")
    c.close()


def sizes_and_errors(t):
    c = client(t.port)
    big = b"x" * (1024 * 1024 - 512)
    expect(c.set("big", big, noreply=False), True, "set of ~1 MB")
    expect(c.get("big"), big, "get of ~1 MB")
    try:
        c.set("huge", b"y" * (1024 * 1024 + 1), noreply=False)
        raise AssertionError("a value over item_size_max was stored")
    except MemcacheServerError as e:
        if "too large" not in str(e):
            raise
    expect(c.get("huge"), None, "the too-large value is not there")
    k250 = "k" * 250
    expect(c.set(k250, "v", noreply=False), True, "250-byte key")
    expect(c.get(k250), b"v", "get 250-byte key")
    try:
        c.set("k" * 251, "v")
        raise AssertionError("pymemcache accepted a 251-byte key")
    except MemcacheIllegalInputError:
        pass
    # the server refuses a 251-byte key too (pymemcache's check off)
    loose = client(t.port, allow_unicode_keys=True)
    loose.check_key = lambda key: key.encode() if isinstance(key, str) else key
    try:
        loose.get("k" * 251)
        raise AssertionError("the server answered a get of a 251-byte key")
    except MemcacheClientError as e:
        if "bad command line format" not in str(e):
            raise
    loose.close()
    expect(c.get("big"), big, "the connection still works")
    c.close()


def server_info(t):
    c = client(t.port)
    v = c.version()
    if not v.startswith(b"1.6"):
        raise AssertionError("version %r" % v)
    st = c.stats()
    for field in (b"pid", b"uptime", b"version", b"curr_connections", b"cmd_get",
                  b"cmd_set", b"get_hits", b"get_misses", b"curr_items"):
        if field not in st:
            raise AssertionError("stats has no %r" % field)
    settings = c.stats("settings")
    if b"item_size_max" not in settings:
        raise AssertionError("stats settings has no item_size_max")
    c.set("f1", "v")
    expect(c.flush_all(noreply=False), True, "flush_all")
    expect(c.get("f1"), None, "after flush_all")
    c.quit()


def pooled_threads(t, shared_counter=True):
    """8 threads over one PooledClient: set/get of their own keys, and incr
    of one shared counter (shared_counter) or of a counter per thread."""
    pool = PooledClient(("127.0.0.1", t.port), max_pool_size=8, **TIMEOUTS)
    errors = []
    counter = (lambda n: "pcount") if shared_counter else (lambda n: "pcount%d" % n)

    def worker(n):
        try:
            for i in range(100):
                key = "p%d_%d" % (n, i)
                pool.set(key, str(i), noreply=False)
                if pool.get(key) != str(i).encode():
                    errors.append(key)
                if pool.incr(counter(n), 1) is None:
                    errors.append("incr %s: NOT_FOUND" % counter(n))
        except Exception as e:  # noqa: B902
            errors.append(repr(e))

    for n in range(8):
        # acknowledged: with noreply (PooledClient's default) the set could
        # still be on its way when another connection's first incr arrives
        pool.set(counter(n), "0", noreply=False)
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(20)
    if any(th.is_alive() for th in threads):
        raise AssertionError("threads did not finish")
    expect(errors, [], "errors")
    if shared_counter:
        expect(pool.get("pcount"), b"800", "800 incr of one key from 8 threads")
    else:
        expect([pool.get(counter(n)) for n in range(8)], [b"100"] * 8, "100 incr per thread")
    pool.close()


def hash_client(t):
    servers = [("127.0.0.1", p) for p in t.ports]
    hc = HashClient(servers, use_pooling=True, retry_attempts=1, dead_timeout=1, **TIMEOUTS)
    keys = {"hk%03d" % i: ("v%d" % i).encode() for i in range(300)}
    expect(hc.set_many(keys, noreply=False), [], "HashClient set_many")
    got = hc.get_many(list(keys))
    expect(got, keys, "HashClient get_many")
    for k in list(keys)[:50]:
        expect(hc.incr(k + "n", 1), None, "incr of a missing key")
        hc.set(k + "n", "1")
        expect(hc.incr(k + "n", 2), 3, "HashClient incr")
    hc.delete_many(list(keys)[:100])
    expect(len(hc.get_many(list(keys))), 200, "after delete_many")
    if t.is_cluster:
        # the keys were hashed over the members: each member answers all of them
        for p in t.ports:
            c = client(p)
            expect(c.get_many(list(keys)[100:]), dict(list(keys.items())[100:]),
                   "member %d answers every key" % p)
            c.close()
    hc.close()


def body(checks, t):
    checks.check("basic text commands", basic, t)
    checks.check("gets/cas", cas, t)
    checks.check("incr/decr", counters, t)
    checks.check("noreply and touch", noreply_and_touch, t)
    checks.check("exptime relative/absolute/past/negative", expiry, t)
    checks.check("client flags through serde", flags_serde, t)
    checks.check("1 MB values, too large, key length", sizes_and_errors, t)
    checks.check("PooledClient, 8 threads, a counter each", pooled_threads, t, False)
    checks.check("PooledClient, 8 threads, incr of one shared counter", pooled_threads, t, True)
    checks.check("version, stats, flush_all, quit", server_info, t)
    checks.check("HashClient over %d server(s)" % len(t.ports), hash_client, t)
    meta = [n for n in dir(Client) if n.startswith("meta") or n in ("mg", "ms", "md", "ma", "mn")]
    if meta:
        # a newer pymemcache: this check does not know its meta API yet
        checks.check("pymemcache %s meta API is exercised" % pymemcache.__version__,
                     lambda: (_ for _ in ()).throw(AssertionError("add checks for " + ", ".join(meta))))
    else:
        checks.note("pymemcache %s has no meta-protocol API (Debian 12's version); the meta "
                    "commands are covered by difftest.py" % pymemcache.__version__)


if __name__ == "__main__":
    raise SystemExit(Checks("pymemcache", __doc__).run(body))
