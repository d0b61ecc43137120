/**
 * Re-seal every sealed column value that was sealed with an older key. New envelopes are computed
 * first (WebCrypto is async), then written in one transaction with compare-and-set, so a value
 * changed meanwhile is left alone (it was just sealed with the current key anyway).
 */
import { Keyring } from "../crypto/keyring.ts";
import type { Store } from "./index.ts";
import { run, type Program } from "./driver.ts";
import { SEALED_COLUMNS, aadFor } from "./migrations.ts";

export async function rekey(store: Store, keyring: Keyring): Promise<{ scanned: number; resealed: number }> {
  let scanned = 0;
  const updates: { sql: string; args: string[] }[] = [];
  for (const col of SEALED_COLUMNS) {
    const pkList = col.pk.join(", ");
    const rows = await store.driver.all<Record<string, string>>(`SELECT ${pkList}, ${col.column} AS v FROM ${col.table} WHERE ${col.column} IS NOT NULL`);
    for (const row of rows) {
      scanned++;
      if (Keyring.kidOf(row.v!) === keyring.currentKid) continue;
      const pk = col.pk.map((k) => row[k]!);
      const aad = aadFor(col.table, col.column, pk);
      const fresh = await keyring.seal(await keyring.open(row.v!, aad), aad);
      updates.push({
        sql: `UPDATE ${col.table} SET ${col.column} = ? WHERE ${col.pk.map((k) => `${k} = ?`).join(" AND ")} AND ${col.column} = ?`,
        args: [fresh, ...pk, row.v!],
      });
    }
  }
  const resealed = await store.driver.tx(function* (): Program<number> {
    let n = 0;
    for (const u of updates) n += yield* run(u.sql, ...u.args);
    return n;
  });
  if (resealed) await store.audit.append({ kind: "store.rekey", actor: "cli", detail: { scanned, resealed, kid: keyring.currentKid } });
  return { scanned, resealed };
}
