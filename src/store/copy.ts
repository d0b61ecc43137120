/**
 * Copying a whole store to another database (`hubgate store migrate`): the embedded SQLite file to
 * PostgreSQL, row for row and column for column (the two schemas mean the same, migrations.pg.ts).
 * Sealed values are copied as they are: envelopes bound to their table, column and primary key, which
 * do not change, so the same app key opens them on the other side. The append-only ids are kept (the
 * target's identity sequences are moved past them).
 *
 * All or nothing: the target is written in one transaction. A target that holds anything is refused
 * unless `force`, which empties it first (in the same transaction).
 */
import { GatewayError } from "../core/errors.ts";
import { get, insertSql, run, type Arg, type Driver, type Program } from "./driver.ts";
import { TABLES } from "./migrations.ts";

/** rows per INSERT statement (bounded by the number of parameters a statement may carry) */
const CHUNK_PARAMS = 20_000;

export interface CopyOptions {
  /** empty a target that holds rows instead of refusing it */
  force?: boolean;
  /** copy the proxied-request log too (it can be large, and is history only) */
  requestLog?: boolean;
}

/** Rows per table in `d`. */
export async function countRows(d: Driver): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of TABLES) out[t.name] = (await d.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${t.name}`))!.n;
  return out;
}

/** Copies every table of `from` into `to` (both migrated to the same version); returns the rows copied per table. */
export async function copyStore(from: Driver, to: Driver, opts: CopyOptions = {}): Promise<Record<string, number>> {
  const [vf, vt] = await Promise.all([from.schemaVersion(), to.schemaVersion()]);
  if (vf !== vt) throw new GatewayError("store_too_new", `the two stores are at schema versions ${vf} and ${vt}; run this with the release that wrote the newer one`, 500);
  const present = await countRows(to);
  const held = Object.entries(present).filter(([, n]) => n > 0);
  if (held.length && !opts.force)
    throw new GatewayError(
      "store_not_empty",
      `the target ${to.location} is not empty (${held.map(([t, n]) => `${t}: ${n}`).join(", ")}); give --force to empty it first, or choose another database`,
      500,
    );
  const tables = TABLES.filter((t) => opts.requestLog || t.name !== "request_logs");
  const data: { table: string; identity?: string; columns: string[]; rows: Arg[][] }[] = [];
  for (const t of tables) {
    const rows = await from.all<Record<string, Arg>>(`SELECT * FROM ${t.name}`);
    const columns = rows.length ? Object.keys(rows[0]!) : [];
    data.push({ table: t.name, identity: t.identity, columns, rows: rows.map((r) => columns.map((c) => r[c] ?? null)) });
  }
  const postgres = to.backend === "postgres";
  await to.tx(function* (): Program<void> {
    if (opts.force) for (const t of [...TABLES].reverse()) yield* run(`DELETE FROM ${t.name}`);
    for (const d of data) {
      if (!d.rows.length) continue;
      const per = Math.max(1, Math.floor(CHUNK_PARAMS / d.columns.length));
      for (let i = 0; i < d.rows.length; i += per) {
        const chunk = d.rows.slice(i, i + per);
        yield* run(insertSql(d.table, d.columns, chunk.length), ...chunk.flat());
      }
    }
    // the next id the target hands out comes after the copied ones
    if (postgres)
      for (const t of TABLES.filter((x) => x.identity))
        yield* get(`SELECT setval(pg_get_serial_sequence('${t.name}', '${t.identity}'), COALESCE((SELECT MAX(${t.identity}) FROM ${t.name}), 0) + 1, false) AS v`);
  });
  return Object.fromEntries(data.map((d) => [d.table, d.rows.length]));
}
