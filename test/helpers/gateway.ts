/** Test helpers: temp dirs, in-process gateways on port 0, and the real CLI as a child process. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { memoryLogger } from "../../src/core/log.ts";
import { serve, type Running } from "../../src/root/serve.ts";
import { Gateway } from "../../src/root/gateway.ts";
import { createApp } from "../../src/root/app.ts";

export const APP_KEY = Buffer.alloc(32, 7).toString("base64");

export function tempDir(prefix = "hubgate-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes gateway.toml into a fresh temp dir with port 0 and a store inside that dir (and `files` beside it). */
export function writeConfig(body: string, dir = tempDir(), files: Record<string, string> = {}): { dir: string; path: string } {
  const path = join(dir, "gateway.toml");
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const hasServer = /^\[server\]/m.test(body);
  const hasStorage = /^\[storage\]/m.test(body);
  const head = `${hasServer ? "" : "[server]\nport = 0\n"}${hasStorage ? "" : `[storage]\npath = "${join(dir, "hubgate.db")}"\n`}`;
  writeFileSync(path, head + body);
  return { dir, path };
}

/** An in-process gateway bound to a free loopback port, signals not installed. */
export async function startGateway(body = "", env: Record<string, string | undefined> = {}, files: Record<string, string> = {}): Promise<Running & { lines: string[]; configPath: string; dir: string }> {
  const { dir, path } = writeConfig(body, tempDir(), files);
  const { log, lines } = memoryLogger("debug");
  const running = await serve({ configPath: path, env: { HUBGATE_APP_KEY: APP_KEY, ...env }, log, signals: false });
  return { ...running, lines, configPath: path, dir };
}

/** A gateway + app for in-process `app.handle()` tests (no socket). */
export async function inProcess(body = "", env: Record<string, string | undefined> = {}, files: Record<string, string> = {}) {
  const { dir, path } = writeConfig(body, tempDir(), files);
  const { log, lines } = memoryLogger("debug");
  const gw = await Gateway.start({ configPath: path, env: { HUBGATE_APP_KEY: APP_KEY, ...env }, log });
  const app = createApp(gw);
  const handle = (p: string, init?: RequestInit) => app.handle(new Request(`http://localhost${p}`, init));
  return { gw, app, handle, lines, dir, configPath: path };
}

export const ROOT = join(import.meta.dir, "..", "..");

/** A loopback port that was free a moment ago (for configs that must name their port up front). */
export async function freePort(): Promise<number> {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const p = s.port!;
  s.stop(true);
  return p;
}
export const MAIN = join(ROOT, "src", "main.ts");

/** Runs the CLI to completion. */
export async function runCli(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const proc = Bun.spawn([process.execPath, MAIN, ...args], {
    cwd: opts.cwd ?? tempDir(),
    env: { PATH: process.env.PATH ?? "", HUBGATE_APP_KEY: APP_KEY, ...opts.env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}
