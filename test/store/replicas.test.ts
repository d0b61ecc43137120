/**
 * [storage] backend = "postgres": the keys, and two live gateways sharing one real PostgreSQL as two
 * replicas would — what must be exact across them (API token revocation, single-use MCP codes, MCP
 * refresh-token reuse revoking the family everywhere) — and PostgreSQL going away and coming back.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { configIssues } from "../helpers/config.ts";
import { createHash, randomBytes } from "node:crypto";
import { ConfigError, parseConfig } from "../../src/config/index.ts";
import { storeTarget } from "../../src/store/index.ts";
import { createApiToken, revokeApiToken } from "../../src/tokens/service.ts";
import { APP_KEY, freePort, runCli, startGateway, writeConfig } from "../helpers/gateway.ts";
import { upstream } from "../helpers/upstream.ts";
import { PASSWORDS, signIn } from "../mcp/harness.ts";
import { postgresForFile } from "../helpers/stores.ts";

const pg = postgresForFile();
/** an upstream for endpoints and an open MCP server (answers every JSON-RPC call; asks for no authorization) */
const up = upstream(async (req) => {
  if (new URL(req.url).pathname.startsWith("/.well-known/")) return new Response("not found", { status: 404 });
  if (req.method === "POST") return Response.json({ jsonrpc: "2.0", id: 1, result: {} });
  return Response.json({ ok: true });
});
afterAll(() => up.stop());

const issues = configIssues;

describe("[storage] backend keys", () => {
  test("defaults: the embedded SQLite file, as before", () => {
    expect(parseConfig("").storage).toMatchObject({ backend: "sqlite", path: "./data/hubgate.db", pool_size: 10 });
    expect(parseConfig("").storage.url).toBeUndefined();
  });

  test("postgres needs url; url with sqlite is a mistake; pool_size is bounded", () => {
    expect(issues('[storage]\nbackend = "postgres"')).toEqual([{ path: "storage.url", message: 'backend = "postgres" needs url (a secret reference to the PostgreSQL URL)' }]);
    expect(issues('[storage]\nurl = "env:DB"').map((i) => i.path)).toEqual(["storage.backend"]);
    expect(issues('[storage]\nbackend = "mysql"\nurl = "env:DB"')[0]).toMatchObject({ path: "storage.backend", message: expect.stringContaining('"sqlite", "postgres"') });
    expect(issues('[storage]\nbackend = "postgres"\nurl = "env:DB"\npool_size = 0')[0]!.path).toBe("storage.pool_size");
    expect(issues('[storage]\nbackend = "postgres"\nurl = "env:DB"\npool_size = 4')).toEqual([]);
  });

  test("hubgate check reports them with their key path; with postgres the URL is checked and storage.path is no SQLite file to look at", async () => {
    const { path } = writeConfig('[github]\nenabled = false\n[storage]\nbackend = "postgres"\n');
    const r = await runCli(["check", "--config", path]);
    expect(r.code).not.toBe(0);
    expect(r.stderr + r.stdout).toContain("storage.url");
    const pgConfig = writeConfig('[github]\nenabled = false\n[storage]\nbackend = "postgres"\nurl = "env:DB"\npath = "no-such-dir/x.db"\n');
    const bad = await runCli(["check", "--config", pgConfig.path], { env: { DB: "mysql://u:hunter2@db/x" } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("error: storage.url: expected a postgres:// or postgresql:// URL");
    expect(bad.stderr + bad.stdout).not.toContain("hunter2");
    const good = await runCli(["check", "--config", pgConfig.path], { env: { DB: "postgres://u:hunter2@db:5432/hubgate" } });
    expect(good.stderr).toBe("");
    expect(good.code).toBe(0);
  });

  test("a url that is not a PostgreSQL URL is refused without repeating it", () => {
    const config = parseConfig('[storage]\nbackend = "postgres"\nurl = "env:DB"').storage;
    for (const url of ["redis://:hunter2@r:6379/0", "postgres://u:hunter2@db:5432", "not a url hunter2"]) {
      let e: unknown = null;
      try {
        storeTarget(config, new Map([["storage.url", url]]), "/tmp/x.db");
      } catch (x) {
        e = x;
      }
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).issues[0]!.path).toBe("storage.url");
      expect(JSON.stringify((e as ConfigError).issues)).not.toContain("hunter2");
    }
    expect(storeTarget(config, new Map([["storage.url", "postgresql://u:p@db:5432/hubgate"]]), "/tmp/x.db")).toEqual({ backend: "postgres", url: "postgresql://u:p@db:5432/hubgate", poolSize: 10 });
  });
});

const hash = (p: string) => Bun.password.hash(p, { algorithm: "argon2id" });

