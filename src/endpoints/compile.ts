/**
 * Compiles [[projects.endpoints]] into route-table entries (runtime objects with resolved secrets),
 * with the operations each takes from its upstream's OpenAPI document (loaded beforehand: compiling
 * does no I/O) and, with mcp_tools_from_openapi, those operations as tools.
 */
import type { Config } from "../config/schema.ts";
import type { SecretValues } from "../config/secrets.ts";
import type { ConfigIssue } from "../config/validate.ts";
import { durationMs } from "../config/types.ts";
import { endpointKey } from "../endpoints/model.ts";
import { tomlKey } from "../config/validate.ts";
import type { DocumentResult, UpstreamDocuments } from "../openapi/load.ts";
import type { EndpointConfig } from "./model.ts";
import { parseOperationFilter } from "../openapi/filter.ts";
import { selectOperations, type Selection } from "../openapi/select.ts";
import { MAX_OPENAPI_TOOLS_PER_PROJECT, operationTool, type ToolBinding } from "../openapi/tools.ts";
import type { JsonObject } from "../openapi/types.ts";

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
  /** operations exposed as tools of the project's MCP server: the declared ones, then those from the upstream document */
  readonly mcpTools: readonly McpToolRoute[];
  readonly description?: string;
  /** the operations taken from the upstream's OpenAPI document; null without one, or when it could not be used */
  readonly openapi: EndpointDocument | null;
}

export interface EndpointDocument {
  /** file:<path> or the URL without its query */
  readonly source: string;
  readonly selection: Selection;
}

export interface McpToolRoute {
  readonly name: string;
  readonly description: string;
  readonly method: string;
  /** below the endpoint, with {placeholders} filled from the tool arguments */
  readonly path: string;
  readonly inputSchema: Readonly<Record<string, unknown>>;
  readonly outputSchema?: Readonly<JsonObject>;
  /** how arguments become the request (tools from an OpenAPI operation); without it, {placeholders} from arguments and the rest as query or JSON body */
  readonly binding?: ToolBinding;
}

/**
 * `documents`: the upstream OpenAPI documents loaded for this config (by endpoint key); `warnings`
 * collects what could not be used and why, by key path (logged at start-up and reload, printed by check).
 * `skipped`: secret slots a management command left unresolved (it proxies nothing).
 */
export function compileEndpoints(
  config: Config,
  secrets: SecretValues,
  documents: UpstreamDocuments = new Map(),
  warnings: ConfigIssue[] = [],
  skipped: ReadonlySet<string> = new Set(),
): Map<string, EndpointRoute> {
  const out = new Map<string, EndpointRoute>();
  config.projects.forEach((p, i) => {
    // tool names are one namespace per project: declared tools keep theirs, generated ones give way
    const names = new Set(p.endpoints.flatMap((e) => e.mcp_tools.map((t) => t.name)));
    let generated = 0;
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
      const at = `projects[${i}].endpoints[${j}]`;
      const upstream = new URL(e.upstream_url);
      const openapi = endpointDocument(e, documents.get(endpointKey(p.id, e.slug)), methods, upstream, `${at}.openapi`, warnings);
      const declared: McpToolRoute[] = e.mcp_tools.map((t) => ({
        name: t.name,
        description: t.description,
        method: t.method,
        path: t.path,
        inputSchema: t.input_schema ? (JSON.parse(t.input_schema) as Record<string, unknown>) : { type: "object", properties: {} },
      }));
      const fromDocument: McpToolRoute[] = [];
      if (e.mcp_tools_from_openapi && openapi) {
        const where = `${at}.mcp_tools_from_openapi`;
        const { operations, components } = openapi.selection;
        let over = 0;
        for (const op of operations) {
          const r = operationTool(op, components);
          if ("error" in r) {
            warnings.push({ path: where, message: `${op.method} ${op.documentPath} is not a tool: ${r.error}` });
            continue;
          }
          if (r.warning) warnings.push({ path: where, message: `${op.method} ${op.documentPath}: ${r.warning}` });
          if (generated >= MAX_OPENAPI_TOOLS_PER_PROJECT) {
            over++;
            continue;
          }
          generated++;
          let name = names.has(r.tool.name) ? `${e.slug}_${r.tool.name}`.slice(0, 64) : r.tool.name;
          for (let n = 2; names.has(name); n++) name = `${r.tool.name.slice(0, 60)}_${n}`;
          names.add(name);
          fromDocument.push({ ...r.tool, name, method: op.method, path: op.path });
        }
        if (over)
          warnings.push({
            path: where,
            message: `${over} more operation(s) would be tools, over the limit of ${MAX_OPENAPI_TOOLS_PER_PROJECT} generated tools per project; they are left out (narrow the operations list)`,
          });
      }
      out.set(
        endpointKey(p.id, e.slug),
        Object.freeze({
          project: p.id,
          slug: e.slug,
          name: e.name ?? e.slug,
          upstream,
          allowedMethods: Object.freeze(methods),
          authMode: e.auth_mode,
          oauthConnection: e.oauth_connection,
          timeoutMs: durationMs(e.timeout),
          rateLimitPerMinute: e.rate_limit_per_minute,
          headers: Object.freeze(headers),
          allowPrivate: e.allow_private,
          mcpTools: Object.freeze([...declared, ...fromDocument]),
          ...(e.description === undefined ? {} : { description: e.description }),
          openapi,
        }),
      );
    });
  });
  return out;
}

/** The endpoint's selection from its loaded document, or null (with the reason among the warnings). */
function endpointDocument(
  e: EndpointConfig,
  loaded: DocumentResult | undefined,
  methods: readonly string[],
  upstream: URL,
  where: string,
  warnings: ConfigIssue[],
): EndpointDocument | null {
  if (e.openapi === undefined) return null;
  if (loaded === undefined) return null; // not loaded (a table compiled without its documents)
  if (!loaded.ok) {
    warnings.push({ path: where, message: `${loaded.error}; the endpoint is documented without it` });
    return null;
  }
  const { doc, source, stale } = loaded.value;
  if (stale) warnings.push({ path: where, message: `${source} ${stale}` });
  const parsed = e.operations === undefined ? null : parseOperationFilter(e.operations);
  const filter = parsed && "filter" in parsed ? parsed.filter : null;
  const selection = selectOperations(doc, { methods, filter, upstreamPath: upstream.pathname });
  for (const w of selection.warnings) warnings.push({ path: where, message: `${source}: ${w}` });
  if (selection.operations.length === 0) {
    warnings.push({ path: where, message: `${source}: no operation is selected; the endpoint is documented without it` });
    return null;
  }
  return Object.freeze({ source, selection });
}
