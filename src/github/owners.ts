/**
 * The owners allowlist, closed: with `allowed_owners` set, a request is served only when it is provably
 * scoped to allowed owners (REST: scope.ts, search: search.ts, GraphQL: graphql.ts all describe a
 * request as a Scope); anything else is 403 `owner_not_allowed` before it goes upstream. Owners are
 * compared case-insensitively, as GitHub logins are. Without an allowlist nothing is checked.
 */
import { GatewayError } from "../core/errors.ts";

export type Scope =
  /** exposes no owner's data (/rate_limit, /meta, GraphQL rateLimit, …) */
  | { kind: "global" }
  /** confined to these owners, every one of which must be allowed; `linkOwner`: the owner its pagination links belong to */
  | { kind: "owners"; owners: readonly string[]; linkOwner?: string }
  | { kind: "refused"; reason: string };

export const refused = (reason: string): Scope => ({ kind: "refused", reason });

export class OwnerPolicy {
  private readonly allowed: ReadonlySet<string>;
  constructor(owners: readonly string[]) {
    this.allowed = new Set(owners.map((o) => o.toLowerCase()));
  }

  get open(): boolean {
    return this.allowed.size === 0;
  }

  allows(owner: string): boolean {
    return this.open || this.allowed.has(owner.toLowerCase());
  }

  check(scope: Scope): void {
    if (this.open) return;
    if (scope.kind === "refused") throw new GatewayError("owner_not_allowed", `Refused by the owners allowlist: ${scope.reason}`, 403);
    if (scope.kind === "owners")
      for (const o of scope.owners) if (!this.allows(o)) throw new GatewayError("owner_not_allowed", `Owner "${o}" is not in this gateway's allowed owners`, 403);
  }
}

/** A client-supplied string quoted for a message, bounded. */
export function shown(s: string): string {
  return JSON.stringify(s.length > 120 ? `${s.slice(0, 120)}…` : s);
}
