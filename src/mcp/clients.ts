/**
 * OAuth clients of the MCP authorization server: dynamic registration (RFC 7591) with redirect-URI
 * rules by application type, and Client ID Metadata Documents (an https URL as client_id, fetched
 * through the SSRF guard, validated, cached for 5 minutes).
 */
import { randomToken, sha256 } from "../crypto/hash.ts";
import type { McpDeps } from "./deps.ts";
import { request } from "../proxy/outbound.ts";
import { isGatewayError } from "../core/errors.ts";
import { pathOf } from "../core/url.ts";
import { safeEqual } from "../crypto/compare.ts";
import { oauthError } from "./errors.ts";

export interface ClientInfo {
  client_id: string;
  client_name?: string;
  redirect_uris: string[];
  grant_types: string[];
  token_endpoint_auth_method: "none" | "client_secret_post" | "client_secret_basic";
  application_type: "native" | "web";
  secretHash: string | null;
}

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** A redirect URI is acceptable when https, loopback http, or (native apps) a private-use scheme. */
export function checkRedirectUri(uri: unknown, appType: "native" | "web"): string {
  if (typeof uri !== "string") throw oauthError("invalid_redirect_uri", "redirect_uris must be strings");
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    throw oauthError("invalid_redirect_uri", `not an absolute URI: ${uri}`);
  }
  if (u.hash) throw oauthError("invalid_redirect_uri", `a redirect URI must not have a fragment: ${uri}`);
  if (u.protocol === "https:") return uri;
  if (u.protocol === "http:") {
    if (LOOPBACK.has(u.hostname)) return uri;
    throw oauthError("invalid_redirect_uri", `http redirect URIs must be loopback (localhost, 127.0.0.1, [::1]): ${uri}`);
  }
  if (["javascript:", "data:", "file:", "vbscript:", "blob:"].includes(u.protocol)) throw oauthError("invalid_redirect_uri", `scheme not allowed: ${u.protocol}`);
  if (appType !== "native") throw oauthError("invalid_redirect_uri", `custom schemes are for application_type "native": ${uri}`);
  return uri;
}

export async function register(d: Pick<McpDeps, "mcp" | "audit">, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const appType = body.application_type === "native" ? "native" : body.application_type === undefined || body.application_type === "web" ? "web" : null;
  if (!appType) throw oauthError("invalid_client_metadata", 'application_type must be "web" or "native"');
  if (!Array.isArray(body.redirect_uris) || body.redirect_uris.length === 0) throw oauthError("invalid_redirect_uri", "redirect_uris is required");
  // native apps may use loopback or custom schemes; web apps https (loopback http is tolerated for development)
  const redirects = body.redirect_uris.map((u) => checkRedirectUri(u, appType));
  const method = (body.token_endpoint_auth_method ?? "none") as string;
  if (!["none", "client_secret_post", "client_secret_basic"].includes(method)) throw oauthError("invalid_client_metadata", `unsupported token_endpoint_auth_method ${method}`);
  const grants = (Array.isArray(body.grant_types) ? body.grant_types : ["authorization_code", "refresh_token"]) as unknown[];
  if (!grants.every((g) => g === "authorization_code" || g === "refresh_token")) throw oauthError("invalid_client_metadata", "grant_types may hold authorization_code and refresh_token");
  if (body.response_types !== undefined && JSON.stringify(body.response_types) !== '["code"]') throw oauthError("invalid_client_metadata", 'response_types must be ["code"]');
  const clientName = typeof body.client_name === "string" ? body.client_name.slice(0, 200) : undefined;
  const clientId = `mcp_${randomToken(16)}`;
  const secret = method === "none" ? null : `mcps_${randomToken()}`;
  const metadata = {
    client_id: clientId,
    client_name: clientName,
    redirect_uris: redirects,
    grant_types: grants,
    response_types: ["code"],
    token_endpoint_auth_method: method,
    application_type: appType,
    ...(typeof body.scope === "string" ? { scope: body.scope } : {}),
  };
  await d.mcp.saveClient(clientId, metadata, secret === null ? null : sha256(secret));
  await d.audit.append({ kind: "mcp.client_registered", subject: clientId, detail: { client_name: clientName, redirect_uris: redirects, application_type: appType } });
  return { ...metadata, client_id_issued_at: Math.floor(Date.now() / 1000), ...(secret ? { client_secret: secret, client_secret_expires_at: 0 } : {}) };
}

