/**
 * The Elysia application: request ids, limits, error mapping, access log and metrics for every
 * request, then each feature's plugin. `createApp(gw).handle(request)` serves in-process (tests);
 * serve.ts binds it to a socket.
 */
import { Elysia } from "elysia";
import { GatewayError, Errors } from "../core/errors.ts";
import type { Gateway } from "./gateway.ts";
import { opsPlugin, type OpsDeps } from "../ops/plugin.ts";
import { adminPlugin, type AdminAuth } from "../admin/plugin.ts";
import { docsPlugin } from "../docs/plugin.ts";
import { createEndpointHandler, endpointsPlugin } from "../endpoints/plugin.ts";
import { projectMcp } from "../endpoints/mcp.ts";
import { ownsUpstreamState } from "../mcp/authorize.ts";
import { GithubService } from "../github/service.ts";
import { Pipeline, SERVED_METHODS } from "../server/pipeline.ts";
import { githubPlugin } from "../github/plugin.ts";
import { oauthPlugin } from "../oauth/plugin.ts";
import { mcpPlugin } from "../mcp/plugin.ts";
import { oauthAdminPlugin } from "../oauth/admin.ts";
import { tokensAdminPlugin } from "../tokens/admin.ts";
import { logsAdminPlugin } from "../endpoints/admin.ts";
import { VERSION } from "../version.ts";
import type { OwnRoutes } from "../docs/generate.ts";
import { toOpenAPISchema } from "@elysiajs/openapi";
import type { AnyElysia } from "elysia";

const started = new WeakMap<Request, number>();

/** The request handlers the app and the fast path share (one instance each). */
export interface Services {
  pipeline: Pipeline;
  endpoints: (request: Request) => Promise<Response>;
  github: GithubService;
}

export function createServices(gw: Gateway): Services {
  const endpoints = createEndpointHandler({
    table: () => gw.routes.current(),
    metrics: gw.metrics,
    requestLog: gw.requestLog,
    tokens: gw.tokens,
    rateCounter: gw.state.rateCounter,
    accessToken: (connection) => gw.oauth.accessToken(connection),
    holdOpen: (request, response) => gw.holdOpen(request, response),
    clientAddress: (request) => gw.clientAddress(request),
    log: gw.log,
  });
  const pipeline = new Pipeline({ config: () => gw.routes.current().config, metrics: gw.metrics, log: gw.log });
  const github = new GithubService({
    table: () => gw.routes.current(),
    metrics: gw.metrics,
    tokens: gw.tokens,
    cache: gw.state.cache,
    flights: gw.state.flights,
    bus: gw.state.bus,
    shared: gw.state.backend !== "memory",
    log: gw.log,
    onStartup: (task) => gw.startupTasks.push(task),
    onReload: (hook) => gw.reloadHooks.push(hook),
  });
  return { pipeline, endpoints, github };
}

/** What /healthz, /readyz, /stats and /metrics read (serve.ts gives a worker's supervisor the same figures). */
export function opsDeps(gw: Gateway): OpsDeps {
  return {
    table: () => gw.routes.current(),
    startedAt: gw.startedAt,
    draining: () => gw.draining,
    reloadStatus: () => gw.reloads,
    stats: gw.statsProviders,
    metrics: gw.metrics,
    cluster: () => gw.cluster,
    ping: () => gw.store.ping(),
  };
}

/** The catch-all routes of the GitHub pool: every other route is the gateway's own. */
const GITHUB_ROUTES = new Set(["/*", "/api/v3/*", "/api/graphql"]);

/** Methods by own route pattern, matched as Elysia does (":name" one segment, "*" the rest). */
function ownMethodsOf(routes: readonly { method: string; path: string }[]): (path: string) => readonly string[] | null {
  const table = new Map<string, { re: RegExp; methods: Set<string> }>();
  for (const r of routes) {
    if (GITHUB_ROUTES.has(r.path)) continue;
    let t = table.get(r.path);
    if (!t) {
      const re = new RegExp(`^${r.path.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/:[^/]+/g, "[^/]+").replace(/\*$/, ".*")}/?$`);
      table.set(r.path, (t = { re, methods: new Set() }));
    }
    if (r.method === "ALL") SERVED_METHODS.forEach((m) => t.methods.add(m));
    else t.methods.add(r.method);
  }
  return (path) => {
    const methods = new Set<string>();
    for (const t of table.values()) if (t.re.test(path)) t.methods.forEach((m) => methods.add(m));
    if (methods.has("GET")) methods.add("HEAD");
    return methods.size ? [...methods] : null;
  };
}

