/**
 * A real, large upstream document: GitHub's REST description as @octokit/openapi ships it (13 MB,
 * 1,223 operations, OpenAPI 3.0), named by an endpoint, filtered by `operations`, re-based under the
 * endpoint, validated; its operations as MCP tools, listed by the SDK client (which compiles each
 * output schema with ajv) and called through the gateway, the structured result checked by the client
 * against GitHub's own schema, with GitHub's own example answer.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ROOT, startGateway } from "../helpers/gateway.ts";
import { upstream } from "../helpers/upstream.ts";
import { expectValid, op, operationsOf, type Doc } from "../helpers/openapi.ts";
import { mintApiToken } from "../../src/crypto/apitoken.ts";
import type { Running } from "../../src/root/serve.ts";

const GITHUB_JSON = join(ROOT, "node_modules/@octokit/openapi/generated/api.github.com.json");
const github = JSON.parse(await Bun.file(GITHUB_JSON).text()) as { components: { examples: Record<string, { value: unknown }> } };
const example = (name: string) => github.components.examples[name]!.value;

const token = mintApiToken();
const seen: string[] = [];
const fake = upstream(async (req) => {
  const u = new URL(req.url);
  seen.push(`${req.method} ${u.pathname}${u.search}`);
  if (u.pathname === "/repos/octocat/Hello-World") return Response.json(example("full-repository-default-response"));
  if (u.pathname === "/repos/octocat/Hello-World/issues" && req.method === "POST") return Response.json(example("issue"), { status: 201 });
  if (u.pathname === "/repos/octocat/Hello-World/issues") return Response.json(example("issue-items"));
  return Response.json({ message: "Not Found" }, { status: 404 });
});
let gw: Running & { lines: string[] };

beforeAll(async () => {
  gw = await startGateway(
    `[github]
enabled = false
[[projects]]
id = "acme"
[[projects.endpoints]]
slug = "github"
description = "GitHub's REST API, the operations this team uses"
upstream_url = "${fake.url}"
allow_private = true
allowed_methods = ["GET", "POST"]
openapi = "file:${GITHUB_JSON}"
operations = ["repos/get", "issues/list-for-repo", "issues/create", "GET /repos/*/*/pulls", "DELETE /repos/*/*"]
mcp_tools_from_openapi = true
[[projects.tokens]]
name = "agent"
token = "env:HG"
`,
    { HG: token },
  );
});
afterAll(async () => {
  await gw.shutdown();
  fake.stop();
});

test("re-based under the endpoint, filtered by the operations list and the allowed methods, valid", async () => {
  const doc = (await (await fetch(`${gw.url.href}docs/acme/json`)).json()) as Doc;
  await expectValid(doc);
  expect(operationsOf(doc, "/api/acme/proxy/github/")).toEqual([
    "GET /api/acme/proxy/github/repos/{owner}/{repo}",
    "GET /api/acme/proxy/github/repos/{owner}/{repo}/issues",
    "GET /api/acme/proxy/github/repos/{owner}/{repo}/pulls",
    "POST /api/acme/proxy/github/repos/{owner}/{repo}/issues",
  ]);
  expect(op(doc, "GET", "/api/acme/proxy/github/repos/{owner}/{repo}").operationId).toBe("repos/get");
  // only what the four operations reach, of GitHub's 625 schemas
  const schemas = Object.keys(doc.components.schemas!);
  expect(schemas.length).toBeLessThan(60);
  expect(schemas).toContain("github.full-repository");
  // DELETE is not an allowed method: that entry matched nothing, and the log says so
  expect(gw.lines.join("\n")).toContain('operations[4] \\"DELETE /repos/*/*\\" matches no operation');
});

test("the same operations are tools; GitHub's output schemas compile in the SDK client, and its example answers satisfy them", async () => {
  const client = new Client({ name: "t", version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url.href}mcp/project/acme`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  const { tools } = await client.listTools();
  expect(tools.map((t) => t.name).sort()).toEqual(["issues_create", "issues_list-for-repo", "pulls_list", "repos_get"]);
  const get = tools.find((t) => t.name === "repos_get")!;
  expect(get.description).toBe("Get a repository");
  expect(get.inputSchema.required).toEqual(["owner", "repo"]);
  expect(get.outputSchema).toBeDefined();

  const repo = await client.callTool({ name: "repos_get", arguments: { owner: "octocat", repo: "Hello-World" } });
  expect(repo.isError).toBe(false);
  expect((repo.structuredContent as { full_name: string }).full_name).toBe("octocat/Hello-World");
  const issue = await client.callTool({ name: "issues_create", arguments: { owner: "octocat", repo: "Hello-World", body: { title: "Found a bug", labels: ["bug"] } } });
  expect(issue.isError).toBe(false);
  const list = await client.callTool({ name: "issues_list-for-repo", arguments: { owner: "octocat", repo: "Hello-World", state: "open", per_page: 5 } });
  expect(list.isError).toBe(false);
  expect(seen).toEqual(["GET /repos/octocat/Hello-World", "POST /repos/octocat/Hello-World/issues", "GET /repos/octocat/Hello-World/issues?state=open&per_page=5"]);
  await client.close();
});
