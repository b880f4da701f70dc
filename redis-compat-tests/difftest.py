#!/usr/bin/python3
"""Differential test: every case line goes to a real redis-server and to
ringcache-server over RESP, and the raw replies are compared byte for byte
(unless a marker on the line says how else). See README.md.

    /usr/bin/python3 redis-compat-tests/difftest.py --ringcache ./ringcache-server
"""
import argparse
import concurrent.futures
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from rcompat import casefile, cliargs, compare, resp  # noqa: E402
from rcompat.servers import REDIS_SERVER, ClusterProcess, ServerError, ServerProcess, ping  # noqa: E402

SIDES = ("redis", "ringcache")
READ_TIMEOUT = 5.0
# Settings a case file may change; put back before the next file.
CONFIG_RESET = [b"requirepass", b"", b"maxmemory", b"0", b"timeout", b"0",
                b"slowlog-log-slower-than", b"10000", b"slowlog-max-len", b"128",
                b"maxmemory-samples", b"5", b"loglevel", b"notice"]
# Settings whose defaults differ by design (KNOWN_DIFFERENCES.md): each
# server gets back its own starting value.
CONFIG_OWN_DEFAULTS = [b"maxmemory-policy"]


def load_known_ids(path):
    ids = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^##\s+([a-z0-9][a-z0-9-]*):", line)
            if m:
                ids.add(m.group(1))
    return ids


