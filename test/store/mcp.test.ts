/**
 * The MCP repository's contracts, on SQLite and on a real PostgreSQL alike. McpRepo.refresh is the one
 * place that decides what presenting a refresh token does: first use rotates, one retry while the
 * successor is unused, anything else revokes the family; new tokens are saved only with a rotation or
 * the retry. Codes are single-use. Authorization requests come back from storage typed and checked.
 * On PostgreSQL the atomic operations also hold between two stores (two replicas' pools) racing.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { openStore, type Backend, type Store } from "../../src/store/index.ts";
import type { McpAuthRequest, NewMcpToken } from "../../src/store/mcp.ts";
import { memoryLogger } from "../../src/core/log.ts";
import { BACKENDS, freshStore, postgresForFile, testKeyring } from "../helpers/stores.ts";

const GRACE = 30_000;
const T0 = 1_000_000;
const pg = postgresForFile();

describe.each(BACKENDS)("McpRepo.refresh on %s", (backend: Backend) => {
  let store: Store;
  let n = 0;
  /** an access + refresh pair of family F, issued by `parent` */
  const pair = (parent: string | null, at: number): { at: string; rt: string; rows: NewMcpToken[] } => {
    n++;
    const base = { family: "F", clientId: "c", username: "alice", resource: "https://gw/mcp", scope: "mcp", codeHash: "code", parent, createdAt: at, expiresAt: at + 86_400_000 };
    return { at: `at${n}`, rt: `rt${n}`, rows: [{ ...base, tokenHash: `at${n}`, kind: "access" }, { ...base, tokenHash: `rt${n}`, kind: "refresh" }] };
  };
  const live = async (hash: string) => (await store.mcp.token(hash))?.revokedAt === null;
  const start = async () => {
    const p = pair(null, T0);
    await store.mcp.saveTokens(p.rows);
    return p;
  };
  const present = async (rt: string, at: number) => {
    const next = pair(rt, at);
    return { next, result: await store.mcp.refresh(rt, next.rows, at, GRACE) };
  };

  beforeEach(async () => {
    store = await freshStore(backend, pg);
  });
  afterEach(() => store.close());

  test("first use rotates and saves the successors; an unknown or access token is unknown and saves nothing", async () => {
    const p1 = await start();
    const { next, result } = await present(p1.rt, T0 + 1);
    expect(result).toEqual({ outcome: "rotated" });
    expect((await store.mcp.token(p1.rt))!.rotatedAt).toBe(T0 + 1);
    expect((await live(next.rt)) && (await live(next.at))).toBe(true);
    expect((await present("nope", T0 + 2)).result).toEqual({ outcome: "unknown" });
    const viaAccess = await present(p1.at, T0 + 2);
    expect(viaAccess.result).toEqual({ outcome: "unknown" });
    expect(await store.mcp.token(viaAccess.next.rt)).toBeNull();
  });

  test("one retry inside the window while the successor is unused: the replaced pair is revoked, the new one saved", async () => {
    const p1 = await start();
    const lost = (await present(p1.rt, T0 + 1)).next;
    const retry = await present(p1.rt, T0 + 1 + GRACE);
    expect(retry.result).toEqual({ outcome: "retried" });
    expect((await live(lost.rt)) || (await live(lost.at))).toBe(false);
    expect((await live(retry.next.rt)) && (await live(retry.next.at))).toBe(true);
    expect((await store.mcp.token(p1.rt))!.retriedAt).toBe(T0 + 1 + GRACE);
  });

  const reused = async (rt: string, at: number) => {
    const r = await present(rt, at);
    expect(r.result).toMatchObject({ outcome: "reused", family: "F" });
    expect(await store.mcp.token(r.next.rt)).toBeNull(); // nothing saved
    const all = (await store.driver.get<{ n: number }>("SELECT COUNT(*) AS n FROM mcp_tokens WHERE revoked_at IS NULL"))!.n;
    expect(all).toBe(0); // the whole family, access tokens included
    return r.result.outcome === "reused" ? r.result.revoked : -1;
  };

  test("after the window: reuse", async () => {
    const p1 = await start();
    await present(p1.rt, T0 + 1);
    expect(await reused(p1.rt, T0 + 2 + GRACE)).toBe(4);
  });

  test("a second retry: reuse", async () => {
    const p1 = await start();
    await present(p1.rt, T0 + 1);
    await present(p1.rt, T0 + 2);
    expect(await reused(p1.rt, T0 + 3)).toBe(4); // RT1 AT1, and the retry's pair (the first rotation's pair was revoked by the retry)
  });

  test("inside the window, but the successor was used: reuse", async () => {
    const p1 = await start();
    const p2 = (await present(p1.rt, T0 + 1)).next;
    await present(p2.rt, T0 + 2);
    expect(await reused(p1.rt, T0 + 3)).toBe(6);
  });

  test("a token the retry replaced, presented: reuse, and the retry's pair goes too", async () => {
    const p1 = await start();
    const replaced = (await present(p1.rt, T0 + 1)).next;
    await present(p1.rt, T0 + 2);
    expect(await reused(replaced.rt, T0 + 3)).toBe(4);
  });

  test("a token of a family revoked before: reuse that revokes nothing more", async () => {
    const p1 = await start();
    await store.mcp.revokeFamily("F", T0 + 1);
    expect(await reused(p1.rt, T0 + 2)).toBe(0);
  });

  test("many presentations of one refresh token at once: exactly one rotation, at most one retry, the rest reuse; the family ends revoked", async () => {
    const p1 = await start();
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => present(p1.rt, T0 + GRACE * 2 + i)));
    const count = (o: string) => results.filter((r) => r.result.outcome === o).length;
    expect(count("rotated")).toBe(1);
    expect(count("retried")).toBeLessThanOrEqual(1);
    expect(count("reused")).toBe(11 - count("retried"));
    expect((await store.driver.get<{ n: number }>("SELECT COUNT(*) AS n FROM mcp_tokens WHERE revoked_at IS NULL"))!.n).toBe(0);
  });
});

