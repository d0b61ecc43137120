/**
 * ANY /api/<project>/proxy/<slug>/<path...>: the endpoint is looked up in the route table taken at the
 * start of the request; method, client token, rate limit and SSRF guard are checked; the request is
 * forwarded (client credentials stripped, static and OAuth headers injected) and the upstream response
 * streamed back.
 */
import { Elysia } from "elysia";
import { Errors, GatewayError } from "../core/errors.ts";
import { endpointKey } from "../endpoints/model.ts";
import { forward } from "../proxy/forward.ts";
import { joinUpstream } from "../proxy/path.ts";
import type { EndpointRoute } from "./compile.ts";
import type { Registry } from "../metrics/registry.ts";
import type { RequestLogger } from "../server/requestlog.ts";
import type { TokenVerifier } from "../tokens/verify.ts";
import type { RateCounter } from "../state/types.ts";
import type { Logger } from "../core/log.ts";
import { reportFailure } from "../server/pipeline.ts";

/** /api/<project>/proxy/<slug>[/<rest>] (the fast path routes by it too) */
export const ENDPOINT_PATH = /^\/api\/([^/]+)\/proxy\/([^/]+)(\/.*)?$/;

/** What the endpoint proxy needs, handed over by the composition root. */
export interface EndpointDeps {
  /** the route table in force; each request takes one snapshot */
  table: () => { endpoints: ReadonlyMap<string, EndpointRoute> };
  metrics: Pick<Registry, "counter">;
  requestLog: Pick<RequestLogger, "track" | "write">;
  tokens: Pick<TokenVerifier, "verifyThrottled">;
  rateCounter: RateCounter;
  /** an OAuth connection's access token, refreshed first when it is about to expire */
  accessToken: (connection: string) => Promise<string>;
  /** keep an event stream's connection open past the idle timeout */
  holdOpen: (request: Request, response: Response) => void;
  clientAddress: (request: Request) => string;
  log: Logger;
}

/** The endpoint proxy as a plain request handler (the plugin below routes to it; so can a fast path). */
export function createEndpointHandler(d: EndpointDeps): (request: Request) => Promise<Response> {
  const proxied = d.metrics.counter("hubgate_endpoint_requests_total", "Proxied endpoint requests by project, endpoint and outcome");
  const requestLog = d.requestLog;

  async function handle(request: Request): Promise<Response> {
    const table = d.table(); // this request's snapshot, even if a reload swaps the table meanwhile
    const url = new URL(request.url);
    const m = ENDPOINT_PATH.exec(url.pathname);
    if (!m) throw Errors.notFound();
    const [, project, slug, rest = ""] = m;
    const route = table.endpoints.get(endpointKey(project!, slug!));
    if (!route) throw Errors.notFound(`No endpoint ${slug} in project ${project}`, "endpoint_not_found");
    const started = performance.now();
    let tokenId: string | null = null;
    const entry = () => ({ at: Date.now(), project: route.project, endpoint: route.slug, tokenId, method: request.method, path: rest || "/", provider: route.oauthConnection ?? null, error: null });
    try {
      if (!route.allowedMethods.includes(request.method)) throw Errors.methodNotAllowed([...route.allowedMethods]);
      const token = route.authMode === "token" ? await d.tokens.verifyThrottled(request, { project: route.project, scope: "proxy" }) : null;
      tokenId = token?.id ?? null;
      // the client's address is looked up only for a rate-limited endpoint without a token (requestIP cost 2 % of a proxied request)
      const limit = route.rateLimitPerMinute;
      const limitHeaders = limit === undefined ? null : await rateLimit(route, limit, token?.id ?? clientKey(request));
      const inject: Record<string, string> = { ...route.headers };
      if (route.oauthConnection !== undefined) inject.authorization = `Bearer ${await upstreamToken(route)}`;
      const target = joinUpstream(route.upstream, rest, url.search);
      const res = await forward(request, target, { timeoutMs: route.timeoutMs, headers: inject, allowPrivate: route.allowPrivate, signal: request.signal });
      d.holdOpen(request, res);
      if (limitHeaders) for (const [k, v] of Object.entries(limitHeaders)) res.headers.set(k, v);
      const out = await requestLog.track(res, entry(), started); // awaited: a body that breaks off is logged by the catch below
      proxied.inc({ project: route.project, endpoint: route.slug, outcome: String(res.status) });
      return out;
    } catch (e) {
      const code = e instanceof GatewayError ? e.code : "error";
      proxied.inc({ project: route.project, endpoint: route.slug, outcome: code });
      requestLog.write({ ...entry(), status: e instanceof GatewayError ? e.status : 500, ms: Math.round(performance.now() - started), bytes: null, error: code });
      if (e instanceof GatewayError && e.code === "ssrf_refused") d.log.warn("SSRF guard refused an upstream", { project: route.project, endpoint: route.slug, reason: e.message });
      throw e;
    }
  }

  async function rateLimit(route: EndpointRoute, limit: number, who: string): Promise<Record<string, string>> {
    const r = await d.rateCounter.hit(`endpoint:${route.project}/${route.slug}:${who}`, limit, 60_000);
    const headers = {
      "x-ratelimit-limit": String(limit),
      "x-ratelimit-remaining": String(r.remaining),
      "x-ratelimit-reset": String(Math.ceil(r.resetAt / 1000)),
    };
    if (!r.allowed)
      throw Errors.tooManyRequests(`Rate limit of ${limit} requests per minute exceeded`, {
        ...headers,
        "retry-after": String(Math.max(1, Math.ceil((r.resetAt - Date.now()) / 1000))),
      });
    return headers;
  }

  /** The connection's access token, refreshed first when it is about to expire. */
  function upstreamToken(route: EndpointRoute): Promise<string> {
    return d.accessToken(route.oauthConnection!);
  }

  function clientKey(request: Request): string {
    return d.clientAddress(request);
  }

  return handle;
}

/** What the endpoints' routes need besides the proxy handler. */
export interface EndpointsPluginDeps {
  /** the project's own MCP server answering `request`; its tool calls go through `proxy` */
  projectMcp: (request: Request, project: string, proxy: (request: Request) => Promise<Response>) => Promise<Response>;
  log: Logger;
}

export function endpointsPlugin(d: EndpointsPluginDeps, handle: (request: Request) => Promise<Response>) {
  /** Tool calls of the project MCP server take the same path as any client request, errors included (reported under the MCP request's id). */
  const proxyForTools = (mcpRequest: Request) => (request: Request) =>
    handle(request).catch((e: unknown) => {
      reportFailure(d.log, e, mcpRequest);
      return e instanceof GatewayError ? e.toResponse() : Promise.reject(e);
    });

  return new Elysia({ name: "hubgate-endpoints" })
    .all("/mcp/project/:project", ({ request, params }) => d.projectMcp(request, params.project, proxyForTools(request)), {
      parse: "none",
      detail: { tags: ["endpoints", "mcp"], summary: "The project's own MCP server: its endpoints' declared operations as tools" },
    })
    .all("/api/:project/proxy/:slug", ({ request }) => handle(request), { parse: "none", detail: { tags: ["endpoints"], summary: "Proxy to a declared endpoint" } })
    .all("/api/:project/proxy/:slug/*", ({ request }) => handle(request), { parse: "none", detail: { tags: ["endpoints"], summary: "Proxy to a declared endpoint (with a path)" } });
}
