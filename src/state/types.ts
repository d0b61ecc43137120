/**
 * Shared runtime state behind interfaces: rate-limit counters, the response cache and single-flight
 * locks. This build keeps them in process memory; a multi-replica backend (Redis) implements the same
 * interfaces, which is why every method is async even where memory would not need it.
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
  /** run fn once per key at a time; concurrent callers with the same key share its result */
  run<T>(key: string, fn: () => Promise<T>): Promise<T>;
  inFlight(): number;
}

export interface SharedState {
  readonly rateCounter: RateCounter;
  readonly cache: ByteCache;
  readonly flights: SingleFlight;
}
