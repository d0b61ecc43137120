/**
 * `hubgate store migrate`: a SQLite store filled through the real features (an API token made with the
 * CLI, an OAuth grant through the connect flow, the audit and request log they leave) is copied into a
 * real PostgreSQL; a gateway started on PostgreSQL with the same app key accepts the token and unseals
 * the grant. A non-empty target is refused unless --force; a running server makes it refuse.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { SQL } from "bun";
import { join } from "node:path";
import { APP_KEY, runCli, startGateway, tempDir } from "../helpers/gateway.ts";
import { serve } from "../../src/root/serve.ts";
import { memoryLogger } from "../../src/core/log.ts";
import { upstream } from "../helpers/upstream.ts";
import { postgresForFile } from "../helpers/stores.ts";

const pg = postgresForFile();

/** A provider (authorize redirects straight back with a code; token answers fixed tokens) and an API that echoes the credential it got. */
const provider = upstream(async (req) => {
  const u = new URL(req.url);
  if (u.pathname === "/authorize") {
    const back = new URL(u.searchParams.get("redirect_uri")!);
    back.searchParams.set("code", "the-code");
    back.searchParams.set("state", u.searchParams.get("state")!);
    return new Response(null, { status: 302, headers: { location: back.href } });
  }
  if (u.pathname === "/token") return Response.json({ access_token: "gho_migrated_access", refresh_token: "ghr_migrated_refresh", token_type: "bearer", expires_in: 3600 });
  return Response.json({ auth: req.headers.get("authorization") });
});
afterAll(() => provider.stop());

const features = `[github]
enabled = false
[[oauth_connections]]
name = "prov"
authorization_url = "${provider.url}/authorize"
token_url = "${provider.url}/token"
client_id = "hubgate"
client_secret = "env:PROV_SECRET"
allow_private = true
[[projects]]
id = "p"
[[projects.endpoints]]
slug = "e"
upstream_url = "${provider.url}"
allow_private = true
[[projects.endpoints]]
slug = "api"
upstream_url = "${provider.url}"
oauth_connection = "prov"
allow_private = true
`;
const ENV = { PROV_SECRET: "client-secret-for-tests" };

/** One config file in a fresh directory: the embedded store (its default path), or PostgreSQL at env:HG_DATABASE_URL. */
function config(storage: "sqlite" | "postgres", dir = tempDir("hg-migrate-"), name = "gateway.toml"): { dir: string; path: string } {
  const path = join(dir, name);
  const store = storage === "sqlite" ? `[storage]\npath = "data/hubgate.db"\n` : `[storage]\nbackend = "postgres"\nurl = "env:HG_DATABASE_URL"\n`;
  writeFileSync(path, `[server]\nport = 0\n${store}${features}`);
  return { dir, path };
}

