/**
 * No silent new app key: `serve` refuses to start while the store holds secrets sealed with key ids
 * that are not configured, names them and where to put them, never generates a key for a store with
 * sealed data, and drops those secrets (audited) only when told to.
 */
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { APP_KEY, MAIN, runCli, writeConfig } from "../helpers/gateway.ts";
import { serveRefusal, spawnServe } from "../helpers/child.ts";
import { Gateway } from "../../src/root/gateway.ts";
import { Keyring } from "../../src/crypto/keyring.ts";
import { memoryLogger } from "../../src/core/log.ts";

const OTHER_KEY = Buffer.alloc(32, 9).toString("base64");
const CONNECTION = `[[oauth_connections]]
name = "github"
preset = "github"
client_id = "Ov23liABCDEF"
client_secret = "env:GH_SECRET"
`;
const ENV = { GH_SECRET: "client-secret" };

/** A store whose "github" grant is sealed with `key` ("" = the generated data/app.key). */
async function seeded(key: string, body = CONNECTION, env: Record<string, string> = {}) {
  const { path, dir } = writeConfig(body);
  const gw = await Gateway.start({ configPath: path, env: { HUBGATE_APP_KEY: key, ...ENV, ...env }, log: memoryLogger().log });
  await gw.store.oauth.saveGrant({
    connection: "github",
    accessToken: "gho_sealed-access-token-value",
    refreshToken: "ghr_sealed-refresh-token-value",
    tokenType: "bearer",
    scopes: ["repo"],
    expiresAt: null,
    connectedAt: Date.now(),
    refreshedAt: null,
    lastError: null,
  });
  const kid = gw.keyring.currentKid;
  await gw.close();
  return { path, dir, kid, db: join(dir, "hubgate.db") };
}

const grants = (db: string) => {
  const d = new Database(db, { readonly: true });
  try {
    return d.query<{ connection: string }, []>("SELECT connection FROM oauth_grants").all().map((r) => r.connection);
  } finally {
    d.close();
  }
};

