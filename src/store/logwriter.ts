/**
 * The request log's writer thread (a Worker): its own connection to the embedded SQLite file, on which
 * it appends the batches and runs the retention that the main thread posts to it, through the same
 * repository code (requestlogs.ts: its SQL and its redaction). Started by logthread.ts; bundled into
 * the binary as a second entry point (scripts/build.ts).
 */
import { Database } from "bun:sqlite";
import { sqliteDriver } from "./sqlite.ts";
import { requestLogRepo, type RequestLogRepo } from "./requestlogs.ts";
import type { LogThreadReply, LogThreadRequest } from "./logthread.ts";

declare const self: Worker;

let repo: RequestLogRepo | null = null;
let close: (() => Promise<void>) | null = null;

async function run(m: LogThreadRequest): Promise<number | undefined> {
  switch (m.op) {
    case "open": {
      // the main thread created and migrated the file; this connection only writes its rows
      const db = new Database(m.path, { create: false, readwrite: true, strict: true });
      db.run("PRAGMA busy_timeout = 5000");
      db.run("PRAGMA synchronous = NORMAL");
      const driver = sqliteDriver(db, m.path);
      repo = requestLogRepo(driver);
      close = () => driver.close();
      return undefined;
    }
    case "append":
      await repo!.appendMany(m.rows);
      return undefined;
    case "prune":
      return repo!.prune(m.maxRows, m.maxAgeMs, m.now);
    case "close":
      await close?.();
      repo = null;
      return undefined;
  }
}

self.onmessage = (e: MessageEvent<LogThreadRequest>) => {
  const m = e.data;
  run(m).then(
    (n) => self.postMessage({ id: m.id, ok: true, n } satisfies LogThreadReply),
    (err: unknown) => self.postMessage({ id: m.id, ok: false, message: err instanceof Error ? err.message : String(err) } satisfies LogThreadReply),
  );
};
