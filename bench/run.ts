#!/usr/bin/env bun
/**
 * `bun run bench`: the five benchmark tables, loopback only, bounded in time (about 3–4 minutes with
 * the defaults; --quick for a smoke run). Runs the compiled binary (rebuilt first) against a local
 * upstream, next to the upstream alone, a bare Bun proxy and nginx (plain and proxy_cache).
 */
import { parseArgs } from "node:util";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { ROOT, freePort, spawnUrl, startGateway, type StartedGateway } from "./lib.ts";
import { distinctPathsScript, ensureTools, rssMiB, table, waitReady, wrk } from "./tools.ts";
import { quotaEconomy } from "./quota.ts";
import { mcpStreams } from "./streams.ts";
import { startupAndReload } from "./lifecycle.ts";

const { values } = parseArgs({ options: { quick: { type: "boolean", default: false }, seconds: { type: "string" } } });
const seconds = Number(values.seconds ?? (values.quick ? 3 : 8));
const BIN = join(ROOT, "dist/hubgate");
ensureTools();
// always rebuilt (under a second): a stale binary would measure old code
if (Bun.spawnSync([process.execPath, join(ROOT, "scripts/build.ts")], { stdout: "inherit", stderr: "inherit" }).exitCode !== 0) throw new Error("build failed");

const procs: Subprocess[] = [];
const cleanup = () => procs.forEach((p) => p.kill());
process.on("exit", cleanup);

export type Hubgate = (body: string, opts?: { logs?: boolean }) => Promise<StartedGateway>;

async function hubgate(body: string, opts: { logs?: boolean } = {}): Promise<StartedGateway> {
  const g = await startGateway(body, { bin: BIN, logs: opts.logs });
  procs.push(g.proc);
  return g;
}

/** nginx on the same upstream: `workers` processes (auto = one per core, its usual setting). */
function nginx(upstreamUrl: string, cache: boolean, workers: "auto" | 1 = "auto"): Promise<{ url: string }> {
  const dir = mkdtempSync(join(tmpdir(), "hg-nginx-"));
  chmodSync(dir, 0o777); // nginx workers drop to an unprivileged user and must reach the cache dir
  return freePort().then(async (port) => {
    const u = new URL(upstreamUrl);
    writeFileSync(
      join(dir, "nginx.conf"),
      `worker_processes ${workers}; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  ${cache ? `proxy_cache_path ${dir}/cache keys_zone=c:10m;` : ""}
  upstream up { server ${u.host}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection "";
      ${cache ? "proxy_cache c; proxy_cache_valid 200 60s; proxy_cache_key $request_uri;" : ""}
    }
  }
}
`,
    );
    const proc = Bun.spawn([Bun.which("nginx") ?? "/usr/sbin/nginx", "-c", join(dir, "nginx.conf"), "-p", dir, "-e", join(dir, "error.log")], { stdout: "ignore", stderr: "inherit" });
    procs.push(proc);
    const url = `http://127.0.0.1:${port}`;
    await waitReady(`${url}/warm`);
    return { url };
  });
}

const up = await spawnUrl([process.execPath, join(ROOT, "bench/upstream.ts")]);
procs.push(up.proc);
const bare = await spawnUrl([process.execPath, join(ROOT, "bench/bare-proxy.ts"), up.url]);
procs.push(bare.proc);
const ng = await nginx(up.url, false);
const ngCache = await nginx(up.url, true);
const ngCache1 = await nginx(up.url, true, 1);
const pool = (cache: boolean) =>
  `[github]\napi_url = "${up.url}"\nallow_private = true\nclients = "open"\n${cache ? 'cache_default_ttl = "60s"' : "cache_max_bytes = 0"}\n[[github.identities]]\nid = "a"\ntoken = "bench-a"\n[[github.identities]]\nid = "b"\ntoken = "bench-b"\n`;
