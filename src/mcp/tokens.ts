/**
 * POST /token and POST /revoke of the MCP authorization server, and access-token verification for
 * the resource server. Tokens are opaque random strings (hgm_at_… / hgm_rt_…), stored as SHA-256
 * hashes with their user, client, audience (resource), scope and family (every token descending from
 * one authorization code). Refresh tokens rotate on every use; presenting a replaced one again revokes
 * the whole family, access tokens included (RFC 9700 §4.14.2). The one exception is a single retry of
 * a refresh whose answer was lost, within a short grace window and only while the refresh token that
 * answer carried was never used: the lost pair is revoked and a new pair issued. The decision is the
 * store's (McpRepo.refresh), atomic with saving the new pair.
 */
import { randomUUID } from "node:crypto";
import type { McpDeps } from "./deps.ts";
import { durationMs } from "../config/types.ts";
import type { McpToken, NewMcpToken } from "../store/index.ts";
import { authenticateClient, type ClientInfo } from "./clients.ts";
import { oauthError } from "./errors.ts";
import { normalizeResource } from "./resources.ts";
import { pkceChallenge, randomToken, sha256 } from "../crypto/hash.ts";

export const REFRESH_GRACE_MS = 30_000;

export interface TokenResponse {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  refresh_token?: string;
  scope: string;
}

/** A new token pair: the answer for the client and the rows to store (saved by the caller, with whatever must be atomic with it). */
function mint(d: Pick<McpDeps, "table">, client: ClientInfo, base: { username: string; resource: string; scope: string; family: string; codeHash: string | null; parent: string | null }, now: number): { answer: TokenResponse; rows: NewMcpToken[] } {
  const mcp = d.table().config.mcp;
  const accessTtl = durationMs(mcp.access_token_ttl);
  const access = `hgm_at_${randomToken()}`;
  const rows: NewMcpToken[] = [{ tokenHash: sha256(access), kind: "access", clientId: client.client_id, createdAt: now, expiresAt: now + accessTtl, ...base }];
  const answer: TokenResponse = { access_token: access, token_type: "Bearer", expires_in: Math.round(accessTtl / 1000), scope: base.scope };
  if (client.grant_types.includes("refresh_token")) {
    const refresh = `hgm_rt_${randomToken()}`;
    rows.push({ tokenHash: sha256(refresh), kind: "refresh", clientId: client.client_id, createdAt: now, expiresAt: now + durationMs(mcp.refresh_token_ttl), ...base });
    answer.refresh_token = refresh;
  }
  return { answer, rows };
}

export async function tokenEndpoint(d: Pick<McpDeps, "table" | "mcp" | "audit" | "log" | "authThrottle" | "clientAddress">, request: Request, form: URLSearchParams): Promise<TokenResponse> {
  const client = await authenticateClient(d, request, form);
  const grant = form.get("grant_type");
  if (grant === "authorization_code") return codeGrant(d, client, form);
  if (grant === "refresh_token") return refreshGrant(d, client, form);
  throw oauthError("unsupported_grant_type", "grant_type must be authorization_code or refresh_token");
}

async function codeGrant(d: Pick<McpDeps, "table" | "mcp" | "audit">, client: ClientInfo, form: URLSearchParams): Promise<TokenResponse> {
  const code = form.get("code") ?? "";
  const codeHash = sha256(code);
  const c = await d.mcp.takeCode(codeHash);
  if (!c) throw oauthError("invalid_grant", "unknown authorization code");
  if (c.reused) return codeReused(d, client, codeHash);
  if (c.expiresAt <= Date.now()) throw oauthError("invalid_grant", "authorization code expired");
  const r = c.request;
  if (r.client_id !== client.client_id) throw oauthError("invalid_grant", "the code was issued to another client");
  if (form.get("redirect_uri") !== r.redirect_uri) throw oauthError("invalid_grant", "redirect_uri does not match the authorization request");
  const verifier = form.get("code_verifier") ?? "";
  if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) || pkceChallenge(verifier) !== r.code_challenge)
    throw oauthError("invalid_grant", "PKCE verification failed");
  const resource = form.get("resource");
  if (resource && normalizeResource(resource) !== r.resource) throw oauthError("invalid_target", "resource differs from the authorization request");
  const { answer, rows } = mint(d, client, { username: c.username, resource: r.resource, scope: r.scope, family: randomUUID(), codeHash, parent: null }, Date.now());
  // the code presented again meanwhile (another request, maybe on another replica): nothing is issued
  if (!(await d.mcp.issueForCode(codeHash, rows))) return codeReused(d, client, codeHash);
  await d.audit.append({ kind: "mcp.token_issued", actor: c.username, subject: client.client_id, detail: { resource: r.resource } });
  return answer;
}

