/** In-process implementations of the shared-state interfaces (one replica). */
import type { Bus, ByteCache, CacheEntry, Lock, Locks, RateCounter, SharedState, SingleFlight } from "./types.ts";

export class MemoryRateCounter implements RateCounter {
  private windows = new Map<string, { resetAt: number; count: number; prev: number }>();
  private lastSweep = 0;
  constructor(private readonly now: () => number = Date.now) {}

  async hit(key: string, limit: number, windowMs: number) {
    const t = this.now();
    this.sweep(t);
    const resetAt = (Math.floor(t / windowMs) + 1) * windowMs;
    let w = this.windows.get(key);
    if (!w || w.resetAt !== resetAt) this.windows.set(key, (w = { resetAt, count: 0, prev: w && w.resetAt === resetAt - windowMs ? w.count : 0 }));
    const allowed = w.count < limit;
    if (allowed) w.count++;
    return { allowed, limit, remaining: Math.max(0, limit - w.count), resetAt };
  }

  /** Sliding-window estimate: this window's hits plus the previous window's, weighted by how much of it still overlaps. */
  async count(key: string, windowMs: number): Promise<number> {
    const t = this.now();
    const resetAt = (Math.floor(t / windowMs) + 1) * windowMs;
    const w = this.windows.get(key);
    if (!w) return 0;
    const overlap = (resetAt - t) / windowMs;
    if (w.resetAt === resetAt) return w.count + w.prev * overlap;
    if (w.resetAt === resetAt - windowMs) return w.count * overlap;
    return 0;
  }

  private sweep(t: number): void {
    if (t - this.lastSweep < 60_000) return;
    this.lastSweep = t;
    for (const [k, w] of this.windows) if (w.resetAt <= t) this.windows.delete(k);
  }
}

/**
 * Bounded by bytes, evicting by CLOCK (second chance), an LRU approximation: a Map keeps insertion
 * order, a read only marks its entry as used, and eviction walks from the oldest entry, moving used
 * ones to the end (clearing the mark) and dropping the first unused one. Reads never mutate the Map:
 * a delete + re-insert per hit (exact LRU) made hits on a full cache about 2.5 times slower (JSC
 * rehashes Maps full of deleted slots), measured with bench/run.ts.
 */
export class MemoryByteCache implements ByteCache {
  private entries = new Map<string, { entry: CacheEntry<unknown>; expiresAt: number; size: number; used: boolean }>();
  private bytes = 0;
  private evictions = 0;
  constructor(
    private maxBytes: number,
    private readonly now: () => number = Date.now,
  ) {}

  setMaxBytes(maxBytes: number): void {
    this.maxBytes = maxBytes;
    if (maxBytes <= 0) {
      this.entries.clear();
      this.bytes = 0;
      return;
    }
    this.evict("");
  }

  async get<M>(key: string): Promise<CacheEntry<M> | null> {
    const e = this.entries.get(key);
    if (!e) return null;
    if (e.expiresAt <= this.now()) {
      this.remove(key);
      return null;
    }
    e.used = true;
    return e.entry as CacheEntry<M>;
  }

  async set<M>(key: string, entry: CacheEntry<M>, keepMs: number): Promise<void> {
    this.remove(key);
    const size = entry.body.size + key.length + JSON.stringify(entry.meta).length;
    if (size > this.maxBytes) return; // larger than the whole budget: don't cache
    this.entries.set(key, { entry, expiresAt: this.now() + keepMs, size, used: false });
    this.bytes += size;
    this.evict(key);
  }

  async delete(key: string): Promise<void> {
    this.remove(key);
  }

  stats() {
    return { entries: this.entries.size, bytes: this.bytes, maxBytes: this.maxBytes, evictions: this.evictions };
  }

  /** Over budget: drop the oldest entries not read since their last pass (never `keep`, just stored). */
  private evict(keep: string): void {
    while (this.bytes > this.maxBytes) {
      const [k, e] = this.entries.entries().next().value!;
      this.entries.delete(k);
      if (k === keep || e.used) {
        e.used = false;
        this.entries.set(k, e); // second chance: to the end
        continue;
      }
      this.bytes -= e.size;
      this.evictions++;
    }
  }

