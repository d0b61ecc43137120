import { describe, expect, test } from "bun:test";
import { Keyring } from "../../src/crypto/keyring.ts";
import { safeEqual } from "../../src/crypto/compare.ts";

const key = () => crypto.getRandomValues(new Uint8Array(32));

describe("keyring: AES-256-GCM envelopes", () => {
  test("seal → open round trip; envelope is versioned and names the key", async () => {
    const k = await Keyring.create(key());
    const env = await k.seal("gho_s3cret", "sealed_kv.value:oauth/github");
    expect(env).toMatch(/^hg1\.[0-9a-f]{8}\.[A-Za-z0-9_-]+$/);
    expect(env).not.toContain("s3cret");
    expect(Keyring.kidOf(env)).toBe(k.currentKid);
    expect(await k.openText(env, "sealed_kv.value:oauth/github")).toBe("gho_s3cret");
  });

  test("fresh IV each time: same plaintext seals differently", async () => {
    const k = await Keyring.create(key());
    expect(await k.seal("x", "a")).not.toBe(await k.seal("x", "a"));
  });

  test("wrong AAD (value moved to another row) fails authentication", async () => {
    const k = await Keyring.create(key());
    const env = await k.seal("v", "row-1");
    await expect(k.open(env, "row-2")).rejects.toMatchObject({ code: "unseal_failed" });
  });

  test("tampered ciphertext fails; malformed envelopes fail clearly", async () => {
    const k = await Keyring.create(key());
    const env = await k.seal("value", "a");
    const raw = Buffer.from(env.split(".")[2]!, "base64url");
    raw[raw.length - 1]! ^= 1;
    await expect(k.open(`hg1.${k.currentKid}.${raw.toString("base64url")}`, "a")).rejects.toMatchObject({ code: "unseal_failed" });
    await expect(k.open("plaintext", "a")).rejects.toThrow(/envelope/);
    await expect(k.open(`hg1.${k.currentKid}.AAAA`, "a")).rejects.toThrow(/truncated/);
  });

  test("rotation: previous keys open, only the current key seals; unknown key id named", async () => {
    const oldKey = key();
    const old = await Keyring.create(oldKey);
    const env = await old.seal("v", "a");
    const rotated = await Keyring.create(key(), [oldKey]);
    expect(rotated.currentKid).not.toBe(old.currentKid);
    expect(rotated.kids).toContain(old.currentKid);
    expect(await rotated.openText(env, "a")).toBe("v");
    expect(Keyring.kidOf(await rotated.seal("v", "a"))).toBe(rotated.currentKid);
    const stranger = await Keyring.create(key());
    await expect(stranger.open(env, "a")).rejects.toThrow(new RegExp(`${old.currentKid}.*previous_app_keys`));
  });

  test("keys must be 32 bytes", async () => {
    await expect(Keyring.create(new Uint8Array(16))).rejects.toMatchObject({ code: "invalid_app_key" });
  });
});

describe("safeEqual", () => {
  test("compares by value, any lengths", () => {
    expect(safeEqual("abc", "abc")).toBe(true);
    expect(safeEqual("abc", "abd")).toBe(false);
    expect(safeEqual("abc", "abcd")).toBe(false);
    expect(safeEqual("", "")).toBe(true);
  });
});
