/**
 * A real upstream MCP server for tests: @modelcontextprotocol/server-everything over the SDK's
 * web-standard Streamable HTTP transport (sessions, SSE, DELETE), behind an OAuth check that accepts
 * only access tokens the test authorization server issued — and records whose token each call used.
 * `guardedUpstream` is that OAuth check and record on its own, for other MCP servers (mcp-upstream-v2.ts).
 */
import { randomUUID } from "node:crypto";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { createServer } from "@modelcontextprotocol/server-everything/dist/server/index.js";
import type { TestAs } from "./oidc.ts";

/** What the upstream saw of one request: the account whose token was presented, the method, the session and the MCP headers. */
export interface SeenRequest {
  account: string | null;
  method: string;
  session: string | null;
  token: string | null;
  mcpMethod: string | null;
  mcpName: string | null;
  version: string | null;
  /** the Mcp-Param-* headers, by lower-cased name, as they arrived */
  params: Record<string, string>;
}

/** Any upstream MCP server behind the test OAuth check. */
export interface Upstream {
  url: string;
  seen: SeenRequest[];
  stop(): void;
}

/** server-everything, with 2025 sessions. */
export interface UpstreamMcp extends Upstream {
  sessions: Map<string, WebStandardStreamableHTTPServerTransport>;
  closed: string[];
}

/** Serves `handle` at http://127.0.0.1:<port>/mcp to requests with a token the test AS issued; 401 with resource metadata otherwise. */
export function guardedUpstream(as: TestAs, handle: (req: Request) => Promise<Response>): Upstream {
  const up: Upstream = { url: "", seen: [], stop: () => server.stop(true) };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      if (new URL(req.url).pathname === "/.well-known/oauth-protected-resource/mcp")
        return Response.json({ resource: up.url, authorization_servers: [as.issuer], scopes_supported: ["openid", "offline_access"] });
      const bearer = /^Bearer (.+)$/.exec(req.headers.get("authorization") ?? "")?.[1] ?? null;
      const at = bearer ? await as.provider.AccessToken.find(bearer) : undefined;
      up.seen.push({
        account: at?.accountId ?? null,
        method: req.method,
        session: req.headers.get("mcp-session-id"),
        token: bearer,
        mcpMethod: req.headers.get("mcp-method"),
        mcpName: req.headers.get("mcp-name"),
        version: req.headers.get("mcp-protocol-version"),
        params: Object.fromEntries([...req.headers].filter(([k]) => k.startsWith("mcp-param-"))),
      });
      if (!at) return Response.json({ error: "invalid_token" }, { status: 401, headers: { "www-authenticate": `Bearer error="invalid_token", resource_metadata="${new URL(up.url).origin}/.well-known/oauth-protected-resource/mcp"` } });
      return handle(req);
    },
  });
  up.url = `http://127.0.0.1:${server.port}/mcp`;
  return up;
}

export function upstreamMcp(as: TestAs): UpstreamMcp {
  const sessions = new Map<string, WebStandardStreamableHTTPServerTransport>();
  const closed: string[] = [];
  const up = guardedUpstream(as, async (req) => {
    const session = req.headers.get("mcp-session-id");
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
        closed.push(id);
      },
    });
    const { server: mcp } = createServer();
    await mcp.connect(transport);
    return transport.handleRequest(req);
  });
  return Object.assign(up, { sessions, closed });
}
