"""The recording workload: several client threads, each with one request in
flight, over a few thousand register keys and a few counters. Every request
is recorded as an Op (start, end, arguments, outcome) on one monotonic clock,
so the checker can order requests that did not overlap.

Each client stops by itself at max_ops requests or at its deadline,
whichever comes first. A request that gets no reply within REQUEST_TIMEOUT
is recorded as indeterminate (it may apply later) and the client reconnects
to a random member.
"""
import random
import threading
import time
from collections import namedtuple

from rcompat.resp import CLOSED, TIMEOUT, Conn, decode, encode

REQUEST_TIMEOUT = 3.0    # > quorum-timeout-ms + cluster-request-timeout-ms

# kind: set setex del mset get incr; keys/vals: tuples (vals None for reads
# and INCR; a DEL's value is None); status: "ok" or the error kind
# ("NOREPLICAS", "TIMEOUT", "CLOSED", ...); result: a GET's value (bytes or
# None) or an INCR's integer, when status is "ok".
# member: the index of the member the client sent it to.
Op = namedtuple("Op", "client kind keys vals start end status result member",
                defaults=(-1,))

MIX = (("get", 38), ("set", 24), ("incr", 20), ("setex", 6), ("del", 6), ("mset", 6))


def reg_key(i):
    return b"fk:%d" % i


def ctr_key(i):
    return b"fc:%d" % i


class Workload:
    def __init__(self, members, seed, clients=8, nkeys=3000, ncounters=40, hot=64,
                 max_ops=20000):
        self.members = members            # [(host, port)]
        self.seed = seed
        self.nclients = clients
        self.nkeys, self.ncounters, self.hot = nkeys, ncounters, hot
        self.max_ops = max_ops
        self.history = []
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.threads = []

    def keys(self):
        return [reg_key(i) for i in range(self.nkeys)]

    def counters(self):
        return [ctr_key(i) for i in range(self.ncounters)]

    def start(self, duration):
        deadline = time.monotonic() + duration
        for c in range(self.nclients):
            t = threading.Thread(target=self.client, args=(c, deadline), daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(REQUEST_TIMEOUT + 2)

    def pick_key(self, rng):
        # half the traffic on a hot set, so keys see concurrent writers
        if rng.random() < 0.5:
            return reg_key(rng.randrange(self.hot))
        return reg_key(rng.randrange(self.nkeys))

    def request(self, rng, client, seq):
        kinds, weights = zip(*MIX)
        kind = rng.choices(kinds, weights)[0]
        val = b"c%ds%d" % (client, seq)
        if kind == "get":
            k = self.pick_key(rng)
            return kind, (k,), None, [b"GET", k]
        if kind == "set":
            k = self.pick_key(rng)
            return kind, (k,), (val,), [b"SET", k, val]
        if kind == "setex":
            # an expiry far beyond the run: the TTL travels with the version
            k = self.pick_key(rng)
            return kind, (k,), (val,), [b"SET", k, val, b"EX", b"3600"]
        if kind == "del":
            k = self.pick_key(rng)
            return kind, (k,), (None,), [b"DEL", k]
        if kind == "mset":
            ks = tuple(sorted(set(self.pick_key(rng) for _ in range(3))))
            vs = tuple(val + b"k%d" % j for j in range(len(ks)))
            args = [b"MSET"]
            for k, v in zip(ks, vs):
                args += [k, v]
            return kind, ks, vs, args
        k = ctr_key(rng.randrange(self.ncounters))
        return "incr", (k,), None, [b"INCR", k]

    def connect(self, rng):
        i = rng.randrange(len(self.members))
        host, port = self.members[i]
        try:
            conn = Conn(port, host=host, timeout=1.0)
        except OSError:
            return None
        conn.member = i
        return conn

    def client(self, client, deadline):
        rng = random.Random(self.seed * 1000 + client)
        ops = []
        conn = None
        seq = 0
        # Clients move to a random member now and then, as pooled clients
        # do: else a member's clients leave it at its first fault and never
        # come back, and later faults on it go unseen.
        move_at = rng.randint(100, 400)
        while (not self.stop_flag.is_set() and seq < self.max_ops
               and time.monotonic() < deadline):
            if conn is None:
                conn = self.connect(rng)
                if conn is None:
                    time.sleep(0.05)
                    continue
            kind, keys, vals, args = self.request(rng, client, seq)
            seq += 1
            start = time.monotonic()
            sent = conn.send(encode(args))
            raw = conn.read_reply(timeout=REQUEST_TIMEOUT) if sent else CLOSED
            end = time.monotonic()
            status, result = classify(kind, raw)
            ops.append(Op(client, kind, keys, vals, start, end, status, result, conn.member))
            if raw in (TIMEOUT, CLOSED) or conn.closed or seq >= move_at:
                conn.close()
                conn = None
                move_at = seq + rng.randint(100, 400)
        if conn is not None:
            conn.close()
        with self.lock:
            self.history.extend(ops)


def classify(kind, raw):
    """(status, result) of one reply."""
    if raw == TIMEOUT:
        return "TIMEOUT", None
    if raw == CLOSED:
        return "CLOSED", None
    node, _ = decode(raw)
    if node.kind in "-!":
        word = (node.value or b"ERR").split(b" ", 1)[0].decode("ascii", "replace")
        return word, None
    if kind == "get" and node.kind == "$":
        return "ok", node.value
    if kind in ("set", "setex", "mset") and node.kind == "+" and node.value == b"OK":
        return "ok", None
    if kind in ("del", "incr") and node.kind == ":":
        return "ok", int(node.value)
    return "UNEXPECTED", raw


def read_all(host, port, keys, level=b"ALL", batch=256, attempts=20):
    """{key: value or None} read at a consistency level, pipelined; keys
    whose read fails are retried (a member may still be catching up), and
    missing from the result if they never succeed."""
    out = {}
    todo = list(keys)
    for _ in range(attempts):
        if not todo:
            break
        failed = []
        try:
            conn = Conn(port, host=host, timeout=2.0)
        except OSError:
            time.sleep(0.5)
            continue
        conn.send(encode([b"CONSISTENCY", level]))
        conn.read_reply(timeout=5)
        for i in range(0, len(todo), batch):
            part = todo[i:i + batch]
            conn.send(b"".join(encode([b"GET", k]) for k in part))
            for k in part:
                raw = conn.read_reply(timeout=10)
                if raw in (TIMEOUT, CLOSED):
                    failed.append(k)
                    continue
                node, _ = decode(raw)
                if node.kind == "$":
                    out[k] = node.value
                else:
                    failed.append(k)
            if conn.closed:
                failed += todo[i + batch:]
                break
        conn.close()
        todo = failed
        if todo:
            time.sleep(0.5)
    return out, todo
