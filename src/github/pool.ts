/**
 * The pool: picks the identity with the most budget left in the bucket a request spends, bounds
 * concurrency per budget, and retries on another identity when GitHub says a budget is exhausted
 * (primary limit) or benched (secondary limit). A 403 that is a permission error is passed on.
 */
import { GatewayError } from "../core/errors.ts";
import { Semaphore } from "../core/semaphore.ts";
import { forward } from "../proxy/forward.ts";
import type { Bucket } from "./bucket.ts";
import type { Identity } from "./identities.ts";
import { RateBook } from "./ratelimit.ts";
import { brotliDecompressSync, gunzipSync, inflateSync } from "node:zlib";

export interface DispatchInput {
  request: Request;
  target: URL;
  bucket: Bucket;
  method: string;
  body?: BodyInit | null;
  /** extra upstream headers (conditional headers, accept-encoding) */
  headers: Record<string, string>;
  /** revalidation: only this identity may be used (its ETag is token-specific) */
  only?: string;
  timeoutMs: number;
  queueTimeoutMs: number;
  allowPrivate: boolean;
  signal?: AbortSignal;
}

export interface Dispatched {
  response: Response;
  identity: Identity;
  /** the body, when it had to be read to classify the response (403/429, GraphQL) */
  text?: string;
}

export class Pool {
  readonly book: RateBook;
  private sems = new Map<string, Semaphore>();
  private rr = 0;
  identities: readonly Identity[] = [];
  counters = { dispatched: 0, primaryLimited: 0, secondaryLimited: 0, poolExhausted: 0 };

  constructor(
    private maxConcurrency: number,
    now: () => number = Date.now,
  ) {
    this.book = new RateBook(now);
  }

  setIdentities(ids: readonly Identity[], maxConcurrency: number): void {
    this.identities = ids;
    if (maxConcurrency !== this.maxConcurrency) this.sems.clear();
    this.maxConcurrency = maxConcurrency;
  }

  usable(): Identity[] {
    return this.identities.filter((i) => i.status !== "invalid");
  }

  /** The best identity for `bucket` now, or null. */
  choose(bucket: Bucket, exclude: ReadonlySet<string>, only?: string): Identity | null {
    const now = Date.now();
    let best: Identity[] = [];
    let bestRank = -1;
    for (const idn of this.usable()) {
      if (exclude.has(idn.id) || (only !== undefined && idn.id !== only)) continue;
      if (this.book.availableAt(idn.budget, bucket, now) > now) continue;
      const rank = this.book.rank(idn.budget, bucket);
      if (rank > bestRank) [best, bestRank] = [[idn], rank];
      else if (rank === bestRank) best.push(idn);
    }
    if (!best.length) return null;
    return best[this.rr++ % best.length]!;
  }

  private sem(budget: string): Semaphore {
    let s = this.sems.get(budget);
    if (!s) this.sems.set(budget, (s = new Semaphore(this.maxConcurrency)));
    return s;
  }

  /** Send through the pool; retries on other identities while budgets are exhausted or benched. */
  async dispatch(input: DispatchInput): Promise<Dispatched | null> {
    const tried = new Set<string>();
    for (;;) {
      const idn = this.choose(input.bucket, tried, input.only);
      if (!idn) return null;
      tried.add(idn.id);
      const release = await this.sem(idn.budget).acquire(input.queueTimeoutMs, input.signal);
      let response: Response;
      try {
        this.book.spend(idn.budget, input.bucket);
        this.counters.dispatched++;
        response = await forward(input.request, input.target, {
          method: input.method,
          body: input.body,
          timeoutMs: input.timeoutMs,
          allowPrivate: input.allowPrivate,
          signal: input.signal,
          headers: { ...input.headers, authorization: `token ${await idn.token()}` },
        });
      } finally {
        release();
      }
      this.book.observe(idn.budget, response.headers, input.bucket);
      const verdict = await this.classify(idn, input.bucket, response);
      if (verdict.kind === "ok") {
        this.book.succeeded(idn.budget);
        return { response: verdict.response, identity: idn, text: verdict.text };
      }
    }
  }

