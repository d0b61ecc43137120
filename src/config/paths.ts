/**
 * Relative file paths in the config are resolved against the directory of the config file (against
 * the current directory only for the embedded example config, which has no file), so every command
 * that is given the same gateway.toml — `serve` under systemd, `hubgate token list --config …` from
 * an operator's home directory — finds the same store, socket and files.
 *
 * Covered: the keys below, and `file:` secret references (see ../secrets/resolve.ts, baseDir).
 */
import { isAbsolute, resolve } from "node:path";
import type { Config } from "./schema.ts";

/** The config keys that name a file or directory. */
export const PATH_KEYS = ["storage.path", "server.unix_socket", "server.tls_cert", "secrets.k8s_root", "secrets.gcp_credentials_file"] as const;

const at = (baseDir: string, p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
/** the same object with the optional path keys resolved where they are set (unset keys stay absent) */
function resolved<T extends object, K extends keyof T>(o: T, baseDir: string, keys: readonly K[]): T {
  const out = { ...o };
  for (const k of keys) {
    const v = o[k];
    if (typeof v === "string") out[k] = at(baseDir, v) as T[K];
  }
  return out;
}

export function resolveConfigPaths(config: Config, baseDir: string): Config {
  return {
    ...config,
    // ":memory:" is SQLite's in-memory database, not a file
    storage: config.storage.path === ":memory:" ? config.storage : resolved(config.storage, baseDir, ["path"]),
    server: resolved(config.server, baseDir, ["unix_socket", "tls_cert"]),
    secrets: resolved(config.secrets, baseDir, ["k8s_root", "gcp_credentials_file"]),
  };
}
