/** The HTTP plumbing shared by the AWS and GCP clients: a timeout on every call and errors that name the reference. */
import { GatewayError } from "../core/errors.ts";
import type { SecretsConfig } from "./model.ts";

export type Fetch = typeof fetch;

/** What the cloud clients need: their [secrets] options, the environment, fetch, a timeout and a clock. */
export interface CloudDeps {
  opts: SecretsConfig;
  env: Record<string, string | undefined>;
  fetch: Fetch;
  timeoutMs: number;
  now: () => number;
}

export function unresolved(ref: string, why: string): GatewayError {
  return new GatewayError("secret_unresolved", `${ref}: ${why}`, 500);
}

export async function call(fetchImpl: Fetch, url: string | URL, init: RequestInit, timeoutMs: number, what: string): Promise<Response> {
  try {
    return await fetchImpl(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    const name = e instanceof Error ? e.name : "";
    throw new Error(name === "TimeoutError" || name === "AbortError" ? `${what} timed out after ${timeoutMs} ms` : `${what} unreachable`);
  }
}
