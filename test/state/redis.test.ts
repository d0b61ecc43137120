/**
 * RedisState against a real redis-server: two instances on one server stand for two replicas. Each test
 * has its own key prefix. Faults kill a server of their own with SIGKILL and restart it.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { RedisClient } from "bun";
import { join } from "node:path";
import { memoryLogger } from "../../src/core/log.ts";
import { GatewayError } from "../../src/core/errors.ts";
import { MemoryRateCounter, RedisState, type CacheEntry, type RedisStateOptions } from "../../src/state/index.ts";
import { startRedis, type RedisServer } from "../helpers/redis.ts";
import { busContract, locksContract } from "./contract.ts";

const redis = await startRedis();
const opened: RedisState[] = [];
const servers: RedisServer[] = [redis];
afterAll(async () => {
  for (const s of opened) await s.close();
  for (const s of servers) await s.stop();
});

let seq = 0;
type Opts = Partial<Omit<RedisStateOptions, "log">>;

/** Two instances sharing one Redis and a fresh prefix; `per` adds options per instance (0 = a, 1 = b). */
async function pair(opts: Opts = {}, per: (i: 0 | 1) => Opts = () => ({})) {
  const prefix = `t${++seq}:`;
  const logs = [memoryLogger("debug"), memoryLogger("debug")] as const;
  const [a, b] = await Promise.all(([0, 1] as const).map((i) => RedisState.connect({ url: redis.url, prefix, log: logs[i].log, ...opts, ...per(i) })));
  opened.push(a!, b!);
  return { a: a!, b: b!, prefix, lines: [logs[0].lines, logs[1].lines] as const };
}

/** Flight events of both instances, awaitable. */
function flightEvents() {
  const seen: { i: number; event: string; key: string }[] = [];
  const waiters: { pred: (e: { i: number; event: string }) => boolean; resolve: () => void }[] = [];
  const hook = (i: 0 | 1) => ({
    onFlight: (event: "lead" | "follow", key: string) => {
      const e = { i, event, key };
      seen.push(e);
      for (const w of waiters.filter((w) => w.pred(e))) w.resolve();
    },
  });
  const when = (pred: (e: { i: number; event: string }) => boolean) =>
    seen.some(pred) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ pred, resolve }));
  return { seen, hook, when };
}

/** Resolves once `to` got a bus message `from` published after everything `from` published before (one connection each: in order). */
async function barrier(from: RedisState, to: RedisState): Promise<void> {
  const id = crypto.randomUUID();
  const got = Promise.withResolvers<void>();
  const off = await to.bus.subscribe("barrier", (m) => m === id && got.resolve());
  await from.bus.publish("barrier", id);
  await got.promise;
  await off();
}

const entry = (bytes: number, fill = 7, meta: Record<string, unknown> = {}): CacheEntry => ({
  body: new Blob([new Uint8Array(bytes).fill(fill)]),
  meta,
  storedAt: 1_000,
  freshUntil: Infinity,
});

