/**
 * The GitHub pool's routes: a catch-all under the configured mount (github.com layout) plus the GHES
 * layout (/api/v3/*, /api/graphql). Registered last, so the gateway's own routes take precedence.
 */
import { Elysia } from "elysia";
import type { GithubService } from "./service.ts";
import { Errors } from "../core/errors.ts";
import { pathOf } from "../core/url.ts";
import type { StatsProviders } from "../server/model.ts";

/**
 * `stats`: where the pool's figures are listed for /stats. `ownMethods(path)`: the methods the gateway's
 * own routes serve at `path`, or null when none matches. A gateway path asked with another method gets
 * 405, not a trip to GitHub.
 */
export function githubPlugin(
  stats: Pick<StatsProviders, "set">,
  svc: Pick<GithubService, "handle" | "stats">,
  ownMethods: (path: string) => readonly string[] | null = () => null,
) {
  stats.set("github", () => svc.stats());
  const detail = { tags: ["github"], summary: "GitHub API through the pool (github.com layout at the mount, GHES layout at /api/v3)" };
  return new Elysia({ name: "hubgate-github" })
    .all("/api/graphql", ({ request }) => svc.handle(request), { parse: "none", detail })
    .all("/api/v3/*", ({ request }) => svc.handle(request), { parse: "none", detail })
    .all(
      "/*",
      ({ request }) => {
        const allow = ownMethods(pathOf(request.url));
        if (allow) throw Errors.methodNotAllowed([...allow]);
        return svc.handle(request);
      },
      { parse: "none", detail },
    );
}
