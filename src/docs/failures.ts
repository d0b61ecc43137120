/**
 * The gateway's own answers, as documented responses: the failure table of the README ("What happens
 * on each call") for an endpoint, the GitHub pool's, the MCP servers'. Codes are ErrorCodes, so a code
 * documented here is one the gateway can send (src/core/errors.ts).
 */
import { ERROR_CODES, type ErrorCode } from "../core/errors.ts";
import type { EndpointRoute } from "../endpoints/compile.ts";
import type { JsonObject } from "../openapi/types.ts";

export interface Failure {
  /** HTTP status, as an OpenAPI responses key */
  readonly status: string;
  readonly codes: readonly ErrorCode[];
  readonly description: string;
  readonly headers?: Readonly<Record<string, JsonObject>>;
}

/** components.schemas.HubgateError: every error body of the gateway */
export const ERROR_SCHEMA_NAME = "HubgateError";
export const ERROR_SCHEMA: JsonObject = {
  type: "object",
  description: "hubgate's own error answer (the upstream's errors pass through unchanged)",
  required: ["error", "message"],
  properties: {
    error: { type: "string", enum: [...ERROR_CODES], description: "Stable machine-readable code" },
    message: { type: "string", description: "For people; never holds a secret" },
  },
};

const header = (description: string, type = "string"): JsonObject => ({ description, schema: { type } });
const RATE_HEADERS = {
  "retry-after": header("Seconds to wait", "integer"),
  "x-ratelimit-limit": header("Requests allowed per window", "integer"),
  "x-ratelimit-remaining": header("Requests left in this window", "integer"),
  "x-ratelimit-reset": header("When the window resets (Unix seconds)", "integer"),
};

export function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** What an endpoint's client can get from hubgate itself, by status. */
export function endpointFailures(route: EndpointRoute): Failure[] {
  const out: Failure[] = [];
  const token = route.authMode === "token";
  if (token)
    out.push({
      status: "401",
      codes: ["unauthorized", "invalid_token"],
      description: "Missing, invalid, expired or revoked hubgate API token",
      headers: { "www-authenticate": header("Bearer challenge") },
    });
  out.push({
    status: "403",
    codes: token ? ["insufficient_scope", "wrong_project", "ssrf_refused"] : ["ssrf_refused"],
    description: token
      ? `The token lacks scope \`proxy\` (insufficient_scope) or belongs to another project than \`${route.project}\` (wrong_project); or the SSRF guard refused the upstream's address (ssrf_refused)`
      : "The SSRF guard refused the upstream's address",
  });
  out.push({
    status: "405",
    codes: ["method_not_allowed"],
    description: `The method is not one of this endpoint's allowed_methods (${route.allowedMethods.join(", ")})`,
    headers: { allow: header("The allowed methods") },
  });
  const limited: ErrorCode[] = [];
  if (route.rateLimitPerMinute !== undefined) limited.push("rate_limited");
  if (token) limited.push("auth_throttled");
  if (limited.length)
    out.push({
      status: "429",
      codes: limited,
      description: [
        route.rateLimitPerMinute !== undefined ? `More than ${route.rateLimitPerMinute} requests per minute with one token (rate_limited)` : "",
        token ? "too many failed credential checks from this address (auth_throttled)" : "",
      ]
        .filter(Boolean)
        .join("; or "),
      headers: RATE_HEADERS,
    });
  out.push({
    status: "502",
    codes: route.oauthConnection !== undefined ? ["oauth_connection_failed", "upstream_unreachable"] : ["upstream_unreachable"],
    description:
      route.oauthConnection !== undefined
        ? `The OAuth connection \`${route.oauthConnection}\` is not connected or its refresh failed (oauth_connection_failed); or the upstream could not be reached (upstream_unreachable)`
        : "The upstream could not be reached",
  });
  out.push({ status: "504", codes: ["upstream_timeout"], description: `The upstream sent no response headers within ${seconds(route.timeoutMs)}` });
  return out;
}

export function githubFailures(read: boolean, clientsToken: boolean): Failure[] {
  const out: Failure[] = [];
  if (!read) out.push({ status: "401", codes: ["github_token_required"], description: "Writes and mutations need the caller's own GitHub token", headers: { "www-authenticate": header("Bearer challenge") } });
  else if (clientsToken)
    out.push({ status: "401", codes: ["unauthorized", "invalid_token"], description: "Reads need a hubgate API token with scope github:read (or the caller's own GitHub token)", headers: { "www-authenticate": header("Bearer challenge") } });
  out.push({ status: "403", codes: read && clientsToken ? ["owner_not_allowed", "insufficient_scope"] : ["owner_not_allowed"], description: "Not provably scoped to the allowed owners, or the token lacks scope github:read" });
  out.push({ status: "429", codes: ["rate_limited", "auth_throttled"], description: "Every pooled identity is out of budget for this bucket; or too many failed credential checks", headers: RATE_HEADERS });
  out.push({ status: "502", codes: ["upstream_unreachable"], description: "GitHub could not be reached" });
  out.push({ status: "503", codes: ["upstream_busy", "rate_limited"], description: "Every upstream slot stayed busy for queue_timeout, or no usable identity", headers: { "retry-after": RATE_HEADERS["retry-after"] } });
  out.push({ status: "504", codes: ["upstream_timeout"], description: "GitHub sent no response headers within request_timeout" });
  return out;
}

export function projectMcpFailures(project: string): Failure[] {
  return [
    { status: "401", codes: ["unauthorized", "invalid_token"], description: "Missing, invalid, expired or revoked hubgate API token", headers: { "www-authenticate": header("Bearer challenge") } },
    { status: "403", codes: ["insufficient_scope", "wrong_project"], description: `The token lacks scope \`proxy\` or belongs to another project than \`${project}\`` },
    { status: "429", codes: ["auth_throttled"], description: "Too many failed credential checks from this address", headers: RATE_HEADERS },
  ];
}

export function mcpUpstreamFailures(): Failure[] {
  return [
    { status: "401", codes: ["unauthorized", "invalid_token"], description: "No valid access token for this resource; WWW-Authenticate names the resource metadata", headers: { "www-authenticate": header("Bearer challenge with resource_metadata and scope") } },
    { status: "403", codes: ["insufficient_scope", "forbidden_origin"], description: "The token lacks scope mcp, or a browser Origin other than the gateway's" },
    { status: "429", codes: ["auth_throttled"], description: "Too many failed credential checks from this address", headers: RATE_HEADERS },
    { status: "502", codes: ["upstream_unreachable"], description: "The MCP upstream could not be reached" },
    { status: "504", codes: ["upstream_timeout"], description: "The MCP upstream sent no response headers in time" },
  ];
}

/** A failure as an OpenAPI response object. */
export function failureResponse(f: Failure): JsonObject {
  return {
    description: `${f.description} — \`${f.codes.join("`, `")}\``,
    ...(f.headers ? { headers: f.headers } : {}),
    content: { "application/json": { schema: failureSchema(f) } },
  };
}

/** The error body of one failure: HubgateError with `error` narrowed to the codes of that failure. */
export function failureSchema(f: Failure): JsonObject {
  return {
    type: "object",
    required: ["error", "message"],
    properties: { error: { type: "string", enum: [...f.codes] }, message: { type: "string" } },
  };
}