describe("rate counter", () => {
  test("one budget across replicas: 50 concurrent hits split over two instances allow exactly 10", async () => {
    const t = 1_800_000_000_000 + 12_345;
    const { a, b } = await pair({ now: () => t });
    const hits = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).rateCounter.hit("endpoint:p/s:ip", 10, 60_000)));
    const allowed = hits.filter((h) => h.allowed);
    expect(allowed.length).toBe(10);
    expect(allowed.map((h) => h.remaining).sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(new Set(hits.map((h) => h.resetAt))).toEqual(new Set([(Math.floor(t / 60_000) + 1) * 60_000]));
    expect(hits.filter((h) => !h.allowed).every((h) => h.remaining === 0 && h.limit === 10)).toBe(true);
    expect(await a.rateCounter.count("endpoint:p/s:ip", 60_000)).toBe(10);
    expect(await b.rateCounter.count("endpoint:p/s:ip", 60_000)).toBe(10);
  });

  test("the same answers as the memory counter, hit for hit, across window boundaries", async () => {
    let now = 60_000 * 10 + 59_000;
    const mem = new MemoryRateCounter(() => now);
    const { a, b } = await pair({ now: () => now });
    const both = async (f: (c: MemoryRateCounter | RedisState["rateCounter"]) => Promise<unknown>) => {
      const [m, r] = [await f(mem), await f(now % 2 ? a.rateCounter : b.rateCounter)];
      expect(r).toEqual(m);
      return r;
    };
    for (let i = 0; i < 6; i++) await both((c) => c.hit("k", 5, 60_000));
    now = 60_000 * 11 + 1_000;
    expect(await both((c) => c.count("k", 60_000))).toBeGreaterThan(4.8);
    await both((c) => c.hit("k", 5, 60_000));
    await both((c) => c.count("k", 60_000));
    now = 60_000 * 12 + 30_000;
    await both((c) => c.count("k", 60_000));
    await both((c) => c.hit("k", 5, 60_000));
    now = 60_000 * 20;
    expect(await both((c) => c.count("k", 60_000))).toBe(0);
    expect(await both((c) => c.count("never", 60_000))).toBe(0);
  });

  test("by default the window follows the Redis server's clock", async () => {
    const { a } = await pair();
    const before = Date.now();
    const h = await a.rateCounter.hit("k", 3, 10_000);
    expect(h).toMatchObject({ allowed: true, remaining: 2, limit: 3 });
    expect(h.resetAt % 10_000).toBe(0);
    expect(h.resetAt).toBeGreaterThan(before - 1_000);
    expect(h.resetAt).toBeLessThanOrEqual(Date.now() + 10_000 + 1_000);
  });
});

