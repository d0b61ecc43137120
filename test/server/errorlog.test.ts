/**
 * A failure of the gateway's own — an unexpected exception or any 5xx error — writes an error line with
 * the request id and the code, not only the access line; on the fast path, on the app's routes, and where
 * a handler renders the failure itself (a project MCP tool result). A client's 4xx does not.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startGateway } from "../helpers/gateway.ts";
import { upstream } from "../helpers/upstream.ts";
import { mintApiToken } from "../../src/crypto/apitoken.ts";
import { Pipeline } from "../../src/server/pipeline.ts";
import type { Running } from "../../src/root/serve.ts";

type Line = Record<string, unknown>;
const ACCESS_TOKEN = "gho_upstreamAccessTokenValue0123456789";

describe("error lines", () => {
  let gw: Running & { lines: string[] };
  const api = upstream(() => Response.json({ ok: true }));
  const token = mintApiToken();
  const parsed = () => gw.lines.map((l) => JSON.parse(l) as Line);
  const failures = (rid: string) => parsed().filter((l) => (l.msg === "request failed" || l.msg === "unhandled error") && l.request_id === rid);
  const access = (rid: string) => parsed().filter((l) => l.msg === "request" && l.request_id === rid);

  beforeAll(async () => {
    gw = await startGateway(
      `[github]
enabled = false
[[oauth_connections]]
name = "idp"
authorization_url = "https://idp.example/authorize"
token_url = "https://idp.example/token"
client_id = "hubgate"
client_secret = "env:IDP_SECRET"
[[oauth_connections]]
name = "moved"
authorization_url = "https://idp.example/authorize"
token_url = "https://idp.example/token"
client_id = "hubgate"
client_secret = "env:IDP_SECRET"
[[projects]]
id = "p"
[[projects.endpoints]]
slug = "open"
upstream_url = "${api.url}"
allow_private = true
auth_mode = "none"
[[projects.endpoints]]
slug = "api"
upstream_url = "${api.url}"
allow_private = true
auth_mode = "none"
oauth_connection = "idp"
[[projects.endpoints]]
slug = "sealed"
upstream_url = "${api.url}"
allow_private = true
auth_mode = "none"
oauth_connection = "moved"
[[projects.endpoints]]
slug = "tools"
upstream_url = "${api.url}"
allow_private = true
oauth_connection = "idp"
[[projects.endpoints.mcp_tools]]
name = "me"
method = "GET"
path = "/me"
[[projects.tokens]]
name = "agent"
token = "env:HG"
scopes = ["proxy"]
`,
      { IDP_SECRET: "idp-client-secret", HG: token },
    );
    // a grant sealed for another connection, then moved under "moved": it cannot be unsealed
    await gw.gw.store.oauth.saveGrant({ connection: "elsewhere", accessToken: ACCESS_TOKEN, refreshToken: null, tokenType: "bearer", scopes: [], expiresAt: null, connectedAt: Date.now(), refreshedAt: null, lastError: null });
    await gw.gw.store.driver.run("UPDATE oauth_grants SET connection = 'moved' WHERE connection = 'elsewhere'");
  });
  afterAll(async () => {
    await gw.shutdown();
    api.stop();
  });

  test("unseal_failed (fast path): an error line with the request id and the code, and the access line; never the value", async () => {
    const r = await fetch(`${gw.url.href}api/p/proxy/sealed/me`, { headers: { "x-request-id": "unseal-1" } });
    expect(r.status).toBe(500);
    expect(((await r.json()) as { error: string }).error).toBe("unseal_failed");
    await Bun.sleep(10);
    const [line, ...more] = failures("unseal-1");
    expect(more).toEqual([]);
    expect(line).toMatchObject({ level: "error", msg: "request failed", request_id: "unseal-1", method: "GET", path: "/api/p/proxy/sealed/me", code: "unseal_failed", status: 500 });
    expect(access("unseal-1")).toMatchObject([{ level: "info", status: 500 }]);
    const sealed = (await gw.gw.store.driver.get<{ access_token: string }>("SELECT access_token FROM oauth_grants"))!.access_token;
    for (const l of gw.lines) {
      expect(l).not.toContain(ACCESS_TOKEN.slice(4));
      expect(l).not.toContain(sealed.slice(-20));
    }
  });

  test("any 5xx GatewayError: an upstream OAuth connection that is not connected (502)", async () => {
    const r = await fetch(`${gw.url.href}api/p/proxy/api/me`, { headers: { "x-request-id": "oauth-1" } });
    expect(r.status).toBe(502);
    await Bun.sleep(10);
    expect(failures("oauth-1")).toMatchObject([{ level: "error", code: "oauth_connection_failed", status: 502 }]);
  });

  test("a client's 4xx writes only the access line", async () => {
    for (const [path, status] of [["api/p/proxy/nope/x", 404], ["healthz/nope", 404]] as const) {
      const r = await fetch(`${gw.url.href}${path}`, { headers: { "x-request-id": `client-${status}-${path.length}` } });
      expect(r.status).toBe(status);
    }
    await Bun.sleep(10);
    expect(parsed().filter((l) => l.level === "error" && String(l.request_id).startsWith("client-"))).toEqual([]);
    expect(parsed().filter((l) => l.msg === "request" && String(l.request_id).startsWith("client-"))).toHaveLength(2);
  });

  test("a failure rendered by its handler (a project MCP tool result) is still logged, under the MCP request's id", async () => {
    const client = new Client({ name: "t", version: "1" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url.href}mcp/project/p`), { requestInit: { headers: { authorization: `Bearer ${token}`, "x-request-id": "tool-1" } } }));
    const res = await client.callTool({ name: "me", arguments: {} });
    expect(res.isError).toBe(true);
    await client.close();
    await Bun.sleep(10);
    expect(failures("tool-1")).toMatchObject([{ code: "oauth_connection_failed", status: 502, path: "/mcp/project/p" }]);
  });

  test("an unexpected exception: internal_error, its name and redacted message, the request id; the client learns nothing more", async () => {
    const pipeline = new Pipeline({ config: () => gw.gw.config, metrics: gw.gw.metrics, log: gw.gw.log });
    const request = new Request(`${gw.url.href}repos/o/r`, { headers: { "x-request-id": "boom-1" } });
    const rid = pipeline.requestId(request);
    const res = pipeline.errorResponse(new TypeError(`cannot read it with ${ACCESS_TOKEN}`), rid, request);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: "internal_error", message: "Internal error" });
    expect(failures("boom-1")).toMatchObject([{ level: "error", msg: "unhandled error", code: "internal_error", status: 500, err: { name: "TypeError", message: "cannot read it with gho_…[redacted]" } }]);
  });
});
