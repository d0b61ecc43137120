/**
 * The OpenAPI 3.1 documents served at /docs/json (the whole gateway) and /docs/<project>/json (one
 * project, what its client team is handed), built from a route table: every declared endpoint under
 * its own path prefix with only its allowed methods, its security, rate limit and timeout, and the
 * gateway's failure answers; operations from the endpoint's upstream OpenAPI document re-based under
 * that prefix; the project's MCP server; in the whole document also the gateway's own routes, the
 * GitHub pool and the MCP servers. Operation ids are unique per document.
 *
 * Pure and lazy: built on the first request for a table and kept with it (a WeakMap keyed by the
 * immutable table), so a reload, which swaps the table, regenerates them.
 */
import type { RouteTable } from "../routes/table.ts";
import type { EndpointRoute } from "../endpoints/compile.ts";
import type { SelectedOperation } from "../openapi/select.ts";
import { asObject, asString, componentRef, COMPONENT_KINDS, encodePointer, isObject, type JsonObject } from "../openapi/types.ts";
import { ERROR_SCHEMA, ERROR_SCHEMA_NAME, endpointFailures, failureResponse, failureSchema, githubFailures, mcpUpstreamFailures, projectMcpFailures, seconds, type Failure } from "./failures.ts";

/** One of the gateway's own routes, as the app declares it. */
export interface OwnOperation {
  readonly method: string;
  /** Elysia's form: /admin/tokens/:id */
  readonly path: string;
  readonly summary?: string;
  readonly tags?: readonly string[];
  /** TypeBox (JSON Schema) of the query, body and 200 response, when the route declares them */
  readonly query?: unknown;
  readonly body?: unknown;
  readonly response?: unknown;
}

export interface DocsInfo {
  readonly title: string;
  readonly version: string;
}

/** Documents per table, serialised once. */
export interface BuiltDocument {
  readonly json: string;
  readonly operations: number;
}

const SECURITY_SCHEMES: Record<string, JsonObject> = {
  hubgateToken: {
    type: "http",
    scheme: "bearer",
    bearerFormat: "hg_live_…",
    description: "A hubgate API token (`Authorization: Bearer hg_live_…`), created with `hubgate token create --project <project> --scope proxy` or by an admin. Endpoints need scope `proxy` and a token of their project; GitHub pool reads need `github:read`.",
  },
  githubToken: { type: "http", scheme: "bearer", description: "The caller's own GitHub token (`Authorization: token …`): writes and mutations go to GitHub with it, unpooled" },
  adminToken: { type: "http", scheme: "bearer", description: "The `[admin] token`, or an API token with scope `admin` (its own project's tokens and logs)" },
};

/** up to this many operations the page shows each one expanded; a larger document lists them */
export const OPERATION_FULL_LIMIT = 150;

export class DocumentBuilder {
  readonly paths: Record<string, Record<string, JsonObject>> = {};
  readonly tags: JsonObject[] = [];
  readonly components: Record<string, Record<string, unknown>> = { schemas: {} };
  private readonly ids = new Set<string>();
  private readonly tagNames = new Set<string>();
  private readonly schemes = new Set<string>();
  operations = 0;

  /** A unique operationId: the preferred one, else the alternative, else the preferred with a numeric suffix. */
  claimId(preferred: string, alternative?: string): string {
    if (this.ids.has(preferred) && alternative !== undefined && !this.ids.has(alternative)) {
      this.ids.add(alternative);
      return alternative;
    }
    let id = preferred;
    for (let n = 2; this.ids.has(id); n++) id = `${preferred}_${n}`;
    this.ids.add(id);
    return id;
  }

  tag(name: string, description?: string): string {
    if (!this.tagNames.has(name)) {
      this.tagNames.add(name);
      this.tags.push({ name, ...(description ? { description } : {}) });
    }
    return name;
  }

  add(path: string, method: string, op: JsonObject): void {
    const item = (this.paths[path] ??= {});
    const m = method.toLowerCase();
    if (item[m]) return; // the first wins (an upstream document listing one path twice)
    for (const req of Array.isArray(op.security) ? op.security : []) for (const k of Object.keys(asObject(req) ?? {})) this.schemes.add(k);
    item[m] = op;
    this.operations++;
  }

