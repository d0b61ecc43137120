/**
 * A real `redis-server` (Debian's package) for tests: loopback, a free port, a throwaway directory, no
 * persistence. Ready when the server logs that it accepts connections and answers PING (no sleeps).
 * kill() is SIGKILL for fault tests; restart() starts it again on the same port (empty: nothing is saved).
 */
import { RedisClient } from "bun";
import { rmSync } from "node:fs";
import { freeLoopbackPort, tempDir, waitForLine } from "./servers.ts";

export interface RedisServer {
  url: string;
  port: number;
  /** SIGTERM, wait for the exit, remove the directory */
  stop(): Promise<void>;
  /** SIGKILL, wait for the exit (the directory stays for restart()) */
  kill(): Promise<void>;
  /** start again on the same port (after kill() or stop()) */
  restart(): Promise<void>;
}

export const redisServerBin = Bun.which("redis-server") ?? (Bun.file("/usr/bin/redis-server").size > 0 ? "/usr/bin/redis-server" : null);

export async function startRedis(): Promise<RedisServer> {
  if (!redisServerBin) throw new Error("redis-server is not installed (apt-get install -y redis-server; .ci/run does it)");
  const bin = redisServerBin;
  const dir = tempDir("hg-redis-");
  const port = await freeLoopbackPort();
  const url = `redis://127.0.0.1:${port}`;
  let proc: Bun.Subprocess<"ignore", "pipe", "pipe"> | null = null;

  const launch = async () => {
    const p = Bun.spawn([bin, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--loglevel", "notice"], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    proc = p;
    await waitForLine(p, p.stdout, /Ready to accept connections/, "redis-server");
    const c = new RedisClient(url, { autoReconnect: false });
    try {
      const pong: unknown = await c.send("PING", []);
      if (pong !== "PONG") throw new Error(`redis-server answered PING with ${String(pong)}`);
    } finally {
      c.close();
    }
  };
  const halt = async (signal: "SIGTERM" | "SIGKILL") => {
    const p = proc;
    proc = null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    p.kill(signal);
    await p.exited;
  };

  await launch();
  return {
    url,
    port,
    async stop() {
      await halt("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
    kill: () => halt("SIGKILL"),
    async restart() {
      await halt("SIGTERM");
      await launch();
    },
  };
}