/** Two gateways (replicas) on one PostgreSQL database, one public URL, the same app key. */
async function replicas(url: string) {
  const [pa, pb] = [await freePort(), await freePort()];
  const publicUrl = `http://127.0.0.1:${pa}`;
  const alice = await hash(PASSWORDS.alice);
  const body = (port: number) => `[server]
port = ${port}
public_url = "${publicUrl}"
[storage]
backend = "postgres"
url = "env:HG_DATABASE_URL"
pool_size = 4
[github]
enabled = false
[[projects]]
id = "p"
[[projects.endpoints]]
slug = "e"
upstream_url = "${up.url}"
allow_private = true
[[mcp.upstreams]]
name = "open"
url = "${up.url}/mcp"
allow_private = true
[[mcp.users]]
username = "alice"
password_hash = "${alice}"
`;
  const a = await startGateway(body(pa), { HG_DATABASE_URL: url });
  const b = await startGateway(body(pb), { HG_DATABASE_URL: url });
  return { a, b, stop: () => Promise.all([a.shutdown("test"), b.shutdown("test")]) };
}

const form = (base: string, path: string, fields: Record<string, string>) =>
  fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(fields) });

describe("two gateways on one PostgreSQL", () => {
  test("both serve at once: no exclusive store lock with postgres (and no <path>.lock file)", async () => {
    const r = await replicas(await pg.database());
    try {
      expect(r.a.gw.store.backend).toBe("postgres");
      for (const g of [r.a, r.b]) expect((await fetch(`${g.url.href}readyz`)).status).toBe(200);
      // storage.path is the default ./data/hubgate.db: with postgres, neither a SQLite file nor its lock is made
      for (const g of [r.a, r.b]) for (const f of ["data/hubgate.db", "data/hubgate.db.lock"]) expect(await Bun.file(`${g.dir}/${f}`).exists()).toBe(false);
    } finally {
      await r.stop();
    }
  });

  test("an API token revoked through A is refused by B at once (well within 1 s): no cache to miss it", async () => {
    const r = await replicas(await pg.database());
    try {
      const { token, row } = await createApiToken(r.a.gw, { project: "p", name: "ci", scopes: ["proxy"], actor: "test" });
      const call = (g: typeof r.a) => fetch(`${g.url.href}api/p/proxy/e/x`, { headers: { authorization: `Bearer ${token}` } });
      expect((await call(r.b)).status).toBe(200);
      expect((await call(r.a)).status).toBe(200);
      const revokedAt = performance.now();
      await revokeApiToken(r.a.gw, row.id, "test");
      const refused = await call(r.b);
      expect(performance.now() - revokedAt).toBeLessThan(1000);
      expect(refused.status).toBe(401);
      expect(((await refused.json()) as { error: string }).error).toBe("invalid_token");
      // and the token B saw used shows on A
      expect((await r.a.gw.store.apiTokens.get(row.id))!.lastUsedAt).not.toBeNull();
    } finally {
      await r.stop();
    }
  });

  test("MCP: a code exchanged on A is refused on B, and what A issued for it is revoked; reuse of a rotated refresh token on B revokes the family on A too", async () => {
    const r = await replicas(await pg.database());
    const A = r.a.url.origin;
    const B = r.b.url.origin;
    const redirect = "http://127.0.0.1:49993/cb";
    try {
      const reg = (await (await fetch(`${A}/register`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ redirect_uris: [redirect] }) })).json()) as { client_id: string };
      const code = async () => {
        const verifier = randomBytes(32).toString("base64url");
        const u = new URL(`${A}/authorize`);
        for (const [k, v] of Object.entries({ response_type: "code", client_id: reg.client_id, redirect_uri: redirect, code_challenge: createHash("sha256").update(verifier).digest("base64url"), code_challenge_method: "S256", state: "s" }))
          u.searchParams.set(k, v);
        const back = await signIn(u.href, "alice", redirect);
        return { code: back.searchParams.get("code")!, verifier };
      };
      const exchange = (base: string, c: { code: string; verifier: string }) =>
        form(base, "/token", { grant_type: "authorization_code", code: c.code, redirect_uri: redirect, code_verifier: c.verifier, client_id: reg.client_id });
      const refresh = (base: string, rt: string) => form(base, "/token", { grant_type: "refresh_token", refresh_token: rt, client_id: reg.client_id });
      const works = async (base: string, at: string) => {
        const res = await fetch(`${base}/mcp`, { method: "POST", headers: { authorization: `Bearer ${at}`, "content-type": "application/json", accept: "application/json, text/event-stream" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }) });
        await res.body?.cancel();
        return res.status;
      };

      // a code: used on A, refused on B; the reuse revokes what A issued, on both
      const c1 = await code();
      const first = await exchange(A, c1);
      expect(first.status).toBe(200);
      const t1 = (await first.json()) as { access_token: string; refresh_token: string };
      expect(await works(B, t1.access_token)).toBe(200);
      const again = await exchange(B, c1);
      expect(again.status).toBe(400);
      expect(((await again.json()) as { error: string }).error).toBe("invalid_grant");
      expect(await works(A, t1.access_token)).toBe(401);
      expect(await works(B, t1.access_token)).toBe(401);

      // the same code on both at once: one answer at most, and nothing of it lives on
      const c2 = await code();
      const both = await Promise.all([exchange(A, c2), exchange(B, c2)]);
      expect(both.filter((x) => x.status === 200).length).toBeLessThanOrEqual(1);
      for (const x of both.filter((y) => y.status === 200)) expect(await works(A, ((await x.json()) as { access_token: string }).access_token)).toBe(401);

      // refresh rotation across replicas; the replaced token presented on B after its successor was used revokes the family
      const c3 = await code();
      const t3 = (await (await exchange(A, c3)).json()) as { access_token: string; refresh_token: string };
      const rot = await refresh(A, t3.refresh_token);
      expect(rot.status).toBe(200);
      const p2 = (await rot.json()) as { access_token: string; refresh_token: string };
      const rot2 = await refresh(B, p2.refresh_token);
      expect(rot2.status).toBe(200);
      const p3 = (await rot2.json()) as { access_token: string; refresh_token: string };
      expect(await works(A, p3.access_token)).toBe(200);
      const reuse = await refresh(B, t3.refresh_token);
      expect(reuse.status).toBe(400);
      expect(await works(A, p3.access_token)).toBe(401);
      expect(await works(B, p3.access_token)).toBe(401);
      expect((await refresh(A, p3.refresh_token)).status).toBe(400);
      expect((await r.a.gw.store.audit.list({ kind: "mcp.refresh_reused" })).length).toBe(1);
      expect((await r.a.gw.store.audit.list({ kind: "mcp.code_reused" })).length).toBeGreaterThanOrEqual(2);
    } finally {
      await r.stop();
    }
  });
});

