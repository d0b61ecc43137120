import { describe, expect, test } from "bun:test";
import { checkApiTokenFormat, crc32, hashApiToken, mintApiToken, tokenHint } from "../../src/crypto/apitoken.ts";

describe("API tokens", () => {
  test("minted tokens have the hg_live_/hg_test_ prefix, fixed length and a valid checksum", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const t = mintApiToken();
      expect(t).toMatch(/^hg_live_[0-9A-Za-z]{36}$/);
      expect(checkApiTokenFormat(t)).toBe(true);
      seen.add(t);
    }
    expect(seen.size).toBe(200);
  });

  test("a single changed character, truncation or another prefix is rejected", () => {
    const t = mintApiToken();
    const flipped = t.slice(0, 10) + (t[10] === "a" ? "b" : "a") + t.slice(11);
    expect(checkApiTokenFormat(flipped)).toBe(false);
    expect(checkApiTokenFormat(t.slice(0, -1))).toBe(false);
    expect(checkApiTokenFormat(`ghp_${t.slice(3)}`)).toBe(false);
    expect(checkApiTokenFormat(t.replace("hg_live_", "hg_test_"))).toBe(false); // the checksum covers the prefix
    expect(checkApiTokenFormat(mintApiToken("test"))).toBe(true);
    expect(checkApiTokenFormat("")).toBe(false);
  });

  test("stored form is a SHA-256 hex digest, stable and not the token", () => {
    const t = mintApiToken();
    expect(hashApiToken(t)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashApiToken(t)).toBe(hashApiToken(t));
    expect(hashApiToken(t)).not.toContain(t.slice(3));
    expect(tokenHint(t)).toBe(`${t.slice(0, 11)}…${t.slice(-3)}`);
  });

  test("crc32 matches the standard check value", () => {
    expect(crc32("123456789")).toBe(0xcbf43926);
  });
});
