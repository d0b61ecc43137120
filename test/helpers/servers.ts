/** Small pieces shared by the helpers that run real servers (Redis, PostgreSQL) for tests. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A loopback port the kernel just handed out (and released) for a server that must be told its port. */
export async function freeLoopbackPort(): Promise<number> {
  const l = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = l.port;
  l.stop(true);
  return port;
}

/**
 * Resolves when `stream` (the child's stdout or stderr) prints a line matching `ready`; rejects when the
 * child exits first or `ms` pass, with what it printed. The stream is drained to the end in the background,
 * so a chatty child never blocks on a full pipe.
 */
export function waitForLine(proc: { exited: Promise<number> }, stream: ReadableStream<Uint8Array>, ready: RegExp, name: string, ms = 20_000): Promise<void> {
  let out = "";
  let resolved = false;
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not get ready within ${ms} ms:\n${out}`)), ms);
    const settle = (err: Error | null) => {
      if (resolved) return;
      resolved = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    };
    void (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) {
        if (resolved) continue;
        out += decoder.decode(chunk, { stream: true });
        if (ready.test(out)) settle(null);
      }
    })().catch(() => {});
    void proc.exited.then((code) => settle(new Error(`${name} exited (${code}) before it was ready:\n${out}`)));
  });
}
