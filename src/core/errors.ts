/**
 * The one error type of hubgate. Every failure a client can see is a GatewayError with a stable,
 * machine-readable `code`; the HTTP layer maps it to `{"error": code, "message": ...}` with `status`.
 * Messages are written for the caller and must never contain a secret value.
 */
export class GatewayError extends Error {
  override readonly name = "GatewayError";
  readonly code: string;
  readonly status: number;
  readonly headers: Record<string, string>;
  /** extra JSON fields merged into the response body (e.g. OAuth's error_description) */
  readonly extra: Record<string, unknown>;

  constructor(
    code: string,
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

/** Small factories for the statuses used across features, so codes stay consistent. */
export const Errors = {
  unauthorized: (message: string, code = "unauthorized", headers?: Record<string, string>) =>
    new GatewayError(code, message, 401, { headers }),
  notFound: (message = "No route matches this request", code = "not_found") => new GatewayError(code, message, 404),
  methodNotAllowed: (allow: string[]) =>
    new GatewayError("method_not_allowed", `Method not allowed; allowed: ${allow.join(", ")}`, 405, {
      headers: { allow: allow.join(", ") },
    }),
  payloadTooLarge: (limit: number) =>
    new GatewayError("payload_too_large", `Request body exceeds the limit of ${limit} bytes`, 413),
  headersTooLarge: (limit: number) =>
    new GatewayError("request_header_fields_too_large", `Request headers exceed the limit of ${limit} bytes`, 431),
  tooManyRequests: (message: string, headers: Record<string, string>, code = "rate_limited") =>
    new GatewayError(code, message, 429, { headers }),
  internal: (message = "Internal error", cause?: unknown) => new GatewayError("internal_error", message, 500, { cause }),
};
