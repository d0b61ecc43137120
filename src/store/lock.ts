/**
 * The serving process owns its store: `serve` holds an exclusive lock on `<store>.lock` for as long
 * as it runs, so a second `serve` on the same database refuses to start (two servers would refresh
 * the same single-use refresh tokens and undo each other's work). Management commands take no lock:
 * they work beside the server through SQLite's own WAL locking.
 *
 * The lock file is a tiny SQLite database, held by a write transaction that is never committed; its
 * one row names the holder (PID, host, start time) for the refusal message, written before the lock
 * is taken and readable while it is held.
 */
import { Database } from "bun:sqlite";
import { hostname } from "node:os";
import { basename, dirname, join } from "node:path";
import { realpathSync } from "node:fs";
import { GatewayError } from "../core/errors.ts";

// Trade-off: an OS lock (SQLite's POSIX lock), not a PID file checked for a live PID — the kernel drops it when the holder dies, SIGKILL included, so a crash never blocks a restart and PID reuse cannot fake a holder; like every POSIX lock it is unreliable on network filesystems (NFS).
export interface StoreLock {
  readonly path: string;
  release(): void;
}

interface Holder {
  pid: number;
  host: string;
  started_at: number;
}

const busy = (e: unknown) => (e as { code?: unknown }).code === "SQLITE_BUSY";

export function lockPathFor(storePath: string): string {
  return join(realpathSync(dirname(storePath)), `${basename(storePath)}.lock`);
}

/** Takes the store's lock or throws store_locked naming the process that holds it. The directory must exist. */
export function acquireStoreLock(storePath: string): StoreLock {
  const path = lockPathFor(storePath);
  const db = new Database(path, { create: true, strict: true });
  try {
    db.run("PRAGMA busy_timeout = 0"); // a held lock answers at once; waiting would only delay the refusal
    db.run("CREATE TABLE IF NOT EXISTS holder (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER NOT NULL, host TEXT NOT NULL, started_at INTEGER NOT NULL)");
    db.query("INSERT INTO holder (id, pid, host, started_at) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, host = excluded.host, started_at = excluded.started_at").run(
      process.pid,
      hostname(),
      Date.now(),
    );
    db.run("BEGIN IMMEDIATE");
  } catch (e) {
    if (!busy(e)) {
      db.close();
      throw e;
    }
    let h: Holder | null = null;
    try {
      h = db.query<Holder, []>("SELECT pid, host, started_at FROM holder WHERE id = 1").get();
    } catch {
      // the holder is between its two statements; its PID is unknown
    }
    db.close();
    // two starts at the same instant can leave the loser's own PID in the row: name no one then
    const who = h && h.pid !== process.pid ? `PID ${h.pid} on ${h.host}, running since ${new Date(h.started_at).toISOString()}` : "another process";
    throw new GatewayError(
      "store_locked",
      `the store ${storePath} is in use by another hubgate serve (${who}; lock ${path}); stop it first, or give this one its own storage.path — management commands (token, logs, connections …) work beside the running server`,
      500,
    );
  }
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      try {
        db.run("ROLLBACK");
      } finally {
        db.close();
      }
    },
  };
}
