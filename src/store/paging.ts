/**
 * Cursor paging shared by the append-only tables (audit events, request logs): with a cursor, rows
 * after it oldest first; without, the newest `limit` rows, still returned oldest first. `since` (ms) keeps
 * rows at or after that time.
 */
import type { Arg, Driver, Row } from "./driver.ts";

export async function page<T extends object>(d: Driver, table: string, q: { limit?: number; afterId?: number; since?: number; where?: Record<string, string | undefined> }): Promise<T[]> {
  const limit = Math.min(Math.max(q.limit ?? 100, 1), 1000);
  const where: string[] = [];
  const args: Arg[] = [];
  for (const [col, v] of Object.entries(q.where ?? {})) {
    if (v === undefined) continue;
    where.push(`${col} = ?`);
    args.push(v);
  }
  if (q.since !== undefined) {
    where.push("at >= ?");
    args.push(q.since);
  }
  if (q.afterId !== undefined) {
    where.push("id > ?");
    args.push(q.afterId);
  }
  const cond = where.length ? `WHERE ${where.join(" AND ")}` : "";
  const order = q.afterId !== undefined ? "ASC" : "DESC";
  const rows = await d.all<T>(`SELECT * FROM ${table} ${cond} ORDER BY id ${order} LIMIT ${limit}`, ...args);
  if (order === "DESC") rows.reverse();
  return rows;
}
