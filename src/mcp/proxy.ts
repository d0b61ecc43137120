/**
 * The resource server: POST|GET|DELETE /mcp[/<name>]. A gateway access token whose audience is this
 * resource; the user's own upstream token injected (refreshed when near expiry, and once more on an
 * upstream 401); both MCP transport generations carried unchanged — the session-based 2025 shape
 * (Mcp-Session-Id, GET streams, DELETE, Last-Event-ID) and the stateless 2026-07-28 shape (its request
 * metadata headers checked against the JSON-RPC body, headers.ts) — with streams passed unbuffered.
 */
import type { McpDeps } from "./deps.ts";
import { GatewayError, isDependencyDown } from "../core/errors.ts";
import { forward } from "../proxy/forward.ts";
import { bearerOf } from "../tokens/verify.ts";
import { reportFailure } from "../server/pipeline.ts";
import { pathOf } from "../core/url.ts";
import type { McpUpstreamRoute } from "./compile.ts";
import { filterJson, filterSse, hasToolFilter, toolAllowed, type RpcMessage } from "./filter.ts";
import { checkRequestHeaders } from "./headers.ts";
import { metadataUrlFor, normalizeResource, resourceFor } from "./resources.ts";
import { verifyAccessToken } from "./tokens.ts";
import { upstreamGrantKey } from "./authorize.ts";
import { upstreamConnection } from "./discovery.ts";

const rpcError = (id: RpcMessage["id"], code: number, message: string, status = 200) =>
  new Response(JSON.stringify({ jsonrpc: "2.0", id: id ?? null, error: { code, message } }), { status, headers: { "content-type": "application/json" } });

/** What the resource server uses (discovery's part included, for upstreams without an oauth_connection). */
export type ProxyDeps = Pick<McpDeps, "table" | "mcp" | "audit" | "authThrottle" | "clientAddress" | "holdOpen" | "log" | "oauth" | "requestLog" | "flights" | "sealedKv">;

export class McpProxy {
  constructor(private readonly d: ProxyDeps) {}

  private unauthorized(name: string, error: "invalid_token" | null, description: string): GatewayError {
    const t = this.d.table();
    const params = [`resource_metadata="${metadataUrlFor(t, name)}"`, `scope="mcp"`];
    if (error) params.push(`error="${error}"`, `error_description="${description}"`);
    return new GatewayError(error ?? "unauthorized", description, 401, { headers: { "www-authenticate": `Bearer ${params.join(", ")}` } });
  }

  async handle(request: Request, name: string): Promise<Response> {
    const t = this.d.table();
    const upstream = t.mcpUpstreams.get(name);
    if (!upstream) throw new GatewayError("not_found", `No MCP server named "${name}"`, 404);
    if (!["POST", "GET", "DELETE"].includes(request.method)) throw new GatewayError("method_not_allowed", "MCP uses POST, GET and DELETE", 405, { headers: { allow: "POST, GET, DELETE" } });
    const origin = request.headers.get("origin");
    if (origin && origin !== t.publicUrl.origin) throw new GatewayError("forbidden_origin", "Origin not allowed (DNS-rebinding protection)", 403);
    const raw = bearerOf(request);
    if (!raw) throw this.unauthorized(name, null, "A gateway access token is required");
    const token = await this.d.authThrottle.guard(this.d.clientAddress(request), "mcp", pathOf(request.url), true, async () => {
      const found = await verifyAccessToken(this.d, raw);
      if (!found) throw this.unauthorized(name, "invalid_token", "The access token is invalid, expired or revoked");
      if (found.resource !== normalizeResource(resourceFor(t, name))) throw this.unauthorized(name, "invalid_token", "The access token was issued for another resource");
      return found;
    });
    if (!token.scope.split(" ").includes("mcp"))
      throw new GatewayError("insufficient_scope", "The token lacks scope mcp", 403, { headers: { "www-authenticate": `Bearer error="insufficient_scope", scope="mcp", resource_metadata="${metadataUrlFor(t, name)}"` } });

    const started = performance.now();
    let text: string | null = null;
    let messages: RpcMessage[] = [];
    if (request.method === "POST") {
      text = await request.text();
      let body: RpcMessage | RpcMessage[] | null = null;
      try {
        body = JSON.parse(text) as RpcMessage | RpcMessage[] | null;
      } catch {
        body = null;
      }
      messages = (Array.isArray(body) ? body : [body]).filter((m): m is RpcMessage => typeof m === "object" && m !== null);
      const refused = this.check(upstream, request, body, messages);
      if (refused) return refused;
    }
    const rpc = messages.map((m) => m.method).filter(Boolean).join(",");
    const tool = messages.find((m) => m.method === "tools/call")?.params?.name;
    const listIds = new Set(messages.filter((m) => m.method === "tools/list" && m.id !== undefined).map((m) => String(m.id)));

    const filtering = hasToolFilter(upstream) && listIds.size > 0;
    const connection = await upstreamConnection(this.d, upstream).catch((e: unknown) => {
      if (isDependencyDown(e)) throw e; // the gateway's own store or shared state, not the upstream's authorization server
      throw this.unauthorized(name, "invalid_token", "The upstream's authorization server is unavailable; try again later");
    });
    const send = async (force: boolean) => {
      // a body the gateway must read and rewrite is asked for uncompressed
      const headers: Record<string, string> = filtering ? { "accept-encoding": "identity" } : {};
      if (connection) headers.authorization = `Bearer ${await this.upstreamToken(request, connection, upstream, name, token.username, force)}`;
      return forward(request, upstream.url, { timeoutMs: upstream.timeoutMs, allowPrivate: upstream.allowPrivate, signal: request.signal, headers, ...(text !== null ? { body: text } : {}) });
    };
    let res = await send(false);
    if (res.status === 401 && connection) res = await send(true); // the upstream revoked or expired it early
    if (res.status === 401) {
      this.lost(upstream, token.username, "upstream_401");
      throw this.unauthorized(name, "invalid_token", "The upstream grant is no longer valid; sign in again");
    }
    res.headers.delete("www-authenticate");
    if (filtering) res = this.filtered(upstream, res, listIds);
    this.d.holdOpen(request, res);
    this.d.requestLog.write({
      at: Date.now(),
      project: "mcp",
      endpoint: upstream.name,
      tokenId: token.clientId,
      method: request.method,
      path: [rpc || "-", typeof tool === "string" ? tool : ""].filter(Boolean).join(" "),
      status: res.status,
      ms: Math.round(performance.now() - started),
      bytes: null,
      provider: request.headers.get("mcp-protocol-version"),
      error: null,
    });
    return res;
  }

