/** In-process implementations of the shared-state interfaces (one replica). */
import type { ByteCache, CacheEntry, RateCounter, SharedState, SingleFlight } from "./types.ts";

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

/** LRU by bytes: a Map keeps insertion order; a hit re-inserts the key at the end. */
export class MemoryByteCache implements ByteCache {
  private entries = new Map<string, { entry: CacheEntry<unknown>; expiresAt: number; size: number }>();
  private bytes = 0;
  private evictions = 0;
  constructor(
    private readonly maxBytes: number,
    private readonly now: () => number = Date.now,
  ) {}

  async get<M>(key: string): Promise<CacheEntry<M> | null> {
    const e = this.entries.get(key);
    if (!e) return null;
    if (e.expiresAt <= this.now()) {
      this.remove(key);
      return null;
    }
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.entry as CacheEntry<M>;
  }

  async set<M>(key: string, entry: CacheEntry<M>, keepMs: number): Promise<void> {
    this.remove(key);
    const size = entry.body.byteLength + key.length + JSON.stringify(entry.meta).length;
    if (size > this.maxBytes) return; // larger than the whole budget: don't cache
    this.entries.set(key, { entry, expiresAt: this.now() + keepMs, size });
    this.bytes += size;
    for (const k of this.entries.keys()) {
      if (this.bytes <= this.maxBytes) break;
      this.remove(k);
      this.evictions++;
    }
  }

  async delete(key: string): Promise<void> {
    this.remove(key);
  }

  stats() {
    return { entries: this.entries.size, bytes: this.bytes, maxBytes: this.maxBytes, evictions: this.evictions };
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

export function createMemoryState(opts: { cacheMaxBytes?: number } = {}): SharedState {
  return {
    rateCounter: new MemoryRateCounter(),
    cache: new MemoryByteCache(opts.cacheMaxBytes ?? 64 * 1024 * 1024),
    flights: new MemorySingleFlight(),
  };
}
