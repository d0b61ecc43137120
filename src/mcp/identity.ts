/**
 * Signing in with the upstream account instead of a gateway password: after the upstream login, the
 * GitHub identity behind the token (GET /user, GET /user/orgs at [github] api_url) is checked against
 * [mcp] allowed_github_users / allowed_github_orgs. The gateway user becomes `github:<login>`.
 */
import type { McpDeps } from "./deps.ts";
import { fetchGithubUser, githubGet, type GithubApi } from "../github/user.ts";

export function identityLoginEnabled(d: Pick<McpDeps, "table">): boolean {
  const m = d.table().config.mcp;
  return m.allowed_github_users.length > 0 || m.allowed_github_orgs.length > 0;
}

export async function githubIdentity(d: Pick<McpDeps, "table">, accessToken: string): Promise<{ login: string; allowed: boolean }> {
  const { mcp: m, github } = d.table().config;
  // the GitHub API of [github], under that section's allow_private
  const api: GithubApi = { apiUrl: github.api_url, allowPrivate: github.allow_private, timeoutMs: 10_000 };
  const { login } = await fetchGithubUser(api, accessToken);
  const lower = (xs: readonly string[]) => new Set(xs.map((x) => x.toLowerCase()));
  if (lower(m.allowed_github_users).has(login.toLowerCase())) return { login, allowed: true };
  if (!m.allowed_github_orgs.length) return { login, allowed: false };
  const orgs = await githubGet(api, "/user/orgs?per_page=100", accessToken);
  const parsed: unknown = orgs.ok ? await orgs.json().catch(() => []) : [];
  const list = Array.isArray(parsed) ? (parsed as { login?: unknown }[]) : [];
  const allowedOrgs = lower(m.allowed_github_orgs);
  return { login, allowed: list.some((o) => typeof o.login === "string" && allowedOrgs.has(o.login.toLowerCase())) };
}
