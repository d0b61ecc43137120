/** Hashes and random strings used across features (token hashes, cache keys, PKCE, opaque ids). */
import { createHash, randomBytes } from "node:crypto";

/** SHA-256 of a UTF-8 string, hex by default. */
export function sha256(s: string, encoding: "hex" | "base64url" = "hex"): string {
  return createHash("sha256").update(s, "utf8").digest(encoding);
}

/** The RFC 7636 S256 code challenge of a verifier. */
export const pkceChallenge = (verifier: string) => sha256(verifier, "base64url");

/** `bytes` random bytes as base64url (opaque tokens, states, ids). */
export const randomToken = (bytes = 32) => randomBytes(bytes).toString("base64url");
