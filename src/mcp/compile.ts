/** Compiles [[mcp.upstreams]] into route-table entries. */
import type { Config } from "../config/schema.ts";
import { durationMs } from "../config/types.ts";

export interface McpUpstreamRoute {
  readonly name: string;
  readonly url: URL;
  readonly oauthConnection?: string;
  readonly toolsAllow?: readonly string[];
  readonly toolsDeny: readonly string[];
  readonly timeoutMs: number;
  readonly allowPrivate: boolean;
}

export function compileMcpUpstreams(config: Config): Map<string, McpUpstreamRoute> {
  const out = new Map<string, McpUpstreamRoute>();
  for (const u of config.mcp.upstreams) {
    out.set(
      u.name,
      Object.freeze({
        name: u.name,
        url: new URL(u.url),
        oauthConnection: u.oauth_connection,
        toolsAllow: u.tools_allow,
        toolsDeny: u.tools_deny,
        timeoutMs: durationMs(u.timeout),
        allowPrivate: u.allow_private,
      }),
    );
  }
  const dflt = config.mcp.default_upstream ?? config.mcp.upstreams[0]?.name;
  const d = dflt === undefined ? undefined : out.get(dflt);
  if (d) out.set("", d);
  return out;
}
