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
import { endpointsPlugin } from "../endpoints/plugin.ts";
import { githubPlugin } from "../github/plugin.ts";
import { oauthPlugin } from "../oauth/plugin.ts";
import { mcpPlugin } from "../mcp/plugin.ts";
import { oauthAdminPlugin } from "../oauth/admin.ts";
import { tokensAdminPlugin } from "../tokens/admin.ts";
import { logsAdminPlugin } from "../endpoints/admin.ts";
import { VERSION } from "../version.ts";

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;
const started = new WeakMap<Request, number>();

function headerBytes(h: Headers): number {
  let n = 0;
  h.forEach((v, k) => (n += k.length + v.length + 4));
  return n;
}

export function createApp(gw: Gateway) {
  const requests = gw.metrics.counter("hubgate_http_requests_total", "HTTP requests by method, route template and status");
  const duration = gw.metrics.histogram("hubgate_http_request_duration_seconds", "Request duration by route template");

  return new Elysia({ name: "hubgate" })
    .error({ GatewayError })
    .onRequest(({ request, set }) => {
      started.set(request, performance.now());
      const incoming = request.headers.get("x-request-id");
      set.headers["x-request-id"] = incoming && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
      const limits = gw.config.server;
      if (headerBytes(request.headers) > limits.max_header_bytes) throw Errors.headersTooLarge(limits.max_header_bytes);
      const len = Number(request.headers.get("content-length") ?? 0);
      if (len > limits.max_body_bytes) throw Errors.payloadTooLarge(limits.max_body_bytes);
    })
    .onError(({ error, code, set, request }) => {
      const rid = String(set.headers["x-request-id"] ?? "");
      let ge: GatewayError;
      if (error instanceof GatewayError) ge = error;
      else if (code === "NOT_FOUND") ge = Errors.notFound();
      else if (code === "VALIDATION") ge = new GatewayError("invalid_request", validationSummary(error), 400);
      else if (code === "PARSE") ge = new GatewayError("invalid_body", "The request body could not be parsed", 400);
      else {
        gw.log.error("unhandled error", { request_id: rid, method: request.method, err: error });
        ge = Errors.internal();
      }
      set.status = ge.status;
      return ge.toResponse(rid);
    })
    .onAfterResponse(({ request, route, set, responseValue }) => {
      const t0 = started.get(request);
      const seconds = t0 === undefined ? 0 : (performance.now() - t0) / 1000;
      const status = responseValue instanceof Response ? responseValue.status : Number(set.status ?? 200);
      const template = route || "unmatched";
      requests.inc({ method: request.method, route: template, status: String(status) });
      duration.observe({ route: template }, seconds);
      if (gw.config.logging.access_log)
        gw.log.info("request", {
          request_id: set.headers["x-request-id"],
          method: request.method,
          route: template,
          path: new URL(request.url).pathname,
          status,
          ms: Math.round(seconds * 1000),
        });
    })
    .use(docsPlugin({ title: "hubgate", version: VERSION, description: "hubgate's own HTTP surface" }))
    .use(opsPlugin(gw))
    .use(adminPlugin(gw))
    .use(tokensAdminPlugin(gw))
    .use(oauthAdminPlugin(gw))
    .use(logsAdminPlugin(gw))
    .use(mcpPlugin(gw))
    .use(oauthPlugin(gw))
    .use(endpointsPlugin(gw))
    .use(githubPlugin(gw));
}

function validationSummary(error: unknown): string {
  const e = error as { valueError?: { path?: string; message?: string } };
  const ve = e.valueError;
  return ve ? `invalid request: ${ve.path || "(body)"} ${ve.message ?? ""}`.trim() : "invalid request";
}

export type App = ReturnType<typeof createApp>;
