/**
 * Which GitHub rate-limit bucket ("resource") a request will spend, so it can be routed through the
 * identity with the most budget left in that bucket. Names match GitHub's x-ratelimit-resource.
 */
export type Bucket = "core" | "search" | "code_search" | "graphql" | string;

/** `path` is the GitHub API path (github.com layout, without any mount prefix or query). */
export function bucketOf(method: string, path: string): Bucket {
  if (path === "/graphql") return "graphql";
  if (path === "/search/code" || path.startsWith("/search/code/")) return "code_search";
  if (path.startsWith("/search/")) return "search";
  if (method === "GET" && path === "/rate_limit") return "rate_limit"; // free: costs no quota
  return "core";
}
