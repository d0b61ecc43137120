/**
 * Audit events: append-only record of who changed what (config reloads, tokens, grants, consents).
 * Actor, subject and detail are written through the one redaction rule, like every other log.
 */
import type { Driver } from "./driver.ts";
import { redact, redactString } from "../core/redact.ts";
import { page } from "./paging.ts";

/**
 * Every audit event kind, declared here and nowhere else, each with what it records: `append` takes
 * only these, so a kind cannot be misspelled, and `hubgate audit --help` and `--kind` list them from here.
 */
export const AUDIT_KINDS = {
  "admin.login_failed": "a wrong admin token or unknown API token at the admin API (actor: client address)",
  "auth.failed": "a wrong credential on the proxy, GitHub or MCP surfaces (actor: client address; detail: surface)",
  "config.reload": "the configuration was reloaded (subject: config file; detail: version, config hash)",
  "config.reload_failed": "a reload was refused; the previous configuration keeps serving (detail: error count)",
  "mcp.client_registered": "an MCP client registered itself (subject: client id)",
  "mcp.code_reused": "an MCP authorization code was used twice; what it issued is revoked (subject: client id)",
  "mcp.consent": "a user granted an MCP client access (actor: user; subject: client id)",
  "mcp.consent_denied": "a user refused an MCP client access (actor: user; subject: client id)",
  "mcp.login": "a user signed in to the MCP authorization server (subject: client id)",
  "mcp.login_failed": "a failed MCP sign-in: wrong password, or a GitHub account that is not allowed",
  "mcp.login_throttled": "MCP sign-in refused after too many failures (actor: address; subject: user name)",
  "mcp.refresh_retried": "a lost MCP refresh answer was retried once within the grace period",
  "mcp.refresh_reused": "an MCP refresh token was reused; its token family is revoked",
  "mcp.token_issued": "an MCP access token was issued (actor: user; subject: client id)",
  "mcp.token_revoked": "an MCP token was revoked by its client (actor: user; subject: client id)",
  "mcp.upstream_connect_failed": "connecting a user to an MCP upstream's authorization server failed (subject: upstream)",
  "mcp.upstream_connected": "a user connected an MCP upstream (actor: user; subject: upstream)",
  "mcp.upstream_grant_lost": "a user's grant at an MCP upstream is gone (revoked or expired); they must sign in again",
  "mcp.upstream_registered": "hubgate registered itself as a client at an MCP upstream's authorization server",
  "oauth_connection.connect_failed": "an OAuth connect flow failed (subject: connection; detail: reason)",
  "oauth_connection.connect_started": "a one-time connect link was made (`hubgate connect`, admin API; subject: connection)",
  "oauth_connection.connected": "an OAuth connection was connected (subject: connection; detail: scopes)",
  "oauth_connection.disconnected": "an OAuth grant was deleted, and revoked where the provider supports it (detail: forced, unreadable with `--force`)",
  "oauth_connection.refresh_failed": "refreshing an OAuth grant failed (subject: connection; detail: reason)",
  "oauth_connection.refreshed": "an OAuth grant was refreshed (detail: whether the refresh token rotated)",
  "store.migrated": "`hubgate store migrate` copied a store here, row for row (detail: the backend it came from, rows per table)",
  "store.rekey": "`hubgate rekey` re-sealed stored secrets with the current app key",
  "store.secrets_dropped": "`serve --drop-unreadable-secrets` deleted the secrets sealed with app keys that are not configured (detail: key ids, rows per table, grants)",
  "token.created": "an API token was created (subject: token id; detail: project, name, scopes)",
  "token.revoked": "an API token was revoked (subject: token id; detail: project, name)",
} as const satisfies Record<string, string>;

export type AuditKind = keyof typeof AUDIT_KINDS;

export function isAuditKind(s: string): s is AuditKind {
  return Object.hasOwn(AUDIT_KINDS, s);
}

export interface AuditInput {
  kind: AuditKind;
  actor?: string;
  subject?: string;
  detail?: Record<string, unknown>;
}

export interface AuditEvent {
  id: number;
  at: number;
  kind: string;
  actor: string | null;
  subject: string | null;
  detail: Record<string, unknown> | null;
}

export interface AuditQuery {
  limit?: number;
  /** cursor: only events with a larger id, oldest first; without it, the newest `limit` events (still oldest first) */
  afterId?: number;
  /** only events at or after this time (ms) */
  since?: number;
  kind?: string;
}

export interface AuditRepo {
  /** the new event's id */
  append(e: AuditInput): Promise<number>;
  list(q?: AuditQuery): Promise<AuditEvent[]>;
}

interface Row {
  id: number;
  at: number;
  kind: string;
  actor: string | null;
  subject: string | null;
  detail: string | null;
}

export function auditRepo(d: Driver): AuditRepo {
  const toEvent = (r: Row): AuditEvent => ({ ...r, detail: r.detail === null ? null : (JSON.parse(r.detail) as Record<string, unknown>) });
  const text = (s: string | undefined) => (s === undefined ? null : redactString(s));
  return {
    async append(e) {
      const r = await d.get<{ id: number }>(
        "INSERT INTO audit_events (at, kind, actor, subject, detail) VALUES (?, ?, ?, ?, ?) RETURNING id",
        Date.now(),
        e.kind,
        text(e.actor),
        text(e.subject),
        e.detail === undefined ? null : JSON.stringify(redact(e.detail)),
      );
      return r!.id;
    },
    async list(q = {}) {
      const rows = await page<Row>(d, "audit_events", { limit: q.limit, afterId: q.afterId, since: q.since, where: { kind: q.kind } });
      return rows.map(toEvent);
    },
  };
}
