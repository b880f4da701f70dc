#!/usr/bin/python3
"""ioredis (Node.js) against ringcache: installs ioredis from the npm registry
into clients/node/node_modules (git-ignored) when it is not there, then runs
clients/node/check.js against a fresh server. If node, npm or the registry is
missing, the check FAILS: it is never skipped.

ioredis 6 (pinned in package.json/package-lock.json, installed with `npm ci`,
which never rewrites the lock file) needs Node >= 20 and speaks RESP3 by
default. On an older Node (Debian 12's nodejs is 18) ioredis 5 is installed
instead, without touching package.json, and check.js reports that RESP3 is
not available in that library."""
import os
import shutil

import common

NODE_DIR = os.path.join(common.HERE, "node")
IOREDIS_FOR_OLD_NODE = "ioredis@5.9.3"


def ensure_ioredis(rep):
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        rep.bad("node and npm installed", "node=%r npm=%r: apt-get install nodejs npm" % (node, npm))
        return None
    code, out, _ = common.run([node, "-p", "process.versions.node"], 30)
    try:
        major = int(out.decode().split(".")[0])
    except ValueError:
        rep.bad("node runs", "node -p process.versions.node said %r" % out)
        return None
    pkg = os.path.join(NODE_DIR, "node_modules", "ioredis", "package.json")
    if os.path.exists(pkg):
        with open(pkg, encoding="utf-8") as f:
            have6 = '"version": "6.' in f.read()
        if have6 or major < 20:
            rep.ok("ioredis present", "clients/node/node_modules")
            return node
    if major >= 20:
        # npm ci installs exactly package-lock.json and never rewrites it.
        argv = [npm, "ci", "--prefix", NODE_DIR, "--no-audit", "--no-fund"]
    else:
        argv = [npm, "install", "--prefix", NODE_DIR, "--no-audit", "--no-fund", "--no-save",
                "--no-package-lock", IOREDIS_FOR_OLD_NODE]
    code, out, err = common.run(argv, 300)
    ok = code == 0 and os.path.exists(pkg)
    what = "npm ci (ioredis 6, lock file)" if major >= 20 else "npm install %s" % IOREDIS_FOR_OLD_NODE
    rep.check("%s from the npm registry, node %d" % (what, major), ok,
              "npm failed (exit %r) — cannot reach the registry? %s" % (code, common.short(out + err, 800)))
    return node if ok else None


def main():
    opts = common.parse_args(__doc__)
    rep = common.Report("ioredis")
    node = ensure_ioredis(rep)
    if node is None:
        return rep.finish()
    with common.server(opts) as srv:
        argv = [node, os.path.join(NODE_DIR, "check.js"), str(srv.port)]
        if opts.against_redis:
            argv.append("--against-redis")
        code, out, err = common.run(argv, 90, cwd=NODE_DIR)
        text = out.decode("utf-8", "replace")
        for line in text.splitlines():
            if line.startswith("  PASS"):
                rep.passed += 1
            elif line.startswith("  FAIL"):
                rep.failed += 1
            if not line.startswith("ioredis:"):
                print(line)
        if code is None:
            rep.bad("check.js", "timed out after 90s")
        elif code != 0 and rep.failed == 0:
            rep.bad("check.js", "exit %r: %s" % (code, common.short(err)))
    return rep.finish()


if __name__ == "__main__":
    raise SystemExit(main())
