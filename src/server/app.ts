/**
 * The Elysia application: request ids, limits, error mapping, access log and metrics for every
 * request, then each feature's plugin. `createApp(gw).handle(request)` serves in-process (tests);
 * serve.ts binds it to a socket.
 */
import { Elysia } from "elysia";
import { GatewayError, Errors } from "../core/errors.ts";
import type { Gateway } from "./gateway.ts";
import { opsPlugin } from "../ops/plugin.ts";
import { adminPlugin } from "../admin/plugin.ts";
import { docsPlugin } from "../docs/plugin.ts";
import { createEndpointHandler, endpointsPlugin } from "../endpoints/plugin.ts";
import { GithubService } from "../github/service.ts";
import { Pipeline } from "./pipeline.ts";
import { githubPlugin } from "../github/plugin.ts";
import { oauthPlugin } from "../oauth/plugin.ts";
import { mcpPlugin } from "../mcp/plugin.ts";
import { oauthAdminPlugin } from "../oauth/admin.ts";
import { tokensAdminPlugin } from "../tokens/admin.ts";
import { logsAdminPlugin } from "../endpoints/admin.ts";
import { VERSION } from "../version.ts";

const started = new WeakMap<Request, number>();

/** The request handlers the app and the fast path share (one instance each). */
export interface Services {
  pipeline: Pipeline;
  endpoints: (request: Request) => Promise<Response>;
  github: GithubService;
}

export function createServices(gw: Gateway): Services {
  return { pipeline: new Pipeline(gw), endpoints: createEndpointHandler(gw), github: new GithubService(gw) };
}

export function createApp(gw: Gateway, services: Services = createServices(gw)) {
  const { pipeline } = services;
  return new Elysia({ name: "hubgate" })
    .error({ GatewayError })
    .onRequest(({ request, set }) => {
      started.set(request, performance.now());
      set.headers["x-request-id"] = pipeline.requestId(request);
      pipeline.checkLimits(request);
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
    .use(docsPlugin({ title: "hubgate", version: VERSION, description: "hubgate's own HTTP surface" }))
    .use(opsPlugin(gw))
    .use(adminPlugin(gw))
    .use(tokensAdminPlugin(gw))
    .use(oauthAdminPlugin(gw))
    .use(logsAdminPlugin(gw))
    .use(mcpPlugin(gw))
    .use(oauthPlugin(gw))
    .use(endpointsPlugin(gw, services.endpoints))
    .use(githubPlugin(gw, services.github));
}

function validationSummary(error: unknown): string {
  const e = error as { valueError?: { path?: string; message?: string } };
  const ve = e.valueError;
  return ve ? `invalid request: ${ve.path || "(body)"} ${ve.message ?? ""}`.trim() : "invalid request";
}

export type App = ReturnType<typeof createApp>;