export function createApp(gw: Gateway, services: Services = createServices(gw)) {
  const { pipeline } = services;
  // the own routes are known once every plugin is in; the matcher is built on the first stray request
  const own: { routes: readonly AppRoute[]; methods?: (path: string) => readonly string[] | null; documented?: OwnRoutes; app?: AnyElysia } = { routes: [] };
  // one guard for every admin surface
  const auth: AdminAuth = { table: () => gw.routes.current(), throttle: gw.authThrottle, tokens: gw.tokens, clientAddress: (request) => gw.clientAddress(request) };
  const app = new Elysia({ name: "hubgate" })
    .error({ GatewayError })
    .onRequest(({ request, set }) => {
      started.set(request, performance.now());
      set.headers["x-request-id"] = pipeline.requestId(request);
      pipeline.checkRequest(request);
    })
    .onError(({ error, code, set, request }) => {
      const rid = String(set.headers["x-request-id"] ?? "");
      let e: unknown = error;
      if (code === "NOT_FOUND") e = Errors.notFound();
      else if (code === "VALIDATION") e = new GatewayError("invalid_request", validationSummary(error), 400);
      else if (code === "PARSE") e = new GatewayError("invalid_body", "The request body could not be parsed", 400);
      const res = pipeline.errorResponse(e, rid, request);
      set.status = res.status;
      return res;
    })
    .onAfterResponse(({ request, route, set, responseValue }) => {
      const status = responseValue instanceof Response ? responseValue.status : Number(set.status ?? 200);
      pipeline.finish(request, route || "unmatched", status, started.get(request) ?? performance.now(), String(set.headers["x-request-id"] ?? ""));
    })
    .use(docsPlugin(() => gw.routes.current(), { title: "hubgate", version: VERSION }, () => (own.documented ??= documentedRoutes(own.app!))))
    .use(opsPlugin(opsDeps(gw)))
    .use(adminPlugin({ auth, reload: () => gw.reload(), reloadStatus: () => gw.reloads, table: () => gw.routes.current(), audit: gw.store.audit }))
    .use(tokensAdminPlugin({ auth, tokens: { routes: gw.routes, store: { apiTokens: gw.store.apiTokens, audit: gw.store.audit } }, apiTokens: gw.store.apiTokens }))
    .use(oauthAdminPlugin({ auth, oauth: gw.oauth }))
    .use(logsAdminPlugin({ auth, requestLog: gw.requestLog, holdOpen: (request, response) => gw.holdOpen(request, response) }))
    .use(
      mcpPlugin({
        table: () => gw.routes.current(),
        mcp: gw.store.mcp,
        audit: gw.store.audit,
        sealedKv: gw.store.sealedKv,
        oauth: gw.oauth,
        authThrottle: gw.authThrottle,
        rateCounter: gw.state.rateCounter,
        flights: gw.state.flights,
        requestLog: gw.requestLog,
        holdOpen: (request, response) => gw.holdOpen(request, response),
        clientAddress: (request) => gw.clientAddress(request),
        log: gw.log,
      }),
    )
    .use(oauthPlugin({ oauth: gw.oauth, ownsUpstreamState: (state) => ownsUpstreamState(gw.store.mcp, state), log: gw.log }))
    .use(endpointsPlugin({ projectMcp: (request, project, proxy) => projectMcp({ table: () => gw.routes.current(), tokens: gw.tokens }, request, project, proxy), log: gw.log }, services.endpoints))
    .use(githubPlugin(gw.statsProviders, services.github, (path) => (own.methods ??= ownMethodsOf(own.routes))(path)));
  own.routes = app.routes;
  own.app = app;
  return app;
}

type AppRoute = { method: string; path: string };

/**
 * The own routes the docs list as they are, described by @elysiajs/openapi from the app itself: hidden
 * routes (the docs) are left out, and so are the routes that take every method (endpoints, GitHub pool,
 * MCP servers), which the docs describe per config.
 */
function documentedRoutes(app: AnyElysia): OwnRoutes {
  const { paths, components } = toOpenAPISchema(app, { methods: ["ALL"] });
  return { paths: paths as OwnRoutes["paths"], components: components as OwnRoutes["components"] };
}

function validationSummary(error: unknown): string {
  const e = error as { valueError?: { path?: string; message?: string } };
  const ve = e.valueError;
  return ve ? `invalid request: ${ve.path || "(body)"} ${ve.message ?? ""}`.trim() : "invalid request";
}

export type App = ReturnType<typeof createApp>;
