/**
 * Upstream OpenAPI documents, piece by piece: references and allow-lists as the config check reads
 * them, parsing (JSON, YAML, and what is refused), selection (base paths, references that cannot be
 * followed), tools and their limits, and `check` saying why a document is not used.
 */
import { describe, expect, test } from "bun:test";
import { configIssues } from "../helpers/config.ts";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseConfig, ConfigError } from "../../src/config/index.ts";
import { parseDocument } from "../../src/openapi/load.ts";
import { parseDocumentRef } from "../../src/openapi/ref.ts";
import { parseOperationFilter } from "../../src/openapi/filter.ts";
import { selectOperations } from "../../src/openapi/select.ts";
import { compileEndpoints } from "../../src/endpoints/compile.ts";
import { MAX_OPENAPI_TOOLS_PER_PROJECT, MAX_TOOL_SCHEMA_BYTES } from "../../src/openapi/tools.ts";
import type { ConfigIssue } from "../../src/config/validate.ts";
import type { OpenApiDocument } from "../../src/openapi/types.ts";
import { runCli, tempDir } from "../helpers/gateway.ts";

const issues = configIssues;
const endpoint = (extra: string, id = "p") => `[[projects]]\nid = "${id}"\n[[projects.endpoints]]\nslug = "e"\nupstream_url = "https://api.example"\n${extra}\n`;

describe("config", () => {
  test("openapi is file:<path> or an https URL; operations and mcp_tools_from_openapi need it; each allow-list entry must read", () => {
    expect(issues(endpoint('openapi = "file:specs/api.yaml"\noperations = ["getUser", "/users/**", "POST /users"]\nmcp_tools_from_openapi = true'))).toEqual([]);
    expect(issues(endpoint('openapi = "https://api.example/openapi.json"'))).toEqual([]);
    expect(issues(endpoint('openapi = "http://10.0.0.5/openapi.json"\nallow_private = true'))).toEqual([]);
    expect(issues(endpoint('openapi = "http://api.example/openapi.json"'))).toEqual([
      { path: "projects[0].endpoints[0].openapi", message: "an upstream document is fetched over https (http only for an endpoint with allow_private = true)" },
    ]);
    expect(issues(endpoint('openapi = "ftp://x/y"'))[0]!.message).toContain("scheme ftp:");
    expect(issues(endpoint('openapi = "file:"'))[0]!.path).toBe("projects[0].endpoints[0].openapi");
    expect(issues(endpoint('openapi = "https://u:p@api.example/o.json"'))[0]!.message).toBe("credentials in URLs are not allowed");
    expect(issues(endpoint('operations = ["x"]\nmcp_tools_from_openapi = true')).map((i) => i.path)).toEqual(["projects[0].endpoints[0].operations", "projects[0].endpoints[0].mcp_tools_from_openapi"]);
    expect(issues(endpoint('openapi = "file:a.yaml"\noperations = ["FETCH /x", "get user"]'))).toEqual([
      { path: "projects[0].endpoints[0].operations[0]", message: '"FETCH /x": FETCH is not an HTTP method' },
    ]);
    expect(issues(endpoint("", "json"))[0]).toMatchObject({ path: "projects[0].id", message: expect.stringContaining("reserved") });
    expect(issues(endpoint('description = "Our CRM"', "crm"))).toEqual([]);
  });

  test("references and allow-lists", () => {
    expect(parseDocumentRef("file:/abs/a.yaml", false)).toEqual({ kind: "file", path: "/abs/a.yaml" });
    const f = parseOperationFilter(["repos/get", "/repos/*/*/issues", "POST /gists/**"]);
    if (!("filter" in f)) throw new Error(f.error);
    expect(f.filter.match({ method: "GET", path: "/x", operationId: "repos/get" })).toBe(0);
    expect(f.filter.match({ method: "GET", path: "/repos/{owner}/{repo}/issues" })).toBe(1);
    expect(f.filter.match({ method: "GET", path: "/repos/{owner}/{repo}/issues/{n}" })).toBe(-1);
    expect(f.filter.match({ method: "POST", path: "/gists/{id}/star" })).toBe(2);
    expect(f.filter.match({ method: "GET", path: "/gists/{id}/star" })).toBe(-1);
  });
});