describe("McpRepo on PostgreSQL: two replicas' pools on one database", () => {
  const request = { client_id: "c", redirect_uri: "http://127.0.0.1:1/cb", state: "", code_challenge: "x".repeat(43), resource: "https://gw/mcp", upstream: "u", scope: "mcp", upstream_identity: false, upstream_done: false };
  const replicas = async (): Promise<[Store, Store]> => {
    const url = await pg.database();
    const open = async () => openStore({ target: { backend: "postgres", url, poolSize: 8 }, log: memoryLogger().log, keyring: await testKeyring() });
    const a = await open();
    return [a, await open()];
  };
  const token = (hash: string, kind: "access" | "refresh", family: string, parent: string | null, codeHash: string | null = null): NewMcpToken => ({
    tokenHash: hash, kind, family, clientId: "c", username: "u", resource: "r", scope: "mcp", codeHash, parent, createdAt: T0, expiresAt: T0 + 86_400_000,
  });

  test("a code taken on both at once: one first use; the reuse refuses the issue, whichever comes first", async () => {
    const [a, b] = await replicas();
    try {
    for (let round = 0; round < 10; round++) {
      const code = `code${round}`;
      await a.mcp.saveCode(code, request, "alice", Date.now() + 60_000);
      const [x, y] = await Promise.all([a.mcp.takeCode(code), b.mcp.takeCode(code)]);
      expect([x!.reused, y!.reused].sort()).toEqual([false, true]);
      const [winner, loser] = x!.reused ? [b, a] : [a, b];
      // the first exchange issues while the second revokes: never live tokens of a reused code
      const [issued] = await Promise.all([
        winner.mcp.issueForCode(code, [token(`at${round}`, "access", `f${round}`, null, code)]),
        loser.mcp.revokeByCode(code, Date.now()),
      ]);
      const live = (await a.driver.get<{ n: number }>("SELECT COUNT(*) AS n FROM mcp_tokens WHERE code_hash = ? AND revoked_at IS NULL", code))!.n;
      expect(live).toBe(0);
      if (issued) expect(await a.mcp.token(`at${round}`)).not.toBeNull();
    }
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test("a refresh token presented on both at once, over and over: one rotation each time, and the other is the one retry or a reuse that revokes the family", async () => {
    const [a, b] = await replicas();
    try {
      await a.mcp.saveTokens([token("rt0", "refresh", "F", null)]);
      let current = "rt0";
      const liveRefresh = async () =>
        (await a.driver.all<{ token_hash: string }>("SELECT token_hash FROM mcp_tokens WHERE kind = 'refresh' AND rotated_at IS NULL AND revoked_at IS NULL")).map((r) => r.token_hash);
      for (let i = 1; i <= 20; i++) {
        const next = (tag: string) => [token(`at${i}${tag}`, "access", "F", current), token(`rt${i}${tag}`, "refresh", "F", current)];
        const [x, y] = await Promise.all([a.mcp.refresh(current, next("a"), T0 + i, GRACE), b.mcp.refresh(current, next("b"), T0 + i, GRACE)]);
        const outcomes = [x.outcome, y.outcome].sort();
        const live = await liveRefresh();
        if (outcomes[0] === "reused") {
          // the rotation's successors, inserted by the other replica, went with the family
          expect(outcomes).toEqual(["reused", "rotated"]);
          expect((await a.driver.get<{ n: number }>("SELECT COUNT(*) AS n FROM mcp_tokens WHERE revoked_at IS NULL"))!.n).toBe(0);
          return;
        }
        // the retry replaced the rotation's pair: exactly one refresh token lives on
        expect(outcomes).toEqual(["retried", "rotated"]);
        expect(live).toHaveLength(1);
        current = live[0]!;
      }
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe("McpRepo on PostgreSQL: a revocation racing a rotation", () => {
  test("reuse of a replaced token on one replica while the current one rotates on another: the new successors are revoked too (per-family lock)", async () => {
    const url = await pg.database();
    const open = async () => openStore({ target: { backend: "postgres", url, poolSize: 4 }, log: memoryLogger().log, keyring: await testKeyring() });
    const [a, b] = [await open(), await open()];
    const t = (hash: string, family: string, parent: string | null): NewMcpToken => ({
      tokenHash: hash, kind: "refresh", family, clientId: "c", username: "u", resource: "r", scope: "mcp", codeHash: null, parent, createdAt: T0, expiresAt: T0 + 86_400_000,
    });
    try {
      for (let i = 0; i < 25; i++) {
        const f = `F${i}`;
        await a.mcp.saveTokens([t(`${f}-1`, f, null)]);
        expect((await a.mcp.refresh(`${f}-1`, [t(`${f}-2`, f, `${f}-1`)], T0, 0)).outcome).toBe("rotated");
        // RT1 again, well after the window (reuse: revoke the family) while RT2 rotates to RT3 on the other replica
        const [reuse, rotate] = await Promise.all([a.mcp.refresh(`${f}-1`, [], T0 + 60_000, 0), b.mcp.refresh(`${f}-2`, [t(`${f}-3`, f, `${f}-2`)], T0 + 60_000, 0)]);
        expect(reuse.outcome).toBe("reused");
        expect(["rotated", "reused"]).toContain(rotate.outcome);
        expect((await a.driver.get<{ n: number }>("SELECT COUNT(*) AS n FROM mcp_tokens WHERE family = ? AND revoked_at IS NULL", f))!.n).toBe(0);
      }
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe.each(BACKENDS)("McpRepo authorization requests on %s", (backend: Backend) => {
  const request: McpAuthRequest = {
    client_id: "c",
    redirect_uri: "http://127.0.0.1:1/cb",
    state: "",
    code_challenge: "x".repeat(43),
    resource: "https://gw/mcp",
    upstream: "everything",
    scope: "mcp",
    upstream_identity: true,
    upstream_done: false,
  };
  let store: Store;
  beforeEach(async () => {
    store = await freshStore(backend, pg);
  });
  afterEach(() => store.close());

  test("a pending authorization and a code come back as they were stored, flags as booleans", async () => {
    await store.mcp.createPending({ id: "p", request, csrf: "k", createdAt: Date.now(), expiresAt: Date.now() + 60_000 });
    expect((await store.mcp.pending("p"))!.request).toEqual(request);
    await store.mcp.updatePendingRequest("p", { ...request, upstream_done: true });
    expect((await store.mcp.pending("p"))!.request.upstream_done).toBe(true);
    await store.mcp.setPendingUser("p", "alice");
    await store.mcp.setPendingUpstream("p", "up-state", "verifier-".padEnd(43, "v"));
    expect(await store.mcp.pendingIdByUpstreamState("up-state")).toBe("p");
    expect(await store.mcp.pending("p")).toMatchObject({ username: "alice", upstreamState: "up-state", upstreamVerifier: "verifier-".padEnd(43, "v") });
    expect(await store.mcp.deletePending("p")).toBe(true);
    expect(await store.mcp.pending("p")).toBeNull();
    await store.mcp.saveCode("h", request, "alice", Date.now() + 60_000);
    expect(await store.mcp.takeCode("h")).toMatchObject({ request, username: "alice", reused: false });
    expect((await store.mcp.takeCode("h"))!.reused).toBe(true);
    expect(await store.mcp.issueForCode("h", [])).toBe(false); // reused: nothing more is issued for it
    expect(await store.mcp.takeCode("unknown")).toBeNull();
  });

  test("clients and consents", async () => {
    await store.mcp.saveClient("c1", { client_name: "app", redirect_uris: ["https://a/cb"] }, "hash");
    expect(await store.mcp.client("c1")).toEqual({ metadata: { client_name: "app", redirect_uris: ["https://a/cb"] }, secretHash: "hash" });
    expect(await store.mcp.client("nope")).toBeNull();
    expect(await store.mcp.hasConsent("alice", "c1", "r")).toBe(false);
    await store.mcp.grantConsent("alice", "c1", "r");
    await store.mcp.grantConsent("alice", "c1", "r");
    expect(await store.mcp.hasConsent("alice", "c1", "r")).toBe(true);
  });

  test("a stored request without that shape (a field missing, a flag stored as \"1\") is not an authorization in progress", async () => {
    const { upstream_done: _, ...missing } = request;
    for (const [id, bad] of [["a", missing], ["b", { ...request, upstream_identity: "1" }], ["c", []]] as const) {
      await store.driver.run("INSERT INTO mcp_pending (id, request, csrf, created_at, expires_at) VALUES (?, ?, 'k', 0, ?)", id, JSON.stringify(bad), Date.now() + 60_000);
      expect(await store.mcp.pending(id)).toBeNull();
    }
    await store.driver.run("INSERT INTO mcp_codes (code_hash, request, username, expires_at) VALUES ('h', ?, 'alice', ?)", JSON.stringify({ ...request, scope: 1 }), Date.now() + 60_000);
    expect(await store.mcp.takeCode("h")).toBeNull();
  });
});
