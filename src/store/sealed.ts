/**
 * What the store holds sealed, by key id: read from the envelopes' headers (`hg1.<kid>.…`, the kid
 * always 8 hex digits) without opening anything, so `serve` can tell before it starts whether every
 * sealed value is readable with the configured keys — and drop those that are not, when told to.
 */
import { Keyring } from "../crypto/keyring.ts";
import { all, run, type Driver, type Program } from "./driver.ts";
import { SEALED_COLUMNS } from "./migrations.ts";

/** "hg1." + 8-hex kid + "." */
const HEAD_CHARS = 13;

export interface SealedByKey {
  /** number of sealed values under this key id */
  values: number;
  /** where they are: "table.column" */
  columns: string[];
}

/** Sealed values by the key id they were sealed with (a value that is no envelope at all is not counted: it fails, logged, where it is used). */
export async function sealedKids(d: Driver): Promise<Map<string, SealedByKey>> {
  const out = new Map<string, SealedByKey>();
  for (const c of SEALED_COLUMNS) {
    const rows = await d.all<{ head: string; n: number }>(
      `SELECT substr(${c.column}, 1, ${HEAD_CHARS}) AS head, COUNT(*) AS n FROM ${c.table} WHERE ${c.column} IS NOT NULL GROUP BY substr(${c.column}, 1, ${HEAD_CHARS})`,
    );
    for (const r of rows) {
      const kid = Keyring.kidOf(`${r.head}x`);
      if (kid === null) continue;
      const e = out.get(kid) ?? { values: 0, columns: [] };
      e.values += r.n;
      if (!e.columns.includes(`${c.table}.${c.column}`)) e.columns.push(`${c.table}.${c.column}`);
      out.set(kid, e);
    }
  }
  return out;
}

/**
 * Deletes every row holding a value sealed with one of `kids` (a row is useless without its secret:
 * a grant without its token, a pending sign-in without its verifier). Returns rows deleted per table
 * and the OAuth grants (connection or grant keys) that went, in one transaction.
 */
export function dropSealedWith(d: Driver, kids: readonly string[]): Promise<{ rows: Record<string, number>; grants: string[] }> {
  return d.tx(function* (): Program<{ rows: Record<string, number>; grants: string[] }> {
    const rows: Record<string, number> = {};
    const grants = new Set<string>();
    for (const kid of kids) {
      const head = `hg1.${kid}.`;
      for (const c of SEALED_COLUMNS) {
        const where = `substr(${c.column}, 1, ${HEAD_CHARS}) = ?`;
        if (c.table === "oauth_grants") for (const g of yield* all<{ connection: string }>(`SELECT connection FROM oauth_grants WHERE ${where}`, head)) grants.add(g.connection);
        const n = yield* run(`DELETE FROM ${c.table} WHERE ${where}`, head);
        if (n) rows[c.table] = (rows[c.table] ?? 0) + n;
      }
    }
    return { rows, grants: [...grants].sort() };
  });
}
