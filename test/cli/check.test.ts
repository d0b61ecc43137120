/** `check` catches what `serve` would hit: upstreams the SSRF guard will refuse, said with their key paths. */
import { expect, test } from "bun:test";
import { runCli, writeConfig } from "../helpers/gateway.ts";
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
