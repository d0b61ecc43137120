/**
 * Verifies a client's hubgate API token: format + checksum first (no store hit for garbage), then the
 * hash lookup among stored tokens and tokens declared in config; not expired, not revoked, scope held,
 * bound to the project asked for. Failures are 401 (who are you?) or 403 (not allowed).
 */
import { Errors, GatewayError } from "../core/errors.ts";
import { checkApiTokenFormat, hashApiToken } from "../crypto/apitoken.ts";
import type { ApiTokenRepo } from "../store/index.ts";
import type { ConfigToken } from "./compile.ts";
import { pathOf } from "../core/url.ts";
import type { AuthSurface, AuthThrottle } from "./throttle.ts";

export interface VerifiedToken {
  id: string;
  project: string;
  name: string;
  scopes: readonly string[];
  source: "store" | "config";
}

const challenge = (error?: string) => ({
  "www-authenticate": error ? `Bearer realm="hubgate", error="${error}"` : 'Bearer realm="hubgate"',
});

export function bearerOf(request: Request): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get("authorization") ?? "");
  return m ? m[1]! : null;
}

/** What checking a token needs: the tokens declared in the table in force, the stored ones, the throttle, the client's address. */
export interface TokenDeps {
  declared: () => ReadonlyMap<string, ConfigToken>;
  repo: Pick<ApiTokenRepo, "findByHash" | "touch">;
  throttle: AuthThrottle;
  clientAddress: (request: Request) => string;
}

export class TokenVerifier {
  constructor(private readonly d: TokenDeps) {}

  /**
   * `need.project` absent: a gateway-wide scope (e.g. github:read), held by a token of any project.
   * A stored token is looked up in the store on every call — no local cache, so a revocation made through
   * any replica is refused by the next request everywhere. Recording its use is not waited for.
   */
  async verify(request: Request, need: { project?: string; scope: string }, raw: string | null = bearerOf(request)): Promise<VerifiedToken> {
    if (!raw) throw Errors.unauthorized("A hubgate API token is required (Authorization: Bearer hg_…)", "unauthorized", challenge());
    if (!checkApiTokenFormat(raw)) throw Errors.unauthorized("The API token is not valid", "invalid_token", challenge("invalid_token"));
    const hash = hashApiToken(raw);
    const declared = this.d.declared().get(hash);
    const found: VerifiedToken | null = declared ? { ...declared, source: "config" } : await this.stored(hash);
    if (!found) throw Errors.unauthorized("The API token is not valid, expired or revoked", "invalid_token", challenge("invalid_token"));
    if (need.project !== undefined && found.project !== need.project) throw new GatewayError("wrong_project", "This token belongs to another project", 403);
    if (!found.scopes.includes(need.scope)) throw new GatewayError("insufficient_scope", `This token lacks the scope "${need.scope}"`, 403);
    return found;
  }

  private async stored(hash: string): Promise<VerifiedToken | null> {
    const row = await this.d.repo.findByHash(hash);
    const now = Date.now();
    if (!row || row.revokedAt !== null || (row.expiresAt !== null && row.expiresAt <= now)) return null;
    // off the request's path: a failed write of last_used_at (the store went away just now) costs nothing but the mark
    this.d.repo.touch(row.id, now).catch(() => undefined);
    return { id: row.id, project: row.project, name: row.name, scopes: row.scopes, source: "store" };
  }

  /** verify() behind the one authentication throttle (tokens/throttle.ts), counted for `surface`. */
  verifyThrottled(request: Request, need: { project?: string; scope: string }, raw: string | null = bearerOf(request), surface: AuthSurface = "proxy"): Promise<VerifiedToken> {
    return this.d.throttle.guard(this.d.clientAddress(request), surface, pathOf(request.url), raw !== null, () => this.verify(request, need, raw));
  }
}
