// ioredis against a server on 127.0.0.1:PORT — the same operations as the
// python-redis check: GET/SET with options, expiry, pipelines, scanStream,
// RESP3 (ioredis' default protocol) and RESP2, many concurrent clients.
// Usage: node check.js PORT [--against-redis]
"use strict";
const Redis = require("ioredis");

const port = Number(process.argv[2]);
const major = Number(require("ioredis/package.json").version.split(".")[0]);
const resp3 = major >= 6;  // ioredis 6 speaks RESP3 (its default); 5 does not
const againstRedis = process.argv.includes("--against-redis");
let passed = 0, failed = 0;
const t0 = Date.now();
const clients = [];

function check(step, cond, detail, okDetail) {
  if (cond) { passed++; console.log(`  PASS ${step}${okDetail ? " — " + okDetail : ""}`); }
  else { failed++; console.log(`  FAIL ${step}: ${detail === undefined ? "condition not met" : detail}`); }
}
function client(opts) {
  const c = new Redis({ host: "127.0.0.1", port, maxRetriesPerRequest: 1, connectTimeout: 5000,
                        commandTimeout: 10000, retryStrategy: () => null, lazyConnect: false, ...opts });
  c.on("error", () => {});  // surfaced through the rejected commands instead
  clients.push(c);
  return c;
}
async function rejects(p) {
  try { await p; return null; } catch (e) { return e; }
}
async function step(name, fn) {
  try { await fn(); } catch (e) { check(name, false, `${e && e.stack ? e.stack.split("\n").slice(0, 3).join(" | ") : e}`); }
}

const watchdog = setTimeout(() => {
  console.log("  FAIL watchdog: the check did not finish within 60s");
  console.log(`ioredis: ${passed} passed, ${failed + 1} failed`);
  process.exit(1);
}, 60000);

