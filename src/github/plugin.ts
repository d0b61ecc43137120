/**
 * The GitHub pool's routes: a catch-all under the configured mount (github.com layout) plus the GHES
 * layout (/api/v3/*, /api/graphql). Registered last, so the gateway's own routes take precedence.
 */
import { Elysia } from "elysia";
import type { Gateway } from "../server/gateway.ts";
import { GithubService } from "./service.ts";

export function githubPlugin(gw: Gateway, svc: GithubService = new GithubService(gw)) {
  gw.statsProviders.set("github", () => svc.stats());
  const detail = { tags: ["github"], summary: "GitHub API through the pool (github.com layout at the mount, GHES layout at /api/v3)" };
  return new Elysia({ name: "hubgate-github" })
    .all("/api/graphql", ({ request }) => svc.handle(request), { parse: "none", detail })
    .all("/api/v3/*", ({ request }) => svc.handle(request), { parse: "none", detail })
    .all("/*", ({ request }) => svc.handle(request), { parse: "none", detail });
}
