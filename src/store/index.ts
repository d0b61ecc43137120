/**
 * The store: one SQLite file (bun:sqlite) behind small repository interfaces. Features receive the
 * repositories they need; none touches SQL of another feature. The schema lives in migrations.ts.
 */
import type { Database } from "bun:sqlite";
import type { Logger } from "../core/log.ts";
import type { Keyring } from "../crypto/keyring.ts";
import { openDatabase, schemaVersion } from "./sqlite.ts";
import { auditRepo, type AuditRepo } from "./audit.ts";
import { apiTokenRepo, type ApiTokenRepo } from "./apitokens.ts";
import { sealedKvRepo, type SealedKvRepo } from "./sealedkv.ts";
import { oauthRepo, type OAuthRepo } from "./oauth.ts";
import { requestLogRepo, type RequestLogRepo } from "./requestlogs.ts";
import { mcpRepo, type McpRepo } from "./mcp.ts";

export interface MetaRepo {
  get(key: string): string | null;
  set(key: string, value: string): void;
}

export interface Store {
  readonly path: string;
  readonly audit: AuditRepo;
  readonly apiTokens: ApiTokenRepo;
  readonly sealedKv: SealedKvRepo;
  readonly meta: MetaRepo;
  readonly oauth: OAuthRepo;
  readonly requestLogs: RequestLogRepo;
  readonly mcp: McpRepo;
  /** the underlying database, for repositories of later features and for rekey */
  readonly db: Database;
  readonly keyring: Keyring;
  schemaVersion(): number;
  /** true when a trivial query succeeds (readiness) */
  ping(): boolean;
  close(): void;
}

/** Opens (and migrates) the database at `path`, or takes one opened already with openDatabase. */
export function openStore(opts: { path: string; log: Logger; keyring: Keyring; create?: boolean; db?: Database }): Store {
  const db = opts.db ?? openDatabase(opts.path, opts.log, undefined, { create: opts.create });
  let closed = false;
  const meta: MetaRepo = {
    get: (key) => db.query<{ value: string }, [string]>("SELECT value FROM meta WHERE key = ?").get(key)?.value ?? null,
    set: (key, value) => void db.query("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(key, value),
  };
  return {
    path: opts.path,
    db,
    keyring: opts.keyring,
    audit: auditRepo(db),
    apiTokens: apiTokenRepo(db),
    sealedKv: sealedKvRepo(db, opts.keyring),
    oauth: oauthRepo(db, opts.keyring),
    requestLogs: requestLogRepo(db),
    mcp: mcpRepo(db, opts.keyring),
    meta,
    schemaVersion: () => schemaVersion(db),
    ping() {
      if (closed) return false;
      try {
        return db.query<{ ok: number }, []>("SELECT 1 AS ok").get()?.ok === 1;
      } catch {
        return false;
      }
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        if (opts.path !== ":memory:") db.run("PRAGMA wal_checkpoint(TRUNCATE)");
      } finally {
        db.close();
      }
    },
  };
}

export type { AuditRepo, AuditEvent, AuditInput } from "./audit.ts";
export type { ApiTokenRepo, ApiTokenRow, NewApiToken } from "./apitokens.ts";
export type { SealedKvRepo } from "./sealedkv.ts";
export type { OAuthRepo, Grant, GrantInfo, ConnectState } from "./oauth.ts";
export type { RequestLogRepo, RequestLog, NewRequestLog } from "./requestlogs.ts";
export type { McpRepo, McpToken, NewMcpToken, McpPending, McpAuthRequest, RefreshOutcome } from "./mcp.ts";
