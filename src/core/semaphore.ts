/** A counting semaphore with a bounded wait: excess callers queue, and give up after `waitMs`. */
import { Errors, GatewayError } from "./errors.ts";

export class Semaphore {
  private active = 0;
  private queue: { resolve: () => void; timer: ReturnType<typeof setTimeout> }[] = [];
  constructor(readonly max: number) {}

  get inUse(): number {
    return this.active;
  }
  get waiting(): number {
    return this.queue.length;
  }

  /** Resolves with a release function; rejects with 503 upstream_busy after waitMs in the queue. */
  acquire(waitMs: number, signal?: AbortSignal): Promise<() => void> {
    if (this.active < this.max) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      const item = {
        resolve: () => resolve(this.releaser()),
        timer: setTimeout(() => {
          this.queue = this.queue.filter((q) => q !== item);
          reject(new GatewayError("upstream_busy", `All upstream slots stayed busy for ${waitMs} ms`, 503, { headers: { "retry-after": "1" } }));
        }, waitMs),
      };
      signal?.addEventListener("abort", () => {
        clearTimeout(item.timer);
        this.queue = this.queue.filter((q) => q !== item);
        reject(Errors.clientClosed());
      });
      this.queue.push(item);
    });
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.queue.shift();
      if (next) {
        clearTimeout(next.timer);
        next.resolve(); // the slot passes straight to the next waiter
      } else this.active--;
    };
  }
}
