import { tcpPort } from "../../src/server/model.ts";
import { describe, expect, test } from "bun:test";
import type { TSchema } from "@sinclair/typebox";
import { parseConfig, ConfigError, EMBEDDED_EXAMPLE, type ConfigIssue } from "../../src/config/index.ts";
import { ConfigSchema } from "../../src/config/schema.ts";
import { durationMs } from "../../src/config/types.ts";
import { tomlPath } from "../../src/config/validate.ts";

function issuesOf(toml: string): ConfigIssue[] {
  try {
    parseConfig(toml);
  } catch (e) {
    if (e instanceof ConfigError) return e.issues;
    throw e;
  }
  throw new Error("expected the config to be rejected");
}

describe("config loading", () => {
  test("the embedded example is valid and needs no secrets", () => {
    const c = parseConfig(EMBEDDED_EXAMPLE);
    expect(c.server.port).toBe(8080);
    expect(c.storage.path).toBe("./data/hubgate.db");
    expect(c.projects).toEqual([]);
    expect(c.admin.token).toBeUndefined();
  });

  test("an empty file gets every default", () => {
    const c = parseConfig("");
    expect(c.server).toMatchObject({ host: "127.0.0.1", max_body_bytes: 10485760, shutdown_grace: "30s" });
    // the port's default is applied where the listener is chosen: a unix socket alone opens no TCP port
    expect(tcpPort(c.server)).toBe(8080);
    expect(tcpPort(parseConfig(`[server]\nunix_socket = "/tmp/x.sock"\n`).server)).toBeNull();
    expect(tcpPort(parseConfig(`[server]\nunix_socket = "/tmp/x.sock"\nport = 9000\n`).server)).toBe(9000);
    expect(c.github.api_url).toBe("https://api.github.com");
    expect(c.logging.level).toBe("info");
  });

  test("unknown keys are errors, with their path and a suggestion", () => {
    const issues = issuesOf(`[server]\nprot = 8081\n[strage]\npath = "x"\n`);
    expect(issues).toContainEqual({ path: "server.prot", message: 'unknown key "prot" (did you mean "port"?)' });
    expect(issues.find((i) => i.path === "strage")?.message).toContain('did you mean "storage"');
  });

  test("type errors name the full key path inside arrays of tables", () => {
    const issues = issuesOf(`
[[projects]]
id = "acme"
[[projects.endpoints]]
slug = "ok"
upstream_url = "https://example.com"
[[projects.endpoints]]
slug = "Bad Slug"
upstream_url = "https://example.com"
timeout = "soon"
auth_mode = "maybe"
`);
    const byPath = Object.fromEntries(issues.map((i) => [i.path, i.message]));
    expect(byPath["projects[0].endpoints[1].slug"]).toContain("expected");
    expect(byPath["projects[0].endpoints[1].timeout"]).toContain("a duration");
    expect(byPath["projects[0].endpoints[1].auth_mode"]).toBe('expected one of "token", "none", got "maybe"');
  });

  test("missing required keys are reported", () => {
    const issues = issuesOf(`[[projects]]\nname = "no id"\n`);
    expect(issues).toContainEqual({ path: "projects[0].id", message: "missing required key" });
  });

  test("semantic checks: duplicates, dangling references, bad URLs, no MCP credentials", () => {
    const issues = issuesOf(`
[[oauth_connections]]
name = "gh"
[[projects]]
id = "a"
[[projects.endpoints]]
slug = "x"
upstream_url = "ftp://example.com"
oauth_connection = "nope"
[[projects.endpoints]]
slug = "x"
upstream_url = "https://user:pw@example.com"
[[mcp.upstreams]]
name = "github"
url = "https://api.githubcopilot.com/mcp/"
`);
    const paths = issues.map((i) => i.path);
    expect(paths).toContain("projects[0].endpoints[0].upstream_url");
    expect(paths).toContain("projects[0].endpoints[0].oauth_connection");
    expect(paths).toContain("projects[0].endpoints[1].slug");
    expect(issues.find((i) => i.path === "projects[0].endpoints[1].upstream_url")?.message).toContain("credentials in URLs");
    expect(issues.find((i) => i.path === "mcp")?.message).toContain("no default credentials");
  });

  test("TOML syntax errors give line and column but never echo the line", () => {
    const issues = issuesOf(`[admin]\ntoken = "ghp_supersecretvalue1234567890\n`);
    expect(issues).toHaveLength(1);
    expect(issues[0]!.message).toMatch(/^TOML syntax error at line 2, column \d+/);
    expect(JSON.stringify(issues)).not.toContain("supersecret");
  });

  test("secret-typed keys never echo their value in type errors", () => {
    const issues = issuesOf(`[admin]\ntoken = ""\n`);
    expect(issues[0]!.path).toBe("admin.token");
    expect(issues[0]!.message).toContain("got a string");
  });

  test("tls_cert and tls_key go together; idle_timeout bounded", () => {
    const issues = issuesOf(`[server]\ntls_cert = "/x.pem"\nidle_timeout = "10m"\n`);
    expect(issues.map((i) => i.path).sort()).toEqual(["server.idle_timeout", "server.tls_key"]);
  });

  test("durations", () => {
    expect(durationMs(30)).toBe(30_000);
    expect(durationMs("500ms")).toBe(500);
    expect(durationMs("5m")).toBe(300_000);
    expect(durationMs("1.5h")).toBe(5_400_000);
    expect(durationMs("30d")).toBe(2_592_000_000);
    expect(() => durationMs("3 weeks")).toThrow();
  });

  test("tomlPath renders pointers as TOML key paths", () => {
    expect(tomlPath("/projects/0/endpoints/1/headers/X.Key")).toBe('projects[0].endpoints[1].headers."X.Key"');
    expect(tomlPath("")).toBe("");
  });
});

describe("gateway.example.toml documents every key", () => {
  function keyNames(schema: TSchema, out = new Set<string>()): Set<string> {
    const s = schema as { properties?: Record<string, TSchema>; items?: TSchema; anyOf?: TSchema[] };
    for (const [k, v] of Object.entries(s.properties ?? {})) {
      out.add(k);
      keyNames(v, out);
    }
    if (s.items) keyNames(s.items, out);
    return out;
  }
  test("each key of the model appears in the example (set or commented) with a comment nearby", () => {
    const missing = [...keyNames(ConfigSchema)].filter(
      (k) => !new RegExp(`^\\s*#?\\s*(${k}\\s*=|\\[\\[?[a-z_.]*\\b${k}\\]\\]?)`, "m").test(EMBEDDED_EXAMPLE),
    );
    expect(missing).toEqual([]);
  });
});
