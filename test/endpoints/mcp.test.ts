/** A project's endpoints as MCP tools at /mcp/project/<project>, called with the official SDK client. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startGateway } from "../helpers/gateway.ts";
import { upstream } from "../helpers/upstream.ts";
import { mintApiToken } from "../../src/crypto/apitoken.ts";
import type { Running } from "../../src/root/serve.ts";

const token = mintApiToken();
const seen: { method: string; path: string; body: string; auth: string | null; inject: string | null }[] = [];
const api = upstream(async (req) => {
  const u = new URL(req.url);
  seen.push({ method: req.method, path: u.pathname + u.search, body: await req.text(), auth: req.headers.get("authorization"), inject: req.headers.get("x-api-key-upstream") });
  if (u.pathname.endsWith("/missing")) return Response.json({ message: "Not Found" }, { status: 404 });
  return Response.json({ ok: true, path: u.pathname });
});
let gw: Running;

beforeAll(async () => {
  gw = await startGateway(
    `[[projects]]
id = "acme"
[[projects.endpoints]]
slug = "api"
upstream_url = "${api.url}/v1"
allow_private = true
rate_limit_per_minute = 100
headers = { "X-Api-Key-Upstream" = "env:UPSTREAM_KEY" }
[[projects.endpoints.mcp_tools]]
name = "get_repo"
description = "Read a repository"
method = "GET"
path = "/repos/{owner}/{repo}"
input_schema = '{"type":"object","properties":{"owner":{"type":"string"},"repo":{"type":"string"},"fields":{"type":"string"}},"required":["owner","repo"]}'
[[projects.endpoints.mcp_tools]]
name = "create_issue"
method = "POST"
path = "/repos/{owner}/{repo}/issues"
[[projects.endpoints.mcp_tools]]
name = "missing"
method = "GET"
path = "/missing"
[[projects.tokens]]
name = "agent"
token = "env:HG"
scopes = ["proxy"]
`,
    { HG: token, UPSTREAM_KEY: "k-123" },
  );
});
afterAll(async () => {
  await gw.shutdown();
  api.stop();
});

test("tools list, calls go through the proxy path (token checked, headers injected, logged), errors are tool errors", async () => {
  const client = new Client({ name: "t", version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url.href}mcp/project/acme`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  const tools = await client.listTools();
  expect(tools.tools.map((t) => t.name).sort()).toEqual(["create_issue", "get_repo", "missing"]);
  expect(tools.tools.find((t) => t.name === "get_repo")!.inputSchema.required).toEqual(["owner", "repo"]);

  const r = await client.callTool({ name: "get_repo", arguments: { owner: "o w", repo: "r", fields: "name" } });
  expect(r.isError).toBe(false);
  expect(seen.at(-1)).toMatchObject({ method: "GET", path: "/v1/repos/o%20w/r?fields=name", auth: null, inject: "k-123" });
  await client.callTool({ name: "create_issue", arguments: { owner: "o", repo: "r", title: "hello" } });
  expect(seen.at(-1)).toMatchObject({ method: "POST", path: "/v1/repos/o/r/issues", body: '{"title":"hello"}' });
  const missing = await client.callTool({ name: "missing", arguments: {} });
  expect(missing.isError).toBe(true);
  await Bun.sleep(20);
  expect((await gw.gw.requestLog.list({ project: "acme" })).some((l) => l.path === "/repos/o%20w/r")).toBe(true);
  await client.close();
});

test("without a valid project token the MCP server answers 401", async () => {
  const r = await fetch(`${gw.url.href}mcp/project/acme`, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" }, body: "{}" });
  expect(r.status).toBe(401);
});
