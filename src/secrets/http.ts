/** The HTTP plumbing shared by the AWS and GCP clients: a timeout on every call and errors that name the reference. */
import { GatewayError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import type { SecretsConfig } from "./model.ts";

export type Fetch = typeof fetch;

/** What the cloud clients need: their [secrets] options, the environment, fetch, a timeout and a clock. */
export interface CloudDeps {
  opts: SecretsConfig;
  env: Record<string, string | undefined>;
  fetch: Fetch;
  timeoutMs: number;
  now: () => number;
  log?: Logger;
}

/**
 * A failure whose message was written by this module and is safe to show (never a value, never a
 * credential). Any other error (a JSON.parse SyntaxError quoting a body, say) is reported by name only.
 */
export class ResolveError extends Error {
  override readonly name = "ResolveError";
}

export function unresolved(ref: string, why: string): GatewayError {
  return new GatewayError("secret_unresolved", `${ref}: ${why}`, 500);
}

export async function call(fetchImpl: Fetch, url: string | URL, init: RequestInit, timeoutMs: number, what: string): Promise<Response> {
  try {
    return await fetchImpl(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    const name = e instanceof Error ? e.name : "";
    throw new ResolveError(name === "TimeoutError" || name === "AbortError" ? `${what} timed out after ${timeoutMs} ms` : `${what} unreachable`);
  }
}

/** The body as text; a body that stalls past the timeout or breaks off is a ResolveError. */
export async function bodyText(res: Response, what: string): Promise<string> {
  try {
    return await res.text();
  } catch (e) {
    const name = e instanceof Error ? e.name : "";
    throw new ResolveError(name === "TimeoutError" || name === "AbortError" ? `${what} timed out reading the response` : `${what} response broke off`);
  }
}

/** JSON.parse whose failure never quotes the text (which may hold a secret or a credential). */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** An object's string field, or undefined. */
export function str(o: unknown, key: string): string | undefined {
  if (typeof o !== "object" || o === null) return undefined;
  const v = (o as Record<string, unknown>)[key];
  return typeof v === "string" ? v : undefined;
}
