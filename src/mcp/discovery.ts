/**
 * Upstreams without an oauth_connection: their authorization server is discovered from the upstream's
 * RFC 9728 metadata (at the path-inserted well-known URL, else the one the upstream's 401 names), its
 * RFC 8414 metadata is read, and — there being no client id configured — hubgate registers itself
 * there (RFC 7591) with redirect URI <issuer>/upstream/callback. The registration is stored sealed and
 * reused; the result is an ordinary connection the OAuth machinery uses like a configured one.
 *
 * Every call goes through the guarded outbound client under the upstream's own `allow_private`: the
 * metadata of an upstream names further URLs (its authorization server, registration and token
 * endpoints), and those are trusted exactly as far as the upstream itself.
 */
import type { McpDeps } from "./deps.ts";
import type { ConnectionRoute } from "../oauth/compile.ts";
import type { McpUpstreamRoute } from "./compile.ts";
import { issuer } from "./resources.ts";
import { isGatewayError } from "../core/errors.ts";
import { request, type RequestOptions } from "../proxy/outbound.ts";

const TIMEOUT_MS = 10_000;
/** metadata documents and registration answers are a few KB */
const MAX_BYTES = 256 * 1024;

const policy = (upstream: McpUpstreamRoute): RequestOptions => ({ allowPrivate: upstream.allowPrivate, timeoutMs: TIMEOUT_MS, maxBytes: MAX_BYTES });

/** A metadata document, or null when there is none; a refusal by the SSRF guard is an error, never "no metadata". */
async function getJson(url: string, upstream: McpUpstreamRoute): Promise<Record<string, unknown> | null> {
  try {
    const r = await request(url, { headers: { accept: "application/json" } }, policy(upstream));
    if (!r.ok) return null;
    const body: unknown = await r.json();
    return body && typeof body === "object" && !Array.isArray(body) ? (body as Record<string, unknown>) : null;
  } catch (e) {
    if (isGatewayError(e) && e.code === "ssrf_refused") throw e;
    return null;
  }
}

/** RFC 9728 §3: the well-known segment goes between the host and the resource's path. */
export function protectedResourceMetadataUrl(resource: URL): string {
  const path = resource.pathname.replace(/\/+$/, "");
  return `${resource.origin}/.well-known/oauth-protected-resource${path}`;
}

/** The upstream's authorization server metadata; null when the upstream wants no authorization at all. */
async function authorizationServer(upstream: McpUpstreamRoute): Promise<Record<string, unknown> | null> {
  let prm = await getJson(protectedResourceMetadataUrl(upstream.url), upstream);
  if (!prm) {
    // fall back to what the upstream's own 401 names; no 401 at all means an open upstream
    const r = await request(upstream.url, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" }, body: "{}" }, policy(upstream)).catch((e: unknown) => {
      if (isGatewayError(e) && e.code === "ssrf_refused") throw e;
      return null;
    });
    if (r && r.status !== 401) return null;
    const m = /resource_metadata="([^"]+)"/.exec(r?.headers.get("www-authenticate") ?? "");
    if (m) prm = await getJson(m[1]!, upstream);
  }
  const as = Array.isArray(prm?.authorization_servers) ? String(prm!.authorization_servers[0]) : null;
  if (!as) throw new Error(`the upstream ${upstream.name} publishes no RFC 9728 metadata naming an authorization server`);
  let u: URL;
  try {
    u = new URL(as);
  } catch {
    throw new Error(`the upstream ${upstream.name} names an authorization server that is not a URL`);
  }
  const path = u.pathname.replace(/\/+$/, "");
  const meta =
    (await getJson(`${u.origin}/.well-known/oauth-authorization-server${path}`, upstream)) ??
    (await getJson(`${u.origin}${path}/.well-known/openid-configuration`, upstream)) ??
    (await getJson(`${u.origin}/.well-known/openid-configuration${path}`, upstream));
  if (!meta || typeof meta.authorization_endpoint !== "string" || typeof meta.token_endpoint !== "string")
    throw new Error(`the authorization server ${as} of ${upstream.name} publishes no usable metadata`);
  return meta;
}

const open = new Map<string, number>();

/** What discovery uses: the OAuth connections, single flight, the table in force (for the issuer), the sealed registrations, the audit log. */
export type DiscoveryDeps = Pick<McpDeps, "oauth" | "flights" | "table" | "sealedKv" | "audit">;

/** The connection to use for an upstream: its configured one, or one discovered and registered once; null for an open upstream. */
export async function upstreamConnection(d: DiscoveryDeps, upstream: McpUpstreamRoute): Promise<string | null> {
  if (upstream.oauthConnection) return upstream.oauthConnection;
  const name = `mcp-auto:${upstream.name}`;
  if (d.oauth.hasConnection(name)) return name;
  if ((open.get(upstream.url.href) ?? 0) > Date.now()) return null;
  return d.flights.run(`mcp-discover:${upstream.name}`, async () => {
    if (d.oauth.hasConnection(name)) return name;
    const meta = await authorizationServer(upstream);
    if (!meta) {
      open.set(upstream.url.href, Date.now() + 5 * 60_000);
      return null;
    }
    const redirectUri = `${issuer(d.table())}/upstream/callback`;
    const key = `${upstream.url.href} ${String(meta.issuer ?? meta.token_endpoint)} ${redirectUri}`;
    let reg = await d.sealedKv.get("mcp-upstream-client", key).then((v) => (v ? (JSON.parse(v) as Record<string, string>) : null));
    if (!reg) {
      if (typeof meta.registration_endpoint !== "string") throw new Error(`${upstream.name}: the authorization server supports no dynamic registration; configure an oauth_connection`);
      const r = await request(
        meta.registration_endpoint,
        {
          method: "POST",
          headers: { "content-type": "application/json", accept: "application/json" },
          body: JSON.stringify({ client_name: "hubgate", redirect_uris: [redirectUri], grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], token_endpoint_auth_method: "client_secret_post" }),
        },
        policy(upstream),
      );
      const body = (await r.json().catch(() => ({}))) as Record<string, string>;
      if (!r.ok || !body.client_id) throw new Error(`${upstream.name}: dynamic registration failed (${body.error ?? r.status})`);
      reg = { client_id: body.client_id, ...(body.client_secret ? { client_secret: body.client_secret } : {}) };
      await d.sealedKv.put("mcp-upstream-client", key, JSON.stringify(reg));
      await d.audit.append({ kind: "mcp.upstream_registered", subject: upstream.name, detail: { issuer: meta.issuer, client_id: reg.client_id } });
    }
    const scopes = Array.isArray(meta.scopes_supported) ? (meta.scopes_supported as string[]).filter((s) => s === "offline_access" || s === "openid") : [];
    const conn: ConnectionRoute = {
      name,
      authorizationUrl: meta.authorization_endpoint as string,
      tokenUrl: meta.token_endpoint as string,
      revocationUrl: typeof meta.revocation_endpoint === "string" ? meta.revocation_endpoint : undefined,
      scopes,
      scopeSeparator: " ",
      clientId: reg.client_id!,
      clientSecret: reg.client_secret,
      tokenAuthMethod: reg.client_secret ? "client_secret_post" : "none",
      tokenRequest: "form",
      extraAuthorizeParams: { resource: upstream.url.href, ...(scopes.includes("offline_access") ? { prompt: "consent" } : {}) },
      pkce: true,
      allowPrivate: upstream.allowPrivate,
    };
    d.oauth.registerConnection(conn);
    return name;
  });
}
