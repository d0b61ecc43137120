/**
 * Rate-limit book-keeping per (budget, bucket). A budget is one GitHub user (two PATs of the same
 * user share it) or one App installation. State comes from x-ratelimit-* response headers and is
 * decremented locally when a request is dispatched, so concurrent requests spread over identities
 * before the responses come back.
 *
 * Primary exhaustion (remaining 0) makes a budget unavailable in that bucket until its reset. A
 * secondary limit benches the whole budget for retry-after, else 60 s doubling per strike (≤ 15 min).
 */
import type { Bucket } from "./bucket.ts";

export interface BucketState {
  limit: number;
  remaining: number;
  used: number;
  /** epoch ms */
  resetAt: number;
}

interface Bench {
  until: number;
  strikes: number;
}

/** What a replica learned about a budget, for the others (budgetsync.ts relays it over the bus). */
export type BudgetNews =
  | { kind: "observed"; budget: string; bucket: string; state: BucketState }
  | { kind: "exhausted"; budget: string; bucket: string; resetAt: number }
  | { kind: "benched"; budget: string; until: number; strikes: number };

const MIN_BENCH_MS = 60_000;
const MAX_BENCH_MS = 15 * 60_000;

export class RateBook {
  private states = new Map<string, Map<Bucket, BucketState>>();
  private benches = new Map<string, Bench>();
  /** told of every observation, exhaustion and bench made here (not of news applied from elsewhere) */
  onNews: ((news: BudgetNews) => void) | null = null;
  constructor(private readonly now: () => number = Date.now) {}

  /** Apply what another replica learned: the same rules as if it had been observed here. */
  apply(news: BudgetNews): void {
    if (news.kind === "observed") this.merge(news.budget, news.bucket, news.state);
    else if (news.kind === "exhausted") this.setExhausted(news.budget, news.bucket, news.resetAt);
    else {
      const b = this.benches.get(news.budget);
      if (!b || b.until < news.until) this.benches.set(news.budget, { until: news.until, strikes: Math.max(news.strikes, b?.strikes ?? 0) });
    }
  }

  private merge(budget: string, bucket: string, s: BucketState): BucketState {
    let m = this.states.get(budget);
    if (!m) this.states.set(budget, (m = new Map()));
    const prev = m.get(bucket);
    // responses can arrive out of order: within one window, the lowest remaining is the truest
    const next =
      prev && prev.resetAt === s.resetAt
        ? { ...prev, limit: s.limit, remaining: Math.min(prev.remaining, s.remaining), used: Math.max(prev.used, s.used) }
        : prev && prev.resetAt > s.resetAt
          ? prev // news of a window that is already over here
          : { ...s };
    m.set(bucket, next);
    return next;
  }

  private setExhausted(budget: string, bucket: string, resetAt: number): number {
    let m = this.states.get(budget);
    if (!m) this.states.set(budget, (m = new Map()));
    const prev = m.get(bucket);
    const at = Math.max(resetAt, this.now() + 1000);
    m.set(bucket, { limit: prev?.limit ?? 0, remaining: 0, used: prev?.limit ?? 0, resetAt: at });
    return at;
  }

  state(budget: string, bucket: Bucket): BucketState | null {
    const s = this.states.get(budget)?.get(bucket);
    if (!s) return null;
    if (s.resetAt <= this.now()) return { limit: s.limit, remaining: s.limit, used: 0, resetAt: s.resetAt };
    return s;
  }

  /** Record x-ratelimit-* headers of a response obtained with `budget`. */
  observe(budget: string, headers: Headers, fallbackBucket: Bucket): void {
    const limit = Number(headers.get("x-ratelimit-limit"));
    const remaining = Number(headers.get("x-ratelimit-remaining"));
    const reset = Number(headers.get("x-ratelimit-reset"));
    if (!headers.has("x-ratelimit-remaining") || !Number.isFinite(remaining) || !Number.isFinite(reset)) return;
    const bucket = headers.get("x-ratelimit-resource") || fallbackBucket;
    const resetAt = reset * 1000;
    const used = Number(headers.get("x-ratelimit-used") ?? limit - remaining);
    const state = { limit, remaining, used, resetAt };
    this.merge(budget, bucket, state);
    this.onNews?.({ kind: "observed", budget, bucket, state });
  }

  /** Count a dispatched request against the budget before its response is in. */
  spend(budget: string, bucket: Bucket): void {
    const s = this.states.get(budget)?.get(bucket);
    if (s && s.resetAt > this.now() && s.remaining > 0) {
      s.remaining--;
      s.used++;
    }
  }

  /** Primary limit hit (403/429 with remaining 0, or GraphQL RATE_LIMITED). */
  exhaust(budget: string, bucket: Bucket, resetAt: number): void {
    const at = this.setExhausted(budget, bucket, resetAt);
    this.onNews?.({ kind: "exhausted", budget, bucket, resetAt: at });
  }

  /** Secondary limit: bench the budget (all buckets). Returns the bench end. */
  bench(budget: string, retryAfterMs: number | null): number {
    const strikes = (this.benches.get(budget)?.strikes ?? 0) + 1;
    const backoff = Math.min(MIN_BENCH_MS * 2 ** (strikes - 1), MAX_BENCH_MS);
    const until = this.now() + (retryAfterMs !== null && retryAfterMs > 0 ? retryAfterMs : backoff);
    this.benches.set(budget, { until, strikes });
    this.onNews?.({ kind: "benched", budget, until, strikes });
    return until;
  }

  /** A success after a bench clears the back-off strikes. */
  succeeded(budget: string): void {
    const b = this.benches.get(budget);
    if (b && b.until <= this.now()) this.benches.delete(budget);
  }

  benchedUntil(budget: string, t: number = this.now()): number | null {
    const b = this.benches.get(budget);
    return b && b.until > t ? b.until : null;
  }

  /** When the budget can next serve this bucket (`t` itself if available at `t`). */
  availableAt(budget: string, bucket: Bucket, t: number = this.now()): number {
    const bench = this.benchedUntil(budget, t);
    if (bench !== null) return bench;
    const s = this.states.get(budget)?.get(bucket);
    if (s && s.resetAt > t && s.remaining <= 0) return s.resetAt;
    return t;
  }

  /** Remaining budget in a bucket for ranking; unknown counts as plenty (probe it). */
  rank(budget: string, bucket: Bucket): number {
    const s = this.state(budget, bucket);
    return s ? s.remaining : Number.MAX_SAFE_INTEGER;
  }

  snapshot(): Record<string, { benchedUntil: number | null; buckets: Record<string, BucketState> }> {
    const out: Record<string, { benchedUntil: number | null; buckets: Record<string, BucketState> }> = {};
    const budgets = new Set([...this.states.keys(), ...this.benches.keys()]);
    for (const b of budgets) {
      const buckets: Record<string, BucketState> = {};
      for (const k of this.states.get(b)?.keys() ?? []) buckets[k] = this.state(b, k)!;
      out[b] = { benchedUntil: this.benchedUntil(b), buckets };
    }
    return out;
  }
}
