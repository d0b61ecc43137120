/** Opening the SQLite file: pragmas in the right order, then migrations. */
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { GatewayError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { MIGRATIONS, type Migration } from "./migrations.ts";

/** `create: false` opens an existing database only (management commands never create a store). */
export function openDatabase(path: string, log: Logger, migrations: readonly Migration[] = MIGRATIONS, opts: { create?: boolean } = {}): Database {
  const create = (opts.create ?? true) || path === ":memory:";
  if (path !== ":memory:" && create) mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const db = new Database(path, { create, readwrite: true, strict: true });
  // busy_timeout first: every later statement (even the WAL switch) may meet a lock held by another process
  db.run("PRAGMA busy_timeout = 5000");
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = NORMAL");
  db.run("PRAGMA foreign_keys = ON");
  migrate(db, log, migrations);
  return db;
}

export function schemaVersion(db: Database): number {
  const row = db.query<{ v: number | null }, []>("SELECT MAX(version) AS v FROM schema_migrations").get();
  return row?.v ?? 0;
}

function migrate(db: Database, log: Logger, migrations: readonly Migration[]): void {
  db.run("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
  const current = schemaVersion(db);
  const latest = migrations.at(-1)?.version ?? 0;
  if (current > latest)
    throw new GatewayError("store_too_new", `the database is at schema version ${current}, newer than this hubgate (${latest}); run a newer release`, 500);
  for (const m of migrations) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.run(m.sql);
      db.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)").run(m.version, m.name, Date.now());
    }).immediate();
    log.info("store migrated", { version: m.version, name: m.name });
  }
}
