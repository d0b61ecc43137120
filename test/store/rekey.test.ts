import { describe, expect, test } from "bun:test";
import { storeOn } from "../../src/store/index.ts";
import { rekey } from "../../src/store/rekey.ts";
import { Keyring } from "../../src/crypto/keyring.ts";
import { BACKENDS, freshStore, postgresForFile } from "../helpers/stores.ts";

const pg = postgresForFile();

describe.each(BACKENDS)("rekey on %s", (backend) => {
  test("rekey re-seals every old-key value with the new key; the old key can then be dropped", async () => {
    const oldKey = crypto.getRandomValues(new Uint8Array(32));
    const newKey = crypto.getRandomValues(new Uint8Array(32));
    const before = await freshStore(backend, pg, { keyring: await Keyring.create(oldKey) });
    for (let i = 0; i < 10; i++) await before.sealedKv.put("ns", `k${i}`, `secret-${i}`);

    // same database, rotated keyring: new key current, old key readable
    const rotated = await Keyring.create(newKey, [oldKey]);
    const store = storeOn(before.driver, rotated);
    const r = await rekey(store, rotated);
    expect(r).toEqual({ scanned: 10, resealed: 10 });
    const kids = (await store.driver.all<{ value: string }>("SELECT value FROM sealed_kv")).map((row) => Keyring.kidOf(row.value));
    expect(new Set(kids)).toEqual(new Set([rotated.currentKid]));
    // idempotent
    expect(await rekey(store, rotated)).toEqual({ scanned: 10, resealed: 0 });
    // readable with the new key alone
    const newOnly = await Keyring.create(newKey);
    for (const row of await store.driver.all<{ key: string; value: string }>("SELECT key, value FROM sealed_kv"))
      expect(await newOnly.openText(row.value, `sealed_kv.value:ns/${row.key}`)).toBe(`secret-${row.key.slice(1)}`);
    expect(await store.audit.list({ kind: "store.rekey" })).toHaveLength(1);
    await store.close();
  });
});
