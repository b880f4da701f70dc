#!/usr/bin/python3
"""Differential test of ringcache's memcached port against a real memcached.

Starts Debian's memcached (1.6, -I 1m) and ringcache-server (or, with
--cluster N, a local N-member ringcache cluster with replicas 3, talking to
member 1) on free loopback ports, sends every case of cases/*.txt to both over
raw TCP and compares the replies byte for byte (see README.md for the case
format and KNOWN_DIFFERENCES.md for the few normalizations).

    /usr/bin/python3 tests/memcached/difftest.py --ringcache ./ringcache-server [-v] [FILE...]

cases/pending.txt (known ringcache bugs) is skipped unless --include-pending
or named on the command line. Standard library only.
"""
import argparse
import base64
import glob
import os
import re
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import mcservers  # noqa: E402

MIN_CASES = 300
READ_TIMEOUT = 3.0       # for one reply (sentinel mode)
QUIET_MS = 150           # !raw: the reply is what arrives until this long a silence
# After each request the harness sends `mg SENTINEL_KEY k O<n>` (a miss on
# both servers: "EN k<key> O<n>") and reads up to that reply.
SENTINEL_KEY = b"__mccompat_sentinel__"
KNOWN_FILE = os.path.join(HERE, "KNOWN_DIFFERENCES.md")


# ---------------------------------------------------------------- case files
class Case:
    def __init__(self, path, lineno, kind, text, arg=None, known=None):
        self.path = path            # case file (relative name)
        self.lineno = lineno
        self.kind = kind            # req | pipeline | split | raw | sleep | conn | close
        self.text = text            # the request as written (or joined block)
        self.arg = arg              # directive argument
        self.known = known          # KNOWN_DIFFERENCES id for a normalized comparison
        self.compare = "exact"      # exact | stats | known | differs
        self.cluster_pending = False  # !cluster-pending: a known bug of the cluster run only

    @property
    def where(self):
        return "%s:%d" % (self.path, self.lineno)

    @property
    def counted(self):
        return self.kind in ("req", "pipeline", "split", "raw")


STORAGE = ("set", "add", "replace", "append", "prepend", "cas")

ESCAPE_RE = re.compile(r"\\(x[0-9a-fA-F]{2}|r|n|t|0|s|\\)")
ESCAPES = {"r": "\r", "n": "\n", "t": "\t", "0": "\0", "s": " ", "\\": "\\"}


def unescape(text):
    """Case text -> bytes: \\r \\n \\t \\0 \\s (a space) \\\\ \\xHH; the
    rest as UTF-8."""
    out = bytearray()
    pos = 0
    for m in ESCAPE_RE.finditer(text):
        out += text[pos:m.start()].encode()
        e = m.group(1)
        out += bytes([int(e[1:], 16)]) if e[0] == "x" else ESCAPES[e].encode("latin-1")
        pos = m.end()
    out += text[pos:].encode()
    if "\\" in text[pos:]:
        raise ValueError("unknown escape in %r" % text)
    return bytes(out)


SUBST_RE = re.compile(r"\$\{([^}]*)\}")


def substitute(text, state):
    """${now}, ${now+N}, ${now-N}, ${rep:N:TEXT}, ${cas}, ${cas+N},
    ${cas-N}, ${b64:TEXT} — per server (state holds its last CAS)."""
    def one(m):
        expr = m.group(1)
        if expr.startswith("rep:"):
            _, n, what = expr.split(":", 2)
            return what * int(n)
        if expr.startswith("b64:"):
            return base64.b64encode(unescape(expr[4:])).decode()
        mm = re.fullmatch(r"(now|cas)([+-]\d+)?", expr)
        if not mm:
            raise ValueError("unknown substitution ${%s}" % expr)
        base = int(time.time()) if mm.group(1) == "now" else state.get("cas")
        if base is None:
            raise ValueError("${cas} before any CAS value was seen")
        return str(base + int(mm.group(2) or 0))
    return SUBST_RE.sub(one, text)


def load_known():
    try:
        with open(KNOWN_FILE, encoding="utf-8") as f:
            return set(re.findall(r"^## ([a-z0-9-]+):", f.read(), re.M))
    except OSError:
        return set()