/** A SQLite store filled through the features; returns the API token and the config. */
async function filledSqlite(): Promise<{ token: string; dir: string; path: string }> {
  const c = config("sqlite");
  const running = await serve({ configPath: c.path, env: { HUBGATE_APP_KEY: APP_KEY, ...ENV }, log: memoryLogger().log, signals: false });
  try {
    const created = await runCli(["token", "create", "--project", "p", "--name", "ci", "--config", c.path]);
    expect(created.code).toBe(0);
    const token = created.stdout.trim();
    const base = running.url.href;
    expect((await fetch(`${base}api/p/proxy/e/before`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    // the connect flow: one-time link → provider → callback; the grant is stored sealed
    const { url } = await running.gw.oauth.startConnect("prov", "test");
    const toProvider = await fetch(url, { redirect: "manual" });
    const toCallback = await fetch(toProvider.headers.get("location")!, { redirect: "manual" });
    const done = await fetch(toCallback.headers.get("location")!);
    expect(done.status).toBe(200);
    const echoed = (await (await fetch(`${base}api/p/proxy/api/x`, { headers: { authorization: `Bearer ${token}` } })).json()) as { auth: string };
    expect(echoed.auth).toBe("Bearer gho_migrated_access");
    return { token, ...c };
  } finally {
    await running.shutdown("test");
  }
}

describe("hubgate store migrate", () => {
  test("SQLite → PostgreSQL: counts printed; a gateway on PostgreSQL with the same app key accepts the token and unseals the grant", async () => {
    const src = await filledSqlite();
    const url = await pg.database();
    const r = await runCli(["store", "migrate", "--config", src.path, "--to", "env:HG_DATABASE_URL", "--request-log"], { env: { HG_DATABASE_URL: url } });
    expect(r.stderr).toContain("copied ");
    expect(r.code).toBe(0);
    const rows = Object.fromEntries(r.stdout.trim().split("\n").slice(1).map((l) => l.split(/\s+/) as [string, string]));
    expect(rows).toMatchObject({ api_tokens: "1", oauth_grants: "1", oauth_states: "1", meta: "1" });
    expect(Number(rows.audit_events)).toBeGreaterThanOrEqual(3); // token.created, connect_started, connected
    expect(Number(rows.request_logs)).toBeGreaterThanOrEqual(2);
    expect(r.stderr).toContain('set [storage] backend = "postgres" and url = "env:HG_DATABASE_URL"');
    expect(r.stdout + r.stderr).not.toContain(url);

    // the operator switches [storage] and starts on PostgreSQL with the same key
    const moved = config("postgres", src.dir, "gateway.postgres.toml");
    const g = await startGateway(`[storage]\nbackend = "postgres"\nurl = "env:HG_DATABASE_URL"\n${features}`, { ...ENV, HG_DATABASE_URL: url });
    try {
      expect(g.gw.store.backend).toBe("postgres");
      const base = g.url.href;
      expect((await fetch(`${base}api/p/proxy/e/after`, { headers: { authorization: `Bearer ${src.token}` } })).status).toBe(200);
      const echoed = (await (await fetch(`${base}api/p/proxy/api/x`, { headers: { authorization: `Bearer ${src.token}` } })).json()) as { auth: string };
      expect(echoed.auth).toBe("Bearer gho_migrated_access");
      expect(await g.gw.oauth.status()).toMatchObject([{ name: "prov", status: "connected" }]);
      // the audit came along, ids kept, and new events follow them
      const audit = await g.gw.store.audit.list({ limit: 1000 });
      expect(audit.map((e) => e.kind)).toEqual(expect.arrayContaining(["token.created", "oauth_connection.connected", "store.migrated"]));
      const ids = audit.map((e) => e.id);
      expect([...ids].sort((a, b) => a - b)).toEqual(ids);
      expect(new Set(ids).size).toBe(ids.length);
      // management commands work on the moved store
      const list = await runCli(["token", "list", "--config", moved.path], { env: { HG_DATABASE_URL: url } });
      expect(list.code).toBe(0);
      expect(list.stdout).toContain(" ci ");
    } finally {
      await g.shutdown("test");
    }

    // the target holds rows now: refused, then --force empties it first
    const again = await runCli(["store", "migrate", "--config", src.path, "--to", "env:HG_DATABASE_URL"], { env: { HG_DATABASE_URL: url } });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("is not empty");
    expect(again.stderr).toContain("[store_not_empty]");
    const forced = await runCli(["store", "migrate", "--config", src.path, "--to", "env:HG_DATABASE_URL", "--force"], { env: { HG_DATABASE_URL: url } });
    expect(forced.code).toBe(0);
    expect(forced.stdout).not.toContain("request_logs"); // not asked for this time …
    const raw = new SQL(url);
    expect(await raw`SELECT (SELECT count(*)::int FROM request_logs) AS logs, (SELECT count(*)::int FROM api_tokens) AS tokens`).toEqual([{ logs: 0, tokens: 1 }]); // … and the target's went with --force
    await raw.close();
  });

  test("refused while a server runs on the SQLite store; a --to that is no PostgreSQL URL is refused without repeating it; --to is required", async () => {
    const c = config("sqlite");
    const running = await serve({ configPath: c.path, env: { HUBGATE_APP_KEY: APP_KEY, ...ENV }, log: memoryLogger().log, signals: false });
    try {
      const url = await pg.database();
      const busy = await runCli(["store", "migrate", "--config", c.path, "--to", "env:HG_DATABASE_URL"], { env: { HG_DATABASE_URL: url } });
      expect(busy.code).toBe(1);
      expect(busy.stderr).toContain("stop the server first");
      expect(busy.stderr).toContain("[store_locked]");
    } finally {
      await running.shutdown("test");
    }
    const bad = await runCli(["store", "migrate", "--config", c.path, "--to", "env:DB"], { env: { DB: "mysql://root:hunter2@db/x" } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("--to env:DB: expected a postgres:// or postgresql:// URL");
    expect(bad.stderr).not.toContain("hunter2");
    const missing = await runCli(["store", "migrate", "--config", c.path]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("missing --to");
  });
});
