/**
 * The one error type of hubgate. Every failure a client can see is a GatewayError with a stable,
 * machine-readable `code`; the HTTP layer maps it to `{"error": code, "message": ...}` with `status`.
 * Messages are written for the caller and must never contain a secret value.
 */
/**
 * Every error code a client can see, declared here and nowhere else: GatewayError takes only these, so a
 * code cannot be misspelled, and a new one is added to this list (and so to what the docs can list).
 */
export const ERROR_CODES = [
  "access_denied", "admin_disabled", "auth_throttled", "client_closed", "connection_not_found",
  "endpoint_not_found", "exchange_failed", "forbidden", "forbidden_origin", "github_app_token_failed",
  "github_token_required", "insufficient_scope", "internal_error", "invalid_address", "invalid_app_key",
  "invalid_body", "invalid_link", "invalid_name", "invalid_params", "invalid_path", "invalid_request",
  "invalid_request_target", "invalid_scope", "invalid_state", "invalid_token", "method_not_allowed",
  "not_found", "oauth_connection_failed", "owner_not_allowed", "payload_too_large", "project_not_found",
  "rate_limited", "request_header_fields_too_large", "secret_unresolved", "ssrf_refused", "state_unavailable", "store_too_new",
  "store_unavailable",
  "token_not_found", "unauthorized", "unseal_failed", "upstream_busy", "upstream_timeout",
  "upstream_too_large", "upstream_unreachable", "wrong_project",
  // RFC 6749 §5.2 / RFC 7591 §3.2.2 / RFC 8707 codes of the MCP authorization server (invalid_request,
  // invalid_scope and access_denied above serve both)
  "invalid_client", "invalid_client_metadata", "invalid_grant", "invalid_redirect_uri", "invalid_target",
  "unsupported_grant_type",
  // start-up and operator errors (serve and the management commands): the process refuses, nothing is served
  "address_in_use", "listen_failed", "store_locked", "store_not_found", "store_not_empty", "app_key_not_found",
  "app_key_mismatch",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class GatewayError extends Error {
  override readonly name = "GatewayError";
  readonly code: ErrorCode;
  readonly status: number;
  readonly headers: Record<string, string>;
  /** extra JSON fields merged into the response body (e.g. OAuth's error_description) */
  readonly extra: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    status = 400,
    opts: { headers?: Record<string, string>; extra?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.status = status;
    this.headers = opts.headers ?? {};
    this.extra = opts.extra ?? {};
  }

  toJSON(): Record<string, unknown> {
    return { error: this.code, message: this.message, ...this.extra };
  }

  toResponse(requestId?: string): Response {
    const headers = new Headers(this.headers);
    headers.set("content-type", "application/json; charset=utf-8");
    headers.set("cache-control", "no-store");
    if (requestId) headers.set("x-request-id", requestId);
    return new Response(JSON.stringify(this.toJSON()), { status: this.status, headers });
  }
}

export const isGatewayError = (e: unknown): e is GatewayError => e instanceof GatewayError;

/** The store is away (PostgreSQL down): a 503 the client should retry — never to be turned into a client error where a failure is caught. */
export const isStoreUnavailable = (e: unknown): e is GatewayError => e instanceof GatewayError && e.code === "store_unavailable";

/** A dependency of the gateway itself is down (the store or the shared state): a 503 to pass on as it is, logged by its own fault log. */
export const isDependencyDown = (e: unknown): boolean => e instanceof GatewayError && (e.code === "store_unavailable" || e.code === "state_unavailable");

/** Small factories for the statuses used across features, so codes stay consistent. */
export const Errors = {
  unauthorized: (message: string, code: ErrorCode = "unauthorized", headers?: Record<string, string>) =>
    new GatewayError(code, message, 401, { headers }),
  notFound: (message = "No route matches this request", code: ErrorCode = "not_found") => new GatewayError(code, message, 404),
  methodNotAllowed: (allow: string[]) =>
    new GatewayError("method_not_allowed", `Method not allowed; allowed: ${allow.join(", ")}`, 405, {
      headers: { allow: allow.join(", ") },
    }),
  payloadTooLarge: (limit: number) =>
    new GatewayError("payload_too_large", `Request body exceeds the limit of ${limit} bytes`, 413),
  headersTooLarge: (limit: number) =>
    new GatewayError("request_header_fields_too_large", `Request headers exceed the limit of ${limit} bytes`, 431),
  tooManyRequests: (message: string, headers: Record<string, string>, code: ErrorCode = "rate_limited") =>
    new GatewayError(code, message, 429, { headers }),
  /** the client went away before its answer (499, nginx's convention; logged, never sent) */
  clientClosed: (cause?: unknown) => new GatewayError("client_closed", "The client went away", 499, cause === undefined ? {} : { cause }),
  internal: (message = "Internal error", cause?: unknown) => new GatewayError("internal_error", message, 500, { cause }),
};