def parse_file(path, known_ids):
    """The cases of one file; raises ValueError on a malformed line."""
    rel = os.path.relpath(path, HERE)
    cases = []
    block = None
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for i, line in enumerate(lines, 1):
        if line.endswith("\r"):
            raise ValueError("%s:%d: CR at end of line (write \\r)" % (rel, i))
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("> "):
            # a data line of the previous request (raw multi-line storage command)
            target = block[-1] if block else (cases[-1] if cases else None)
            if target is None or target.kind not in ("req", "split", "pipeline-line"):
                raise ValueError("%s:%d: data line with no request before it" % (rel, i))
            target.text += "\\r\\n" + line[2:]
            continue
        if line.startswith("!"):
            word, _, rest = line[1:].partition(" ")
            if word == "pipeline":
                if block is not None:
                    raise ValueError("%s:%d: nested !pipeline" % (rel, i))
                block = []
                start = i
                continue
            if word == "end":
                if block is None:
                    raise ValueError("%s:%d: !end without !pipeline" % (rel, i))
                c = Case(rel, start, "pipeline", "\\r\\n".join(b.text for b in block) + "\\r\\n")
                c.parts = [b.text for b in block]
                cases.append(c)
                block = None
                continue
            if block is not None:
                raise ValueError("%s:%d: directive inside !pipeline" % (rel, i))
            if word in ("split", "raw"):
                cases.append(Case(rel, i, word, rest))
            elif word == "sleep":
                cases.append(Case(rel, i, "sleep", "", arg=int(rest)))
            elif word == "conn":
                cases.append(Case(rel, i, "conn", "", arg=rest.strip()))
            elif word == "close":
                cases.append(Case(rel, i, "close", ""))
            elif word == "stats":
                c = Case(rel, i, "req", rest)
                c.compare = "stats"
                cases.append(c)
            elif word == "cluster-pending":
                c = Case(rel, i, "req", rest)
                c.cluster_pending = True
                cases.append(c)
            elif word in ("known", "differs"):
                ident, _, req = rest.partition(" ")
                if ident not in known_ids:
                    raise ValueError("%s:%d: %s id %r is not a '## %s:' entry of KNOWN_DIFFERENCES.md"
                                     % (rel, i, word, ident, ident))
                c = Case(rel, i, "req", req, known=ident)
                c.compare = "differs" if word == "differs" else "known"
                cases.append(c)
            else:
                raise ValueError("%s:%d: unknown directive !%s" % (rel, i, word))
            continue
        if block is not None:
            block.append(Case(rel, i, "pipeline-line", line))
        else:
            c = Case(rel, i, "req", line)
            cases.append(c)
    if block is not None:
        raise ValueError("%s: !pipeline without !end" % rel)
    return cases


# ------------------------------------------------------------------ replies
def escape(data):
    out = []
    for b in data:
        ch = chr(b)
        if ch == "\r":
            out.append("\\r")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif 32 <= b < 127:
            out.append(ch)
        else:
            out.append("\\x%02x" % b)
    return '"' + "".join(out) + '"'


