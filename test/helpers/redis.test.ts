/** The Redis helper itself: a real server, a round trip through Bun's client, SIGKILL and restart. */
import { afterAll, expect, test } from "bun:test";
import { RedisClient } from "bun";
import { startRedis } from "./redis.ts";

const redis = await startRedis();
afterAll(() => redis.stop());

test("a real redis-server on loopback: round trip, then killed and restarted on the same port", async () => {
  expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
  const c = new RedisClient(redis.url, { autoReconnect: false, enableOfflineQueue: false });
  await c.connect();
  await c.set("k", "v", "PX", 60_000);
  expect(await c.get("k")).toBe("v");
  c.close();

  await redis.kill();
  const down = new RedisClient(redis.url, { autoReconnect: false, enableOfflineQueue: false });
  await expect(down.connect()).rejects.toThrow();
  down.close();

  await redis.restart();
  const again = new RedisClient(redis.url, { autoReconnect: false });
  expect(await again.get("k")).toBeNull(); // nothing is saved: a restarted server is empty
  expect(await again.send("PING", [])).toBe("PONG");
  again.close();
});
