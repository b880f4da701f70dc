#!/usr/bin/python3
"""redis-benchmark against ringcache.

1. `-t ping,set,get,incr,mset -n 20000 -q` must run with zero errors.
2. The default test set, test by test. redis-benchmark 7.0 exits (status 1,
   "Error from server: ...") at the first error reply, so one plain run stops
   at LPUSH on a strings-only server; running each default test on its own
   shows every one of them ends: the string tests complete, and each list,
   set, hash and sorted-set test gets ringcache's error reply for its command
   at once — never a hang, never a dropped connection.
3. The plain default invocation runs the string tests, then stops at LPUSH
   with the error reply; pipelined and multi-threaded runs complete.
"""
import re

import common

BENCH = "/usr/bin/redis-benchmark"

# The default test set of redis-benchmark 7.0, in order: (-t name, title
# printed, first command it sends). The lrange tests first push a list.
DEFAULT_TESTS = [
    ("ping_inline", "PING_INLINE", None), ("ping_mbulk", "PING_MBULK", None),
    ("set", "SET", None), ("get", "GET", None), ("incr", "INCR", None),
    ("lpush", "LPUSH", "LPUSH"), ("rpush", "RPUSH", "RPUSH"), ("lpop", "LPOP", "LPOP"),
    ("rpop", "RPOP", "RPOP"), ("sadd", "SADD", "SADD"), ("hset", "HSET", "HSET"),
    ("spop", "SPOP", "SPOP"), ("zadd", "ZADD", "ZADD"), ("zpopmin", "ZPOPMIN", "ZPOPMIN"),
    ("lrange_100", "LRANGE_100", "LPUSH"), ("lrange_300", "LRANGE_300", "LPUSH"),
    ("lrange_500", "LRANGE_500", "LPUSH"), ("lrange_600", "LRANGE_600", "LPUSH"),
    ("mset", "MSET", None),
]


def results(text):
    """{TITLE: rps} from -q output (which uses \\r to redraw progress)."""
    out = {}
    for line in text.replace("\r", "\n").split("\n"):
        m = re.match(r"\s*([A-Z_0-9]+)(?: \([^)]*\))?: ([0-9.]+) requests per second", line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def main():
    opts = common.parse_args(__doc__)
    rep = common.Report("redis-benchmark")
    with common.server(opts) as srv:
        base = [BENCH, "-h", "127.0.0.1", "-p", str(srv.port)]

        def ping_ok():
            code, out, _ = common.run(["/usr/bin/redis-cli", "-p", str(srv.port), "PING"], 10)
            return out.strip() == b"PONG"

        @rep.step("-t ping,set,get,incr,mset -n 20000 -q")
        def _():
            code, out, err = common.run(base + ["-t", "ping,set,get,incr,mset", "-n", "20000", "-q"], 120)
            text = (out + err).decode("utf-8", "replace")
            got = results(text)
            want = {"PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET"}
            ok = code == 0 and set(got) == want and "rror" not in text
            rep.check("-t ping,set,get,incr,mset -n 20000 -q: zero errors", ok,
                      "exit %r, results %r: %s" % (code, got, common.short(text)),
                      ", ".join("%s %.0f/s" % (k, got[k]) for k in sorted(got)))

        for name, title, cmd in DEFAULT_TESTS:
            @rep.step("default set: %s" % name)
            def _(name=name, title=title, cmd=cmd):
                code, out, err = common.run(base + ["-t", name, "-n", "2000", "-q"], 60)
                text = (out + err).decode("utf-8", "replace")
                if cmd is None or opts.against_redis:
                    got = results(text)
                    rep.check("default set: %s completes" % title,
                              code == 0 and title in got and "rror" not in text,
                              "exit %r: %s" % (code, common.short(text)))
                else:
                    want = "Error from server: ERR unknown command '%s'" % cmd
                    ok = code == 1 and want in text and "Connection" not in text \
                        and "closed" not in text
                    rep.check("default set: %s gets an error reply" % title, ok,
                              "exit %r (None = hung): %s" % (code, common.short(text)))

        @rep.step("default invocation")
        def _():
            code, out, err = common.run(base + ["-n", "2000", "-q"], 120)
            text = (out + err).decode("utf-8", "replace")
            got = results(text)
            first = {"PING_INLINE", "PING_MBULK", "SET", "GET", "INCR"}
            if opts.against_redis:
                ok = code == 0 and set(t for _, t, _ in DEFAULT_TESTS) <= set(got)
            else:
                ok = code == 1 and first <= set(got) and \
                    "Error from server: ERR unknown command 'LPUSH'" in text
            rep.check("default invocation: string tests, then LPUSH's error reply", ok,
                      "exit %r, results %s: %s" % (code, sorted(got), common.short(text[-300:])))

        @rep.step("pipelined and threaded")
        def _():
            for extra in (["-P", "16", "-c", "50", "-r", "100000"], ["--threads", "2", "-c", "20"]):
                code, out, err = common.run(base + ["-t", "set,get,incr,mset", "-n", "20000", "-q"] + extra, 120)
                text = (out + err).decode("utf-8", "replace")
                got = results(text)
                rep.check("-t set,get,incr,mset %s" % " ".join(extra),
                          code == 0 and set(got) == {"SET", "GET", "INCR", "MSET"} and "rror" not in text,
                          "exit %r: %s" % (code, common.short(text)))

        rep.check("server still answers PING", ping_ok() and srv.alive(),
                  "server not answering; log: %s" % srv.log_tail(5))
    return rep.finish()


if __name__ == "__main__":
    raise SystemExit(main())
