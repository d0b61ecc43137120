/** Routes of the MCP OAuth gateway: discovery, registration, authorization, tokens, and the proxied MCP servers. */
import { Elysia } from "elysia";
import type { McpDeps } from "./deps.ts";
import { GatewayError } from "../core/errors.ts";
import { McpAuthorizer } from "./authorize.ts";
import { register } from "./clients.ts";
import { oauthError } from "./errors.ts";
import { repeatedMember, repeatedParams, repeatedParamsError } from "./params.ts";
import { messagePage } from "../core/html.ts";
import { reportFailure } from "../server/pipeline.ts";
import { McpProxy } from "./proxy.ts";
import { issuer, resourceFor, SCOPES } from "./resources.ts";
import { revokeEndpoint, tokenEndpoint } from "./tokens.ts";

const CORS = { "access-control-allow-origin": "*", "cache-control": "no-store" };
const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...CORS, ...headers } });

async function form(request: Request): Promise<URLSearchParams> {
  const type = request.headers.get("content-type") ?? "";
  if (!type.startsWith("application/x-www-form-urlencoded")) throw oauthError("invalid_request", "expected application/x-www-form-urlencoded");
  const params = new URLSearchParams(await request.text());
  const repeated = repeatedParamsError(repeatedParams(params));
  if (repeated) throw repeated;
  return params;
}

export function mcpPlugin(d: McpDeps) {
  const auth = new McpAuthorizer(d);
  const proxy = new McpProxy(d);
  const detail = (summary: string) => ({ tags: ["mcp"], summary });

  const asMetadata = () => {
    const iss = issuer(d.table());
    return {
      issuer: iss,
      authorization_endpoint: `${iss}/authorize`,
      token_endpoint: `${iss}/token`,
      registration_endpoint: `${iss}/register`,
      revocation_endpoint: `${iss}/revoke`,
      response_types_supported: ["code"],
      response_modes_supported: ["query"],
      grant_types_supported: ["authorization_code", "refresh_token"],
      code_challenge_methods_supported: ["S256"],
      token_endpoint_auth_methods_supported: ["none", "client_secret_post", "client_secret_basic"],
      revocation_endpoint_auth_methods_supported: ["none", "client_secret_post", "client_secret_basic"],
      scopes_supported: [...SCOPES],
      client_id_metadata_document_supported: true,
      authorization_response_iss_parameter_supported: true,
    };
  };
  const prMetadata = (name: string) => {
    const t = d.table();
    if (!t.mcpUpstreams.has(name)) throw new GatewayError("not_found", "No such protected resource", 404);
    return { resource: resourceFor(t, name), authorization_servers: [issuer(t)], scopes_supported: ["mcp"], bearer_methods_supported: ["header"], resource_name: `hubgate MCP ${name || "(default)"}` };
  };
  // these render a GatewayError themselves (RFC 6749 JSON, an HTML page), so they report it as the pipeline would
  const oauthJson = async (request: Request, fn: () => Promise<unknown>) => {
    try {
      return json(await fn());
    } catch (e) {
      if (!(e instanceof GatewayError)) throw e;
      reportFailure(d.log, e, request);
      return json({ error: e.code, error_description: e.message }, e.status, e.headers);
    }
  };
  const page = async (request: Request, fn: () => Promise<Response>) => {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof GatewayError)) throw e;
      reportFailure(d.log, e, request);
      return messagePage(e.status, "Cannot continue", e.message);
    }
  };

  return new Elysia({ name: "hubgate-mcp" })
    .get("/.well-known/oauth-authorization-server", () => json(asMetadata()), { detail: detail("RFC 8414 authorization server metadata") })
    .get("/.well-known/openid-configuration", () => json(asMetadata()), { detail: detail("Same metadata at the OpenID path") })
    .get("/.well-known/oauth-protected-resource", () => json(prMetadata("")), { detail: detail("RFC 9728 metadata of the default MCP resource") })
    .get("/.well-known/oauth-protected-resource/mcp", () => json(prMetadata("")), { detail: detail("RFC 9728 metadata of /mcp") })
    .get("/.well-known/oauth-protected-resource/mcp/:name", ({ params }) => json(prMetadata(params.name)), { detail: detail("RFC 9728 metadata of /mcp/<name>") })
    .post(
      "/register",
      async ({ request }) =>
        oauthJson(request, async () => {
          const text = await request.text();
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            throw oauthError("invalid_client_metadata", "the body must be a JSON object");
          }
          if (typeof body !== "object" || body === null || Array.isArray(body)) throw oauthError("invalid_client_metadata", "the body must be a JSON object");
          // RFC 7591 metadata is a JSON object, so a repeated parameter here is a member name twice in one object
          // (JSON.parse would keep the last silently); RFC 7591 §3.2.2 calls a bad metadata body invalid_client_metadata
          const twice = repeatedMember(text);
          if (twice !== null) throw oauthError("invalid_client_metadata", `${JSON.stringify(twice)} appears more than once`);
          return register(d, body as Record<string, unknown>);
        }).then((r) => (r.status === 200 ? new Response(r.body, { status: 201, headers: r.headers }) : r)),
      { parse: "none", detail: detail("RFC 7591 dynamic client registration") },
    )
    .get("/authorize", ({ request }) => page(request, () => auth.authorize(new URL(request.url).searchParams)), { detail: detail("Authorization endpoint: gateway login, consent, upstream login") })
    .post("/authorize/login", ({ request }) => page(request, async () => auth.login(await form(request), d.clientAddress(request))), { parse: "none", detail: detail("Gateway login form") })
    .post("/authorize/upstream-login", ({ request }) => page(request, async () => auth.upstreamLogin(await form(request))), { parse: "none", detail: detail("Sign in with the upstream account (allowed_github_users / allowed_github_orgs)") })
    .post("/authorize/consent", ({ request }) => page(request, async () => auth.consent(await form(request))), { parse: "none", detail: detail("Consent form") })
    .get("/upstream/callback", ({ request }) => page(request, () => auth.upstreamCallback(new URL(request.url).searchParams)), { detail: detail("Upstream OAuth redirect URI of the MCP flow") })
    .post("/token", ({ request }) => oauthJson(request, async () => tokenEndpoint(d, request, await form(request))), { parse: "none", detail: detail("Token endpoint") })
    .post(
      "/revoke",
      ({ request }) =>
        oauthJson(request, async () => {
          await revokeEndpoint(d, request, await form(request));
          return {};
        }),
      { parse: "none", detail: detail("RFC 7009 revocation") },
    )
    .all("/mcp", ({ request }) => proxy.handle(request, ""), { parse: "none", detail: detail("The default MCP server (Streamable HTTP)") })
    .all("/mcp/:name", ({ request, params }) => proxy.handle(request, params.name), { parse: "none", detail: detail("A declared MCP server (Streamable HTTP)") });
}
