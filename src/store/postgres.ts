/**
 * The store on PostgreSQL, shared by every replica, through Bun.SQL (a connection pool of
 * `storage.pool_size`) behind the same Driver seam as the embedded SQLite file.
 *
 * Migrations. The same versions as SQLite in the PostgreSQL dialect (migrations.pg.ts), applied in one
 * transaction that first takes an advisory lock (pg_advisory_xact_lock): replicas starting at once
 * queue on the lock, and the second finds the work done. A database newer than this release is refused.
 *
 * Atomic programs run in one transaction on one pooled connection; a program's `lock` step takes a
 * transaction-scoped advisory lock on the key, so two replicas working on one token family queue
 * behind each other (driver.ts). Integers come back as numbers (int8 is read as BigInt, then converted:
 * the store's integers are millisecond times and counts, far inside 2^53).
 *
 * Faults. A lost or refused connection is GatewayError 503 `store_unavailable` (never the driver's own
 * error text), logged once per 30 s with how many failures were not logged, and once more when the
 * server answers again (core/faultlog.ts). Bun.SQL opens new connections on the next query: service
 * resumes by itself. Other errors (a constraint violated) pass through as they are.
 */
import { SQL } from "bun";
import { GatewayError } from "../core/errors.ts";
import { FaultLog } from "../core/faultlog.ts";
import type { Logger } from "../core/log.ts";
import type { Migration } from "./migrations.ts";
import { PG_MIGRATIONS } from "./migrations.pg.ts";
import { driveAsync, insertSql, type Arg, type Driver, type Row, type Step } from "./driver.ts";

export interface PostgresOptions {
  url: string;
  /** connections in the pool (Bun.SQL `max`) */
  poolSize?: number;
  log: Logger;
  /** false: a database without hubgate's schema is store_not_found (management commands never create a store) */
  create?: boolean;
  migrations?: readonly Migration[];
  /** seconds to wait for a new connection (default 5) */
  connectTimeout?: number;
}

/** First key of every advisory lock hubgate takes ("hubg"), so they never meet another application's. */
const LOCK_NAMESPACE = 0x68756267;
/** Second key of the migration lock; `lock` steps use hashtext(key) under LOCK_NAMESPACE + 1. */
const MIGRATION_LOCK = 1;
const PING_TIMEOUT_MS = 2000;
/** rows per multi-row INSERT (PostgreSQL takes at most 65,535 parameters a statement) */
const INSERT_CHUNK_PARAMS = 30_000;

const UNAVAILABLE_CODES = new Set([
  "ERR_POSTGRES_CONNECTION_CLOSED",
  "ERR_POSTGRES_CONNECTION_FAILED",
  "ERR_POSTGRES_CONNECTION_REFUSED",
  "ERR_POSTGRES_CONNECTION_TIMEOUT",
  "ERR_POSTGRES_IDLE_TIMEOUT",
  "ERR_POSTGRES_LIFETIME_TIMEOUT",
  "ERR_POSTGRES_TLS_UPGRADE_FAILED",
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
]);
/** SQLSTATEs of a server that is going away or not taking connections: class 08, admin/crash shutdown, starting up, too many connections */
const UNAVAILABLE_STATES = new Set(["57P01", "57P02", "57P03", "53300"]);

/** Is this the server being unreachable (rather than a statement failing)? */
export function isUnavailable(e: unknown): boolean {
  if (typeof e !== "object" || e === null) return false;
  const { code, errno } = e as { code?: unknown; errno?: unknown };
  if (typeof code === "string" && UNAVAILABLE_CODES.has(code)) return true;
  return code === "ERR_POSTGRES_SERVER_ERROR" && typeof errno === "string" && (errno.startsWith("08") || UNAVAILABLE_STATES.has(errno));
}

export function storeUnavailable(cause?: unknown): GatewayError {
  return new GatewayError("store_unavailable", "The store is unavailable; try again shortly", 503, { headers: { "retry-after": "1" }, cause });
}

