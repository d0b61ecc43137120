/** The store's contracts, on the embedded SQLite file and on a real PostgreSQL alike. */
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { SQL } from "bun";
import { openStore } from "../../src/store/index.ts";
import { openDatabase } from "../../src/store/sqlite.ts";
import { openPostgres } from "../../src/store/postgres.ts";
import { MIGRATIONS } from "../../src/store/migrations.ts";
import { PG_MIGRATIONS } from "../../src/store/migrations.pg.ts";
import { TABLES } from "../../src/store/migrations.ts";
import { copyStore } from "../../src/store/copy.ts";
import { memoryLogger } from "../../src/core/log.ts";
import { BACKENDS, freshStore, postgresForFile, testKeyring } from "../helpers/stores.ts";
import { tempDir } from "../helpers/servers.ts";
import { join } from "node:path";

const pg = postgresForFile();

describe("store: SQLite only", () => {
  test("pragmas: busy_timeout, WAL, synchronous=NORMAL; migrations applied and recorded", async () => {
    const store = await freshStore("sqlite", pg, { file: true });
    const pragma = async (name: string) => Object.values((await store.driver.get<Record<string, unknown>>(`PRAGMA ${name}`))!)[0];
    expect(await pragma("busy_timeout")).toBe(5000);
    expect(await pragma("journal_mode")).toBe("wal");
    expect(await pragma("synchronous")).toBe(1); // NORMAL
    expect(await store.schemaVersion()).toBe(MIGRATIONS.at(-1)!.version);
    expect(await store.ping()).toBe(true);
    await store.close();
    expect(await store.ping()).toBe(false);
  });

  test("reopening applies nothing twice; a database from a newer release is refused", async () => {
    const path = join(tempDir("hg-store-"), "data", "hubgate.db");
    const { log, lines } = memoryLogger();
    await (await openStore({ path, log, keyring: await testKeyring() })).close();
    const migrated = lines.filter((l) => l.includes("store migrated")).length;
    await (await openStore({ path, log, keyring: await testKeyring() })).close();
    expect(lines.filter((l) => l.includes("store migrated")).length).toBe(migrated);
    const db = new Database(path);
    db.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)");
    db.close();
    expect(() => openDatabase(path, log)).toThrow(/schema version 999/);
  });
});

