#!/usr/bin/env bun
/**
 * Smoke test of a built binary (default dist/hubgate): starts it from an empty directory on a free
 * port with a throwaway config, checks /healthz, /readyz, /docs (UI assets from inside the binary),
 * an endpoint call recorded in the request log (written at shutdown at the latest), SIGHUP reload,
 * SIGTERM exit 0; prints start-up time and RSS. Usage: bun scripts/smoke.ts [binary]
 */
import { Database } from "bun:sqlite";
import { mkdtempSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const bin = resolve(process.argv[2] ?? "dist/hubgate");
const dir = mkdtempSync(join(tmpdir(), "hubgate-smoke-"));
const config = join(dir, "gateway.toml");
const upstream = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => Response.json({ ok: true }) });
const store = join(dir, "data", "hubgate.db");
writeFileSync(
  config,
  `[server]\nport = 0\n[storage]\npath = "${store}"\n[logging]\nlevel = "info"\n` +
    `[[projects]]\nid = "smoke"\n[[projects.endpoints]]\nslug = "up"\nupstream_url = "http://127.0.0.1:${upstream.port}"\nauth_mode = "none"\nallow_private = true\n`,
);

function check(cond: unknown, what: string): asserts cond {
  if (!cond) {
    console.error(`smoke: FAILED: ${what}`);
    proc.kill("SIGKILL");
    process.exit(1);
  }
  console.log(`smoke: ok: ${what}`);
}

const t0 = performance.now();
const proc = Bun.spawn([bin, "serve", "--config", config], { cwd: dir, stdout: "pipe", stderr: "inherit", env: { PATH: process.env.PATH ?? "" } });
const reader = proc.stdout.getReader();
const decoder = new TextDecoder();
let buf = "";
const lines: string[] = [];
async function waitFor(pred: (rec: Record<string, unknown>) => boolean, ms = 5000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + ms;
  for (;;) {
    for (let i = 0; i < lines.length; i++) {
      const rec = JSON.parse(lines[i]!) as Record<string, unknown>;
      if (pred(rec)) {
        lines.splice(0, i + 1);
        return rec;
      }
    }
    lines.length = 0;
    if (Date.now() > deadline) throw new Error("timed out waiting for a log line");
    const { value, done } = await Promise.race([reader.read(), Bun.sleep(deadline - Date.now()).then(() => ({ value: undefined, done: false }))]);
    if (done) throw new Error("the binary exited early");
    if (value) {
      buf += decoder.decode(value, { stream: true });
      const parts = buf.split("\n");
      buf = parts.pop()!;
      lines.push(...parts.filter((l) => l.startsWith("{")));
    }
  }
}

const listening = await waitFor((r) => r.msg === "listening");
const startupMs = performance.now() - t0;
const base = `http://127.0.0.1:${listening.port}`;
check((await fetch(`${base}/healthz`)).status === 200, "GET /healthz 200");
check((await fetch(`${base}/readyz`)).status === 200, "GET /readyz 200");
const docs = await fetch(`${base}/docs`);
const html = await docs.text();
check(docs.status === 200 && !/https?:\/\/(cdn|unpkg|jsdelivr)/.test(html), "GET /docs 200, no CDN");
const asset = /(?:src|href)="([^"]*\/docs\/assets\/[^"]+)"/.exec(html)?.[1];
check(asset && (await fetch(new URL(asset, base))).status === 200, `docs asset ${asset} served from the binary`);
check((await fetch(`${base}/docs/json`)).status === 200, "GET /docs/json 200");
const proxied = await fetch(`${base}/api/smoke/proxy/up/ping`);
check(proxied.status === 200 && ((await proxied.json()) as { ok?: boolean }).ok === true, "GET /api/smoke/proxy/up/ping 200 through the endpoint");
const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${proc.pid}/status`, "utf8"))?.[1] ?? 0);

writeFileSync(config, readFileSync(config, "utf8").replace('level = "info"', 'level = "debug"'));
proc.kill("SIGHUP");
await waitFor((r) => r.msg === "config reloaded");
const stats = (await (await fetch(`${base}/stats`)).json()) as { reloads: { count: number } };
check(stats.reloads.count === 1, "SIGHUP reloaded the config (stats.reloads.count = 1)");

proc.kill("SIGTERM");
const code = await proc.exited;
check(code === 0, "SIGTERM: exit code 0");
upstream.stop(true);
const db = new Database(store, { readonly: true });
const logged = db.query<{ n: number }, []>("SELECT count(*) AS n FROM request_logs WHERE project = 'smoke' AND status = 200").get()!.n;
db.close();
check(logged === 1, "the endpoint call is in the request log, its batch written before the exit");
console.log(`smoke: startup ${startupMs.toFixed(0)} ms to listening, idle RSS ${(rssKiB / 1024).toFixed(1)} MiB`);
