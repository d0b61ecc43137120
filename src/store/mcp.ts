/**
 * The MCP authorization server's state: registered clients, consents, authorizations in progress,
 * single-use codes and tokens. Secrets (client secrets, codes, tokens) are stored as SHA-256 hashes;
 * the upstream PKCE verifier of an authorization in progress is sealed.
 */
import type { Database } from "bun:sqlite";
import type { Keyring } from "../crypto/keyring.ts";
import { aadFor } from "./migrations.ts";

export interface McpToken {
  tokenHash: string;
  kind: "access" | "refresh";
  family: string;
  clientId: string;
  username: string;
  resource: string;
  scope: string;
  codeHash: string | null;
  /** the refresh token whose rotation issued this one */
  parent: string | null;
  createdAt: number;
  expiresAt: number;
  /** first use of a refresh token: its successors were issued */
  rotatedAt: number | null;
  /** the one retry of a refresh whose answer was lost was spent */
  retriedAt: number | null;
  revokedAt: number | null;
}

export type NewMcpToken = Omit<McpToken, "rotatedAt" | "retriedAt" | "revokedAt">;

/** What presenting a refresh token did; see McpRepo.refresh. */
export type RefreshOutcome =
  | { outcome: "rotated" }
  | { outcome: "retried" }
  | { outcome: "reused"; family: string; revoked: number }
  | { outcome: "unknown" };

/**
 * An authorization request as /authorize accepted it, with how far its sign-in got. The code it ends in
 * is bound to it (client, redirect URI, PKCE challenge, resource, scope).
 */
export interface McpAuthRequest {
  client_id: string;
  redirect_uri: string;
  /** the client's state, "" when it sent none */
  state: string;
  code_challenge: string;
  /** the MCP resource (RFC 8707), normalised */
  resource: string;
  /** the upstream that serves the resource */
  upstream: string;
  scope: string;
  /** the user signs in with their upstream account instead of a gateway password */
  upstream_identity: boolean;
  /** the upstream login is done (signing in with the upstream account does it before consent) */
  upstream_done: boolean;
}

/** An authorization request read back from storage, every field checked; null for a row without this shape (damaged, or written by another version). */
function parseAuthRequest(json: string): McpAuthRequest | null {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return null;
  }
  if (typeof v !== "object" || v === null) return null;
  const { client_id, redirect_uri, state, code_challenge, resource, upstream, scope, upstream_identity, upstream_done } = v as Record<string, unknown>;
  if (typeof client_id !== "string" || typeof redirect_uri !== "string" || typeof state !== "string" || typeof code_challenge !== "string") return null;
  if (typeof resource !== "string" || typeof upstream !== "string" || typeof scope !== "string") return null;
  if (typeof upstream_identity !== "boolean" || typeof upstream_done !== "boolean") return null;
  return { client_id, redirect_uri, state, code_challenge, resource, upstream, scope, upstream_identity, upstream_done };
}

export interface McpPending {
  id: string;
  request: McpAuthRequest;
  username: string | null;
  csrf: string;
  upstreamState: string | null;
  upstreamVerifier: string | null;
  createdAt: number;
  expiresAt: number;
}

interface TokenRow {
  token_hash: string;
  kind: "access" | "refresh";
  family: string;
  client_id: string;
  username: string;
  resource: string;
  scope: string;
  code_hash: string | null;
  parent: string | null;
  created_at: number;
  expires_at: number;
  rotated_at: number | null;
  retried_at: number | null;
  revoked_at: number | null;
}

const toToken = (r: TokenRow): McpToken => ({
  tokenHash: r.token_hash,
  kind: r.kind,
  family: r.family,
  clientId: r.client_id,
  username: r.username,
  resource: r.resource,
  scope: r.scope,
  codeHash: r.code_hash,
  parent: r.parent,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  rotatedAt: r.rotated_at,
  retriedAt: r.retried_at,
  revokedAt: r.revoked_at,
});

