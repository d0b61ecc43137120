/**
 * Where the app key comes from, in order: storage.app_key (a secret reference, already resolved),
 * env HUBGATE_APP_KEY, the file <data dir>/app.key, or — only for `serve`, on a store that holds no
 * sealed data yet — a new random key written to <data dir>/app.key with mode 0600 (logged, never printed).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GatewayError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";

export type AppKeySource = "config" | "env" | "file" | "generated";

export interface LoadedAppKey {
  key: Uint8Array;
  source: AppKeySource;
  path?: string;
}

/** Accepts 32 bytes as 64 hex digits or base64 / base64url (with or without padding). */
export function parseAppKey(text: string, source: string): Uint8Array {
  const s = text.trim();
  let bytes: Uint8Array | null = null;
  if (/^[0-9a-fA-F]{64}$/.test(s)) bytes = new Uint8Array(Buffer.from(s, "hex"));
  else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(s)) bytes = new Uint8Array(Buffer.from(s.replace(/-/g, "+").replace(/_/g, "/"), "base64"));
  if (!bytes || bytes.length !== 32)
    throw new GatewayError("invalid_app_key", `${source}: an app key must be 32 bytes written as 64 hex digits or base64 (e.g. \`openssl rand -base64 32\`)`, 500);
  return bytes;
}

export interface AppKeySources {
  configured: string | undefined;
  env: Record<string, string | undefined>;
  dataDir: string;
  log: Logger;
}

/** The configured key (storage.app_key, $HUBGATE_APP_KEY, <data dir>/app.key), or null when there is none. */
export function findAppKey(opts: AppKeySources): LoadedAppKey | null {
  if (opts.configured !== undefined) return { key: parseAppKey(opts.configured, "storage.app_key"), source: "config" };
  const fromEnv = opts.env.HUBGATE_APP_KEY;
  if (fromEnv !== undefined && fromEnv.trim() !== "") return { key: parseAppKey(fromEnv, "HUBGATE_APP_KEY"), source: "env" };
  const path = appKeyPath(opts.dataDir);
  if (existsSync(path)) {
    const mode = statSync(path).mode & 0o777;
    if (mode & 0o077) opts.log.warn("the app key file is readable by other users; run chmod 600 on it", { path, mode: mode.toString(8) });
    return { key: parseAppKey(readFileSync(path, "utf8"), path), source: "file", path };
  }
  return null;
}

export const appKeyPath = (dataDir: string) => join(dataDir, "app.key");

/** A new random key written to <data dir>/app.key (mode 0600); refuses to overwrite one. */
export function generateAppKey(dataDir: string, log: Logger): LoadedAppKey {
  const path = appKeyPath(dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const key = crypto.getRandomValues(new Uint8Array(32));
  writeFileSync(path, `${Buffer.from(key).toString("base64")}\n`, { mode: 0o600, flag: "wx" });
  chmodSync(path, 0o600); // the umask may have narrowed it further, never widened; make it exact
  log.warn("no app key configured: generated a new one; back it up — sealed secrets can't be read without it", { path });
  return { key, source: "generated", path };
}

/** findAppKey, else a generated one (callers that may create a key: `serve` on a store without sealed data). */
export async function loadAppKey(opts: AppKeySources): Promise<LoadedAppKey> {
  return findAppKey(opts) ?? generateAppKey(opts.dataDir, opts.log);
}