  build(info: JsonObject, publicUrl: URL, extraSchemes: Record<string, JsonObject> = {}): JsonObject {
    const securitySchemes: Record<string, JsonObject> = {};
    for (const k of this.schemes) {
      const s = SECURITY_SCHEMES[k] ?? extraSchemes[k];
      if (s) securitySchemes[k] = s;
    }
    const components: JsonObject = {};
    for (const [k, v] of Object.entries(this.components)) if (Object.keys(v).length) components[k] = v;
    if (Object.keys(securitySchemes).length) components.securitySchemes = securitySchemes;
    return {
      openapi: "3.1.0",
      info,
      servers: [{ url: publicUrl.href.replace(/\/$/, ""), description: "hubgate" }],
      tags: this.tags,
      paths: this.paths,
      components,
    };
  }
}

/** OpenAPI `{name}` path template of an Elysia route path (`:name`, trailing `*`). */
function templateOf(path: string): { template: string; params: string[] } {
  const params: string[] = [];
  const template = path.replace(/:([A-Za-z0-9_]+)/g, (_, n: string) => {
    params.push(n);
    return `{${n}}`;
  });
  return { template, params };
}

function camelId(method: string, path: string): string {
  const words = path
    .replace(/:([A-Za-z0-9_]+)/g, "by-$1")
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean);
  return method.toLowerCase() + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join("");
}

/** A TypeBox schema as plain JSON (its symbols dropped). */
function plain(schema: unknown): JsonObject | undefined {
  return isObject(schema) ? (JSON.parse(JSON.stringify(schema)) as JsonObject) : undefined;
}

function responsesOf(failures: readonly Failure[], success: JsonObject): JsonObject {
  const out: JsonObject = { ...success };
  for (const f of failures) out[f.status] = failureResponse(f);
  return out;
}

const ERROR_DEFAULT: JsonObject = {
  description: "A hubgate error",
  content: { "application/json": { schema: { $ref: `#/components/schemas/${ERROR_SCHEMA_NAME}` } } },
};

/** The gateway's own routes (those whose surface depends on the config are documented by the sections below). */
function addOwnRoutes(b: DocumentBuilder, own: readonly OwnOperation[]): void {
  // every code of ERROR_CODES, for the own routes' default answer (a project's document names only its own codes)
  b.components.schemas![ERROR_SCHEMA_NAME] = ERROR_SCHEMA;
  for (const r of own) {
    const { template, params } = templateOf(r.path);
    const parameters: JsonObject[] = params.map((name) => ({ name, in: "path", required: true, schema: { type: "string" } }));
    const query = plain(r.query);
    const required = new Set(Array.isArray(query?.required) ? (query.required as string[]) : []);
    for (const [name, schema] of Object.entries(asObject(query?.properties) ?? {}))
      parameters.push({ name, in: "query", required: required.has(name), schema: plain(schema) ?? {} });
    const body = plain(r.body);
    const response = plain(r.response);
    const op: JsonObject = {
      tags: [b.tag(r.tags?.[0] ?? "gateway")],
      ...(r.summary ? { summary: r.summary } : {}),
      operationId: b.claimId(camelId(r.method, r.path)),
      ...(parameters.length ? { parameters } : {}),
      ...(body ? { requestBody: { required: true, content: { "application/json": { schema: body } } } } : {}),
      ...(r.tags?.includes("admin") ? { security: [{ adminToken: [] }] } : {}),
      responses: {
        "200": { description: "OK", ...(response ? { content: { "application/json": { schema: response } } } : {}) },
        default: ERROR_DEFAULT,
      },
    };
    b.add(template, r.method, op);
  }
}

