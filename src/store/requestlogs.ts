/**
 * Proxied-request log lines in the store, with retention by rows and age. The free-text columns (path,
 * provider, error) are written through the one redaction rule: a credential in a request path never
 * reaches the file.
 */
import type { Arg, Driver } from "./driver.ts";
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
  append(l: NewRequestLog): Promise<number>;
  /** several rows at once, all or none (SQLite: one transaction, one WAL commit; PostgreSQL: one multi-row INSERT) */
  appendMany(rows: readonly NewRequestLog[]): Promise<void>;
  /** `since`: only rows at or after this time (ms) */
  list(q: { afterId?: number; limit?: number; since?: number; project?: string }): Promise<RequestLog[]>;
  /** delete beyond maxRows and older than maxAgeMs; returns rows deleted */
  prune(maxRows: number, maxAgeMs: number, now: number): Promise<number>;
}

const COLUMNS = ["at", "project", "endpoint", "token_id", "method", "path", "status", "ms", "bytes", "provider", "error"] as const;

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

export function requestLogRepo(d: Driver): RequestLogRepo {
  const text = (s: string | null) => (s === null ? null : redactString(s));
  // the free-text columns through the one redaction rule
  const values = (l: NewRequestLog): Arg[] => [l.at, l.project, l.endpoint, l.tokenId, l.method, redactString(l.path), l.status, l.ms, l.bytes, text(l.provider), text(l.error)];
  return {
    async append(l) {
      const r = await d.get<{ id: number }>(`INSERT INTO request_logs (${COLUMNS.join(", ")}) VALUES (${COLUMNS.map(() => "?").join(", ")}) RETURNING id`, ...values(l));
      return r!.id;
    },
    appendMany(rows) {
      return d.insertMany("request_logs", COLUMNS, rows.map(values));
    },
    async list(q) {
      const rows = await page<Row>(d, "request_logs", { limit: q.limit, afterId: q.afterId, since: q.since, where: { project: q.project } });
      return rows.map(toLog);
    },
    async prune(maxRows, maxAgeMs, now) {
      let n = await d.run("DELETE FROM request_logs WHERE at < ?", now - maxAgeMs);
      // ids only grow: the newest maxRows are those above MAX(id) - maxRows (an index seek; finding the
      // cut with OFFSET walked maxRows index entries on every prune, 7 % of a logged request's CPU).
      // A gap in the ids (a rolled-back insert, a PostgreSQL sequence cache) keeps fewer rows, never more
      n += await d.run("DELETE FROM request_logs WHERE id <= (SELECT MAX(id) FROM request_logs) - ?", maxRows);
      return n;
    },
  };
}
