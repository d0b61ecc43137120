/**
 * Proxied-request log lines in SQLite, with retention by rows and age. The free-text columns (path,
 * provider, error) are written through the one redaction rule: a credential in a request path never
 * reaches the file.
 */
import type { Database } from "bun:sqlite";
import { redactString } from "../core/redact.ts";
import { page } from "./paging.ts";

export interface RequestLog {
  id: number;
  at: number;
  project: string;
  endpoint: string;
  tokenId: string | null;
  method: string;
  path: string;
  status: number;
  ms: number;
  bytes: number | null;
  provider: string | null;
  error: string | null;
}

export type NewRequestLog = Omit<RequestLog, "id">;

export interface RequestLogRepo {
  append(l: NewRequestLog): number;
  /** several rows in one transaction (one WAL commit instead of one per row) */
  appendMany(rows: NewRequestLog[]): void;
  /** `since`: only rows at or after this time (ms) */
  list(q: { afterId?: number; limit?: number; since?: number; project?: string }): RequestLog[];
  /** delete beyond maxRows and older than maxAgeMs; returns rows deleted */
  prune(maxRows: number, maxAgeMs: number, now: number): number;
}

interface Row {
  id: number;
  at: number;
  project: string;
  endpoint: string;
  token_id: string | null;
  method: string;
  path: string;
  status: number;
  ms: number;
  bytes: number | null;
  provider: string | null;
  error: string | null;
}

const toLog = (r: Row): RequestLog => ({
  id: r.id,
  at: r.at,
  project: r.project,
  endpoint: r.endpoint,
  tokenId: r.token_id,
  method: r.method,
  path: r.path,
  status: r.status,
  ms: r.ms,
  bytes: r.bytes,
  provider: r.provider,
  error: r.error,
});

export function requestLogRepo(db: Database): RequestLogRepo {
  const insert = db.prepare<{ id: number }, [number, string, string, string | null, string, string, number, number, number | null, string | null, string | null]>(
    "INSERT INTO request_logs (at, project, endpoint, token_id, method, path, status, ms, bytes, provider, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
  );
  const text = (s: string | null) => (s === null ? null : redactString(s));
  const append = (l: NewRequestLog): number =>
    insert.get(l.at, l.project, l.endpoint, l.tokenId, l.method, redactString(l.path), l.status, l.ms, l.bytes, text(l.provider), text(l.error))!.id;
  return {
    append,
    appendMany: db.transaction((rows: NewRequestLog[]) => {
      for (const l of rows) append(l);
    }),
    list(q) {
      const rows = page<Row>(db, "request_logs", { limit: q.limit, afterId: q.afterId, since: q.since, where: { project: q.project } });
      return rows.map(toLog);
    },
    prune(maxRows, maxAgeMs, now) {
      let n = db.query("DELETE FROM request_logs WHERE at < ?").run(now - maxAgeMs).changes;
      const cut = db.query<{ id: number }, [number]>("SELECT id FROM request_logs ORDER BY id DESC LIMIT 1 OFFSET ?").get(maxRows);
      if (cut) n += db.query("DELETE FROM request_logs WHERE id <= ?").run(cut.id).changes;
      return n;
    },
  };
}