  private remove(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.bytes -= e.size;
  }
}

export class MemorySingleFlight implements SingleFlight {
  private flights = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const existing = this.flights.get(key);
    if (existing) return existing as Promise<T>;
    const p = fn().finally(() => this.flights.delete(key));
    this.flights.set(key, p);
    return p;
  }

  inFlight(): number {
    return this.flights.size;
  }
}

/** Locks of one process: a holder, its expiry, and callers waiting for a release or that expiry (no polling). */
export class MemoryLocks implements Locks {
  private held = new Map<string, { token: number; expiresAt: number }>();
  private waiters = new Map<string, Set<() => void>>();
  private fence = 0;
  constructor(private readonly now: () => number = Date.now) {}

  async acquire(key: string, ttlMs: number, opts: { waitMs?: number } = {}): Promise<Lock | null> {
    const deadline = this.now() + (opts.waitMs ?? 0);
    for (;;) {
      const t = this.now();
      const h = this.held.get(key);
      if (!h || h.expiresAt <= t) {
        const entry = { token: ++this.fence, expiresAt: t + ttlMs };
        this.held.set(key, entry);
        return this.lock(key, entry);
      }
      const left = deadline - t;
      if (left <= 0) return null;
      await this.released(key, Math.min(left, h.expiresAt - t));
    }
  }

  private lock(key: string, entry: { token: number; expiresAt: number }): Lock {
    const mine = () => this.held.get(key) === entry && entry.expiresAt > this.now();
    return {
      token: entry.token,
      release: async () => {
        if (this.held.get(key) !== entry) return;
        this.held.delete(key);
        for (const w of this.waiters.get(key) ?? []) w();
      },
      extend: async (ttlMs: number) => {
        if (!mine()) return false;
        entry.expiresAt = this.now() + ttlMs;
        return true;
      },
    };
  }

  /** Resolves at the next release of `key`, or after `ms` (the holder's expiry). */
  private released(key: string, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let set = this.waiters.get(key);
      if (!set) this.waiters.set(key, (set = new Set()));
      const waiters = set;
      const done = () => {
        clearTimeout(timer);
        waiters.delete(done);
        if (waiters.size === 0 && this.waiters.get(key) === waiters) this.waiters.delete(key);
        resolve();
      };
      const timer = setTimeout(done, Math.max(1, ms));
      waiters.add(done);
    });
  }
}

/** The bus of one process: every subscriber of the topic gets each message, after publish() returns. */
export class MemoryBus implements Bus {
  private topics = new Map<string, Set<(message: string) => void>>();

  async publish(topic: string, message: string): Promise<void> {
    for (const h of this.topics.get(topic) ?? [])
      queueMicrotask(() => {
        try {
          h(message);
        } catch {
          // a subscriber's failure is its own; the publisher and the other subscribers carry on
        }
      });
  }

  async subscribe(topic: string, handler: (message: string) => void): Promise<() => Promise<void>> {
    let set = this.topics.get(topic);
    if (!set) this.topics.set(topic, (set = new Set()));
    const handlers = set;
    // a distinct function per subscription, so subscribing one handler twice needs two unsubscribes
    const h = (m: string) => handler(m);
    handlers.add(h);
    return async () => {
      handlers.delete(h);
      if (handlers.size === 0 && this.topics.get(topic) === handlers) this.topics.delete(topic);
    };
  }
}

export function createMemoryState(opts: { cacheMaxBytes?: number } = {}): SharedState {
  return {
    backend: "memory",
    rateCounter: new MemoryRateCounter(),
    cache: new MemoryByteCache(opts.cacheMaxBytes ?? 64 * 1024 * 1024),
    flights: new MemorySingleFlight(),
    locks: new MemoryLocks(),
    bus: new MemoryBus(),
    close: async () => {},
  };
}