describe("single flight across replicas", () => {
  test("20 concurrent calls split over two instances: one execution, every caller gets its value (share)", async () => {
    const ev = flightEvents();
    const { a, b } = await pair({}, ev.hook);
    let runs = 0;
    const gate = Promise.withResolvers<{ token: string; n: number[] }>();
    const fn = () => {
      runs++;
      return gate.promise;
    };
    const calls = Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).flights.run("discover:g1", fn, { share: true }));
    // one instance leads; the other waits for it (its one Redis round trip made)
    await ev.when((e) => e.event === "lead");
    const leader = ev.seen.find((e) => e.event === "lead")!.i;
    await ev.when((e) => e.event === "follow" && e.i !== leader);
    expect(a.flights.inFlight()).toBe(1);
    expect(b.flights.inFlight()).toBe(1);
    gate.resolve({ token: "new-access-token", n: [1, 2] });
    expect(await Promise.all(calls)).toEqual(Array.from({ length: 20 }, () => ({ token: "new-access-token", n: [1, 2] })));
    expect(runs).toBe(1);
    expect(ev.seen.filter((e) => e.event === "lead").length).toBe(1);
    expect(a.flights.inFlight() + b.flights.inFlight()).toBe(0);
    // the key is free again: a later call runs again
    expect(await b.flights.run("discover:g1", async () => "again", { share: true })).toBe("again");
  });

  test("without share the value never passes through Redis: the other replica runs fn after the leader, and finds its work done", async () => {
    const ev = flightEvents();
    const { a, b, prefix } = await pair({}, ev.hook);
    const spy = new RedisClient(redis.url);
    const admin = new RedisClient(redis.url);
    const published: string[] = [];
    const marker = Promise.withResolvers<void>();
    await spy.subscribe(`${prefix}flight-done`, (m) => (m === "marker" ? marker.resolve() : published.push(m)));
    // what the leader leaves in shared storage (the store, for an OAuth refresh)
    let stored: string | null = null;
    const upstreamRefreshes: string[] = [];
    const refresh = async (gate: Promise<void>) => {
      if (stored) return stored; // re-read first: a refresh that just finished elsewhere did the work
      await gate;
      upstreamRefreshes.push("refresh");
      stored = "secret-access-token-123";
      return stored;
    };
    const gate = Promise.withResolvers<void>();
    const atA = a.flights.run("oauth-refresh:g1", () => refresh(gate.promise));
    await ev.when((e) => e.event === "lead" && e.i === 0);
    const atB = [b.flights.run("oauth-refresh:g1", () => refresh(gate.promise)), b.flights.run("oauth-refresh:g1", () => refresh(gate.promise))];
    await ev.when((e) => e.event === "follow" && e.i === 1);
    gate.resolve();
    expect(await atA).toBe("secret-access-token-123");
    expect(await Promise.all(atB)).toEqual(["secret-access-token-123", "secret-access-token-123"]);
    expect(upstreamRefreshes).toEqual(["refresh"]);
    const result = await admin.get(`${prefix}flight-result:oauth-refresh:g1`);
    expect(result).not.toBeNull();
    expect(result).not.toContain("secret-access-token");
    // published after both flights finished: the spy has every earlier message once it has this one
    await admin.publish(`${prefix}flight-done`, "marker");
    await marker.promise;
    expect(published.length).toBe(2);
    expect(published.join("")).not.toContain("secret-access-token");
    spy.close();
    admin.close();
  });

  test("concurrent callers in one process make one Redis round trip for the flight (and one to finish it)", async () => {
    const r = await startRedis();
    servers.push(r);
    const s = await RedisState.connect({ url: r.url, prefix: "rt:", log: memoryLogger().log });
    opened.push(s);
    const admin = new RedisClient(r.url);
    await admin.send("CONFIG", ["RESETSTAT"]);
    const gate = Promise.withResolvers<number>();
    const calls = Array.from({ length: 10 }, () => s.flights.run("k", () => gate.promise));
    gate.resolve(5);
    expect(await Promise.all(calls)).toEqual(Array.from({ length: 10 }, () => 5));
    const info: string = await admin.send("INFO", ["commandstats"]);
    const calls_ = (cmd: string) => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
    // scripts are loaded when the connection opens: EVALSHA only
    expect(calls_("evalsha")).toBe(2);
    expect(calls_("eval")).toBe(0);
    admin.close();
  });

  test("a value that cannot travel as JSON (a Blob): the other replica runs fn itself, after the leader", async () => {
    const ev = flightEvents();
    const { a, b } = await pair({}, ev.hook);
    let runs = 0;
    const gate = Promise.withResolvers<void>();
    const fn = async () => {
      runs++;
      await gate.promise;
      return new Blob(["body"]);
    };
    const atA = a.flights.run("k", fn);
    await ev.when((e) => e.event === "lead" && e.i === 0);
    const atB = b.flights.run("k", fn);
    await ev.when((e) => e.event === "follow" && e.i === 1);
    expect(runs).toBe(1); // not before the leader is done
    gate.resolve();
    expect(await (await atA).text()).toBe("body");
    expect(await (await atB).text()).toBe("body");
    expect(runs).toBe(2);
  });

  test("the leader's fn throws: its callers get the error, the other replica's callers run fn themselves", async () => {
    const ev = flightEvents();
    const { a, b } = await pair({}, ev.hook);
    const gate = Promise.withResolvers<string>();
    const atA = [a.flights.run("k", () => gate.promise), a.flights.run("k", () => gate.promise)];
    await ev.when((e) => e.event === "lead" && e.i === 0);
    let runsB = 0;
    const atB = [0, 1, 2].map(() => b.flights.run("k", async () => `from-b-${++runsB}`));
    await ev.when((e) => e.event === "follow" && e.i === 1);
    gate.reject(new Error("boom"));
    for (const p of atA) await expect(p).rejects.toThrow("boom");
    expect(await Promise.all(atB)).toEqual(["from-b-1", "from-b-1", "from-b-1"]);
  });

  test("the leading instance is closed: the other replica takes over at once, without waiting for the lock's expiry", async () => {
    const ev = flightEvents();
    const { a, b } = await pair({ flightLockTtlMs: 60_000 }, ev.hook);
    void a.flights.run("k", () => new Promise<string>(() => {})); // never settles
    await ev.when((e) => e.event === "lead" && e.i === 0);
    const atB = b.flights.run("k", async () => "b-ran");
    await ev.when((e) => e.event === "follow" && e.i === 1);
    await a.close();
    expect(await atB).toBe("b-ran"); // a 60 s lock would outlast the test's timeout
  });

  test("the leading process dies (SIGKILL): followers take over when its lock expires", async () => {
    const ev = flightEvents();
    const { b, prefix } = await pair({}, ev.hook);
    const child = Bun.spawn([process.execPath, join(import.meta.dir, "fixtures", "flight-leader.ts"), redis.url, prefix, "k", "400"], { stdout: "pipe", stderr: "inherit" });
    try {
      const reader = child.stdout.getReader();
      let out = "";
      while (!out.includes("leading")) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the leader exited: ${out}`);
        out += new TextDecoder().decode(value);
      }
      const atB = b.flights.run("k", async () => "b-ran");
      await ev.when((e) => e.event === "follow" && e.i === 1);
      child.kill("SIGKILL");
      await child.exited;
      expect(await atB).toBe("b-ran");
      expect(ev.seen.filter((e) => e.i === 1).map((e) => e.event)).toContain("lead");
    } finally {
      child.kill("SIGKILL");
    }
  });
});

describe("locks and bus", () => {
  locksContract("redis", async () => {
    const { a, b } = await pair();
    return [a.locks, b.locks];
  });
  busContract("redis", async () => {
    const { a, b } = await pair();
    return [a.bus, b.bus];
  });
});

describe("cache: a local layer in front of a shared one", () => {
  test("set on A is a hit on B; a new value or a delete on A reaches B's local layer too", async () => {
    const { a, b } = await pair();
    const bytes = Uint8Array.from({ length: 1024 }, (_, i) => i % 256);
    await a.cache.set("GET /repos/o/r", { body: new Blob([bytes]), meta: { etag: 'W/"1"', identity: "a" }, storedAt: 42, freshUntil: Infinity }, 60_000);
    const got = await b.cache.get<{ etag: string }>("GET /repos/o/r");
    expect(got).not.toBeNull();
    expect(new Uint8Array(await got!.body.arrayBuffer())).toEqual(bytes);
    expect(got).toMatchObject({ meta: { etag: 'W/"1"', identity: "a" }, storedAt: 42, freshUntil: Infinity });
    expect(b.cache.stats().local.entries).toBe(1); // B keeps a local copy now

    await a.cache.set("GET /repos/o/r", { ...entry(10, 1), freshUntil: 99 }, 60_000);
    await barrier(a, b);
    const second = await b.cache.get("GET /repos/o/r");
    expect(second?.freshUntil).toBe(99);
    expect(new Uint8Array(await second!.body.arrayBuffer())).toEqual(new Uint8Array(10).fill(1));

    await a.cache.delete("GET /repos/o/r");
    await barrier(a, b);
    expect(await b.cache.get("GET /repos/o/r")).toBeNull();
    expect(await a.cache.get("GET /repos/o/r")).toBeNull();
  });

  test("the shared layer keeps its byte budget, evicting the least recently used; entries over the size bound stay local", async () => {
    // no local layer: every read reaches Redis
    const { a, b } = await pair({ cacheMaxBytes: 5_000, localCacheMaxBytes: 0, maxEntryBytes: 2_000 });
    for (const k of ["k1", "k2", "k3", "k4"]) await a.cache.set(k, entry(1_000), 60_000);
    expect(await b.cache.get("k1")).not.toBeNull(); // k1 used: k2 is now the least recently used
    await b.cache.get("barrier"); // B's recency update went before this round trip
    await a.cache.set("k5", entry(1_000), 60_000);
    expect(await b.cache.get("k2")).toBeNull();
    for (const k of ["k1", "k3", "k4", "k5"]) expect(await b.cache.get(k)).not.toBeNull();
    const st = a.cache.stats();
    expect(st).toMatchObject({ entries: 4, maxBytes: 5_000, evictions: 1, shared: true });
    expect(st.bytes).toBeLessThanOrEqual(5_000);
    expect(st.bytes).toBeGreaterThan(4_000);

    await a.cache.set("big", entry(3_000), 60_000);
    expect(await b.cache.get("big")).toBeNull();

    a.cache.setMaxBytes(2_500); // a smaller budget evicts down to it at once
    await barrier(a, b);
    await a.cache.set("k6", entry(1_000), 60_000);
    expect(a.cache.stats().bytes).toBeLessThanOrEqual(2_500);
    expect(a.cache.stats().entries).toBe(2);
  });

  test("the shared copy expires after keepMs (PX), the time every replica's local copy is also kept to", async () => {
    const { a, b, prefix } = await pair();
    await a.cache.set("short", entry(10), 5_000);
    expect(await b.cache.get("short")).not.toBeNull();
    const admin = new RedisClient(redis.url);
    const pttl: number = await admin.send("PTTL", [`${prefix}cache:d:short`]);
    admin.close();
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(5_000);
  });
});

describe("faults: Redis killed, then back", () => {
  test("503 state_unavailable from counter, flights and locks, one log line; the cache serves its local layer; all recover without a restart", async () => {
    const r = await startRedis();
    servers.push(r);
    const logs = [memoryLogger("debug"), memoryLogger("debug")] as const;
    const [a, b] = await Promise.all(logs.map(({ log }) => RedisState.connect({ url: r.url, prefix: "f:", log, commandTimeoutMs: 1_000 })));
    opened.push(a!, b!);
    const A = a!;
    const B = b!;
    await A.cache.set("cached", entry(100, 3), 60_000);
    expect(await B.cache.get("cached")).not.toBeNull(); // now in B's local layer too
    const statuses: boolean[] = [];
    const revoked: string[] = [];
    await B.bus.subscribe("token-revoked", (m) => revoked.push(m), { onStatus: (on) => statuses.push(on) });

    await r.kill();
    const refused = async (p: Promise<unknown>) => {
      const e = await p.then(
        () => null,
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(GatewayError);
      expect((e as GatewayError).status).toBe(503);
      expect((e as GatewayError).code).toBe("state_unavailable");
    };
    for (let i = 0; i < 20; i++) await refused(A.rateCounter.hit("k", 10, 60_000));
    await refused(B.rateCounter.count("k", 60_000));
    await refused(A.flights.run("f", async () => "never runs"));
    await refused(B.locks.acquire("l", 1_000));
    await refused(A.bus.publish("token-revoked", "t1"));
    // the cache degrades to the local layer
    expect(await B.cache.get("cached")).not.toBeNull();
    await A.cache.set("during", entry(10), 60_000);
    expect(await A.cache.get("during")).not.toBeNull();
    expect(A.cache.stats().shared).toBe(false);
    const errorsA = () => logs[0].lines.map((l) => JSON.parse(l) as { level: string; msg: string }).filter((l) => l.level === "error");
    expect(errorsA().length).toBe(1);
    expect(errorsA()[0]!.msg).toContain("shared state (Redis) unavailable");

    await r.restart(); // empty: the server forgot every key and script
    await Promise.all([A.whenConnected(), B.whenConnected()]);
    expect(statuses).toEqual([false, true]);
    expect(await A.rateCounter.hit("k", 10, 60_000)).toMatchObject({ allowed: true, remaining: 9 });
    expect(await B.flights.run("f", async () => "ran")).toBe("ran");
    expect(await B.locks.acquire("l", 1_000)).not.toBeNull();
    await A.cache.set("after", entry(10), 60_000);
    expect(await B.cache.get("after")).not.toBeNull();
    expect(await B.cache.get("cached")).toBeNull(); // B's local layer was dropped: it may have missed invalidations
    const got = Promise.withResolvers<void>();
    await B.bus.subscribe("token-revoked", () => got.resolve());
    await A.bus.publish("token-revoked", "t2");
    await got.promise;
    expect(revoked).toEqual(["t2"]);
    expect(logs[0].lines.some((l) => l.includes("shared state (Redis) reachable again"))).toBe(true);
    expect(errorsA().length).toBe(1);
  });
});
