#!/usr/bin/python3
"""The same keyspace over RESP (python3-redis) and the memcached port: a
RESP SET reads with memcached `get` (client flags 0), a memcached `set`
reads with GET, TTLs agree both ways (EX/EXPIRE/PX vs `mg t`, exptime/touch
vs TTL), append/incr/delete/flush cross over. On a cluster the RESP side
and the memcached side go through different members.

    /usr/bin/python3 tests/memcached/clients/cross_protocol.py --ringcache ./ringcache-server [--cluster 3]
    /usr/bin/python3 tests/memcached/clients/cross_protocol.py --against-memcached

memcached has no RESP port: --against-memcached replaces the RESP side by
the equivalent memcached commands on the same server (a RESP write is a
`set` with flags 0, TTL is `mg t`), which validates every memcached-side
expectation of the check.
"""
import socket
import time

from common import Checks, expect

import redis


class McConn:
    """A small memcached text-protocol client over one socket."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("memcached connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("memcached connection closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def cmd(self, line, data=None):
        req = line + b"\r\n" + (data + b"\r\n" if data is not None else b"")
        self.sock.sendall(req)
        return self._line()

    def set(self, key, value, flags=0, exptime=0, verb=b"set"):
        return self.cmd(b"%s %s %d %d %d" % (verb, key, flags, exptime, len(value)), value)

    def get(self, key):
        """(flags, value) or None."""
        self.sock.sendall(b"get " + key + b"\r\n")
        line = self._line()
        if line == b"END":
            return None
        parts = line.split(b" ")
        if parts[0] != b"VALUE":
            raise AssertionError("get %s: %r" % (key, line))
        value = self._exact(int(parts[3]) + 2)[:-2]
        expect(self._line(), b"END", "end of get")
        return int(parts[2]), value

    def ttl(self, key):
        """mg's t flag: -1 for none, None for a miss."""
        line = self.cmd(b"mg " + key + b" t")
        if line == b"EN":
            return None
        if not line.startswith(b"HD t"):
            raise AssertionError("mg t: %r" % line)
        return int(line[4:])


