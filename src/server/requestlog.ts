/**
 * One row per proxied request — endpoints and MCP servers — in the store (time, project, endpoint,
 * token id, method, path without the query, status, latency, bytes, provider), recorded when the
 * response body has been streamed, pruned by age and row count every few hundred writes.
 *
 * Rows are written in batches, off the response path: one write per FLUSH_MS or FLUSH_ROWS rows (one
 * transaction on SQLite, one multi-row INSERT on PostgreSQL), and at shutdown; one batch at a time.
 * A commit per row cost about 100 µs of the single JS thread (4,400 vs 7,700 proxied req/s, measured).
 * A writer thread with its own connection was tried and dropped: handing it a batch (postMessage, even as
 * one JSON string) cost the main thread as much as the insert (~38 µs a logged request either way), and
 * its CPU competed with the rest on 2 cores (−5 % req/s, measured).
 * Readers go through list(), which flushes first; another process (the CLI) sees rows up to FLUSH_MS late, and
 * a kill -9 loses at most the last FLUSH_MS of log rows (never tokens or grants). While the store is
 * unavailable the rows wait in memory (at most MAX_WAITING, the oldest dropped beyond, counted in the
 * log) and go with the next write that succeeds.
 */
import { durationMs } from "../config/types.ts";
import { Errors, GatewayError, isStoreUnavailable } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import type { LoggingConfig } from "./model.ts";
import type { NewRequestLog, RequestLog, RequestLogRepo } from "../store/index.ts";

const PRUNE_EVERY = 500;
/**
 * A body of a declared length up to this is read whole and sent as one Blob: counting it through a JS
 * stream cost about 40 % of proxied throughput (11,200 vs 20,500 req/s, 2 KB bodies, measured), a Blob
 * costs nothing measurable. Its row's `ms` then ends when the gateway holds the whole body, not when
 * the client has read it (the socket write of ≤ 64 KiB); longer or unknown-length bodies and event
 * streams are still counted as they stream.
 */
const BUFFER_MAX = 64 * 1024;
const FLUSH_MS = 100;
const FLUSH_ROWS = 256;
const MAX_WAITING = 10_000;

/** What the request log needs: its repository, the [logging] section in force (it follows reloads), a logger. */
export interface RequestLogDeps {
  repo: RequestLogRepo;
  logging: () => LoggingConfig;
  log: Logger;
}

export class RequestLogger {
  /** rows written since the last prune */
  private sincePrune = 0;
  private pending: NewRequestLog[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** the last write queued: a flush while one runs queues behind it (rows stay in order, one batch at a time) */
  private writing: Promise<void> = Promise.resolve();
  /** writes queued or running */
  private queued = 0;
  /** rows dropped while the store was unavailable, not yet reported */
  private dropped = 0;
  private closed = false;
  constructor(private readonly d: RequestLogDeps) {}

  private enabled(): boolean {
    return this.d.logging().request_log_max_rows > 0;
  }

  write(entry: NewRequestLog): void {
    if (this.closed || !this.enabled()) return;
    this.pending.push(entry);
    if (this.pending.length >= FLUSH_ROWS) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS);
  }

  /** The stored rows, including those still waiting for their batch (every reader goes through here). */
  async list(q: Parameters<RequestLogRepo["list"]>[0]): Promise<RequestLog[]> {
    await this.flush();
    return this.d.repo.list(q);
  }

  /** Write the rows recorded so far (list and shutdown call this first); resolves when they are written (or kept for later). Never rejects. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const start = () => this.writeBatch().finally(() => this.queued--);
    // none running: start now (on SQLite the batch is committed before flush returns)
    this.writing = this.queued++ === 0 ? start() : this.writing.then(start);
    return this.writing;
  }

  private async writeBatch(): Promise<void> {
    if (!this.pending.length) return;
    const rows = this.pending;
    this.pending = [];
    try {
      await this.d.repo.appendMany(rows);
      if (this.dropped) {
        this.d.log.warn("request log rows were dropped while the store was unavailable", { rows: this.dropped });
        this.dropped = 0;
      }
      this.sincePrune += rows.length;
      if (this.sincePrune >= PRUNE_EVERY) {
        this.sincePrune = 0;
        await this.prune();
      }
    } catch (e) {
      if (isStoreUnavailable(e)) {
        // the store's own fault log said so; the rows wait for the next write, in order, within a bound
        const waiting = [...rows, ...this.pending];
        const over = Math.max(0, waiting.length - MAX_WAITING);
        this.dropped += over;
        this.pending = waiting.slice(over);
        if (!this.closed) this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS * 10);
        return;
      }
      this.d.log.warn("request log write failed", { rows: rows.length, err: e instanceof Error ? e.message : String(e) });
    }
  }

  /** Shutdown: the last write; what the store cannot take now is counted in the log, and nothing is written after. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const lost = this.pending.length + this.dropped;
    if (lost) this.d.log.warn("request log rows not written at shutdown: the store is unavailable", { rows: lost });
    this.pending = [];
  }

  /** Retention: rows beyond request_log_max_rows or older than request_log_max_age go. Never rejects (0 when the store cannot be reached). */
  async prune(): Promise<number> {
    const l = this.d.logging();
    try {
      return await this.d.repo.prune(l.request_log_max_rows, durationMs(l.request_log_max_age), Date.now());
    } catch (e) {
      if (!isStoreUnavailable(e)) this.d.log.warn("request log retention failed", { err: e instanceof Error ? e.message : String(e) });
      return 0;
    }
  }

  /** The response with its body counted; the row is written when the body ends (or the client leaves). */
  track(res: Response, entry: Omit<NewRequestLog, "bytes" | "ms" | "status">, started: number): Response | Promise<Response> {
    if (!this.enabled()) return res;
    const base = { ...entry, status: res.status };
    if (!res.body) {
      this.write({ ...base, bytes: 0, ms: Math.round(performance.now() - started) });
      return res;
    }
    const declared = res.headers.get("content-length");
    if (declared !== null && Number(declared) <= BUFFER_MAX && !(res.headers.get("content-type") ?? "").startsWith("text/event-stream")) return this.whole(res, base, started);
    let bytes = 0;
    let done = false;
    const finish = (error: string | null) => {
      if (done) return;
      done = true;
      this.write({ ...base, bytes, ms: Math.round(performance.now() - started), error: base.error ?? error });
    };
    const reader = res.body.getReader();
    const counted = new ReadableStream<Uint8Array>({
      async pull(c) {
        try {
          const { done: end, value } = await reader.read();
          if (end) {
            finish(null);
            c.close();
            return;
          }
          bytes += value.byteLength;
          c.enqueue(value);
        } catch (e) {
          finish("upstream_body_error");
          c.error(e);
        }
      },
      cancel(reason) {
        finish("client_closed");
        return reader.cancel(reason);
      },
    });
    return new Response(counted, { status: res.status, statusText: res.statusText, headers: res.headers });
  }

  /** A small body read whole; a failed read is thrown (the caller logs it with its code), never sent truncated. */
  private async whole(res: Response, base: Omit<NewRequestLog, "bytes" | "ms">, started: number): Promise<Response> {
    let body: Blob;
    try {
      body = await res.blob();
    } catch (e) {
      if (e instanceof Error && e.name === "AbortError") throw Errors.clientClosed(e);
      throw new GatewayError("upstream_unreachable", "The upstream's response body broke off", 502, { cause: e });
    }
    this.write({ ...base, bytes: body.size, ms: Math.round(performance.now() - started) });
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  }
}