function githubSection(b: DocumentBuilder, table: RouteTable): void {
  const g = table.github;
  if (!g.enabled) return;
  const mount = table.config.github.mount.replace(/\/+$/, "");
  const open = g.clients === "open";
  const tag = b.tag(
    "github",
    `**GitHub pool**: a drop-in GitHub API base URL (github.com layout at \`${mount || "/"}\`, GHES layout at \`/api/v3\`). Reads are pooled across identities and cached; ${
      open ? "they need no client credential" : "they need a hubgate API token with scope `github:read`"
    } (or the caller's own GitHub token, passed through unpooled). Writes and mutations go to GitHub with the caller's own GitHub token.${
      table.config.github.allowed_owners.length ? " Only the allowed owners can be reached." : ""
    }`,
  );
  const readSecurity = open ? [{}, { githubToken: [] }] : [{ hubgateToken: [] }, { githubToken: [] }];
  const pathParam = { name: "path", in: "path", required: true, description: "The GitHub API path, e.g. repos/octo/repo", schema: { type: "string" } };
  const upstream = { default: { description: "GitHub's answer (cache state in x-hubgate-cache and Cache-Status)" } };
  for (const [path, layout] of [
    [`${mount}/{path}`, "github.com layout"],
    ["/api/v3/{path}", "GHES layout"],
  ] as const)
    for (const method of ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]) {
      const read = method === "GET" || method === "HEAD";
      b.add(path, method, {
        tags: [tag],
        summary: read ? `Read through the pool (${layout})` : `Write with your own GitHub token (${layout})`,
        operationId: b.claimId(`github.${layout.startsWith("GHES") ? "ghes." : ""}${method.toLowerCase()}`),
        parameters: [pathParam],
        ...(read ? {} : { requestBody: { required: false, content: { "application/json": { schema: {} } } } }),
        security: read ? readSecurity : [{ githubToken: [] }],
        responses: responsesOf(githubFailures(read, !open), upstream),
      });
    }
  b.add("/api/graphql", "POST", {
    tags: [tag],
    summary: "GitHub GraphQL: queries pooled and cached, mutations with your own GitHub token",
    operationId: b.claimId("github.graphql"),
    requestBody: { required: true, content: { "application/json": { schema: { type: "object", required: ["query"], properties: { query: { type: "string" }, variables: { type: "object" }, operationName: { type: "string" } } } } } },
    security: readSecurity,
    responses: responsesOf(githubFailures(true, !open), upstream),
  });
}

function mcpSection(b: DocumentBuilder, table: RouteTable): Record<string, JsonObject> {
  if (table.mcpUpstreams.size === 0) return {};
  const base = table.publicUrl.href.replace(/\/$/, "");
  const tag = b.tag("mcp", "**MCP OAuth gateway**: remote MCP servers behind one OAuth 2.1 surface. Clients discover it from the first 401 (RFC 9728 metadata) and sign in at the gateway.");
  for (const [key, u] of table.mcpUpstreams) {
    const path = key === "" ? "/mcp" : `/mcp/${key}`;
    for (const method of ["POST", "GET", "DELETE"]) {
      b.add(path, method, {
        tags: [tag],
        summary: `${key === "" ? `The default MCP server (${u.name})` : `MCP server ${key}`}: ${method === "POST" ? "JSON-RPC messages" : method === "GET" ? "the server's event stream" : "end the session"}`,
        operationId: b.claimId(`mcp.${key || "default"}.${method.toLowerCase()}`),
        ...(method === "POST" ? { requestBody: { required: true, content: { "application/json": { schema: { type: "object", description: "A JSON-RPC message (or a batch)" } } } } } : {}),
        security: [{ mcpOAuth: ["mcp"] }],
        responses: responsesOf(mcpUpstreamFailures(), {
          "200": { description: "The upstream's answer, streamed (application/json or text/event-stream)" },
          "202": { description: "Accepted (a notification or response)" },
        }),
      });
    }
  }
  return {
    mcpOAuth: {
      type: "oauth2",
      description: "OAuth 2.1 with PKCE (S256) at the gateway; discovery at /.well-known/oauth-authorization-server",
      flows: { authorizationCode: { authorizationUrl: `${base}/authorize`, tokenUrl: `${base}/token`, refreshUrl: `${base}/token`, scopes: { mcp: "Use the MCP servers" } } },
    },
  };
}

