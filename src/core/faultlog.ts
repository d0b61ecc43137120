/**
 * The one rule for logging a dependency that is down (Redis, PostgreSQL): one error line per interval
 * while it fails — with how many failures were not logged — and one line when it answers again, so a
 * dependency down under load writes a few lines, not one per request.
 */
import type { Logger } from "./log.ts";

export const FAULT_LOG_EVERY_MS = 30_000;

export class FaultLog {
  private lastAt = 0;
  private suppressed = 0;
  private failing = false;
  constructor(
    private readonly log: Logger,
    private readonly messages: { down: string; up: string },
    private readonly everyMs = FAULT_LOG_EVERY_MS,
  ) {}

  get down(): boolean {
    return this.failing;
  }

  fail(op: string, err: unknown): void {
    this.failing = true;
    const t = Date.now();
    if (t - this.lastAt < this.everyMs) {
      this.suppressed++;
      return;
    }
    this.log.error(this.messages.down, { op, err, suppressed: this.suppressed });
    this.lastAt = t;
    this.suppressed = 0;
  }

  restored(): void {
    if (!this.failing) return;
    this.log.info(this.messages.up, { suppressed: this.suppressed });
    this.failing = false;
    this.lastAt = 0;
    this.suppressed = 0;
  }
}
