/**
 * Names of things in the MCP authorization server: the issuer (the public URL's origin and path),
 * the protected resources (one per upstream: <public>/mcp/<name>, the default also at <public>/mcp)
 * and their RFC 9728 metadata URLs. A trailing slash does not make a different resource.
 */
import type { RouteTable } from "../routes/table.ts";
import type { McpUpstreamRoute } from "./compile.ts";

/** what these names are made from: the public URL, and the upstreams for the resources */
type Names = Pick<RouteTable, "publicUrl" | "mcpUpstreams">;

export const SCOPES = ["mcp", "offline_access"] as const;

export function issuer(t: Pick<Names, "publicUrl">): string {
  return t.publicUrl.href.replace(/\/+$/, "");
}

export function resourceFor(t: Pick<Names, "publicUrl">, name: string): string {
  return name === "" ? `${issuer(t)}/mcp` : `${issuer(t)}/mcp/${name}`;
}

export function metadataUrlFor(t: Pick<Names, "publicUrl">, name: string): string {
  const res = new URL(resourceFor(t, name));
  return `${res.origin}/.well-known/oauth-protected-resource${res.pathname}`;
}

export const normalizeResource = (r: string) => r.replace(/\/+$/, "");

/** The upstream a resource URL names, or null when it is not one this gateway serves. */
export function upstreamForResource(t: Names, resource: string): { name: string; upstream: McpUpstreamRoute } | null {
  const want = normalizeResource(resource);
  for (const [name, upstream] of t.mcpUpstreams) if (normalizeResource(resourceFor(t, name)) === want) return { name, upstream };
  return null;
}

/** The default MCP resource (audience of a request that names none). */
export function defaultResource(t: Names): string | null {
  return t.mcpUpstreams.has("") ? resourceFor(t, "") : null;
}
