/** The pool end to end: a real gateway on port 0 in front of a loopback GitHub look-alike. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { fakeGithub, type FakeGithub } from "../helpers/github-fake.ts";
import { startGateway } from "../helpers/gateway.ts";
import type { Running } from "../../src/root/serve.ts";
import { mintApiToken } from "../../src/crypto/apitoken.ts";

const USERS = { tokA: { login: "alice", id: 1 }, tokA2: { login: "alice", id: 1 }, tokB: { login: "bob", id: 2 }, own: { login: "carol", id: 3 } };

function poolConfig(fake: FakeGithub, extra = "") {
  return `
[github]
api_url = "${fake.url}"
allow_private = true
clients = "open"
cache_rules = [{ pattern = "/repos/*/revalidate", ttl = "0s" }]
${extra}
[[github.identities]]
id = "a"
token = "env:TA"
[[github.identities]]
id = "a2"
token = "env:TA2"
[[github.identities]]
id = "b"
token = "env:TB"
`;
}

const env = { TA: "tokA", TA2: "tokA2", TB: "tokB" };
type Gw = Running & { lines: string[] };

describe("GitHub pool", () => {
  let fake: FakeGithub;
  let gw: Gw;
  let base: string;
  beforeAll(async () => {
    fake = fakeGithub(USERS, { limits: { core: 50, search: 5 } });
    gw = await startGateway(poolConfig(fake), env);
    base = gw.url.href.replace(/\/$/, "");
  });
  afterAll(async () => {
    await gw.shutdown();
    fake.stop();
  });
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${base}${path}`, { headers });
  const reads = () => fake.log.filter((l) => l.method === "GET" && l.path !== "/user");

  test("identities resolve to users; two tokens of one user share one budget", async () => {
    const stats = (await (await get("/stats")).json()) as { features: { github: { identities: { id: string; budget: string; login: string }[] } } };
    const ids = stats.features.github.identities;
    expect(ids.map((i) => [i.id, i.login, i.budget])).toEqual([
      ["a", "alice", "user:1"],
      ["a2", "alice", "user:1"],
      ["b", "bob", "user:2"],
    ]);
  });

  test("MISS then HIT: the second read costs no upstream request", async () => {
    const before = reads().length;
    const r1 = await get("/repos/o/cached");
    expect(r1.status).toBe(200);
    expect(r1.headers.get("x-hubgate-cache")).toBe("MISS");
    expect(r1.headers.get("cache-status")).toContain("fwd=miss");
    const body1 = await r1.json();
    const r2 = await get("/repos/o/cached");
    expect(r2.headers.get("x-hubgate-cache")).toBe("HIT");
    expect(await r2.json()).toEqual(body1);
    expect(reads().length).toBe(before + 1);
  });

  test("a client's matching If-None-Match gets a 304 from hubgate", async () => {
    const r1 = await get("/repos/o/cached");
    const etag = r1.headers.get("etag")!;
    expect(etag).toBeTruthy();
    const r2 = await get("/repos/o/cached", { "if-none-match": etag });
    expect(r2.status).toBe(304);
    expect(await r2.text()).toBe("");
  });

  test("expired entries are revalidated with If-None-Match through the same identity; the 304 costs no quota", async () => {
    const r1 = await get("/repos/o/revalidate");
    expect(r1.headers.get("x-hubgate-cache")).toBe("MISS");
    const first = reads().at(-1)!;
    const spentBefore = [...fake.spent.values()].reduce((a, b) => a + b, 0);
    const r2 = await get("/repos/o/revalidate");
    expect(r2.headers.get("x-hubgate-cache")).toBe("REVALIDATED");
    expect(r2.status).toBe(200);
    expect((await r2.json()) as unknown).toMatchObject({ full_name: "o/revalidate" });
    const second = reads().at(-1)!;
    expect(second.status).toBe(304);
    expect(second.token).toBe(first.token);
    expect(second.ifNoneMatch).toBeTruthy();
    expect([...fake.spent.values()].reduce((a, b) => a + b, 0)).toBe(spentBefore);
  });

  test("identical concurrent misses are coalesced into one upstream request", async () => {
    fake.delayMs = 150;
    const before = reads().length;
    const rs = await Promise.all(Array.from({ length: 10 }, () => get("/repos/o/coalesce")));
    fake.delayMs = 0;
    const outcomes = rs.map((r) => r.headers.get("x-hubgate-cache")).sort();
    expect(outcomes.filter((o) => o === "MISS")).toHaveLength(1);
    expect(outcomes.filter((o) => o === "COALESCED")).toHaveLength(9);
    expect(reads().length).toBe(before + 1);
    for (const r of rs) expect(((await r.json()) as { full_name: string }).full_name).toBe("o/coalesce");
  });

  test("reads go through the identity with the most budget left in that bucket", async () => {
    fake.spent.set("bob:core", 45); // bob nearly out of core
    fake.spent.set("alice:search", 5); // alice out of search
    await get("/repos/o/warm1"); // teach the pool both budgets' core state
    await get("/repos/o/warm2");
    const core = [];
    for (let i = 0; i < 4; i++) {
      await get(`/repos/o/route-${i}`);
      core.push(reads().at(-1)!.token);
    }
    expect(core.every((t) => t === "tokA" || t === "tokA2")).toBe(true);
    const s = await get("/search/issues?q=x");
    expect(s.status).toBe(200);
    // search spends the search bucket: alice's is empty, so bob serves it (directly, or after alice's 403)
    expect(reads().at(-1)!.token).toBe("tokB");
  });

  test("a permission 403 reaches the client and benches nobody", async () => {
    const r = await get("/repos/private-org/x");
    expect(r.status).toBe(403);
    expect(((await r.json()) as { message: string }).message).toContain("not accessible");
    const stats = (await (await get("/stats")).json()) as { features: { github: { identities: { benchedUntil: number | null }[] } } };
    expect(stats.features.github.identities.every((i) => !i.benchedUntil)).toBe(true);
  });

  test("Link pagination points back at the gateway", async () => {
    const r = await get("/repos/o/r/issues?per_page=30");
    const link = r.headers.get("link")!;
    expect(link).toContain(`<${base}/repos/o/r/issues?per_page=30&page=2>; rel="next"`);
    expect(link).not.toContain(fake.url);
  });

  test("a Location pointing at the upstream is rewritten to the gateway; redirects are not followed", async () => {
    const r = await fetch(`${base}/moved`, { redirect: "manual" });
    expect(r.status).toBe(301);
    expect(r.headers.get("location")).toBe(`${base}/repos/o/r`);
  });

  test("an unparsable GraphQL document is not pooled: it needs the caller's own token", async () => {
    const bad = JSON.stringify({ query: "query {" });
    const r = await fetch(`${base}/graphql`, { method: "POST", body: bad });
    expect(r.status).toBe(401);
    const notJson = await fetch(`${base}/graphql`, { method: "POST", body: "{not json" });
    expect(notJson.status).toBe(401);
  });

  test("upstream gzip is decoded consistently; the upstream sees its own Host", async () => {
    const r = await get("/repos/o/gz", { "accept-encoding": "gzip" });
    const text = await r.text(); // fetch decodes per content-encoding; a mismatch would throw or garble
    expect(JSON.parse(text)).toMatchObject({ full_name: "o/gz" });
    const up = reads().at(-1)!;
    expect(up.acceptEncoding).toBe("gzip");
    expect(up.host).toBe(new URL(fake.url).host);
  });

  test("GHES layout: /api/v3/* and /api/graphql", async () => {
    const r = await get("/api/v3/repos/o/ghes");
    expect(r.status).toBe(200);
    expect(((await r.json()) as { full_name: string }).full_name).toBe("o/ghes");
    const l = await get("/api/v3/repos/o/r/issues?per_page=50");
    expect(l.headers.get("link")).toContain(`${base}/api/v3/repos/o/r/issues`);
    const g = await fetch(`${base}/api/graphql`, { method: "POST", body: JSON.stringify({ query: "{ viewer { login } }" }) });
    expect(g.status).toBe(200);
  });

  test("GraphQL queries are pooled and cached; mutations need the caller's own token", async () => {
    const q = JSON.stringify({ query: "query { viewer { login } }" });
    const a = await fetch(`${base}/graphql`, { method: "POST", body: q });
    expect(a.headers.get("x-hubgate-cache")).toBe("MISS");
    const b = await fetch(`${base}/graphql`, { method: "POST", body: q });
    expect(b.headers.get("x-hubgate-cache")).toBe("HIT");
    const m = JSON.stringify({ query: "mutation { addComment(input: {}) { clientMutationId } }" });
    const anon = await fetch(`${base}/graphql`, { method: "POST", body: m });
    expect(anon.status).toBe(401);
    expect(((await anon.json()) as { error: string }).error).toBe("github_token_required");
    const mine = await fetch(`${base}/graphql`, { method: "POST", body: m, headers: { authorization: "bearer own" } });
    expect(mine.status).toBe(200);
    expect(((await mine.json()) as { data: { addComment: { by: string } } }).data.addComment.by).toBe("carol");
    expect(mine.headers.get("x-hubgate-cache")).toBe("BYPASS");
    // a mutation hidden behind operationName in a multi-operation document is still a mutation
    const multi = JSON.stringify({ query: "query A { viewer { login } } mutation B { addComment(input: {}) { clientMutationId } }", operationName: "B" });
    expect((await fetch(`${base}/graphql`, { method: "POST", body: multi })).status).toBe(401);
  });

  test("REST writes pass through with the caller's token, never a pooled one; the caller's login is logged", async () => {
    const anon = await fetch(`${base}/repos/o/r/issues`, { method: "POST", body: JSON.stringify({ title: "t" }) });
    expect(anon.status).toBe(401);
    const r = await fetch(`${base}/repos/o/r/issues`, { method: "POST", body: JSON.stringify({ title: "t" }), headers: { authorization: "token own" } });
    expect(r.status).toBe(201);
    expect(((await r.json()) as { user: { login: string } }).user.login).toBe("carol");
    expect(fake.log.filter((l) => l.method === "POST" && l.path === "/repos/o/r/issues").map((l) => l.token)).toEqual(["own"]);
    await Bun.sleep(50);
    const line = gw.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === "github write" && l.path === "/repos/o/r/issues");
    expect(line).toMatchObject({ login: "carol", method: "POST", status: 201 });
    expect(gw.lines.join("\n")).not.toContain("tokA");
  });
});

