/** `check` catches what `serve` would hit: upstreams the SSRF guard will refuse, said with their key paths. */
import { expect, test } from "bun:test";
import { chmodSync } from "node:fs";
import { MAIN, runCli, writeConfig } from "../helpers/gateway.ts";
import { upstreamFindings } from "../../src/cli/preflight.ts";
import { parseConfig } from "../../src/config/index.ts";
import { compileRouteTable } from "../../src/routes/compile.ts";

test("loopback and private upstreams without allow_private are errors with the key to set; allowed ones pass", async () => {
  const { path } = writeConfig(`[[projects]]
id = "p"
[[projects.endpoints]]
slug = "a"
upstream_url = "http://127.0.0.1:9/x"
[[projects.endpoints]]
slug = "b"
upstream_url = "http://localhost:9/x"
[[projects.endpoints]]
slug = "c"
upstream_url = "http://10.1.2.3/x"
allow_private = true
[[projects.endpoints]]
slug = "d"
upstream_url = "http://[::ffff:169.254.169.254]/latest"
[[oauth_connections]]
name = "idp"
authorization_url = "http://127.0.0.1:7/auth"
token_url = "http://127.0.0.1:7/token"
client_id = "x"
[[mcp.upstreams]]
name = "m"
url = "http://192.168.1.5/mcp"
[[mcp.users]]
username = "a"
password_hash = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$aGFzaA"
`);
  const r = await runCli(["check", "--config", path]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("error: projects[0].endpoints[0].upstream_url: 127.0.0.1 is a loopback address");
  expect(r.stderr).toContain("projects[0].endpoints[0].allow_private = true");
  expect(r.stderr).toContain("error: projects[0].endpoints[1].upstream_url: localhost is a loopback address");
  expect(r.stderr).not.toContain("projects[0].endpoints[2]");
  expect(r.stderr).toContain("error: projects[0].endpoints[3].upstream_url:");
  expect(r.stderr).toContain("link-local");
  expect(r.stderr).toContain("error: oauth_connections[0].token_url:");
  expect(r.stderr).toContain("oauth_connections[0].allow_private = true");
  expect(r.stderr).toContain("error: mcp.upstreams[0].url: 192.168.1.5 is a private address");
  expect(r.stdout).not.toContain(": OK");
});

test("a name that resolves to a private address here is a warning (the server's resolver may differ)", async () => {
  const config = parseConfig(`[github]\nenabled = false\n[[projects]]\nid = "p"\n[[projects.endpoints]]\nslug = "a"\nupstream_url = "https://internal.corp.example/x"\n[[projects.endpoints]]\nslug = "b"\nupstream_url = "https://public.example/x"\n`);
  const table = compileRouteTable({ config, secrets: new Map(), text: "", source: "test", version: 1, own: [] });
  const lookup = async (h: string) => (h === "internal.corp.example" ? ["10.0.0.8"] : ["93.184.216.34"]);
  const findings = await upstreamFindings(config, table.connections, lookup);
  expect(findings).toEqual([
    { level: "warning", path: "projects[0].endpoints[0].upstream_url", message: expect.stringContaining("resolves to a non-public address here") },
  ]);
});

test("a clean config is OK and says where env: references were resolved", async () => {
  const { path } = writeConfig(`[github]\nenabled = false\n[admin]\ntoken = "env:ADMIN_FOR_CHECK"\n`);
  const r = await runCli(["check", "--config", path], { env: { ADMIN_FOR_CHECK: "x".repeat(32) } });
  expect(r.code).toBe(0);
  expect(r.stdout).toContain(": OK");
  expect(r.stdout).toContain("resolved here, in this shell's environment; the server resolves them in its own");
});

test("the store: a missing directory is a warning (serve would make a new, empty store there); a path whose parent is a file is an error", async () => {
  const missing = writeConfig(`[github]\nenabled = false\n[storage]\npath = "no-such-dir/sub/hubgate.db"\n`);
  const w = await runCli(["check", "--config", missing.path]);
  expect(w.code).toBe(0);
  expect(w.stderr).toContain(`warning: storage.path: ${missing.dir}/no-such-dir/sub does not exist: serve will create it and a new, empty store`);
  const underFile = writeConfig(`[github]\nenabled = false\n[storage]\npath = "gateway.toml/hubgate.db"\n`);
  const e = await runCli(["check", "--config", underFile.path]);
  expect(e.code).toBe(1);
  expect(e.stderr).toContain(`error: storage.path: ${underFile.dir}/gateway.toml is not a directory`);
  const dirAsStore = writeConfig(`[github]\nenabled = false\n[storage]\npath = "."\n`);
  const d = await runCli(["check", "--config", dirAsStore.path]);
  expect(d.code).toBe(1);
  expect(d.stderr).toContain("exists and is not a file");
});

test("the store: a directory this user cannot write is an error (run as an unprivileged user)", async () => {
  // root writes everywhere: the check needs another user, which CI (root) has as `nobody`
  if (process.getuid?.() !== 0 || !Bun.which("runuser")) return void console.warn("skipped: needs root and runuser to act as another user");
  const { dir, path } = writeConfig(`[github]\nenabled = false\n[storage]\npath = "hubgate.db"\n`);
  chmodSync(dir, 0o755);
  chmodSync(path, 0o644);
  const proc = Bun.spawn(["runuser", "-u", "nobody", "--", process.execPath, MAIN, "check", "--config", path], { env: { PATH: process.env.PATH ?? "", HOME: "/tmp" }, stdout: "pipe", stderr: "pipe" });
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  expect(code).toBe(1);
  expect(stderr).toContain(`error: storage.path: ${dir} is not writable by this user`);
});
