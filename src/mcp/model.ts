/** TypeBox model of the [mcp] section: the OAuth 2.1 gateway in front of remote MCP servers. */
import { Type, type Static } from "@sinclair/typebox";
import { Duration, Section, HttpUrl } from "../config/types.ts";

export const McpUpstream = Section(
  {
    name: Type.String({ pattern: "^[a-z0-9][a-z0-9_-]{0,62}$", description: "Served at /mcp/<name>" }),
    url: HttpUrl("Upstream MCP server (Streamable HTTP) URL"),
    oauth_connection: Type.Optional(Type.String({ minLength: 1, description: "Connection each user authorizes upstream with; else discovered from the upstream's RFC 9728 metadata" })),
    tools_allow: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: "Only these tools are listed and callable" })),
    tools_deny: Type.Array(Type.String({ minLength: 1 }), { default: [], description: "These tools are hidden and refused" }),
    timeout: Duration("Upstream response-header timeout", "60s"),
    allow_private: Type.Boolean({ default: false, description: "Allow an upstream on loopback/private addresses" }),
  },
  "A remote MCP server behind the gateway",
);

export const McpUser = Section(
  {
    username: Type.String({ minLength: 1, description: "Gateway login name" }),
    password_hash: Type.String({ pattern: "^\\$argon2id\\$", description: "argon2id hash (hubgate hash-password prints one)" }),
  },
  "A gateway user",
);

export const McpSection = Section(
  {
    default_upstream: Type.Optional(Type.String({ minLength: 1, description: "Upstream served at /mcp (default: the first)" })),
    upstreams: Type.Array(McpUpstream, { default: [], description: "Remote MCP servers" }),
    users: Type.Array(McpUser, { default: [], description: "Gateway users (password login)" }),
    allowed_github_users: Type.Array(Type.String({ minLength: 1 }), { default: [], description: "GitHub logins allowed in (upstream identity allowlist)" }),
    allowed_github_orgs: Type.Array(Type.String({ minLength: 1 }), { default: [], description: "GitHub orgs whose members are allowed in" }),
    access_token_ttl: Duration("Lifetime of gateway access tokens", "1h"),
    refresh_token_ttl: Duration("Lifetime of gateway refresh tokens", "30d"),
  },
  "MCP OAuth gateway",
  { default: {} },
);

export type McpConfig = Static<typeof McpSection>;
