/** Bench plumbing: install wrk/nginx when missing, run wrk and parse its figures, spawn processes and read their RSS. */
import { mkdtempSync, writeFileSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function ensureTools(): void {
  const missing = ["wrk", "nginx"].filter((t) => !Bun.which(t) && !existsSync(`/usr/sbin/${t}`));
  if (!missing.length) return;
  console.error(`bench: installing ${missing.join(", ")} (Debian packages)`);
  const pkgs = missing.map((m) => (m === "nginx" ? "nginx-light" : m));
  const r = Bun.spawnSync(["sh", "-c", `DEBIAN_FRONTEND=noninteractive apt-get install -y -q ${pkgs.join(" ")} || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q ${pkgs.join(" ")})`], { stdout: "ignore", stderr: "inherit" });
  if (r.exitCode !== 0) throw new Error(`could not install ${missing.join(", ")}`);
}

export interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

const ms = (v: string) => {
  const m = /^([\d.]+)(us|µs|ms|s|m)$/.exec(v.trim());
  if (!m) return NaN;
  return Number(m[1]) * (m[2] === "us" || m[2] === "µs" ? 0.001 : m[2] === "s" ? 1000 : m[2] === "m" ? 60_000 : 1);
};

/** wrk -t2 -c<c> -d<s> --latency [-s script] url */
export function wrk(url: string, opts: { connections?: number; seconds?: number; script?: string; headers?: Record<string, string> } = {}): WrkResult {
  const args = ["wrk", "-t2", `-c${opts.connections ?? 50}`, `-d${opts.seconds ?? 8}s`, "--latency"];
  for (const [k, v] of Object.entries(opts.headers ?? {})) args.push("-H", `${k}: ${v}`);
  if (opts.script) args.push("-s", opts.script);
  args.push(url);
  const out = Bun.spawnSync(args, { stdout: "pipe", stderr: "pipe" }).stdout.toString();
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const p50 = ms(/^\s*50%\s+(\S+)/m.exec(out)?.[1] ?? "NaN");
  const p99 = ms(/^\s*99%\s+(\S+)/m.exec(out)?.[1] ?? "NaN");
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  return { rps: Math.round(rps), p50: Math.round(p50 * 100) / 100, p99: Math.round(p99 * 100) / 100, errors, non2xx };
}

/** A wrk Lua script that requests path + a counter, so every request is a different URL (no cache, no coalescing). */
export function distinctPathsScript(path: string): string {
  const dir = mkdtempSync(join(tmpdir(), "hg-wrk-"));
  const file = join(dir, "distinct.lua");
  writeFileSync(file, `counter = 0\nrequest = function()\n  counter = counter + 1\n  return wrk.format(nil, "${path}" .. counter)\nend\n`);
  return file;
}

/** Resident memory of a process now (VmRSS), or its peak so far (VmHWM). */
export function rssMiB(pid: number, which: "VmRSS" | "VmHWM" = "VmRSS"): number {
  try {
    const kb = Number(new RegExp(`${which}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    return Math.round((kb / 1024) * 10) / 10;
  } catch {
    return NaN;
  }
}

export async function waitReady(url: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await fetch(url).then((r) => r.status < 500, () => false)) return;
    await Bun.sleep(25);
  }
  throw new Error(`${url} did not become ready`);
}

export function table(head: string[], rows: (string | number)[][]): string {
  return [`| ${head.join(" | ")} |`, `|${head.map((_, i) => (i ? "---:" : "---")).join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}