describe("parsing", () => {
  test("JSON and YAML; Swagger 2, other things and YAML that aliases itself are refused with a reason", () => {
    expect(parseDocument('{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{}}').openapi).toBe("3.1.0");
    expect(parseDocument("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\n").openapi).toBe("3.0.3");
    const reason = (text: string) => {
      try {
        parseDocument(text);
        return "parsed";
      } catch (e) {
        return (e as Error).message;
      }
    };
    expect(reason('{"swagger":"2.0"}')).toBe("Swagger 2.0 is not supported; convert it to OpenAPI 3");
    expect(reason("{nope")).toStartWith("not valid JSON");
    expect(reason("just: [a")).toStartWith("not valid YAML or JSON");
    expect(reason("a: 1\n---\nb: 2\n")).toBe("a YAML stream of several documents; expected one");
    expect(reason("title: x\n")).toBe("not an OpenAPI 3.x document (no openapi: 3.x field)");
    expect(reason("openapi: 3.0.0\npaths: &p\n  /a: *p\n")).toBe("the YAML refers to itself through an alias (a cycle)");
    // a billion laughs: a few hundred bytes of aliases that would be a huge tree. 10^8 leaves: Bun's parser refuses it;
    // 10^7 leaves in 1.1 million lists: Bun's parser takes it, the node count refuses it
    const laughs = (levels: number) => {
      const lines = ["openapi: 3.0.0", 'a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
      for (let i = 1; i < levels; i++) lines.push(`${"abcdefghij"[i]}: &${"abcdefghij"[i]} [${Array(10).fill(`*${"abcdefghij"[i - 1]}`).join(",")}]`);
      return lines.join("\n");
    };
    expect(reason(laughs(8))).toContain("Excessive aliasing");
    expect(reason(laughs(7))).toBe("more than 1000000 nodes once YAML aliases are expanded");
    expect(reason(laughs(5))).toBe("parsed");
  });
});

describe("selection", () => {
  const doc = (servers: string, extra: object = {}): OpenApiDocument => ({
    openapi: "3.1.0",
    info: { title: "t", version: "1" },
    servers: [{ url: servers, variables: { v: { default: "v2" } } }],
    paths: {
      "/a": { get: { operationId: "a", responses: { "200": { description: "ok", content: { "application/json": { schema: { $ref: "#/components/schemas/A" } } } } } } },
      "/b": { get: { operationId: "b", responses: { "200": { $ref: "other.yaml#/components/responses/X" } } } },
      "/c": { $ref: "#/components/pathItems/C" },
    },
    components: { schemas: { A: { type: "object", properties: { b: { $ref: "#/components/schemas/Gone" } } } } },
    ...extra,
  });
  const select = (servers: string, upstreamPath: string) => selectOperations(doc(servers), { methods: ["GET"], filter: null, upstreamPath });

  test("the document's server base path is kept below the endpoint, variables at their defaults", () => {
    expect(select("https://api.example/{v}", "/").operations.map((o) => o.path)).toEqual(["/v2/a"]);
    expect(select("https://api.example/v2", "/v2").operations.map((o) => o.path)).toEqual(["/a"]);
    expect(select("/api/v2", "/api").operations.map((o) => o.path)).toEqual(["/v2/a"]);
    const off = select("https://api.example/v1", "/v2");
    expect(off.operations.map((o) => o.path)).toEqual(["/a"]);
    expect(off.warnings[0]).toBe("the document's server path /v1 is not below the endpoint's upstream path /v2; its paths are taken as relative to the upstream URL");
  });

  test("what cannot be followed is left out or stood in for, and said", () => {
    const s = select("/", "/");
    expect(s.operations.map((o) => o.operationId)).toEqual(["a"]);
    expect(s.warnings).toContain("1 path item(s) given as $ref are not supported and were left out");
    expect(s.warnings).toContain("1 operation(s) left out: they refer outside the document or to a missing component: GET /b (other.yaml#/components/responses/X)");
    expect(s.warnings).toContain("the document refers to 1 component(s) it does not define (#/components/schemas/Gone); they are documented as empty");
    expect(s.components.schemas).toEqual({ A: { type: "object", properties: { b: { $ref: "#/components/schemas/Gone" } } }, Gone: { description: "(not defined in the upstream document)" } });
  });
});

describe("tools from a document, and their limits", () => {
  const compile = (doc: OpenApiDocument) => {
    const config = parseConfig(endpoint('openapi = "file:x.json"\nmcp_tools_from_openapi = true'));
    const warnings: ConfigIssue[] = [];
    const routes = compileEndpoints(config, new Map(), new Map([["p/e", { ok: true, value: { doc, source: "file:x.json", bytes: 0, loadedAt: 0 } }]]), warnings);
    return { tools: routes.get("p/e")!.mcpTools, warnings };
  };
  const ok = { "200": { description: "ok" } };

  test(`at most ${MAX_OPENAPI_TOOLS_PER_PROJECT} generated tools per project, with a message saying how to narrow them`, () => {
    const paths: Record<string, unknown> = {};
    for (let i = 0; i < MAX_OPENAPI_TOOLS_PER_PROJECT + 5; i++) paths[`/items/${i}`] = { get: { operationId: `get/item ${i}`, responses: ok } };
    const { tools, warnings } = compile({ openapi: "3.1.0", info: { title: "t", version: "1" }, paths });
    expect(tools).toHaveLength(MAX_OPENAPI_TOOLS_PER_PROJECT);
    expect(tools[0]!.name).toBe("get_item_0");
    expect(warnings).toEqual([
      {
        path: "projects[0].endpoints[0].mcp_tools_from_openapi",
        message: `5 more operation(s) would be tools, over the limit of ${MAX_OPENAPI_TOOLS_PER_PROJECT} generated tools per project; they are left out (narrow the operations list)`,
      },
    ]);
  });

  test("an input schema over the size limit leaves the tool out; an output schema over it leaves the tool without one; a non-JSON body is no tool", () => {
    const huge = { type: "object", properties: Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`field_${i}`, { type: "string", description: "x".repeat(20) }])) };
    const { tools, warnings } = compile({
      openapi: "3.1.0",
      info: { title: "t", version: "1" },
      paths: {
        "/in": { post: { operationId: "bigIn", requestBody: { content: { "application/json": { schema: huge } } }, responses: ok } },
        "/out": { get: { operationId: "bigOut", responses: { "200": { description: "ok", content: { "application/json": { schema: huge } } } } } },
        "/raw": { post: { operationId: "upload", requestBody: { content: { "application/octet-stream": { schema: {} } } }, responses: ok } },
      },
    });
    expect(tools.map((t) => t.name)).toEqual(["bigOut"]);
    expect(tools[0]!.outputSchema).toBeUndefined();
    const messages = warnings.map((w) => w.message);
    expect(messages[0]).toMatch(new RegExp(`^POST /in is not a tool: its input schema is \\d+ bytes, over the limit of ${MAX_TOOL_SCHEMA_BYTES}$`));
    expect(messages[1]).toMatch(/^GET \/out: its output schema is \d+ bytes, over the limit of 65536: the tool has no output schema$/);
    expect(messages[2]).toBe("POST /raw is not a tool: its request body is application/octet-stream; tools send JSON");
  });
});

test("check says why a document is not used, and what the others give", async () => {
  const dir = tempDir();
  writeFileSync(join(dir, "good.yaml"), "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      operationId: a\n      responses: {'200': {description: ok}}\n");
  writeFileSync(join(dir, "bad.yaml"), "swagger: '2.0'\n");
  const cfg = join(dir, "gateway.toml");
  writeFileSync(
    cfg,
    `[github]\nenabled = false\n[storage]\npath = "${join(dir, "db")}"\n${endpoint('openapi = "file:good.yaml"\nmcp_tools_from_openapi = true')}[[projects.endpoints]]\nslug = "f"\nupstream_url = "https://f.example"\nopenapi = "file:bad.yaml"\n`,
  );
  const r = await runCli(["check", "--config", cfg]);
  expect(r.code).toBe(0); // a bad document never stops the gateway
  expect(r.stdout).toContain("upstream OpenAPI documents: 1 of 2 in use, 1 operation(s) documented, 1 MCP tool(s) made from them");
  expect(r.stdout).toContain("warning: projects[0].endpoints[1].openapi: file:bad.yaml: Swagger 2.0 is not supported; convert it to OpenAPI 3; the endpoint is documented without it");
});
