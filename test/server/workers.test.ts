/**
 * `[server] workers`: one binary, several serving processes on one port, supervised. The real CLI is
 * started as a child process against a real Redis (workers share state through it).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawnServe, serveRefusal, type Child } from "../helpers/child.ts";
import { runCli, writeConfig } from "../helpers/gateway.ts";
import { startRedis, type RedisServer } from "../helpers/redis.ts";

let redis: RedisServer;
let child: Child;
let configPath: string;

const body = (url: string) => `[server]\nport = 0\nworkers = 2\n[state]\nbackend = "redis"\nurl = "${url}"\n[github]\nenabled = false\n`;

beforeAll(async () => {
  redis = await startRedis();
  configPath = writeConfig(body(redis.url)).path;
  child = await spawnServe(configPath);
  await child.waitFor((r) => r.msg === "supervising");
});
afterAll(async () => {
  await child?.stop();
  await redis?.stop();
});

/** A request on a fresh connection, so the kernel picks a worker for each. */
const get = (path: string) => fetch(`${child.base}${path}`, { headers: { connection: "close" } });

type Stats = { pid: number; worker: number; workers: { worker: number; pid: number; reloads: { count: number } }[]; supervisor: { running: number; restarts: number } };
const stats = async () => (await (await get("/stats")).json()) as Stats;

/**
 * Polls `fn` (each answer is a fresh request) until it holds. A connection reset is retried: the
 * kernel had queued it on the listening socket of a worker that was just killed.
 */
async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch((e: unknown) => {
      if ((e as { code?: unknown }).code === "ECONNRESET") return undefined;
      throw e;
    });
    if (v !== undefined && ok(v)) return v;
    if (Date.now() > end) throw new Error(`not reached: ${JSON.stringify(v)}`);
    await Bun.sleep(50);
  }
}

test("two workers share the port: connections land on both; /stats lists both with one config hash", async () => {
  const pids = new Set<number>();
  for (let i = 0; i < 40 && pids.size < 2; i++) pids.add((await stats()).pid);
  expect(pids.size).toBe(2);
  const s = await stats();
  expect(s.workers.map((w) => w.worker).sort()).toEqual([0, 1]);
  expect(s.supervisor.running).toBe(2);
  const hashes = new Set(((await (await get("/stats")).json()) as { workers: { config: { hash: string } }[] }).workers.map((w) => w.config.hash));
  expect(hashes.size).toBe(1);
});

test("/metrics on any worker describes the whole binary: requests summed over the workers", async () => {
  const count = async () => {
    const text = await (await get("/metrics")).text();
    const line = text.split("\n").find((l) => l.startsWith('hubgate_http_requests_total{method="GET",route="/healthz",status="200"}'));
    return Number(line?.split(" ")[1] ?? 0);
  };
  const before = await count();
  for (let i = 0; i < 30; i++) expect((await get("/healthz")).status).toBe(200);
  expect((await count()) - before).toBe(30);
  // gauges stay per worker
  expect(await (await get("/metrics")).text()).toMatch(/hubgate_uptime_seconds\{worker="1"\}/);
});

test("a worker that dies is started again; /readyz shows the supervisor's view", async () => {
  const victim = (await stats()).workers.find((w) => w.worker === 1)!.pid;
  process.kill(victim, "SIGKILL");
  const view = await until(
    async () => ((await (await get("/readyz")).json()) as { workers: { running: number; restarts: number; workers: { pid: number }[] } }).workers,
    (v) => v.restarts >= 1 && v.running === 2,
  );
  expect(view.workers.map((w) => w.pid)).not.toContain(victim);
  await child.waitFor((r) => r.msg === "worker exited; starting it again" && r.worker === 1);
});

test("SIGHUP reaches every worker and each reloads on its own", async () => {
  const before = await stats();
  child.proc.kill("SIGHUP");
  const after = await until(stats, (s) => s.workers.length === 2 && s.workers.every((w) => w.reloads.count > (before.workers.find((b) => b.pid === w.pid)?.reloads.count ?? 0)));
  expect(after.workers).toHaveLength(2);
});

test("the port and the store stay exclusive to this binary: a second serve is refused", async () => {
  const samePort = writeConfig(`[server]\nport = ${new URL(child.base).port}\n[github]\nenabled = false\n`);
  const port = await serveRefusal(samePort.path);
  expect(port.listened).toBe(false);
  expect(port.code).toBe(1);
  expect(port.stdout + port.stderr).toContain("EADDRINUSE");
  const sameStore = await serveRefusal(configPath);
  expect(sameStore.listened).toBe(false);
  expect(sameStore.stdout + sameStore.stderr).toContain("PID");
});

test("SIGTERM drains every worker and the binary exits 0", async () => {
  const pids = (await stats()).workers.map((w) => w.pid);
  expect(await child.stop("SIGTERM")).toBe(0);
  for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
});

test("check refuses several workers on process-local state", async () => {
  const { path } = writeConfig(`[server]\nworkers = 2\n[github]\nenabled = false\n`);
  const r = await runCli(["check", "--config", path]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('server.workers: several workers need [state] backend = "redis"');
});
