/**
 * The request log's rows written on a thread of their own (logwriter.ts) when the store is the
 * embedded SQLite file: the main thread hands each batch over (about 0.6 µs a row to post) instead of
 * inserting it (2–4 µs a row with the redaction, the commit and the retention's DELETEs, measured at
 * 20,000 req/s), so a logged request costs the event loop less. Reads stay on the main connection:
 * a batch is acknowledged once committed, and RequestLogger.list flushes first, so a reader sees every
 * row written before it asked (SQLite's WAL lets the two connections read and write side by side; their
 * writes queue on the file's lock, within busy_timeout).
 *
 * The thread starts with the first batch (start-up pays nothing for it). If it cannot be started or
 * dies, the rows go through the main connection from then on, and the log says so once: nothing is lost.
 */
import type { Logger } from "../core/log.ts";
import type { NewRequestLog, RequestLogRepo } from "./requestlogs.ts";

export type LogThreadRequest =
  | { id: number; op: "open"; path: string }
  | { id: number; op: "append"; rows: readonly NewRequestLog[] }
  | { id: number; op: "prune"; maxRows: number; maxAgeMs: number; now: number }
  | { id: number; op: "close" };

export type LogThreadReply = { id: number; ok: true; n?: number } | { id: number; ok: false; message: string };

/**
 * An idle thread never keeps the process alive, a busy one does: a batch posted at shutdown is
 * written before the process exits (Bun's Worker has ref/unref; the DOM typing does not).
 */
function held(w: Worker, busy: boolean): void {
  const h = w as unknown as { ref(): void; unref(): void };
  if (busy) h.ref();
  else h.unref();
}

type Pending = { resolve: (n: number | undefined) => void; reject: (e: Error) => void };

/** Distributive Omit: the request without its id, each variant kept apart. */
type Body = LogThreadRequest extends infer R ? (R extends LogThreadRequest ? Omit<R, "id"> : never) : never;

export interface ThreadedRequestLogRepo extends RequestLogRepo {
  /** Stops the thread once what it was given is written. */
  close(): Promise<void>;
}

/**
 * The writer thread's module: next to this one when run from source; in the binary (scripts/build.ts
 * bundles it as a second entry point) every module is placed by its path under src/, relative to the binary itself.
 */
const WRITER = Bun.isStandaloneExecutable ? new URL("./store/logwriter.ts", import.meta.url).href : new URL("./logwriter.ts", import.meta.url).href;

/**
 * `base`: the same repository on the main connection (reads, and the writes when the thread is gone).
 * `spawn` is for tests; the default starts logwriter.ts.
 */
export function threadedRequestLogRepo(path: string, base: RequestLogRepo, log: Logger, spawn: () => Worker = () => new Worker(WRITER)): ThreadedRequestLogRepo {
  let worker: Worker | null = null;
  /** the thread failed: the main connection writes from now on */
  let failed = false;
  let closed = false;
  let next = 0;
  const pending = new Map<number, Pending>();

  const fail = (why: string) => {
    if (failed) return;
    failed = true;
    log.error("the request log's writer thread failed; its rows are written on the main thread from now on", { reason: why });
    worker?.terminate();
    worker = null;
    for (const p of pending.values()) p.reject(new Error(`request log writer thread: ${why}`));
    pending.clear();
  };

  const start = (): Worker => {
    const w = spawn();
    w.onmessage = (e: MessageEvent<LogThreadReply>) => {
      const r = e.data;
      const p = pending.get(r.id);
      if (!p) return;
      pending.delete(r.id);
      if (!pending.size) held(w, false);
      if (r.ok) p.resolve(r.n);
      else p.reject(new Error(r.message));
    };
    w.onerror = (e: ErrorEvent) => fail(e.message || "error");
    w.addEventListener("close", () => {
      if (!closed) fail("exited");
    });
    held(w, false);
    return w;
  };

  const call = (body: Body): Promise<number | undefined> => {
    if (!worker) {
      worker = start();
      // posted first, so it is handled first: a message queue keeps order
      void send({ op: "open", path }).catch((e: unknown) => fail(e instanceof Error ? e.message : String(e)));
    }
    return send(body);
  };

  const send = (body: Body): Promise<number | undefined> =>
    new Promise((resolve, reject) => {
      const id = ++next;
      if (!pending.size) held(worker!, true);
      pending.set(id, { resolve, reject });
      worker!.postMessage({ ...body, id } as LogThreadRequest);
    });

  /** On the thread while it runs; on the main connection once it has failed (this batch included, when it failed under it). */
  const onThread = async <T>(threaded: () => Promise<T>, main: () => Promise<T>): Promise<T> => {
    if (failed || closed) return main();
    try {
      return await threaded();
    } catch (e) {
      if (failed) return main();
      throw e;
    }
  };

  return {
    append: (l) => base.append(l),
    list: (q) => base.list(q),
    appendMany: (rows) => onThread(async () => void (await call({ op: "append", rows })), () => base.appendMany(rows)),
    prune: (maxRows, maxAgeMs, now) => onThread(async () => (await call({ op: "prune", maxRows, maxAgeMs, now })) ?? 0, () => base.prune(maxRows, maxAgeMs, now)),
    async close() {
      if (closed) return;
      const w = worker;
      if (w && !failed) await send({ op: "close" }).catch((e: unknown) => log.warn("the request log's writer thread did not close cleanly", { err: e instanceof Error ? e.message : String(e) }));
      closed = true;
      w?.terminate();
      worker = null;
    },
  };
}
