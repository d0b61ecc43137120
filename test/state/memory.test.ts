import { describe, expect, test } from "bun:test";
import { MemoryByteCache, MemoryRateCounter, MemorySingleFlight } from "../../src/state/index.ts";

describe("rate counter", () => {
  test("fixed windows: allows `limit` hits, then refuses until the window resets", async () => {
    let now = 60_000 * 10 + 5;
    const rc = new MemoryRateCounter(() => now);
    const hits = [];
    for (let i = 0; i < 4; i++) hits.push(await rc.hit("k", 3, 60_000));
    expect(hits.map((h) => h.allowed)).toEqual([true, true, true, false]);
    expect(hits.map((h) => h.remaining)).toEqual([2, 1, 0, 0]);
    expect(hits[0]!.resetAt).toBe(60_000 * 11);
    expect((await rc.hit("other", 3, 60_000)).allowed).toBe(true);
    now = 60_000 * 11;
    expect(await rc.hit("k", 3, 60_000)).toMatchObject({ allowed: true, remaining: 2 });
  });
});

describe("rate counter: sliding count", () => {
  test("failures just before a window boundary still count just after it", async () => {
    let now = 60_000 * 10 + 59_000; // 1 s before the boundary
    const rc = new MemoryRateCounter(() => now);
    for (let i = 0; i < 4; i++) await rc.hit("k", 5, 60_000);
    now = 60_000 * 11 + 1_000; // 1 s after it
    expect(await rc.count("k", 60_000)).toBeGreaterThan(3.8);
    await rc.hit("k", 5, 60_000);
    expect(await rc.count("k", 60_000)).toBeGreaterThanOrEqual(4.8);
    now = 60_000 * 12 + 30_000; // the old window no longer overlaps
    expect(await rc.count("k", 60_000)).toBeLessThan(1);
    expect(await rc.count("never", 60_000)).toBe(0);
  });
});

describe("byte cache", () => {
  const entry = (n: number, freshUntil = Infinity) => ({ body: new Blob([new Uint8Array(n)]), meta: {}, storedAt: 0, freshUntil });

  test("LRU eviction by bytes; a read refreshes recency", async () => {
    const c = new MemoryByteCache(350);
    await c.set("a", entry(100), 60_000);
    await c.set("b", entry(100), 60_000);
    await c.set("c", entry(100), 60_000);
    await c.get("a");
    await c.set("d", entry(100), 60_000);
    expect(await c.get("b")).toBeNull();
    expect(await c.get("a")).not.toBeNull();
    expect(c.stats()).toMatchObject({ entries: 3, evictions: 1 });
    expect(c.stats().bytes).toBeLessThanOrEqual(350);
  });

  test("a new byte budget evicts down to it at once; 0 empties the cache", async () => {
    const c = new MemoryByteCache(1000);
    for (const k of ["a", "b", "c"]) await c.set(k, entry(200), 60_000);
    await c.get("a");
    c.setMaxBytes(450);
    expect(await c.get("b")).toBeNull(); // the oldest unread entry went first
    expect(await c.get("a")).not.toBeNull();
    expect(c.stats()).toMatchObject({ entries: 2, maxBytes: 450 });
    c.setMaxBytes(0);
    expect(c.stats()).toMatchObject({ entries: 0, bytes: 0 });
  });

  test("entries expire after keepMs; oversize entries are not stored", async () => {
    let now = 0;
    const c = new MemoryByteCache(1000, () => now);
    await c.set("a", entry(10), 100);
    now = 99;
    expect(await c.get("a")).not.toBeNull();
    now = 100;
    expect(await c.get("a")).toBeNull();
    await c.set("big", entry(5000), 1000);
    expect(await c.get("big")).toBeNull();
    expect(c.stats().bytes).toBe(0);
  });
});

describe("single flight", () => {
  test("concurrent callers share one run; errors propagate and release the key", async () => {
    const sf = new MemorySingleFlight();
    let runs = 0;
    const slow = () => new Promise<number>((r) => setTimeout(() => r(++runs), 20));
    const results = await Promise.all([sf.run("k", slow), sf.run("k", slow), sf.run("k", slow)]);
    expect(results).toEqual([1, 1, 1]);
    expect(sf.inFlight()).toBe(0);
    await expect(sf.run("k", () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await sf.run("k", slow)).toBe(2);
  });
});
