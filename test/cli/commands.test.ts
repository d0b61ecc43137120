import { describe, expect, test } from "bun:test";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { runCli, tempDir, writeConfig, MAIN } from "../helpers/gateway.ts";
import { spawnServe } from "../helpers/child.ts";

describe("hubgate CLI", () => {
  test("version and help", async () => {
    const v = await runCli(["version"]);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^hubgate \S+ \(bun /);
    const h = await runCli(["--help"]);
    expect(h.code).toBe(0);
    for (const cmd of ["serve", "check", "rekey", "version"]) expect(h.stdout).toContain(cmd);
  });

  test("unknown commands and flags exit 2 with usage", async () => {
    const r = await runCli(["frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command "frobnicate"');
    expect((await runCli(["check", "--bogus"])).code).toBe(2);
  });

  test("check: the embedded example when no gateway.toml exists", async () => {
    const r = await runCli(["check"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("embedded example config: OK");
  });

  test("check: every error with its key path, exit 1", async () => {
    const { path } = writeConfig(`[server]\nprot = 1\n[[projects]]\nid = "a"\n[[projects.endpoints]]\nslug = "s"\nupstream_url = "https://x.example"\nauth_mode = "maybe"\n`);
    const r = await runCli(["check", "--config", path]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("server.prot: unknown key");
    expect(r.stderr).toContain("projects[0].endpoints[0].auth_mode: expected one of");
  });

  test("check: an unresolvable secret names the reference, never a value; literals are warned about", async () => {
    const { path } = writeConfig(`[admin]\ntoken = "env:HUBGATE_NOT_SET_ANYWHERE"\n`);
    const r = await runCli(["check", "--config", path]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("admin.token");
    expect(r.stderr).toContain("HUBGATE_NOT_SET_ANYWHERE");
    const lit = writeConfig(`[admin]\ntoken = "plain-literal-admin-secret"\n`);
    const w = await runCli(["check", "--config", lit.path]);
    expect(w.code).toBe(0);
    expect(w.stdout).toContain("warning: admin.token holds a literal secret");
    expect(w.stdout + w.stderr).not.toContain("plain-literal-admin-secret");
  });

  test("HUBGATE_CONFIG is honoured; an explicit missing file is an error", async () => {
    const { path } = writeConfig(`[server]\nport = 9\n`);
    const r = await runCli(["check"], { env: { HUBGATE_CONFIG: path } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(path);
    const missing = await runCli(["serve", "--config", "/nonexistent/gateway.toml"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no such file");
  });

  test("serve on the embedded defaults: port 8080, ./data/hubgate.db, a generated app key (0600)", async () => {
    const dir = tempDir();
    const child = await spawnServe("", { cwd: dir, cmd: [process.execPath, MAIN, "serve"], env: { HUBGATE_APP_KEY: "" } });
    try {
      expect(child.base).toBe("http://127.0.0.1:8080");
      expect((await fetch(`${child.base}/healthz`)).status).toBe(200);
      expect(child.lines.some((l) => l.msg === "no gateway.toml found; running on the embedded example config")).toBe(true);
      expect(existsSync(join(dir, "data", "hubgate.db"))).toBe(true);
      expect(statSync(join(dir, "data", "app.key")).mode & 0o777).toBe(0o600);
      expect(child.lines.some((l) => String(l.msg).includes("generated"))).toBe(true);
    } finally {
      expect(await child.stop()).toBe(0);
    }
  });
});
