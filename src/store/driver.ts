/**
 * The one seam between the repositories and a database: the repositories are written once, against
 * this interface, and run unchanged on the embedded SQLite file (sqlite.ts) or on PostgreSQL shared by
 * every replica (postgres.ts). Statements use `?` placeholders and portable SQL (ON CONFLICT, RETURNING,
 * no backend-only functions); integers come back as numbers on both.
 *
 * Atomic work is a program: a generator that yields its statements one at a time and receives each
 * result, so the same rule (MCP refresh-token rotation, code exchange …) is written once and each
 * backend runs it its own way — SQLite synchronously inside one IMMEDIATE transaction (one writer at a
 * time, nothing else of this process interleaves), PostgreSQL inside one transaction on one pooled
 * connection, where a `lock` step takes a transaction-scoped advisory lock (pg_advisory_xact_lock) so
 * that replicas working on the same key (a token family) queue behind each other. SQLite's write lock
 * already serialises every transaction: `lock` is nothing there.
 *
 * Everything is Promise-returning; the SQLite driver answers with already-resolved promises (its calls
 * are synchronous), so the embedded store stays the fastest path.
 */
export type Arg = string | number | null;
export type Row = Record<string, unknown>;

export type Step =
  | { op: "get" | "all" | "run"; sql: string; args: readonly Arg[] }
  | { op: "lock"; key: string };

/** An atomic unit of store work; see the module comment. */
export type Program<T> = Generator<Step, T, unknown>;

/** One row or null (inside a program: `const r = yield* get<R>(…)`). */
export function* get<T extends object>(sql: string, ...args: Arg[]): Program<T | null> {
  return (yield { op: "get", sql, args }) as T | null;
}

export function* all<T extends object>(sql: string, ...args: Arg[]): Program<T[]> {
  return (yield { op: "all", sql, args }) as T[];
}

/** Rows changed. */
export function* run(sql: string, ...args: Arg[]): Program<number> {
  return (yield { op: "run", sql, args }) as number;
}

/** Serialise with every other transaction that locks `key`, until this one ends (PostgreSQL; nothing on SQLite). */
export function* lock(key: string): Program<void> {
  yield { op: "lock", key };
}

export type Backend = "sqlite" | "postgres";

export interface Driver {
  readonly backend: Backend;
  /** where the store is, for messages: a file path, or postgres://host:port/db (never credentials) */
  readonly location: string;
  get<T extends object>(sql: string, ...args: Arg[]): Promise<T | null>;
  all<T extends object>(sql: string, ...args: Arg[]): Promise<T[]>;
  /** rows changed */
  run(sql: string, ...args: Arg[]): Promise<number>;
  /** many rows at once, all or none: SQLite one transaction of one prepared INSERT, PostgreSQL multi-row INSERTs */
  insertMany(table: string, columns: readonly string[], rows: readonly (readonly Arg[])[]): Promise<void>;
  /** runs the program atomically (see the module comment) and returns what it returns */
  tx<T>(program: () => Program<T>): Promise<T>;
  schemaVersion(): Promise<number>;
  /** true when a trivial query succeeds (readiness); never throws */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** Runs a program step by step with `exec` answering each step (the synchronous drivers' loop). */
export function driveSync<T>(program: Program<T>, exec: (s: Step) => unknown): T {
  let r = program.next();
  while (!r.done) r = program.next(exec(r.value));
  return r.value;
}

export async function driveAsync<T>(program: Program<T>, exec: (s: Step) => Promise<unknown>): Promise<T> {
  let r = program.next();
  while (!r.done) r = program.next(await exec(r.value));
  return r.value;
}

/** `INSERT INTO t (a, b) VALUES (?, ?), (?, ?) …` for `rows` rows. */
export function insertSql(table: string, columns: readonly string[], rows: number): string {
  const one = `(${columns.map(() => "?").join(", ")})`;
  return `INSERT INTO ${table} (${columns.join(", ")}) VALUES ${Array.from({ length: rows }, () => one).join(", ")}`;
}
