/**
 * Crash safety: a child process writes transactions in a tight loop and is killed with SIGKILL
 * mid-write, several times; every reopen must find an intact database with only whole transactions.
 */
import { expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dir, "../..");

const writer = (dbPath: string) => `
import { openStore } from "${root}/src/store/index.ts";
import { run } from "${root}/src/store/driver.ts";
import { Keyring } from "${root}/src/crypto/keyring.ts";
import { Logger } from "${root}/src/core/log.ts";
const store = await openStore({ path: ${JSON.stringify(dbPath)}, log: new Logger("error"), keyring: await Keyring.create(new Uint8Array(32).fill(7)) });
const tx = (batch) => store.driver.tx(function* () {
  for (let i = 0; i < 50; i++) yield* run("INSERT INTO audit_events (at, kind, subject, detail) VALUES (?, 'crash.test', ?, ?)", Date.now(), batch, JSON.stringify({ i, pad: "x".repeat(200) }));
});
console.log("ready");
for (let n = 0; ; n++) await tx("b" + process.pid + "-" + n);
`;

test("survives kill -9 mid-write: integrity ok, no partial transaction", async () => {
  const dir = mkdtempSync(join(tmpdir(), "hg-crash-"));
  const dbPath = join(dir, "hubgate.db");
  const script = join(dir, "writer.ts");
  writeFileSync(script, writer(dbPath));
  for (let round = 0; round < 3; round++) {
    const child = Bun.spawn(["bun", script], { stdout: "pipe", stderr: "inherit" });
    const reader = child.stdout.getReader();
    const { value } = await reader.read();
    expect(new TextDecoder().decode(value)).toContain("ready");
    await Bun.sleep(150 + round * 100);
    child.kill("SIGKILL");
    expect(await child.exited).not.toBe(0);

    const db = new Database(dbPath);
    expect(db.query<{ integrity_check: string }, []>("PRAGMA integrity_check").get()!.integrity_check).toBe("ok");
    const partial = db
      .query<{ subject: string; n: number }, []>("SELECT subject, COUNT(*) AS n FROM audit_events WHERE kind = 'crash.test' GROUP BY subject HAVING n <> 50")
      .all();
    expect(partial).toEqual([]);
    const total = db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM audit_events").get()!.n;
    expect(total).toBeGreaterThan(0);
    db.close();
  }
}, 30_000);
