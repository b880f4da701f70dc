"""The checker: what a history of Ops plus the values read after heal at
CONSISTENCY ALL may legally look like.

The model (Jepsen's): a request that got no definite answer (an error, a
timeout, a closed connection) may have applied, at any time after it started
-- a write that timed out can still win later -- so its end is taken as
infinity. An acknowledged request took effect between its start and its
reply. "w1 before w2" means w1's reply came before w2 was sent.

Registers (SET, SET EX, DEL, MSET; every value written once):
- the final value must be the value of a write x (or the initial nil) that
  is not before any acknowledged write: x.end >= T, T being the latest start
  of an acknowledged write of the key. Otherwise the acknowledged writes that
  started after x.end are lost.
- a value no write ever wrote is reported on its own.
- read-your-acknowledged-write (W + R > N): a GET that began after an
  acknowledged write's reply returns that write or one not before it.

Counters (INCR): final >= acknowledged increments, <= attempted ones, >= the
largest acknowledged reply; no two acknowledged INCRs of a counter answered
the same value, and an INCR that began after another's reply answered more
(either would mean an acknowledged increment was overwritten).
"""
import bisect
import itertools
from collections import defaultdict

INF = float("inf")
INITIAL = (-INF, -INF, None)      # start, effective end, value


def writes_by_key(history):
    """{key: [(start, end, value)]}: acknowledged writes keep their end,
    indeterminate ones get end = infinity. The initial nil is a write that
    ended before anything began."""
    out = defaultdict(lambda: [INITIAL])
    for op in history:
        if op.kind in ("set", "setex", "del", "mset"):
            end = op.end if op.status == "ok" else INF
            for k, v in zip(op.keys, op.vals):
                out[k].append((op.start, end, v))
    return out


def latest_acked_start(writes, before=INF):
    """The latest start among acknowledged writes that ended before `before`
    (the initial nil counts, so there is always one)."""
    return max(s for s, e, _ in writes if e != INF and e < before)


def explain(value, writes, before=INF, start_before=INF):
    """None if `value` is legal after the acknowledged writes that ended
    before `before`; else ("never-written", []) or ("lost", [the acknowledged
    writes the value hides])."""
    cands = [w for w in writes if w[2] == value and w[0] < start_before]
    if not cands:
        return "never-written", []
    t = latest_acked_start(writes, before)
    best = max(e for _, e, _ in cands)
    if best >= t:
        return None
    hidden = [w for w in writes if w[1] != INF and w[1] < before and w[0] > best]
    return "lost", hidden


def check(history, final, counters, nconverge_bad=0):
    """A dict of findings: every list must be empty for the run to pass."""
    res = {"lost_writes": [], "never_written": [], "stale_reads": [],
           "future_reads": [], "incr_lost": [], "incr_over": [], "incr_dup": [],
           "incr_order": [], "unreadable": [], "acked_writes_lost": 0}
    writes = writes_by_key(history)
    counter_set = set(counters)
    for k, v in final.items():
        if k in counter_set:
            continue
        why = explain(v, writes[k])
        if why is None:
            continue
        kind, hidden = why
        if kind == "never-written":
            res["never_written"].append((k, v))
        else:
            res["lost_writes"].append((k, v, hidden))
            res["acked_writes_lost"] += len(hidden)
    for op in history:
        if op.kind != "get" or op.status != "ok":
            continue
        k = op.keys[0]
        why = explain(op.result, writes[k], before=op.start, start_before=op.end)
        if why is None:
            continue
        kind, hidden = why
        if kind == "never-written":
            res["future_reads"].append((k, op.result, op.start, op.end))
        else:
            res["stale_reads"].append((k, op.result, op.start, op.end, hidden))
    check_counters(history, final, counters, res)
    return res


def check_counters(history, final, counters, res):
    incrs = defaultdict(list)
    for op in history:
        if op.kind == "incr":
            incrs[op.keys[0]].append(op)
    for k in counters:
        ops = incrs.get(k, [])
        acked = [op for op in ops if op.status == "ok"]
        if k not in final:
            if ops:
                res["unreadable"].append(k)
            continue
        v = final[k]
        n = int(v) if v is not None else 0
        if n < len(acked) or (acked and n < max(op.result for op in acked)):
            res["incr_lost"].append((k, n, len(acked)))
            res["acked_writes_lost"] += max(len(acked) - n, 1)
        if n > len(ops):
            res["incr_over"].append((k, n, len(ops)))
        seen = {}
        for op in acked:
            if op.result in seen:
                res["incr_dup"].append((k, op.result))
            seen[op.result] = op
        by_end = sorted(acked, key=lambda o: o.end)
        ends = [a.end for a in by_end]
        best = list(itertools.accumulate((a.result for a in by_end), max))
        for b in acked:
            # the largest reply among INCRs that answered before b began
            i = bisect.bisect_left(ends, b.start)
            if i > 0 and b.result <= best[i - 1]:
                res["incr_order"].append((k, best[i - 1], b.result))


def failures(res):
    """The names of the findings that fail the run."""
    keys = ("lost_writes", "never_written", "stale_reads", "future_reads", "incr_lost",
            "incr_over", "incr_dup", "incr_order", "unreadable")
    return [k for k in keys if res[k]]
