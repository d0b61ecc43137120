/**
 * The GitHub pool on two replicas sharing one Redis: budgets are shared (an identity benched or exhausted
 * on A is skipped on B), a response cached by A is a hit on B, and revalidation of one key stays single
 * flight across the replicas.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { fakeGithub, type FakeGithub } from "../helpers/github-fake.ts";
import { startGateway } from "../helpers/gateway.ts";
import { startRedis, type RedisServer } from "../helpers/redis.ts";
import type { Running } from "../../src/root/serve.ts";

const USERS = { tokA: { login: "alice", id: 1 }, tokB: { login: "bob", id: 2 } };
type Gw = Running & { lines: string[] };

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

function config(fake: FakeGithub, prefix: string, extra = "") {
  return `
[state]
backend = "redis"
url = "env:REDIS_URL"
key_prefix = "${prefix}"
[github]
api_url = "${fake.url}"
allow_private = true
clients = "open"
cache_rules = [{ pattern = "/repos/*/slow", ttl = "0s" }]
${extra}
[[github.identities]]
id = "a"
token = "env:TA"
[[github.identities]]
id = "b"
token = "env:TB"
`;
}

async function pair(fake: FakeGithub, prefix: string, extra = ""): Promise<[Gw, Gw]> {
  const env = { TA: "tokA", TB: "tokB", REDIS_URL: redis.url };
  return Promise.all([startGateway(config(fake, prefix, extra), env), startGateway(config(fake, prefix, extra), env)]) as Promise<[Gw, Gw]>;
}

/** Wait until `pred` holds, polling each event-loop turn, at most `ms`. */
async function until(pred: () => boolean | Promise<boolean>, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await Bun.sleep(5);
  }
}

const benchedOn = async (g: Gw, id: string) => {
  const stats = (await (await fetch(`${g.url.href}stats`)).json()) as { features: { github: { identities: { id: string; benchedUntil: number | null }[] } } };
  return stats.features.github.identities.find((i) => i.id === id)!.benchedUntil;
};

describe("GitHub pool across replicas", () => {
  test("an identity benched on A (secondary limit) is skipped on B", async () => {
    const fake = fakeGithub(USERS);
    const [a, b] = await pair(fake, "gh-bench:", "cache_max_bytes = 0");
    try {
      fake.secondary.set("tokA", { remainingHits: 100, retryAfter: 30 });
      // bob is the fuller budget after start-up; spend it down on A so alice is ranked first, then bench her
      const r = await fetch(`${a.url.href}repos/o/x`);
      expect(r.status).toBe(200);
      fake.secondary.set("tokB", { remainingHits: 0, retryAfter: null });
      for (let i = 0; i < 5 && (await benchedOn(a, "a")) === null; i++) await fetch(`${a.url.href}repos/o/x${i}`);
      expect(await benchedOn(a, "a")).not.toBeNull();
      await until(async () => (await benchedOn(b, "a")) !== null);
      const before = fake.log.filter((l) => l.token === "tokA").length;
      for (let i = 0; i < 4; i++) expect((await fetch(`${b.url.href}repos/o/y${i}`)).status).toBe(200);
      expect(fake.log.filter((l) => l.token === "tokA").length).toBe(before);
    } finally {
      await Promise.all([a.shutdown(), b.shutdown()]);
      fake.stop();
    }
  });

  test("budgets are shared: when A exhausts every identity, B answers 429 without asking GitHub", async () => {
    const fake = fakeGithub(USERS, { limits: { core: 3 } });
    const [a, b] = await pair(fake, "gh-exhaust:", "cache_max_bytes = 0");
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 8 && statuses.at(-1) !== 429; i++) statuses.push((await fetch(`${a.url.href}repos/o/e${i}`)).status);
      expect(statuses.at(-1)).toBe(429);
      const seen = fake.log.length;
      await until(async () => (await fetch(`${b.url.href}repos/o/none`)).status === 429);
      expect(fake.log.length - seen).toBeLessThanOrEqual(2); // at most the answers that told B before the news arrived
      const after = fake.log.length;
      expect((await fetch(`${b.url.href}repos/o/none2`)).status).toBe(429);
      expect(fake.log.length).toBe(after);
    } finally {
      await Promise.all([a.shutdown(), b.shutdown()]);
      fake.stop();
    }
  });

  test("a response cached by A is a hit on B; concurrent revalidation of one key is one upstream request across both", async () => {
    const fake = fakeGithub(USERS);
    const [a, b] = await pair(fake, "gh-cache:");
    try {
      const first = await fetch(`${a.url.href}repos/o/shared`);
      expect(first.headers.get("x-hubgate-cache")).toBe("MISS");
      const onB = await fetch(`${b.url.href}repos/o/shared`);
      expect(onB.headers.get("x-hubgate-cache")).toBe("HIT");
      expect(await onB.json()).toEqual(await first.json());
      expect(fake.log.filter((l) => l.path === "/repos/o/shared")).toHaveLength(1);
      // ttl 0: every read revalidates; 20 concurrent reads over both replicas make one upstream request
      fake.delayMs = 150;
      await fetch(`${a.url.href}repos/o/slow`);
      const n = fake.log.filter((l) => l.path === "/repos/o/slow").length;
      const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => fetch(`${(i % 2 ? a : b).url.href}repos/o/slow`)));
      expect(rs.every((r) => r.status === 200)).toBe(true);
      expect(fake.log.filter((l) => l.path === "/repos/o/slow").length - n).toBe(1);
    } finally {
      fake.delayMs = 0;
      await Promise.all([a.shutdown(), b.shutdown()]);
      fake.stop();
    }
  });
});