describe("GitHub pool: exhaustion and secondary limits", () => {
  test("exhausted identities are skipped; when all are out the client gets 429 with retry-after and x-ratelimit-*", async () => {
    const fake = fakeGithub(USERS, { limits: { core: 4 } });
    const gw = await startGateway(poolConfig(fake, 'cache_max_bytes = 0'), env);
    const base = gw.url.href.replace(/\/$/, "");
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await fetch(`${base}/repos/o/e${i}`)).status);
      // GET /user at start-up spent 2 of alice's 4 (two tokens) and 1 of bob's: 2 + 3 reads remain
      expect(statuses).toEqual([200, 200, 200, 200, 200]);
      const r = await fetch(`${base}/repos/o/e-last`);
      expect(r.status).toBe(429);
      expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(r.headers.get("x-ratelimit-remaining")).toBe("0");
      expect(r.headers.get("x-ratelimit-resource")).toBe("core");
      expect(Number(r.headers.get("x-ratelimit-reset"))).toBeGreaterThan(Date.now() / 1000);
      expect(((await r.json()) as { error: string }).error).toBe("rate_limited");
    } finally {
      await gw.shutdown();
      fake.stop();
    }
  });

  test("a secondary limit benches the identity for retry-after and the read is retried on another", async () => {
    const fake = fakeGithub(USERS);
    const gw = await startGateway(poolConfig(fake, "cache_max_bytes = 0"), env);
    const base = gw.url.href.replace(/\/$/, "");
    try {
      fake.secondary.set("tokA", { remainingHits: 100, retryAfter: 30 });
      fake.secondary.set("tokA2", { remainingHits: 100, retryAfter: 30 });
      const r = await fetch(`${base}/repos/o/sec`);
      expect(r.status).toBe(200);
      expect(fake.log.at(-1)!.token).toBe("tokB");
      const stats = (await (await fetch(`${base}/stats`)).json()) as { features: { github: { identities: { id: string; benchedUntil: number | null }[] } } };
      const alice = stats.features.github.identities.find((i) => i.id === "a")!;
      expect(alice.benchedUntil! - Date.now()).toBeGreaterThan(25_000);
      expect(alice.benchedUntil! - Date.now()).toBeLessThanOrEqual(30_000);
      // while benched, alice is not tried again
      const n = fake.log.filter((l) => l.token === "tokA").length;
      await fetch(`${base}/repos/o/sec2`);
      expect(fake.log.filter((l) => l.token === "tokA").length).toBe(n);
    } finally {
      await gw.shutdown();
      fake.stop();
    }
  });

  test("owners allowlist and token-mode client auth", async () => {
    const fake = fakeGithub(USERS);
    const token = mintApiToken();
    const noScope = mintApiToken();
    const gw = await startGateway(
      poolConfig(fake, 'allowed_owners = ["o"]').replace('clients = "open"', 'clients = "token"') +
        `
[[projects]]
id = "agents"
[[projects.tokens]]
name = "reader"
token = "env:HG_READ"
scopes = ["github:read"]
[[projects.tokens]]
name = "other"
token = "env:HG_OTHER"
scopes = ["proxy"]
`,
      { ...env, HG_READ: token, HG_OTHER: noScope },
    );
    const base = gw.url.href.replace(/\/$/, "");
    try {
      expect((await fetch(`${base}/repos/o/r`)).status).toBe(401);
      expect((await fetch(`${base}/repos/o/r`, { headers: { authorization: `Bearer ${noScope}` } })).status).toBe(403);
      const ok = await fetch(`${base}/repos/o/r`, { headers: { authorization: `token ${token}` } });
      expect(ok.status).toBe(200);
      expect(fake.log.at(-1)!.token).not.toBe(token); // the hubgate token never reaches GitHub
      const other = await fetch(`${base}/repos/elsewhere/r`, { headers: { authorization: `token ${token}` } });
      expect(other.status).toBe(403);
      expect(((await other.json()) as { error: string }).error).toBe("owner_not_allowed");
      const gq = await fetch(`${base}/graphql`, {
        method: "POST",
        headers: { authorization: `token ${token}` },
        body: JSON.stringify({ query: 'query { repository(owner: "elsewhere", name: "x") { id } }' }),
      });
      expect(gq.status).toBe(403);
    } finally {
      await gw.shutdown();
      fake.stop();
    }
  });
});

