/**
 * Signing in with the upstream account instead of a gateway password: after the upstream login, the
 * GitHub identity behind the token (GET /user, GET /user/orgs at [github] api_url) is checked against
 * [mcp] allowed_github_users / allowed_github_orgs. The gateway user becomes `github:<login>`.
 */
import type { Gateway } from "../server/gateway.ts";

export function identityLoginEnabled(gw: Gateway): boolean {
  const m = gw.config.mcp;
  return m.allowed_github_users.length > 0 || m.allowed_github_orgs.length > 0;
}

export async function githubIdentity(gw: Gateway, accessToken: string): Promise<{ login: string; allowed: boolean }> {
  const m = gw.config.mcp;
  const api = gw.config.github.api_url.replace(/\/+$/, "");
  const headers = { authorization: `Bearer ${accessToken}`, accept: "application/vnd.github+json", "user-agent": "hubgate" };
  const res = await fetch(`${api}/user`, { headers, signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET /user answered ${res.status}`);
  const login = ((await res.json()) as { login?: unknown }).login;
  if (typeof login !== "string") throw new Error("GET /user returned no login");
  const lower = (xs: readonly string[]) => new Set(xs.map((x) => x.toLowerCase()));
  if (lower(m.allowed_github_users).has(login.toLowerCase())) return { login, allowed: true };
  if (!m.allowed_github_orgs.length) return { login, allowed: false };
  const orgs = await fetch(`${api}/user/orgs?per_page=100`, { headers, signal: AbortSignal.timeout(10_000) });
  const list = orgs.ok ? ((await orgs.json()) as { login?: string }[]) : [];
  const allowedOrgs = lower(m.allowed_github_orgs);
  return { login, allowed: list.some((o) => typeof o.login === "string" && allowedOrgs.has(o.login.toLowerCase())) };
}
