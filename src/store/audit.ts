/** Audit events: append-only record of who changed what (config reloads, tokens, grants, consents). */
import type { Database } from "bun:sqlite";

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
      return insert.get(Date.now(), e.kind, e.actor ?? null, e.subject ?? null, e.detail === undefined ? null : JSON.stringify(e.detail))!.id;
    },
    list(q = {}) {
      const limit = Math.min(Math.max(q.limit ?? 100, 1), 1000);
      const where: string[] = [];
      const args: (string | number)[] = [];
      if (q.kind !== undefined) {
        where.push("kind = ?");
        args.push(q.kind);
      }
      if (q.afterId !== undefined) {
        where.push("id > ?");
        args.push(q.afterId);
      }
      const cond = where.length ? `WHERE ${where.join(" AND ")}` : "";
      const order = q.afterId !== undefined ? "ASC" : "DESC";
      const rows = db.query<Row, (string | number)[]>(`SELECT id, at, kind, actor, subject, detail FROM audit_events ${cond} ORDER BY id ${order} LIMIT ${limit}`).all(...args);
      if (order === "DESC") rows.reverse();
      return rows.map(toEvent);
    },
  };
}