/** Where one document puts a project's sections: tag names, operationId and component prefixes. */
interface Scope {
  readonly whole: boolean;
}

function endpointTagName(scope: Scope, route: EndpointRoute): string {
  return scope.whole ? `${route.project}/${route.slug}` : route.slug;
}

function endpointTagDescription(route: EndpointRoute): string {
  const lines = [`**${route.name}**${route.description ? ` — ${route.description}` : ""}`, ""];
  lines.push(`- Base path: \`/api/${route.project}/proxy/${route.slug}\``);
  lines.push(`- Methods: ${route.allowedMethods.join(", ")} (405 for any other)`);
  lines.push(
    route.authMode === "token"
      ? `- Authentication: a hubgate API token of project \`${route.project}\` with scope \`proxy\` (\`Authorization: Bearer hg_live_…\`)`
      : "- Authentication: none (auth_mode = \"none\")",
  );
  lines.push(`- Rate limit: ${route.rateLimitPerMinute === undefined ? "none" : `${route.rateLimitPerMinute} requests per minute per token (429 beyond)`}`);
  lines.push(`- Timeout: ${seconds(route.timeoutMs)} for the upstream's response headers (504 beyond)`);
  if (route.oauthConnection !== undefined) lines.push(`- Upstream credentials: injected by hubgate from the OAuth connection \`${route.oauthConnection}\`; never send your own`);
  lines.push(
    route.openapi
      ? `- Operations: ${route.openapi.selection.operations.length} from the upstream's OpenAPI document`
      : "- Operations: any path below the base path is passed to the upstream (with its query string and body)",
  );
  return lines.join("\n");
}

function hubgateExtensions(route: EndpointRoute): JsonObject {
  return {
    "x-hubgate-endpoint": `${route.project}/${route.slug}`,
    "x-hubgate-timeout-ms": route.timeoutMs,
    ...(route.rateLimitPerMinute === undefined ? {} : { "x-hubgate-rate-limit-per-minute": route.rateLimitPerMinute }),
  };
}

function security(route: EndpointRoute): JsonObject[] {
  return route.authMode === "token" ? [{ hubgateToken: [] }] : [];
}

/** A copy whose component references carry `prefix` (so several upstream documents share one components section). */
function prefixRefs(node: unknown, prefix: string): unknown {
  if (Array.isArray(node)) return node.map((n) => prefixRefs(n, prefix));
  if (!isObject(node)) return node;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === "$ref" && typeof v === "string") out[k] = prefixRef(v, prefix);
    else if (k === "discriminator" && isObject(v) && isObject(v.mapping)) {
      const mapping: JsonObject = {};
      for (const [mk, mv] of Object.entries(v.mapping)) mapping[mk] = typeof mv === "string" ? prefixRef(mv, prefix) : mv;
      out[k] = { ...v, mapping };
    } else out[k] = typeof v === "object" && v !== null ? prefixRefs(v, prefix) : v;
  }
  return out;
}

function prefixRef(ref: string, prefix: string): string {
  const r = componentRef(ref);
  return r ? `#/components/${r.kind}/${encodePointer(prefix + r.name)}${r.rest}` : ref;
}

function genericOperations(b: DocumentBuilder, route: EndpointRoute, tag: string, idPrefix: string): void {
  const path = `/api/${route.project}/proxy/${route.slug}/{path}`;
  const failures = endpointFailures(route);
  for (const method of route.allowedMethods) {
    const body = !["GET", "HEAD", "DELETE", "OPTIONS"].includes(method);
    b.add(path, method, {
      tags: [tag],
      summary: `${method} any path of ${route.name}`,
      description: "The path below the endpoint, the query string and the body go to the upstream as they are; the upstream's answer comes back as it is.",
      operationId: b.claimId(`${idPrefix}${route.slug}.${method.toLowerCase()}`),
      parameters: [{ name: "path", in: "path", required: true, description: "The upstream path, e.g. repos/octo/repo", schema: { type: "string" } }],
      ...(body ? { requestBody: { required: false, content: { "*/*": { schema: {} } } } } : {}),
      security: security(route),
      responses: responsesOf(failures, { default: { description: "The upstream's answer, passed through unchanged (status, headers and body)" } }),
      ...hubgateExtensions(route),
    });
  }
}

