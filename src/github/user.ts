/** Who a GitHub token belongs to: GET /user, used for pooled identities, the callers of writes and MCP sign-in. */
import { isGatewayError } from "../core/errors.ts";
import { request } from "../proxy/outbound.ts";

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

/** What a GitHub API call of the gateway's own needs: [github] api_url and its allow_private, and a time limit. */
export interface GithubApi {
  apiUrl: string;
  allowPrivate: boolean;
  timeoutMs: number;
}

/** GitHub's user and org documents are small; anything near this is not GitHub. */
export const GITHUB_MAX_BYTES = 1 << 20;

/** A GET of the GitHub API with `token`, through the guarded outbound client. */
export function githubGet(api: GithubApi, path: string, token: string): Promise<Response> {
  return request(`${api.apiUrl.replace(/\/+$/, "")}${path}`, { headers: { ...GITHUB_HEADERS, authorization: `Bearer ${token}` } }, {
    allowPrivate: api.allowPrivate,
    timeoutMs: api.timeoutMs,
    maxBytes: GITHUB_MAX_BYTES,
  });
}

/** The login (and numeric id, when GitHub gives one) behind `token`; a GithubUserError otherwise (status 401: the token is rejected). */
export async function fetchGithubUser(api: GithubApi, token: string): Promise<{ login: string; id: number | null }> {
  let res: Response;
  try {
    res = await githubGet(api, "/user", token);
  } catch (e) {
    // the guard's and the client's messages are self-written and carry no token
    throw new GithubUserError(null, `GET /user failed: ${isGatewayError(e) ? e.message : e instanceof Error ? e.name : "error"}`);
  }
  if (!res.ok) throw new GithubUserError(res.status, `GET /user answered ${res.status}`);
  const body = (await res.json().catch(() => ({}))) as { login?: unknown; id?: unknown };
  if (typeof body.login !== "string") throw new GithubUserError(res.status, "GET /user returned no login");
  return { login: body.login, id: typeof body.id === "number" ? body.id : null };
}