def command_table(path):
    """(name, sub) pairs from server/commands.h's X-macros."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    top = re.findall(r'^\s*X\("([a-z]+)",', text, re.M)
    subs = re.findall(r'^\s*X\(([a-z]+), "([a-z-]+)",', text, re.M)
    return [(t, None) for t in top] + list(subs)


class Side:
    """One server's state for the current case file: its named connections
    and the values saved with @save."""

    def __init__(self, name, server):
        self.name, self.server = name, server
        self.conns = {}
        self.vars = {}
        self.admin = None
        self.defaults = None    # CONFIG_OWN_DEFAULTS as found at the first file

    def restore_config(self):
        if self.defaults is None:
            self.defaults = []
            for d in CONFIG_OWN_DEFAULTS:
                node = compare._decode(self.admin_cmd([b"CONFIG", b"GET", d]))
                if node is not None and node.is_agg() and len(node.value) == 2:
                    self.defaults += [d, node.value[1].value]
        self.admin_cmd([b"CONFIG", b"SET"] + CONFIG_RESET + self.defaults)

    def conn(self, cname):
        c = self.conns.get(cname)
        if c is None or c.closed:
            try:
                c = resp.Conn(self.server.port)
            except OSError as e:   # server gone: the line reads <connection closed>
                c = resp.Conn.dead(str(e))
            self.conns[cname] = c
        return c

    def drop(self, cname):
        c = self.conns.pop(cname, None)
        if c is not None:
            c.close()

    def reset(self):
        for c in self.conns.values():
            c.close()
        self.conns, self.vars = {}, {}

    def admin_cmd(self, args):
        r = resp.CLOSED
        for _ in range(2):
            if self.admin is None or self.admin.closed:
                try:
                    self.admin = resp.Conn(self.server.port)
                except OSError:
                    return resp.CLOSED
            self.admin.send(resp.encode(args))
            r = self.admin.read_reply(READ_TIMEOUT)
            if r not in (resp.CLOSED, resp.TIMEOUT):
                return r
            self.admin = None
        return r

    def env(self, index=None):
        def lookup(name):
            name = name.decode("latin-1")
            m = re.fullmatch(r"(now|now_ms)([+-]\d+)?", name)
            if m:
                base = int(time.time() * (1000 if m.group(1) == "now_ms" else 1))
                return b"%d" % (base + int(m.group(2) or 0))
            m = re.fullmatch(r"rep:(\d+):(.*)", name, re.S)
            if m:
                return m.group(2).encode("latin-1") * int(m.group(1))
            if name.startswith("var:"):
                return self.vars[name[4:]]
            if name.startswith("sockname:"):
                return self.conn(name[9:]).sockname().encode()
            if name == "port":
                return b"%d" % self.server.port
            if name == "i" and index is not None:
                return b"%d" % index
            raise KeyError(name)
        return lookup


class Runner:
    def __init__(self, servers, known_ids, verbose=False, cluster=False):
        self.servers = servers            # {"redis": ServerProcess, "ringcache": ...}
        self.known_ids = known_ids
        self.verbose = verbose
        self.cluster = cluster            # ringcache is a ClusterProcess (member 1 gets every line)
        self.passed = self.failed = self.documented = 0
        self.standalone_only = 0          # lines not sent in a cluster run (@standalone-only)
        self.failures = []
        self.sides = {}
        self.cur = "main"
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)

    # ---- reporting -----------------------------------------------------------
    def ok(self, case, text, a, b):
        self.passed += 1
        if self.verbose:
            print("ok   %s: %s\n       -> %s%s" % (case.where(), text, resp.escape(a, 0, 160),
                                               "" if a == b else "\n    rc -> " + resp.escape(b, 0, 160)))

    def fail(self, where, text, reason, a, b):
        self.failed += 1
        off = compare.first_diff(a, b)
        msg = ("MISMATCH %s\n  command:   %s\n  why:       %s\n  redis:     %s\n  ringcache: %s"
               % (where, text, reason, resp.escape(a, off), resp.escape(b, off)))
        self.failures.append(msg)
        print(msg, flush=True)

    def markers(self, markers):
        """The markers a line is judged by in this run (@cluster-differs)."""
        return compare.for_cluster(markers) if self.cluster else markers

    def judge(self, case, text, markers, a, b, where=None):
        where = where or case.where()
        for ident in (markers.get("differs", [])[:1] + markers.get("known", []) +
                      markers.get("cluster-differs", [])[:1] + markers.get("standalone-only", [])):
            if ident.decode() not in self.known_ids:
                self.fail(where, text, "marker names %r, which KNOWN_DIFFERENCES.md does not list"
                          % ident.decode(), a, b)
                return
        markers = self.markers(markers)
        reason = compare.judge(markers, a, b)
        if reason is None:
            if "differs" in markers:
                self.documented += 1
            self.ok(case, text, a, b)
        else:
            self.fail(where, text, reason, a, b)

    # ---- execution -------------------------------------------------------------
    def start_file(self):
        for name in SIDES:
            side = self.sides.get(name)
            if side is not None:
                side.reset()
            else:
                side = self.sides[name] = Side(name, self.servers[name])
            side.restore_config()
            side.admin_cmd([b"FLUSHALL"])
            if side.admin is not None:   # no admin connection while the file runs
                side.admin.close()
                side.admin = None
        self.cur = "main"

    def end_file(self):
        for name in SIDES:
            self.sides[name].restore_config()
            self.sides[name].reset()

    def expand(self, side, args, index=None):
        env = side.env(index)
        return [casefile.expand(a, env) for a in args]

    def send_cmds(self, case, args_list_fn):
        """Send each side its requests; returns {side: conn}."""
        conns = {}
        for name in SIDES:
            side = self.sides[name]
            conn = side.conn(self.cur)
            conn.send(b"".join(resp.encode(a) for a in args_list_fn(side)))
            conns[name] = conn
        return conns

    def after_reply(self, name, raw):
        if raw in (resp.CLOSED, resp.TIMEOUT):
            self.sides[name].drop(self.cur)

    def save(self, markers, name, raw):
        if "save" not in markers:
            return
        node = compare._decode(raw)
        if node is not None and not node.is_agg() and node.value is not None:
            self.sides[name].vars[markers["save"][0].decode()] = node.value

    def skip_in_cluster(self, case):
        """@standalone-only: in a cluster run the line is not sent (its entry
        says why); counted apart, never as passed."""
        if not self.cluster or "standalone-only" not in case.markers:
            return False
        ident = case.markers["standalone-only"][0].decode()
        if ident not in self.known_ids:
            self.fail(case.where(), case.text, "marker names %r, which KNOWN_DIFFERENCES.md does "
                      "not list" % ident, b"", b"")
        else:
            self.standalone_only += 1
            if self.verbose:
                print("skip %s: %s (@standalone-only %s)" % (case.where(), case.text, ident))
        return True

    def run_cmd(self, case):
        if self.skip_in_cluster(case):
            return
        if "scan-all" in case.markers:
            return self.run_scan_all(case)
        conns = self.send_cmds(case, lambda s: [self.expand(s, case.args)])
        got = {}
        for name in SIDES:
            raw = conns[name].read_reply(READ_TIMEOUT)
            if "closes" in case.markers and raw not in (resp.CLOSED, resp.TIMEOUT):
                raw += b" [then closed]" if conns[name].wait_closed(1.0) else b" [connection left open]"
                self.sides[name].drop(self.cur)
            self.after_reply(name, raw)
            self.save(case.markers, name, raw)
            got[name] = raw
        self.judge(case, cliargs.join(case.args), case.markers, got["redis"], got["ringcache"])

    def run_scan_all(self, case):
        got = {}
        for name in SIDES:
            side = self.sides[name]
            args = self.expand(side, case.args)
            seen, cursor, out = set(), args[1], None
            for _ in range(100000):
                conn = side.conn(self.cur)
                conn.send(resp.encode([args[0], cursor] + args[2:]))
                raw = conn.read_reply(READ_TIMEOUT)
                self.after_reply(name, raw)
                node = compare._decode(raw)
                if (node is None or node.kind != "*" or len(node.value) != 2
                        or node.value[0].kind != "$" or node.value[1].kind != "*"):
                    out = raw if not seen and cursor == args[1] else b"<bad SCAN reply> " + raw
                    break
                seen.update(k.value for k in node.value[1].value)
                cursor = node.value[0].value
                if cursor == b"0":
                    out = b"all keys: " + b" ".join(cliargs.quote(k).encode() for k in sorted(seen))
                    break
            else:
                out = b"<SCAN never returned cursor 0>"
            got[name] = out
        self.judge(case, cliargs.join(case.args), {}, got["redis"], got["ringcache"])

    def run_repeat(self, case):
        if self.skip_in_cluster(case):
            return
        n = case.count
        conns = self.send_cmds(case, lambda s: [self.expand(s, case.args, i) for i in range(n)])
        replies = {}
        for name in SIDES:
            lst = []
            for _ in range(n):
                raw = conns[name].read_reply(READ_TIMEOUT)
                lst.append(raw)
                if raw in (resp.CLOSED, resp.TIMEOUT):
                    self.after_reply(name, raw)
                    break
            replies[name] = lst
        text = "!repeat %d %s" % (n, cliargs.join(case.args))
        ra, rb = replies["redis"], replies["ringcache"]
        markers = self.markers(case.markers)
        for i in range(max(len(ra), len(rb))):
            a = ra[i] if i < len(ra) else b"<no reply>"
            b = rb[i] if i < len(rb) else b"<no reply>"
            reason = compare.judge(markers, a, b)
            if reason is not None:
                self.fail(case.where(), text, "reply #%d (${i}=%d): %s" % (i + 1, i, reason), a, b)
                return
        self.judge(case, text, {}, b"", b"")

    def run_pipeline(self, case):
        conns = self.send_cmds(case, lambda s: [self.expand(s, c.args) for c in case.items])
        replies = {}
        for name in SIDES:
            lst = []
            for item in case.items:
                raw = conns[name].read_reply(READ_TIMEOUT)
                self.save(item.markers, name, raw)
                lst.append(raw)
            if any(r in (resp.CLOSED, resp.TIMEOUT) for r in lst):
                self.sides[name].drop(self.cur)
            replies[name] = lst
        for i, item in enumerate(case.items):
            self.judge(item, cliargs.join(item.args), item.markers,
                       replies["redis"][i], replies["ringcache"][i])

    def run_raw(self, case):
        if self.skip_in_cluster(case):
            return
        data = {}
        for name in SIDES:
            side = self.sides[name]
            data[name] = casefile.expand(case.data, side.env())
        conns = {name: self.sides[name].conn(self.cur) for name in SIDES}
        for name in SIDES:
            conns[name].send(data[name])
        futs = {name: self.pool.submit(conns[name].read_all) for name in SIDES}
        got = {}
        for name in SIDES:
            out, closed = futs[name].result()
            if closed:
                out += b" [then closed]"
                self.sides[name].drop(self.cur)
            got[name] = out
        self.judge(case, case.text, case.markers, got["redis"], got["ringcache"])

    def run_directive(self, d):
        if d.name == "conn":
            self.cur = d.arg
        elif d.name == "close":
            for name in SIDES:
                self.sides[name].drop(self.cur)
        elif d.name == "sleep":
            time.sleep(int(d.arg) / 1000.0)

    def run_file(self, items):
        self.start_file()
        try:
            for it in items:
                if isinstance(it, casefile.Directive):
                    self.run_directive(it)
                elif it.kind == "cmd":
                    self.run_cmd(it)
                elif it.kind == "repeat":
                    self.run_repeat(it)
                elif it.kind == "pipeline":
                    self.run_pipeline(it)
                elif it.kind == "raw":
                    self.run_raw(it)
        finally:
            self.end_file()


def check_coverage(files, commands_h):
    """Every command and subcommand of the server's table has a case."""
    used = set()
    for items in files.values():
        for it in items:
            if isinstance(it, casefile.Directive):
                continue
            cases = it.items if it.kind == "pipeline" else [it]
            for c in cases:
                if c.kind == "raw":
                    try:
                        args, _ = cliargs.split(c.data.split(b"\r\n")[0])
                    except cliargs.SplitError:
                        continue
                else:
                    args = c.args
                if args:
                    used.add((args[0].lower().decode("utf-8", "replace"),
                              args[1].lower().decode("utf-8", "replace") if len(args) > 1 else None))
    missing = []
    for name, sub in command_table(commands_h):
        if sub is None:
            ok = any(u[0] == name for u in used)
        else:
            ok = (name, sub) in used
        if not ok:
            missing.append(name if sub is None else "%s %s" % (name, sub))
    return missing


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ringcache", required=True, help="path to ringcache-server")
    ap.add_argument("--redis-server", default=REDIS_SERVER)
    ap.add_argument("--cases", default=os.path.join(HERE, "cases"))
    ap.add_argument("--commands-h", default=os.path.join(HERE, "..", "server", "commands.h"))
    ap.add_argument("--min-cases", type=int, default=400)
    ap.add_argument("--cluster", type=int, default=0, metavar="N",
                    help="compare a local ringcache cluster of N members (replicas 3, every "
                    "case sent to member 1) with a standalone redis-server")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("only", nargs="*", help="case files to run (default: all)")
    opts = ap.parse_args()

    known = load_known_ids(os.path.join(HERE, "KNOWN_DIFFERENCES.md"))
    names = sorted(f for f in os.listdir(opts.cases) if f.endswith(".txt"))
    if opts.only:
        wanted = {os.path.basename(o) for o in opts.only}
        names = [n for n in names if n in wanted]
    files = {}
    try:
        for n in names:
            files[n] = casefile.parse(os.path.join(opts.cases, n), "cases/" + n)
    except casefile.CaseError as e:
        print("case file error: %s" % e)
        print("0 passed, 1 failed")
        return 1

    total = sum(it.ncases() for items in files.values() for it in items
                if not isinstance(it, casefile.Directive))
    problems = []
    if not opts.only:
        if total < opts.min_cases:
            problems.append("only %d cases, fewer than the %d required" % (total, opts.min_cases))
        if os.path.exists(opts.commands_h):
            for m in check_coverage(files, opts.commands_h):
                problems.append("no case exercises the server's command %r" % m.upper())
        else:
            problems.append("cannot read %s for the coverage check" % opts.commands_h)

    t0 = time.monotonic()
    servers = {"redis": ServerProcess.redis(opts.redis_server),
               "ringcache": (ClusterProcess(opts.ringcache, opts.cluster) if opts.cluster
                             else ServerProcess.ringcache(opts.ringcache))}
    runner = None
    try:
        for s in servers.values():
            s.start()
        print("redis-server on port %d, ringcache-server%s on port %d; %d cases in %d files"
              % (servers["redis"].port,
                 " (member 1 of a %d-member cluster, replicas 3)" % opts.cluster if opts.cluster else "",
                 servers["ringcache"].port, total, len(files)), flush=True)
        runner = Runner(servers, known, opts.verbose, cluster=bool(opts.cluster))
        for n, items in files.items():
            before = (runner.passed, runner.failed)
            try:
                runner.run_file(items)
            except (casefile.CaseError, OSError) as e:
                runner.fail("cases/" + n, "(file aborted)", str(e), b"", b"")
            for name in SIDES:
                srv = servers[name]
                if srv.alive() and ping(srv.port, 2.0):
                    continue
                # Gone (or going: SHUTDOWN is asynchronous). Report, restart.
                try:
                    srv.proc.wait(3)
                except Exception:  # noqa: BLE001 - still running but deaf: stop() kills it
                    pass
                runner.fail("cases/" + n, "(server check)", "%s stopped answering during this file; "
                            "its log ends:\n%s" % (name, srv.log_tail()), b"", b"")
                srv.stop()
                srv.start()
            print("  %-28s %4d passed, %d failed" % ("cases/" + n, runner.passed - before[0],
                                                     runner.failed - before[1]), flush=True)
    except ServerError as e:
        print("cannot run: %s" % e)
        problems.append(str(e))
    finally:
        for s in servers.values():
            s.stop()
        if runner is not None:
            runner.pool.shutdown(wait=False)

    passed = runner.passed if runner else 0
    failed = (runner.failed if runner else 0) + len(problems)
    for p in problems:
        print("PROBLEM: %s" % p)
    if runner is not None:
        print("%d of the passing cases are documented differences (@differs%s, see KNOWN_DIFFERENCES.md)"
              % (runner.documented, ", @cluster-differs" if opts.cluster else ""))
        if opts.cluster:
            print("%d cases not sent to the cluster (@standalone-only, see KNOWN_DIFFERENCES.md)"
                  % runner.standalone_only)
    print("differential run took %.1fs" % (time.monotonic() - t0))
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
