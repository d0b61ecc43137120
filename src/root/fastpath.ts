/**
 * Proxy traffic skips the Elysia router: endpoint calls (/api/<project>/proxy/<slug>/…) and GitHub
 * pool requests (any path whose first segment is not one of the gateway's own routes) go straight to
 * their handlers, through the same Pipeline (request id, limits, metrics, access log, error shape).
 * Measured: about +40 % requests/s on the pass-through path (see the README's Performance section).
 */
import type { Gateway } from "./gateway.ts";
import { Pipeline } from "../server/pipeline.ts";
import { pathOf } from "../core/url.ts";
import { ENDPOINT_PATH } from "../endpoints/plugin.ts";

export interface FastHandlers {
  endpoints: (request: Request) => Promise<Response>;
  github: ((request: Request) => Promise<Response>) | null;
}


export function createFastPath(gw: Gateway, pipeline: Pipeline, handlers: FastHandlers, ownRoutePaths: readonly string[]) {
  // first path segments the app itself serves (the GitHub catch-all "/*" excluded)
  const own = new Set(ownRoutePaths.filter((p) => p !== "/*" && p !== "/").map((p) => p.split("/")[1] ?? ""));
  const ghesPrefix = /^\/api\/(v3\/|graphql$)/;

  const route = (path: string): { template: string; handler: (r: Request) => Promise<Response> } | null => {
    if (ENDPOINT_PATH.test(path)) return { template: "/api/:project/proxy/:slug/*", handler: handlers.endpoints };
    if (!handlers.github || !gw.routes.current().github.enabled) return null;
    if (ghesPrefix.test(path)) return { template: path.startsWith("/api/graphql") ? "/api/graphql" : "/api/v3/*", handler: handlers.github };
    const first = path.split("/")[1] ?? "";
    if (first === "" || own.has(first)) return null;
    return { template: "/*", handler: handlers.github };
  };

  /** A Response promise when the fast path takes the request, else null (the app handles it). */
  return (request: Request): Promise<Response> | null => {
    const r = route(pathOf(request.url));
    if (!r) return null;
    const t0 = performance.now();
    const rid = pipeline.requestId(request);
    const run = async (): Promise<Response> => {
      let res: Response;
      try {
        pipeline.checkRequest(request);
        res = await r.handler(request);
        res.headers.set("x-request-id", rid);
      } catch (e) {
        res = pipeline.errorResponse(e, rid, request);
      }
      pipeline.finish(request, r.template, res.status, t0, rid);
      return res;
    };
    return run();
  };
}
