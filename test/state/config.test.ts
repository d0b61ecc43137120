/**
 * [state] in gateway.toml: validated by the schema and `hubgate check`, chosen by createState, wired into
 * the Gateway. Two in-process gateways on one real Redis stand for two replicas.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { configIssues } from "../helpers/config.ts";
import { ConfigError, parseConfig } from "../../src/config/index.ts";
import { memoryLogger } from "../../src/core/log.ts";
import { createState, RedisState } from "../../src/state/index.ts";
import { StateSection } from "../../src/state/model.ts";
import { Value } from "@sinclair/typebox/value";
import { runCli, startGateway, writeConfig } from "../helpers/gateway.ts";
import { openEndpoint, upstream } from "../helpers/upstream.ts";
import { startRedis } from "../helpers/redis.ts";
import { mintApiToken } from "../../src/crypto/apitoken.ts";

const redis = await startRedis();
const ok = upstream(() => Response.json({ ok: true }));
afterAll(async () => {
  ok.stop();
  await redis.stop();
});

const issues = configIssues;

describe("[state] keys", () => {
  test("defaults: memory, nothing to set", () => {
    expect(parseConfig("").state).toEqual({ backend: "memory", key_prefix: "hubgate:", timeout: "2s" });
  });

  test("redis needs url; url without redis is a mistake; unknown backends and keys are refused", () => {
    expect(issues('[state]\nbackend = "redis"')).toEqual([{ path: "state.url", message: 'backend = "redis" needs url (a secret reference to the Redis URL)' }]);
    expect(issues('[state]\nurl = "env:REDIS_URL"').map((i) => i.path)).toEqual(["state.backend"]);
    expect(issues('[state]\nbackend = "valkey"')[0]).toMatchObject({ path: "state.backend", message: expect.stringContaining('"memory", "redis"') });
    expect(issues('[state]\nbackend = "redis"\nurl = "env:R"\nkeyprefix = "x"')[0]).toMatchObject({ path: "state.keyprefix", message: expect.stringContaining("key_prefix") });
    expect(issues('[state]\nbackend = "redis"\nurl = "env:R"\ntimeout = "soon"')[0]!.path).toBe("state.timeout");
    expect(issues('[state]\nbackend = "redis"\nurl = "env:R"\nkey_prefix = "a:"\ntimeout = "500ms"')).toEqual([]);
  });

  test("hubgate check reports them with their key path", async () => {
    const { path } = writeConfig('[github]\nenabled = false\n[state]\nbackend = "redis"\n');
    const r = await runCli(["check", "--config", path]);
    expect(r.code).not.toBe(0);
    expect(r.stderr + r.stdout).toContain("state.url");
  });

  test("createState: memory by default; a url that is not a Redis URL is refused without repeating it", async () => {
    const { log } = memoryLogger();
    const defaults = Value.Default(StateSection, {}) as Parameters<typeof createState>[0];
    const mem = await createState(defaults, new Map(), log);
    expect(mem.backend).toBe("memory");
    await mem.close();
    const bad = createState({ ...defaults, backend: "redis", url: "env:X" }, new Map([["state.url", "https://user:hunter2@example.com"]]), log);
    const e = await bad.then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).issues[0]!.path).toBe("state.url");
    expect(JSON.stringify((e as ConfigError).issues)).not.toContain("hunter2");
  });
});

describe("two gateways on one Redis", () => {
  const body = (prefix: string) => `
[github]
enabled = false
[state]
backend = "redis"
url = "env:HG_REDIS_URL"
key_prefix = "${prefix}"
${openEndpoint("p", "rl", ok.url, "rate_limit_per_minute = 3")}`;

  test("rate_limit_per_minute is one budget across both, with the same headers; close() closes the client", async () => {
    // the budget is per minute of the Redis server's clock: don't start in the last two seconds of one
    const left = 60_000 - (Date.now() % 60_000);
    if (left < 2_000) await new Promise((r) => setTimeout(r, left + 50));
    const [a, b] = await Promise.all([startGateway(body("e2e:"), { HG_REDIS_URL: redis.url }), startGateway(body("e2e:"), { HG_REDIS_URL: redis.url })]);
    try {
      expect(a.gw.state.backend).toBe("redis");
      const rs = [];
      for (const g of [a, b, a, b, a]) rs.push(await fetch(`${g.url.href}api/p/proxy/rl/x`));
      expect(rs.map((r) => r.status)).toEqual([200, 200, 200, 429, 429]);
      expect(rs.map((r) => r.headers.get("x-ratelimit-remaining"))).toEqual(["2", "1", "0", "0", "0"]);
      expect(new Set(rs.map((r) => r.headers.get("x-ratelimit-reset"))).size).toBe(1);
    } finally {
      await Promise.all([a.shutdown("test"), b.shutdown("test")]);
    }
    expect((a.gw.state as RedisState).connected).toBe(false);
  });

  test("Redis down: token checks still go to the store (a valid token passes, a wrong one is 401, guessing stays throttled per process)", async () => {
    const r = await startRedis();
    const token = mintApiToken();
    const g = await startGateway(
      `${body("authfault:")}\n[[projects.endpoints]]\nslug = "tok"\nupstream_url = "${ok.url}"\nallow_private = true\n[[projects.tokens]]\nname = "t"\ntoken = "env:T"\nscopes = ["proxy"]\n`,
      { HG_REDIS_URL: r.url, T: token },
    );
    try {
      await r.kill();
      expect((await fetch(`${g.url.href}api/p/proxy/tok/x`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
      const statuses: number[] = [];
      for (let i = 0; i < 32; i++) statuses.push((await fetch(`${g.url.href}api/p/proxy/tok/x`, { headers: { authorization: `Bearer ${mintApiToken()}` } })).status);
      expect(statuses[0]).toBe(401);
      expect(statuses.at(-1)).toBe(429);
      expect(statuses).not.toContain(503);
    } finally {
      await g.shutdown("test");
      await r.stop();
    }
  });

  test("Redis down: a rate-limited endpoint answers 503 state_unavailable; it serves again once Redis is back", async () => {
    const r = await startRedis();
    const g = await startGateway(body("fault:"), { HG_REDIS_URL: r.url });
    try {
      const state = g.gw.state as RedisState;
      expect((await fetch(`${g.url.href}api/p/proxy/rl/x`)).status).toBe(200);
      await r.kill();
      const down = await fetch(`${g.url.href}api/p/proxy/rl/x`);
      expect(down.status).toBe(503);
      expect(((await down.json()) as { error: string }).error).toBe("state_unavailable");
      expect(down.headers.get("retry-after")).toBe("1");
      await r.restart();
      await state.whenConnected();
      expect((await fetch(`${g.url.href}api/p/proxy/rl/x`)).status).toBe(200);
      expect(g.lines.filter((l) => l.includes("shared state (Redis) unavailable")).length).toBe(1);
      // one line for the outage, none per refused request
      expect(g.lines.filter((l) => l.includes('"state_unavailable"') && l.includes("request failed"))).toEqual([]);
    } finally {
      await g.shutdown("test");
      await r.stop();
    }
  });
});
