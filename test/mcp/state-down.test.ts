/** Redis (the shared state) down while an MCP call needs the upstream token refreshed: a 503 to retry, never "sign in again". */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { clientTokens, harness, type Harness } from "./harness.ts";
import { startRedis, type RedisServer } from "../helpers/redis.ts";

const REDIRECT = "http://127.0.0.1:49993/cb";
let h: Harness;
let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
  h = await harness(`[state]\nbackend = "redis"\nurl = "${redis.url}"\n`);
});
afterAll(async () => {
  await h.stop();
  await redis.stop();
});

test("the upstream grant needs a refresh and Redis is down: 503 state_unavailable, the grant is not dropped; it works once Redis is back", async () => {
  const tok = await clientTokens(h.base, REDIRECT, "alice");
  const key = "mcp:alice:everything";
  const grant = (await h.gw.gw.store.oauth.grant(key))!;
  await h.gw.gw.store.oauth.saveGrant({ ...grant, expiresAt: Date.now() - 1000 });
  const call = () =>
    fetch(`${h.base}/mcp`, {
      method: "POST",
      headers: { authorization: `Bearer ${tok.access_token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } }),
    });
  await redis.kill();
  const down = await call();
  expect(down.status).toBe(503);
  expect(((await down.json()) as { error: string }).error).toBe("state_unavailable");
  expect(await h.gw.gw.store.oauth.grant(key)).not.toBeNull();
  expect(await h.gw.gw.store.audit.list({ kind: "mcp.upstream_grant_lost" })).toEqual([]);
  await redis.restart();
  await (h.gw.gw.state as unknown as { whenConnected(): Promise<void> }).whenConnected();
  expect((await call()).status).toBe(200);
});
