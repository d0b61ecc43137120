/**
 * The owners allowlist: repo-, org- and user-scoped REST paths outside the allowed owners get 403.
 * Comparison is case-insensitive, as GitHub logins are.
 */
import { GatewayError } from "../core/errors.ts";

const SCOPED = /^\/(?:repos|orgs|users|networks)\/([^/]+)/;

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

  /** the owner a REST path is scoped to, if any (`/repos/{owner}/…`, `/orgs/{org}/…`, `/users/{u}/…`) */
  static ownerOfPath(path: string): string | null {
    const m = SCOPED.exec(path);
    return m ? decodeURIComponent(m[1]!) : null;
  }

  checkPath(path: string): void {
    if (this.open) return;
    const owner = OwnerPolicy.ownerOfPath(path);
    if (owner !== null && !this.allows(owner)) throw forbidden(owner);
  }

  checkOwners(owners: readonly string[], dynamicOwner: boolean): void {
    if (this.open) return;
    for (const o of owners) if (!this.allows(o)) throw forbidden(o);
    if (dynamicOwner) throw new GatewayError("owner_not_allowed", "GraphQL owner arguments must be literals or string variables when an owners allowlist is set", 403);
  }
}

const forbidden = (owner: string) => new GatewayError("owner_not_allowed", `Owner "${owner}" is not in this gateway's allowed owners`, 403);
