/**
 * One throttle for every place a credential is checked — API tokens on the proxy and GitHub paths,
 * the admin API (admin token or API token), MCP access tokens, MCP client authentication at /token
 * and /revoke, and the MCP login form: failures are counted per client address in one sliding
 * minute, whatever the surface, so guessing on one surface is not a way around another's limit.
 * Each failure is audited (`auth.failed`, `admin.login_failed` or `mcp.login_failed`, with the surface;
 * never the credential); past the limit
 * every surface answers the same 429 `auth_throttled` with `retry-after`, without checking anything.
 */
import { Errors, GatewayError } from "../core/errors.ts";
import type { RateCounter } from "../state/types.ts";
import { MemoryRateCounter } from "../state/memory.ts";
import type { AuditInput, AuditKind } from "../store/audit.ts";

/** Failed authentications per client address and minute before further attempts get 429. */
export const AUTH_FAILURES_PER_MINUTE = 30;
const WINDOW_MS = 60_000;

export type AuthSurface = "proxy" | "github" | "admin" | "mcp" | "mcp-client" | "mcp-login";

/** The audit kind of a failure by surface: the admin API and the login form keep their own names. */
const AUDIT_KIND: Record<AuthSurface, AuditKind> = {
  proxy: "auth.failed",
  github: "auth.failed",
  admin: "admin.login_failed",
  mcp: "auth.failed",
  "mcp-client": "auth.failed",
  "mcp-login": "mcp.login_failed",
};

export interface ThrottleDeps {
  counter: RateCounter;
  audit: { append(e: AuditInput): Promise<unknown> };
}

export class AuthThrottle {
  /**
   * When the shared counter is unavailable (Redis down), failures are counted in this process instead:
   * a credential check must not fail closed with the state store (token checks go to the store), and
   * guessing stays throttled per process until the shared counter is back.
   */
  private readonly local = new MemoryRateCounter();
  constructor(private readonly deps: ThrottleDeps) {}

  private async counted<T>(op: (c: RateCounter) => Promise<T>): Promise<T> {
    try {
      return await op(this.deps.counter);
    } catch (e) {
      if (e instanceof GatewayError && e.code === "state_unavailable") return op(this.local);
      throw e;
    }
  }

  private key(address: string): string {
    return `auth-fail:${address}`;
  }

  /** Whether `address` has used up its failures (the sliding count is an estimate: the threshold sits half a hit lower). */
  async blocked(address: string): Promise<boolean> {
    return (await this.counted((c) => c.count(this.key(address), WINDOW_MS))) >= AUTH_FAILURES_PER_MINUTE - 0.5;
  }

  /** The 429 every surface answers once an address is throttled. */
  error(): GatewayError {
    return Errors.tooManyRequests("Too many failed authentications from this address; wait a minute", { "retry-after": "60" }, "auth_throttled");
  }

  /** Count one failure of `address` and audit it. */
  async failed(address: string, surface: AuthSurface, subject: string): Promise<void> {
    await this.counted((c) => c.hit(this.key(address), AUTH_FAILURES_PER_MINUTE, WINDOW_MS));
    // the answer stays the 401: a store that cannot take the event now (its fault is logged there) does not turn it into a 503
    await this.deps.audit.append({ kind: AUDIT_KIND[surface], actor: address, subject, detail: { surface } }).catch(() => undefined);
  }

  /**
   * Run `check` unless `address` is throttled (429 first); a 401 it throws, when a credential was
   * presented at all, counts as a failure. A request with no credential is not a guess.
   */
  async guard<T>(address: string, surface: AuthSurface, subject: string, presented: boolean, check: () => T | Promise<T>): Promise<T> {
    if (await this.blocked(address)) throw this.error();
    try {
      return await check();
    } catch (e) {
      if (presented && e instanceof GatewayError && e.status === 401) await this.failed(address, surface, subject);
      throw e;
    }
  }
}
