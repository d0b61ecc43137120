/** Small sealed values by namespace and key (upstream tokens, client secrets): sealed with the app key, bound to their row. */
import type { Keyring } from "../crypto/keyring.ts";
import type { Driver } from "./driver.ts";
import { aadFor } from "./migrations.ts";

export interface SealedKvRepo {
  put(namespace: string, key: string, value: string): Promise<void>;
  get(namespace: string, key: string): Promise<string | null>;
  delete(namespace: string, key: string): Promise<boolean>;
  keys(namespace: string): Promise<string[]>;
}

export function sealedKvRepo(d: Driver, keyring: Keyring): SealedKvRepo {
  const aad = (ns: string, key: string) => aadFor("sealed_kv", "value", [ns, key]);
  return {
    async put(ns, key, value) {
      await d.run(
        "INSERT INTO sealed_kv (namespace, key, value, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        ns,
        key,
        await keyring.seal(value, aad(ns, key)),
        Date.now(),
      );
    },
    async get(ns, key) {
      const row = await d.get<{ value: string }>("SELECT value FROM sealed_kv WHERE namespace = ? AND key = ?", ns, key);
      return row ? keyring.openText(row.value, aad(ns, key)) : null;
    },
    async delete(ns, key) {
      return (await d.run("DELETE FROM sealed_kv WHERE namespace = ? AND key = ?", ns, key)) > 0;
    },
    async keys(ns) {
      return (await d.all<{ key: string }>("SELECT key FROM sealed_kv WHERE namespace = ? ORDER BY key", ns)).map((r) => r.key).sort();
    },
  };
}
