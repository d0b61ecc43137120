/** Property-based fuzzing (fast-check): the TOML loader and the OAuth/MCP endpoints never answer 500, crash or echo a secret. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import fc from "fast-check";
import { stringify } from "smol-toml";
import { parseConfig, ConfigError } from "../../src/config/index.ts";
import { inProcess } from "../helpers/gateway.ts";

test("config loader: arbitrary text and arbitrary TOML documents give a config or a ConfigError, nothing else", () => {
  const accept = (text: string) => {
    try {
      parseConfig(text);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      for (const i of e.issues) expect(typeof i.path).toBe("string");
    }
  };
  fc.assert(fc.property(fc.string({ maxLength: 400 }), accept), { numRuns: 400 });
  const value = fc.letrec((tie) => ({
    leaf: fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.double({ noNaN: true }), fc.boolean()),
    node: fc.oneof({ depthSize: "small" }, tie("leaf"), fc.array(tie("leaf"), { maxLength: 3 }), fc.dictionary(fc.constantFrom("server", "port", "host", "github", "mcp", "projects", "id", "slug", "token", "x"), tie("node"), { maxKeys: 4 })),
  }));
  const doc = fc.dictionary(fc.constantFrom("server", "storage", "logging", "admin", "secrets", "github", "projects", "oauth_connections", "mcp", "extra"), value.node, { maxKeys: 5 });
  fc.assert(
    fc.property(doc, (d) => {
      let text: string;
      try {
        text = stringify(d);
      } catch {
        return; // not representable as TOML
      }
      accept(text);
    }),
    { numRuns: 400 },
  );
});

describe_endpoints();

function describe_endpoints() {
  let ctx: Awaited<ReturnType<typeof inProcess>>;
  const ADMIN = "fuzz-admin-token-0123456789abcdef";
  beforeAll(async () => {
    const hash = await Bun.password.hash("pw-for-fuzzing", { algorithm: "argon2id" });
    ctx = await inProcess(
      `[admin]\ntoken = "env:ADMIN"\n[[mcp.upstreams]]\nname = "u"\nurl = "http://127.0.0.1:9/mcp"\nallow_private = true\n[[mcp.users]]\nusername = "a"\npassword_hash = "${hash}"\n`,
      { ADMIN },
    );
  });
  afterAll(() => ctx.gw.close());

  const str = fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom("", "code", "S256", "plain", "http://127.0.0.1/cb", "javascript:x", "%00", "../..", "\u0000", "a".repeat(3000)));
  const params = fc.dictionary(fc.constantFrom("response_type", "client_id", "redirect_uri", "code_challenge", "code_challenge_method", "state", "scope", "resource", "grant_type", "code", "code_verifier", "refresh_token", "token", "client_secret", "id", "csrf", "username", "password", "decision"), str, { maxKeys: 8 });

  test("OAuth endpoints: random query strings and forms never give a 5xx or echo the admin token", async () => {
    await fc.assert(
      fc.asyncProperty(params, fc.constantFrom("GET /authorize", "POST /token", "POST /revoke", "POST /authorize/login", "POST /authorize/consent", "GET /upstream/callback", "GET /oauth/callback", "POST /authorize/upstream-login"), async (p, route) => {
        const [method, path] = route.split(" ") as [string, string];
        const q = new URLSearchParams(p).toString();
        const res =
          method === "GET"
            ? await ctx.handle(`${path}?${q}`)
            : await ctx.handle(path, { method, headers: { "content-type": "application/x-www-form-urlencoded" }, body: q });
        expect(res.status).toBeLessThan(500);
        expect(await res.text()).not.toContain(ADMIN);
      }),
      { numRuns: 150 },
    );
  });

  test("registration and MCP: random JSON bodies and headers never give a 5xx", async () => {
    const json = fc.jsonValue({ maxDepth: 3 });
    await fc.assert(
      fc.asyncProperty(json, fc.record({ "mcp-method": fc.option(fc.string({ maxLength: 20 }), { nil: undefined }), authorization: fc.option(fc.constantFrom("Bearer x", "Bearer hgm_at_x", "Basic Og==", ""), { nil: undefined }) }), async (body, headers) => {
        const h: Record<string, string> = { "content-type": "application/json" };
        for (const [k, v] of Object.entries(headers)) if (v !== undefined) h[k] = v;
        for (const path of ["/register", "/mcp", "/mcp/u", "/admin/tokens"]) {
          const res = await ctx.handle(path, { method: "POST", headers: h, body: JSON.stringify(body) });
          expect(res.status, path).toBeLessThan(500);
        }
      }),
      { numRuns: 150 },
    );
    expect(ctx.lines.join("\n")).not.toContain(ADMIN);
    expect(ctx.lines.some((l) => l.includes("unhandled error"))).toBe(false);
  });
}