/** The upstream's response for a status the gateway answers too: both, told apart by the body. */
function mergeResponse(upstream: unknown, f: Failure, b: DocumentBuilder): JsonObject {
  let target = asObject(upstream) ?? {};
  const ref = asString(target.$ref);
  if (ref !== undefined) {
    const r = componentRef(ref);
    target = (r ? asObject(b.components[r.kind]?.[r.name]) : undefined) ?? {};
  }
  const content = { ...(asObject(target.content) ?? {}) };
  const json = asObject(content["application/json"]);
  content["application/json"] = { schema: json?.schema !== undefined ? { anyOf: [json.schema, failureSchema(f)] } : failureSchema(f) };
  return {
    description: `${asString(target.description) ?? "The upstream's answer"}\n\nOr hubgate's own answer: ${failureResponse(f).description as string}`,
    headers: { ...(asObject(target.headers) ?? {}), ...(f.headers ?? {}) },
    content,
  };
}

function upstreamOperations(b: DocumentBuilder, scope: Scope, route: EndpointRoute, tag: string, idPrefix: string): void {
  const sel = route.openapi!.selection;
  const cprefix = `${scope.whole ? `${route.project}.` : ""}${route.slug}.`;
  for (const kind of COMPONENT_KINDS) {
    const comps = sel.components[kind];
    if (!comps || kind === "securitySchemes") continue;
    const target = (b.components[kind] ??= {});
    for (const [name, value] of Object.entries(comps)) target[cprefix + name] = prefixRefs(value, cprefix);
  }
  const failures = endpointFailures(route);
  const base = `/api/${route.project}/proxy/${route.slug}`;
  for (const op of sel.operations) b.add(base + op.path, op.method, upstreamOperation(b, route, op, cprefix, tag, idPrefix, failures));
}

function upstreamOperation(b: DocumentBuilder, route: EndpointRoute, sel: SelectedOperation, cprefix: string, tag: string, idPrefix: string, failures: readonly Failure[]): JsonObject {
  const { tags: _t, operationId: _i, responses, ...rest } = prefixRefs(sel.operation, cprefix) as JsonObject;
  const merged: JsonObject = { ...(asObject(responses) ?? {}) };
  for (const f of failures) merged[f.status] = merged[f.status] === undefined ? failureResponse(f) : mergeResponse(merged[f.status], f, b);
  const fallbackId = `${route.slug}.${sel.method.toLowerCase()}${sel.path.replace(/[^A-Za-z0-9]+/g, "_").replace(/_+$/, "")}`;
  return {
    ...rest,
    tags: [tag],
    // the upstream's operationId; when another endpoint of the project has it too, prefixed with the slug
    operationId: b.claimId(idPrefix + (sel.operationId ?? fallbackId), `${idPrefix}${route.slug}.${sel.operationId ?? fallbackId}`),
    security: security(route),
    responses: merged,
    ...hubgateExtensions(route),
  };
}

function projectMcpOperation(b: DocumentBuilder, table: RouteTable, project: string, idPrefix: string): void {
  const tools = [...table.endpoints.values()].filter((r) => r.project === project).flatMap((r) => r.mcpTools.map((t) => t.name));
  if (tools.length === 0) return;
  // a tag name no endpoint slug can be (slugs have no spaces)
  const tag = b.tag(idPrefix ? `${project} MCP server` : "MCP server", `**MCP server of project \`${project}\`**: its endpoints' operations as tools; each call takes the endpoint's proxy path (token, OAuth injection, rate limit, request log). Add it to an MCP client as a Streamable HTTP server with an \`Authorization: Bearer hg_live_…\` header.`);
  const shown = tools.slice(0, 50).map((t) => `\`${t}\``).join(", ");
  b.add(`/mcp/project/${project}`, "POST", {
    tags: [tag],
    summary: `MCP server (Streamable HTTP, stateless): ${tools.length} tool(s)`,
    description: `Tools: ${shown}${tools.length > 50 ? `, and ${tools.length - 50} more` : ""}.`,
    operationId: b.claimId(`${idPrefix}mcpServer`),
    requestBody: {
      required: true,
      content: { "application/json": { schema: { type: "object", description: "A JSON-RPC message: initialize, tools/list, tools/call, …", required: ["jsonrpc", "method"], properties: { jsonrpc: { const: "2.0" }, id: {}, method: { type: "string" }, params: { type: "object" } } } } },
    },
    security: [{ hubgateToken: [] }],
    responses: responsesOf(projectMcpFailures(project), { "200": { description: "The JSON-RPC answer", content: { "application/json": { schema: { type: "object" } } } } }),
  });
}