/** postgres://host:port/db of a URL, for messages: never the user name or password. */
export function describePostgresUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "postgres (unparseable URL)";
  }
}

const POSTGRES_SCHEMES = new Set(["postgres:", "postgresql:"]);

/** Why `url` cannot be a PostgreSQL URL, or null; the message never repeats the value (it may hold a password). */
export function postgresUrlProblem(url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return "expected a PostgreSQL URL such as postgres://user:pw@host:5432/hubgate (the value is not a URL)";
  }
  if (!POSTGRES_SCHEMES.has(u.protocol)) return `expected a postgres:// or postgresql:// URL, got scheme ${u.protocol}`;
  if (u.pathname.length <= 1) return "the URL names no database (postgres://host:5432/<database>)";
  return null;
}

/** `?` placeholders → `$1, $2 …` (the store's SQL has no `?` in literals), once per SQL text. */
const numbered = new Map<string, string>();
function dollars(sql: string): string {
  let out = numbered.get(sql);
  if (out === undefined) {
    let n = 0;
    out = sql.replace(/\?/g, () => `$${++n}`);
    numbered.set(sql, out);
  }
  return out;
}

/** int8 values arrive as BigInt: the store's integers are times and counts, numbers everywhere else. */
function numbers<T>(rows: Row[]): T[] {
  for (const r of rows) for (const k in r) if (typeof r[k] === "bigint") r[k] = Number(r[k]);
  return rows as T[];
}

type Queryable = Pick<SQL, "unsafe">;

/** Opens the pool and migrates; throws store_unavailable when the server cannot be reached now. */
export async function openPostgres(opts: PostgresOptions): Promise<Driver> {
  const problem = postgresUrlProblem(opts.url);
  if (problem) throw new Error(`not a PostgreSQL URL: ${problem}`); // [storage] is checked before (storeTarget); this is for direct callers
  const location = describePostgresUrl(opts.url);
  const log = opts.log.child({ component: "store" });
  const faults = new FaultLog(log, {
    down: "store (PostgreSQL) unavailable: requests that need it answer 503 store_unavailable, /readyz fails",
    up: "store (PostgreSQL) reachable again",
  });
  const u = new URL(opts.url);
  const sql = new SQL({
    url: opts.url,
    // the URL's database, not $PGDATABASE (which Bun would put first)
    database: decodeURIComponent(u.pathname.slice(1)),
    max: opts.poolSize ?? 10,
    bigint: true,
    connectionTimeout: opts.connectTimeout ?? 5,
    idleTimeout: 60,
    connection: { application_name: "hubgate" },
  });
  let closed = false;

  /** Every statement goes through here: faults become store_unavailable, logged by the one rule. */
  const guarded = async <T>(op: string, fn: () => Promise<T>): Promise<T> => {
    if (closed) throw storeUnavailable();
    try {
      const r = await fn();
      if (faults.down) faults.restored();
      return r;
    } catch (e) {
      if (!isUnavailable(e)) throw e;
      faults.fail(op, { code: (e as { code?: unknown }).code });
      throw storeUnavailable(e);
    }
  };
  const query = async (q: Queryable, text: string, args: readonly Arg[]): Promise<Row[] & { count: number }> => {
    const r: unknown = await q.unsafe(dollars(text), args as Arg[]);
    return r as Row[] & { count: number };
  };
  const exec = (q: Queryable) => async (s: Step): Promise<unknown> => {
    switch (s.op) {
      case "get":
        return numbers<Row>(await query(q, s.sql, s.args))[0] ?? null;
      case "all":
        return numbers<Row>(await query(q, s.sql, s.args));
      case "run":
        return (await query(q, s.sql, s.args)).count;
      case "lock":
        await q.unsafe("SELECT pg_advisory_xact_lock($1::int, hashtext($2))", [LOCK_NAMESPACE + 1, s.key]);
        return undefined;
    }
  };

  const driver: Driver = {
    backend: "postgres",
    location,
    get: <T extends object>(text: string, ...args: Arg[]) => guarded("get", async () => numbers<T>(await query(sql, text, args))[0] ?? null),
    all: <T extends object>(text: string, ...args: Arg[]) => guarded("all", async () => numbers<T>(await query(sql, text, args))),
    run: (text, ...args) => guarded("run", async () => (await query(sql, text, args)).count),
    insertMany(table, columns, rows) {
      if (!rows.length) return Promise.resolve();
      const per = Math.max(1, Math.floor(INSERT_CHUNK_PARAMS / columns.length));
      const one = async (q: Queryable, chunk: readonly (readonly Arg[])[]) => {
        await query(q, insertSql(table, columns, chunk.length), chunk.flat());
      };
      // one statement for a batch that fits (the request log's); a larger one in chunks, in one transaction
      if (rows.length <= per) return guarded("insert", () => one(sql, rows));
      return guarded("insert", () =>
        sql.begin(async (tx) => {
          for (let i = 0; i < rows.length; i += per) await one(tx, rows.slice(i, i + per));
        }),
      );
    },
    tx: (program) => guarded("transaction", () => sql.begin((tx) => driveAsync(program(), exec(tx)))),
    schemaVersion: () => guarded("get", async () => Number((await query(sql, "SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations", []))[0]?.v ?? 0)),
    async ping() {
      if (closed) return false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        const ok = await Promise.race([
          guarded("ping", () => query(sql, "SELECT 1 AS ok", [])).then((r) => r[0]?.ok === 1),
          new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS))),
        ]);
        return ok;
      } catch {
        return false;
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await sql.close({ timeout: 5 });
    },
  };

  try {
    await guarded("migrate", () => migrate(sql, log, opts.migrations ?? PG_MIGRATIONS, opts.create ?? true, location));
  } catch (e) {
    closed = true;
    await sql.close({ timeout: 1 }).catch(() => undefined);
    // at start, say where and why (the driver's code, never the URL's credentials)
    if (e instanceof GatewayError && e.code === "store_unavailable") {
      const code = (e.cause as { code?: unknown } | undefined)?.code;
      throw new GatewayError("store_unavailable", `cannot reach the store at ${location}${typeof code === "string" ? ` (${code})` : ""}; the migrations need it at start`, 503, { cause: e.cause });
    }
    throw e;
  }
  return driver;
}

