/** Compiles [[projects.endpoints]] into route-table entries (runtime objects with resolved secrets). */
import type { Config } from "../config/schema.ts";
import type { SecretValues } from "../config/secrets.ts";
import { durationMs } from "../config/types.ts";
import { endpointKey } from "../routes/table.ts";
import { tomlKey } from "../config/validate.ts";

export interface EndpointRoute {
  readonly project: string;
  readonly slug: string;
  readonly name: string;
  readonly upstream: URL;
  readonly allowedMethods: readonly string[];
  readonly authMode: "token" | "none";
  readonly oauthConnection?: string;
  readonly timeoutMs: number;
  readonly rateLimitPerMinute?: number;
  /** static headers with their secret values resolved */
  readonly headers: Readonly<Record<string, string>>;
  readonly allowPrivate: boolean;
  /** operations exposed as tools of the project's MCP server */
  readonly mcpTools: readonly McpToolRoute[];
}

export interface McpToolRoute {
  readonly name: string;
  readonly description: string;
  readonly method: string;
  /** below the endpoint, with {placeholders} filled from the tool arguments */
  readonly path: string;
  readonly inputSchema: Readonly<Record<string, unknown>>;
}

export function compileEndpoints(config: Config, secrets: SecretValues, skipped: ReadonlySet<string> = new Set()): Map<string, EndpointRoute> {
  const out = new Map<string, EndpointRoute>();
  config.projects.forEach((p, i) => {
    p.endpoints.forEach((e, j) => {
      const headers: Record<string, string> = {};
      for (const name of Object.keys(e.headers)) {
        const path = `projects[${i}].endpoints[${j}].headers.${tomlKey(name)}`;
        const v = secrets.get(path);
        if (v === undefined && skipped.has(path)) continue; // a management command, which proxies nothing
        if (v === undefined) throw new Error(`internal: secret for ${path} was not resolved`);
        headers[name.toLowerCase()] = v;
      }
      const methods = [...new Set(e.allowed_methods)];
      if (methods.includes("GET") && !methods.includes("HEAD")) methods.push("HEAD");
      out.set(
        endpointKey(p.id, e.slug),
        Object.freeze({
          project: p.id,
          slug: e.slug,
          name: e.name ?? e.slug,
          upstream: new URL(e.upstream_url),
          allowedMethods: Object.freeze(methods),
          authMode: e.auth_mode,
          oauthConnection: e.oauth_connection,
          timeoutMs: durationMs(e.timeout),
          rateLimitPerMinute: e.rate_limit_per_minute,
          headers: Object.freeze(headers),
          allowPrivate: e.allow_private,
          mcpTools: Object.freeze(
            e.mcp_tools.map((t) => ({
              name: t.name,
              description: t.description,
              method: t.method,
              path: t.path,
              inputSchema: t.input_schema ? (JSON.parse(t.input_schema) as Record<string, unknown>) : { type: "object", properties: {} },
            })),
          ),
        }),
      );
    });
  });
  return out;
}