function projectSections(b: DocumentBuilder, table: RouteTable, project: string, scope: Scope): void {
  const idPrefix = scope.whole ? `${project}.` : "";
  for (const route of table.endpoints.values()) {
    if (route.project !== project) continue;
    const tag = b.tag(endpointTagName(scope, route), endpointTagDescription(route));
    if (route.openapi) upstreamOperations(b, scope, route, tag, idPrefix);
    else genericOperations(b, route, tag, idPrefix);
  }
  projectMcpOperation(b, table, project, idPrefix);
}

function projectLine(table: RouteTable, id: string): string {
  const p = table.config.projects.find((x) => x.id === id);
  return `- **${p?.name ?? id}** (\`${id}\`, docs at \`/docs/${id}\`)${p?.description ? `: ${p.description}` : ""}`;
}

export function buildGatewayDocument(table: RouteTable, own: readonly OwnOperation[], info: DocsInfo): BuiltDocument {
  const b = new DocumentBuilder();
  addOwnRoutes(b, own);
  githubSection(b, table);
  const extra = mcpSection(b, table);
  for (const p of table.config.projects) projectSections(b, table, p.id, { whole: true });
  const projects = table.config.projects.map((p) => projectLine(table, p.id));
  const doc = b.build(
    {
      title: info.title,
      version: info.version,
      description: [
        "hubgate's HTTP surface, generated from its configuration: the gateway's own routes, the GitHub pool, the MCP servers and every declared endpoint.",
        projects.length ? `\n**Projects**\n\n${projects.join("\n")}` : "",
      ].join("\n"),
    },
    table.publicUrl,
    extra,
  );
  return { json: JSON.stringify(doc), operations: b.operations };
}

export function buildProjectDocument(table: RouteTable, project: string, info: DocsInfo): BuiltDocument | null {
  const p = table.config.projects.find((x) => x.id === project);
  if (!p) return null;
  const b = new DocumentBuilder();
  projectSections(b, table, project, { whole: false });
  const doc = b.build(
    {
      title: `${p.name ?? p.id} — ${info.title}`,
      version: info.version,
      description: [
        p.description ?? "",
        `The endpoints of project \`${p.id}\` through hubgate. Call them at \`<server>/api/${p.id}/proxy/<endpoint>/…\` with a hubgate API token of this project (\`Authorization: Bearer hg_live_…\`, scope \`proxy\`); hubgate injects the upstream credentials.`,
      ]
        .filter(Boolean)
        .join("\n\n"),
    },
    table.publicUrl,
  );
  return { json: JSON.stringify(doc), operations: b.operations };
}

/** Documents built for a table, kept as long as the table is. */
const built = new WeakMap<RouteTable, { whole?: BuiltDocument; projects: Map<string, BuiltDocument | null> }>();

export function documentsOf(table: RouteTable, own: () => readonly OwnOperation[], info: DocsInfo) {
  let entry = built.get(table);
  if (!entry) built.set(table, (entry = { projects: new Map() }));
  const e = entry;
  return {
    whole: (): BuiltDocument => (e.whole ??= buildGatewayDocument(table, own(), info)),
    project: (id: string): BuiltDocument | null => {
      if (!e.projects.has(id)) e.projects.set(id, buildProjectDocument(table, id, info));
      return e.projects.get(id)!;
    },
  };
}

