/**
 * mcp_tools_from_openapi: each selected operation of the endpoint's upstream document is a tool of
 * /mcp/project/<project>, called with the official SDK client (which also compiles every output
 * schema with ajv and checks the structured results against them). Calls take the normal proxy path:
 * the client's hubgate token, the OAuth connection's token injected (a real authorization server,
 * oidc-provider), the rate limit, the request log.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { freePort, ROOT, startGateway } from "../helpers/gateway.ts";
import { upstream } from "../helpers/upstream.ts";
import { browse, startAs, type TestAs } from "../helpers/oidc.ts";
import { mintApiToken } from "../../src/crypto/apitoken.ts";
import type { Running } from "../../src/root/serve.ts";

const token = mintApiToken();
const seen: { method: string; path: string; body: string; sub: string | null; auth: string | null }[] = [];
let as: TestAs;
let gw: Running & { lines: string[] };
let api: ReturnType<typeof upstream>;

beforeAll(async () => {
  const [asPort, gwPort] = [await freePort(), await freePort()];
  const publicUrl = `http://localhost:${gwPort}`;
  as = await startAs(asPort, `${publicUrl}/oauth/callback`);
  // the pet store: answers only with a token the authorization server issued
  api = upstream(async (req) => {
    const u = new URL(req.url);
    const auth = req.headers.get("authorization");
    const bearer = /^Bearer (.+)$/.exec(auth ?? "")?.[1];
    const at = bearer ? await as.provider.AccessToken.find(bearer) : undefined;
    seen.push({ method: req.method, path: u.pathname + u.search, body: await req.text(), sub: at?.accountId ?? null, auth });
    if (!at) return Response.json({ message: "no" }, { status: 401 });
    if (u.pathname === "/v1/pets" && req.method === "GET") return Response.json([{ id: 1, name: "Tom", tag: null }]);
    if (u.pathname === "/v1/pets" && req.method === "POST") return Response.json({ id: 2, ...(JSON.parse(seen.at(-1)!.body) as object), tag: null }, { status: 201 });
    const m = /^\/v1\/pets\/(\d+)$/.exec(u.pathname);
    if (m) return Response.json({ id: Number(m[1]), name: "Rex", tag: "dog", owner: { login: "alice", pets: [] } });
    return Response.json({ message: "Not Found" }, { status: 404 });
  });
  gw = await startGateway(
    `[server]
port = ${gwPort}
public_url = "${publicUrl}"
${as.connection("idp")}
[[projects]]
id = "acme"
[[projects.endpoints]]
slug = "pets"
upstream_url = "${api.url}"
oauth_connection = "idp"
allow_private = true
allowed_methods = ["GET", "POST"]
rate_limit_per_minute = 4
openapi = "file:petstore.yaml"
operations = ["listPets", "showPetById", "createPet", "purgeAll"]
mcp_tools_from_openapi = true
[[projects.endpoints.mcp_tools]]
name = "listPets"
description = "declared by hand: keeps its name"
method = "GET"
path = "/v1/pets"
[[projects.tokens]]
name = "agent"
token = "env:HG"
`,
    { IDP_SECRET: "client-secret-for-tests", HG: token },
    { "petstore.yaml": readFileSync(join(ROOT, "test/fixtures/openapi/petstore.yaml"), "utf8") },
  );
  const { url } = await gw.gw.oauth.startConnect("idp", "test");
  const done = await browse(url, (u) => u.replace("//localhost:", "//127.0.0.1:"));
  expect(done.text).toContain("Connected");
});
afterAll(async () => {
  await gw?.shutdown();
  as?.stop();
  api?.stop();
});

const connect = async () => {
  const client = new Client({ name: "t", version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url.href}mcp/project/acme`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return client;
};

test("each selected operation is a tool: name from operationId, description from summary, input from parameters and body, output from the response", async () => {
  const client = await connect();
  const { tools } = await client.listTools();
  // the declared tool keeps its name; the generated one with the same name gives way
  expect(tools.map((t) => t.name).sort()).toEqual(["createPet", "listPets", "pets_listPets", "purgeAll", "showPetById"]);
  const byName = new Map(tools.map((t) => [t.name, t]));
  expect(byName.get("listPets")!.description).toBe("declared by hand: keeps its name");
  expect(byName.get("pets_listPets")!.description).toBe("List all pets");
  const show = byName.get("showPetById")!;
  expect(show.inputSchema).toEqual({ type: "object", properties: { petId: { type: "integer", description: "The id of the pet" } }, required: ["petId"] });
  expect(show.outputSchema).not.toHaveProperty("required"); // answers often leave out what documents require
  expect(show.outputSchema).toMatchObject({ type: "object", properties: { owner: { anyOf: [{ allOf: [{ $ref: "#/$defs/Owner" }] }, { type: "null" }] } } });
  expect(Object.keys(show.outputSchema!.$defs as object).sort()).toEqual(["Owner", "Pet"]);
  const create = byName.get("createPet")!;
  expect(create.inputSchema).toMatchObject({ properties: { body: { $ref: "#/$defs/NewPet" } }, required: ["body"], $defs: { NewPet: { required: ["name"] } } });
  // a list answer has no object schema, so no output schema (MCP wants an object)
  expect(byName.get("pets_listPets")!.outputSchema).toBeUndefined();
  expect(byName.get("pets_listPets")!.inputSchema).toEqual({ type: "object", properties: { limit: { type: "integer", minimum: 1, exclusiveMaximum: 100, description: "How many items to return at one time" } } });
  await client.close();
});

test("calls take the proxy path: arguments placed by the operation, the OAuth token injected, structured results checked by the client, logged, rate limited", async () => {
  const client = await connect();
  const shown = await client.callTool({ name: "showPetById", arguments: { petId: 7 } });
  expect(shown.isError).toBe(false);
  expect(shown.structuredContent).toEqual({ id: 7, name: "Rex", tag: "dog", owner: { login: "alice", pets: [] } });
  expect(seen.at(-1)).toMatchObject({ method: "GET", path: "/v1/pets/7", sub: "alice" });
  expect(seen.at(-1)!.auth).not.toContain("hg_");

  const created = await client.callTool({ name: "createPet", arguments: { body: { name: "Bo", tag: "cat" } } });
  expect(created.structuredContent).toEqual({ id: 2, name: "Bo", tag: null });
  expect(seen.at(-1)).toMatchObject({ method: "POST", path: "/v1/pets", body: '{"name":"Bo","tag":"cat"}', sub: "alice" });

  const listed = await client.callTool({ name: "pets_listPets", arguments: { limit: 2 } });
  expect(listed.isError).toBe(false);
  expect(seen.at(-1)).toMatchObject({ method: "GET", path: "/v1/pets?limit=2" });

  // purgeAll is selected but POST /admin/purge is not a pet-store path here: the upstream's 404 is a tool error
  const purged = await client.callTool({ name: "purgeAll", arguments: {} });
  expect(purged.isError).toBe(true);

  const rows = (await gw.gw.requestLog.list({ project: "acme" }));
  expect(rows.map((r) => r.path)).toContain("/v1/pets/7");
  expect(rows.every((r) => r.provider === "idp")).toBe(true);

  // the fifth call this minute is over the limit of 4
  const limited = await client.callTool({ name: "showPetById", arguments: { petId: 1 } });
  expect(limited.isError).toBe(true);
  expect(JSON.stringify(limited.content)).toContain("rate_limited");
  await client.close();
});

test("without the project's token, the MCP server answers 401", async () => {
  const r = await fetch(`${gw.url.href}mcp/project/acme`, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" }, body: "{}" });
  expect(r.status).toBe(401);
});
