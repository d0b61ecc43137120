/**
 * Docs generated from the config: /docs/json (the whole gateway) and /docs/<project>/json (one
 * project) show each declared endpoint with only its methods, its security, rate limit, timeout and
 * failure answers; an endpoint with an upstream OpenAPI document shows exactly its selected operations,
 * re-based under the endpoint; every document passes a maintained OpenAPI validator; a reload
 * regenerates them; a bad or unreachable document never stops serving. The UI is served from the
 * binary (no CDN).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { inProcess, ROOT } from "../helpers/gateway.ts";
import { upstream } from "../helpers/upstream.ts";
import { codesOf, expectValid, op, operationIds, operationsOf, type Doc } from "../helpers/openapi.ts";
import { mintApiToken } from "../../src/crypto/apitoken.ts";

const petstore = readFileSync(join(ROOT, "test/fixtures/openapi/petstore.yaml"), "utf8");
const petstoreJson = JSON.stringify(Bun.YAML.parse(petstore));

// the upstream that publishes its document over http (allow_private), with an ETag, and can be made to fail
let remoteDown = false;
const conditional: (string | null)[] = [];
const remote = upstream((req) => {
  if (new URL(req.url).pathname !== "/openapi.json") return new Response("not here", { status: 404 });
  conditional.push(req.headers.get("if-none-match"));
  if (remoteDown) return new Response("down", { status: 503 });
  if (req.headers.get("if-none-match") === '"v1"') return new Response(null, { status: 304, headers: { etag: '"v1"' } });
  return new Response(petstoreJson, { headers: { "content-type": "application/json", etag: '"v1"' } });
});

const acmeToken = mintApiToken();
const betaToken = mintApiToken();
const hash = await Bun.password.hash("a long password for alice", { algorithm: "argon2id" });

const config = (acmeOperations: string, extra = "") => `[server]
port = 0
public_url = "https://gw.example"
[github]
enabled = true
[[mcp.upstreams]]
name = "tools"
url = "https://mcp.example/mcp"
[[mcp.users]]
username = "alice"
password_hash = "${hash}"
[[projects]]
id = "acme"
name = "Acme"
description = "Acme's integrations"
[[projects.endpoints]]
slug = "pets"
name = "Pet store"
description = "The pet store, described by its own document"
upstream_url = "https://pets.example"
allowed_methods = ["GET", "POST"]
openapi = "file:petstore.yaml"
operations = ${acmeOperations}
mcp_tools_from_openapi = true
rate_limit_per_minute = 60
[[projects.endpoints]]
slug = "remote"
upstream_url = "${remote.url}"
allow_private = true
openapi = "${remote.url}/openapi.json"
allowed_methods = ["GET"]
operations = ["/pets/*"]
[[projects.endpoints]]
slug = "raw"
upstream_url = "https://raw.example"
allowed_methods = ["GET", "DELETE"]
timeout = "5s"
[[projects.tokens]]
name = "ci"
token = "env:ACME_TOKEN"
[[projects]]
id = "beta"
[[projects.endpoints]]
slug = "open"
upstream_url = "https://open.example"
auth_mode = "none"
allowed_methods = ["PUT"]
[[projects.endpoints]]
slug = "broken"
upstream_url = "https://broken.example"
openapi = "file:missing.yaml"
allowed_methods = ["GET"]
[[projects.endpoints]]
slug = "gone"
upstream_url = "http://127.0.0.1:9"
allow_private = true
openapi = "http://127.0.0.1:9/openapi.json"
allowed_methods = ["POST"]
[[projects.tokens]]
name = "ci"
token = "env:BETA_TOKEN"
${extra}`;

const ctx = await inProcess(config('["listPets", "showPetById", "createPet", "deletePet"]'), { ACME_TOKEN: acmeToken, BETA_TOKEN: betaToken }, { "petstore.yaml": petstore });
afterAll(async () => {
  await ctx.gw.close();
  remote.stop();
});

const json = async (path: string) => {
  const r = await ctx.handle(path);
  expect(r.status, path).toBe(200);
  expect(r.headers.get("content-type")).toContain("application/json");
  return (await r.json()) as Doc;
};

describe("the docs page", () => {
  test("/docs and /docs/<project> are pages that load only same-origin assets, under a strict CSP", async () => {
    for (const [path, spec] of [
      ["/docs", "/docs/json"],
      ["/docs/acme", "/docs/acme/json"],
    ] as const) {
      const r = await ctx.handle(path);
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toContain("text/html");
      const csp = r.headers.get("content-security-policy")!;
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain("unsafe-eval");
      const html = await r.text();
      expect(html).toContain(`data-spec="${spec}"`);
      expect(html).toContain('src="/docs/assets/swagger-ui-bundle.js"');
      expect(html).toContain('href="/docs/assets/swagger-ui.css"');
      expect(html).not.toMatch(/(src|href)="https?:\/\//);
      expect(html).not.toContain("<script>"); // no inline script: the init is a file too
    }
    expect(await (await ctx.handle("/docs/acme")).text()).toContain('data-expansion="full"'); // operations open without a click
    expect((await ctx.handle("/docs/nope")).status).toBe(404);
  });

  test("assets are embedded, with types and caching", async () => {
    for (const [path, type, min] of [
      ["/docs/assets/swagger-ui-bundle.js", "text/javascript", 500_000],
      ["/docs/assets/swagger-ui.css", "text/css", 50_000],
      ["/docs/assets/init.js", "text/javascript", 50],
    ] as const) {
      const r = await ctx.handle(path);
      expect(r.status, path).toBe(200);
      expect(r.headers.get("content-type")).toContain(type);
      expect((await r.arrayBuffer()).byteLength).toBeGreaterThan(min);
    }
    const init = await (await ctx.handle("/docs/assets/init.js")).text();
    expect(init).toContain("data-spec");
    expect(init).toContain("docExpansion");
  });
});

describe("/docs/json: the whole gateway", () => {
  let doc: Doc;
  beforeAll(async () => {
    doc = await json("/docs/json");
  });

  test("is valid OpenAPI 3.1 with unique operationIds and hubgate's public URL as its server", async () => {
    await expectValid(doc);
    expect(doc.openapi).toBe("3.1.0");
    const ids = operationIds(doc);
    expect(new Set(ids).size).toBe(ids.length);
    expect(doc.servers).toEqual([{ url: "https://gw.example", description: "hubgate" } as { url: string }]);
    expect(Object.keys(doc.paths).some((p) => p.startsWith("/docs"))).toBe(false);
  });

  test("each endpoint has its own prefix with exactly its operations; the generic routes are gone", () => {
    expect(Object.keys(doc.paths)).not.toContain("/api/{project}/proxy/{slug}");
    expect(Object.keys(doc.paths).some((p) => p.includes("{slug}") || p.endsWith("*"))).toBe(false);
    // from the upstream document: allowed methods ∩ the operations list, under the endpoint and the document's /v1 base
    expect(operationsOf(doc, "/api/acme/proxy/pets/")).toEqual(["GET /api/acme/proxy/pets/v1/pets", "GET /api/acme/proxy/pets/v1/pets/{petId}", "POST /api/acme/proxy/pets/v1/pets"]);
    expect(operationsOf(doc, "/api/acme/proxy/remote/")).toEqual(["GET /api/acme/proxy/remote/v1/pets/{petId}"]);
    // without a document: the prefix, with only the allowed methods
    expect(operationsOf(doc, "/api/acme/proxy/raw/")).toEqual(["DELETE /api/acme/proxy/raw/{path}", "GET /api/acme/proxy/raw/{path}", "HEAD /api/acme/proxy/raw/{path}"]);
    expect(operationsOf(doc, "/api/beta/proxy/open/")).toEqual(["PUT /api/beta/proxy/open/{path}"]);
    // a document that cannot be read: documented without it
    expect(operationsOf(doc, "/api/beta/proxy/broken/")).toEqual(["GET /api/beta/proxy/broken/{path}", "HEAD /api/beta/proxy/broken/{path}"]);
    // nor can one that cannot be fetched
    expect(operationsOf(doc, "/api/beta/proxy/gone/")).toEqual(["POST /api/beta/proxy/gone/{path}"]);
  });

  test("security, rate limit, timeout and every answer of the failure table", () => {
    const list = op(doc, "GET", "/api/acme/proxy/pets/v1/pets");
    expect(list.security).toEqual([{ hubgateToken: [] }]);
    expect(list.tags).toEqual(["acme/pets"]);
    expect(list["x-hubgate-rate-limit-per-minute"]).toBe(60);
    expect(codesOf(list, "401")).toEqual(["unauthorized", "invalid_token"]);
    expect(codesOf(list, "403")).toEqual(["insufficient_scope", "wrong_project", "ssrf_refused"]);
    expect(codesOf(list, "405")).toEqual(["method_not_allowed"]);
    expect(codesOf(list, "429")).toEqual(["rate_limited", "auth_throttled"]);
    expect(Object.keys(list.responses["429"]!.headers!)).toContain("retry-after");
    expect(codesOf(list, "502")).toEqual(["upstream_unreachable"]);
    expect(codesOf(list, "504")).toEqual(["upstream_timeout"]);
    expect(list.responses["200"]!.description).toBe("A page of pets"); // the upstream's own answers stay
    // a status both answer: the upstream's response and hubgate's, told apart by the body
    const create = op(doc, "POST", "/api/acme/proxy/pets/v1/pets");
    expect(create.responses["429"]!.description).toContain("The upstream's own rate limit");
    expect(codesOf(create, "429")).toEqual(["rate_limited", "auth_throttled"]);

    const raw = op(doc, "GET", "/api/acme/proxy/raw/{path}");
    expect(raw["x-hubgate-timeout-ms"]).toBe(5000);
    expect(raw.responses["504"]!.description).toContain("5 s");
    expect(raw.responses["429"]!.content!["application/json"]).toBeDefined(); // auth_throttled still applies
    expect(codesOf(raw, "429")).toEqual(["auth_throttled"]);

    const open = op(doc, "PUT", "/api/beta/proxy/open/{path}");
    expect(open.security).toEqual([]); // auth_mode = "none"
    expect(open.responses["401"]).toBeUndefined();
    expect(open.responses["429"]).toBeUndefined();
    expect(codesOf(open, "403")).toEqual(["ssrf_refused"]);
  });

  test("the upstream document is re-based: its security and forbidden parameters replaced, 3.0 forms rewritten, only reachable components", () => {
    const list = op(doc, "GET", "/api/acme/proxy/pets/v1/pets");
    expect(JSON.stringify(list.parameters)).not.toContain("Authorization");
    expect(JSON.stringify(list.parameters)).not.toContain("cookie");
    expect(doc.components.securitySchemes).not.toHaveProperty("apiKey");
    const schemas = doc.components.schemas!;
    expect(Object.keys(schemas).filter((k) => k.startsWith("acme.pets.")).sort()).toEqual(["acme.pets.NewPet", "acme.pets.Owner", "acme.pets.Pet", "acme.pets.Problem"]);
    expect(schemas["acme.pets.Pet"]).toMatchObject({ properties: { tag: { type: ["string", "null"] } } });
    expect(doc.components.parameters!["acme.pets.limit"]).toMatchObject({ schema: { exclusiveMaximum: 100 } });
    expect(doc.components.parameters!["acme.pets.limit"]).not.toHaveProperty("schema.maximum");
    expect(op(doc, "GET", "/api/acme/proxy/pets/v1/pets/{petId}").parameters).toEqual([{ name: "petId", in: "path", required: true, description: "The id of the pet", schema: { type: "integer" } }]);
  });

  test("descriptions from the config; the GitHub mount and the MCP servers have their sections", () => {
    expect(doc.info.description).toContain("Acme's integrations");
    expect(doc.tags.find((t) => t.name === "acme/pets")!.description).toContain("The pet store, described by its own document");
    expect(doc.tags.find((t) => t.name === "acme/pets")!.description).toContain("60 requests per minute");
    expect(operationsOf(doc, "/api/graphql")).toEqual(["POST /api/graphql"]);
    expect(op(doc, "GET", "/{path}").security).toEqual([{ hubgateToken: [] }, { githubToken: [] }]);
    expect(op(doc, "POST", "/{path}").security).toEqual([{ githubToken: [] }]);
    expect(codesOf(op(doc, "POST", "/api/v3/{path}"), "401")).toEqual(["github_token_required"]);
    expect(operationsOf(doc, "/mcp")).toEqual(["DELETE /mcp", "DELETE /mcp/tools", "GET /mcp", "GET /mcp/tools", "POST /mcp", "POST /mcp/project/acme", "POST /mcp/tools"]);
    expect(op(doc, "POST", "/mcp/tools").security).toEqual([{ mcpOAuth: ["mcp"] }]);
    expect(doc.components.securitySchemes).toHaveProperty("mcpOAuth.flows.authorizationCode.tokenUrl", "https://gw.example/token");
    // the gateway's own routes, one operationId per method
    expect(op(doc, "GET", "/healthz").operationId).toBe("getHealthz");
    expect(op(doc, "DELETE", "/admin/tokens/{id}").security).toEqual([{ adminToken: [] }]);
  });

  test("the documented codes are the ones the gateway sends", async () => {
    const call = (method: string, path: string, token?: string) => ctx.handle(path, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
    const raw = (m: string) => op(doc, m, "/api/acme/proxy/raw/{path}");
    for (const [r, status, method] of [
      [await call("GET", "/api/acme/proxy/raw/x"), "401", "GET"],
      [await call("GET", "/api/acme/proxy/raw/x", betaToken), "403", "GET"],
      [await call("PATCH", "/api/acme/proxy/raw/x", acmeToken), "405", "DELETE"],
    ] as const) {
      expect(String(r.status)).toBe(status);
      const body = (await r.json()) as { error: string };
      expect(codesOf(raw(method), status)).toContain(body.error);
    }
  });
});

describe("/docs/<project>/json: one project's document alone", () => {
  test("acme: its endpoints and its MCP server, the upstream's operationIds, valid", async () => {
    const doc = await json("/docs/acme/json");
    await expectValid(doc);
    expect(doc.info.title).toBe("Acme — hubgate");
    expect(doc.info.description).toContain("Acme's integrations");
    expect(Object.keys(doc.paths).every((p) => p.startsWith("/api/acme/proxy/") || p === "/mcp/project/acme")).toBe(true);
    expect(operationsOf(doc)).toHaveLength(3 + 1 + 3 + 1);
    expect(op(doc, "GET", "/api/acme/proxy/pets/v1/pets").operationId).toBe("listPets");
    expect(op(doc, "GET", "/api/acme/proxy/remote/v1/pets/{petId}").operationId).toBe("remote.showPetById"); // unique in the document: the second one is prefixed with its endpoint
    expect(op(doc, "GET", "/api/acme/proxy/raw/{path}").operationId).toBe("raw.get");
    expect(Object.keys(doc.components.schemas!).sort()).toEqual(["pets.NewPet", "pets.Owner", "pets.Pet", "pets.Problem", "remote.Owner", "remote.Pet", "remote.Problem"]);
    expect(Object.keys(doc.components.securitySchemes!)).toEqual(["hubgateToken"]);
    expect(op(doc, "POST", "/mcp/project/acme").description).toContain("`listPets`");
  });

  test("beta: open and broken endpoints only; an unknown project is 404", async () => {
    const doc = await json("/docs/beta/json");
    await expectValid(doc);
    expect(operationsOf(doc)).toEqual(["GET /api/beta/proxy/broken/{path}", "HEAD /api/beta/proxy/broken/{path}", "POST /api/beta/proxy/gone/{path}", "PUT /api/beta/proxy/open/{path}"]);
    const r = await ctx.handle("/docs/nope/json");
    expect(r.status).toBe(404);
    expect(((await r.json()) as { error: string }).error).toBe("project_not_found");
  });
});

describe("what could not be used, and reloads", () => {
  test("the start-up log says why an endpoint is documented without its document, and which operations entry matched nothing", () => {
    const warnings = ctx.lines.map((l) => JSON.parse(l) as { level: string; msg: string; key?: string }).filter((l) => l.level === "warn");
    expect(warnings.find((w) => w.key === "projects[1].endpoints[1].openapi")!.msg).toBe("file:missing.yaml: no such file; the endpoint is documented without it");
    expect(warnings.find((w) => w.key === "projects[1].endpoints[2].openapi")!.msg).toMatch(/^http:\/\/127\.0\.0\.1:9\/openapi\.json: upstream_unreachable: The upstream could not be reached \(.+\); the endpoint is documented without it$/);
    expect(warnings.find((w) => w.key === "projects[0].endpoints[0].openapi")!.msg).toContain('operations[3] "deletePet" matches no operation');
  });

  test("a reload regenerates the documents; a fetched document is asked for again conditionally, and a failure keeps the last good copy", async () => {
    expect(conditional).toEqual([null]); // fetched once at start-up
    writeFileSync(ctx.configPath, config('["listPets"]', `[[projects]]\nid = "gamma"\n[[projects.endpoints]]\nslug = "api"\nupstream_url = "https://gamma.example"\n`));
    expect(await ctx.gw.reload()).toBe(true);
    expect(conditional).toEqual([null, '"v1"']); // If-None-Match → 304: the cached copy is used
    const acme = await json("/docs/acme/json");
    expect(operationsOf(acme, "/api/acme/proxy/pets/")).toEqual(["GET /api/acme/proxy/pets/v1/pets"]);
    expect(operationsOf(acme, "/api/acme/proxy/remote/")).toEqual(["GET /api/acme/proxy/remote/v1/pets/{petId}"]);
    expect(operationsOf(await json("/docs/json"), "/api/gamma/")).toEqual(["DELETE /api/gamma/proxy/api/{path}", "GET /api/gamma/proxy/api/{path}", "HEAD /api/gamma/proxy/api/{path}", "PATCH /api/gamma/proxy/api/{path}", "POST /api/gamma/proxy/api/{path}", "PUT /api/gamma/proxy/api/{path}"]);
    await expectValid(await json("/docs/gamma/json"));

    remoteDown = true;
    const before = ctx.lines.length;
    expect(await ctx.gw.reload()).toBe(true);
    expect(operationsOf(await json("/docs/acme/json"), "/api/acme/proxy/remote/")).toEqual(["GET /api/acme/proxy/remote/v1/pets/{petId}"]);
    const logged = ctx.lines.slice(before).join("\n");
    expect(logged).toContain("could not be fetched again (the upstream answered 503)");
    expect(logged).toContain("projects[0].endpoints[1].openapi");
    remoteDown = false;
  });
});