describe("GitHub pool: environment, concurrency, metrics", () => {
  test("identities from HUBGATE_GITHUB_PAT_<ID>, owners from HUBGATE_ALLOWED_OWNERS", async () => {
    const fake = fakeGithub(USERS);
    const gw = await startGateway(`[github]\napi_url = "${fake.url}"\nallow_private = true\nclients = "open"\n`, {
      HUBGATE_GITHUB_PAT_CI_BOT: "tokB",
      HUBGATE_ALLOWED_OWNERS: "o, acme",
    });
    const base = gw.url.href.replace(/\/$/, "");
    try {
      const stats = (await (await fetch(`${base}/stats`)).json()) as { features: { github: { identities: { id: string; login: string }[] } } };
      expect(stats.features.github.identities).toMatchObject([{ id: "ci-bot", login: "bob" }]);
      expect((await fetch(`${base}/repos/acme/x`)).status).toBe(200);
      expect((await fetch(`${base}/repos/other/x`)).status).toBe(403);
    } finally {
      await gw.shutdown();
      fake.stop();
    }
  });

  test("a mount other than / serves the github.com layout under it, with links rewritten to it", async () => {
    const fake = fakeGithub(USERS);
    const gw = await startGateway(poolConfig(fake, 'mount = "/github"'), env);
    const base = gw.url.href.replace(/\/$/, "");
    try {
      expect((await fetch(`${base}/github/repos/o/r`)).status).toBe(200);
      expect((await fetch(`${base}/repos/o/r`)).status).toBe(404);
      const l = await fetch(`${base}/github/repos/o/r/issues?per_page=30`);
      expect(l.headers.get("link")).toContain(`<${base}/github/repos/o/r/issues?per_page=30&page=2>`);
    } finally {
      await gw.shutdown();
      fake.stop();
    }
  });

  test("concurrency toward GitHub is bounded per budget; excess waits, then 503 after queue_timeout", async () => {
    const fake = fakeGithub(USERS);
    fake.delayMs = 300;
    const gw = await startGateway(poolConfig(fake, 'cache_max_bytes = 0\nmax_concurrency = 2\nqueue_timeout = "450ms"'), env);
    const base = gw.url.href.replace(/\/$/, "");
    try {
      fake.maxInFlight = 0;
      // two budgets (alice, bob) × 2 slots = 4 in flight; 10 requests of 300 ms each: 4 run, 4 wait one round, 2 time out
      const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => fetch(`${base}/repos/o/c${i}`)));
      expect(fake.maxInFlight).toBeLessThanOrEqual(4);
      const statuses = rs.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(4);
      const busy = rs.filter((r) => r.status === 503);
      expect(busy.length).toBeGreaterThan(0);
      expect(((await busy[0]!.json()) as { error: string }).error).toBe("upstream_busy");
      expect(busy[0]!.headers.get("retry-after")).toBe("1");
    } finally {
      await gw.shutdown();
      fake.stop();
    }
  });

  test("/metrics exposes per-identity budgets and cache size with bounded labels", async () => {
    const fake = fakeGithub(USERS);
    const gw = await startGateway(poolConfig(fake), env);
    const base = gw.url.href.replace(/\/$/, "");
    try {
      await fetch(`${base}/repos/o/m1`);
      await fetch(`${base}/repos/o/m1`);
      const text = await (await fetch(`${base}/metrics`)).text();
      expect(text).toMatch(/hubgate_github_ratelimit_remaining\{bucket="core",identity="(a|a2|b)"\} \d+/);
      expect(text).toContain('hubgate_github_requests_total{kind="read",outcome="HIT"} 1');
      expect(text).toMatch(/hubgate_github_cache_bytes \d+/);
      expect(text).not.toContain("/repos/o/m1"); // route templates, not raw paths
    } finally {
      await gw.shutdown();
      fake.stop();
    }
  });

  test("cache_max_bytes is the cache's byte budget, applied again on reload", async () => {
    const fake = fakeGithub(USERS);
    const gw = await startGateway(poolConfig(fake, "cache_max_bytes = 5000"), env);
    const base = gw.url.href.replace(/\/$/, "");
    const stats = async () => ((await (await fetch(`${base}/stats`)).json()) as { features: { github: { cache: { maxBytes: number; bytes: number; evictions: number } } } }).features.github.cache;
    try {
      for (let i = 0; i < 20; i++) await fetch(`${base}/repos/o/b${i}`);
      const s1 = await stats();
      expect(s1.maxBytes).toBe(5000);
      expect(s1.bytes).toBeLessThanOrEqual(5000);
      expect(s1.evictions).toBeGreaterThan(0);
      await Bun.write(gw.configPath, (await Bun.file(gw.configPath).text()).replace("cache_max_bytes = 5000", "cache_max_bytes = 2000"));
      expect(await gw.gw.reload()).toBe(true);
      const s2 = await stats();
      expect(s2.maxBytes).toBe(2000);
      expect(s2.bytes).toBeLessThanOrEqual(2000);
    } finally {
      await gw.shutdown();
      fake.stop();
    }
  });
});