  private async classify(idn: Identity, bucket: Bucket, res: Response): Promise<{ kind: "ok"; response: Response; text?: string } | { kind: "retry" }> {
    if (res.status === 403 || res.status === 429) {
      const text = await decodedText(res);
      const remaining = res.headers.get("x-ratelimit-remaining");
      const retryAfter = res.headers.get("retry-after");
      if (remaining === "0" && retryAfter === null) {
        this.counters.primaryLimited++;
        this.book.exhaust(idn.budget, res.headers.get("x-ratelimit-resource") || bucket, Number(res.headers.get("x-ratelimit-reset") ?? 0) * 1000);
        return { kind: "retry" };
      }
      if (retryAfter !== null || /secondary rate limit|abuse detection/i.test(text)) {
        this.counters.secondaryLimited++;
        const secs = Number(retryAfter);
        this.book.bench(idn.budget, Number.isFinite(secs) && retryAfter !== null ? secs * 1000 : null);
        return { kind: "retry" };
      }
      // a permission error: the client's answer, not a rate limit
      return { kind: "ok", response: new Response(text, { status: res.status, statusText: res.statusText, headers: plainHeaders(res.headers) }), text };
    }
    if (bucket === "graphql" && res.status === 200) {
      const text = await decodedText(res);
      if (/"type"\s*:\s*"RATE_LIMITED"/.test(text)) {
        this.counters.primaryLimited++;
        this.book.exhaust(idn.budget, "graphql", Number(res.headers.get("x-ratelimit-reset") ?? 0) * 1000);
        return { kind: "retry" };
      }
      return { kind: "ok", response: new Response(text, { status: 200, headers: plainHeaders(res.headers) }), text };
    }
    return { kind: "ok", response: res };
  }

  /** The 429 a client gets when every identity is out of budget for `bucket`. */
  exhaustedError(bucket: Bucket): GatewayError {
    this.counters.poolExhausted++;
    const now = Date.now();
    const ids = this.usable();
    const next = ids.length ? Math.min(...ids.map((i) => this.book.availableAt(i.budget, bucket, now))) : now + 60_000;
    const limit = [...new Set(ids.map((i) => i.budget))].reduce((n, b) => n + (this.book.state(b, bucket)?.limit ?? 0), 0);
    const retry = Math.max(1, Math.ceil((next - now) / 1000));
    return new GatewayError(
      "rate_limited",
      ids.length ? `Every pooled GitHub identity is out of ${bucket} budget; retry after ${retry} s` : "No usable GitHub identity is configured",
      ids.length ? 429 : 503,
      {
        headers: {
          "retry-after": String(retry),
          "x-ratelimit-limit": String(limit),
          "x-ratelimit-remaining": "0",
          "x-ratelimit-used": String(limit),
          "x-ratelimit-reset": String(Math.ceil(next / 1000)),
          "x-ratelimit-resource": bucket,
        },
      },
    );
  }
}

/** The body as text, gunzipping when the upstream compressed it (forward keeps bytes as sent). */
export async function decodedText(res: Response): Promise<string> {
  return new TextDecoder().decode(await decodedBytes(res));
}

export async function decodedBytes(res: Response): Promise<Uint8Array<ArrayBuffer>> {
  const raw = Buffer.from(await res.arrayBuffer());
  const enc = (res.headers.get("content-encoding") ?? "").toLowerCase().trim();
  if (enc === "gzip" || enc === "x-gzip") return new Uint8Array(gunzipSync(raw));
  if (enc === "deflate") return new Uint8Array(inflateSync(raw));
  if (enc === "br") return new Uint8Array(brotliDecompressSync(raw));
  return new Uint8Array(raw);
}

/** Response headers for a body the gateway decoded: no stale encoding or length. */
export function plainHeaders(h: Headers): Headers {
  const out = new Headers(h);
  out.delete("content-encoding");
  out.delete("content-length");
  return out;
}
