"""The checker's own test: synthetic histories with a known anomaly must be
caught, and legal ones (concurrent writes, a timed-out write that applied
late) must pass. `make faults` runs this first, so a checker that cannot
fail fails the suite.
"""
from checker import check, failures
from workload import Op

K, C = b"fk:1", b"fc:1"


def w(start, end, val, status="ok", kind="set", key=K):
    return Op(0, kind, (key,), (val,), start, end, status, None)


def get(start, end, val, key=K):
    return Op(1, "get", (key,), None, start, end, "ok", val)


def incr(start, end, result, status="ok"):
    return Op(2, "incr", (C,), None, start, end, status, result if status == "ok" else None)


def findings(history, final, counters=()):
    return failures(check(history, final, list(counters)))


CASES = [
    # (name, history, final {key: value}, counters, expected failures)
    ("last acknowledged write survives", [w(0, 1, b"a"), w(2, 3, b"b")], {K: b"b"}, (), []),
    ("an acknowledged write overwritten by an older one is lost",
     [w(0, 1, b"a"), w(2, 3, b"b")], {K: b"a"}, (), ["lost_writes"]),
    ("a key that vanished lost its acknowledged write", [w(0, 1, b"a")], {K: None}, (),
     ["lost_writes"]),
    ("a value nobody wrote is caught", [w(0, 1, b"a")], {K: b"zz"}, (), ["never_written"]),
    ("concurrent acknowledged writes may end either way",
     [w(0, 2, b"a"), w(1, 3, b"b")], {K: b"a"}, (), []),
    ("a timed-out write may apply after later writes",
     [w(0, 1, b"c", status="TIMEOUT"), w(2, 3, b"b")], {K: b"c"}, (), []),
    ("a failed write need not apply", [w(0, 1, b"a"), w(2, 3, b"b", status="NOREPLICAS")],
     {K: b"a"}, (), []),
    ("an acknowledged DEL wins over the SET before it",
     [w(0, 1, b"a"), w(2, 3, None, kind="del")], {K: b"a"}, (), ["lost_writes"]),
    ("a read after an acknowledged write that misses it is stale",
     [w(0, 1, b"a"), w(2, 3, b"b"), get(4, 5, b"a")], {K: b"b"}, (), ["stale_reads"]),
    ("a read concurrent with a write may miss it",
     [w(0, 1, b"a"), w(2, 3, b"b"), get(2.5, 4, b"a")], {K: b"b"}, (), []),
    ("a read of a value written only after the read ended is caught",
     [w(0, 1, b"a"), get(1.5, 1.8, b"b"), w(2, 3, b"b")], {K: b"b"}, (), ["future_reads"]),
    ("counters: every acknowledged increment counted",
     [incr(0, 1, 1), incr(2, 3, 2), incr(4, 5, None, "TIMEOUT")], {C: b"2"}, (C,), []),
    ("counters: an acknowledged increment lost",
     [incr(0, 1, 1), incr(2, 3, 2), incr(4, 5, 3)], {C: b"2"}, (C,), ["incr_lost"]),
    ("counters: more increments than were sent",
     [incr(0, 1, 1), incr(2, 3, 2)], {C: b"3"}, (C,), ["incr_over"]),
    ("counters: two acknowledged increments answered the same value",
     [incr(0, 2, 1), incr(1, 3, 1), incr(4, 5, None, "NOREPLICAS")], {C: b"3"}, (C,),
     ["incr_dup"]),
    ("counters: an increment after another's reply answered less",
     [incr(0, 1, 2), incr(2, 3, 1), incr(4, 5, None, "CLOSED")], {C: b"3"}, (C,),
     ["incr_order"]),
    ("counters: a counter the final read could not read fails",
     [incr(0, 1, 1)], {}, (C,), ["unreadable"]),
]


def run():
    bad = 0
    for name, history, final, counters, want in CASES:
        got = findings(history, final, counters)
        ok = sorted(got) == sorted(want)
        bad += not ok
        print("  checker self-test: %-66s %s" % (name, "ok" if ok else
                                                  "FAILED: found %s, wanted %s" % (got, want)))
    return bad == 0


if __name__ == "__main__":
    import sys
    sys.exit(0 if run() else 1)
