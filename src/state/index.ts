export type { SharedState, RateCounter, RateHit, ByteCache, CacheEntry, SingleFlight } from "./types.ts";
export { createMemoryState, MemoryRateCounter, MemoryByteCache, MemorySingleFlight } from "./memory.ts";
