/**
 * Audit events: append-only record of who changed what (config reloads, tokens, grants, consents).
 * Actor, subject and detail are written through the one redaction rule, like every other log.
 */
import type { Database } from "bun:sqlite";
import { redact, redactString } from "../core/redact.ts";
import { page } from "./paging.ts";

export interface AuditInput {
  kind: string;
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
  kind?: string;
}

export interface AuditRepo {
  append(e: AuditInput): number;
  list(q?: AuditQuery): AuditEvent[];
}

interface Row {
  id: number;
  at: number;
  kind: string;
  actor: string | null;
  subject: string | null;
  detail: string | null;
}

export function auditRepo(db: Database): AuditRepo {
  const insert = db.prepare<{ id: number }, [number, string, string | null, string | null, string | null]>(
    "INSERT INTO audit_events (at, kind, actor, subject, detail) VALUES (?, ?, ?, ?, ?) RETURNING id",
  );
  const toEvent = (r: Row): AuditEvent => ({ ...r, detail: r.detail === null ? null : (JSON.parse(r.detail) as Record<string, unknown>) });
  return {
    append(e) {
      const text = (s: string | undefined) => (s === undefined ? null : redactString(s));
      return insert.get(Date.now(), e.kind, text(e.actor), text(e.subject), e.detail === undefined ? null : JSON.stringify(redact(e.detail)))!.id;
    },
    list(q = {}) {
      const rows = page<Row>(db, "audit_events", { limit: q.limit, afterId: q.afterId, where: { kind: q.kind } });
      return rows.map(toEvent);
    },
  };
}
