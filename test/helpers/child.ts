/** The real CLI (`bun src/main.ts serve`) as a child process, with its JSON log lines readable. */
import { MAIN, APP_KEY } from "./gateway.ts";

export interface Child {
  proc: ReturnType<typeof Bun.spawn>;
  lines: Record<string, unknown>[];
  /** waits until a log line satisfying `pred` has been written (searching from the start) */
  waitFor(pred: (rec: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
  base: string;
  stop(signal?: NodeJS.Signals): Promise<number>;
}

export async function spawnServe(configPath: string, opts: { cwd?: string; env?: Record<string, string>; cmd?: string[] } = {}): Promise<Child> {
  const proc = Bun.spawn(opts.cmd ?? [process.execPath, MAIN, "serve", "--config", configPath], {
    cwd: opts.cwd,
    env: { PATH: process.env.PATH ?? "", HUBGATE_APP_KEY: APP_KEY, ...opts.env },
    stdout: "pipe",
    stderr: "inherit",
  });
  const lines: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  void (async () => {
    const decoder = new TextDecoder();
    let buf = "";
    for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      const parts = buf.split("\n");
      buf = parts.pop()!;
      for (const p of parts) {
        if (!p.startsWith("{")) continue;
        try {
          lines.push(JSON.parse(p) as Record<string, unknown>);
        } catch {
          /* a non-JSON line is not ours to read */
        }
      }
      for (const w of waiters) w();
    }
    for (const w of waiters) w();
  })();
  const waitFor = async (pred: (rec: Record<string, unknown>) => boolean, ms = 10_000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = lines.find(pred);
      if (hit) return hit;
      if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`no matching log line; got:\n${lines.map((l) => JSON.stringify(l)).join("\n")}`);
      await new Promise<void>((r) => {
        const done = () => (waiters.delete(done), r());
        waiters.add(done);
        setTimeout(done, 100);
      });
    }
  };
  const listening = await waitFor((r) => r.msg === "listening");
  return {
    proc,
    lines,
    waitFor,
    base: `http://127.0.0.1:${listening.port}`,
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (proc.exitCode === null) proc.kill(signal);
      return proc.exited;
    },
  };
}

/**
 * Starts `serve` expecting it to refuse: resolves with its exit code and output once it exits, or —
 * should it start listening instead — stops it and resolves with `listened: true`, so a test of a
 * refusal fails rather than hangs when the refusal does not happen.
 */
export async function serveRefusal(
  configPath: string,
  opts: { cwd?: string; env?: Record<string, string>; args?: string[] } = {},
): Promise<{ code: number; stdout: string; stderr: string; listened: boolean }> {
  const proc = Bun.spawn([process.execPath, MAIN, "serve", "--config", configPath, ...(opts.args ?? [])], {
    cwd: opts.cwd,
    env: { PATH: process.env.PATH ?? "", HUBGATE_APP_KEY: APP_KEY, ...opts.env },
    stdout: "pipe",
    stderr: "pipe",
  });
  let stdout = "";
  let listened = false;
  const reading = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) {
      stdout += decoder.decode(chunk, { stream: true });
      if (!listened && stdout.split("\n").some((l) => l.includes('"msg":"listening"'))) {
        listened = true;
        proc.kill("SIGTERM");
      }
    }
  })();
  const [stderr, code] = await Promise.all([new Response(proc.stderr as ReadableStream<Uint8Array>).text(), proc.exited]);
  await reading;
  return { code, stdout, stderr, listened };
}