class Conn:
    """One client connection to one server."""

    def __init__(self, port):
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.closed = False
        self.seq = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        self.closed = True

    def send(self, data, split=False):
        try:
            if split:
                for j in range(len(data)):
                    self.sock.sendall(data[j:j + 1])
                    time.sleep(0.001)
            else:
                self.sock.sendall(data)
        except OSError:
            self.closed = True

    def _fill(self, deadline):
        self.sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return None
        except OSError:
            chunk = b""
        if not chunk:
            self.closed = True
            return False
        self.buf += chunk
        return True

    def read_until_sentinel(self, seq):
        """Everything up to the reply to sentinel number seq (a miss of
        `mg SENTINEL_KEY k O<seq>`, value data skipped by length), without
        it. Adds `[then closed]` or `[timeout]`."""
        deadline = time.monotonic() + READ_TIMEOUT
        pos = 0
        want = b"EN k%s O%d" % (SENTINEL_KEY, seq)
        while True:
            nl = self.buf.find(b"\r\n", pos)
            if nl >= 0:
                line = self.buf[pos:nl]
                end = nl + 2
                n = None
                parts = line.split(b" ")
                try:
                    if parts[0] == b"VALUE" and len(parts) >= 4:
                        n = int(parts[3])
                    elif parts[0] == b"VA" and len(parts) >= 2:
                        n = int(parts[1])
                except ValueError:
                    n = None
                if n is not None and n >= 0:
                    if len(self.buf) < end + n + 2:
                        r = self._fill(deadline)
                        if r:
                            continue
                        out, self.buf = self.buf, b""
                        return out + (b"[then closed]" if r is False else b"[timeout]")
                    end += n + 2
                if line == want:
                    out = self.buf[:pos]
                    self.buf = self.buf[end:]
                    return out
                pos = end
                continue
            r = self._fill(deadline)
            if not r:
                out, self.buf = self.buf, b""
                return out + (b"[then closed]" if r is False else b"[timeout]")

    def read_quiet(self, quiet_ms=QUIET_MS, limit=READ_TIMEOUT):
        end = time.monotonic() + limit
        while time.monotonic() < end:
            r = self._fill(min(end, time.monotonic() + quiet_ms / 1000.0))
            if r is None:
                break
            if r is False:
                out, self.buf = self.buf, b""
                return out + b"[then closed]"
        out, self.buf = self.buf, b""
        return out


CAS_VALUE_RE = re.compile(rb"^(VALUE \S+ \d+ \d+ )(\d+)$")
META_LINE_RE = re.compile(rb"^(HD|VA|EN|NF|NS|EX|OK)( .*)?$")
ME_CAS_RE = re.compile(rb"(\bcas=)(\d+)")


def cas_values(reply):
    """The CAS numbers in a reply, in order: VALUE lines' 5th token, meta
    replies' c flag, me's cas=."""
    found = []
    for line in iter_lines(reply):
        m = CAS_VALUE_RE.match(line)
        if m:
            found.append(m.group(2))
            continue
        m = META_LINE_RE.match(line)
        if m and m.group(2):
            for tok in m.group(2).split(b" "):
                if re.fullmatch(rb"c\d+", tok):
                    found.append(tok[1:])
        if line.startswith(b"ME "):
            found += [x.group(2) for x in ME_CAS_RE.finditer(line)]
    return found


def iter_lines(reply):
    """The protocol lines of a reply (value data skipped by length)."""
    pos = 0
    while True:
        nl = reply.find(b"\r\n", pos)
        if nl < 0:
            return
        line = reply[pos:nl]
        yield line
        pos = nl + 2
        parts = line.split(b" ")
        try:
            if parts[0] == b"VALUE" and len(parts) >= 4:
                pos += int(parts[3]) + 2
            elif parts[0] == b"VA" and len(parts) >= 2:
                pos += int(parts[1]) + 2
        except ValueError:
            pass


def normalize_cas(reply, table, mask=False):
    """Each CAS number becomes <casN>, N numbering the distinct values in the
    order a case file first shows them on this server; with mask, <cas>."""
    def name(v):
        if mask:
            return b"<cas>"
        if v not in table:
            table[v] = len(table) + 1
        return b"<cas%d>" % table[v]

    out = []
    pos = 0
    while True:
        nl = reply.find(b"\r\n", pos)
        if nl < 0:
            out.append(reply[pos:])
            break
        line = reply[pos:nl]
        nxt = nl + 2
        skip = 0
        parts = line.split(b" ")
        try:
            if parts[0] == b"VALUE" and len(parts) >= 4:
                skip = int(parts[3]) + 2
            elif parts[0] == b"VA" and len(parts) >= 2:
                skip = int(parts[1]) + 2
        except ValueError:
            skip = 0
        m = CAS_VALUE_RE.match(line)
        if m:
            line = m.group(1) + name(m.group(2))
        elif META_LINE_RE.match(line):
            toks = line.split(b" ")
            line = b" ".join([toks[0]] + [b"c" + name(t[1:]) if re.fullmatch(rb"c\d+", t) else t
                                          for t in toks[1:]])
        elif line.startswith(b"ME "):
            line = ME_CAS_RE.sub(lambda x: x.group(1) + name(x.group(2)), line)
        out.append(line + b"\r\n" + reply[nxt:nxt + skip])
        pos = nxt + skip
    return b"".join(out)


