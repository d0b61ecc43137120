/**
 * `[server] workers`: one supervising process and N workers that share the listener (SO_REUSEPORT) and
 * the store. The supervisor owns what must be exclusive (the store lock, the port check), restarts a
 * worker that dies, forwards SIGHUP (each worker reloads on its own) and SIGTERM (each drains), and
 * answers a worker's request for every worker's figures, so a scrape that lands on any worker describes
 * the whole binary. Messages are JSON over Bun's IPC channel.
 */
import type { Subprocess } from "bun";
import type { Logger } from "../core/log.ts";

/** What the supervisor tells every worker about the others (shown in /readyz and /stats). */
export interface WorkersView {
  configured: number;
  running: number;
  restarts: number;
  workers: { id: number; pid: number | null; up: boolean; startedAt: number | null }[];
}

export type Gatherable = "metrics" | "stats";

type ToWorker =
  | { t: "collect"; id: number; what: Gatherable }
  | { t: "gathered"; id: number; parts: Record<string, string> }
  | { t: "view"; view: WorkersView };

type ToSupervisor = { t: "collected"; id: number; body: string } | { t: "gather"; id: number; what: Gatherable } | { t: "listening" };

/** How long the supervisor waits for each worker's figures before answering without them. */
const COLLECT_TIMEOUT_MS = 2000;
/** A worker that dies is started again after this, doubling per quick death up to RESTART_MAX_MS. */
const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 5000;
/** A worker that lived this long resets the back-off. */
const HEALTHY_MS = 30_000;

export const WORKER_ENV = "HUBGATE_WORKER_ID";

/** The worker id this process runs as, or null when it is not a worker. */
export function workerId(env: Record<string, string | undefined> = process.env): number | null {
  const v = env[WORKER_ENV];
  return v !== undefined && /^\d+$/.test(v) && typeof process.send === "function" ? Number(v) : null;
}

/** The worker's end: answers the supervisor's collection requests and asks it to gather from all. */
export class WorkerLink {
  view: WorkersView | null = null;
  private next = 1;
  private readonly pending = new Map<number, (parts: Record<string, string>) => void>();

  constructor(
    readonly id: number,
    private readonly collect: (what: Gatherable) => string | Promise<string>,
  ) {
    process.on("message", (m: ToWorker) => void this.onMessage(m));
  }

  private send(m: ToSupervisor): void {
    process.send?.(m);
  }

  private async onMessage(m: ToWorker): Promise<void> {
    if (m.t === "collect") this.send({ t: "collected", id: m.id, body: await this.collect(m.what) });
    else if (m.t === "gathered") {
      this.pending.get(m.id)?.(m.parts);
      this.pending.delete(m.id);
    } else if (m.t === "view") this.view = m.view;
  }

  /** Tell the supervisor this worker accepts connections. */
  listening(): void {
    this.send({ t: "listening" });
  }

  /** Every running worker's figures, by worker id (this one's included); only this one's if the supervisor does not answer. */
  async gather(what: Gatherable): Promise<Map<string, string>> {
    const id = this.next++;
    const answer = new Promise<Record<string, string>>((resolve) => {
      this.pending.set(id, resolve);
      setTimeout(() => {
        if (this.pending.delete(id)) resolve({});
      }, COLLECT_TIMEOUT_MS * 2);
    });
    this.send({ t: "gather", id, what });
    const parts = await answer;
    if (Object.keys(parts).length === 0) return new Map([[String(this.id), await this.collect(what)]]);
    return new Map(Object.entries(parts));
  }
}

interface Slot {
  id: number;
  proc: Subprocess<"ignore", "inherit", "inherit"> | null;
  startedAt: number | null;
  up: boolean;
  backoffMs: number;
  timer: ReturnType<typeof setTimeout> | null;
}

export interface SupervisorOptions {
  workers: number;
  /** the command that starts one worker (this binary's serve, with the same arguments) */
  command: string[];
  env: Record<string, string | undefined>;
  log: Logger;
}

/** The supervising end. */
export class Supervisor {
  private readonly slots: Slot[];
  private stopping = false;
  private restarts = 0;
  private nextCollect = 1;
  private readonly collecting = new Map<number, { parts: Record<string, string>; waiting: number; done: () => void }>();
  private readonly firstListen = Promise.withResolvers<void>();
  private listeningCount = 0;
  /**
   * Until every worker has listened once: a worker that exits before it listened failed to start (a
   * bad config, the port, the store), and would fail the same way again — start() fails instead.
   */
  private starting = true;

  constructor(private readonly opts: SupervisorOptions) {
    this.slots = Array.from({ length: opts.workers }, (_, id) => ({ id, proc: null, startedAt: null, up: false, backoffMs: RESTART_MIN_MS, timer: null }));
  }

