/**
 * A real upstream MCP server for tests: @modelcontextprotocol/server-everything over the SDK's
 * web-standard Streamable HTTP transport (sessions, SSE, DELETE), behind an OAuth check that accepts
 * only access tokens the test authorization server issued — and records whose token each call used.
 */
import { randomUUID } from "node:crypto";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { createServer } from "@modelcontextprotocol/server-everything/dist/server/index.js";
import type { TestAs } from "./oidc.ts";

export interface UpstreamMcp {
  url: string;
  /** per request: the account whose token was presented, the method and the session */
  seen: { account: string | null; method: string; session: string | null; token: string | null; mcpMethod: string | null; mcpName: string | null; version: string | null }[];
  sessions: Map<string, WebStandardStreamableHTTPServerTransport>;
  closed: string[];
  stop(): void;
}

export function upstreamMcp(as: TestAs): UpstreamMcp {
  const sessions = new Map<string, WebStandardStreamableHTTPServerTransport>();
  const up: UpstreamMcp = { url: "", seen: [], sessions, closed: [], stop: () => server.stop(true) };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      if (new URL(req.url).pathname === "/.well-known/oauth-protected-resource/mcp")
        return Response.json({ resource: up.url, authorization_servers: [as.issuer], scopes_supported: ["openid", "offline_access"] });
      const bearer = /^Bearer (.+)$/.exec(req.headers.get("authorization") ?? "")?.[1] ?? null;
      const at = bearer ? await as.provider.AccessToken.find(bearer) : undefined;
      const session = req.headers.get("mcp-session-id");
      up.seen.push({
        account: at?.accountId ?? null,
        method: req.method,
        session,
        token: bearer,
        mcpMethod: req.headers.get("mcp-method"),
        mcpName: req.headers.get("mcp-name"),
        version: req.headers.get("mcp-protocol-version"),
      });
      if (!at) return Response.json({ error: "invalid_token" }, { status: 401, headers: { "www-authenticate": `Bearer error="invalid_token", resource_metadata="${new URL(up.url).origin}/.well-known/oauth-protected-resource/mcp"` } });
      if (session) {
        const t = sessions.get(session);
        if (!t) return Response.json({ jsonrpc: "2.0", id: null, error: { code: -32001, message: "Session not found" } }, { status: 404 });
        return t.handleRequest(req);
      }
      const transport = new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => void sessions.set(id, transport),
        onsessionclosed: (id) => {
          sessions.delete(id);
          up.closed.push(id);
        },
      });
      const { server: mcp } = createServer();
      await mcp.connect(transport);
      return transport.handleRequest(req);
    },
  });
  up.url = `http://127.0.0.1:${server.port}/mcp`;
  return up;
}