const cimdCache = new Map<string, { info: ClientInfo; until: number }>();

/** A registered client, or a Client ID Metadata Document when the id is an https URL. */
export async function lookupClient(d: Pick<McpDeps, "mcp">, clientId: string): Promise<ClientInfo | null> {
  const row = await d.mcp.client(clientId);
  if (row) {
    const m = row.metadata as unknown as Omit<ClientInfo, "secretHash">;
    return { ...m, secretHash: row.secretHash };
  }
  if (!clientId.startsWith("https://")) return null;
  const hit = cimdCache.get(clientId);
  if (hit && hit.until > Date.now()) return hit.info;
  const info = await fetchMetadataDocument(clientId);
  cimdCache.set(clientId, { info, until: Date.now() + 5 * 60_000 });
  return info;
}

/** A client id names its metadata document: always a public address (no allow_private), one hop, 5 s, 10 KB. */
async function fetchMetadataDocument(url: string): Promise<ClientInfo> {
  let doc: Record<string, unknown>;
  try {
    const res = await request(url, { headers: { accept: "application/json" } }, { allowPrivate: false, timeoutMs: 5000, maxBytes: 10_000 });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const parsed: unknown = JSON.parse(await res.text());
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not a JSON object");
    doc = parsed as Record<string, unknown>;
  } catch (e) {
    if (isGatewayError(e) && e.code === "ssrf_refused") throw e;
    // self-written messages only: a JSON.parse error would quote the document
    const why = isGatewayError(e) ? e.message : e instanceof SyntaxError ? "not JSON" : e instanceof Error ? e.message : "error";
    throw oauthError("invalid_client", `client metadata document could not be fetched (${why})`, 401);
  }
  if (doc.client_id !== url) throw oauthError("invalid_client", "the metadata document's client_id must equal its URL", 401);
  if (!Array.isArray(doc.redirect_uris) || !doc.redirect_uris.length) throw oauthError("invalid_client", "the metadata document lists no redirect_uris", 401);
  const appType = doc.application_type === "native" ? "native" : "web";
  return {
    client_id: url,
    client_name: typeof doc.client_name === "string" ? doc.client_name : undefined,
    redirect_uris: doc.redirect_uris.map((r) => checkRedirectUri(r, appType)),
    grant_types: ["authorization_code", "refresh_token"],
    token_endpoint_auth_method: "none",
    application_type: appType,
    secretHash: null,
  };
}

/** Client authentication at the token and revocation endpoints, behind the one authentication throttle. */
export function authenticateClient(d: Pick<McpDeps, "mcp" | "authThrottle" | "clientAddress">, request: Request, form: URLSearchParams): Promise<ClientInfo> {
  const presented = form.has("client_id") || request.headers.has("authorization");
  return d.authThrottle.guard(d.clientAddress(request), "mcp-client", pathOf(request.url), presented, () => checkClient(d, request, form));
}

async function checkClient(d: Pick<McpDeps, "mcp">, request: Request, form: URLSearchParams): Promise<ClientInfo> {
  let id = form.get("client_id");
  let secret = form.get("client_secret");
  const basic = /^Basic\s+(.+)$/i.exec(request.headers.get("authorization") ?? "");
  if (basic) {
    const [u, p] = Buffer.from(basic[1]!, "base64").toString("utf8").split(":");
    id = decodeURIComponent((u ?? "").replace(/\+/g, " "));
    secret = decodeURIComponent((p ?? "").replace(/\+/g, " "));
  }
  if (!id) throw oauthError("invalid_client", "client_id is required", 401);
  const client = await lookupClient(d, id);
  if (!client) throw oauthError("invalid_client", "unknown client", 401);
  if (client.secretHash !== null) {
    if (!secret || !safeEqual(sha256(secret), client.secretHash)) throw oauthError("invalid_client", "client authentication failed", 401, { "www-authenticate": 'Basic realm="hubgate"' });
  }
  return client;
}
