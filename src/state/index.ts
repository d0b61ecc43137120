/** Runtime state: in this process (memory) or shared by every replica through Redis, chosen by [state]. */
import type { Logger } from "../core/log.ts";
import { durationMs } from "../config/types.ts";
import { ConfigError } from "../config/load.ts";
import type { SecretValues } from "../config/secrets.ts";
import { createMemoryState } from "./memory.ts";
import { redisUrlProblem, type StateConfig } from "./model.ts";
import { RedisState } from "./redis.ts";
import type { SharedState } from "./types.ts";

export type { SharedState, RateCounter, RateHit, ByteCache, CacheEntry, SingleFlight, Lock, Locks, Bus } from "./types.ts";
export { createMemoryState, MemoryRateCounter, MemoryByteCache, MemorySingleFlight, MemoryLocks, MemoryBus } from "./memory.ts";
export { RedisState, type RedisStateOptions } from "./redis.ts";

/**
 * The state [state] asks for. Redis: the resolved `state.url`; a Redis that is down now does not stop the
 * start (requests get 503 state_unavailable until it is reachable, and it is retried in the background).
 */
export async function createState(config: StateConfig, secrets: SecretValues, log: Logger): Promise<SharedState> {
  if (config.backend === "memory") return createMemoryState();
  const url = secrets.get("state.url");
  if (url === undefined) throw new ConfigError([{ path: "state.url", message: 'backend = "redis" needs url (a secret reference to the Redis URL)' }]);
  const problem = redisUrlProblem(url);
  if (problem) throw new ConfigError([{ path: "state.url", message: problem }]);
  return RedisState.connect({ url, log: log.child({ component: "state" }), prefix: config.key_prefix, commandTimeoutMs: durationMs(config.timeout) });
}
