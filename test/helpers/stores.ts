/**
 * Stores for contract tests on both backends: the embedded SQLite file (":memory:" or a temp file) and
 * a real PostgreSQL — one server per test file, started on first use (a file whose tests select only
 * SQLite starts none) and stopped after the file, with a fresh database per store (CREATE DATABASE).
 */
import { afterAll } from "bun:test";
import { SQL } from "bun";
import { join } from "node:path";
import { memoryLogger, type Logger } from "../../src/core/log.ts";
import { Keyring } from "../../src/crypto/keyring.ts";
import { openStore, type Backend, type Store } from "../../src/store/index.ts";
import { startPostgres, type PostgresServer } from "./postgres.ts";
import { tempDir } from "./servers.ts";

export const BACKENDS: readonly Backend[] = ["sqlite", "postgres"];

export interface Postgres {
  server(): Promise<PostgresServer>;
  /** the URL of a new, empty database on the file's server */
  database(): Promise<string>;
}

/** The file's PostgreSQL (registers its afterAll: call at the top of a test file). */
export function postgresForFile(): Postgres {
  let server: Promise<PostgresServer> | null = null;
  let n = 0;
  afterAll(async () => {
    if (server) await (await server).stop();
  });
  const get = () => (server ??= startPostgres());
  return {
    server: get,
    async database() {
      const s = await get();
      const name = `db${++n}`;
      const admin = new SQL(s.url);
      try {
        await admin.unsafe(`CREATE DATABASE ${name}`);
      } finally {
        await admin.close();
      }
      return s.url.replace(/\/[^/]+$/, `/${name}`);
    },
  };
}

export const testKeyring = () => Keyring.create(new Uint8Array(32).fill(3));

/** A fresh store on `backend`: SQLite in memory (or in a temp file with `file`), PostgreSQL in a new database. */
export async function freshStore(backend: Backend, pg: Postgres, opts: { keyring?: Keyring; log?: Logger; file?: boolean } = {}): Promise<Store> {
  const keyring = opts.keyring ?? (await testKeyring());
  const log = opts.log ?? memoryLogger().log;
  if (backend === "sqlite") return openStore({ path: opts.file ? join(tempDir("hg-store-"), "data", "hubgate.db") : ":memory:", log, keyring });
  return openStore({ target: { backend: "postgres", url: await pg.database(), poolSize: 4 }, log, keyring });
}
