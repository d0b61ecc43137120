/**
 * Who is calling the pool. GitHub accepts `Authorization: token X` and `Bearer X`; a hubgate API
 * token (hg_…) authenticates a client to the pool, anything else is taken to be the caller's own
 * GitHub token (used for writes and mutations, never pooled).
 */
import { sha256 } from "../crypto/hash.ts";
import { API_TOKEN_PREFIX } from "../crypto/apitoken.ts";
import { fetchGithubUser, type GithubApi } from "./user.ts";

export type ClientCredential = { kind: "none" } | { kind: "hubgate"; token: string } | { kind: "github"; token: string };

export function clientCredential(request: Request): ClientCredential {
  const m = /^(?:token|bearer)\s+(\S+)\s*$/i.exec(request.headers.get("authorization") ?? "");
  if (!m) return { kind: "none" };
  const token = m[1]!;
  return token.startsWith(API_TOKEN_PREFIX) ? { kind: "hubgate", token } : { kind: "github", token };
}

/** Caller logins by token hash, for the audit line of writes (bounded). */
export class LoginCache {
  private map = new Map<string, string>();
  constructor(private readonly max = 10_000) {}

  async login(token: string, api: GithubApi): Promise<string | null> {
    const key = sha256(token);
    const hit = this.map.get(key);
    if (hit) return hit;
    try {
      const { login } = await fetchGithubUser(api, token);
      if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value!);
      this.map.set(key, login);
      return login;
    } catch {
      return null;
    }
  }
}
