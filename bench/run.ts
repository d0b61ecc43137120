#!/usr/bin/env bun
/**
 * `bun run bench`: the benchmark tables, loopback only, bounded in time (about 12 minutes with
 * the defaults; --quick for a smoke run). Runs the compiled binary (rebuilt first) against a local
 * upstream, next to the upstream alone, a bare Bun proxy and nginx (plain and proxy_cache).
 */
import { parseArgs } from "node:util";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { ROOT, freePort, spawnUrl, startGateway, startRedis, type StartedGateway } from "./lib.ts";
import { distinctPathsScript, ensureTools, rssMiB, table, waitReady, wrk, type WrkResult } from "./tools.ts";
import { quotaEconomy } from "./quota.ts";
import { mcpStreams } from "./streams.ts";
import { startupAndReload } from "./lifecycle.ts";
import { startPostgres } from "../test/helpers/postgres.ts";

const { values } = parseArgs({ options: { quick: { type: "boolean", default: false }, seconds: { type: "string" } } });
const seconds = Number(values.seconds ?? (values.quick ? 3 : 8));
const BIN = join(ROOT, "dist/hubgate");
ensureTools();
// always rebuilt (under a second): a stale binary would measure old code
if (Bun.spawnSync([process.execPath, join(ROOT, "scripts/build.ts")], { stdout: "inherit", stderr: "inherit" }).exitCode !== 0) throw new Error("build failed");

const procs: Subprocess[] = [];
const cleanup = () => procs.forEach((p) => p.kill());
process.on("exit", cleanup);

type HubgateOptions = { logs?: boolean; requestLog?: boolean; server?: string; env?: Record<string, string>; storage?: string };
export type Hubgate = (body: string, opts?: HubgateOptions) => Promise<StartedGateway>;

async function hubgate(body: string, opts: HubgateOptions = {}): Promise<StartedGateway> {
  const g = await startGateway(body, { bin: BIN, ...opts });
  procs.push(g.proc);
  return g;
}

