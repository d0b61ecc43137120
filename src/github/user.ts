/** Who a GitHub token belongs to: GET /user, used for pooled identities, the callers of writes and MCP sign-in. */

export const GITHUB_HEADERS = { accept: "application/vnd.github+json", "user-agent": "hubgate", "x-github-api-version": "2022-11-28" };

export class GithubUserError extends Error {
  /** the HTTP status GitHub answered, or null when it could not be reached */
  constructor(
    readonly status: number | null,
    message: string,
  ) {
    super(message);
  }
}

/** The login (and numeric id, when GitHub gives one) behind `token`; a GithubUserError otherwise (status 401: the token is rejected). */
export async function fetchGithubUser(apiUrl: string, token: string, opts: { timeoutMs: number; fetch?: typeof fetch }): Promise<{ login: string; id: number | null }> {
  let res: Response;
  try {
    res = await (opts.fetch ?? fetch)(`${apiUrl.replace(/\/+$/, "")}/user`, {
      headers: { ...GITHUB_HEADERS, authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
  } catch (e) {
    throw new GithubUserError(null, `GET /user failed (${e instanceof Error ? e.name : "error"})`);
  }
  if (!res.ok) throw new GithubUserError(res.status, `GET /user answered ${res.status}`);
  const body = (await res.json().catch(() => ({}))) as { login?: unknown; id?: unknown };
  if (typeof body.login !== "string") throw new GithubUserError(res.status, "GET /user returned no login");
  return { login: body.login, id: typeof body.id === "number" ? body.id : null };
}
