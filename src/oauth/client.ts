/**
 * Talking to a provider's token and revocation endpoints (RFC 6749 §4.1.3, §6; RFC 7009), with the
 * quirks the presets describe: client authentication in the body or HTTP Basic, form or JSON bodies,
 * always `Accept: application/json` (GitHub answers form-encoded otherwise, and a form answer is still
 * understood), a token object nested under a key (Slack's authed_user), and `ok: false` errors (Slack).
 */
import type { ConnectionRoute } from "./compile.ts";
import { isGatewayError } from "../core/errors.ts";
import { request } from "../proxy/outbound.ts";

export interface TokenSet {
  accessToken: string;
  refreshToken: string | null;
  tokenType: string | null;
  expiresIn: number | null;
  scope: string | null;
}

export class OAuthError extends Error {
  constructor(
    readonly error: string,
    readonly description: string | null,
    readonly status: number | null,
  ) {
    super(description ? `${error}: ${description}` : error);
  }
}

const TIMEOUT_MS = 15_000;
/** token responses are a few hundred bytes; a provider answering megabytes is broken or hostile */
const MAX_BYTES = 256 * 1024;

function clientAuth(conn: ConnectionRoute, params: Record<string, string>, headers: Record<string, string>): void {
  if (conn.tokenAuthMethod === "client_secret_basic") {
    const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, "+");
    headers.authorization = `Basic ${Buffer.from(`${enc(conn.clientId)}:${enc(conn.clientSecret ?? "")}`).toString("base64")}`;
  } else {
    params.client_id = conn.clientId;
    if (conn.tokenAuthMethod === "client_secret_post" && conn.clientSecret !== undefined) params.client_secret = conn.clientSecret;
  }
}

async function post(conn: ConnectionRoute, url: string, params: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { accept: "application/json", "user-agent": "hubgate" };
  const p = { ...params };
  clientAuth(conn, p, headers);
  let body: string;
  if (conn.tokenRequest === "json") {
    headers["content-type"] = "application/json";
    body = JSON.stringify(p);
  } else {
    headers["content-type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams(p).toString();
  }
  let res: Response;
  try {
    res = await request(url, { method: "POST", headers, body }, { allowPrivate: conn.allowPrivate, timeoutMs: TIMEOUT_MS, maxBytes: MAX_BYTES });
  } catch (e) {
    // the outbound client's messages are self-written (refused by the SSRF guard, timed out, too large)
    const why = isGatewayError(e) ? e.message : e instanceof Error ? e.name : "error";
    throw new OAuthError(isGatewayError(e) && e.code === "ssrf_refused" ? "ssrf_refused" : "unreachable", `the provider's endpoint was not called or did not answer: ${why}`, null);
  }
  const text = await res.text();
  const type = res.headers.get("content-type") ?? "";
  let parsed: Record<string, unknown> = {};
  try {
    parsed = type.includes("application/x-www-form-urlencoded") ? Object.fromEntries(new URLSearchParams(text)) : text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    if (res.ok) throw new OAuthError("invalid_response", "the token endpoint answered with something other than JSON or a form", res.status);
  }
  return { status: res.status, body: parsed };
}

function errorOf(status: number, body: Record<string, unknown>): OAuthError | null {
  if (typeof body.error === "string") return new OAuthError(body.error, typeof body.error_description === "string" ? body.error_description : null, status);
  if (body.ok === false) return new OAuthError("provider_error", null, status);
  if (status < 200 || status >= 300) return new OAuthError("http_error", `the token endpoint answered ${status}`, status);
  return null;
}

function tokenSet(conn: ConnectionRoute, body: Record<string, unknown>, status: number): TokenSet {
  const nested = conn.tokenResponsePath ? body[conn.tokenResponsePath] : undefined;
  const o = (nested && typeof nested === "object" && "access_token" in nested ? nested : body) as Record<string, unknown>;
  if (typeof o.access_token !== "string" || !o.access_token) throw new OAuthError("invalid_response", "no access_token in the token response", status);
  const expires = Number(o.expires_in);
  return {
    accessToken: o.access_token,
    refreshToken: typeof o.refresh_token === "string" && o.refresh_token ? o.refresh_token : null,
    tokenType: typeof o.token_type === "string" ? o.token_type : null,
    expiresIn: Number.isFinite(expires) && expires > 0 ? expires : null,
    scope: typeof o.scope === "string" ? o.scope : null,
  };
}

export async function exchangeCode(conn: ConnectionRoute, code: string, redirectUri: string, codeVerifier: string | null): Promise<TokenSet> {
  const params: Record<string, string> = { grant_type: "authorization_code", code, redirect_uri: redirectUri };
  if (codeVerifier) params.code_verifier = codeVerifier;
  const { status, body } = await post(conn, conn.tokenUrl, params);
  const err = errorOf(status, body);
  if (err) throw err;
  return tokenSet(conn, body, status);
}

export async function refreshGrant(conn: ConnectionRoute, refreshToken: string): Promise<TokenSet> {
  const { status, body } = await post(conn, conn.tokenUrl, { grant_type: "refresh_token", refresh_token: refreshToken });
  const err = errorOf(status, body);
  if (err) throw err;
  return tokenSet(conn, body, status);
}

/** RFC 7009 revocation; resolves to false when the provider has no revocation endpoint. */
export async function revoke(conn: ConnectionRoute, token: string, hint: "refresh_token" | "access_token"): Promise<boolean> {
  if (!conn.revocationUrl) return false;
  const { status, body } = await post(conn, conn.revocationUrl, { token, token_type_hint: hint });
  const err = errorOf(status, body);
  if (err) throw err;
  return true;
}
