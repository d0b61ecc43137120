import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../../src/store/index.ts";
import { openDatabase } from "../../src/store/sqlite.ts";
import { MIGRATIONS } from "../../src/store/migrations.ts";
import { Keyring } from "../../src/crypto/keyring.ts";
import { memoryLogger } from "../../src/core/log.ts";

const keyring = () => Keyring.create(crypto.getRandomValues(new Uint8Array(32)));
const tmpDb = () => join(mkdtempSync(join(tmpdir(), "hg-store-")), "data", "hubgate.db");

describe("store", () => {
  test("pragmas: busy_timeout, WAL, synchronous=NORMAL; migrations applied and recorded", async () => {
    const path = tmpDb();
    const store = openStore({ path, log: memoryLogger().log, keyring: await keyring() });
    const pragma = (name: string) => Object.values(store.db.query(`PRAGMA ${name}`).get() as Record<string, unknown>)[0];
    expect(pragma("busy_timeout")).toBe(5000);
    expect(pragma("journal_mode")).toBe("wal");
    expect(pragma("synchronous")).toBe(1); // NORMAL
    expect(store.schemaVersion()).toBe(MIGRATIONS.at(-1)!.version);
    expect(store.ping()).toBe(true);
    store.close();
    expect(store.ping()).toBe(false);
  });

  test("reopening applies nothing twice; a database from a newer release is refused", async () => {
    const path = tmpDb();
    const { log, lines } = memoryLogger();
    openStore({ path, log, keyring: await keyring() }).close();
    const migrated = lines.filter((l) => l.includes("store migrated")).length;
    openStore({ path, log, keyring: await keyring() }).close();
    expect(lines.filter((l) => l.includes("store migrated")).length).toBe(migrated);
    const db = new Database(path);
    db.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)");
    db.close();
    expect(() => openDatabase(path, log)).toThrow(/schema version 999/);
  });

  test("audit: append and list (newest page, cursor, kind filter)", async () => {
    const store = openStore({ path: ":memory:", log: memoryLogger().log, keyring: await keyring() });
    for (let i = 0; i < 5; i++) store.audit.append({ kind: i % 2 ? "token.revoked" : "token.created", actor: "t", subject: `s${i}`, detail: { i } });
    const last2 = store.audit.list({ limit: 2 });
    expect(last2.map((e) => e.subject)).toEqual(["s3", "s4"]);
    expect(store.audit.list({ afterId: last2[0]!.id }).map((e) => e.subject)).toEqual(["s4"]);
    expect(store.audit.list({ kind: "token.revoked" }).map((e) => e.detail)).toEqual([{ i: 1 }, { i: 3 }]);
  });

  test("audit: since keeps the events at or after a time", async () => {
    const store = openStore({ path: ":memory:", log: memoryLogger().log, keyring: await keyring() });
    for (const subject of ["old", "new"]) store.audit.append({ kind: "token.created", subject });
    store.db.query("UPDATE audit_events SET at = ? WHERE subject = 'old'").run(Date.now() - 3_600_000);
    expect(store.audit.list({ since: Date.now() - 60_000 }).map((e) => e.subject)).toEqual(["new"]);
    expect(store.audit.list({ since: Date.now() - 7_200_000 }).map((e) => e.subject)).toEqual(["old", "new"]);
  });

  test("API tokens: stored by hash, found by hash, revoked, touched at most once a minute", async () => {
    const store = openStore({ path: ":memory:", log: memoryLogger().log, keyring: await keyring() });
    store.apiTokens.insert({ id: "t1", project: "p", name: "ci", hash: "h1", hint: "hg_abcd…xyz", scopes: ["proxy"], expiresAt: null });
    expect(store.apiTokens.findByHash("h1")).toMatchObject({ id: "t1", project: "p", scopes: ["proxy"], revokedAt: null });
    expect(store.apiTokens.findByHash("nope")).toBeNull();
    store.apiTokens.touch("t1", 1_000_000);
    store.apiTokens.touch("t1", 1_000_500);
    expect(store.apiTokens.get("t1")!.lastUsedAt).toBe(1_000_000);
    store.apiTokens.touch("t1", 1_070_000);
    expect(store.apiTokens.get("t1")!.lastUsedAt).toBe(1_070_000);
    expect(store.apiTokens.revoke("t1", 5)).toBe(true);
    expect(store.apiTokens.revoke("t1", 6)).toBe(false);
    expect(store.apiTokens.findByHash("h1")!.revokedAt).toBe(5);
    expect(() =>
      store.apiTokens.insert({ id: "t2", project: "p", name: "dup", hash: "h1", hint: "x", scopes: [], expiresAt: null }),
    ).toThrow(/UNIQUE/);
  });

  test("sealed values: round trip, ciphertext at rest, bound to their row", async () => {
    const path = tmpDb();
    const store = openStore({ path, log: memoryLogger().log, keyring: await keyring() });
    await store.sealedKv.put("oauth", "github", "gho_TOPSECRET");
    expect(await store.sealedKv.get("oauth", "github")).toBe("gho_TOPSECRET");
    expect(await store.sealedKv.get("oauth", "missing")).toBeNull();
    const raw = store.db.query<{ value: string }, []>("SELECT value FROM sealed_kv").get()!.value;
    expect(raw).toStartWith("hg1.");
    expect(raw).not.toContain("TOPSECRET");
    // moving the ciphertext to another key must not decrypt
    store.db.query("INSERT INTO sealed_kv (namespace, key, value, updated_at) VALUES ('oauth', 'stolen', ?, 0)").run(raw);
    await expect(store.sealedKv.get("oauth", "stolen")).rejects.toMatchObject({ code: "unseal_failed" });
    expect(store.sealedKv.keys("oauth")).toEqual(["github", "stolen"]);
    store.close();
    const file = Bun.file(path);
    expect(await file.text()).not.toContain("TOPSECRET");
  });

  test("request logs: cursor paging and retention by rows and age", async () => {
    const store = openStore({ path: ":memory:", log: memoryLogger().log, keyring: await keyring() });
    const row = (at: number, path: string) => ({ at, project: "p", endpoint: "e", tokenId: null, method: "GET", path, status: 200, ms: 1, bytes: 2, provider: null, error: null });
    const now = 10_000_000;
    for (let i = 0; i < 10; i++) store.requestLogs.append(row(now - (10 - i) * 1000, `/r${i}`));
    expect(store.requestLogs.list({ limit: 3 }).map((l) => l.path)).toEqual(["/r7", "/r8", "/r9"]);
    expect(store.requestLogs.list({ since: now - 2000 }).map((l) => l.path)).toEqual(["/r8", "/r9"]);
    // older than 5.5 s: r0..r4 go; then keep at most 3 rows: r5, r6 go
    expect(store.requestLogs.prune(3, 5500, now)).toBe(7);
    expect(store.requestLogs.list({}).map((l) => l.path)).toEqual(["/r7", "/r8", "/r9"]);
  });
});
