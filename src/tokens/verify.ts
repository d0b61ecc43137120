/**
 * Verifies a client's hubgate API token: format + checksum first (no store hit for garbage), then the
 * hash lookup among stored tokens and tokens declared in config; not expired, not revoked, scope held,
 * bound to the project asked for. Failures are 401 (who are you?) or 403 (not allowed).
 */
import { Errors, GatewayError } from "../core/errors.ts";
import { checkApiTokenFormat, hashApiToken } from "../crypto/apitoken.ts";
import type { Gateway } from "../server/gateway.ts";

export interface VerifiedToken {
  id: string;
  project: string;
  name: string;
  scopes: readonly string[];
  source: "store" | "config";
}

/** A token declared in [[projects.tokens]], compiled into the route table by hash. */
export interface ConfigToken {
  id: string;
  project: string;
  name: string;
  scopes: readonly string[];
}

const challenge = (error?: string) => ({
  "www-authenticate": error ? `Bearer realm="hubgate", error="${error}"` : 'Bearer realm="hubgate"',
});

export function bearerOf(request: Request): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get("authorization") ?? "");
  return m ? m[1]! : null;
}

/** `need.project` absent: a gateway-wide scope (e.g. github:read), held by a token of any project. */
export function verifyApiToken(gw: Gateway, request: Request, need: { project?: string; scope: string }, raw: string | null = bearerOf(request)): VerifiedToken {
  if (!raw) throw Errors.unauthorized("A hubgate API token is required (Authorization: Bearer hg_…)", "unauthorized", challenge());
  if (!checkApiTokenFormat(raw)) throw Errors.unauthorized("The API token is not valid", "invalid_token", challenge("invalid_token"));
  const hash = hashApiToken(raw);
  let found: VerifiedToken | null = null;
  const declared = gw.routes.current().apiTokens.get(hash);
  if (declared) found = { ...declared, source: "config" };
  else {
    const row = gw.store.apiTokens.findByHash(hash);
    if (row && row.revokedAt === null && (row.expiresAt === null || row.expiresAt > Date.now())) {
      found = { id: row.id, project: row.project, name: row.name, scopes: row.scopes, source: "store" };
      gw.store.apiTokens.touch(row.id, Date.now());
    }
  }
  if (!found) throw Errors.unauthorized("The API token is not valid, expired or revoked", "invalid_token", challenge("invalid_token"));
  if (need.project !== undefined && found.project !== need.project) throw new GatewayError("wrong_project", "This token belongs to another project", 403);
  if (!found.scopes.includes(need.scope)) throw new GatewayError("insufficient_scope", `This token lacks the scope "${need.scope}"`, 403);
  return found;
}

/** Failed authentications per client address and minute before further attempts get 429 (token brute force). */
export const AUTH_FAILURES_PER_MINUTE = 30;

/**
 * verifyApiToken with brute-force protection: an address that failed AUTH_FAILURES_PER_MINUTE times in
 * the last minute gets 429 without a look-up until the window slides past.
 */
export async function verifyApiTokenThrottled(gw: Gateway, request: Request, need: { project?: string; scope: string }, raw: string | null = bearerOf(request)): Promise<VerifiedToken> {
  const key = `auth-fail:${gw.clientAddress(request)}`;
  if ((await gw.state.rateCounter.count(key, 60_000)) >= AUTH_FAILURES_PER_MINUTE - 0.5)
    throw Errors.tooManyRequests("Too many failed authentications from this address; wait a minute", { "retry-after": "60" }, "auth_throttled");
  try {
    return verifyApiToken(gw, request, need, raw);
  } catch (e) {
    if (e instanceof GatewayError && e.status === 401 && raw !== null) {
      await gw.state.rateCounter.hit(key, AUTH_FAILURES_PER_MINUTE, 60_000);
      gw.store.audit.append({ kind: "auth.failed", actor: gw.clientAddress(request), subject: new URL(request.url).pathname });
    }
    throw e;
  }
}
