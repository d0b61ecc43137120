/** TypeBox model of [state]: where runtime state lives (this process, or Redis shared by every replica). */
import { Type, type Static } from "@sinclair/typebox";
import { Duration, SecretRef, Section } from "../config/types.ts";

export const StateSection = Section(
  {
    backend: Type.Union([Type.Literal("memory"), Type.Literal("redis")], {
      default: "memory",
      description: "memory: in this process (one replica); redis: shared by every replica through Redis (rate limits, response cache, single flight, locks, invalidation messages)",
    }),
    url: Type.Optional(SecretRef("Redis URL (secret reference: it may carry a password), e.g. redis://:pw@redis:6379/0, rediss://… or redis+unix:///run/redis.sock; required with backend = \"redis\"")),
    key_prefix: Type.String({ minLength: 1, default: "hubgate:", description: "Prefix of every Redis key and channel, so deployments can share one Redis" }),
    timeout: Duration("A Redis command not answered within this fails: rate-limited requests, single flight and locks answer 503 state_unavailable", "2s"),
  },
  "Runtime state shared between replicas",
  { default: {} },
);

export type StateConfig = Static<typeof StateSection>;

const REDIS_SCHEMES = new Set(["redis:", "rediss:", "redis+tls:", "redis+unix:", "redis+tls+unix:", "valkey:", "valkeys:"]);

/** Why `url` cannot be a Redis URL, or null; the message never repeats the value (it may hold a password). */
export function redisUrlProblem(url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return "expected a Redis URL such as redis://host:6379/0 (the value is not a URL)";
  }
  return REDIS_SCHEMES.has(u.protocol) ? null : `expected a redis://, rediss:// or redis+unix:// URL, got scheme ${u.protocol}`;
}
