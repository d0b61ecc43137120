/**
 * The one forwarding mechanism every feature uses: SSRF check, header hygiene, a time limit on the
 * response headers only (bodies and SSE streams may run long), client-abort propagation, streamed
 * bodies both ways.
 *
 * Bun's fetch, handled on purpose (verified in test/proxy/forward.test.ts):
 * - by default it sends its own `Accept-Encoding: gzip, deflate, br, zstd` and decompresses the body
 *   while KEEPING Content-Encoding and Content-Length — an inconsistent response if passed on.
 *   With `decompress: false` bytes and Content-Encoding pass through unchanged and fetch adds no
 *   Accept-Encoding; the client's is forwarded (or `identity`).
 * - a `Host` header given to fetch is sent as-is, so the client's Host is removed; the gateway uses
 *   this on purpose to connect to the IP the SSRF guard checked while naming the real host (pinTo).
 * - `timeout: false` turns off fetch's own idle timeout so long quiet streams (SSE) are not cut;
 *   `timeoutMs` here bounds only the wait for response headers.
 * - at most 256 requests are in flight per process unless BUN_CONFIG_MAX_HTTP_REQUESTS is raised
 *   before start; see checkFetchConcurrency.
 */
import { GatewayError } from "../core/errors.ts";
import { checkHost, type Lookup } from "./ssrf.ts";
import { isIP } from "node:net";
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import { stripHopByHop, upstreamRequestHeaders } from "./headers.ts";

export interface ForwardOptions {
  /** limit for the upstream's response headers → 504 upstream_timeout */
  timeoutMs: number;
  /** set on the upstream request after hygiene (e.g. an injected Authorization) */
  headers?: Record<string, string>;
  /** skip the SSRF guard's refusal of non-public addresses */
  allowPrivate: boolean;
  /** the client's signal: when it aborts, the upstream request (and its body stream) is aborted too */
  signal?: AbortSignal;
  /** drop the client's Authorization, Cookie, Proxy-Authorization, X-Api-Key (default true); X-Hubgate-* is always dropped */
  stripAuth?: boolean;
  /** default false: 3xx responses are passed to the client */
  followRedirects?: boolean;
  lookup?: Lookup;
  /** replaces the client's body (e.g. after the gateway read it) */
  body?: BodyInit | null;
  /** replaces the client's method */
  method?: string;
}

const BODYLESS = new Set(["GET", "HEAD"]);

/** Bun-specific fetch options that lib.dom's RequestInit does not know. */
type BunInit = RequestInit & {
  decompress: boolean;
  timeout: boolean;
  duplex?: "half";
  tls?: { serverName: string; checkServerIdentity: (hostname: string, cert: PeerCertificate) => Error | undefined };
};

export async function forward(request: Request, target: URL, opts: ForwardOptions): Promise<Response> {
  if (target.protocol !== "http:" && target.protocol !== "https:")
    throw new GatewayError("ssrf_refused", "Only http and https upstreams are allowed", 403);
  if (opts.signal?.aborted) throw clientClosed(opts.signal.reason);
  const addresses = await checkHost(target.hostname, { allowPrivate: opts.allowPrivate, lookup: opts.lookup });
  const method = (opts.method ?? request.method).toUpperCase();
  const ownBody = opts.body === undefined && !BODYLESS.has(method);
  const headers = upstreamRequestHeaders(request.headers, { stripAuth: opts.stripAuth ?? true, inject: opts.headers, keepLength: ownBody });
  const body = opts.body !== undefined ? opts.body : ownBody ? request.body : null;
  // one controller for both causes (cheaper than AbortSignal.any on every request): the header
  // timeout, and the client going away — which keeps aborting the upstream while the body streams
  const abort = new AbortController();
  let timedOut = false;
  const client = opts.signal;
  if (client) {
    if (client.aborted) abort.abort();
    else client.addEventListener("abort", () => abort.abort(), { once: true });
  }
  const signal = abort.signal;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, opts.timeoutMs);
  const init: BunInit = {
    method,
    headers,
    body,
    redirect: opts.followRedirects ? "follow" : "manual",
    signal,
    decompress: false,
    timeout: false,
    ...(body instanceof ReadableStream ? { duplex: "half" as const } : {}),
  };
  let res: Response;
  try {
    res = await fetch(pinTo(target, addresses[0]!, headers, init), init);
  } catch (e) {
    if (timedOut)
      throw new GatewayError("upstream_timeout", `The upstream did not answer within ${opts.timeoutMs} ms`, 504, { cause: e });
    if (opts.signal?.aborted) throw clientClosed(e);
    throw new GatewayError("upstream_unreachable", `The upstream could not be reached (${errorName(e)})`, 502, { cause: e });
  } finally {
    clearTimeout(timer); // headers are in (or it failed): the body is not subject to timeoutMs
  }
  // the upstream response itself goes back, its headers cleaned in place: wrapping its body in a new
  // Response would route every byte through a JavaScript stream (about 8 % of throughput, measured)
  stripHopByHop(res.headers);
  return res;
}

/**
 * Connect to the address the SSRF guard checked, not to whatever a second DNS answer says (no
 * rebinding window): the URL gets the IP, Host keeps the name (Bun's fetch sends a Host it is given),
 * and for https the certificate is still verified against the name, with SNI set to it.
 */
function pinTo(target: URL, address: string, headers: Headers, init: BunInit): URL {
  const host = target.hostname.replace(/^\[|\]$/g, "");
  if (isIP(host)) return target;
  const pinned = new URL(target);
  pinned.hostname = address.includes(":") ? `[${address}]` : address;
  headers.set("host", target.host);
  if (target.protocol === "https:")
    init.tls = { serverName: host, checkServerIdentity: (_ip: string, cert: PeerCertificate) => checkServerIdentity(host, cert) };
  return pinned;
}

const clientClosed = (cause: unknown) => new GatewayError("client_closed", "The client went away", 499, { cause });

function errorName(e: unknown): string {
  if (e && typeof e === "object" && "code" in e && typeof e.code === "string") return e.code;
  return e instanceof Error ? e.name : "error";
}

/** Bun's fetch default for requests in flight per process. */
export const DEFAULT_MAX_HTTP_REQUESTS = 256;

export const MAX_HTTP_REQUESTS_HINT =
  "Bun's fetch allows 256 upstream requests in flight per process (more wait in a queue); " +
  "start hubgate with BUN_CONFIG_MAX_HTTP_REQUESTS=<n> (up to 65535) in its environment to raise it — it is read only at process start";

/** The fetch concurrency this process runs with, from BUN_CONFIG_MAX_HTTP_REQUESTS as Bun reads it at start. */
export function checkFetchConcurrency(env: Record<string, string | undefined> = process.env): { limit: number; raised: boolean } {
  const raw = env.BUN_CONFIG_MAX_HTTP_REQUESTS?.trim();
  const n = raw && /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65_535) return { limit: DEFAULT_MAX_HTTP_REQUESTS, raised: false };
  return { limit: n, raised: n > DEFAULT_MAX_HTTP_REQUESTS };
}
