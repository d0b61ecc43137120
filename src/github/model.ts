/** TypeBox model of the [github] section: the pooled, cached GitHub API base URL. */
import { Type, type Static } from "@sinclair/typebox";
import { Duration, SecretRef, Section, HttpUrl } from "../config/types.ts";

export const GithubIdentity = Section(
  {
    id: Type.String({ pattern: "^[A-Za-z0-9_.-]+$", description: "Identity name (metrics, logs, stats)" }),
    token: Type.Optional(SecretRef("Personal access token (secret reference) — a PAT identity")),
    app_id: Type.Optional(Type.String({ minLength: 1, description: "GitHub App id — an App installation identity (with installation_id and private_key)" })),
    installation_id: Type.Optional(Type.String({ minLength: 1, description: "GitHub App installation id" })),
    private_key: Type.Optional(SecretRef("GitHub App private key PEM (secret reference)")),
  },
  "One pooled GitHub identity: a PAT (token) or an App installation (app_id + installation_id + private_key)",
);

export const GithubCacheRule = Section(
  {
    pattern: Type.String({ minLength: 1, description: "Path glob, e.g. /repos/*/*/pulls* (* = one segment part, ** = any)" }),
    ttl: Duration("How long a cached response is served before it is revalidated"),
  },
  "A TTL rule for paths matching a pattern (first match wins)",
);

export const GithubSection = Section(
  {
    enabled: Type.Boolean({ default: true, description: "Serve the GitHub pool" }),
    api_url: HttpUrl("Upstream GitHub API base (GHES: https://HOST/api/v3)", "https://api.github.com"),
    allow_private: Type.Boolean({ default: false, description: "Allow api_url to resolve to a private/loopback address (GHES inside the network, tests)" }),
    mount: Type.String({ pattern: "^/", default: "/", description: "Path prefix the github.com layout is served under; the GHES layout /api/v3 is served too" }),
    allowed_owners: Type.Array(Type.String({ minLength: 1 }), { default: [], description: "Owners (users/orgs) whose repositories may be reached; empty allows every owner" }),
    clients: Type.Union([Type.Literal("open"), Type.Literal("token")], {
      default: "token",
      description: "\"token\": reads need a hubgate API token with scope github:read; \"open\": no client auth (private networks only)",
    }),
    max_concurrency: Type.Integer({ minimum: 1, default: 100, description: "Upstream requests in flight per identity (GitHub allows about 100)" }),
    queue_timeout: Duration("How long a request may wait for an upstream slot before 503", "10s"),
    request_timeout: Duration("Upstream response-header timeout", "30s"),
    cache_max_bytes: Type.Integer({ minimum: 0, default: 64 * 1024 * 1024, description: "Byte budget of the response cache (0 disables caching)" }),
    cache_default_ttl: Duration("TTL for cached reads matched by no rule", "60s"),
    cache_rules: Type.Array(GithubCacheRule, { default: [], description: "Per-path TTL rules" }),
    identities: Type.Array(GithubIdentity, { default: [], description: "Pooled identities (also from env HUBGATE_GITHUB_PAT_<ID>)" }),
  },
  "GitHub pool",
  { default: {} },
);

export type GithubConfig = Static<typeof GithubSection>;