describe("serve and the app key", () => {
  test("another app key: refuses to start, naming the key id(s) the store needs and storage.previous_app_keys; nothing is changed", async () => {
    const s = await seeded(APP_KEY);
    const otherKid = await Keyring.idOf(Buffer.from(OTHER_KEY, "base64"));
    const r = await serveRefusal(s.path, { env: { HUBGATE_APP_KEY: OTHER_KEY, ...ENV } });
    expect(r.listened).toBe(false);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${s.kid} (2 value(s) in oauth_grants.access_token, oauth_grants.refresh_token)`);
    expect(r.stderr).toContain(`this server's key is ${otherKid} ($HUBGATE_APP_KEY)`);
    expect(r.stderr).toContain("storage.previous_app_keys");
    expect(r.stderr).toContain("--drop-unreadable-secrets");
    expect(r.stderr).toContain("[app_key_mismatch]");
    expect(r.stderr + r.stdout).not.toContain("sealed-access-token-value");
    expect(grants(s.db)).toEqual(["github"]);
  });

  test("with the old key in storage.previous_app_keys it starts and the grant reads; after rekey the new key alone suffices", async () => {
    const s = await seeded(APP_KEY, `[storage]\npath = "hubgate.db"\nprevious_app_keys = ["env:OLD_APP_KEY"]\n${CONNECTION}`, { OLD_APP_KEY: APP_KEY });
    const env = { HUBGATE_APP_KEY: OTHER_KEY, OLD_APP_KEY: APP_KEY, ...ENV };
    const child = await spawnServe(s.path, { env });
    try {
      const c = await runCli(["connections", "github", "--json", "--config", s.path], { env });
      expect(c.code).toBe(0);
      expect(JSON.parse(c.stdout)).toMatchObject({ name: "github", status: "connected" });
      const rk = await runCli(["rekey", "--config", s.path], { env });
      expect(rk.code).toBe(0);
      expect(rk.stdout).toContain("2 of 2 sealed value(s) re-sealed");
    } finally {
      expect(await child.stop()).toBe(0);
    }
    const again = await spawnServe(s.path, { env: { HUBGATE_APP_KEY: OTHER_KEY, OLD_APP_KEY: OTHER_KEY, ...ENV } });
    expect(await again.stop()).toBe(0);
  });

  test("app.key deleted: refuses to start and generates no new key", async () => {
    const s = await seeded("");
    const keyFile = join(s.dir, "app.key");
    expect(existsSync(keyFile)).toBe(true);
    rmSync(keyFile);
    const r = await serveRefusal(s.path, { env: { HUBGATE_APP_KEY: "", ...ENV } });
    expect(r.listened).toBe(false);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${keyFile} does not exist — was it deleted?`);
    expect(r.stderr).toContain(s.kid);
    expect(existsSync(keyFile)).toBe(false);
    expect(grants(s.db)).toEqual(["github"]);
  });

  test("--drop-unreadable-secrets: the unreadable grant is deleted and audited, the server starts, the connection shows not connected", async () => {
    const s = await seeded(APP_KEY);
    const env = { HUBGATE_APP_KEY: OTHER_KEY, ...ENV };
    const child = await spawnServe(s.path, { env, cmd: [process.execPath, MAIN, "serve", "--config", s.path, "--drop-unreadable-secrets"] });
    try {
      const warn = child.lines.find((l) => l.msg === "dropped the secrets sealed with app keys that are not configured (--drop-unreadable-secrets)")!;
      expect(warn).toMatchObject({ level: "warn", kids: [s.kid], rows: { oauth_grants: 1 }, grants: ["github"] });
      expect(grants(s.db)).toEqual([]);
      const audit = await runCli(["audit", "--kind", "store.secrets_dropped", "--config", s.path], { env });
      expect(audit.code).toBe(0);
      expect(audit.stdout).toContain("store.secrets_dropped");
      expect(audit.stdout).toContain(`"kids":["${s.kid}"]`);
      const c = await runCli(["connections", "github", "--json", "--config", s.path], { env });
      expect(JSON.parse(c.stdout)).toMatchObject({ name: "github", status: "not_connected" });
    } finally {
      expect(await child.stop()).toBe(0);
    }
  });

  test("app.key deleted and --drop-unreadable-secrets: the secrets go, and only then is a new key generated", async () => {
    const s = await seeded("");
    rmSync(join(s.dir, "app.key"));
    const child = await spawnServe(s.path, { env: { HUBGATE_APP_KEY: "", ...ENV }, cmd: [process.execPath, MAIN, "serve", "--config", s.path, "--drop-unreadable-secrets"] });
    try {
      expect(grants(s.db)).toEqual([]);
      expect(existsSync(join(s.dir, "app.key"))).toBe(true);
    } finally {
      expect(await child.stop()).toBe(0);
    }
  });
});

describe("management commands and the server's key", () => {
  test("connect and rekey refuse to seal with a key that is not the server's; nothing is written", async () => {
    const s = await seeded(APP_KEY);
    const child = await spawnServe(s.path, { env: ENV });
    try {
      const otherKid = await Keyring.idOf(Buffer.from(OTHER_KEY, "base64"));
      const env = { HUBGATE_APP_KEY: OTHER_KEY };
      for (const args of [["connect", "github"], ["rekey"]]) {
        const r = await runCli([...args, "--config", s.path], { env });
        expect({ args, code: r.code }).toEqual({ args, code: 1 });
        expect(r.stderr).toContain(`would seal with app key ${otherKid}, but the server last started with key ${s.kid}`);
        expect(r.stderr).toContain("[app_key_mismatch]");
      }
      const d = new Database(s.db, { readonly: true });
      expect(d.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM oauth_states").get()!.n).toBe(0);
      d.close();
      // with the server's key, connect works beside it
      const ok = await runCli(["connect", "github", "--config", s.path]);
      expect(ok.code).toBe(0);
    } finally {
      expect(await child.stop()).toBe(0);
    }
  });
});
