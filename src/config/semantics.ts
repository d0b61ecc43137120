/**
 * Cross-key checks the schema cannot express: unique names, references that must exist, values
 * that must agree. Each issue names the key path it is about.
 */
import type { Config } from "./schema.ts";
import type { ConfigIssue } from "./validate.ts";
import { durationMs } from "./types.ts";
import { parseOperationFilter } from "../openapi/filter.ts";
import { parseDocumentRef } from "../openapi/ref.ts";

/** /docs/json and /docs/assets/… are the gateway's own; a project's docs live at /docs/<project> */
const RESERVED_PROJECT_IDS = new Set(["json", "assets"]);

function url(path: string, v: string | undefined, issues: ConfigIssue[], opts: { noQuery?: boolean } = {}): void {
  if (v === undefined) return;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    issues.push({ path, message: `expected an absolute http(s) URL, got ${JSON.stringify(v)}` });
    return;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") issues.push({ path, message: `expected an http or https URL, got scheme ${u.protocol}` });
  if (u.username || u.password) issues.push({ path, message: "credentials in URLs are not allowed; use a secret reference" });
  if (opts.noQuery && (u.search || u.hash)) issues.push({ path, message: "must not carry a query string or fragment" });
}

function unique<T>(items: T[], key: (t: T) => string, path: (i: number) => string, what: string, issues: ConfigIssue[]): void {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const k = key(item);
    const first = seen.get(k);
    if (first !== undefined) issues.push({ path: path(i), message: `duplicate ${what} ${JSON.stringify(k)} (first at ${path(first)})` });
    else seen.set(k, i);
  });
}

