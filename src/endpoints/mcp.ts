/**
 * A project's own MCP server at /mcp/project/<project>: each [[projects.endpoints.mcp_tools]] entry
 * is a tool whose call goes through the normal endpoint proxy path (client token, OAuth injection,
 * rate limit, request log). Built on the official SDK's Server and web-standard Streamable HTTP
 * transport, stateless (one server per request, no session), authenticated by the client's hubgate
 * API token with scope proxy for the project.
 */
import type { Gateway } from "../server/gateway.ts";
import { GatewayError } from "../core/errors.ts";
import { verifyApiTokenThrottled } from "../tokens/verify.ts";
import { VERSION } from "../version.ts";
import type { EndpointRoute, McpToolRoute } from "./compile.ts";

const MAX_RESULT = 100_000;

type Handler = (request: Request) => Promise<Response>;

/** The request a tool call makes to its endpoint: {placeholders} from arguments, the rest as query (GET/DELETE) or JSON body. */
export function toolRequest(base: string, route: EndpointRoute, tool: McpToolRoute, args: Record<string, unknown>, authorization: string): Request {
  const rest = { ...args };
  const path = tool.path.replace(/\{([A-Za-z0-9_]+)\}/g, (_, k: string) => {
    const v = rest[k];
    delete rest[k];
    if (v === undefined || v === null) throw new GatewayError("invalid_params", `missing argument "${k}"`, 400);
    return encodeURIComponent(String(v));
  });
  const url = new URL(`${base}api/${encodeURIComponent(route.project)}/proxy/${encodeURIComponent(route.slug)}${path}`);
  const hasBody = !["GET", "HEAD", "DELETE"].includes(tool.method);
  if (!hasBody) for (const [k, v] of Object.entries(rest)) if (v !== undefined) url.searchParams.set(k, typeof v === "string" ? v : JSON.stringify(v));
  return new Request(url, {
    method: tool.method,
    headers: { authorization, accept: "application/json", ...(hasBody ? { "content-type": "application/json" } : {}) },
    body: hasBody ? JSON.stringify(rest) : undefined,
  });
}

export async function projectMcp(gw: Gateway, request: Request, project: string, proxy: Handler): Promise<Response> {
  await verifyApiTokenThrottled(gw, request, { project, scope: "proxy" });
  const table = gw.routes.current();
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
    tools: [...tools.values()].map(({ tool }) => ({ name: tool.name, description: tool.description, inputSchema: tool.inputSchema as { type: "object" } })),
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
    return { isError: res.status >= 400, content: [{ type: "text" as const, text: text.length > MAX_RESULT ? `${text.slice(0, MAX_RESULT)}\n…(truncated)` : text }] };
  });
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  await server.connect(transport);
  const res = await transport.handleRequest(request);
  void server.close();
  return res;
}