describe("PostgreSQL down", () => {
  test("/readyz fails, requests that need the store get 503 store_unavailable with one log line, nothing committed is lost, and service resumes by itself", async () => {
    const server = await pg.server();
    const url = await pg.database();
    const g = await startGateway(
      `[storage]\nbackend = "postgres"\nurl = "env:HG_DATABASE_URL"\n[github]\nenabled = false\n[[projects]]\nid = "p"\n[[projects.endpoints]]\nslug = "e"\nupstream_url = "${up.url}"\nallow_private = true\n[[projects.endpoints]]\nslug = "open"\nupstream_url = "${up.url}"\nauth_mode = "none"\nallow_private = true\n`,
      { HG_DATABASE_URL: url },
    );
    try {
      const { token } = await createApiToken(g.gw, { project: "p", name: "ci", scopes: ["proxy"], actor: "test" });
      const call = (slug = "e") => fetch(`${g.url.href}api/p/proxy/${slug}/x`, { headers: { authorization: `Bearer ${token}` } });
      expect((await call()).status).toBe(200);
      expect((await fetch(`${g.url.href}readyz`)).status).toBe(200);

      await server.kill();
      const ready = await fetch(`${g.url.href}readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { checks: { store: boolean } }).checks.store).toBe(false);
      const statuses: number[] = [];
      for (let i = 0; i < 20; i++) {
        const res = await call();
        statuses.push(res.status);
        if (i === 0) {
          expect(res.headers.get("retry-after")).toBe("1");
          expect(((await res.json()) as { error: string }).error).toBe("store_unavailable");
        } else await res.body?.cancel();
      }
      expect(new Set(statuses)).toEqual(new Set([503]));
      // an endpoint that needs no store keeps serving; its request-log rows wait for the store
      for (let i = 0; i < 3; i++) expect((await call("open")).status).toBe(200);
      await g.gw.requestLog.flush();
      const down = g.lines.filter((l) => l.includes("store (PostgreSQL) unavailable"));
      expect(down).toHaveLength(1);
      expect(g.lines.filter((l) => l.includes('"request failed"') && l.includes("store_unavailable"))).toEqual([]);
      expect(g.lines.join("\n")).not.toContain(url);

      await server.restart();
      expect(await g.gw.store.ping()).toBe(true);
      expect((await fetch(`${g.url.href}readyz`)).status).toBe(200);
      expect((await call()).status).toBe(200); // the token committed before the outage
      expect(g.lines.filter((l) => l.includes("store (PostgreSQL) reachable again"))).toHaveLength(1);
      const logged = await g.gw.requestLog.list({ project: "p", limit: 100 });
      expect(logged.filter((l) => l.endpoint === "open")).toHaveLength(3);
    } finally {
      await g.shutdown("test");
    }
  });

  test("the app-key check still runs at start: a replica with another key is refused while the store holds sealed values; none is generated for postgres", async () => {
    const url = await pg.database();
    const body = `[storage]\nbackend = "postgres"\nurl = "env:HG_DATABASE_URL"\n[github]\nenabled = false\n`;
    const a = await startGateway(body, { HG_DATABASE_URL: url });
    await a.gw.store.sealedKv.put("ns", "k", "v");
    await a.shutdown("test");
    const other = Buffer.alloc(32, 9).toString("base64");
    expect(other).not.toBe(APP_KEY);
    await expect(startGateway(body, { HG_DATABASE_URL: url, HUBGATE_APP_KEY: other })).rejects.toMatchObject({ code: "app_key_mismatch" });
    await expect(startGateway(body, { HG_DATABASE_URL: await pg.database(), HUBGATE_APP_KEY: "" })).rejects.toMatchObject({ code: "app_key_not_found" });
  });
});
