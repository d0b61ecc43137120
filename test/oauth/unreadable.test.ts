/**
 * A grant that cannot be unsealed is never shown as connected: each unseal failure is logged at error
 * level (with the request id of the request that met it, never the value), `connections` says
 * `unreadable` and why, and `disconnect --force` deletes it without contacting the provider.
 */
import { afterAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { APP_KEY, runCli, writeConfig } from "../helpers/gateway.ts";
import { spawnServe } from "../helpers/child.ts";
import { upstream } from "../helpers/upstream.ts";
import { Gateway } from "../../src/root/gateway.ts";
import { Keyring } from "../../src/crypto/keyring.ts";
import { aadFor } from "../../src/store/migrations.ts";
import { memoryLogger } from "../../src/core/log.ts";

const api = upstream((req) => Response.json({ auth: req.headers.get("authorization") }));
afterAll(() => api.stop());

const SECRET_VALUE = "gho_sealed-access-token-value";
const ENV = { GH_SECRET: "client-secret", ADMIN_TOKEN: "a-long-admin-token-for-the-test" };

test("an unreadable grant: 500 logged at error with the request id, `unreadable` in connections, disconnect --force", async () => {
  const { path, dir } = writeConfig(`[admin]
token = "env:ADMIN_TOKEN"
[[oauth_connections]]
name = "github"
preset = "github"
client_id = "Ov23liABCDEF"
client_secret = "env:GH_SECRET"
[[projects]]
id = "p"
[[projects.endpoints]]
slug = "e"
upstream_url = "${api.url}"
oauth_connection = "github"
auth_mode = "none"
allow_private = true
`);
  const seed = await Gateway.start({ configPath: path, env: { HUBGATE_APP_KEY: APP_KEY, ...ENV }, log: memoryLogger().log });
  const grant = { connection: "github", accessToken: SECRET_VALUE, refreshToken: null, tokenType: "bearer", scopes: ["repo"], expiresAt: null, connectedAt: Date.now(), refreshedAt: null, lastError: null };
  await seed.store.oauth.saveGrant(grant);
  await seed.close();

  const child = await spawnServe(path, { env: ENV });
  try {
    const ok = await fetch(`${child.base}/api/p/proxy/e/x`);
    expect(await ok.json()).toEqual({ auth: `Bearer ${SECRET_VALUE}` });

    // the running server's grant is now sealed with a key it does not have (as a CLI with another key would write it)
    const stranger = await Keyring.create(crypto.getRandomValues(new Uint8Array(32)));
    const db = new Database(join(dir, "hubgate.db"));
    db.query("UPDATE oauth_grants SET access_token = ? WHERE connection = 'github'").run(await stranger.seal(SECRET_VALUE, aadFor("oauth_grants", "access_token", ["github"])));
    db.close();

    const r = await fetch(`${child.base}/api/p/proxy/e/x`, { headers: { "x-request-id": "req-unseal-1" } });
    expect(r.status).toBe(500);
    expect(((await r.json()) as { error: string }).error).toBe("unseal_failed");
    const failed = await child.waitFor((l) => l.msg === "request failed" && l.code === "unseal_failed");
    expect(failed).toMatchObject({ level: "error", request_id: "req-unseal-1", path: "/api/p/proxy/e/x" });
    expect(String(failed.message)).toContain(`sealed with key ${stranger.currentKid}`);
    const where = child.lines.find((l) => l.msg === "a stored secret cannot be unsealed")!;
    expect(where).toMatchObject({ level: "error", where: "oauth_grants.access_token", row: "github", kid: stranger.currentKid });

    const c = await runCli(["connections", "--config", path]);
    expect(c.code).toBe(0);
    expect(c.stdout).toMatch(new RegExp(`^github +github +unreadable .*sealed with key ${stranger.currentKid}`, "m"));
    const j = await runCli(["connections", "github", "--json", "--config", path]);
    expect(JSON.parse(j.stdout)).toMatchObject({ name: "github", status: "unreadable", reason: expect.stringContaining(stranger.currentKid) });
    const admin = await fetch(`${child.base}/admin/connections`, { headers: { authorization: `Bearer ${ENV.ADMIN_TOKEN}` } });
    expect(((await admin.json()) as { connections: { name: string; status: string }[] }).connections).toMatchObject([{ name: "github", status: "unreadable" }]);

    const refused = await runCli(["disconnect", "github", "--config", path], { env: { GH_SECRET: ENV.GH_SECRET } });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("cannot be unsealed");
    expect(refused.stderr).toContain("hubgate disconnect --force github");

    const forced = await runCli(["disconnect", "--force", "github", "--config", path]); // needs no client secret
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain("github: grant deleted, not revoked at the provider (--force; it could not be unsealed)");
    const after = await runCli(["connections", "github", "--json", "--config", path]);
    expect(JSON.parse(after.stdout)).toMatchObject({ name: "github", status: "not_connected" });
    const audit = await runCli(["audit", "--kind", "oauth_connection.disconnected", "--config", path]);
    expect(audit.stdout).toContain('"forced":true');
    expect(audit.stdout).toContain('"unreadable":true');
    expect((await fetch(`${child.base}/api/p/proxy/e/x`)).status).toBe(502); // not connected any more

    expect(JSON.stringify(child.lines)).not.toContain(SECRET_VALUE);
  } finally {
    expect(await child.stop()).toBe(0);
  }
});
