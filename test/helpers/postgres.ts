/**
 * A real PostgreSQL (Debian's `postgresql` package) for tests: initdb into a throwaway directory with
 * trust authentication, `postgres` on a free loopback port with fsync off, ready when the server logs
 * that it accepts connections and pg_isready agrees (no sleeps), with one database created. PostgreSQL
 * refuses to run as root: as root, the server runs as the `postgres` system user (created when missing)
 * and the directory is handed to it. kill() is SIGKILL (the postmaster and its backends) for fault tests;
 * stop() and restart() are a fast shutdown (SIGINT), which disconnects whatever sessions are still open.
 */
import { chownSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { freeLoopbackPort, tempDir, waitForLine } from "./servers.ts";

export interface PostgresServer {
  /** postgres://postgres@127.0.0.1:PORT/DB */
  url: string;
  port: number;
  database: string;
  /** SIGINT (fast shutdown: open sessions are disconnected, a pool a test left open cannot hold it up), wait for the exit, remove the directory */
  stop(): Promise<void>;
  /** SIGKILL the postmaster and its backends, wait for the exit (the directory stays for restart()) */
  kill(): Promise<void>;
  /** start again on the same port and directory (after kill() or stop()) */
  restart(): Promise<void>;
}

/** The bin directory of the newest installed PostgreSQL (/usr/lib/postgresql/<ver>/bin), or null. */
export function postgresBinDir(): string | null {
  let versions: string[];
  try {
    versions = readdirSync("/usr/lib/postgresql");
  } catch {
    return null;
  }
  const dirs = versions
    .filter((v) => /^\d+(\.\d+)?$/.test(v))
    .sort((a, b) => Number(b) - Number(a))
    .map((v) => join("/usr/lib/postgresql", v, "bin"))
    .filter((d) => Bun.file(join(d, "initdb")).size > 0);
  return dirs[0] ?? null;
}

async function run(cmd: string[], opts: { uid?: number; gid?: number } = {}): Promise<string> {
  const p = Bun.spawn(cmd, { stdin: "ignore", stdout: "pipe", stderr: "pipe", ...opts });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited ${code}:\n${out}${err}`);
  return out;
}

/** As root: the uid/gid of the `postgres` system user, created when missing. Otherwise: run as we are. */
async function serverUser(): Promise<{ uid: number; gid: number } | null> {
  if (process.getuid?.() !== 0) return null;
  const lookup = async () => {
    const [uid, gid] = await Promise.all([run(["id", "-u", "postgres"]), run(["id", "-g", "postgres"])]);
    return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
  };
  try {
    return await lookup();
  } catch {
    await run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres"]);
    return lookup();
  }
}

/** Pids of the processes whose parent is `pid` (the postmaster's backends and auxiliary processes). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

export async function startPostgres(database = "hubgate"): Promise<PostgresServer> {
  const bin = postgresBinDir();
  if (!bin) throw new Error("PostgreSQL is not installed (apt-get install -y postgresql; .ci/run does it)");
  const user = await serverUser();
  const as = user ?? {};
  const root = tempDir("hg-pg-");
  const data = join(root, "data");
  if (user) chownSync(root, user.uid, user.gid);
  await run([join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"], as);
  const port = await freeLoopbackPort();
  let proc: Bun.Subprocess<"ignore", "pipe", "pipe"> | null = null;

  const launch = async () => {
    const p = Bun.spawn(
      [join(bin, "postgres"), "-D", data, "-p", String(port), "-k", root, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "logging_collector=off"],
      { stdin: "ignore", stdout: "pipe", stderr: "pipe", ...as },
    );
    proc = p;
    void new Response(p.stdout).text();
    await waitForLine(p, p.stderr, /database system is ready to accept connections/, "postgres");
    await run([join(bin, "pg_isready"), "-h", "127.0.0.1", "-p", String(port), "-t", "10"]);
  };
  const halt = async (signal: "SIGINT" | "SIGKILL") => {
    const p = proc;
    proc = null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    if (signal === "SIGKILL")
      for (const c of childrenOf(p.pid)) {
        try {
          process.kill(c, "SIGKILL");
        } catch {
          // exited on its own meanwhile (a backend whose client just left)
        }
      }
    p.kill(signal);
    await p.exited;
  };

  await launch();
  await run([join(bin, "createdb"), "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", database]);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/${database}`,
    port,
    database,
    async stop() {
      await halt("SIGINT");
      rmSync(root, { recursive: true, force: true });
    },
    kill: () => halt("SIGKILL"),
    async restart() {
      await halt("SIGINT");
      await launch();
    },
  };
}