/** nginx on the same upstream (or balancing over several): `workers` processes (auto = one per core, its usual setting). */
function nginx(upstreamUrl: string | string[], cache: boolean, workers: "auto" | 1 = "auto"): Promise<{ url: string }> {
  const dir = mkdtempSync(join(tmpdir(), "hg-nginx-"));
  chmodSync(dir, 0o777); // nginx workers drop to an unprivileged user and must reach the cache dir
  return freePort().then(async (port) => {
    const servers = (Array.isArray(upstreamUrl) ? upstreamUrl : [upstreamUrl]).map((u) => `server ${new URL(u).host};`).join(" ");
    writeFileSync(
      join(dir, "nginx.conf"),
      `worker_processes ${workers}; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  ${cache ? `proxy_cache_path ${dir}/cache keys_zone=c:10m;` : ""}
  upstream up { ${servers} keepalive 64; }
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

/**
 * Each row measured `rounds` times, the rows interleaved (a slow spell on this shared 2-core machine
 * then hits every row alike), with a short warm-up before each run; the run with the median req/s is
 * reported.
 */
type Row = { name: string; url: string; script?: string };
function measure(rows: Row[], rounds: number): (string | number)[][] {
  const runs = rows.map(() => [] as WrkResult[]);
  for (let i = 0; i < rounds; i++)
    rows.forEach((row, j) => {
      wrk(row.url, { seconds: 1, script: row.script }); // warm-up (JIT, connections)
      runs[j]!.push(wrk(row.url, { seconds, script: row.script }));
    });
  return rows.map((row, j) => {
    const sorted = runs[j]!.sort((x, y) => x.rps - y.rps);
    const r = sorted[Math.floor(sorted.length / 2)]!;
    return [row.name, r.rps, r.p50, r.p99, runs[j]!.reduce((n, x) => n + x.errors + x.non2xx, 0)];
  });
}
const rounds = values.quick ? 1 : 3;

// 1. pass-through
const distinct = (prefix: string) => distinctPathsScript(prefix);
const hgPass = await hubgate(pool(false) + endpoint);
const hgLogged = await hubgate(endpoint, { requestLog: true });
const idleRss = rssMiB(hgPass.proc.pid);
const rows1 = measure(
  [
    { name: "upstream alone", url: up.url, script: distinct("/repos/o/r") },
    { name: "bare Bun.serve + fetch proxy", url: bare.url, script: distinct("/repos/o/r") },
    { name: "nginx proxy_pass (2 workers)", url: ng.url, script: distinct("/repos/o/r") },
    { name: "hubgate endpoint (/api/b/proxy/e/…)", url: hgPass.url, script: distinct("/api/b/proxy/e/repos/o/r") },
    { name: "hubgate GitHub pool (cache off)", url: hgPass.url, script: distinct("/repos/o/r") },
    { name: "hubgate endpoint, request log on (its default: a row per request in SQLite)", url: hgLogged.url, script: distinct("/api/b/proxy/e/repos/o/r") },
  ],
  rounds,
);
const [bareRps, epRps, poolRps] = [rows1[1]![1], rows1[3]![1], rows1[4]![1]].map(Number) as [number, number, number];
const rssLoad = rssMiB(hgPass.proc.pid, "VmHWM"); // peak while under load (wrk blocks this process meanwhile)
hgPass.proc.kill();
hgLogged.proc.kill();

// 2. cache hit, on a fresh cache and on one filled with other entries (toward its byte budget)
const hgCache = await hubgate(pool(true));
const hgFull = await hubgate(pool(true));
wrk(hgFull.url, { seconds: values.quick ? 2 : 10, script: distinct("/repos/o/fill") }); // toward the 64 MiB budget of 2 KB entries
for (const u of [hgCache.url, hgFull.url, ngCache.url, ngCache1.url]) await fetch(`${u}/repos/o/hot`);
const cacheOf = async (url: string) => ((await (await fetch(`${url}/stats`)).json()) as { features: { github: { cache: { entries: number; evictions: number } } } }).features.github.cache;
const full = await cacheOf(hgFull.url);
const rows2 = measure(
  [
    { name: "nginx proxy_cache (2 workers)", url: `${ngCache.url}/repos/o/hot` },
    { name: "nginx proxy_cache (1 worker, as hubgate has one thread)", url: `${ngCache1.url}/repos/o/hot` },
    { name: "hubgate GitHub pool (HIT)", url: `${hgCache.url}/repos/o/hot` },
    { name: `hubgate GitHub pool (HIT, ${full.entries} entries cached, ${full.evictions} evicted)`, url: `${hgFull.url}/repos/o/hot` },
  ],
  rounds,
);
hgCache.proc.kill();
hgFull.proc.kill();

console.log(`\n### 1. Pass-through GET, 2 KB JSON, 50 connections, ${seconds} s (distinct URLs)\n`);
console.log(table(["path", "req/s", "p50 ms", "p99 ms", "errors"], rows1));
console.log(`\nhubgate endpoint path: ${Math.round((epRps / bareRps) * 100)} % of the bare Bun proxy; pool path: ${Math.round((poolRps / bareRps) * 100)} % (target ≥ 90 %)`);
console.log(`\n### 2. Cache hit, 50 connections, ${seconds} s\n`);
console.log(table(["path", "req/s", "p50 ms", "p99 ms", "errors"], rows2));
const [ng2, ng1, hit] = rows2.map((r) => Number(r[1]));
console.log(`\n${rounds} interleaved runs of ${seconds} s per row, the median shown (errors summed over all runs)`);
console.log(`\nhubgate cache hits: ${Math.round((hit! / ng2!) * 100)} % of nginx proxy_cache with 2 workers (target ≥ 100 %), ${Math.round((hit! / ng1!) * 100)} % of one nginx worker`);

// 2b. one process per core: workers (hubgate's defaults, request log on) against the same number of
// bare Bun proxy processes and nginx workers, on the same 2-core machine
const redis = await startRedis();
procs.push(redis.proc);
const barePort = await freePort();
const bare2 = await Promise.all([0, 1].map(() => spawnUrl([process.execPath, join(ROOT, "bench/bare-proxy.ts"), up.url], { PORT: String(barePort), REUSE_PORT: "1" })));
for (const b of bare2) procs.push(b.proc);
const ngPlain1 = await nginx(up.url, false, 1);
const shared = `[state]\nbackend = "redis"\nurl = "${redis.url}"\n`;
const w1 = await hubgate(pool(true) + endpoint, { requestLog: true });
const w2 = await hubgate(pool(true) + endpoint + shared, { requestLog: true, server: "workers = 2" });
const hgNoLog = await hubgate(endpoint);
for (const u of [w1.url, w2.url]) for (let i = 0; i < 4; i++) await fetch(`${u}/repos/o/hot`); // both workers' local layers warm
const rows2b = measure(
  [
    { name: "bare Bun proxy, 1 process", url: bare.url, script: distinct("/repos/o/r") },
    { name: "bare Bun proxy, 2 processes (SO_REUSEPORT)", url: bare2[0]!.url, script: distinct("/repos/o/r") },
    { name: "nginx proxy_pass, 1 worker", url: ngPlain1.url, script: distinct("/repos/o/r") },
    { name: "nginx proxy_pass, 2 workers", url: ng.url, script: distinct("/repos/o/r") },
    { name: "hubgate endpoint, workers = 1 (defaults: request log on)", url: w1.url, script: distinct("/api/b/proxy/e/repos/o/r") },
    { name: "hubgate endpoint, workers = 2 (defaults, Redis state)", url: w2.url, script: distinct("/api/b/proxy/e/repos/o/r") },
    { name: "hubgate endpoint, workers = 1, request log off", url: hgNoLog.url, script: distinct("/api/b/proxy/e/repos/o/r") },
    { name: "nginx proxy_cache HIT, 1 worker", url: `${ngCache1.url}/repos/o/hot` },
    { name: "nginx proxy_cache HIT, 2 workers", url: `${ngCache.url}/repos/o/hot` },
    { name: "hubgate cache HIT, workers = 1", url: `${w1.url}/repos/o/hot` },
    { name: "hubgate cache HIT, workers = 2 (Redis shared layer, local layer in front)", url: `${w2.url}/repos/o/hot` },
  ],
  rounds,
);
const rps2b = rows2b.map((r) => Number(r[1]));
const [b1, b2, , , e1, e2, eNoLog, nc1, nc2, h1, h2] = rps2b as [number, number, number, number, number, number, number, number, number, number, number];
console.log(`\n### 2b. One process per core: workers, 50 connections, ${seconds} s\n`);
console.log(table(["path", "req/s", "p50 ms", "p99 ms", "errors"], rows2b));
const pct = (a: number, b: number) => `${Math.round((a / b) * 100)} %`;
console.log(
  `\nendpoint path: ${pct(e1, b1)} of the bare proxy with 1 process, ${pct(e2, b2)} with 2 (target ≥ 90 %); ` +
    `cache hits: ${pct(h1, nc1)} of nginx proxy_cache with 1 worker, ${pct(h2, nc2)} with 2 (target ≥ 100 %); ` +
    `the request log costs ${Math.round((1 - e1 / eNoLog) * 100)} % of endpoint throughput (target ≤ 10 %)`,
);
for (const g of [w1, w2, hgNoLog]) g.proc.kill();

// 2c. two replicas sharing PostgreSQL (the store: tokens, grants, the request log) and Redis (rate
// counters, the shared cache, single flight) behind nginx as the load balancer, against the same
// balancer in front of two bare Bun proxies
const pg = await startPostgres();
const onPg = { storage: `backend = "postgres"\nurl = "env:HUBGATE_BENCH_PG"`, env: { HUBGATE_BENCH_PG: pg.url } };
const replicas: StartedGateway[] = [];
// one after the other: the first creates the schema
for (let i = 0; i < 2; i++) replicas.push(await hubgate(pool(true) + endpoint + shared, { requestLog: true, ...onPg }));
const lbReplicas = await nginx(replicas.map((r) => r.url), false);
const lbBare = await nginx(bare2.map((b) => b.url), false);
for (let i = 0; i < 4; i++) await fetch(`${lbReplicas.url}/repos/o/hot`); // both replicas' local layers warm
const rows2c = measure(
  [
    { name: "nginx (2 workers) balancing 2 bare Bun proxies", url: lbBare.url, script: distinct("/repos/o/r") },
    { name: "nginx (2 workers) balancing 2 hubgate replicas (PostgreSQL + Redis, defaults: request log on): endpoint", url: lbReplicas.url, script: distinct("/api/b/proxy/e/repos/o/r") },
    { name: "the same 2 replicas: cache HIT (Redis shared layer, local layer in front)", url: `${lbReplicas.url}/repos/o/hot` },
  ],
  rounds,
);
console.log(`\n### 2c. Two replicas on PostgreSQL + Redis behind a load balancer, 50 connections, ${seconds} s\n`);
console.log(table(["path", "req/s", "p50 ms", "p99 ms", "errors"], rows2c));
const [lb0, lbEp] = rows2c.map((r) => Number(r[1])) as [number, number];
console.log(`\nendpoint path through the balancer: ${pct(lbEp, lb0)} of the same balancer in front of 2 bare Bun proxies; everything (wrk, nginx, 2 replicas, PostgreSQL, Redis, the upstream) shares these 2 cores`);
for (const g of replicas) g.proc.kill();
await pg.stop();

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
