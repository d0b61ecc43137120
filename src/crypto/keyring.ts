/**
 * Sealing with the app key: AES-256-GCM, a fresh 96-bit IV per value, and additional authenticated
 * data binding each ciphertext to where it is stored (so a sealed value can't be moved to another
 * row). The envelope is versioned and names the key it was sealed with:
 *
 *     hg1.<kid>.<base64url(iv ‖ ciphertext ‖ tag)>
 *
 * `kid` is the first 8 hex digits of SHA-256(key). The keyring holds the current key (seals) and any
 * previous keys (open only), so a key can be rotated and rows re-sealed with `hubgate rekey`.
 */
import { GatewayError } from "../core/errors.ts";

const VERSION = "hg1";
const IV_BYTES = 12;

const b64url = (b: Uint8Array) => Buffer.from(b).toString("base64url");
const fromB64url = (s: string) => new Uint8Array(Buffer.from(s, "base64url"));

async function kidOf(key: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(key)));
  return Buffer.from(digest.subarray(0, 4)).toString("hex");
}

/** A value that could not be opened: where it is stored (its AAD), the key id it names, and why — never the value. */
export interface UnsealFailure {
  aad: string;
  kid: string | null;
  reason: string;
}

export class Keyring {
  private constructor(
    readonly currentKid: string,
    private readonly keys: ReadonlyMap<string, CryptoKey>,
    private readonly onFailure?: (f: UnsealFailure) => void,
  ) {}

  /** `onFailure` hears of every value that cannot be opened (the gateway logs it at error level). */
  static async create(current: Uint8Array, previous: readonly Uint8Array[] = [], onFailure?: (f: UnsealFailure) => void): Promise<Keyring> {
    const keys = new Map<string, CryptoKey>();
    for (const k of [current, ...previous]) {
      if (k.length !== 32) throw new GatewayError("invalid_app_key", `an app key must be 32 bytes, got ${k.length}`, 500);
      const kid = await kidOf(k);
      if (!keys.has(kid)) keys.set(kid, await crypto.subtle.importKey("raw", new Uint8Array(k), "AES-GCM", false, ["encrypt", "decrypt"]));
    }
    return new Keyring(await kidOf(current), keys, onFailure);
  }

  /** The key id of a key: what its envelopes carry. */
  static idOf(key: Uint8Array): Promise<string> {
    return kidOf(key);
  }

  get kids(): string[] {
    return [...this.keys.keys()];
  }

  /** Seal a value; `aad` names where it will be stored (e.g. "sealed_kv/oauth/github"). */
  async seal(plaintext: string | Uint8Array, aad: string): Promise<string> {
    const key = this.keys.get(this.currentKid)!;
    const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
    const data = typeof plaintext === "string" ? new TextEncoder().encode(plaintext) : new Uint8Array(plaintext);
    const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: new TextEncoder().encode(aad) }, key, data));
    const out = new Uint8Array(IV_BYTES + ct.length);
    out.set(iv);
    out.set(ct, IV_BYTES);
    return `${VERSION}.${this.currentKid}.${b64url(out)}`;
  }

  /** The key id an envelope was sealed with (null when not an envelope). */
  static kidOf(envelope: string): string | null {
    const parts = envelope.split(".");
    return parts.length === 3 && parts[0] === VERSION ? parts[1]! : null;
  }

  async open(envelope: string, aad: string): Promise<Uint8Array> {
    const parts = envelope.split(".");
    const fail = (reason: string) => {
      this.onFailure?.({ aad, kid: parts.length === 3 && parts[0] === VERSION ? parts[1]! : null, reason });
      return new GatewayError("unseal_failed", reason, 500);
    };
    if (parts.length !== 3 || parts[0] !== VERSION) throw fail("not a sealed value (unknown envelope format)");
    const key = this.keys.get(parts[1]!);
    if (!key) throw fail(`value sealed with key ${parts[1]}, which is not configured (add it to storage.previous_app_keys)`);
    const raw = fromB64url(parts[2]!);
    if (raw.length < IV_BYTES + 16) throw fail("sealed value is truncated");
    try {
      const pt = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: raw.subarray(0, IV_BYTES), additionalData: new TextEncoder().encode(aad) },
        key,
        raw.subarray(IV_BYTES),
      );
      return new Uint8Array(pt);
    } catch {
      throw fail("sealed value failed authentication (wrong key, tampered, or moved)");
    }
  }

  async openText(envelope: string, aad: string): Promise<string> {
    return new TextDecoder().decode(await this.open(envelope, aad));
  }
}