  /** Header/body agreement (2026-07-28 request metadata headers, headers.ts) and the tool policy; a Response when refused. */
  private check(upstream: McpUpstreamRoute, request: Request, body: RpcMessage | RpcMessage[] | null, messages: RpcMessage[]): Response | null {
    const mismatch = checkRequestHeaders(request.headers, body);
    if (mismatch) return rpcError(Array.isArray(body) ? null : body?.id, mismatch.code, mismatch.message, 400);
    for (const m of messages) {
      if (m.method !== "tools/call") continue;
      const tool = typeof m.params?.name === "string" ? m.params.name : "";
      if (!toolAllowed(upstream, tool)) return rpcError(m.id, -32602, `Tool "${tool}" is not available through this gateway`);
    }
    return null;
  }

  private async upstreamToken(request: Request, connection: string, upstream: McpUpstreamRoute, route: string, user: string, force: boolean): Promise<string> {
    try {
      return await this.d.oauth.accessToken(connection, upstreamGrantKey(user, upstream.name), { force });
    } catch (e) {
      // a store or shared state that is away is no lost grant: the client is told to try again (503), not to sign in again
      if (isDependencyDown(e)) throw e;
      // the client sees a 401 (sign in again); a lost or expired grant is the user's to renew (audited below),
      // anything else (unseal_failed, a bug) is the gateway's failure and is logged as such
      if (!(e instanceof GatewayError && e.code === "oauth_connection_failed")) reportFailure(this.d.log, e, request);
      await this.lost(upstream, user, e instanceof GatewayError ? e.code : "error");
      throw this.unauthorized(route, "invalid_token", "The upstream grant is gone (revoked or expired); sign in again");
    }
  }

  private async lost(upstream: McpUpstreamRoute, user: string, reason: string): Promise<void> {
    await this.d.audit.append({ kind: "mcp.upstream_grant_lost", actor: user, subject: upstream.name, detail: { reason } });
  }

  private filtered(upstream: McpUpstreamRoute, res: Response, listIds: Set<string>): Response {
    const type = res.headers.get("content-type") ?? "";
    const headers = new Headers(res.headers);
    headers.delete("content-length");
    if (type.startsWith("text/event-stream") && res.body) return new Response(filterSse(upstream, res.body, listIds), { status: res.status, headers });
    if (type.includes("json") && res.body) {
      const body = res.text().then((t) => filterJson(upstream, t, listIds));
      return new Response(
        new ReadableStream({
          async start(c) {
            c.enqueue(new TextEncoder().encode(await body));
            c.close();
          },
        }),
        { status: res.status, headers },
      );
    }
    return res;
  }
}
