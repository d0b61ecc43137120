/** TypeBox model of [[projects]] and their [[projects.endpoints]]. */
import { Type, type Static } from "@sinclair/typebox";
import { Duration, SecretRef, Section, HttpUrl } from "../config/types.ts";

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;
export const HttpMethod = Type.Union(METHODS.map((m) => Type.Literal(m)), { description: "HTTP method" });

export const McpToolDecl = Section(
  {
    name: Type.String({ pattern: "^[A-Za-z0-9_-]{1,64}$", description: "MCP tool name" }),
    description: Type.String({ default: "", description: "Tool description shown to models" }),
    method: HttpMethod,
    path: Type.String({ pattern: "^/", description: "Path template below the endpoint, e.g. /repos/{owner}/{repo}" }),
    input_schema: Type.Optional(Type.String({ minLength: 2, description: "JSON Schema (as a JSON string) of the tool input" })),
  },
  "An endpoint operation exposed as a tool of the project's MCP server",
);

export const EndpointDecl = Section(
  {
    name: Type.Optional(Type.String({ minLength: 1, description: "Display name" })),
    description: Type.Optional(Type.String({ minLength: 1, description: "What the endpoint is for, shown in the generated docs (Markdown)" })),
    slug: Type.String({ pattern: "^[a-z0-9][a-z0-9_-]{0,62}$", description: "URL segment: /api/<project>/proxy/<slug>/..." }),
    upstream_url: HttpUrl("Upstream base URL; the client's remaining path is appended below it"),
    allowed_methods: Type.Array(HttpMethod, { default: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"], description: "Methods passed through (405 otherwise)" }),
    auth_mode: Type.Union([Type.Literal("token"), Type.Literal("none")], { default: "token", description: "\"token\": a hubgate API token with scope proxy is required; \"none\": open" }),
    oauth_connection: Type.Optional(Type.String({ minLength: 1, description: "Name of an [[oauth_connections]] entry whose token is injected" })),
    timeout: Duration("Upstream response-header timeout (504 beyond)", "30s"),
    rate_limit_per_minute: Type.Optional(Type.Integer({ minimum: 1, description: "Requests per minute per client token (429 beyond)" })),
    headers: Type.Record(Type.String({ pattern: "^[A-Za-z0-9-]+$" }), SecretRef("Static header value (secret reference)"), {
      default: {},
      description: "Static headers added to every upstream request",
    }),
    allow_private: Type.Boolean({ default: false, description: "Allow an upstream on loopback/private addresses (SSRF guard off for this endpoint)" }),
    mcp_tools: Type.Array(McpToolDecl, { default: [], description: "Operations exposed as MCP tools at /mcp/project/<project>" }),
    openapi: Type.Optional(
      Type.String({
        minLength: 1,
        description: "The upstream's own OpenAPI 3.x document (JSON or YAML): file:<path> (relative to the config file's directory) or an https URL (http only with allow_private), read at start-up and on every reload",
      }),
    ),
    operations: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        minItems: 1,
        description: "Which operations of the openapi document are documented (and become tools): operationIds, path globs (/repos/*/*/issues, ** across segments), or \"METHOD /glob\"",
      }),
    ),
    mcp_tools_from_openapi: Type.Boolean({ default: false, description: "Each documented operation of the openapi document is also a tool of /mcp/project/<project>" }),
  },
  "A proxied endpoint",
);

export const ProjectTokenDecl = Section(
  {
    name: Type.String({ minLength: 1, description: "Token name (listings, logs)" }),
    token: SecretRef("The token value (hg_live_… / hg_test_…), as a secret reference"),
    scopes: Type.Array(Type.String({ minLength: 1 }), { default: ["proxy"], description: "Scopes granted" }),
  },
  "An API token declared in config (GitOps)",
);

export const ProjectDecl = Section(
  {
    id: Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$", description: "Project id used in URLs (a slug or a UUID)" }),
    name: Type.Optional(Type.String({ minLength: 1, description: "Display name" })),
    description: Type.Optional(Type.String({ minLength: 1, description: "What the project is, shown in the generated docs (Markdown)" })),
    environment: Type.Optional(Type.String({ minLength: 1, description: "Free-form environment label (production, staging, …)" })),
    endpoints: Type.Array(EndpointDecl, { default: [], description: "Endpoints of this project" }),
    tokens: Type.Array(ProjectTokenDecl, { default: [], description: "API tokens declared in config" }),
  },
  "A project",
);

export const Projects = Type.Array(ProjectDecl, { default: [], description: "Projects and their endpoints" });
export type ProjectConfig = Static<typeof ProjectDecl>;
export type EndpointConfig = Static<typeof EndpointDecl>;

/** The route-table key of an endpoint. */
export function endpointKey(project: string, slug: string): string {
  return `${project}/${slug}`;
}
