/**
 * What every request goes through, whichever way it is dispatched (the Elysia app, or the fast path
 * for proxy traffic): a request id, the header and body limits, metrics and the access log at the
 * end, and the mapping of any error to `{"error": code, "message": …}`.
 */
import { GatewayError, Errors, isDependencyDown } from "../core/errors.ts";
import { pathOf } from "../core/url.ts";
import type { Logger } from "../core/log.ts";
import type { Registry } from "../metrics/registry.ts";
import type { LoggingConfig, ServerConfig } from "./model.ts";

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;
/** Bun.serve's own ceiling on a request head (its --max-http-header-size default). */
const BUN_MAX_HEADER_BYTES = 16 * 1024;

/** Never served: CONNECT (hubgate is no forward proxy) and TRACE (it would echo credentials back, RFC 9110 §9.3.8). */
const REFUSED_METHODS = new Set(["CONNECT", "TRACE"]);
export const SERVED_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];


/** Each request's id, once chosen (Pipeline.requestId), so that code far from the pipeline can name it in a log line. */
const ids = new WeakMap<Request, string>();

/** The id chosen for this request, or null for a request the pipeline has not seen (e.g. an in-process tool call). */
export function requestIdOf(request: Request): string | null {
  return ids.get(request) ?? null;
}

/**
 * The gateway's own failures — an unexpected exception, or a GatewayError with a 5xx status
 * (unseal_failed, internal_error, an upstream that failed) — are logged at error level with the request
 * id and the code, not only as the access line's status: the one place for that rule. Whoever turns a
 * failure into a response calls it: Pipeline.errorResponse (both the app and the fast path), and the few
 * handlers that render a failure themselves (HTML pages, OAuth JSON, MCP tool results). 4xx are the
 * client's and are not logged here. Never logs a value: the message of a GatewayError is written for the
 * client, and everything goes through the log's redaction. "request failed" for a 5xx, "unhandled error"
 * for an exception (a bug: the resilience tests assert there is none). A store that is down
 * (`store_unavailable`) is the exception to the exception: its driver logs the fault once per interval
 * (core/faultlog.ts), so a store down under load writes a few lines, not one per request.
 */
export function reportFailure(log: Logger, error: unknown, request: Request, requestId = requestIdOf(request)): void {
  const where = { request_id: requestId, method: request.method, path: pathOf(request.url) };
  if (error instanceof GatewayError) {
    // a dependency that is down (store, shared state) is logged by its own fault log, once per interval, not per request
    if (error.status >= 500 && !isDependencyDown(error)) log.error("request failed", { ...where, code: error.code, status: error.status, message: error.message });
  } else log.error("unhandled error", { ...where, code: "internal_error", status: 500, err: error });
}

function headerBytes(h: Headers): number {
  let n = 0;
  h.forEach((v, k) => (n += k.length + v.length + 4));
  return n;
}

/** What the pipeline needs, handed over by the composition root. */
export interface PipelineDeps {
  /** the config in force (the limits and the access-log switch), read per request: a reload swaps it */
  config: () => { server: Pick<ServerConfig, "max_header_bytes" | "max_body_bytes">; logging: Pick<LoggingConfig, "access_log"> };
  metrics: Pick<Registry, "counter" | "histogram">;
  log: Logger;
}

export class Pipeline {
  private readonly requests;
  private readonly duration;
  constructor(private readonly d: PipelineDeps) {
    this.requests = d.metrics.counter("hubgate_http_requests_total", "HTTP requests by method, route template and status");
    this.duration = d.metrics.histogram("hubgate_http_request_duration_seconds", "Request duration by route template");
  }

  requestId(request: Request): string {
    const known = ids.get(request);
    if (known) return known;
    const incoming = request.headers.get("x-request-id");
    const id = incoming && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    ids.set(request, id);
    return id;
  }

  /**
   * Throws 405 for methods hubgate never serves, 400 for a request target that is not a path (CONNECT's
   * authority form reaches here as a bare "host:port"), 431 / 413 over the limits. Bun itself refuses
   * request heads over 16 KiB, so the headers are only measured (a walk over every header, the costliest
   * step of a proxied request) when a lower limit is configured.
   */
  checkRequest(request: Request): void {
    if (REFUSED_METHODS.has(request.method)) throw Errors.methodNotAllowed(SERVED_METHODS);
    if (!request.url.startsWith("http://") && !request.url.startsWith("https://"))
      throw new GatewayError("invalid_request_target", "The request target must be a path (origin form) or an absolute http(s) URL", 400);
    const limits = this.d.config().server;
    if (limits.max_header_bytes < BUN_MAX_HEADER_BYTES && headerBytes(request.headers) > limits.max_header_bytes) throw Errors.headersTooLarge(limits.max_header_bytes);
    const len = Number(request.headers.get("content-length") ?? 0);
    if (len > limits.max_body_bytes) throw Errors.payloadTooLarge(limits.max_body_bytes);
  }

  /** Any error as the one JSON error shape (an unexpected one becomes a 500); the gateway's own failures are logged (reportFailure). */
  errorResponse(error: unknown, requestId: string, request: Request): Response {
    reportFailure(this.d.log, error, request, requestId);
    return (error instanceof GatewayError ? error : Errors.internal()).toResponse(requestId);
  }

  finish(request: Request, template: string, status: number, startedAt: number, requestId: string): void {
    const seconds = (performance.now() - startedAt) / 1000;
    this.requests.inc({ method: request.method, route: template, status: String(status) });
    this.duration.observe({ route: template }, seconds);
    if (this.d.config().logging.access_log)
      this.d.log.info("request", { request_id: requestId, method: request.method, route: template, path: pathOf(request.url), status, ms: Math.round(seconds * 1000) });
  }
}
