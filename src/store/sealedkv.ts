/** Small sealed values by namespace and key (upstream tokens, client secrets): sealed with the app key, bound to their row. */
import type { Database } from "bun:sqlite";
import type { Keyring } from "../crypto/keyring.ts";
import { aadFor } from "./migrations.ts";

export interface SealedKvRepo {
  put(namespace: string, key: string, value: string): Promise<void>;
  get(namespace: string, key: string): Promise<string | null>;
  delete(namespace: string, key: string): boolean;
  keys(namespace: string): string[];
}

export function sealedKvRepo(db: Database, keyring: Keyring): SealedKvRepo {
  const aad = (ns: string, key: string) => aadFor("sealed_kv", "value", [ns, key]);
  const upsert = db.prepare(
    "INSERT INTO sealed_kv (namespace, key, value, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
  );
  const select = db.prepare<{ value: string }, [string, string]>("SELECT value FROM sealed_kv WHERE namespace = ? AND key = ?");
  return {
    async put(ns, key, value) {
      upsert.run(ns, key, await keyring.seal(value, aad(ns, key)), Date.now());
    },
    async get(ns, key) {
      const row = select.get(ns, key);
      return row ? keyring.openText(row.value, aad(ns, key)) : null;
    },
    delete(ns, key) {
      return db.query("DELETE FROM sealed_kv WHERE namespace = ? AND key = ?").run(ns, key).changes > 0;
    },
    keys(ns) {
      return db.query<{ key: string }, [string]>("SELECT key FROM sealed_kv WHERE namespace = ? ORDER BY key").all(ns).map((r) => r.key);
    },
  };
}