class RespSide:
    """The RESP operations the check needs: redis-py on ringcache, or their
    memcached equivalents (--against-memcached)."""

    def __init__(self, t, member):
        self.mc = None
        if t.is_memcached:
            self.mc = McConn(t.ports[member])
        else:
            self.r = redis.Redis(host="127.0.0.1", port=t.resp_ports[member], socket_timeout=5,
                                 socket_connect_timeout=3)

    def close(self):
        if self.mc:
            self.mc.close()
        else:
            self.r.close()

    def set(self, key, value, ex=None, px=None):
        if self.mc:
            exp = ex if ex else (max(1, (px + 999) // 1000) if px else 0)
            expect(self.mc.set(key, value, 0, exp), b"STORED", "set")
        else:
            expect(self.r.set(key, value, ex=ex, px=px), True, "SET")

    def get(self, key):
        if self.mc:
            got = self.mc.get(key)
            return None if got is None else got[1]
        return self.r.get(key)

    def ttl(self, key):
        if self.mc:
            t = self.mc.ttl(key)
            return -2 if t is None else t
        return self.r.ttl(key)

    def expire(self, key, seconds):
        if self.mc:
            expect(self.mc.cmd(b"touch %s %d" % (key, seconds)), b"TOUCHED", "touch")
        else:
            expect(self.r.expire(key, seconds), True, "EXPIRE")

    def incr(self, key, by):
        if self.mc:
            return int(self.mc.cmd(b"incr %s %d" % (key, by)))
        return self.r.incrby(key, by)

    def delete(self, key):
        if self.mc:
            return 1 if self.mc.cmd(b"delete " + key) == b"DELETED" else 0
        return self.r.delete(key)

    def exists(self, key):
        if self.mc:
            return 0 if self.mc.get(key) is None else 1
        return self.r.exists(key)

    def flushall(self):
        if self.mc:
            expect(self.mc.cmd(b"flush_all"), b"OK", "flush_all")
        else:
            expect(self.r.flushall(), True, "FLUSHALL")


def pairs(t):
    """(RESP member, memcached member) index pairs: every combination on a
    cluster, (0, 0) otherwise."""
    n = len(t.ports)
    if n == 1:
        return [(0, 0)]
    return [(0, 0), (0, 1), (1, 2), (2, 0)]


def within(got, lo, hi, what):
    if got is None or not lo <= got <= hi:
        raise AssertionError("%s: got %r, want %d..%d" % (what, got, lo, hi))


def resp_to_mc(t):
    for a, b in pairs(t):
        r, m = RespSide(t, a), McConn(t.ports[b])
        try:
            k = b"x:r2m:%d%d" % (a, b)
            r.set(k, b"from resp")
            expect(m.get(k), (0, b"from resp"), "mc get of a RESP SET (flags 0)")
            r.set(k, b"\x00\r\nbin\xff")
            expect(m.get(k), (0, b"\x00\r\nbin\xff"), "binary value")
            expect(m.ttl(k), -1, "mg t of a key without TTL")
            expect(m.set(k, b"_tail", verb=b"append"), b"STORED", "mc append to a RESP value")
            expect(r.get(k), b"\x00\r\nbin\xff_tail", "GET after mc append")
        finally:
            r.close()
            m.close()


def mc_to_resp(t):
    for a, b in pairs(t):
        r, m = RespSide(t, a), McConn(t.ports[b])
        try:
            k = b"x:m2r:%d%d" % (a, b)
            expect(m.set(k, b"from mc", flags=7), b"STORED", "mc set")
            expect(r.get(k), b"from mc", "GET of a memcached set (flags 7)")
            expect(r.ttl(k), -1, "TTL of an item with exptime 0")
            r.set(k, b"over resp")
            expect(m.get(k), (0, b"over resp"), "a RESP SET over a flagged item leaves flags 0")
            expect(m.cmd(b"delete " + k), b"DELETED", "mc delete")
            expect(r.exists(k), 0, "EXISTS after mc delete")
            r.set(k, b"again")
            expect(r.delete(k), 1, "DEL")
            expect(m.get(k), None, "mc get after DEL")
        finally:
            r.close()
            m.close()


def ttls(t):
    for a, b in pairs(t):
        r, m = RespSide(t, a), McConn(t.ports[b])
        try:
            k = b"x:ttl:%d%d" % (a, b)
            r.set(k, b"v", ex=100)
            within(m.ttl(k), 99, 100, "mg t of SET EX 100")
            r.expire(k, 50)
            within(m.ttl(k), 49, 50, "mg t after EXPIRE 50")
            expect(m.set(k, b"v", exptime=200), b"STORED", "mc set exptime 200")
            within(r.ttl(k), 199, 200, "TTL of exptime 200")
            expect(m.cmd(b"touch %s 300" % k), b"TOUCHED", "touch")
            within(r.ttl(k), 299, 300, "TTL after touch 300")
            expect(m.set(k, b"v", exptime=int(time.time()) + 400), b"STORED", "absolute exptime")
            # memcached's once-a-second clock is not on the wall clock's second: +1
            within(r.ttl(k), 398, 401, "TTL of an absolute exptime now+400")
            expect(m.cmd(b"mg %s T500" % k), b"HD", "mg T500")
            within(r.ttl(k), 499, 500, "TTL after mg T500")
        finally:
            r.close()
            m.close()


def counters(t):
    for a, b in pairs(t):
        r, m = RespSide(t, a), McConn(t.ports[b])
        try:
            k = b"x:n:%d%d" % (a, b)
            r.set(k, b"10")
            expect(m.cmd(b"incr %s 5" % k), b"15", "mc incr of a RESP value")
            expect(r.incr(k, 2), 17, "INCRBY after mc incr")
            expect(m.cmd(b"decr %s 20" % k), b"0", "mc decr below 0")
            # memcached writes a shorter result in place, padded with spaces
            expect(r.get(k), b"0 ", "GET after decr")
        finally:
            r.close()
            m.close()


def expiry_and_flush(t):
    r, m = RespSide(t, 0), McConn(t.ports[-1])
    try:
        r.set(b"x:px", b"v", px=1200)
        expect(m.set(b"x:exp1", b"v", exptime=1), b"STORED", "set exptime 1")
        time.sleep(2.2)
        expect(m.get(b"x:px"), None, "mc get after PX 1200 ran out")
        expect(r.get(b"x:exp1"), None, "GET after exptime 1 ran out")
        r.set(b"x:f1", b"v")
        expect(m.cmd(b"flush_all"), b"OK", "flush_all")
        expect(r.get(b"x:f1"), None, "GET after flush_all")
        expect(m.set(b"x:f2", b"v"), b"STORED", "set")
        r.flushall()
        expect(m.get(b"x:f2"), None, "mc get after FLUSHALL")
    finally:
        r.close()
        m.close()


def body(checks, t):
    if t.is_memcached:
        checks.note("memcached has no RESP port: the RESP side is played by memcached commands")
    checks.check("RESP SET -> memcached get (flags 0), append", resp_to_mc, t)
    checks.check("memcached set -> RESP GET/TTL/DEL", mc_to_resp, t)
    checks.check("TTLs agree both ways (EX, EXPIRE, exptime, touch, absolute, mg T)", ttls, t)
    checks.check("incr/decr across protocols", counters, t)
    checks.check("expiry and flushes across protocols", expiry_and_flush, t)


if __name__ == "__main__":
    raise SystemExit(Checks("cross-protocol", __doc__).run(body))
