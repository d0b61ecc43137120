/** The supervisor's start-up rule, with stand-in workers: one that cannot start fails the start, and the others are stopped with it. */
import { expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Supervisor, WORKER_ENV } from "../../src/server/cluster.ts";
import { memoryLogger } from "../../src/core/log.ts";
import { tempDir } from "../helpers/gateway.ts";

/** Worker 0 writes its pid, says it listens and stays until SIGTERM; worker 1 waits for worker 0 to be up, then exits with code 3. */
function standIn(): { script: string; pidFile: string } {
  const dir = tempDir();
  const pidFile = join(dir, "worker0.pid");
  const script = join(dir, "worker.ts");
  writeFileSync(
    script,
    `const id = process.env.${WORKER_ENV};
if (id === "1") {
  while (!(await Bun.file(${JSON.stringify(pidFile)}).exists())) await Bun.sleep(10);
  process.exit(3);
}
await Bun.write(${JSON.stringify(pidFile)}, String(process.pid));
process.send!({ t: "listening" });
process.on("SIGTERM", () => process.exit(0));
setInterval(() => {}, 1000);
`,
  );
  return { script, pidFile };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test("a worker that exits before it listens fails the start, and the workers already up are stopped", async () => {
  const { script, pidFile } = standIn();
  const { log } = memoryLogger("debug");
  const sup = new Supervisor({ workers: 2, command: [process.execPath, script], env: { ...process.env }, log });
  await expect(sup.start()).rejects.toThrow("worker 1 exited (code 3) before listening");
  const pid = Number(await Bun.file(pidFile).text());
  expect(pid).toBeGreaterThan(0);
  expect(alive(pid)).toBe(false); // stopped (and reaped) before start() failed
  expect(sup.view().running).toBe(0);
});
