/**
 * GitHub budgets shared between replicas: what one replica learns about a budget (x-ratelimit-* of a
 * response, a primary limit hit, a secondary-limit bench) is published on the shared bus and applied to
 * every other replica's rate book, so an identity exhausted or benched on A is skipped on B, and
 * routing on B sees the remaining budget A saw. The book itself stays local and synchronous (routing
 * reads it on every request); news crosses in one PUBLISH per upstream response, never per cache hit.
 * With the memory backend the bus is in-process and this is a no-op.
 */
import type { Bus } from "../state/types.ts";
import type { Logger } from "../core/log.ts";
import type { BudgetNews, RateBook } from "./ratelimit.ts";

const TOPIC = "github.budget";

interface Envelope {
  /** the publishing replica, so it skips its own news */
  from: string;
  news: BudgetNews;
}

export class BudgetSync {
  private readonly id = crypto.randomUUID();
  private unsubscribe: (() => Promise<void>) | null = null;

  constructor(
    private readonly book: RateBook,
    private readonly bus: Bus,
    private readonly log: Logger,
  ) {}

  /** Start relaying both ways; resolves once this replica listens. */
  async start(): Promise<void> {
    this.book.onNews = (news) => {
      this.bus.publish(TOPIC, JSON.stringify({ from: this.id, news } satisfies Envelope)).catch(() => {
        // the state backend logs its own outage once; a lost message only delays what the others learn
      });
    };
    this.unsubscribe = await this.bus.subscribe(TOPIC, (message) => {
      let env: Envelope;
      try {
        env = JSON.parse(message) as Envelope;
      } catch {
        return;
      }
      if (env.from === this.id || !isNews(env.news)) return;
      this.book.apply(env.news);
    });
    this.log.debug("GitHub budgets shared over the state bus", { topic: TOPIC });
  }

  async stop(): Promise<void> {
    this.book.onNews = null;
    await this.unsubscribe?.();
  }
}

function isNews(n: unknown): n is BudgetNews {
  if (!n || typeof n !== "object") return false;
  const o = n as Record<string, unknown>;
  if (typeof o.budget !== "string") return false;
  if (o.kind === "observed") {
    const s = o.state as Record<string, unknown> | undefined;
    return typeof o.bucket === "string" && !!s && ["limit", "remaining", "used", "resetAt"].every((k) => typeof s[k] === "number");
  }
  if (o.kind === "exhausted") return typeof o.bucket === "string" && typeof o.resetAt === "number";
  return o.kind === "benched" && typeof o.until === "number" && typeof o.strikes === "number";
}
