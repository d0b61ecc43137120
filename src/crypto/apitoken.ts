/**
 * hubgate API tokens, in the style of GitHub's `ghp_` tokens: a recognisable prefix naming the
 * environment (`hg_live_` / `hg_test_`, so secret scanners can match it), 30 random base62 characters
 * and a 6-character CRC32 checksum of everything before it, so a mistyped or
 * truncated token is rejected without a store look-up. Only the SHA-256 hash is ever stored; the
 * token carries 178 bits of entropy, so a fast hash is the right tool (no password stretching).
 */
import { randomBytes } from "node:crypto";
import { sha256 } from "./hash.ts";

export const API_TOKEN_PREFIX = "hg_";
const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const RANDOM_LEN = 30;
const CHECK_LEN = 6;
const FORMAT = new RegExp(`^${API_TOKEN_PREFIX}(live|test)_[0-9A-Za-z]{${RANDOM_LEN + CHECK_LEN}}$`);
export type TokenEnv = "live" | "test";

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(s: string): number {
  let c = 0xffffffff;
  for (const byte of new TextEncoder().encode(s)) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function base62(n: number, width: number): string {
  let out = "";
  for (let i = 0; i < width; i++) {
    out = ALPHABET[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

function randomBase62(len: number): string {
  let out = "";
  while (out.length < len) {
    for (const b of randomBytes(len * 2)) {
      if (b < 248 && out.length < len) out += ALPHABET[b % 62]; // 248 = 4*62: no modulo bias
    }
  }
  return out;
}

/** A fresh token, e.g. `hg_live_Xy3…` (44 characters). Shown once to its owner, never stored. */
export function mintApiToken(env: TokenEnv = "live"): string {
  const head = `${API_TOKEN_PREFIX}${env}_${randomBase62(RANDOM_LEN)}`;
  return head + base62(crc32(head), CHECK_LEN);
}

/** Prefix, length, alphabet and checksum all right? (Cheap; run before any look-up.) */
export function checkApiTokenFormat(token: string): boolean {
  if (!FORMAT.test(token)) return false;
  return token.slice(-CHECK_LEN) === base62(crc32(token.slice(0, -CHECK_LEN)), CHECK_LEN);
}

/** The stored form: hex SHA-256 of the whole token. */
export function hashApiToken(token: string): string {
  return sha256(token);
}

/** A short, non-secret hint for listings (`hg_live_Xy3…f9Q`). */
export function tokenHint(token: string): string {
  return `${token.slice(0, 11)}…${token.slice(-3)}`;
}
