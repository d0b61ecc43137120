/**
 * The schema, owned here and only here: an ordered list of migrations applied at startup, each in a
 * transaction, recorded in schema_migrations. This is the SQLite dialect; migrations.pg.ts holds the
 * PostgreSQL dialect of the same list — the same version numbers, names, tables and columns (BIGINT
 * for every integer, an identity column for the append-only ids), checked equal by test/store. A new
 * migration is added to both.
 *
 * SEALED_COLUMNS lists every column holding an app-key envelope, so `hubgate rekey` finds them all.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export interface SealedColumn {
  table: string;
  column: string;
  /** primary-key columns, in order; they form the AAD that binds a value to its row */
  pk: readonly string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "core: meta, audit events, API tokens, sealed key-value",
    sql: `
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE audit_events (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        actor TEXT,
        subject TEXT,
        detail TEXT
      );
      CREATE INDEX audit_events_kind ON audit_events (kind, id);
      CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY,
        project TEXT NOT NULL,
        name TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        hint TEXT NOT NULL,
        scopes TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        revoked_at INTEGER,
        last_used_at INTEGER
      );
      CREATE INDEX api_tokens_project ON api_tokens (project);
      CREATE TABLE sealed_kv (
        namespace TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (namespace, key)
      );
    `,
  },
  {
    version: 2,
    name: "OAuth grants and connect states; request logs",
    sql: `
      CREATE TABLE oauth_grants (
        connection TEXT PRIMARY KEY,
        access_token TEXT NOT NULL,
        refresh_token TEXT,
        token_type TEXT,
        scopes TEXT,
        expires_at INTEGER,
        connected_at INTEGER NOT NULL,
        refreshed_at INTEGER,
        last_error TEXT
      );
      CREATE TABLE oauth_states (
        state TEXT PRIMARY KEY,
        link TEXT NOT NULL UNIQUE,
        connection TEXT NOT NULL,
        code_verifier TEXT,
        redirect_uri TEXT NOT NULL,
        actor TEXT,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        link_used_at INTEGER,
        used_at INTEGER
      );
      CREATE TABLE request_logs (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        project TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        token_id TEXT,
        method TEXT NOT NULL,
        path TEXT NOT NULL,
        status INTEGER NOT NULL,
        ms INTEGER NOT NULL,
        bytes INTEGER,
        provider TEXT,
        error TEXT
      );
      CREATE INDEX request_logs_at ON request_logs (at);
    `,
  },
  {
    version: 3,
    name: "MCP authorization server: clients, consents, pending authorizations, codes, tokens",
    sql: `
      CREATE TABLE mcp_clients (
        client_id TEXT PRIMARY KEY,
        secret_hash TEXT,
        metadata TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE mcp_consents (
        username TEXT NOT NULL,
        client_id TEXT NOT NULL,
        resource TEXT NOT NULL,
        granted_at INTEGER NOT NULL,
        PRIMARY KEY (username, client_id, resource)
      );
      CREATE TABLE mcp_pending (
        id TEXT PRIMARY KEY,
        request TEXT NOT NULL,
        username TEXT,
        csrf TEXT NOT NULL,
        upstream_state TEXT UNIQUE,
        upstream_verifier TEXT,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE TABLE mcp_codes (
        code_hash TEXT PRIMARY KEY,
        request TEXT NOT NULL,
        username TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at INTEGER
      );
      CREATE TABLE mcp_tokens (
        token_hash TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        family TEXT NOT NULL,
        client_id TEXT NOT NULL,
        username TEXT NOT NULL,
        resource TEXT NOT NULL,
        scope TEXT NOT NULL,
        code_hash TEXT,
        parent TEXT,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        rotated_at INTEGER,
        revoked_at INTEGER
      );
      CREATE INDEX mcp_tokens_family ON mcp_tokens (family);
      CREATE INDEX mcp_tokens_code ON mcp_tokens (code_hash);
      CREATE INDEX mcp_tokens_parent ON mcp_tokens (parent);
    `,
  },
  {
    version: 4,
    name: "MCP refresh tokens: when the one retry of a lost refresh answer was spent",
    sql: `
      ALTER TABLE mcp_tokens ADD COLUMN retried_at INTEGER;
    `,
  },
  {
    version: 5,
    name: "MCP codes: when a second use of the code was seen (nothing more may be issued for it)",
    sql: `
      ALTER TABLE mcp_codes ADD COLUMN reused_at INTEGER;
    `,
  },
  {
    version: 6,
    name: "OAuth grants: a version, the fencing token of refreshes (a refresh saves only over the version it read)",
    sql: `
      ALTER TABLE oauth_grants ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
    `,
  },
];

/** Every table, in an order that copying them one after the other respects (no foreign keys today), with its append-only id if any. */
export const TABLES: readonly { name: string; identity?: string }[] = [
  { name: "meta" },
  { name: "audit_events", identity: "id" },
  { name: "api_tokens" },
  { name: "sealed_kv" },
  { name: "oauth_grants" },
  { name: "oauth_states" },
  { name: "request_logs", identity: "id" },
  { name: "mcp_clients" },
  { name: "mcp_consents" },
  { name: "mcp_pending" },
  { name: "mcp_codes" },
  { name: "mcp_tokens" },
];

export const SEALED_COLUMNS: readonly SealedColumn[] = [
  { table: "sealed_kv", column: "value", pk: ["namespace", "key"] },
  { table: "oauth_grants", column: "access_token", pk: ["connection"] },
  { table: "oauth_grants", column: "refresh_token", pk: ["connection"] },
  { table: "oauth_states", column: "code_verifier", pk: ["state"] },
  { table: "mcp_pending", column: "upstream_verifier", pk: ["id"] },
];

/** The additional authenticated data of a sealed column value: table, column and primary key. */
export function aadFor(table: string, column: string, pk: readonly unknown[]): string {
  return `${table}.${column}:${pk.map(String).join("/")}`;
}
