/** Benchmark plumbing: child processes on loopback, autocannon runs bounded in time, figures as text. */
import autocannon from "autocannon";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { waitReady } from "./tools.ts";

export const ROOT = join(import.meta.dir, "..");

export async function spawnUrl(cmd: string[], env: Record<string, string> = {}): Promise<{ proc: Subprocess; url: string }> {
  const proc = Bun.spawn(cmd, { env: { ...process.env, ...env }, stdout: "pipe", stderr: "inherit" });
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  const { value } = await reader.read();
  const url = new TextDecoder().decode(value).trim().split("\n")[0]!;
  void (async () => {
    for (;;) if ((await reader.read()).done) break;
  })();
  return { proc, url };
}

export interface StartedGateway {
  proc: Subprocess;
  url: string;
  dir: string;
  config: string;
}

/**
 * Starts the gateway on a free port with the given config body (`storage`: the [storage] keys, default a SQLite file in a throwaway directory): the binary `opts.bin` (or
 * $HUBGATE_BIN), else `bun src/main.ts serve`. Logs at warn (info with `logs`, stdout then piped); the
 * access log and the per-request store log are off unless `requestLog` turns the latter on.
 */
export async function startGateway(body: string, opts: { bin?: string; logs?: boolean; requestLog?: boolean; env?: Record<string, string>; server?: string; storage?: string } = {}): Promise<StartedGateway> {
  const dir = mkdtempSync(join(tmpdir(), "hubgate-bench-"));
  const port = await freePort();
  const config = join(dir, "gateway.toml");
  writeFileSync(
    config,
    `[server]\nport = ${port}\n${opts.server ?? ""}\n[storage]\n${opts.storage ?? `path = "${join(dir, "hubgate.db")}"`}\n[logging]\nlevel = "${opts.logs ? "info" : "warn"}"\naccess_log = false\n${opts.requestLog ? "" : "request_log_max_rows = 0\n"}${body}`,
  );
  const bin = opts.bin ?? process.env.HUBGATE_BIN;
  const cmd = bin ? [bin, "serve", "--config", config] : [process.execPath, join(ROOT, "src/main.ts"), "serve", "--config", config];
  const proc = Bun.spawn(cmd, {
    env: { ...process.env, HUBGATE_APP_KEY: Buffer.alloc(32, 1).toString("base64"), BUN_CONFIG_MAX_HTTP_REQUESTS: "4096", ...opts.env },
    stdout: opts.logs ? "pipe" : "ignore",
    stderr: "inherit",
  });
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/readyz`);
  return { proc, url, dir, config };
}

export async function freePort(): Promise<number> {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const p = s.port!;
  s.stop(true);
  return p;
}

export interface Figures {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

export async function load(name: string, opts: autocannon.Options): Promise<Figures> {
  await autocannon({ connections: 32, ...opts, duration: 2 }); // warm-up (JIT), not measured
  const r = await autocannon({ connections: 32, duration: 8, ...opts });
  return { name, rps: Math.round(r.requests.average), p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.timeouts, non2xx: r.non2xx };
}

export function table(rows: Figures[]): string {
  const head = "| path | reads/s | p50 ms | p99 ms | errors | non-2xx |\n|---|---:|---:|---:|---:|---:|";
  return [head, ...rows.map((r) => `| ${r.name} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.errors} | ${r.non2xx} |`)].join("\n");
}

/** A throwaway redis-server on a free loopback port (for workers and replicas rows); stopped with the bench. */
export async function startRedis(): Promise<{ proc: Subprocess; url: string }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "hubgate-bench-redis-"));
  const proc = Bun.spawn(["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], { stdout: "ignore", stderr: "inherit" });
  for (let i = 0; i < 200; i++) {
    const ok = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } }).then(
      (s) => (s.end(), true),
      () => false,
    );
    if (ok) return { proc, url: `redis://127.0.0.1:${port}` };
    await Bun.sleep(25);
  }
  throw new Error("redis-server did not start");
}
