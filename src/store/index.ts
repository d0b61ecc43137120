/**
 * The store: small repository interfaces over one database — the embedded SQLite file (the default)
 * or PostgreSQL shared by every replica ([storage] backend). The repositories are written once over
 * the Driver seam (driver.ts); no feature knows which backend it talks to. Features receive the
 * repositories they need; none touches SQL of another feature. The schema lives in migrations.ts
 * (and its PostgreSQL dialect, migrations.pg.ts).
 */
import type { Logger } from "../core/log.ts";
import type { Keyring } from "../crypto/keyring.ts";
import { ConfigError } from "../config/load.ts";
import type { SecretValues } from "../config/secrets.ts";
import type { StorageConfig } from "../server/model.ts";
import type { Backend, Driver } from "./driver.ts";
import { openDatabase, sqliteDriver } from "./sqlite.ts";
import { openPostgres, postgresUrlProblem } from "./postgres.ts";
import { auditRepo, type AuditRepo } from "./audit.ts";
import { apiTokenRepo, type ApiTokenRepo } from "./apitokens.ts";
import { sealedKvRepo, type SealedKvRepo } from "./sealedkv.ts";
import { oauthRepo, type OAuthRepo } from "./oauth.ts";
import { requestLogRepo, type RequestLogRepo } from "./requestlogs.ts";
import { mcpRepo, type McpRepo } from "./mcp.ts";

export interface MetaRepo {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
}

export interface Store {
  readonly backend: Backend;
  /** the file path, or postgres://host:port/db (never credentials) */
  readonly location: string;
  readonly audit: AuditRepo;
  readonly apiTokens: ApiTokenRepo;
  readonly sealedKv: SealedKvRepo;
  readonly meta: MetaRepo;
  readonly oauth: OAuthRepo;
  readonly requestLogs: RequestLogRepo;
  readonly mcp: McpRepo;
  /** the database seam: for the store's own modules (rekey, sealed values, the copy to PostgreSQL) and tests; features use the repositories */
  readonly driver: Driver;
  readonly keyring: Keyring;
  schemaVersion(): Promise<number>;
  /** true when a trivial query succeeds (readiness); never throws */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** Where the store is: what [storage] says, resolved. */
export type StoreTarget =
  | { backend: "sqlite"; path: string }
  | { backend: "postgres"; url: string; poolSize?: number };

/** The target [storage] names (`path` already resolved against the config file's directory by the caller). */
export function storeTarget(config: StorageConfig, secrets: SecretValues, path: string): StoreTarget {
  if (config.backend === "sqlite") return { backend: "sqlite", path };
  const url = secrets.get("storage.url");
  if (url === undefined) throw new ConfigError([{ path: "storage.url", message: 'backend = "postgres" needs url (a secret reference to the PostgreSQL URL)' }]);
  const problem = postgresUrlProblem(url);
  if (problem) throw new ConfigError([{ path: "storage.url", message: problem }]);
  return { backend: "postgres", url, poolSize: config.pool_size };
}

/**
 * Opens and migrates the database of `target`. `create: false` (management commands) refuses a store
 * that does not exist yet: a missing SQLite file, a PostgreSQL database without hubgate's schema.
 */
export async function openDriver(target: StoreTarget, log: Logger, opts: { create?: boolean } = {}): Promise<Driver> {
  if (target.backend === "postgres") return openPostgres({ url: target.url, poolSize: target.poolSize, log, create: opts.create });
  return sqliteDriver(openDatabase(target.path, log, undefined, { create: opts.create }), target.path);
}

/** The repositories over an open driver. */
export function storeOn(driver: Driver, keyring: Keyring): Store {
  const meta: MetaRepo = {
    get: async (key) => (await driver.get<{ value: string }>("SELECT value FROM meta WHERE key = ?", key))?.value ?? null,
    set: async (key, value) => {
      await driver.run("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value);
    },
  };
  return {
    backend: driver.backend,
    location: driver.location,
    driver,
    keyring,
    audit: auditRepo(driver),
    apiTokens: apiTokenRepo(driver),
    sealedKv: sealedKvRepo(driver, keyring),
    oauth: oauthRepo(driver, keyring),
    requestLogs: requestLogRepo(driver),
    mcp: mcpRepo(driver, keyring),
    meta,
    schemaVersion: () => driver.schemaVersion(),
    ping: () => driver.ping(),
    close: () => driver.close(),
  };
}

/** Opens (and migrates) the store: a SQLite `path` (":memory:" for tests), a `target`, or a driver opened already. */
export async function openStore(opts: { path?: string; target?: StoreTarget; driver?: Driver; log: Logger; keyring: Keyring; create?: boolean }): Promise<Store> {
  const target: StoreTarget = opts.target ?? { backend: "sqlite", path: opts.path ?? ":memory:" };
  const driver = opts.driver ?? (await openDriver(target, opts.log, { create: opts.create }));
  return storeOn(driver, opts.keyring);
}

export type { Backend, Driver } from "./driver.ts";
export type { AuditRepo, AuditEvent, AuditInput } from "./audit.ts";
export type { ApiTokenRepo, ApiTokenRow, NewApiToken } from "./apitokens.ts";
export type { SealedKvRepo } from "./sealedkv.ts";
export type { OAuthRepo, Grant, GrantInfo, ConnectState } from "./oauth.ts";
export type { RequestLogRepo, RequestLog, NewRequestLog } from "./requestlogs.ts";
export type { McpRepo, McpToken, NewMcpToken, McpPending, McpAuthRequest, McpCode, RefreshOutcome } from "./mcp.ts";