def stats_shape(reply):
    """A stats reply reduced to the set of its field names (`STAT NAME
    value` -> NAME, sorted) plus its other lines (END, errors) in order."""
    names, other = set(), []
    for line in reply.split(b"\r\n"):
        parts = line.split(b" ")
        if parts[0] == b"STAT" and len(parts) >= 2:
            names.add(parts[1])
        else:
            other.append(line)
    return b"STAT " + b" ".join(sorted(names)) + b"\r\n" + b"\r\n".join(other)


def me_shape(reply):
    return re.sub(rb"(\w+)=\S+", rb"\1=*", reply)


# ------------------------------------------------------------------- runner
class Runner:
    def __init__(self, ports, verbose=False, cluster=False, include_pending=False):
        self.ports = ports            # {"memcached": port, "ringcache": port}
        self.verbose = verbose
        self.cluster = cluster
        self.include_pending = include_pending
        self.pending = 0              # !cluster-pending lines not judged
        self.passed = 0
        self.failed = 0
        self.failures = []

    def flush(self):
        for name, port in self.ports.items():
            c = Conn(port)
            try:
                c.seq += 1
                c.send(b"flush_all\r\nverbosity 0\r\nmg %s k O%d\r\n" % (SENTINEL_KEY, c.seq))
                r = c.read_until_sentinel(c.seq)
                if r != b"OK\r\nOK\r\n":
                    raise RuntimeError("%s: flush_all answered %s" % (name, escape(r)))
            finally:
                c.close()

    def run_file(self, cases):
        self.flush()
        conns = {}          # (connname, server) -> Conn
        state = {s: {"cas": None, "table": {}} for s in self.ports}
        current = "main"
        fpass = ffail = 0
        try:
            for case in cases:
                if case.kind == "sleep":
                    time.sleep(case.arg / 1000.0)
                    continue
                if case.kind == "conn":
                    current = case.arg
                    continue
                if case.kind == "close":
                    for s in self.ports:
                        c = conns.pop((current, s), None)
                        if c:
                            c.close()
                    continue
                replies = {}
                for s, port in self.ports.items():
                    c = conns.get((current, s))
                    if c is None or c.closed:
                        if c:
                            c.close()
                        c = conns[(current, s)] = Conn(port)
                    replies[s] = self.exchange(c, case, state[s])
                    for v in cas_values(replies[s]):
                        state[s]["cas"] = int(v)
                if case.cluster_pending and self.cluster and not self.include_pending:
                    self.pending += 1
                    if self.verbose:
                        print("pend %s  %s (cluster-pending, not judged)" % (case.where, case.text[:100]))
                    continue
                ok, why = self.judge(case, replies, state)
                if ok:
                    fpass += 1
                else:
                    ffail += 1
                    self.report(case, why, replies)
                if self.verbose and ok:
                    print("ok   %s  %s" % (case.where, case.text[:100]))
                    for s in self.ports:
                        print("       %-10s %s" % (s + ":", escape(replies[s])[:300]))
        finally:
            for c in conns.values():
                c.close()
        self.passed += fpass
        self.failed += ffail
        return fpass, ffail

    def exchange(self, c, case, st):
        try:
            data = unescape(substitute(case.text, st))
        except ValueError as e:
            return ("[case error: %s]" % e).encode()
        if case.kind == "raw":
            c.send(data)
            return c.read_quiet()
        if case.kind != "pipeline":
            data += b"\r\n"
        c.send(data, split=(case.kind == "split"))
        if c.closed:
            return b"[closed before the request]"
        c.seq += 1
        c.send(b"mg %s k O%d\r\n" % (SENTINEL_KEY, c.seq))
        return c.read_until_sentinel(c.seq)

    def judge(self, case, replies, state):
        mc, rc = replies["memcached"], replies["ringcache"]
        if b"[case error" in mc:
            return False, mc.decode()
        if case.compare == "stats":
            a, b = stats_shape(mc), stats_shape(rc)
            if a == b:
                return True, ""
            na = set(a.split(b"\r\n")[0].split(b" ")[1:])
            nb = set(b.split(b"\r\n")[0].split(b" ")[1:])
            return False, "stats field names differ; only memcached: %s; only ringcache: %s" % (
                b" ".join(sorted(na - nb)).decode() or "-", b" ".join(sorted(nb - na)).decode() or "-")
        if case.compare == "differs":
            return (mc != rc, "stale !differs: both replies are the same now")
        mask = case.compare == "known"
        a = normalize_cas(mc, state["memcached"]["table"], mask)
        b = normalize_cas(rc, state["ringcache"]["table"], mask)
        if mask and case.known == "me-output":
            a, b = me_shape(a), me_shape(b)
        if a == b:
            return True, ""
        if a != mc or b != rc:
            return False, "replies differ (after CAS normalization: %s / %s)" % (escape(a), escape(b))
        return False, "replies differ"

    def report(self, case, why, replies):
        print("MISMATCH %s" % case.where)
        print("  request:   %s" % case.text)
        print("  why:       %s" % why)
        print("  memcached: %s" % escape(replies["memcached"]))
        print("  ringcache: %s" % escape(replies["ringcache"]))
        self.failures.append(case.where)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ringcache", required=True, help="path to ringcache-server")
    ap.add_argument("--cluster", type=int, default=0, metavar="N",
                    help="compare member 1 of a local N-member ringcache cluster (replicas 3)")
    ap.add_argument("--include-pending", action="store_true",
                    help="also run cases/pending.txt (known ringcache bugs)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every case and both replies")
    ap.add_argument("files", nargs="*", help="case files (names under cases/ or paths)")
    opts = ap.parse_args()
    mcservers.install_signal_handlers()

    known = load_known()
    if opts.files:
        paths = [f if os.path.exists(f) else os.path.join(HERE, "cases", f) for f in opts.files]
    else:
        paths = sorted(glob.glob(os.path.join(HERE, "cases", "*.txt")))
        if not opts.include_pending:
            paths = [p for p in paths if os.path.basename(p) != "pending.txt"]
    files = []
    try:
        for p in paths:
            files.append((p, parse_file(p, known)))
    except (OSError, ValueError) as e:
        print("case file error: %s" % e)
        print("0 passed, 1 failed")
        return 1
    default_set = not opts.files
    total = sum(1 for _, cs in files for c in cs if c.counted and not c.path.endswith("pending.txt"))

    t0 = time.monotonic()
    mc = mcservers.Memcached()
    rc = mcservers.ringcache_for(opts.ringcache, opts.cluster)
    try:
        mc.start()
        rc.start()
        print("memcached on %d, ringcache%s on %d" % (
            mc.port, " (member 1 of a %d-member cluster, replicas 3)" % opts.cluster
            if opts.cluster else "", rc.port), flush=True)
        runner = Runner({"memcached": mc.port, "ringcache": rc.port}, opts.verbose,
                        cluster=bool(opts.cluster), include_pending=opts.include_pending)
        for path, cases in files:
            p, f = runner.run_file(cases)
            print("%-28s %4d passed, %d failed" % (os.path.relpath(path, HERE), p, f), flush=True)
            if not rc.alive():
                print("ringcache-server died:\n" + rc.log_tail())
                runner.failed += 1
                break
    finally:
        rc.stop()
        mc.stop()
    failed = runner.failed
    if default_set and total < MIN_CASES:
        print("only %d cases in the default set; at least %d are required" % (total, MIN_CASES))
        failed += 1
    print("%d cases in %.1fs" % (runner.passed + runner.failed, time.monotonic() - t0))
    if runner.pending:
        print("%d cluster-pending lines not judged (known cluster bugs, see cases/pending.txt;"
              " --include-pending judges them)" % runner.pending)
    print("%d passed, %d failed" % (runner.passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted")
        print("0 passed, 1 failed")
        sys.exit(130)