const endpoint = `[[projects]]\nid = "b"\n[[projects.endpoints]]\nslug = "e"\nupstream_url = "${up.url}"\nauth_mode = "none"\nallow_private = true\n`;

// 1. pass-through
const distinct = (prefix: string) => distinctPathsScript(prefix);
const hgPass = await hubgate(pool(false) + endpoint);
const rows1: (string | number)[][] = [];
const run1 = (name: string, url: string, path: string) => {
  wrk(url, { seconds: 2, script: distinct(path) }); // warm-up
  const r = wrk(url, { seconds, script: distinct(path) });
  rows1.push([name, r.rps, r.p50, r.p99, r.errors + r.non2xx]);
  return r;
};
run1("upstream alone", up.url, "/repos/o/r");
const bareR = run1("bare Bun.serve + fetch proxy", bare.url, "/repos/o/r");
run1("nginx proxy_pass (2 workers)", ng.url, "/repos/o/r");
const idleRss = rssMiB(hgPass.proc.pid);
const epR = run1("hubgate endpoint (/api/b/proxy/e/…)", hgPass.url, "/api/b/proxy/e/repos/o/r");
const poolR = run1("hubgate GitHub pool (cache off)", hgPass.url, "/repos/o/r");
const rssLoad = rssMiB(hgPass.proc.pid, "VmHWM"); // peak while under load (wrk blocks this process meanwhile)
hgPass.proc.kill();

// 2. cache hit
const hgCache = await hubgate(pool(true));
await fetch(`${hgCache.url}/repos/o/hot`);
await fetch(`${ngCache.url}/repos/o/hot`);
await fetch(`${ngCache1.url}/repos/o/hot`);
const rows2: (string | number)[][] = [];
for (const [name, url] of [
  ["nginx proxy_cache (2 workers)", `${ngCache.url}/repos/o/hot`],
  ["nginx proxy_cache (1 worker, like hubgate's one thread)", `${ngCache1.url}/repos/o/hot`],
  ["hubgate GitHub pool (HIT)", `${hgCache.url}/repos/o/hot`],
] as const) {
  wrk(url, { seconds: 2 });
  const r = wrk(url, { seconds });
  rows2.push([name, r.rps, r.p50, r.p99, r.errors + r.non2xx]);
}
hgCache.proc.kill();

console.log(`\n### 1. Pass-through GET, 2 KB JSON, 50 connections, ${seconds} s (distinct URLs)\n`);
console.log(table(["path", "req/s", "p50 ms", "p99 ms", "errors"], rows1));
console.log(`\nhubgate endpoint path: ${Math.round((epR.rps / bareR.rps) * 100)} % of the bare Bun proxy; pool path: ${Math.round((poolR.rps / bareR.rps) * 100)} % (target ≥ 90 %)`);
console.log(`\n### 2. Cache hit, 50 connections, ${seconds} s\n`);
console.log(table(["path", "req/s", "p50 ms", "p99 ms", "errors"], rows2));
const [ng2, ng1, hit] = rows2.map((r) => Number(r[1]));
console.log(`\nhubgate cache hits: ${Math.round((hit! / ng2!) * 100)} % of nginx proxy_cache with 2 workers (target ≥ 100 %), ${Math.round((hit! / ng1!) * 100)} % of one nginx worker`);

// 3. quota economy
console.log(`\n### 3. Quota economy: 50 agents polling 20 hot resources\n`);
console.log(await quotaEconomy({ hubgate, agents: 50, resources: 20, seconds: values.quick ? 10 : 60 }));

// 4. MCP streams
console.log(`\n### 4. MCP: concurrent open SSE streams through /mcp\n`);
console.log(await mcpStreams({ hubgate, upstream: up.url, streams: values.quick ? 200 : 1000 }));

// 5. start-up, RSS, reload under load
console.log(`\n### 5. Start-up, memory, reload under load\n`);
console.log(await startupAndReload({ bin: BIN, upstream: up.url, idleRss, loadRss: rssLoad, seconds }));
cleanup();
process.exit(0);
