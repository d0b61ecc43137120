/**
 * The shared-state interfaces on Redis, through Bun's built-in RedisClient, so several replicas (and
 * workers) share one rate budget, one single flight, one lock per key, one cache and one bus.
 *
 * Connections. One command connection and one subscriber connection (a client with subscriptions can send
 * nothing else). Both are supervised here rather than by Bun's autoReconnect: Bun gives up after
 * `maxRetries`, and a re-subscription on a reconnected client doubles its listeners, so a lost connection
 * is replaced by a new client, retried with backoff (100 ms doubling to 2 s) for as long as it takes.
 * Commands never queue while disconnected (enableOfflineQueue: false) and time out after `timeout`.
 *
 * Faults. Counters, flights and locks fail closed: GatewayError 503 `state_unavailable`, logged once per
 * 30 s (with how many failures were not logged), and once more when Redis is back. The cache serves its
 * local layer alone. Nothing needs a restart: the next connection picks up where the last one stopped.
 *
 * Atomicity. Every read-modify-write is one Lua script (EVALSHA, falling back to EVAL after NOSCRIPT):
 * one round trip, atomic on the server, with no WATCH/MULTI retries. Scripts reach only keys named under
 * the prefix: a single Redis (or a primary with replicas), not Redis Cluster.
 */
