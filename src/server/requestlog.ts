/**
 * One row per proxied request — endpoints and MCP servers — in the store (time, project, endpoint,
 * token id, method, path without the query, status, latency, bytes, provider), written when the
 * response body has been streamed, pruned by age and row count every few hundred writes.
 */
import { durationMs } from "../config/types.ts";
import type { Gateway } from "./gateway.ts";
import type { NewRequestLog } from "../store/index.ts";

const PRUNE_EVERY = 500;

export class RequestLogger {
  private writes = 0;
  constructor(private readonly gw: Gateway) {}

  private enabled(): boolean {
    return this.gw.config.logging.request_log_max_rows > 0;
  }

  write(entry: NewRequestLog): void {
    if (!this.enabled()) return;
    try {
      this.gw.store.requestLogs.append(entry);
      if (++this.writes % PRUNE_EVERY === 0) this.prune();
    } catch (e) {
      this.gw.log.warn("request log write failed", { err: e instanceof Error ? e.message : String(e) });
    }
  }

  prune(): number {
    const l = this.gw.config.logging;
    return this.gw.store.requestLogs.prune(l.request_log_max_rows, durationMs(l.request_log_max_age), Date.now());
  }

  /** The response with its body counted; the row is written when the body ends (or the client leaves). */
  track(res: Response, entry: Omit<NewRequestLog, "bytes" | "ms" | "status">, started: number): Response {
    if (!this.enabled()) return res;
    const base = { ...entry, status: res.status };
    if (!res.body) {
      this.write({ ...base, bytes: 0, ms: Math.round(performance.now() - started) });
      return res;
    }
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
}