/** Every pending migration, in one transaction under the migration lock (replicas starting together queue here). */
async function migrate(sql: SQL, log: Logger, migrations: readonly Migration[], create: boolean, location: string): Promise<void> {
  const applied = await sql.begin(async (tx) => {
    await tx.unsafe("SELECT pg_advisory_xact_lock($1::int, $2::int)", [LOCK_NAMESPACE, MIGRATION_LOCK]);
    const exists = ((await tx.unsafe("SELECT to_regclass('schema_migrations') IS NOT NULL AS e", [])) as { e: boolean }[])[0]?.e === true;
    if (!exists && !create)
      throw new GatewayError(
        "store_not_found",
        `no hubgate store in ${location} (no schema_migrations table). Management commands use the store of the server and never create one: start \`hubgate serve\` with this config first`,
        500,
      );
    await tx.unsafe("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)");
    const rows = (await tx.unsafe("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations", [])) as { v: number }[];
    const current = Number(rows[0]?.v ?? 0);
    const latest = migrations.at(-1)?.version ?? 0;
    if (current > latest)
      throw new GatewayError("store_too_new", `the database is at schema version ${current}, newer than this hubgate (${latest}); run a newer release`, 500);
    const done: Migration[] = [];
    for (const m of migrations) {
      if (m.version <= current) continue;
      await tx.unsafe(m.sql);
      await tx.unsafe("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)", [m.version, m.name, Date.now()]);
      done.push(m);
    }
    return done;
  });
  // said once committed
  for (const m of applied) log.info("store migrated", { version: m.version, name: m.name, backend: "postgres" });
}