describe("GitHub pool: stale-if-error", () => {
  type CacheStats = { features: { github: { cache: Record<string, number> } } };

  test("every identity exhausted: an expired entry is served STALE with Age and a negative Cache-Status ttl; nothing cached → 429", async () => {
    const fake = fakeGithub(USERS);
    const gw = await startGateway(poolConfig(fake), env); // /repos/*/revalidate has a TTL of 0 s
    const base = gw.url.href.replace(/\/$/, "");
    try {
      const first = await fetch(`${base}/repos/o/revalidate`);
      expect(first.headers.get("x-hubgate-cache")).toBe("MISS");
      const body = await first.json();
      await Bun.sleep(1100);
      fake.spent.set("alice:core", fake.limits.core!);
      fake.spent.set("bob:core", fake.limits.core!);
      const before = fake.log.length;
      const stale = await fetch(`${base}/repos/o/revalidate`);
      expect(stale.status).toBe(200);
      expect(stale.headers.get("x-hubgate-cache")).toBe("STALE");
      expect(stale.headers.get("cache-status")).toBe("hubgate; hit; ttl=-1");
      expect(stale.headers.get("age")).toBe("1");
      expect(await stale.json()).toEqual(body);
      // GitHub was asked (revalidation, then the other budget) and refused every identity
      expect(fake.log.slice(before).map((l) => l.status)).toEqual([403, 403]);

      const noCache = await fetch(`${base}/repos/o/revalidate`, { headers: { "cache-control": "no-cache" } });
      expect(noCache.status).toBe(429);
      const uncached = await fetch(`${base}/repos/o/never-cached`);
      expect(uncached.status).toBe(429);
      expect(((await uncached.json()) as { error: string }).error).toBe("rate_limited");
      const stats = (await (await fetch(`${base}/stats`)).json()) as CacheStats;
      expect(stats.features.github.cache.STALE).toBe(1);
    } finally {
      await gw.shutdown();
      fake.stop();
    }
  });

  test("GitHub failing (5xx) or unreachable: the stale entry again; without one the client gets the error", async () => {
    const fake = fakeGithub(USERS);
    const gw = await startGateway(poolConfig(fake), env);
    const base = gw.url.href.replace(/\/$/, "");
    try {
      const body = await (await fetch(`${base}/repos/o/revalidate`)).json();
      fake.outage = 503;
      fake.delayMs = 150;
      const before = fake.log.length;
      // concurrent reads share one upstream attempt; the followers are told their copy is stale too
      const failing = await Promise.all(Array.from({ length: 4 }, () => fetch(`${base}/repos/o/revalidate`)));
      fake.delayMs = 0;
      for (const r of failing) {
        expect(r.status).toBe(200);
        expect(r.headers.get("x-hubgate-cache")).toBe("STALE");
        expect(r.headers.get("cache-status")).toMatch(/^hubgate; hit; ttl=-\d+$/);
        expect(await r.json()).toEqual(body);
      }
      expect(fake.log.slice(before).map((l) => l.status)).toEqual([503]);
      expect((await fetch(`${base}/repos/o/other`)).status).toBe(503); // GitHub's own 503, passed on

      fake.stop();
      const unreachable = await fetch(`${base}/repos/o/revalidate`);
      expect(unreachable.status).toBe(200);
      expect(unreachable.headers.get("x-hubgate-cache")).toBe("STALE");
      expect(Number(unreachable.headers.get("age"))).toBeGreaterThanOrEqual(0);
      const gone = await fetch(`${base}/repos/o/other`);
      expect(gone.status).toBe(502);
      expect(((await gone.json()) as { error: string }).error).toBe("upstream_unreachable");
    } finally {
      await gw.shutdown();
      fake.stop();
    }
  });
});