async function main() {
  console.log(`  ioredis ${require("ioredis/package.json").version}, node ${process.version}`);
  const r = client({});  // protocol 3 is ioredis 6's default

  await step("connect", async () => {
    await r.ping();
    check(resp3 ? "connect (HELLO 3 handshake, ready check)" : "connect (ready check)", r.status === "ready", r.status);
    check("PING", (await r.ping()) === "PONG");
    check("ECHO", (await r.echo("hi")) === "hi");
    const info = await r.info();
    check("INFO", typeof info === "string" && info.includes("redis_version:"), String(info).slice(0, 80));
    check("FLUSHDB/DBSIZE", (await r.flushdb()) === "OK" && (await r.dbsize()) === 0);
    const ci = await r.client("INFO");
    check(`CLIENT INFO shows resp=${resp3 ? 3 : 2}`, String(ci).includes(`resp=${resp3 ? 3 : 2}`), ci);
    if (!againstRedis && resp3)
      check("CLIENT SETINFO sent by ioredis is recorded", String(ci).includes("lib-name=ioredis"), ci);
  });

  await step("GET/SET with options", async () => {
    check("SET/GET", (await r.set("k", "v")) === "OK" && (await r.get("k")) === "v");
    check("SET NX on existing", (await r.set("k", "x", "NX")) === null);
    check("SET XX on missing", (await r.set("nope", "x", "XX")) === null && (await r.get("nope")) === null);
    check("SET EX", (await r.set("e", "v", "EX", 100)) === "OK" && (await r.ttl("e")) >= 99);
    check("SET PX", (await r.set("p", "v", "PX", 100000)) === "OK" && (await r.pttl("p")) >= 99000);
    check("SET EXAT", (await r.set("ea", "v", "EXAT", Math.floor(Date.now() / 1000) + 100)) === "OK"
          && (await r.ttl("ea")) >= 98);
    check("SET KEEPTTL", (await r.set("e", "v2", "KEEPTTL")) === "OK" && (await r.ttl("e")) > 0);
    check("SET GET", (await r.set("k", "new", "GET")) === "v" && (await r.get("k")) === "new");
    check("SET EX NX GET", (await r.set("k", "x", "EX", 10, "NX", "GET")) === "new");
    const bin = Buffer.from([0, 255, 13, 10, 0]);
    await r.set(Buffer.from([0, 1]), bin);
    check("binary key and value (getBuffer)", (await r.getBuffer(Buffer.from([0, 1]))).equals(bin));
    const big = Buffer.alloc(512 * 1024, 120);
    check("512 KiB value", (await r.set("big", big)) === "OK" && (await r.getBuffer("big")).equals(big)
          && (await r.strlen("big")) === big.length);
    check("SETNX", (await r.setnx("nx", 1)) === 1 && (await r.setnx("nx", 2)) === 0);
    check("SETEX/PSETEX", (await r.setex("se", 100, "v")) === "OK" && (await r.psetex("pse", 100000, "v")) === "OK");
    check("GETSET", (await r.getset("k", "gs")) === "new");
    check("GETDEL", (await r.getdel("k")) === "gs" && (await r.exists("k")) === 0);
    await r.set("g", "v");
    check("GETEX EX", (await r.getex("g", "EX", 50)) === "v" && (await r.ttl("g")) === 50);
    check("GETEX PERSIST", (await r.getex("g", "PERSIST")) === "v" && (await r.ttl("g")) === -1);
    check("MSET/MGET", (await r.mset({ a: 1, b: 2 })) === "OK"
          && JSON.stringify(await r.mget("a", "b", "zz")) === JSON.stringify(["1", "2", null]));
    check("MSETNX", (await r.msetnx("a", 9, "c", 3)) === 0 && (await r.msetnx("c", 3, "d", 4)) === 1);
    check("INCR/INCRBY/DECR", (await r.incr("n")) === 1 && (await r.incrby("n", 10)) === 11 && (await r.decr("n")) === 10);
    check("INCRBYFLOAT", (await r.incrbyfloat("f", 1.5)) === "1.5" && (await r.incrbyfloat("f", 0.1)) === "1.6");
    check("APPEND/GETRANGE/SETRANGE", (await r.append("s", "hello")) === 5 && (await r.setrange("s", 5, " redis")) === 11
          && (await r.getrange("s", 0, 4)) === "hello" && (await r.get("s")) === "hello redis");
    check("TYPE", (await r.type("s")) === "string" && (await r.type("missing")) === "none");
    check("RENAME/RENAMENX", (await r.rename("s", "s2")) === "OK" && (await r.renamenx("s2", "a")) === 0);
    check("DEL/UNLINK/EXISTS", (await r.del("a", "b")) === 2 && (await r.unlink("c")) === 1 && (await r.exists("a", "d")) === 1);
    const e = await rejects(r.incr("s2"));
    check("INCR on text rejects", e && /not an integer/.test(e.message), e && e.message);
    if (againstRedis) check("LPUSH (redis-server has lists)", (await r.lpush("list", "a")) === 1);
    else {
      const e2 = await rejects(r.lpush("list", "a"));
      check("LPUSH rejects: unknown command (unsupported type)", e2 && /unknown command/.test(e2.message), e2 && e2.message);
    }
    check("connection usable after errors", (await r.ping()) === "PONG");
  });

  await step("expire", async () => {
    await r.set("x", "v");
    check("EXPIRE/TTL", (await r.expire("x", 100)) === 1 && (await r.ttl("x")) === 100);
    check("PEXPIRE/PTTL", (await r.pexpire("x", 50000)) === 1 && (await r.pttl("x")) > 49000);
    check("EXPIREAT", (await r.expireat("x", Math.floor(Date.now() / 1000) + 60)) === 1 && (await r.ttl("x")) >= 58);
    check("EXPIRE NX/XX/GT/LT", (await r.expire("x", 10, "NX")) === 0 && (await r.expire("x", 10, "XX")) === 1
          && (await r.expire("x", 5, "GT")) === 0 && (await r.expire("x", 5, "LT")) === 1);
    check("EXPIRETIME", (await r.call("EXPIRETIME", "x")) > Math.floor(Date.now() / 1000));
    check("PERSIST", (await r.persist("x")) === 1 && (await r.ttl("x")) === -1);
    check("TTL missing", (await r.ttl("missing")) === -2);
    await r.set("short", "v", "PX", 50);
    await new Promise((res) => setTimeout(res, 120));
    check("key expires", (await r.get("short")) === null);
    await r.set("past", "v");
    check("EXPIREAT in the past deletes", (await r.expireat("past", 1)) === 1 && (await r.exists("past")) === 0);
  });

  await step("pipelines", async () => {
    await r.flushdb();
    const p = r.pipeline();
    for (let i = 0; i < 1000; i++) p.set(`pk:${i}`, i);
    for (let i = 0; i < 1000; i++) p.get(`pk:${i}`);
    p.incr("pc");
    p.lpush("plist", "x");
    p.get("pk:999");
    const res = await p.exec();
    check("pipeline: 2003 replies", res.length === 2003);
    check("pipeline: SET replies", res.slice(0, 1000).every(([err, v]) => !err && v === "OK"));
    check("pipeline: GET replies", res.slice(1000, 2000).every(([err, v], i) => !err && v === String(i)));
    check("pipeline: error kept in place", res[2000][1] === 1 && (againstRedis ? !res[2001][0] : !!res[2001][0])
          && res[2002][1] === "999", JSON.stringify(res.slice(2000).map(([e, v]) => [e && e.message, v])));
    if (!againstRedis) {
      const e = await rejects(r.multi().set("t", 1).exec());
      check("multi() fails cleanly (no MULTI/EXEC)", e && /unknown command/.test(e.message), e && e.message);
      check("connection usable after the failed transaction", (await r.get("pk:1")) === "1");
    }
  });

  await step("scan", async () => {
    await r.flushdb();
    const p = r.pipeline();
    for (let i = 0; i < 5000; i++) p.set(`s:${i}`, i);
    await p.exec();
    const seen = new Set();
    await new Promise((resolve, reject) => {
      const s = r.scanStream({ count: 100 });
      s.on("data", (keys) => keys.forEach((k) => seen.add(k)));
      s.on("end", resolve);
      s.on("error", reject);
    });
    check("scanStream: all keys", seen.size === 5000, seen.size);
    const m = new Set();
    await new Promise((resolve, reject) => {
      const s = r.scanStream({ match: "s:42*", count: 10 });
      s.on("data", (keys) => keys.forEach((k) => m.add(k)));
      s.on("end", resolve);
      s.on("error", reject);
    });
    check("scanStream(match)", m.size === 111, m.size);
    const [cursor, keys] = await r.scan(0, "MATCH", "s:1?", "COUNT", 10000);
    check("SCAN", typeof cursor === "string" && Array.isArray(keys));
    check("KEYS", (await r.keys("s:499?")).length === 10);
  });

  await step("RESP3 and RESP2", async () => {
    if (!resp3) {
      check(`RESP3: not available in ioredis ${major} (needs ioredis >= 6, Node >= 20); RESP3 is compared byte for byte in cases/resp3.txt`, true);
      return;
    }
    const m = client({ replyMapping: "resp3" });
    const cfg = await m.config("GET", "maxmemory");
    check("RESP3 map reply (replyMapping resp3)", cfg && cfg.maxmemory === "0", JSON.stringify(cfg));
    check("RESP3 null reply", (await m.get("missing")) === null);
    const hm = await m.call("HELLO", "3");
    check("RESP3 HELLO map (replyMapping resp3)", hm && hm.server === "redis" && hm.proto === 3
          && hm.mode === "standalone", JSON.stringify(hm));
    const h = await r.call("HELLO", "3");
    check("HELLO 3 (legacy mapping: flat array)", Array.isArray(h) && h[0] === "server" && h[5] === 3, JSON.stringify(h));
    const r2 = client({ protocol: 2 });
    check("protocol 2 client: SET/GET", (await r2.set("p2", "v")) === "OK" && (await r2.get("p2")) === "v"
          && (await r2.get("missing")) === null);
    const ci = await r2.client("INFO");
    check("protocol 2 client: resp=2", String(ci).includes("resp=2"), ci);
  });

  await step("many concurrent clients", async () => {
    await r.flushdb();
    const n = 20, ops = 300;
    const cs = Array.from({ length: n }, () => client({}));
    const t1 = Date.now();
    const errors = [];
    await Promise.all(cs.map(async (c, t) => {
      for (let i = 0; i < ops; i++) {
        await c.set(`t${t}:${i}`, i, "EX", 100);
        if ((await c.get(`t${t}:${i}`)) !== String(i)) errors.push(`t${t}:${i}`);
        await c.incr("shared-counter");
      }
    }));
    check(`${n} clients x ${ops} ops`, errors.length === 0, errors.slice(0, 3).join(","), `${Date.now() - t1}ms`);
    check("INCR total", (await r.get("shared-counter")) === String(n * ops));
    const auto = client({ enableAutoPipelining: true });
    await Promise.all(Array.from({ length: 5000 }, () => auto.incr("auto-counter")));
    check("auto-pipelining: 5000 concurrent INCR", (await r.get("auto-counter")) === "5000");
    check("DBSIZE", (await r.dbsize()) === n * ops + 2);
  });
}

main().catch((e) => check("unexpected", false, e && e.stack)).finally(() => {
  clearTimeout(watchdog);
  for (const c of clients) c.disconnect();
  console.log(`ioredis: ${passed} passed, ${failed} failed (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
});
