/**
 * The CLI works on the server's store: relative paths in gateway.toml are taken from the file's
 * directory, only `serve` creates a store or an app key, and a management command resolves only the
 * secrets it uses.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli, tempDir, writeConfig } from "../helpers/gateway.ts";
import { spawnServe } from "../helpers/child.ts";
import { upstream } from "../helpers/upstream.ts";

describe("relative paths are taken from the config file's directory", () => {
  test("the CLI run from another directory with --config sees the server's tokens, creates nothing there, and its token works on the server", async () => {
    const api = upstream(() => Response.json({ ok: true }));
    const etc = tempDir("hubgate-etc-");
    const path = join(etc, "gateway.toml");
    // a relative store path, as in the example config
    writeFileSync(
      path,
      `[server]\nport = 0\n[storage]\npath = "./data/hubgate.db"\n[[projects]]\nid = "p"\n[[projects.endpoints]]\nslug = "e"\nupstream_url = "${api.url}"\nallow_private = true\n`,
    );
    const child = await spawnServe(path, { cwd: etc });
    try {
      expect(existsSync(join(etc, "data", "hubgate.db"))).toBe(true);
      const elsewhere = tempDir("hubgate-home-");
      const created = await runCli(["token", "create", "--project", "p", "--name", "from-home", "--config", path], { cwd: elsewhere });
      expect(created.code).toBe(0);
      const token = created.stdout.trim();
      const list = await runCli(["token", "list", "--config", path], { cwd: elsewhere });
      expect(list.code).toBe(0);
      expect(list.stdout).toContain("from-home");
      expect(readdirSync(elsewhere)).toEqual([]); // no ./data, no app key, no database
      const r = await fetch(`${child.base}/api/p/proxy/e/x`, { headers: { authorization: `Bearer ${token}` } });
      expect(r.status).toBe(200);
    } finally {
      expect(await child.stop()).toBe(0);
      api.stop();
    }
  });

  test("file: references and other paths: relative to the config file too (a server started from another directory finds them)", async () => {
    const etc = tempDir("hubgate-etc-");
    mkdirSync(join(etc, "secrets"));
    writeFileSync(join(etc, "secrets", "admin"), "a-long-admin-token-for-the-test\n");
    const path = join(etc, "gateway.toml");
    writeFileSync(path, `[server]\nport = 0\nunix_socket = "run/hubgate.sock"\n[storage]\npath = "state/h.db"\n[admin]\ntoken = "file:secrets/admin"\n`);
    mkdirSync(join(etc, "run"));
    const child = await spawnServe(path, { cwd: tempDir("hubgate-cwd-") });
    try {
      expect(existsSync(join(etc, "state", "h.db"))).toBe(true);
      expect(existsSync(join(etc, "run", "hubgate.sock"))).toBe(true);
      const r = await fetch("http://localhost/admin/audit", { unix: join(etc, "run", "hubgate.sock"), headers: { authorization: "Bearer a-long-admin-token-for-the-test" } } as RequestInit);
      expect(r.status).toBe(200);
    } finally {
      expect(await child.stop()).toBe(0);
    }
  });
});

describe("only serve creates a store or an app key", () => {
  test("every management command on a missing store fails saying where it looked, and creates nothing", async () => {
    const dir = tempDir();
    const path = join(dir, "gateway.toml");
    writeFileSync(path, `[storage]\npath = "data/hubgate.db"\n[[projects]]\nid = "p"\n[[oauth_connections]]\nname = "gh"\npreset = "github"\nclient_id = "x"\nclient_secret = "env:GH_SECRET"\n`);
    const commands = [["token", "list"], ["token", "create", "--project", "p", "--name", "n"], ["logs"], ["audit"], ["connections"], ["connect", "gh"], ["disconnect", "gh"], ["rekey"]];
    for (const args of commands) {
      const r = await runCli([...args, "--config", path], { cwd: dir, env: { GH_SECRET: "s" } });
      expect({ args, code: r.code }).toEqual({ args, code: 1 });
      expect(r.stderr).toContain(`no store at ${join(dir, "data", "hubgate.db")}`);
      expect(r.stderr).toContain("[store_not_found]");
    }
    expect(readdirSync(dir)).toEqual(["gateway.toml"]);
  });

  test("a management command never generates an app key: with none configured and no app.key it refuses", async () => {
    const { path, dir } = writeConfig(`[[projects]]\nid = "p"\n`);
    const child = await spawnServe(path); // the server has its key from HUBGATE_APP_KEY
    try {
      const r = await runCli(["token", "list", "--config", path], { env: { HUBGATE_APP_KEY: "" } });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`${join(dir, "app.key")} does not exist`);
      expect(r.stderr).toContain("[app_key_not_found]");
      expect(existsSync(join(dir, "app.key"))).toBe(false);
    } finally {
      expect(await child.stop()).toBe(0);
    }
  });
});

describe("a management command resolves only the secrets it uses", () => {
  const SERVER_ENV = {
    GITHUB_OAUTH_CLIENT_SECRET: "oauth-client-secret",
    GH_PAT_BOT: "ghp_0123456789abcdefghij0123456789abcdef",
    ADMIN_TOKEN: "a-long-admin-token-for-the-test",
    UPSTREAM_KEY: "static-header-value",
  };
  const config = () =>
    writeConfig(`[admin]
token = "env:ADMIN_TOKEN"
[github]
enabled = false
[[github.identities]]
id = "bot"
token = "env:GH_PAT_BOT"
[[oauth_connections]]
name = "github"
preset = "github"
client_id = "Ov23liABCDEF"
client_secret = "env:GITHUB_OAUTH_CLIENT_SECRET"
[[projects]]
id = "p"
[[projects.endpoints]]
slug = "e"
upstream_url = "https://api.example.com"
headers = { "X-Key" = "env:UPSTREAM_KEY" }
`);

  test("token, logs, audit, connections and connect work in a shell without the server's upstream secrets; disconnect needs only its connection's", async () => {
    const { path } = config();
    const child = await spawnServe(path, { env: SERVER_ENV });
    try {
      for (const args of [["token", "create", "--project", "p", "--name", "ops"], ["token", "list"], ["logs"], ["audit"], ["connections"], ["connect", "github"]]) {
        const r = await runCli([...args, "--config", path]); // no GITHUB_OAUTH_CLIENT_SECRET, GH_PAT_BOT, ADMIN_TOKEN, UPSTREAM_KEY
        expect({ args, code: r.code, stderr: r.code === 0 ? "" : r.stderr }).toEqual({ args, code: 0, stderr: "" });
      }
      const d = await runCli(["disconnect", "github", "--config", path]);
      expect(d.code).toBe(1);
      expect(d.stderr).toContain("oauth_connections[0].client_secret");
      expect(d.stderr).toContain("GITHUB_OAUTH_CLIENT_SECRET");
      expect(d.stderr).not.toContain("GH_PAT_BOT");
      expect(d.stderr).not.toContain("ADMIN_TOKEN");
      const ok = await runCli(["disconnect", "github", "--config", path], { env: { GITHUB_OAUTH_CLIENT_SECRET: "oauth-client-secret" } });
      expect(ok.code).toBe(0);
      expect(ok.stdout).toContain("github: was not connected");
    } finally {
      expect(await child.stop()).toBe(0);
    }
  });
});
