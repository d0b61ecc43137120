export type { SharedState, RateCounter, RateHit, ByteCache, CacheEntry, SingleFlight, Lock, Locks, Bus } from "./types.ts";
export { createMemoryState, MemoryRateCounter, MemoryByteCache, MemorySingleFlight, MemoryLocks, MemoryBus } from "./memory.ts";
export { RedisState, stateUnavailable, type RedisStateOptions } from "./redis.ts";
