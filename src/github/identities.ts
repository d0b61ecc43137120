/**
 * Pooled identities. A PAT is resolved to its GitHub user with GET /user: tokens of the same user
 * share one budget (GitHub's limits are per user). An App installation mints its own tokens (RS256
 * JWT signed with jose → POST /app/installations/{id}/access_tokens), refreshed 5 minutes before
 * expiry; its budget is the installation.
 */
import { sha256 } from "../crypto/hash.ts";
import { importPKCS8, SignJWT } from "jose";
import { createPrivateKey } from "node:crypto";
import { GatewayError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { fetchGithubUser, GithubUserError, GITHUB_HEADERS, GITHUB_MAX_BYTES, type GithubApi } from "./user.ts";
import { request } from "../proxy/outbound.ts";

export type IdentitySpec =
  | { id: string; kind: "pat"; token: string }
  | { id: string; kind: "app"; appId: string; installationId: string; privateKey: string };

export type IdentityStatus = "ok" | "invalid" | "unverified";

export interface Identity {
  readonly id: string;
  readonly kind: "pat" | "app";
  /** the GitHub login (PAT) or `app/<app id>` */
  readonly login: string | null;
  /** whose rate limit this identity spends: `user:<id>`, `app:<installation>` or `identity:<id>` when unverified */
  readonly budget: string;
  readonly status: IdentityStatus;
  token(): Promise<string>;
}

export interface IdentityDeps {
  /** [github] api_url, allow_private and request timeout: identity calls go through the guarded outbound client */
  api: GithubApi;
  log: Logger;
  /** GET /user results by token hash, kept across reloads */
  userCache: Map<string, { login: string; userId: number }>;
}


export async function resolveIdentities(specs: readonly IdentitySpec[], deps: IdentityDeps): Promise<Identity[]> {
  return Promise.all(specs.map((s) => (s.kind === "pat" ? resolvePat(s, deps) : appIdentity(s, deps))));
}

async function resolvePat(spec: Extract<IdentitySpec, { kind: "pat" }>, deps: IdentityDeps): Promise<Identity> {
  const hash = sha256(spec.token);
  const token = async () => spec.token;
  let user = deps.userCache.get(hash);
  if (!user) {
    try {
      const u = await fetchGithubUser(deps.api, spec.token);
      if (u.id === null) throw new Error("GET /user returned no id");
      user = { login: u.login, userId: u.id };
      deps.userCache.set(hash, user);
    } catch (e) {
      if (e instanceof GithubUserError && e.status === 401) {
        deps.log.error("GitHub rejected an identity's token (401); it is left out of the pool", { identity: spec.id });
        return { id: spec.id, kind: "pat", login: null, budget: `identity:${spec.id}`, status: "invalid", token };
      }
      deps.log.warn("could not resolve an identity's GitHub user; it keeps its own budget until the next reload", {
        identity: spec.id,
        reason: e instanceof Error ? e.message : String(e),
      });
      return { id: spec.id, kind: "pat", login: null, budget: `identity:${spec.id}`, status: "unverified", token };
    }
  }
  return { id: spec.id, kind: "pat", login: user.login, budget: `user:${user.userId}`, status: "ok", token };
}

function appIdentity(spec: Extract<IdentitySpec, { kind: "app" }>, deps: IdentityDeps): Identity {
  let cached: { token: string; expiresAt: number } | null = null;
  let pending: Promise<string> | null = null;
  const mint = async (): Promise<string> => {
    // GitHub issues PKCS#1 ("BEGIN RSA PRIVATE KEY") keys; jose wants PKCS#8
    const pkcs8 = createPrivateKey(spec.privateKey).export({ type: "pkcs8", format: "pem" }).toString();
    const key = await importPKCS8(pkcs8, "RS256");
    const now = Math.floor(Date.now() / 1000);
    const jwt = await new SignJWT({}).setProtectedHeader({ alg: "RS256" }).setIssuer(spec.appId).setIssuedAt(now - 60).setExpirationTime(now + 540).sign(key);
    const { apiUrl, allowPrivate, timeoutMs } = deps.api;
    const res = await request(
      `${apiUrl}/app/installations/${encodeURIComponent(spec.installationId)}/access_tokens`,
      { method: "POST", headers: { ...GITHUB_HEADERS, authorization: `Bearer ${jwt}` } },
      { allowPrivate, timeoutMs, maxBytes: GITHUB_MAX_BYTES },
    );
    if (!res.ok) throw new GatewayError("github_app_token_failed", `GitHub App ${spec.appId}: minting an installation token answered ${res.status}`, 502);
    const body = (await res.json()) as { token?: string; expires_at?: string };
    if (!body.token || !body.expires_at) throw new GatewayError("github_app_token_failed", `GitHub App ${spec.appId}: no token in the response`, 502);
    cached = { token: body.token, expiresAt: Date.parse(body.expires_at) };
    deps.log.info("GitHub App installation token minted", { identity: spec.id, expires_at: body.expires_at });
    return body.token;
  };
  return {
    id: spec.id,
    kind: "app",
    login: `app/${spec.appId}`,
    budget: `app:${spec.installationId}`,
    status: "ok",
    token() {
      if (cached && cached.expiresAt - Date.now() > 5 * 60_000) return Promise.resolve(cached.token);
      pending ??= mint().finally(() => (pending = null));
      return pending;
    },
  };
}
