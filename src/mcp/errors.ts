/** OAuth error responses (RFC 6749 §5.2 shape) as GatewayErrors, so the one error type stays the one error type. */
import { GatewayError, type ErrorCode } from "../core/errors.ts";

export function oauthError(error: ErrorCode, description: string, status = 400, headers: Record<string, string> = {}): GatewayError {
  return new GatewayError(error, description, status, { headers, extra: { error_description: description } });
}
