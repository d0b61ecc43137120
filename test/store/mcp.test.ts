/**
 * The MCP repository's contracts (a PostgreSQL implementation must pass the same). McpRepo.refresh is
 * the one place that decides what presenting a refresh token does: first use rotates, one retry while
 * the successor is unused, anything else revokes the family; new tokens are saved only with a rotation
 * or the retry. Authorization requests come back from storage typed and checked.
 */
import { beforeEach, describe, expect, test } from "bun:test";
import { openStore, type Store } from "../../src/store/index.ts";
import type { McpAuthRequest, NewMcpToken } from "../../src/store/mcp.ts";
import { Keyring } from "../../src/crypto/keyring.ts";
import { memoryLogger } from "../../src/core/log.ts";

const GRACE = 30_000;
const T0 = 1_000_000;

describe("McpRepo.refresh", () => {
  let store: Store;
  let n = 0;
  /** an access + refresh pair of family F, issued by `parent` */
  const pair = (parent: string | null, at: number): { at: string; rt: string; rows: NewMcpToken[] } => {
    n++;
    const base = { family: "F", clientId: "c", username: "alice", resource: "https://gw/mcp", scope: "mcp", codeHash: "code", parent, createdAt: at, expiresAt: at + 86_400_000 };
    return { at: `at${n}`, rt: `rt${n}`, rows: [{ ...base, tokenHash: `at${n}`, kind: "access" }, { ...base, tokenHash: `rt${n}`, kind: "refresh" }] };
  };
  const live = (hash: string) => store.mcp.token(hash)?.revokedAt === null;
  const start = () => {
    const p = pair(null, T0);
    store.mcp.saveTokens(p.rows);
    return p;
  };
  const present = (rt: string, at: number) => {
    const next = pair(rt, at);
    return { next, result: store.mcp.refresh(rt, next.rows, at, GRACE) };
  };

  beforeEach(async () => {
    store = openStore({ path: ":memory:", log: memoryLogger().log, keyring: await Keyring.create(new Uint8Array(32).fill(3)) });
  });

  test("first use rotates and saves the successors; an unknown or access token is unknown and saves nothing", () => {
    const p1 = start();
    const { next, result } = present(p1.rt, T0 + 1);
    expect(result).toEqual({ outcome: "rotated" });
    expect(store.mcp.token(p1.rt)!.rotatedAt).toBe(T0 + 1);
    expect(live(next.rt) && live(next.at)).toBe(true);
    expect(present("nope", T0 + 2).result).toEqual({ outcome: "unknown" });
    const viaAccess = present(p1.at, T0 + 2);
    expect(viaAccess.result).toEqual({ outcome: "unknown" });
    expect(store.mcp.token(viaAccess.next.rt)).toBeNull();
  });

  test("one retry inside the window while the successor is unused: the replaced pair is revoked, the new one saved", () => {
    const p1 = start();
    const lost = present(p1.rt, T0 + 1).next;
    const retry = present(p1.rt, T0 + 1 + GRACE);
    expect(retry.result).toEqual({ outcome: "retried" });
    expect(live(lost.rt) || live(lost.at)).toBe(false);
    expect(live(retry.next.rt) && live(retry.next.at)).toBe(true);
    expect(store.mcp.token(p1.rt)!.retriedAt).toBe(T0 + 1 + GRACE);
  });

  const reused = (rt: string, at: number) => {
    const r = present(rt, at);
    expect(r.result).toMatchObject({ outcome: "reused", family: "F" });
    expect(store.mcp.token(r.next.rt)).toBeNull(); // nothing saved
    const all = store.db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM mcp_tokens WHERE revoked_at IS NULL").get()!.n;
    expect(all).toBe(0); // the whole family, access tokens included
    return r.result.outcome === "reused" ? r.result.revoked : -1;
  };

  test("after the window: reuse", () => {
    const p1 = start();
    present(p1.rt, T0 + 1);
    expect(reused(p1.rt, T0 + 2 + GRACE)).toBe(4);
  });

  test("a second retry: reuse", () => {
    const p1 = start();
    present(p1.rt, T0 + 1);
    present(p1.rt, T0 + 2);
    expect(reused(p1.rt, T0 + 3)).toBe(4); // RT1 AT1, and the retry's pair (the first rotation's pair was revoked by the retry)
  });

  test("inside the window, but the successor was used: reuse", () => {
    const p1 = start();
    const p2 = present(p1.rt, T0 + 1).next;
    present(p2.rt, T0 + 2);
    expect(reused(p1.rt, T0 + 3)).toBe(6);
  });

  test("a token the retry replaced, presented: reuse, and the retry's pair goes too", () => {
    const p1 = start();
    const replaced = present(p1.rt, T0 + 1).next;
    present(p1.rt, T0 + 2);
    expect(reused(replaced.rt, T0 + 3)).toBe(4);
  });

  test("a token of a family revoked before: reuse that revokes nothing more", () => {
    const p1 = start();
    store.mcp.revokeFamily("F", T0 + 1);
    expect(reused(p1.rt, T0 + 2)).toBe(0);
  });
});

describe("McpRepo authorization requests", () => {
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
  const open = async () => openStore({ path: ":memory:", log: memoryLogger().log, keyring: await Keyring.create(new Uint8Array(32).fill(3)) });

  test("a pending authorization and a code come back as they were stored, flags as booleans", async () => {
    const store = await open();
    store.mcp.createPending({ id: "p", request, csrf: "k", createdAt: Date.now(), expiresAt: Date.now() + 60_000 });
    expect((await store.mcp.pending("p"))!.request).toEqual(request);
    store.mcp.updatePendingRequest("p", { ...request, upstream_done: true });
    expect((await store.mcp.pending("p"))!.request.upstream_done).toBe(true);
    store.mcp.saveCode("h", request, "alice", Date.now() + 60_000);
    expect(store.mcp.takeCode("h")).toMatchObject({ request, username: "alice", reused: false });
    expect(store.mcp.takeCode("h")!.reused).toBe(true);
    expect(store.mcp.takeCode("unknown")).toBeNull();
  });

  test("a stored request without that shape (a field missing, a flag stored as \"1\") is not an authorization in progress", async () => {
    const store = await open();
    const { upstream_done: _, ...missing } = request;
    for (const [id, bad] of [["a", missing], ["b", { ...request, upstream_identity: "1" }], ["c", []]] as const) {
      store.db.query("INSERT INTO mcp_pending (id, request, csrf, created_at, expires_at) VALUES (?, ?, 'k', 0, ?)").run(id, JSON.stringify(bad), Date.now() + 60_000);
      expect(await store.mcp.pending(id)).toBeNull();
    }
    store.db.query("INSERT INTO mcp_codes (code_hash, request, username, expires_at) VALUES ('h', ?, 'alice', ?)").run(JSON.stringify({ ...request, scope: 1 }), Date.now() + 60_000);
    expect(store.mcp.takeCode("h")).toBeNull();
  });
});