describe("store: PostgreSQL only", () => {
  test("the two dialects: the same versions and names, and the same tables, columns and indexes", async () => {
    expect(PG_MIGRATIONS.map((m) => [m.version, m.name])).toEqual(MIGRATIONS.map((m) => [m.version, m.name]));
    const lite = await freshStore("sqlite", pg);
    const post = await freshStore("postgres", pg);
    const tables = (await lite.driver.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")).map((r) => r.name);
    const pgTables = (await post.driver.all<{ name: string }>("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name")).map((r) => r.name);
    expect(pgTables).toEqual(tables);
    for (const t of tables) {
      const cols = (await lite.driver.all<{ name: string; notnull: number; pk: number }>(`PRAGMA table_info(${t})`)).map((c) => [c.name, c.notnull === 1 || c.pk > 0]);
      const pgCols = (
        await post.driver.all<{ name: string; nullable: string }>(
          "SELECT column_name AS name, is_nullable AS nullable FROM information_schema.columns WHERE table_schema = 'public' AND table_name = ? ORDER BY ordinal_position",
          t,
        )
      ).map((c) => [c.name, c.nullable === "NO"]);
      expect({ t, cols: pgCols }).toEqual({ t, cols });
    }
    const indexes = (await lite.driver.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name")).map((r) => r.name);
    const pgIndexes = (await post.driver.all<{ name: string }>("SELECT indexname AS name FROM pg_indexes WHERE schemaname = 'public' AND indexname NOT LIKE '%_pkey' AND indexname NOT LIKE '%_key' ORDER BY indexname")).map((r) => r.name);
    expect(pgIndexes).toEqual(indexes);
    await Promise.all([lite.close(), post.close()]);
  });

  test("replicas starting at once: migrations run once, under the lock; a newer database is refused; a missing schema is no store for a management command", async () => {
    const url = await pg.database();
    const { log, lines } = memoryLogger();
    const drivers = await Promise.all([1, 2, 3].map(() => openPostgres({ url, log })));
    expect(lines.filter((l) => l.includes("store migrated")).length).toBe(PG_MIGRATIONS.length);
    for (const d of drivers) expect(await d.schemaVersion()).toBe(PG_MIGRATIONS.at(-1)!.version);
    await drivers[0]!.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)");
    await Promise.all(drivers.map((d) => d.close()));
    await expect(openPostgres({ url, log })).rejects.toMatchObject({ code: "store_too_new" });
    await expect(openPostgres({ url: await pg.database(), log, create: false })).rejects.toMatchObject({ code: "store_not_found" });
  });

  test("the URL's credentials never reach a message; an unreachable server is store_unavailable", async () => {
    const s = await pg.server();
    const store = await freshStore("postgres", pg);
    expect(store.location).toMatch(/^postgres:\/\/127\.0\.0\.1:\d+\/db\d+$/);
    await store.close();
    const closed = `postgres://hubgate:s3cret@127.0.0.1:${s.port + 1}/x`;
    const e = (await openPostgres({ url: closed, log: memoryLogger().log, connectTimeout: 1 }).catch((x: unknown) => x)) as Error & { code: string };
    expect(e.code).toBe("store_unavailable");
    expect(e.message).toContain(`cannot reach the store at postgres://127.0.0.1:${s.port + 1}/x (ERR_POSTGRES_CONNECTION_REFUSED)`);
    expect(JSON.stringify({ m: e.message })).not.toContain("s3cret");
  });

  test("integers come back as numbers, past 2^31", async () => {
    const store = await freshStore("postgres", pg);
    await store.apiTokens.insert({ id: "t", project: "p", name: "n", hash: "h", hint: "x", scopes: [], expiresAt: 4_102_444_800_000 });
    const row = (await store.apiTokens.get("t"))!;
    expect(row.expiresAt).toBe(4_102_444_800_000);
    expect(typeof row.createdAt).toBe("number");
    const n = await store.driver.get<{ n: unknown }>("SELECT COUNT(*) AS n FROM api_tokens");
    expect(n).toEqual({ n: 1 });
    await store.close();
  });

  test("a statement error passes through as it is (a unique violation is no outage)", async () => {
    const url = await pg.database();
    const store = await openStore({ target: { backend: "postgres", url }, log: memoryLogger().log, keyring: await testKeyring() });
    await store.apiTokens.insert({ id: "t1", project: "p", name: "a", hash: "h1", hint: "x", scopes: [], expiresAt: null });
    const e = (await store.apiTokens.insert({ id: "t2", project: "p", name: "b", hash: "h1", hint: "x", scopes: [], expiresAt: null }).catch((x: unknown) => x)) as { code?: string; errno?: string };
    expect(e.errno).toBe("23505");
    const raw = new SQL(url);
    expect(await raw`SELECT count(*)::int AS n FROM api_tokens`).toEqual([{ n: 1 }]);
    await raw.close();
    await store.close();
  });
});

describe("copying a store to PostgreSQL (hubgate store migrate)", () => {
  test("every table row for row, ids kept, sealed values opened with the same key on the other side; a non-empty target refused unless forced", async () => {
    const keyring = await testKeyring();
    const lite = await freshStore("sqlite", pg, { keyring });
    const now = Date.now();
    const request = { client_id: "c", redirect_uri: "https://a/cb", state: "", code_challenge: "x".repeat(43), resource: "https://gw/mcp", upstream: "u", scope: "mcp", upstream_identity: false, upstream_done: false };
    await lite.meta.set("serve.app_key_kid", keyring.currentKid);
    for (let i = 0; i < 3; i++) await lite.audit.append({ kind: "token.created", subject: `t${i}` });
    await lite.apiTokens.insert({ id: "t1", project: "p", name: "ci", hash: "h1", hint: "x", scopes: ["proxy"], expiresAt: null });
    await lite.sealedKv.put("ns", "k", "sealed-value");
    await lite.oauth.saveGrant({ connection: "gh", accessToken: "gho_A", refreshToken: "ghr_R", tokenType: "bearer", scopes: ["repo"], expiresAt: now + 60_000, connectedAt: now, refreshedAt: null, lastError: null });
    await lite.oauth.createState({ state: "s", link: "l", connection: "gh", codeVerifier: "v".repeat(43), redirectUri: "https://gw/cb", actor: "cli", createdAt: now, expiresAt: now + 60_000 });
    await lite.requestLogs.appendMany([1, 2].map((i) => ({ at: now, project: "p", endpoint: "e", tokenId: "t1", method: "GET", path: `/r${i}`, status: 200, ms: 1, bytes: 10, provider: null, error: null })));
    await lite.mcp.saveClient("c", { client_name: "app" }, null);
    await lite.mcp.grantConsent("alice", "c", "https://gw/mcp");
    await lite.mcp.createPending({ id: "p1", request, csrf: "k", createdAt: now, expiresAt: now + 60_000 });
    await lite.mcp.setPendingUpstream("p1", "up-state", "w".repeat(43));
    await lite.mcp.saveCode("code", request, "alice", now + 60_000);
    await lite.mcp.takeCode("code");
    await lite.mcp.issueForCode("code", [{ tokenHash: "at", kind: "access", family: "F", clientId: "c", username: "alice", resource: "https://gw/mcp", scope: "mcp", codeHash: "code", parent: null, createdAt: now, expiresAt: now + 60_000 }]);

    const post = await freshStore("postgres", pg, { keyring });
    const copied = await copyStore(lite.driver, post.driver, { requestLog: true });
    expect(Object.values(copied).every((n) => n > 0)).toBe(true); // every table had rows
    for (const t of TABLES) {
      const dump = async (s: typeof lite) => (await s.driver.all<Record<string, unknown>>(`SELECT * FROM ${t.name}`)).map((r) => JSON.stringify(r)).sort();
      expect({ table: t.name, rows: await dump(post) }).toEqual({ table: t.name, rows: await dump(lite) });
    }
    expect(await post.sealedKv.get("ns", "k")).toBe("sealed-value");
    expect(await post.oauth.grant("gh")).toMatchObject({ accessToken: "gho_A", refreshToken: "ghr_R" });
    expect((await post.mcp.pending("p1"))!.upstreamVerifier).toBe("w".repeat(43));
    expect((await post.apiTokens.findByHash("h1"))!.id).toBe("t1");
    expect((await post.mcp.takeCode("code"))!.reused).toBe(true);
    // the identity columns continue after the copied ids
    const next = await post.audit.append({ kind: "store.migrated" });
    expect(next).toBe(4);
    expect(await post.requestLogs.append({ at: now, project: "p", endpoint: "e", tokenId: null, method: "GET", path: "/r3", status: 200, ms: 1, bytes: 1, provider: null, error: null })).toBe(3);

    await expect(copyStore(lite.driver, post.driver)).rejects.toMatchObject({ code: "store_not_empty" });
    const forced = await copyStore(lite.driver, post.driver, { force: true });
    expect(forced.request_logs).toBeUndefined();
    expect(await post.requestLogs.list({})).toEqual([]);
    expect((await post.audit.list({})).length).toBe(3);
    await Promise.all([lite.close(), post.close()]);
  });
});

describe.each(BACKENDS)("store on %s", (backend) => {
  test("migrated to the latest version; ping; close", async () => {
    const store = await freshStore(backend, pg);
    expect(await store.schemaVersion()).toBe(MIGRATIONS.at(-1)!.version);
    expect(store.backend).toBe(backend);
    expect(await store.ping()).toBe(true);
    await store.close();
    expect(await store.ping()).toBe(false);
  });

  test("audit: append and list (newest page, cursor, kind filter)", async () => {
    const store = await freshStore(backend, pg);
    for (let i = 0; i < 5; i++) await store.audit.append({ kind: i % 2 ? "token.revoked" : "token.created", actor: "t", subject: `s${i}`, detail: { i } });
    const last2 = await store.audit.list({ limit: 2 });
    expect(last2.map((e) => e.subject)).toEqual(["s3", "s4"]);
    expect((await store.audit.list({ afterId: last2[0]!.id })).map((e) => e.subject)).toEqual(["s4"]);
    expect((await store.audit.list({ kind: "token.revoked" })).map((e) => e.detail)).toEqual([{ i: 1 }, { i: 3 }]);
    await store.close();
  });

  test("audit: since keeps the events at or after a time", async () => {
    const store = await freshStore(backend, pg);
    for (const subject of ["old", "new"]) await store.audit.append({ kind: "token.created", subject });
    await store.driver.run("UPDATE audit_events SET at = ? WHERE subject = 'old'", Date.now() - 3_600_000);
    expect((await store.audit.list({ since: Date.now() - 60_000 })).map((e) => e.subject)).toEqual(["new"]);
    expect((await store.audit.list({ since: Date.now() - 7_200_000 })).map((e) => e.subject)).toEqual(["old", "new"]);
    await store.close();
  });

  test("API tokens: stored by hash, found by hash, revoked, touched at most once a minute", async () => {
    const store = await freshStore(backend, pg);
    await store.apiTokens.insert({ id: "t1", project: "p", name: "ci", hash: "h1", hint: "hg_abcd…xyz", scopes: ["proxy"], expiresAt: null });
    expect(await store.apiTokens.findByHash("h1")).toMatchObject({ id: "t1", project: "p", scopes: ["proxy"], revokedAt: null });
    expect(await store.apiTokens.findByHash("nope")).toBeNull();
    await store.apiTokens.touch("t1", 1_000_000);
    await store.apiTokens.touch("t1", 1_000_500);
    expect((await store.apiTokens.get("t1"))!.lastUsedAt).toBe(1_000_000);
    await store.apiTokens.touch("t1", 1_070_000);
    expect((await store.apiTokens.get("t1"))!.lastUsedAt).toBe(1_070_000);
    expect(await store.apiTokens.revoke("t1", 5)).toBe(true);
    expect(await store.apiTokens.revoke("t1", 6)).toBe(false);
    expect((await store.apiTokens.findByHash("h1"))!.revokedAt).toBe(5);
    expect((await store.apiTokens.list("p")).map((t) => t.id)).toEqual(["t1"]);
    await expect(store.apiTokens.insert({ id: "t2", project: "p", name: "dup", hash: "h1", hint: "x", scopes: [], expiresAt: null })).rejects.toThrow(/unique/i);
    await store.close();
  });

  test("sealed values: round trip, ciphertext at rest, bound to their row", async () => {
    const store = await freshStore(backend, pg, { file: true });
    await store.sealedKv.put("oauth", "github", "gho_TOPSECRET");
    expect(await store.sealedKv.get("oauth", "github")).toBe("gho_TOPSECRET");
    expect(await store.sealedKv.get("oauth", "missing")).toBeNull();
    const raw = (await store.driver.get<{ value: string }>("SELECT value FROM sealed_kv"))!.value;
    expect(raw).toStartWith("hg1.");
    expect(raw).not.toContain("TOPSECRET");
    // moving the ciphertext to another key must not decrypt
    await store.driver.run("INSERT INTO sealed_kv (namespace, key, value, updated_at) VALUES ('oauth', 'stolen', ?, 0)", raw);
    await expect(store.sealedKv.get("oauth", "stolen")).rejects.toMatchObject({ code: "unseal_failed" });
    expect(await store.sealedKv.keys("oauth")).toEqual(["github", "stolen"]);
    expect(await store.sealedKv.delete("oauth", "stolen")).toBe(true);
    expect(await store.sealedKv.delete("oauth", "stolen")).toBe(false);
    const location = store.location;
    await store.close();
    if (backend === "sqlite") expect(await Bun.file(location).text()).not.toContain("TOPSECRET");
  });

  test("OAuth grants sealed per connection; a connect link and its state work once each", async () => {
    const store = await freshStore(backend, pg);
    const grant = { connection: "gh", accessToken: "gho_A", refreshToken: "ghr_R", tokenType: "bearer", scopes: ["repo"], expiresAt: 5, connectedAt: 1, refreshedAt: null, lastError: null };
    await store.oauth.saveGrant(grant);
    expect(await store.oauth.grant("gh")).toEqual({ ...grant, version: 0 });
    await store.oauth.saveGrant({ ...grant, accessToken: "gho_B", refreshToken: null });
    // a refresh saves only over the version it read: of two refreshes that read version 1, one wins
    const read = (await store.oauth.grant("gh"))!;
    expect(read.version).toBe(1);
    const results = await Promise.all([
      store.oauth.saveRefreshed({ ...read, accessToken: "gho_C", refreshedAt: 7 }),
      store.oauth.saveRefreshed({ ...read, accessToken: "gho_D", refreshedAt: 8 }),
    ]);
    expect(results.sort()).toEqual([false, true]);
    const after = (await store.oauth.grant("gh"))!;
    expect([after.version, ["gho_C", "gho_D"].includes(after.accessToken)]).toEqual([2, true]);
    expect(await store.oauth.saveRefreshed({ ...read, accessToken: "gho_stale" })).toBe(false);
    expect(await store.oauth.info("gh")).toMatchObject({ connection: "gh", hasRefreshToken: false, scopes: ["repo"] });
    await store.oauth.setError("gh", "invalid_grant");
    expect((await store.oauth.list()).map((g) => [g.connection, g.lastError])).toEqual([["gh", "invalid_grant"]]);
    const now = Date.now();
    await store.oauth.createState({ state: "s", link: "l", connection: "gh", codeVerifier: "v".repeat(43), redirectUri: "https://gw/cb", actor: "cli", createdAt: now, expiresAt: now + 60_000 });
    const takes = await Promise.all([store.oauth.takeLink("l", now), store.oauth.takeLink("l", now)]);
    expect(takes.filter((t) => t !== null)).toHaveLength(1);
    expect(takes.find((t) => t !== null)!.codeVerifier).toBe("v".repeat(43));
    expect(await store.oauth.takeState("s", now + 60_001)).toBeNull(); // expired
    expect((await store.oauth.takeState("s", now))!.connection).toBe("gh");
    expect(await store.oauth.takeState("s", now)).toBeNull();
    expect(await store.oauth.pruneStates(now + 2 * 86_400_000)).toBe(1);
    expect(await store.oauth.deleteGrant("gh")).toBe(true);
    expect(await store.oauth.grant("gh")).toBeNull();
    await store.close();
  });

  test("meta: a value per key, replaced", async () => {
    const store = await freshStore(backend, pg);
    expect(await store.meta.get("k")).toBeNull();
    await store.meta.set("k", "1");
    await store.meta.set("k", "2");
    expect(await store.meta.get("k")).toBe("2");
    await store.close();
  });

  test("request logs: cursor paging, one batch at once, retention by rows and age", async () => {
    const store = await freshStore(backend, pg);
    const row = (at: number, path: string) => ({ at, project: "p", endpoint: "e", tokenId: null, method: "GET", path, status: 200, ms: 1, bytes: 2, provider: null, error: null });
    const now = 10_000_000;
    for (let i = 0; i < 5; i++) await store.requestLogs.append(row(now - (10 - i) * 1000, `/r${i}`));
    await store.requestLogs.appendMany([5, 6, 7, 8, 9].map((i) => row(now - (10 - i) * 1000, `/r${i}`)));
    expect((await store.requestLogs.list({ limit: 3 })).map((l) => l.path)).toEqual(["/r7", "/r8", "/r9"]);
    expect((await store.requestLogs.list({ since: now - 2000 })).map((l) => l.path)).toEqual(["/r8", "/r9"]);
    expect((await store.requestLogs.list({ project: "other" })).length).toBe(0);
    // older than 5.5 s: r0..r4 go; then keep at most 3 rows: r5, r6 go
    expect(await store.requestLogs.prune(3, 5500, now)).toBe(7);
    expect((await store.requestLogs.list({})).map((l) => l.path)).toEqual(["/r7", "/r8", "/r9"]);
    await store.close();
  });
});
