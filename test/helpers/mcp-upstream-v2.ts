/**
 * An upstream MCP server built with the official SDK's v2 server package (@modelcontextprotocol/server):
 * `createMcpHandler` serves the stateless 2026-07-28 shape and, for 2025-era clients, its stateless
 * legacy fallback, behind the same OAuth check as the server-everything upstream. The tools and the
 * resource exercise what a gateway must carry: a tool name and a resource URI outside printable ASCII
 * (sent as `=?base64?…?=` in Mcp-Name), a parameter mirrored into an Mcp-Param-* header, progress
 * notifications streamed before a result, and a tool the gateway's policy denies.
 */
import { createMcpHandler, fromJsonSchema, McpServer, type JsonSchemaType } from "@modelcontextprotocol/server";
import { guardedUpstream, type Upstream } from "./mcp-upstream.ts";
import type { TestAs } from "./oidc.ts";

export const V2_TOOL_UNICODE = "héllo wörld";
/** The URI clients read; the SDK looks resources up by the WHATWG-normalized form it is registered under. */
export const V2_RESOURCE_URI = "memo://notes/café-ü.txt";
export const V2_RESOURCE_TEXT = "Ein Café für Jürgen";

/** The SDK warns on every registration of a name outside its recommended characters (per request, with a per-request factory); that name is the point here. */
function quietly(register: () => unknown): void {
  const warn = console.warn;
  console.warn = () => undefined;
  try {
    register();
  } finally {
    console.warn = warn;
  }
}

/** A string argument the client must mirror into `Mcp-Param-Region` (the schema extension is not in JsonSchemaType). */
const MIRRORED_REGION: JsonSchemaType & { "x-mcp-header": string } = { type: "string", "x-mcp-header": "Region" };

const text = (t: string) => ({ content: [{ type: "text" as const, text: t }] });

function mcpServer(): McpServer {
  const server = new McpServer({ name: "hubgate-test-v2", version: "1.0.0" });
  server.registerTool("echo", { description: "Echoes a message", inputSchema: fromJsonSchema<{ message: string }>({ type: "object", properties: { message: { type: "string" } }, required: ["message"] }) }, async ({ message }) => text(`echo: ${message}`));
  quietly(() =>
    server.registerTool(V2_TOOL_UNICODE, { description: "A tool whose name is not printable ASCII", inputSchema: fromJsonSchema<{ who: string }>({ type: "object", properties: { who: { type: "string" } }, required: ["who"] }) }, async ({ who }) => text(`grüß dich, ${who}`)),
  );
  server.registerTool(
    "locate",
    {
      description: "A parameter mirrored into the Mcp-Param-Region header",
      inputSchema: fromJsonSchema<{ region: string }>({ type: "object", properties: { region: MIRRORED_REGION }, required: ["region"] }),
    },
    async ({ region }) => text(`region: ${region}`),
  );
  server.registerTool("count", { description: "Reports progress, then completes", inputSchema: fromJsonSchema<{ steps: number }>({ type: "object", properties: { steps: { type: "integer" } }, required: ["steps"] }) }, async ({ steps }, ctx) => {
    const progressToken = ctx.mcpReq._meta?.progressToken;
    if (progressToken !== undefined) for (let i = 1; i <= steps; i++) await ctx.mcpReq.notify({ method: "notifications/progress", params: { progressToken, progress: i, total: steps } });
    return text(`counted to ${steps}`);
  });
  server.registerTool("get-env", { description: "Denied by the gateway's tools_deny" }, async () => text("secret environment"));
  server.registerResource("note", new URL(V2_RESOURCE_URI).href, { mimeType: "text/plain" }, async (uri) => ({ contents: [{ uri: uri.href, mimeType: "text/plain", text: V2_RESOURCE_TEXT }] }));
  return server;
}

export function upstreamMcpV2(as: TestAs): Upstream & { errors: Error[] } {
  const errors: Error[] = [];
  const handler = createMcpHandler(mcpServer, { onerror: (e) => void errors.push(e) });
  const up = guardedUpstream(as, (req) => handler.fetch(req));
  const stopServer = up.stop;
  return Object.assign(up, {
    errors,
    stop() {
      void handler.close();
      stopServer();
    },
  });
}