export function mcpRepo(db: Database, keyring: Keyring) {
  const verifierAad = (id: string) => aadFor("mcp_pending", "upstream_verifier", [id]);
  const insertToken = db.prepare<void, [string, string, string, string, string, string, string, string | null, string | null, number, number]>(
    "INSERT INTO mcp_tokens (token_hash, kind, family, client_id, username, resource, scope, code_hash, parent, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
  );
  const saveTokens = (tokens: readonly NewMcpToken[]) => {
    for (const t of tokens) insertToken.run(t.tokenHash, t.kind, t.family, t.clientId, t.username, t.resource, t.scope, t.codeHash, t.parent, t.createdAt, t.expiresAt);
  };
  const revokeFamily = (family: string, at: number): number =>
    db.query("UPDATE mcp_tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL").run(at, family).changes;
  const refresh = db.transaction((tokenHash: string, successors: readonly NewMcpToken[], now: number, graceMs: number): RefreshOutcome => {
    const family = db.query<{ family: string }, [string]>("SELECT family FROM mcp_tokens WHERE token_hash = ? AND kind = 'refresh'").get(tokenHash)?.family;
    if (family === undefined) return { outcome: "unknown" };
    // first use
    if (db.query("UPDATE mcp_tokens SET rotated_at = ? WHERE token_hash = ? AND rotated_at IS NULL AND revoked_at IS NULL").run(now, tokenHash).changes === 1) {
      saveTokens(successors);
      return { outcome: "rotated" };
    }
    // the one retry of a lost answer: within the grace window, once, and only while the refresh token the
    // first use issued was never used (that pair is then revoked: its answer never arrived)
    const retry =
      db.query("UPDATE mcp_tokens SET retried_at = ? WHERE token_hash = ? AND retried_at IS NULL AND revoked_at IS NULL AND rotated_at >= ?").run(now, tokenHash, now - graceMs).changes === 1 &&
      db.query("UPDATE mcp_tokens SET revoked_at = ? WHERE parent = ? AND kind = 'refresh' AND rotated_at IS NULL AND revoked_at IS NULL").run(now, tokenHash).changes === 1;
    if (retry) {
      db.query("UPDATE mcp_tokens SET revoked_at = ? WHERE parent = ? AND revoked_at IS NULL").run(now, tokenHash);
      saveTokens(successors);
      return { outcome: "retried" };
    }
    // anything else is a replaced (or revoked) token presented again
    return { outcome: "reused", family, revoked: revokeFamily(family, now) };
  });
  return {
    saveClient(clientId: string, metadata: Record<string, unknown>, secretHash: string | null): void {
      db.query("INSERT INTO mcp_clients (client_id, secret_hash, metadata, created_at) VALUES (?, ?, ?, ?)").run(clientId, secretHash, JSON.stringify(metadata), Date.now());
    },
    client(clientId: string): { metadata: Record<string, unknown>; secretHash: string | null } | null {
      const r = db.query<{ metadata: string; secret_hash: string | null }, [string]>("SELECT metadata, secret_hash FROM mcp_clients WHERE client_id = ?").get(clientId);
      return r ? { metadata: JSON.parse(r.metadata) as Record<string, unknown>, secretHash: r.secret_hash } : null;
    },

    hasConsent(username: string, clientId: string, resource: string): boolean {
      return db.query("SELECT 1 FROM mcp_consents WHERE username = ? AND client_id = ? AND resource = ?").get(username, clientId, resource) !== null;
    },
    grantConsent(username: string, clientId: string, resource: string): void {
      db.query("INSERT INTO mcp_consents (username, client_id, resource, granted_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING").run(username, clientId, resource, Date.now());
    },

    createPending(p: Omit<McpPending, "upstreamState" | "upstreamVerifier" | "username">): void {
      db.query("DELETE FROM mcp_pending WHERE expires_at < ?").run(Date.now());
      db.query("INSERT INTO mcp_pending (id, request, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)").run(p.id, JSON.stringify(p.request), p.csrf, p.createdAt, p.expiresAt);
    },
    async pending(id: string): Promise<McpPending | null> {
      const r = db
        .query<{ id: string; request: string; username: string | null; csrf: string; upstream_state: string | null; upstream_verifier: string | null; created_at: number; expires_at: number }, [string, number]>(
          "SELECT * FROM mcp_pending WHERE id = ? AND expires_at > ?",
        )
        .get(id, Date.now());
      const request = r ? parseAuthRequest(r.request) : null;
      if (!r || !request) return null;
      return {
        id: r.id,
        request,
        username: r.username,
        csrf: r.csrf,
        upstreamState: r.upstream_state,
        upstreamVerifier: r.upstream_verifier === null ? null : await keyring.openText(r.upstream_verifier, verifierAad(r.id)),
        createdAt: r.created_at,
        expiresAt: r.expires_at,
      };
    },
    updatePendingRequest(id: string, request: McpAuthRequest): void {
      db.query("UPDATE mcp_pending SET request = ? WHERE id = ?").run(JSON.stringify(request), id);
    },
    setPendingUser(id: string, username: string): void {
      db.query("UPDATE mcp_pending SET username = ? WHERE id = ?").run(username, id);
    },
    async setPendingUpstream(id: string, state: string, verifier: string | null): Promise<void> {
      const sealed = verifier === null ? null : await keyring.seal(verifier, verifierAad(id));
      db.query("UPDATE mcp_pending SET upstream_state = ?, upstream_verifier = ? WHERE id = ?").run(state, sealed, id);
    },
    pendingIdByUpstreamState(state: string): string | null {
      return db.query<{ id: string }, [string, number]>("SELECT id FROM mcp_pending WHERE upstream_state = ? AND expires_at > ?").get(state, Date.now())?.id ?? null;
    },
    deletePending(id: string): boolean {
      return db.query("DELETE FROM mcp_pending WHERE id = ?").run(id).changes > 0;
    },

    saveCode(codeHash: string, request: McpAuthRequest, username: string, expiresAt: number): void {
      db.query("INSERT INTO mcp_codes (code_hash, request, username, expires_at) VALUES (?, ?, ?, ?)").run(codeHash, JSON.stringify(request), username, expiresAt);
    },
    /**
     * Marks the code used; returns it with `reused` when it had been used before (reuse must revoke what it
     * issued). The mark is one guarded UPDATE, so of two concurrent exchanges only one is the first.
     */
    takeCode(codeHash: string): { request: McpAuthRequest; username: string; expiresAt: number; reused: boolean } | null {
      const first = db.query("UPDATE mcp_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL").run(Date.now(), codeHash).changes === 1;
      const r = db.query<{ request: string; username: string; expires_at: number }, [string]>("SELECT request, username, expires_at FROM mcp_codes WHERE code_hash = ?").get(codeHash);
      const request = r ? parseAuthRequest(r.request) : null;
      if (!r || !request) return null;
      return { request, username: r.username, expiresAt: r.expires_at, reused: !first };
    },

    /** the tokens a code exchange issues (one transaction) */
    saveTokens: db.transaction(saveTokens),
    token(tokenHash: string): McpToken | null {
      const r = db.query<TokenRow, [string]>("SELECT * FROM mcp_tokens WHERE token_hash = ?").get(tokenHash);
      return r ? toToken(r) : null;
    },
    /**
     * Presents a refresh token (its client and expiry already checked) and, when that yields new tokens,
     * saves `successors`, all in one transaction:
     * - first use: rotated_at is set, the successors are saved ("rotated");
     * - one retry of a refresh whose answer was lost: within `graceMs` of the rotation, once (retried_at),
     *   and only while the refresh token the rotation issued was never used; the pair the rotation issued
     *   is revoked and the successors are saved ("retried");
     * - anything else — a replaced token after the window, a second retry, a token whose successor was
     *   used, a token the retry replaced, a revoked token — revokes the whole family, access tokens
     *   included ("reused", with how many tokens this call revoked: 0 when the family already was).
     * Each step is one UPDATE guarded by the state it expects. On PostgreSQL the same statements run in
     * one transaction that first takes a per-family lock (pg_advisory_xact_lock), as revokeFamily must,
     * so that a revocation cannot miss successors a concurrent rotation is inserting.
     */
    refresh(tokenHash: string, successors: readonly NewMcpToken[], now: number, graceMs: number): RefreshOutcome {
      return refresh.immediate(tokenHash, successors, now, graceMs);
    },
    /** every token of the family, access tokens included */
    revokeFamily,
    revokeByCode(codeHash: string, at: number): number {
      return db.query("UPDATE mcp_tokens SET revoked_at = ? WHERE code_hash = ? AND revoked_at IS NULL").run(at, codeHash).changes;
    },
    prune(now: number): void {
      db.query("DELETE FROM mcp_tokens WHERE expires_at < ?").run(now - 86_400_000);
      db.query("DELETE FROM mcp_codes WHERE expires_at < ?").run(now - 86_400_000);
    },
  };
}

export type McpRepo = ReturnType<typeof mcpRepo>;