/** RFC 6749 §4.1.2 / OAuth 2.1: a code used twice revokes what it issued. */
async function codeReused(d: Pick<McpDeps, "mcp" | "audit">, client: ClientInfo, codeHash: string): Promise<never> {
  const n = await d.mcp.revokeByCode(codeHash, Date.now());
  await d.audit.append({ kind: "mcp.code_reused", subject: client.client_id, detail: { revoked: n } });
  throw oauthError("invalid_grant", "authorization code already used");
}

async function refreshGrant(d: Pick<McpDeps, "table" | "mcp" | "audit" | "log">, client: ClientInfo, form: URLSearchParams): Promise<TokenResponse> {
  const t = await d.mcp.token(sha256(form.get("refresh_token") ?? ""));
  const now = Date.now();
  if (!t || t.kind !== "refresh" || t.clientId !== client.client_id) throw oauthError("invalid_grant", "unknown refresh token");
  if (t.expiresAt <= now) throw oauthError("invalid_grant", "refresh token expired");
  const resource = form.get("resource");
  if (resource && normalizeResource(resource) !== t.resource) throw oauthError("invalid_target", "resource differs from the grant");
  const base = { username: t.username, resource: t.resource, scope: narrowScope(t, form.get("scope")), family: t.family, codeHash: t.codeHash, parent: t.tokenHash };
  const { answer, rows } = mint(d, client, base, now);
  const r = await d.mcp.refresh(t.tokenHash, rows, now, REFRESH_GRACE_MS);
  switch (r.outcome) {
    case "rotated":
      return answer;
    case "retried":
      await d.audit.append({ kind: "mcp.refresh_retried", actor: t.username, subject: client.client_id });
      return answer;
    case "unknown":
      throw oauthError("invalid_grant", "unknown refresh token");
    case "reused":
      if (r.revoked === 0) throw oauthError("invalid_grant", "refresh token revoked"); // its family was revoked before
      await d.audit.append({ kind: "mcp.refresh_reused", actor: t.username, subject: client.client_id, detail: { family: r.family, revoked: r.revoked } });
      d.log.warn("mcp refresh token reused; its token family is revoked", { client_id: client.client_id, user: t.username, family: r.family, revoked: r.revoked });
      throw oauthError("invalid_grant", "refresh token already used; the grant has been revoked");
  }
}

function narrowScope(t: McpToken, asked: string | null): string {
  if (!asked) return t.scope;
  const have = new Set(t.scope.split(" "));
  const want = asked.split(" ").filter(Boolean);
  if (want.some((s) => !have.has(s))) throw oauthError("invalid_scope", "a refresh cannot widen the scope");
  return want.join(" ");
}

/** RFC 7009: always 200 for a well-formed request; a refresh token takes its whole family with it. */
export async function revokeEndpoint(d: Pick<McpDeps, "mcp" | "audit" | "authThrottle" | "clientAddress">, request: Request, form: URLSearchParams): Promise<void> {
  const client = await authenticateClient(d, request, form);
  const t = await d.mcp.token(sha256(form.get("token") ?? ""));
  if (!t || t.clientId !== client.client_id) return;
  await d.mcp.revokeFamily(t.family, Date.now());
  await d.audit.append({ kind: "mcp.token_revoked", actor: t.username, subject: client.client_id, detail: { kind: t.kind } });
}

/** The resource server's check: a live access token (not revoked, not expired), read from the store on every call. */
export async function verifyAccessToken(d: Pick<McpDeps, "mcp">, token: string): Promise<McpToken | null> {
  const t = await d.mcp.token(sha256(token));
  if (!t || t.kind !== "access" || t.revokedAt !== null || t.expiresAt <= Date.now()) return null;
  return t;
}