export function checkSemantics(c: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const s = c.server;
  url("server.public_url", s.public_url, issues, { noQuery: true });
  if ((s.tls_cert === undefined) !== (s.tls_key === undefined))
    issues.push({ path: s.tls_cert ? "server.tls_key" : "server.tls_cert", message: "tls_cert and tls_key must be set together" });
  if (durationMs(s.idle_timeout) > 255_000) issues.push({ path: "server.idle_timeout", message: "must be at most 255 s (Bun's limit)" });

  if (c.storage.backend === "postgres" && c.storage.url === undefined)
    issues.push({ path: "storage.url", message: 'backend = "postgres" needs url (a secret reference to the PostgreSQL URL)' });
  if (c.storage.backend === "sqlite" && c.storage.url !== undefined)
    issues.push({ path: "storage.backend", message: 'url is set but backend is "sqlite": set backend = "postgres" to use it, or remove url' });

  if (c.server.workers !== 1 && c.state.backend === "memory")
    issues.push({
      path: "server.workers",
      message:
        'several workers need [state] backend = "redis": rate limits, single flight and one refresh per grant must hold across processes, and process memory is not shared (set workers = 1, or run Redis)',
    });
  if (c.state.backend === "redis" && c.state.url === undefined)
    issues.push({ path: "state.url", message: 'backend = "redis" needs url (a secret reference to the Redis URL)' });
  if (c.state.backend === "memory" && c.state.url !== undefined)
    issues.push({ path: "state.backend", message: 'url is set but backend is "memory": set backend = "redis" to share state through it, or remove url' });

  url("github.api_url", c.github.api_url, issues, { noQuery: true });
  unique(c.github.identities, (x) => x.id, (i) => `github.identities[${i}].id`, "identity id", issues);
  c.github.identities.forEach((id, i) => {
    const isPat = id.token !== undefined;
    const app = [id.app_id, id.installation_id, id.private_key];
    const isApp = app.some((x) => x !== undefined);
    if (isPat === isApp) issues.push({ path: `github.identities[${i}]`, message: "set either token (a PAT) or app_id + installation_id + private_key (an App installation)" });
    else if (isApp && app.some((x) => x === undefined)) issues.push({ path: `github.identities[${i}]`, message: "an App identity needs app_id, installation_id and private_key" });
  });

  const connections = new Set(c.oauth_connections.map((x) => x.name));
  unique(c.oauth_connections, (x) => x.name, (i) => `oauth_connections[${i}].name`, "connection name", issues);
  c.oauth_connections.forEach((oc, i) => {
    for (const k of ["authorization_url", "token_url", "revocation_url"] as const) url(`oauth_connections[${i}].${k}`, oc[k], issues);
  });

  unique(c.projects, (p) => p.id, (i) => `projects[${i}].id`, "project id", issues);
  c.projects.forEach((p, i) => {
    if (RESERVED_PROJECT_IDS.has(p.id)) issues.push({ path: `projects[${i}].id`, message: `"${p.id}" is reserved: the docs of a project are served at /docs/<project>, and /docs/${p.id} is the gateway's own` });
    unique(p.endpoints, (e) => e.slug, (j) => `projects[${i}].endpoints[${j}].slug`, "endpoint slug", issues);
    unique(p.tokens, (t) => t.name, (j) => `projects[${i}].tokens[${j}].name`, "token name", issues);
    p.endpoints.forEach((e, j) => {
      const at = `projects[${i}].endpoints[${j}]`;
      url(`${at}.upstream_url`, e.upstream_url, issues, { noQuery: true });
      if (e.oauth_connection !== undefined && !connections.has(e.oauth_connection))
        issues.push({ path: `${at}.oauth_connection`, message: `no [[oauth_connections]] entry named ${JSON.stringify(e.oauth_connection)}` });
      if (e.openapi !== undefined) {
        const ref = parseDocumentRef(e.openapi, e.allow_private);
        if ("error" in ref) issues.push({ path: `${at}.openapi`, message: ref.error });
      }
      if (e.operations !== undefined) {
        if (e.openapi === undefined) issues.push({ path: `${at}.operations`, message: "operations selects from the upstream's OpenAPI document: set openapi too" });
        const f = parseOperationFilter(e.operations);
        if ("error" in f) issues.push({ path: `${at}.operations[${f.index}]`, message: f.error });
      }
      if (e.mcp_tools_from_openapi && e.openapi === undefined)
        issues.push({ path: `${at}.mcp_tools_from_openapi`, message: "tools are made from the upstream's OpenAPI document: set openapi too" });
      unique(e.mcp_tools, (t) => t.name, (k) => `${at}.mcp_tools[${k}].name`, "tool name", issues);
      e.mcp_tools.forEach((t, k) => {
        if (t.input_schema === undefined) return;
        try {
          const parsed: unknown = JSON.parse(t.input_schema);
          if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
        } catch {
          issues.push({ path: `${at}.mcp_tools[${k}].input_schema`, message: "expected a JSON Schema object as a JSON string" });
        }
      });
    });
  });

  const m = c.mcp;
  unique(m.upstreams, (u) => u.name, (i) => `mcp.upstreams[${i}].name`, "upstream name", issues);
  unique(m.users, (u) => u.username, (i) => `mcp.users[${i}].username`, "username", issues);
  m.upstreams.forEach((u, i) => {
    url(`mcp.upstreams[${i}].url`, u.url, issues);
    if (u.oauth_connection !== undefined && !connections.has(u.oauth_connection))
      issues.push({ path: `mcp.upstreams[${i}].oauth_connection`, message: `no [[oauth_connections]] entry named ${JSON.stringify(u.oauth_connection)}` });
  });
  if (m.default_upstream !== undefined && !m.upstreams.some((u) => u.name === m.default_upstream))
    issues.push({ path: "mcp.default_upstream", message: `no [[mcp.upstreams]] entry named ${JSON.stringify(m.default_upstream)}` });
  if ((m.allowed_github_users.length || m.allowed_github_orgs.length) && !m.upstreams.some((u) => u.oauth_connection !== undefined))
    issues.push({ path: "mcp.allowed_github_users", message: "signing in with a GitHub account needs an [[mcp.upstreams]] entry with an oauth_connection to sign in through" });
  if (m.upstreams.length > 0 && m.users.length === 0 && m.allowed_github_users.length === 0 && m.allowed_github_orgs.length === 0)
    issues.push({ path: "mcp", message: "MCP upstreams are declared but nobody can log in: add [[mcp.users]] or allowed_github_users / allowed_github_orgs (there are no default credentials)" });
  return issues;
}
