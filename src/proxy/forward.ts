/**
 * The one forwarding mechanism every feature uses: header hygiene and streamed bodies both ways, sent
 * through the guarded outbound client (outbound.ts: SSRF check, pinned connection, a time limit on the
 * response headers only — bodies and SSE streams may run long —, client-abort propagation).
 *
 * Bun's fetch, handled on purpose (verified in test/proxy/forward.test.ts):
 * - by default it sends its own `Accept-Encoding: gzip, deflate, br, zstd` and decompresses the body
 *   while KEEPING Content-Encoding and Content-Length — an inconsistent response if passed on.
 *   With `decompress: false` bytes and Content-Encoding pass through unchanged and fetch adds no
 *   Accept-Encoding; the client's is forwarded (or `identity`).
 * - a `Host` header given to fetch is sent as-is, so the client's Host is removed; the gateway uses
 *   this on purpose to connect to the IP the SSRF guard checked while naming the real host (pinTo, outbound.ts).
 * - `timeout: false` turns off fetch's own idle timeout so long quiet streams (SSE) are not cut;
 *   `timeoutMs` here bounds only the wait for response headers.
 * - at most 256 requests are in flight per process unless BUN_CONFIG_MAX_HTTP_REQUESTS is raised
 *   before start; see checkFetchConcurrency.
 */
import { send, type SendOptions } from "./outbound.ts";
import { stripHopByHop, upstreamRequestHeaders } from "./headers.ts";

export interface ForwardOptions extends Omit<SendOptions, "maxRedirects" | "decompress"> {
  /** set on the upstream request after hygiene (e.g. an injected Authorization) */
  headers?: Record<string, string>;
  /** drop the client's Authorization, Cookie, Proxy-Authorization, X-Api-Key (default true); X-Hubgate-* is always dropped */
  stripAuth?: boolean;
  /** default false: 3xx responses are passed to the client; when true, up to 5 hops, each checked by the guard */
  followRedirects?: boolean;
  /** replaces the client's body (e.g. after the gateway read it) */
  body?: BodyInit | null;
  /** replaces the client's method */
  method?: string;
}

const BODYLESS = new Set(["GET", "HEAD"]);
const MAX_FOLLOWED = 5;

export async function forward(request: Request, target: URL, opts: ForwardOptions): Promise<Response> {
  const method = (opts.method ?? request.method).toUpperCase();
  const ownBody = opts.body === undefined && !BODYLESS.has(method);
  const headers = upstreamRequestHeaders(request.headers, { stripAuth: opts.stripAuth ?? true, inject: opts.headers, keepLength: ownBody });
  const body = opts.body !== undefined ? opts.body : ownBody ? request.body : null;
  const res = await send(target, { method, headers, body }, {
    timeoutMs: opts.timeoutMs,
    allowPrivate: opts.allowPrivate,
    lookup: opts.lookup,
    signal: opts.signal,
    maxRedirects: opts.followRedirects ? MAX_FOLLOWED : 0,
    decompress: false,
  });
  // the upstream response itself goes back, its headers cleaned in place: wrapping its body in a new
  // Response would route every byte through a JavaScript stream (about 8 % of throughput, measured)
  stripHopByHop(res.headers);
  return res;
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
