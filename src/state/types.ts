/**
 * Shared runtime state behind interfaces: rate-limit counters, the response cache, single flight, locks
 * and an invalidation bus. memory.ts keeps them in one process; redis.ts shares them between replicas
 * through Redis, which is why every method is async even where memory would not need it. Where the shared
 * backend is unreachable, counters, flights and locks fail closed (GatewayError 503 `state_unavailable`)
 * and the cache degrades to its local layer.
 */

export interface RateHit {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** epoch ms when the current window ends */
  resetAt: number;
}

export interface RateCounter {
  /** count one hit against `key`; fixed windows of `windowMs` aligned to the epoch */
  hit(key: string, limit: number, windowMs: number): Promise<RateHit>;
  /** hits in the last windowMs (sliding estimate over two fixed windows), without counting one */
  count(key: string, windowMs: number): Promise<number>;
}

export interface CacheEntry<M = Record<string, unknown>> {
  /** immutable, so a response can send it without a copy (a Uint8Array body is copied per Response) */
  body: Blob;
  meta: M;
  storedAt: number;
  /** epoch ms after which the entry is stale (may still be revalidated) */
  freshUntil: number;
}

export interface ByteCache {
  get<M>(key: string): Promise<CacheEntry<M> | null>;
  /** store an entry; evicts least-recently-used entries beyond the byte budget; `keepMs` bounds life incl. staleness */
  set<M>(key: string, entry: CacheEntry<M>, keepMs: number): Promise<void>;
  delete(key: string): Promise<void>;
  /** a new byte budget (config reload): evicts down to it at once */
  setMaxBytes(maxBytes: number): void;
  stats(): { entries: number; bytes: number; maxBytes: number; evictions: number };
}

export interface SingleFlight {
  /**
   * Run fn once per key at a time; concurrent callers with the same key share its result. Across replicas
   * (Redis) fn also runs one at a time per key; the value reaches the other replicas' callers only with
   * `share` (it travels through Redis in clear: plain JSON values that are no secrets). Without it they run
   * fn themselves once the leader is done, so fn should first look for what the leader left in shared
   * storage (the OAuth refresh re-reads the grant from the store).
   */
  run<T>(key: string, fn: () => Promise<T>, opts?: { share?: boolean }): Promise<T>;
  inFlight(): number;
}

/** A held lock. `token` is a fencing token: strictly greater than that of every earlier holder of any lock. */
export interface Lock {
  readonly token: number;
  /** give it up (a no-op once it expired or was taken over) */
  release(): Promise<void>;
  /** push the expiry out to ttlMs from now; false when the lock already expired (someone else may hold it) */
  extend(ttlMs: number): Promise<boolean>;
}

export interface Locks {
  /**
   * Take `key` for at most `ttlMs`, waiting up to `waitMs` (default 0) for its holder to release it or for
   * its expiry; null when it is still held then. Whoever acts on the lock should hand `token` to the
   * resource it writes, so a holder that outlived its expiry is refused there.
   */
  acquire(key: string, ttlMs: number, opts?: { waitMs?: number }): Promise<Lock | null>;
}

/**
 * Messages between replicas, e.g. "this API token was revoked: drop it from your local cache". Delivery is
 * at most once, to every subscriber including the publisher's own process; messages published while a
 * replica is cut off from the bus are lost to it, which `onStatus` tells.
 */
export interface Bus {
  publish(topic: string, message: string): Promise<void>;
  /**
   * Resolves once the subscription is active, with a function that ends it. `onStatus(false)` says
   * delivery stopped (messages from now on may be lost), `onStatus(true)` that it resumed: a subscriber
   * keeping a local cache drops it at both.
   */
  subscribe(topic: string, handler: (message: string) => void, opts?: { onStatus?: (listening: boolean) => void }): Promise<() => Promise<void>>;
}

export interface SharedState {
  readonly rateCounter: RateCounter;
  readonly cache: ByteCache;
  readonly flights: SingleFlight;
  readonly locks: Locks;
  readonly bus: Bus;
  /** "memory" or "redis" */
  readonly backend: string;
  /** release connections and timers */
  close(): Promise<void>;
}