import { RedisClient } from "bun";
import { GatewayError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { FaultLog } from "../core/faultlog.ts";
import { MemoryByteCache } from "./memory.ts";
import type { Bus, ByteCache, CacheEntry, Lock, Locks, RateCounter, RateHit, SharedState, SingleFlight } from "./types.ts";

export interface RedisStateOptions {
  /** redis://, rediss://, redis+unix://… (credentials in the URL) */
  url: string;
  log: Logger;
  /** namespace of every key and channel, so deployments can share one Redis (default "hubgate:") */
  prefix?: string;
  /** a command not answered within this fails (default 2000 ms) */
  commandTimeoutMs?: number;
  /** the shared cache's byte budget until setMaxBytes (default 64 MiB) */
  cacheMaxBytes?: number;
  /** the local cache layer in front of Redis (default 8 MiB, never more than the shared budget) */
  localCacheMaxBytes?: number;
  /** entries larger than this are not shared (default 8 MiB, the largest body the GitHub read path buffers) */
  maxEntryBytes?: number;
  /** expiry of a single-flight lock; the leader extends it every third of it while it runs (default 10 s) */
  flightLockTtlMs?: number;
  /** rate-window clock; default the Redis server's (TIME), one clock for every replica */
  now?: () => number;
  /** told when this process leads a flight or waits for another replica's (metrics, tests) */
  onFlight?: (event: "lead" | "follow", key: string) => void;
}

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2_000;

export function stateUnavailable(cause?: unknown): GatewayError {
  return new GatewayError("state_unavailable", "Shared state is unavailable; try again shortly", 503, { headers: { "retry-after": "1" }, cause });
}

// ---------------------------------------------------------------------------------------------------------
// Connection supervision

/** Every script, loaded on each new connection (a restarted or failed-over server has none). */
const SCRIPTS: Script[] = [];

class Script {
  readonly sha: string;
  constructor(
    readonly name: string,
    readonly source: string,
  ) {
    this.sha = new Bun.CryptoHasher("sha1").update(source).digest("hex");
    SCRIPTS.push(this);
  }
}

/** EVALSHA, or EVAL when the server does not know the script (flushed, or a failover to a server without it). */
async function evalScript(c: RedisClient, script: Script, keys: string[], args: (string | number)[]): Promise<unknown> {
  try {
    const r: unknown = await c.evalsha(script.sha, keys.length, ...keys, ...args);
    return r;
  } catch (e) {
    if (!(e instanceof Error) || !e.message.includes("NOSCRIPT")) throw e;
    const r: unknown = await c.eval(script.source, keys.length, ...keys, ...args);
    return r;
  }
}

type Handler = (message: string) => void;
type StatusHandler = (listening: boolean) => void;

/** The two supervised connections, the command wrapper (timeout, 503, fault log) and channel dispatch. */
class RedisLink {
  private cmd: RedisClient | null = null;
  private sub: RedisClient | null = null;
  /** channels subscribed on the current subscriber client */
  private active = new Set<string>();
  private channels = new Map<string, Set<Handler>>();
  private statusHandlers = new Set<StatusHandler>();
  private listening = false;
  private lostOnce = false;
  private closed = false;
  private timers = new Set<ReturnType<typeof setTimeout>>();
  private upWaiters = new Set<() => void>();
  readonly faults: FaultLog;

  constructor(
    private readonly url: string,
    private readonly timeoutMs: number,
    log: Logger,
  ) {
    this.faults = new FaultLog(log, {
      down: "shared state (Redis) unavailable: rate limits, single flight and locks refuse with 503, the cache serves its local layer",
      up: "shared state (Redis) reachable again",
    });
  }

  get up(): boolean {
    return this.cmd !== null;
  }

  /** Resolves when both connections are up and every channel is subscribed (at once if they are). */
  whenUp(): Promise<void> {
    if (this.cmd && this.listening) return Promise.resolve();
    return new Promise<void>((resolve) => this.upWaiters.add(resolve));
  }

  private checkUp(): void {
    if (!this.cmd || !this.listening) return;
    for (const w of this.upWaiters) w();
    this.upWaiters.clear();
  }

  /** First connection attempts; never throws (a Redis that is down now is retried in the background). */
  async start(): Promise<void> {
    await Promise.all([this.connectCmd(RETRY_MIN_MS), this.connectSub(RETRY_MIN_MS)]);
  }

  private client(): RedisClient {
    return new RedisClient(this.url, { autoReconnect: false, enableOfflineQueue: false, connectionTimeout: Math.max(this.timeoutMs, 1000) });
  }

  private retry(fn: (delay: number) => Promise<void>, delay: number): void {
    if (this.closed) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      void fn(Math.min(delay * 2, RETRY_MAX_MS));
    }, delay);
    this.timers.add(t);
  }

  private async connectCmd(delay: number): Promise<void> {
    if (this.closed) return;
    const c = this.client();
    c.onclose = (err: Error) => {
      if (this.cmd !== c) return;
      this.cmd = null;
      if (this.closed) return;
      this.faults.fail("connection", err);
      this.retry((d) => this.connectCmd(d), RETRY_MIN_MS);
    };
    try {
      await c.connect();
      await Promise.all(SCRIPTS.map((s) => c.script("LOAD", s.source)));
    } catch (e) {
      c.close();
      this.faults.fail("connect", e);
      this.retry((d) => this.connectCmd(d), delay);
      return;
    }
    if (this.closed) return c.close();
    this.cmd = c;
    this.faults.restored();
    this.checkUp();
  }

  private async connectSub(delay: number): Promise<void> {
    if (this.closed) return;
    const c = this.client();
    // one successor per client, whether the loss shows as onclose, as a failed subscribe, or both
    let replaced = false;
    const replace = (d: number) => {
      if (replaced) return;
      replaced = true;
      this.retry((next) => this.connectSub(next), d);
    };
    c.onclose = () => {
      if (this.sub !== c) return;
      this.sub = null;
      this.active.clear();
      this.setListening(false);
      replace(RETRY_MIN_MS);
    };
    try {
      await c.connect();
      this.sub = c;
      this.active.clear();
      for (const ch of [...this.channels.keys()]) await this.subscribeOn(c, ch);
    } catch {
      // the command connection's fault log speaks for Redis being down
      this.lostOnce = true;
      if (this.sub === c) {
        this.sub = null;
        this.active.clear();
      }
      c.close();
      replace(delay);
      return;
    }
    if (this.closed) return c.close();
    this.setListening(true);
  }

  private setListening(on: boolean): void {
    if (this.listening === on) return;
    this.listening = on;
    if (!on) this.lostOnce = true;
    this.checkUp();
    // the first connection is no news; a loss is, and so is the recovery after it
    if (on && !this.lostOnce) return;
    for (const h of this.statusHandlers) h(on);
  }

  private readonly dispatch = (message: string, channel: string): void => {
    for (const h of this.channels.get(channel) ?? []) {
      try {
        h(message);
      } catch {
        // one subscriber's failure is its own
      }
    }
  };

  private async subscribeOn(c: RedisClient, channel: string): Promise<void> {
    if (this.active.has(channel)) return;
    this.active.add(channel);
    try {
      await c.subscribe(channel, this.dispatch);
    } catch (e) {
      this.active.delete(channel);
      throw e;
    }
  }

  /**
   * Deliver `channel`'s messages to `handler` from now on, across reconnections. Resolves when the
   * subscription is active, or at once while Redis is down (it becomes active when Redis is back).
   */
  async listen(channel: string, handler: Handler, onStatus?: StatusHandler): Promise<() => Promise<void>> {
    let set = this.channels.get(channel);
    if (!set) this.channels.set(channel, (set = new Set()));
    const handlers = set;
    const h: Handler = (m) => handler(m);
    handlers.add(h);
    if (onStatus) {
      this.statusHandlers.add(onStatus);
      if (!this.listening) {
        // not delivering yet (Redis down): say so now, and that it resumed when it does
        this.lostOnce = true;
        onStatus(false);
      }
    }
    const sub = this.sub;
    if (sub) await this.subscribeOn(sub, channel).catch(() => {}); // a failure here is a lost connection: resubscribed on the next
    return async () => {
      handlers.delete(h);
      if (onStatus) this.statusHandlers.delete(onStatus);
      if (handlers.size || this.channels.get(channel) !== handlers) return;
      this.channels.delete(channel);
      const s = this.sub;
      if (s && this.active.delete(channel)) await s.unsubscribe(channel).catch(() => {});
    };
  }

  /** Run one command (or a few pipelined ones) within the timeout; any failure is a logged 503. */
  async run<T>(op: string, f: (c: RedisClient) => Promise<T>): Promise<T> {
    const c = this.cmd;
    if (!c) {
      const err = stateUnavailable();
      this.faults.fail(op, this.closed ? "closed" : "not connected");
      throw err;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        f(c),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
        }),
      ]);
    } catch (e) {
      this.faults.fail(op, e);
      throw stateUnavailable(e);
    } finally {
      clearTimeout(timer);
    }
  }

  /** One script, as one command. */
  script(script: Script, keys: string[], args: (string | number)[]): Promise<unknown> {
    return this.run(script.name, (c) => evalScript(c, script, keys, args));
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const [c, s] = [this.cmd, this.sub];
    this.cmd = null;
    this.sub = null;
    c?.close();
    s?.close();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Reply narrowing

function ints(reply: unknown, n: number, what: string): number[] {
  if (!Array.isArray(reply) || reply.length < n) throw new Error(`unexpected reply to ${what}`);
  return reply.slice(0, n).map((x: unknown) => {
    const v = typeof x === "number" ? x : typeof x === "string" ? Number(x) : NaN;
    if (!Number.isFinite(v)) throw new Error(`unexpected reply to ${what}`);
    return v;
  });
}

/** Milliseconds of "now": the caller's clock when given, else -1 and the script reads the server's TIME. */
const NOW_LUA = `
local now = tonumber(ARGV[#ARGV])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end`;

// ---------------------------------------------------------------------------------------------------------
// Rate counter

/**
 * Same model as MemoryRateCounter, in one hash per key: r = the current window's end, c = its hits,
 * p = the previous window's hits. Expires one window after the current one ends (the sliding estimate
 * needs the previous window), relative to `now` so a caller's clock never meets the server's. ARGV: limit,
 * window, now.
 */
const RATE_HIT = new Script(
  "rate counter",
  `${NOW_LUA}
local limit = tonumber(ARGV[1])
local win = tonumber(ARGV[2])
local resetAt = (math.floor(now / win) + 1) * win
local h = redis.call('HMGET', KEYS[1], 'r', 'c')
local r = tonumber(h[1])
local c = tonumber(h[2]) or 0
if r ~= resetAt then
  local prev = 0
  if r == resetAt - win then prev = c end
  c = 0
  redis.call('HSET', KEYS[1], 'r', resetAt, 'c', 0, 'p', prev)
  redis.call('PEXPIRE', KEYS[1], resetAt + win - now)
end
local allowed = 0
if c < limit then
  c = redis.call('HINCRBY', KEYS[1], 'c', 1)
  allowed = 1
end
return {allowed, c, resetAt}`,
);

/** ARGV: window, now. Returns this window's hits, the previous window's, and ms left in this window. */
const RATE_COUNT = new Script(
  "rate counter",
  `${NOW_LUA}
local win = tonumber(ARGV[1])
local resetAt = (math.floor(now / win) + 1) * win
local h = redis.call('HMGET', KEYS[1], 'r', 'c', 'p')
local r = tonumber(h[1])
local c = tonumber(h[2]) or 0
local p = tonumber(h[3]) or 0
if r == resetAt then return {c, p, resetAt - now} end
if r == resetAt - win then return {0, c, resetAt - now} end
return {0, 0, resetAt - now}`,
);

export class RedisRateCounter implements RateCounter {
  constructor(
    private readonly link: RedisLink,
    private readonly prefix: string,
    private readonly now?: () => number,
  ) {}

  async hit(key: string, limit: number, windowMs: number): Promise<RateHit> {
    const r = await this.link.script(RATE_HIT, [`${this.prefix}rate:${key}`], [limit, windowMs, this.now ? this.now() : -1]);
    const [allowed, count, resetAt] = ints(r, 3, "rate hit") as [number, number, number];
    return { allowed: allowed === 1, limit, remaining: Math.max(0, limit - count), resetAt };
  }

  async count(key: string, windowMs: number): Promise<number> {
    const r = await this.link.script(RATE_COUNT, [`${this.prefix}rate:${key}`], [windowMs, this.now ? this.now() : -1]);
    const [cur, prev, left] = ints(r, 3, "rate count") as [number, number, number];
    return cur + prev * (left / windowMs);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Locks

/**
 * KEYS: lock, fence counter. ARGV: ttl. A free lock is taken with the next fencing token (one counter for
 * every lock, so tokens only grow); a held one answers its holder's token and remaining ms. Single
 * flight's acquire ends with the same steps.
 */
const TAKE_LOCK = `local h = redis.call('GET', KEYS[1])
if h then return {0, tonumber(h), redis.call('PTTL', KEYS[1])} end
local t = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], t, 'PX', ARGV[1])
return {1, t, tonumber(ARGV[1])}`;
const LOCK_ACQUIRE = new Script("lock", TAKE_LOCK);

/** KEYS: lock. ARGV: token, channel, message. Deletes the lock only while the token still holds it, and says so. */
const LOCK_RELEASE = new Script(
  "lock",
  `if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0`,
);

/** KEYS: lock. ARGV: token, ttl. */
const LOCK_EXTEND = new Script(
  "lock",
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`,
);

/** Wakes callers waiting on keys: by a message naming the key, or by their own deadline. */
class Wakeups {
  private waiting = new Map<string, Set<() => void>>();

  /** Register before asking Redis (a message may overtake the reply); wait(ms) then resolves at a wake-up or after ms. */
  register(key: string): { wait(ms: number): Promise<void>; cancel(): void } {
    let woken = false;
    let wake: () => void = () => {
      woken = true;
    };
    const notify = () => wake();
    let set = this.waiting.get(key);
    if (!set) this.waiting.set(key, (set = new Set()));
    const waiters = set;
    waiters.add(notify);
    const cancel = () => {
      waiters.delete(notify);
      if (waiters.size === 0 && this.waiting.get(key) === waiters) this.waiting.delete(key);
    };
    return {
      wait: (ms) =>
        woken
          ? Promise.resolve()
          : new Promise<void>((resolve) => {
              const timer = setTimeout(() => wake(), Math.max(1, ms));
              wake = () => {
                clearTimeout(timer);
                resolve();
              };
            }),
      cancel,
    };
  }

  wake(key: string): void {
    for (const w of this.waiting.get(key) ?? []) w();
  }
}

export class RedisLocks implements Locks {
  private readonly wakeups = new Wakeups();
  readonly channel: string;

  constructor(
    private readonly link: RedisLink,
    private readonly prefix: string,
  ) {
    this.channel = `${prefix}lock-released`;
  }

  /** Called once at start: release messages wake waiters at once instead of at the holder's expiry. */
  listen(): Promise<unknown> {
    return this.link.listen(this.channel, (key) => this.wakeups.wake(key));
  }

  async acquire(key: string, ttlMs: number, opts: { waitMs?: number } = {}): Promise<Lock | null> {
    const deadline = Date.now() + (opts.waitMs ?? 0);
    const lockKey = `${this.prefix}lock:${key}`;
    for (;;) {
      const w = this.wakeups.register(lockKey);
      try {
        const r = await this.link.script(LOCK_ACQUIRE, [lockKey, `${this.prefix}fence`], [ttlMs]);
        const [ok, token, pttl] = ints(r, 3, "lock acquire") as [number, number, number];
        if (ok === 1) return this.lock(lockKey, token);
        const left = deadline - Date.now();
        if (left <= 0) return null;
        await w.wait(Math.min(left, pttl > 0 ? pttl + 5 : left));
      } finally {
        w.cancel();
      }
    }
  }

  private lock(lockKey: string, token: number): Lock {
    return {
      token,
      release: async () => {
        await this.link.script(LOCK_RELEASE, [lockKey], [token, this.channel, lockKey]);
      },
      extend: async (ttlMs: number) => ints([await this.link.script(LOCK_EXTEND, [lockKey], [token, ttlMs])], 1, "lock extend")[0] === 1,
    };
  }
}

// ---------------------------------------------------------------------------------------------------------
// Single flight

/**
 * KEYS: lock, fence counter, result. ARGV: ttl, awaited token (0: none). A follower that was waiting for
 * token T first looks for T's result (kept a few seconds after the flight), so a message it missed costs
 * nothing; else the lock is taken (1, token) or its holder named (0, holder, ms left); 2 = T's result.
 */
const FLIGHT_ACQUIRE = new Script(
  "single flight",
  `if ARGV[2] ~= '0' then
  local res = redis.call('GET', KEYS[3])
  if res and string.sub(res, 1, string.len(ARGV[2]) + 1) == ARGV[2] .. ' ' then return {2, 0, 0, res} end
end
${TAKE_LOCK}`,
);

/** KEYS: lock, result. ARGV: token, "token outcome", result ttl, channel, message. */
const FLIGHT_FINISH = new Script(
  "single flight",
  `redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1`,
);

/** What a leader tells followers: its value, or that they must run on their own (it failed, or its value may not or cannot travel). */
type Outcome = { ok: true; v?: unknown } | { ok: false };

/** Values that survive JSON unchanged: null, booleans, strings, finite numbers, arrays and plain objects of them. */
function travels(v: unknown, depth = 0): boolean {
  if (depth > 64) return false;
  if (v === null || typeof v === "string" || typeof v === "boolean") return true;
  if (typeof v === "number") return Number.isFinite(v);
  if (Array.isArray(v)) return v.every((x) => travels(x, depth + 1));
  if (typeof v !== "object") return false;
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return false;
  return Object.values(v).every((x) => x === undefined || travels(x, depth + 1));
}

function parseOutcome(text: string): Outcome | null {
  try {
    const o: unknown = JSON.parse(text);
    if (typeof o !== "object" || o === null || !("ok" in o)) return null;
    if (o.ok !== true) return { ok: false };
    return "v" in o ? { ok: true, v: o.v } : { ok: true };
  } catch {
    return null;
  }
}

/** Outcomes of flights by key and token, for the followers waiting in this process. */
class FlightWaiters {
  private waiting = new Map<string, Set<(token: number, o: Outcome) => void>>();

  register(key: string): { next(token: number, ms: number): Promise<Outcome | null>; cancel(): void } {
    const seen = new Map<number, Outcome>();
    let want = -1;
    let deliver: ((o: Outcome) => void) | null = null;
    const on = (token: number, o: Outcome) => {
      if (token === want && deliver) deliver(o);
      else seen.set(token, o);
    };
    let set = this.waiting.get(key);
    if (!set) this.waiting.set(key, (set = new Set()));
    const waiters = set;
    waiters.add(on);
    return {
      next: (token, ms) => {
        const early = seen.get(token);
        if (early) return Promise.resolve(early);
        want = token;
        return new Promise<Outcome | null>((resolve) => {
          const timer = setTimeout(() => {
            deliver = null;
            resolve(null);
          }, Math.max(1, ms));
          deliver = (o) => {
            clearTimeout(timer);
            deliver = null;
            resolve(o);
          };
        });
      },
      cancel: () => {
        waiters.delete(on);
        if (waiters.size === 0 && this.waiting.get(key) === waiters) this.waiting.delete(key);
      },
    };
  }

  deliver(key: string, token: number, o: Outcome): void {
    for (const w of this.waiting.get(key) ?? []) w(token, o);
  }
}

/**
 * Single flight across replicas. In front, flights of this process are coalesced as in memory (one Redis
 * round trip per key and process). Then a lock with a fencing token elects one leader across replicas; it
 * runs fn, extends the lock while fn runs, and ends by storing the outcome for a few seconds, deleting the
 * lock and publishing the outcome, in one script. Followers wait for that message, or for the lock's
 * expiry (a leader that vanished), then look again: they take the stored result, or take the lock and
 * run fn themselves. The value travels only when the caller says it may (`share`: it passes through
 * Redis in clear, so never a credential) and survives JSON (not a Blob, a Response). Otherwise, and when
 * the leader failed, followers run fn themselves: one at a time across replicas, still.
 */
export class RedisSingleFlight implements SingleFlight {
  private local = new Map<string, Promise<unknown>>();
  /** flights this process leads: token and the timer extending the lock */
  private leading = new Map<string, { token: number; heartbeat: ReturnType<typeof setInterval> }>();
  private readonly waiters = new FlightWaiters();
  private closed = false;
  readonly channel: string;

  constructor(
    private readonly link: RedisLink,
    private readonly prefix: string,
    private readonly ttlMs: number,
    private readonly observe?: (event: "lead" | "follow", key: string) => void,
  ) {
    this.channel = `${prefix}flight-done`;
  }

  listen(): Promise<unknown> {
    return this.link.listen(this.channel, (message) => {
      try {
        const m: unknown = JSON.parse(message);
        if (!Array.isArray(m) || typeof m[0] !== "string" || typeof m[1] !== "number" || typeof m[2] !== "string") return;
        const o = parseOutcome(m[2]);
        if (o) this.waiters.deliver(m[0], m[1], o);
      } catch {
        // not ours
      }
    });
  }

  run<T>(key: string, fn: () => Promise<T>, opts: { share?: boolean } = {}): Promise<T> {
    const existing = this.local.get(key);
    if (existing) return existing as Promise<T>;
    const p = this.shared(key, fn, opts.share === true).finally(() => this.local.delete(key));
    this.local.set(key, p);
    return p;
  }

  inFlight(): number {
    return this.local.size;
  }

  private keys(key: string) {
    return { lock: `${this.prefix}flight:${key}`, result: `${this.prefix}flight-result:${key}` };
  }

  private async shared<T>(key: string, fn: () => Promise<T>, share: boolean): Promise<T> {
    const k = this.keys(key);
    let awaited = 0;
    for (;;) {
      const w = this.waiters.register(key);
      try {
        const r = await this.link.script(FLIGHT_ACQUIRE, [k.lock, `${this.prefix}fence`, k.result], [this.ttlMs, awaited]);
        const [kind, token, pttl] = ints(r, 3, "single flight") as [number, number, number];
        if (kind === 1) {
          this.observe?.("lead", key);
          return await this.lead(key, token, fn, share);
        }
        if (kind === 2) {
          const stored = Array.isArray(r) && typeof r[3] === "string" ? parseOutcome(r[3].slice(r[3].indexOf(" ") + 1)) : null;
          if (stored?.ok) return stored.v as T;
          awaited = 0;
          continue;
        }
        awaited = token;
        const next = w.next(token, pttl > 0 ? pttl + 25 : this.ttlMs);
        this.observe?.("follow", key);
        const o = await next;
        if (o === null) continue; // the lock expired or was extended: look again
        if (o.ok) return o.v as T;
        awaited = 0; // the leader failed or its value cannot travel: contend
      } finally {
        w.cancel();
      }
    }
  }

  private async lead<T>(key: string, token: number, fn: () => Promise<T>, share: boolean): Promise<T> {
    const k = this.keys(key);
    const heartbeat = setInterval(() => {
      void this.link.script(LOCK_EXTEND, [k.lock], [token, this.ttlMs]).catch(() => {});
    }, Math.max(10, Math.floor(this.ttlMs / 3)));
    const mine = { token, heartbeat };
    this.leading.set(key, mine);
    let outcome: Outcome = { ok: false };
    try {
      const v = await fn();
      if (v === undefined) outcome = { ok: true };
      else if (share && travels(v)) outcome = { ok: true, v };
      return v;
    } finally {
      clearInterval(heartbeat);
      if (this.leading.get(key) === mine) {
        this.leading.delete(key);
        await this.finish(key, token, outcome).catch(() => {}); // the callers here have their value; followers fall back to the lock's expiry
      }
    }
  }

  private finish(key: string, token: number, o: Outcome): Promise<unknown> {
    const k = this.keys(key);
    const text = JSON.stringify(o);
    const resultTtl = Math.max(5_000, this.ttlMs);
    return this.link.script(FLIGHT_FINISH, [k.lock, k.result], [token, `${token} ${text}`, resultTtl, this.channel, JSON.stringify([key, token, text])]);
  }

  /** Hand over every flight this process leads: its followers elsewhere contend at once instead of at expiry. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const leading = [...this.leading];
    this.leading.clear();
    for (const [, l] of leading) clearInterval(l.heartbeat);
    await Promise.all(leading.map(([key, l]) => this.finish(key, l.token, { ok: false }).catch(() => {})));
  }
}

// ---------------------------------------------------------------------------------------------------------
// Cache

/**
 * Budget accounting of the shared cache layer, atomic per call. KEYS: index (sorted set of keys by last
 * use: a sequence number, not a time, so the order is exact), sizes (hash key → bytes), totals (hash:
 * bytes, evictions, seq). ARGV: mode ("set" | "del" | "trim"),
 * key, size, budget, data-key prefix. Then, from the least recently used end: index entries whose data
 * already expired are dropped, and live ones evicted (data deleted) while the total exceeds the budget;
 * the entry just set is never the one evicted. Returns total bytes, entries, evictions so far.
 */
const CACHE_ACCOUNT = new Script(
  "cache",
  `local mode, key, size, max, dp = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local total = tonumber(redis.call('HGET', KEYS[3], 'bytes') or '0')
if mode ~= 'trim' then
  local old = tonumber(redis.call('HGET', KEYS[2], key) or '0')
  if mode == 'set' then
    redis.call('HSET', KEYS[2], key, size)
    redis.call('ZADD', KEYS[1], redis.call('HINCRBY', KEYS[3], 'seq', 1), key)
    total = redis.call('HINCRBY', KEYS[3], 'bytes', size - old)
  else
    redis.call('HDEL', KEYS[2], key)
    redis.call('ZREM', KEYS[1], key)
    redis.call('DEL', dp .. key)
    total = redis.call('HINCRBY', KEYS[3], 'bytes', -old)
  end
end
local evicted = 0
for i = 1, 10000 do
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 1)
  local victim = oldest[1]
  if mode == 'set' and victim == key then victim = oldest[2] end
  if not victim then break end
  local gone = redis.call('EXISTS', dp .. victim) == 0
  if not gone and total <= max then break end
  local s = tonumber(redis.call('HGET', KEYS[2], victim) or '0')
  redis.call('HDEL', KEYS[2], victim)
  redis.call('ZREM', KEYS[1], victim)
  redis.call('DEL', dp .. victim)
  total = redis.call('HINCRBY', KEYS[3], 'bytes', -s)
  if not gone then evicted = evicted + 1 end
end
local ev = redis.call('HINCRBY', KEYS[3], 'evictions', evicted)
return {total, redis.call('ZCARD', KEYS[1]), ev}`,
);

/** KEYS: index, totals. ARGV: key. A read marks its key most recently used (if it is still indexed). */
const CACHE_TOUCH = new Script("cache", `return redis.call('ZADD', KEYS[1], 'XX', redis.call('HINCRBY', KEYS[2], 'seq', 1), ARGV[1])`);

interface StoredHeader {
  m: unknown;
  s: number;
  /** freshUntil, null for Infinity */
  f: number | null;
  /** epoch ms when the entry is dropped (storedAt by this clock + keepMs) */
  x: number;
}

function encodeEntry(entry: CacheEntry<unknown>, expiresAt: number, body: Uint8Array): Uint8Array {
  const header: StoredHeader = { m: entry.meta, s: entry.storedAt, f: Number.isFinite(entry.freshUntil) ? entry.freshUntil : null, x: expiresAt };
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(4 + h.length + body.length);
  new DataView(out.buffer).setUint32(0, h.length);
  out.set(h, 4);
  out.set(body, 4 + h.length);
  return out;
}

function decodeEntry(bytes: Uint8Array<ArrayBuffer>): { entry: CacheEntry<unknown>; expiresAt: number } | null {
  if (bytes.length < 4) return null;
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
  if (4 + n > bytes.length) return null;
  try {
    const h: unknown = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + n)));
    if (typeof h !== "object" || h === null || !("s" in h) || !("x" in h) || !("f" in h)) return null;
    const { m, s, f, x } = h as StoredHeader;
    if (typeof s !== "number" || typeof x !== "number" || (f !== null && typeof f !== "number")) return null;
    const entry = { body: new Blob([bytes.subarray(4 + n)]), meta: (m ?? {}) as Record<string, unknown>, storedAt: s, freshUntil: f ?? Infinity };
    return { entry, expiresAt: x };
  } catch {
    return null;
  }
}

/**
 * Two layers: a small MemoryByteCache in this process, in front of a shared layer in Redis.
 *
 * The shared layer stores each entry as one binary value (a length-prefixed JSON header with meta, times
 * and expiry, then the body) under `<prefix>cache:d:<key>` with PX = keepMs, so a read is one GET.
 * Its byte budget is kept by the cache itself, not by Redis' maxmemory: CACHE_ACCOUNT records each
 * entry's size in a hash, its last use in a sorted set and the running total, and evicts the least
 * recently used entries beyond the budget, atomically, after every write. Recency is refreshed by reads
 * that reach Redis (local hits do not: an approximation, like the local layer's own CLOCK). Index entries
 * of data that expired are dropped as they reach the old end. Entries over `maxEntryBytes` (or the whole
 * budget) are kept locally only. The data SET and the accounting script travel pipelined (one round trip)
 * but are two commands: two replicas writing one key at once can leave the total off by the difference of
 * their sizes until that key is written or evicted again.
 *
 * Every write and delete is announced on a channel: the other replicas drop their local copy. With Redis
 * down, reads and writes use the local layer alone; when the subscription is back, the local layer is
 * emptied (announcements made meanwhile were missed).
 */
export class RedisByteCache implements ByteCache {
  private readonly local: MemoryByteCache;
  private shared = { entries: 0, bytes: 0, evictions: 0, at: 0 };
  private readonly id = crypto.randomUUID();
  readonly channel: string;

  constructor(
    private readonly link: RedisLink,
    private readonly prefix: string,
    private maxBytes: number,
    private readonly localMaxBytes: number,
    private readonly maxEntryBytes: number,
  ) {
    this.local = new MemoryByteCache(Math.min(localMaxBytes, maxBytes));
    this.channel = `${prefix}cache-changed`;
  }

  private k() {
    const p = `${this.prefix}cache:`;
    return { data: `${p}d:`, index: `${p}index`, sizes: `${p}sizes`, totals: `${p}totals` };
  }

  listen(): Promise<unknown> {
    return this.link.listen(
      this.channel,
      (message) => {
        const sp = message.indexOf(" ");
        if (sp > 0 && message.slice(0, sp) !== this.id) void this.local.delete(message.slice(sp + 1));
      },
      // kept while cut off (the layer to degrade to); dropped once back: announcements may have been missed
      (listening) => listening && this.clearLocal(),
    );
  }

  private clearLocal(): void {
    const n = this.local.stats().maxBytes;
    this.local.setMaxBytes(0);
    this.local.setMaxBytes(n);
  }

  async get<M>(key: string): Promise<CacheEntry<M> | null> {
    const hit = await this.local.get<M>(key);
    if (hit || !this.link.up || this.maxBytes <= 0) return hit;
    const k = this.k();
    let bytes: Uint8Array<ArrayBuffer> | null;
    try {
      const got = this.link.run("cache", (c) => c.getBuffer(k.data + key));
      void this.link.script(CACHE_TOUCH, [k.index, k.totals], [key]).catch(() => {}); // pipelined with the GET
      bytes = await got;
    } catch {
      return null; // logged by the link; the local layer answered already
    }
    if (!bytes) return null;
    const d = decodeEntry(bytes);
    if (!d) return null;
    const left = d.expiresAt - Date.now();
    if (left <= 0) return null;
    await this.local.set(key, d.entry, left);
    return d.entry as CacheEntry<M>;
  }

  async set<M>(key: string, entry: CacheEntry<M>, keepMs: number): Promise<void> {
    await this.local.set(key, entry, keepMs);
    if (!this.link.up || this.maxBytes <= 0) return;
    const body = await entry.body.bytes();
    const value = encodeEntry(entry as CacheEntry<unknown>, Date.now() + keepMs, body);
    const size = value.length + key.length;
    if (size > this.maxEntryBytes || size > this.maxBytes) return this.dropShared(key); // too big to share: an older shared copy goes
    const k = this.k();
    try {
      // pipelined: one round trip for the value and its accounting
      const [, reply] = await this.link.run("cache", (c) => Promise.all([c.set(k.data + key, value, "PX", Math.max(1, Math.round(keepMs))), this.account(c, "set", key, size)]));
      this.noteTotals(reply);
      await this.announce(key);
    } catch {
      // logged by the link; the local layer holds the entry
    }
  }

  async delete(key: string): Promise<void> {
    await this.local.delete(key);
    await this.dropShared(key);
  }

  private async dropShared(key: string): Promise<void> {
    if (!this.link.up) return;
    try {
      this.noteTotals(await this.link.run("cache", (c) => this.account(c, "del", key, 0)));
      await this.announce(key);
    } catch {
      // logged by the link
    }
  }

  setMaxBytes(maxBytes: number): void {
    this.maxBytes = maxBytes;
    this.local.setMaxBytes(Math.max(0, Math.min(this.localMaxBytes, maxBytes)));
    if (!this.link.up) return;
    this.link
      .run("cache", (c) => this.account(c, "trim", "", 0))
      .then((r) => this.noteTotals(r))
      .catch(() => {});
  }

  /**
   * The shared layer's figures as last seen (refreshed in the background at most once a second by this
   * call), with the local layer's beside them and whether Redis is reachable.
   */
  stats() {
    if (this.link.up && Date.now() - this.shared.at > 1_000) {
      this.shared.at = Date.now();
      const k = this.k();
      void this.link
        .run("cache", async (c) => {
          const [t, n] = await Promise.all([c.hmget(k.totals, ["bytes", "evictions"]), c.zcard(k.index)]);
          return [Number(t[0] ?? 0), n, Number(t[1] ?? 0)];
        })
        .then((r) => this.noteTotals(r))
        .catch(() => {});
    }
    return { entries: this.shared.entries, bytes: this.shared.bytes, maxBytes: this.maxBytes, evictions: this.shared.evictions, local: this.local.stats(), shared: this.link.up };
  }

  private account(c: RedisClient, mode: "set" | "del" | "trim", key: string, size: number): Promise<unknown> {
    const k = this.k();
    return evalScript(c, CACHE_ACCOUNT, [k.index, k.sizes, k.totals], [mode, key, size, Math.max(0, this.maxBytes), k.data]);
  }

  private noteTotals(reply: unknown): void {
    const [bytes, entries, evictions] = ints(reply, 3, "cache accounting") as [number, number, number];
    this.shared = { bytes, entries, evictions, at: Date.now() };
  }

  private announce(key: string): Promise<unknown> {
    return this.link.run("cache", (c) => c.publish(this.channel, `${this.id} ${key}`));
  }
}

// ---------------------------------------------------------------------------------------------------------
// Bus and the whole

export class RedisBus implements Bus {
  constructor(
    private readonly link: RedisLink,
    private readonly prefix: string,
  ) {}

  async publish(topic: string, message: string): Promise<void> {
    await this.link.run("bus", (c) => c.publish(`${this.prefix}bus:${topic}`, message));
  }

  subscribe(topic: string, handler: (message: string) => void, opts: { onStatus?: (listening: boolean) => void } = {}): Promise<() => Promise<void>> {
    return this.link.listen(`${this.prefix}bus:${topic}`, handler, opts.onStatus);
  }
}

export class RedisState implements SharedState {
  readonly backend = "redis";
  readonly rateCounter: RedisRateCounter;
  readonly cache: RedisByteCache;
  readonly flights: RedisSingleFlight;
  readonly locks: RedisLocks;
  readonly bus: RedisBus;

  private constructor(private readonly link: RedisLink, o: RedisStateOptions) {
    const prefix = o.prefix ?? "hubgate:";
    const cacheMax = o.cacheMaxBytes ?? 64 * 1024 * 1024;
    this.rateCounter = new RedisRateCounter(link, prefix, o.now);
    this.cache = new RedisByteCache(link, prefix, cacheMax, o.localCacheMaxBytes ?? 8 * 1024 * 1024, o.maxEntryBytes ?? 8 * 1024 * 1024);
    this.flights = new RedisSingleFlight(link, prefix, o.flightLockTtlMs ?? 10_000, o.onFlight);
    this.locks = new RedisLocks(link, prefix);
    this.bus = new RedisBus(link, prefix);
  }

  /** Connects (a Redis that is down now is retried in the background: requests meanwhile get 503s) and subscribes. */
  static async connect(o: RedisStateOptions): Promise<RedisState> {
    const link = new RedisLink(o.url, o.commandTimeoutMs ?? 2_000, o.log);
    await link.start();
    const s = new RedisState(link, o);
    await Promise.all([s.locks.listen(), s.flights.listen(), s.cache.listen()]);
    if (link.up) o.log.info("shared state on Redis", { prefix: o.prefix ?? "hubgate:" });
    return s;
  }

  /** Whether the command connection is up right now. */
  get connected(): boolean {
    return this.link.up;
  }

  /** Resolves when Redis is reachable and every subscription is active again. */
  whenConnected(): Promise<void> {
    return this.link.whenUp();
  }

  async close(): Promise<void> {
    await this.flights.close();
    this.link.close();
  }
}
