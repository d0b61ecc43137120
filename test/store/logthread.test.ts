/** The request log's writer thread: rows written by the thread are read on the main connection; a thread that fails hands its rows back, none lost. */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { openDatabase, sqliteDriver } from "../../src/store/sqlite.ts";
import { requestLogRepo, type NewRequestLog } from "../../src/store/requestlogs.ts";
import { threadedRequestLogRepo } from "../../src/store/logthread.ts";
import { memoryLogger } from "../../src/core/log.ts";
import { tempDir } from "../helpers/gateway.ts";

const row = (i: number, at = Date.now()): NewRequestLog => ({ at, project: "p", endpoint: "e", tokenId: null, method: "GET", path: `/r${i}?access_token=s3cret`, status: 200, ms: 1, bytes: 10, provider: null, error: null });

function store() {
  const path = join(tempDir(), "hubgate.db");
  const { log, lines } = memoryLogger("debug");
  const db = openDatabase(path, log);
  return { path, log, lines, db, base: requestLogRepo(sqliteDriver(db, path)) };
}

test("batches written on the thread are on the main connection once acknowledged, redacted; retention runs there too", async () => {
  const { path, log, lines, db, base } = store();
  const repo = threadedRequestLogRepo(path, base, log);
  await repo.appendMany([row(1), row(2)]);
  await repo.appendMany([row(3, Date.now() - 10 * 86_400_000)]);
  const rows = await repo.list({ limit: 10 });
  expect(rows.map((r) => r.path)).toEqual(["/r1?access_token=[redacted]", "/r2?access_token=[redacted]", "/r3?access_token=[redacted]"]);
  expect(await repo.prune(1, 86_400_000, Date.now())).toBe(2); // the old row by age, then all but the newest by count
  expect((await repo.list({ limit: 10 })).map((r) => r.path.split("?")[0])).toEqual(["/r2"]);
  await repo.close();
  expect(lines.filter((l) => l.includes("writer thread"))).toEqual([]);
  db.close();
});

test("a thread that cannot open the store: its rows go through the main connection, and the log says so once", async () => {
  const { path, log, lines, db, base } = store();
  const repo = threadedRequestLogRepo(join(tempDir(), "missing", "hubgate.db"), base, log);
  await repo.appendMany([row(1)]);
  await repo.appendMany([row(2)]);
  expect((await base.list({ limit: 10 })).map((r) => r.path.split("?")[0])).toEqual(["/r1", "/r2"]);
  expect(lines.filter((l) => l.includes("writer thread failed"))).toHaveLength(1);
  await repo.close();
  db.close();
  expect(path).toBeString();
});

test("a thread that dies under a batch: that batch and the next are written on the main connection", async () => {
  const { path, log, lines, db, base } = store();
  const dies = () => new Worker(`data:text/javascript,self.onmessage = (e) => { if (e.data.op === "open") self.postMessage({ id: e.data.id, ok: true }); else process.exit(1); }`);
  const repo = threadedRequestLogRepo(path, base, log, dies);
  await repo.appendMany([row(1)]);
  await repo.appendMany([row(2)]);
  expect((await base.list({ limit: 10 })).map((r) => r.path.split("?")[0])).toEqual(["/r1", "/r2"]);
  expect(lines.filter((l) => l.includes("writer thread failed"))).toHaveLength(1);
  await repo.close();
  db.close();
});
