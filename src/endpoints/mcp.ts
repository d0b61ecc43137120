/**
 * A project's own MCP server at /mcp/project/<project>: each [[projects.endpoints.mcp_tools]] entry,
 * and with mcp_tools_from_openapi each documented operation of the endpoint's upstream OpenAPI
 * document, is a tool whose call goes through the normal endpoint proxy path (client token, OAuth injection,
 * rate limit, request log). Built on the official SDK's Server and web-standard Streamable HTTP
 * transport, stateless (one server per request, no session), authenticated by the client's hubgate
 * API token with scope proxy for the project.
 */
import type { RouteTable } from "../routes/table.ts";
import type { TokenVerifier } from "../tokens/verify.ts";
import { GatewayError } from "../core/errors.ts";
import { VERSION } from "../version.ts";
import type { EndpointRoute, McpToolRoute } from "./compile.ts";

const MAX_RESULT = 100_000;

type Handler = (request: Request) => Promise<Response>;

/** What a project's MCP server uses: the route table in force (one snapshot per request) and the API-token check. */
export interface ProjectMcpDeps {
  table: () => Pick<RouteTable, "endpoints" | "projects" | "publicUrl">;
  tokens: Pick<TokenVerifier, "verifyThrottled">;
}

/**
 * The request a tool call makes to its endpoint. A tool made from an OpenAPI operation places each
 * argument where the operation says (path, query, header, JSON body); a declared tool fills its
 * {placeholders} from arguments and sends the rest as query (GET/HEAD/DELETE) or JSON body.
 */
export function toolRequest(base: string, route: EndpointRoute, tool: McpToolRoute, args: Record<string, unknown>, authorization: string): Request {
  const headers: Record<string, string> = { authorization, accept: "application/json" };
  const query = new URLSearchParams();
  let body: string | undefined;
  let path: string;
  const b = tool.binding;
  if (b) {
    const inPath = new Map(b.params.filter((p) => p.in === "path").map((p) => [p.name, p.arg]));
    path = fill(tool.path, (name) => args[inPath.get(name) ?? name]);
    for (const p of b.params) {
      const v = args[p.arg];
      if (v === undefined || v === null || p.in === "path") continue;
      if (p.in === "header") headers[p.name] = scalar(v);
      else if (Array.isArray(v)) {
        if (p.explode) for (const item of v) query.append(p.name, scalar(item));
        else query.append(p.name, v.map(scalar).join(","));
      } else query.append(p.name, scalar(v));
    }
    if (b.body && args[b.body.arg] !== undefined) {
      headers["content-type"] = b.body.contentType;
      body = JSON.stringify(args[b.body.arg]);
    }
  } else {
    const rest = { ...args };
    path = fill(tool.path, (k) => {
      const v = rest[k];
      delete rest[k];
      return v;
    });
    const hasBody = !["GET", "HEAD", "DELETE"].includes(tool.method);
    if (!hasBody) for (const [k, v] of Object.entries(rest)) if (v !== undefined) query.set(k, scalar(v));
    if (hasBody) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(rest);
    }
  }
  const url = new URL(`${base}api/${encodeURIComponent(route.project)}/proxy/${encodeURIComponent(route.slug)}${path}`);
  const qs = query.toString();
  if (qs) url.search = qs;
  return new Request(url, { method: tool.method, headers, body });
}

/** {placeholders} of a path template, each filled with its argument, percent-encoded */
function fill(template: string, arg: (name: string) => unknown): string {
  return template.replace(/\{([^}/]+)\}/g, (_, k: string) => {
    const v = arg(k);
    if (v === undefined || v === null) throw new GatewayError("invalid_params", `missing argument "${k}"`, 400);
    return encodeURIComponent(scalar(v));
  });
}

function scalar(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

export async function projectMcp(d: ProjectMcpDeps, request: Request, project: string, proxy: Handler): Promise<Response> {
  await d.tokens.verifyThrottled(request, { project, scope: "proxy" });
  const table = d.table();
  const tools = new Map<string, { route: EndpointRoute; tool: McpToolRoute }>();
  for (const route of table.endpoints.values()) if (route.project === project) for (const tool of route.mcpTools) tools.set(tool.name, { route, tool });
  if (!table.projects.has(project)) throw new GatewayError("not_found", `No project "${project}"`, 404);

  // the SDK (and its schema libraries) load on the first project MCP request, not at start-up
  const [{ Server }, { WebStandardStreamableHTTPServerTransport }, { CallToolRequestSchema, ListToolsRequestSchema }] = await Promise.all([
    import("@modelcontextprotocol/sdk/server/index.js"),
    import("@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js"),
    import("@modelcontextprotocol/sdk/types.js"),
  ]);
  const server = new Server({ name: `hubgate-${project}`, version: VERSION }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: [...tools.values()].map(({ tool }) => ({
      name: tool.name,
      description: tool.description,
      inputSchema: tool.inputSchema as { type: "object" },
      ...(tool.outputSchema ? { outputSchema: tool.outputSchema as { type: "object" } } : {}),
    })),
  }));
  server.setRequestHandler(CallToolRequestSchema, async (req) => {
    const entry = tools.get(req.params.name);
    if (!entry) return { isError: true, content: [{ type: "text" as const, text: `Unknown tool "${req.params.name}"` }] };
    let res: Response;
    try {
      res = await proxy(toolRequest(table.publicUrl.href.endsWith("/") ? table.publicUrl.href : `${table.publicUrl.href}/`, entry.route, entry.tool, req.params.arguments ?? {}, request.headers.get("authorization")!));
    } catch (e) {
      const msg = e instanceof GatewayError ? `${e.code}: ${e.message}` : "the call failed";
      return { isError: true, content: [{ type: "text" as const, text: msg }] };
    }
    const text = await res.text();
    const content = [{ type: "text" as const, text: text.length > MAX_RESULT ? `${text.slice(0, MAX_RESULT)}\n…(truncated)` : text }];
    if (res.status >= 400) return { isError: true, content };
    if (!entry.tool.outputSchema) return { isError: false, content };
    // a tool with an output schema answers with structured content (MCP): the upstream's JSON object
    const structured = parseObject(text);
    if (!structured) return { isError: true, content: [{ type: "text" as const, text: `the upstream answered ${res.status} without the JSON object its OpenAPI document declares` }, ...content] };
    return { isError: false, content, structuredContent: structured };
  });
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  await server.connect(transport);
  const res = await transport.handleRequest(request);
  void server.close();
  return res;
}

function parseObject(text: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
