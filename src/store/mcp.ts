/**
 * The MCP authorization server's state: registered clients, consents, authorizations in progress,
 * single-use codes and tokens. Secrets (client secrets, codes, tokens) are stored as SHA-256 hashes;
 * the upstream PKCE verifier of an authorization in progress is sealed.
 */
import type { Keyring } from "../crypto/keyring.ts";
import { all, get, lock, run, type Driver, type Program } from "./driver.ts";
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

type TokenRow = {
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
};

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

/** A code as its exchange sees it: `reused` when it had been presented before. */
export interface McpCode {
  request: McpAuthRequest;
  username: string;
  expiresAt: number;
  reused: boolean;
}

export interface McpRepo {
  saveClient(clientId: string, metadata: Record<string, unknown>, secretHash: string | null): Promise<void>;
  client(clientId: string): Promise<{ metadata: Record<string, unknown>; secretHash: string | null } | null>;
  hasConsent(username: string, clientId: string, resource: string): Promise<boolean>;
  grantConsent(username: string, clientId: string, resource: string): Promise<void>;
  createPending(p: Omit<McpPending, "upstreamState" | "upstreamVerifier" | "username">): Promise<void>;
  pending(id: string): Promise<McpPending | null>;
  updatePendingRequest(id: string, request: McpAuthRequest): Promise<void>;
  setPendingUser(id: string, username: string): Promise<void>;
  setPendingUpstream(id: string, state: string, verifier: string | null): Promise<void>;
  pendingIdByUpstreamState(state: string): Promise<string | null>;
  deletePending(id: string): Promise<boolean>;
  saveCode(codeHash: string, request: McpAuthRequest, username: string, expiresAt: number): Promise<void>;
  /**
   * Marks the code used; returns it with `reused` when it had been used before (reuse must revoke what it
   * issued). The mark is one guarded UPDATE, so of two concurrent exchanges, on any replicas, only one is
   * the first; a second use is recorded (reused_at) in the same transaction, so issueForCode can refuse.
   */
  takeCode(codeHash: string): Promise<McpCode | null>;
  /**
   * Saves the tokens the first exchange of a code issues — unless the code was presented again
   * meanwhile (then nothing is saved, and false). The check locks the code's row until the tokens are
   * committed, so a second use either comes first (and nothing is issued) or after (and revokeByCode
   * sees the tokens it must revoke).
   */
  issueForCode(codeHash: string, tokens: readonly NewMcpToken[]): Promise<boolean>;
  /** tokens issued by other means than a code exchange or a refresh (one transaction) */
  saveTokens(tokens: readonly NewMcpToken[]): Promise<void>;
  token(tokenHash: string): Promise<McpToken | null>;
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
   * Each step is one UPDATE guarded by the state it expects, after a per-family lock (on PostgreSQL
   * pg_advisory_xact_lock; SQLite's IMMEDIATE transaction is one lock for all), as revokeFamily takes
   * too, so that a revocation cannot miss successors a concurrent rotation on another replica is inserting.
   */
  refresh(tokenHash: string, successors: readonly NewMcpToken[], now: number, graceMs: number): Promise<RefreshOutcome>;
  /** every token of the family, access tokens included; how many were revoked */
  revokeFamily(family: string, at: number): Promise<number>;
  /** every token a code issued, and their descendants (the code's families); how many were revoked */
  revokeByCode(codeHash: string, at: number): Promise<number>;
  prune(now: number): Promise<void>;
}

const familyLock = (family: string) => `mcp-family:${family}`;

const INSERT_TOKEN =
  "INSERT INTO mcp_tokens (token_hash, kind, family, client_id, username, resource, scope, code_hash, parent, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

function* insertTokens(tokens: readonly NewMcpToken[]): Program<void> {
  for (const t of tokens) yield* run(INSERT_TOKEN, t.tokenHash, t.kind, t.family, t.clientId, t.username, t.resource, t.scope, t.codeHash, t.parent, t.createdAt, t.expiresAt);
}

function* revokeFamilyProgram(family: string, at: number): Program<number> {
  yield* lock(familyLock(family));
  return yield* run("UPDATE mcp_tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL", at, family);
}

/** McpRepo.refresh, the one place that decides what presenting a refresh token does. */
function* refreshProgram(tokenHash: string, successors: readonly NewMcpToken[], now: number, graceMs: number): Program<RefreshOutcome> {
  const family = (yield* get<{ family: string }>("SELECT family FROM mcp_tokens WHERE token_hash = ? AND kind = 'refresh'", tokenHash))?.family;
  if (family === undefined) return { outcome: "unknown" };
  yield* lock(familyLock(family));
  // first use
  if ((yield* run("UPDATE mcp_tokens SET rotated_at = ? WHERE token_hash = ? AND rotated_at IS NULL AND revoked_at IS NULL", now, tokenHash)) === 1) {
    yield* insertTokens(successors);
    return { outcome: "rotated" };
  }
  // the one retry of a lost answer: within the grace window, once, and only while the refresh token the
  // first use issued was never used (that pair is then revoked: its answer never arrived)
  const retry =
    (yield* run("UPDATE mcp_tokens SET retried_at = ? WHERE token_hash = ? AND retried_at IS NULL AND revoked_at IS NULL AND rotated_at >= ?", now, tokenHash, now - graceMs)) === 1 &&
    (yield* run("UPDATE mcp_tokens SET revoked_at = ? WHERE parent = ? AND kind = 'refresh' AND rotated_at IS NULL AND revoked_at IS NULL", now, tokenHash)) === 1;
  if (retry) {
    yield* run("UPDATE mcp_tokens SET revoked_at = ? WHERE parent = ? AND revoked_at IS NULL", now, tokenHash);
    yield* insertTokens(successors);
    return { outcome: "retried" };
  }
  // anything else is a replaced (or revoked) token presented again
  return { outcome: "reused", family, revoked: yield* revokeFamilyProgram(family, now) };
}

export function mcpRepo(d: Driver, keyring: Keyring): McpRepo {
  const verifierAad = (id: string) => aadFor("mcp_pending", "upstream_verifier", [id]);
  type PendingRow = { id: string; request: string; username: string | null; csrf: string; upstream_state: string | null; upstream_verifier: string | null; created_at: number; expires_at: number };
  return {
    async saveClient(clientId, metadata, secretHash) {
      await d.run("INSERT INTO mcp_clients (client_id, secret_hash, metadata, created_at) VALUES (?, ?, ?, ?)", clientId, secretHash, JSON.stringify(metadata), Date.now());
    },
    async client(clientId) {
      const r = await d.get<{ metadata: string; secret_hash: string | null }>("SELECT metadata, secret_hash FROM mcp_clients WHERE client_id = ?", clientId);
      return r ? { metadata: JSON.parse(r.metadata) as Record<string, unknown>, secretHash: r.secret_hash } : null;
    },

    async hasConsent(username, clientId, resource) {
      return (await d.get("SELECT 1 AS one FROM mcp_consents WHERE username = ? AND client_id = ? AND resource = ?", username, clientId, resource)) !== null;
    },
    async grantConsent(username, clientId, resource) {
      await d.run("INSERT INTO mcp_consents (username, client_id, resource, granted_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING", username, clientId, resource, Date.now());
    },

    async createPending(p) {
      await d.run("DELETE FROM mcp_pending WHERE expires_at < ?", Date.now());
      await d.run("INSERT INTO mcp_pending (id, request, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)", p.id, JSON.stringify(p.request), p.csrf, p.createdAt, p.expiresAt);
    },
    async pending(id) {
      const r = await d.get<PendingRow>("SELECT * FROM mcp_pending WHERE id = ? AND expires_at > ?", id, Date.now());
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
    async updatePendingRequest(id, request) {
      await d.run("UPDATE mcp_pending SET request = ? WHERE id = ?", JSON.stringify(request), id);
    },
    async setPendingUser(id, username) {
      await d.run("UPDATE mcp_pending SET username = ? WHERE id = ?", username, id);
    },
    async setPendingUpstream(id, state, verifier) {
      const sealed = verifier === null ? null : await keyring.seal(verifier, verifierAad(id));
      await d.run("UPDATE mcp_pending SET upstream_state = ?, upstream_verifier = ? WHERE id = ?", state, sealed, id);
    },
    async pendingIdByUpstreamState(state) {
      return (await d.get<{ id: string }>("SELECT id FROM mcp_pending WHERE upstream_state = ? AND expires_at > ?", state, Date.now()))?.id ?? null;
    },
    async deletePending(id) {
      return (await d.run("DELETE FROM mcp_pending WHERE id = ?", id)) > 0;
    },

    async saveCode(codeHash, request, username, expiresAt) {
      await d.run("INSERT INTO mcp_codes (code_hash, request, username, expires_at) VALUES (?, ?, ?, ?)", codeHash, JSON.stringify(request), username, expiresAt);
    },
    takeCode(codeHash) {
      const now = Date.now();
      return d.tx(function* (): Program<McpCode | null> {
        const first = (yield* run("UPDATE mcp_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL", now, codeHash)) === 1;
        if (!first) yield* run("UPDATE mcp_codes SET reused_at = ? WHERE code_hash = ? AND reused_at IS NULL", now, codeHash);
        const r = yield* get<{ request: string; username: string; expires_at: number }>("SELECT request, username, expires_at FROM mcp_codes WHERE code_hash = ?", codeHash);
        const request = r ? parseAuthRequest(r.request) : null;
        if (!r || !request) return null;
        return { request, username: r.username, expiresAt: r.expires_at, reused: !first };
      });
    },
    issueForCode(codeHash, tokens) {
      return d.tx(function* (): Program<boolean> {
        // a no-op UPDATE that holds the code's row (PostgreSQL) until the tokens are in: a second use waits for it
        if ((yield* run("UPDATE mcp_codes SET used_at = used_at WHERE code_hash = ? AND reused_at IS NULL", codeHash)) !== 1) return false;
        yield* insertTokens(tokens);
        return true;
      });
    },
    saveTokens(tokens) {
      return d.tx(() => insertTokens(tokens));
    },
    async token(tokenHash) {
      const r = await d.get<TokenRow>("SELECT * FROM mcp_tokens WHERE token_hash = ?", tokenHash);
      return r ? toToken(r) : null;
    },
    refresh(tokenHash, successors, now, graceMs) {
      return d.tx(() => refreshProgram(tokenHash, successors, now, graceMs));
    },
    revokeFamily(family, at) {
      return d.tx(() => revokeFamilyProgram(family, at));
    },
    revokeByCode(codeHash, at) {
      return d.tx(function* (): Program<number> {
        // the code's families, locked in one order (two revocations never wait on each other crosswise)
        const families = (yield* all<{ family: string }>("SELECT DISTINCT family FROM mcp_tokens WHERE code_hash = ?", codeHash)).map((r) => r.family).sort();
        for (const f of families) yield* lock(familyLock(f));
        return yield* run("UPDATE mcp_tokens SET revoked_at = ? WHERE code_hash = ? AND revoked_at IS NULL", at, codeHash);
      });
    },
    async prune(now) {
      await d.run("DELETE FROM mcp_tokens WHERE expires_at < ?", now - 86_400_000);
      await d.run("DELETE FROM mcp_codes WHERE expires_at < ?", now - 86_400_000);
    },
  };
}