  /** Start every worker; resolves once each of them listens, or fails (the others stopped) when one exits before it does. */
  async start(): Promise<void> {
    for (const s of this.slots) this.spawn(s);
    try {
      await this.firstListen.promise;
    } catch (e) {
      await this.stop();
      throw e;
    } finally {
      this.starting = false;
    }
  }

  view(): WorkersView {
    return {
      configured: this.slots.length,
      running: this.slots.filter((s) => s.up).length,
      restarts: this.restarts,
      workers: this.slots.map((s) => ({ id: s.id, pid: s.proc?.pid ?? null, up: s.up, startedAt: s.startedAt })),
    };
  }

  private broadcast(): void {
    const view = this.view();
    for (const s of this.slots) if (s.up) this.sendTo(s, { t: "view", view });
  }

  private sendTo(s: Slot, m: ToWorker): void {
    try {
      s.proc?.send(m);
    } catch {
      // the worker is going away; its exit handler deals with it
    }
  }

  private spawn(s: Slot): void {
    s.timer = null;
    s.startedAt = Date.now();
    const proc = Bun.spawn(this.opts.command, {
      env: { ...this.opts.env, [WORKER_ENV]: String(s.id) },
      stdin: "ignore",
      stdout: "inherit",
      stderr: "inherit",
      serialization: "json",
      ipc: (m: ToSupervisor) => this.onMessage(s, m),
      onExit: (_p, code, signal) => this.exited(s, code, signal === null ? null : String(signal)),
    });
    s.proc = proc;
  }

  private onMessage(s: Slot, m: ToSupervisor): void {
    if (m.t === "listening") {
      s.up = true;
      if (++this.listeningCount === this.slots.length) this.firstListen.resolve();
      this.broadcast();
    } else if (m.t === "gather") this.gatherFor(s, m.id, m.what);
    else if (m.t === "collected") {
      const c = this.collecting.get(m.id);
      if (!c) return;
      c.parts[String(s.id)] = m.body;
      if (--c.waiting === 0) c.done();
    }
  }

  private gatherFor(asker: Slot, askId: number, what: Gatherable): void {
    const id = this.nextCollect++;
    const targets = this.slots.filter((s) => s.up);
    const parts: Record<string, string> = {};
    let sent = false;
    const done = () => {
      if (sent) return;
      sent = true;
      clearTimeout(timer);
      this.collecting.delete(id);
      this.sendTo(asker, { t: "gathered", id: askId, parts });
    };
    const timer = setTimeout(done, COLLECT_TIMEOUT_MS);
    this.collecting.set(id, { parts, waiting: targets.length, done });
    if (targets.length === 0) return done();
    for (const s of targets) this.sendTo(s, { t: "collect", id, what });
  }

  private exited(s: Slot, code: number | null, signal: string | null): void {
    const lived = Date.now() - (s.startedAt ?? Date.now());
    const wasUp = s.up;
    s.up = false;
    s.proc = null;
    if (this.stopping) return;
    if (this.starting && !wasUp) {
      this.firstListen.reject(new Error(`worker ${s.id} exited (${signal ?? `code ${code}`}) before listening`));
      return;
    }
    s.backoffMs = lived > HEALTHY_MS ? RESTART_MIN_MS : Math.min(s.backoffMs * 2, RESTART_MAX_MS);
    this.restarts++;
    this.opts.log.error("worker exited; starting it again", { worker: s.id, code, signal, lived_ms: lived, restart_in_ms: s.backoffMs });
    this.broadcast();
    s.timer = setTimeout(() => this.spawn(s), s.backoffMs);
  }

  /** Forward a signal to every worker (SIGHUP: each reloads on its own). */
  signal(sig: "SIGHUP" | "SIGTERM" | "SIGINT"): void {
    for (const s of this.slots) s.proc?.kill(sig);
  }

  /** Drain: SIGTERM to every worker, wait for all of them to exit. */
  async stop(sig: "SIGTERM" | "SIGINT" = "SIGTERM"): Promise<void> {
    this.stopping = true;
    for (const s of this.slots) if (s.timer) clearTimeout(s.timer);
    const exits = this.slots.map((s) => s.proc?.exited ?? Promise.resolve(0));
    this.signal(sig);
    await Promise.all(exits);
  }
}

/** This program's command line for starting a worker: the compiled binary itself, or bun with the entry script. */
export function selfCommand(args: readonly string[]): string[] {
  return Bun.isStandaloneExecutable ? [process.execPath, ...args] : [process.execPath, Bun.main, ...args];
}
