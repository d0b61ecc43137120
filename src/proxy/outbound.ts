/**
 * The one way out to the network. Every outbound HTTP request of hubgate — proxied traffic (forward.ts)
 * and the gateway's own calls (OAuth token endpoints, GitHub identity look-ups, MCP discovery and
 * registration, client metadata documents, cloud secret managers) — goes through `send` here:
 *
 * - only http and https;
 * - the SSRF guard on the resolved addresses (ssrf.ts), refusing non-public ones unless the config
 *   section that declared the URL says `allow_private`;
 * - the connection pinned to the address that was checked (no second DNS answer, no rebinding window);
 * - a time limit (on the response headers for streamed proxying; on the whole exchange for `request`);
 * - a size limit on bodies the gateway reads itself (`request`);
 * - no redirect followed unless the caller asks, and then each hop checked like the first.
 *
 * Bun's fetch is called with `redirect: "manual"` always: a hop it followed itself would skip the guard.
 */
import { isIP } from "node:net";
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import { Errors, GatewayError } from "../core/errors.ts";
import { checkHost, type Lookup } from "./ssrf.ts";

export interface GuardPolicy {
  /** skip the SSRF guard's refusal of non-public addresses (the declaring section's `allow_private`) */
  allowPrivate: boolean;
  /** DNS resolution, for tests; the system resolver otherwise */
  lookup?: Lookup;
}

export interface SendOptions extends GuardPolicy {
  /** limit for the response headers → 504 upstream_timeout */
  timeoutMs: number;
  /** the caller's signal: when it aborts, the request (and its body stream) is aborted too → 499 client_closed */
  signal?: AbortSignal;
  /** redirects to follow, each hop checked like the first (default 0: a 3xx is returned as it is) */
  maxRedirects?: number;
  /** Bun's decompression of the response (default true); forward passes bytes through unchanged */
  decompress?: boolean;
}

export interface OutboundInit {
  method?: string;
  headers?: Headers | Record<string, string>;
  body?: BodyInit | null;
}

/** Bun-specific fetch options that lib.dom's RequestInit does not know. */
type BunInit = RequestInit & {
  decompress: boolean;
  timeout: boolean;
  duplex?: "half";
  tls?: { serverName: string; checkServerIdentity: (hostname: string, cert: PeerCertificate) => Error | undefined };
};

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** credentials that must not follow a redirect to another origin (as browsers and curl do) */
const CROSS_ORIGIN_DROP = ["authorization", "cookie", "proxy-authorization", "x-api-key"];

/**
 * One request through the guard; the response streams (headers cleaned by the caller if it proxies).
 * Failures are GatewayErrors: 403 ssrf_refused, 502 upstream_unreachable, 504 upstream_timeout, 499 client_closed.
 */
export async function send(target: URL, init: OutboundInit, opts: SendOptions): Promise<Response> {
  if (opts.signal?.aborted) throw Errors.clientClosed(opts.signal.reason);
  let url = target;
  let method = (init.method ?? "GET").toUpperCase();
  let headers = init.headers instanceof Headers ? init.headers : new Headers(init.headers);
  let body = init.body ?? null;
  for (let hop = 0; ; hop++) {
    const res = await sendOnce(url, method, headers, body, opts);
    const location = res.headers.get("location");
    if (hop >= (opts.maxRedirects ?? 0) || !REDIRECTS.has(res.status) || location === null) return res;
    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      return res; // an unparseable Location is the caller's to see, not to follow
    }
    if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === "POST")) {
      method = method === "HEAD" ? "HEAD" : "GET";
      body = null;
      headers = new Headers(headers);
      headers.delete("content-type");
      headers.delete("content-length");
    } else if (body instanceof ReadableStream) return res; // a streamed body cannot be sent twice
    if (next.origin !== url.origin) {
      headers = new Headers(headers);
      for (const h of CROSS_ORIGIN_DROP) headers.delete(h);
    }
    await res.body?.cancel().catch(() => {});
    url = next;
  }
}

async function sendOnce(target: URL, method: string, headers: Headers, body: BodyInit | null, opts: SendOptions): Promise<Response> {
  if (target.protocol !== "http:" && target.protocol !== "https:")
    throw new GatewayError("ssrf_refused", "Only http and https upstreams are allowed", 403);
  const addresses = await checkHost(target.hostname, { allowPrivate: opts.allowPrivate, lookup: opts.lookup });
  // one controller for both causes (cheaper than AbortSignal.any on every request): the header
  // timeout, and the caller going away — which keeps aborting the request while the body streams
  const abort = new AbortController();
  let timedOut = false;
  const caller = opts.signal;
  if (caller) {
    if (caller.aborted) abort.abort();
    else caller.addEventListener("abort", () => abort.abort(), { once: true });
  }
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, opts.timeoutMs);
  const init: BunInit = {
    method,
    headers,
    body,
    redirect: "manual",
    signal: abort.signal,
    decompress: opts.decompress ?? true,
    timeout: false,
    ...(body instanceof ReadableStream ? { duplex: "half" as const } : {}),
  };
  try {
    return await fetch(pinTo(target, addresses[0]!, headers, init), init);
  } catch (e) {
    if (timedOut) throw new GatewayError("upstream_timeout", `The upstream did not answer within ${opts.timeoutMs} ms`, 504, { cause: e });
    if (caller?.aborted) throw Errors.clientClosed(e);
    throw new GatewayError("upstream_unreachable", `The upstream could not be reached (${errorName(e)})`, 502, { cause: e });
  } finally {
    clearTimeout(timer); // headers are in (or it failed): a streamed body is not subject to timeoutMs
  }
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

export interface RequestOptions extends GuardPolicy {
  /** limit for the whole exchange, headers and body */
  timeoutMs: number;
  /** limit for the response body → 502 upstream_too_large */
  maxBytes: number;
  maxRedirects?: number;
  /** the caller giving up (its own deadline): aborts the exchange at once */
  signal?: AbortSignal;
}

/**
 * The gateway's own calls (not proxying): the response is read whole within `timeoutMs` and `maxBytes`
 * and handed back as a buffered Response, so callers keep using `ok`, `status`, `json()` and `text()`.
 */
export async function request(url: string | URL, init: OutboundInit, opts: RequestOptions): Promise<Response> {
  const target = typeof url === "string" ? parseUrl(url) : url;
  const abort = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, opts.timeoutMs);
  const caller = opts.signal;
  const giveUp = () => abort.abort();
  if (caller?.aborted) abort.abort();
  else caller?.addEventListener("abort", giveUp, { once: true });
  try {
    const res = await send(target, init, { ...opts, signal: abort.signal, decompress: true });
    const bytes = await readLimited(res, opts.maxBytes);
    const headers = new Headers(res.headers);
    // the body is decompressed and whole now: its coding and framing headers no longer describe it
    headers.delete("content-encoding");
    headers.delete("content-length");
    headers.delete("transfer-encoding");
    return new Response(res.status === 204 || res.status === 304 ? null : bytes, { status: res.status, statusText: res.statusText, headers });
  } catch (e) {
    if (timedOut) throw new GatewayError("upstream_timeout", `The upstream did not answer within ${opts.timeoutMs} ms`, 504, { cause: e });
    throw e;
  } finally {
    clearTimeout(timer);
    caller?.removeEventListener("abort", giveUp);
  }
}

/** A `fetch`-shaped function bound to one policy, for code that takes a fetch (the cloud secret clients). */
export function guardedFetch(policy: Omit<RequestOptions, "timeoutMs"> & { timeoutMs?: number }): typeof fetch {
  const f = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = input instanceof Request ? input.url : input;
    const headers = new Headers(input instanceof Request ? input.headers : undefined);
    new Headers(init?.headers).forEach((v, k) => headers.set(k, v));
    const body = (init?.body ?? null) as BodyInit | null;
    const timeoutMs = policy.timeoutMs ?? 30_000;
    const method = init?.method ?? (input instanceof Request ? input.method : "GET");
    const signal = init?.signal ?? undefined;
    try {
      return await request(url, { method, headers, body }, { ...policy, timeoutMs, signal });
    } catch (e) {
      // the caller's own deadline ended it: the caller's reason (a TimeoutError), as fetch would throw
      if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new DOMException("aborted", "AbortError");
      throw e;
    }
  };
  return Object.assign(f, { preconnect: fetch.preconnect }) as typeof fetch;
}

async function readLimited(res: Response, maxBytes: number): Promise<Blob> {
  const declared = Number(res.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes && res.headers.get("content-encoding") === null) {
    await res.body?.cancel().catch(() => {});
    throw tooLarge(maxBytes);
  }
  if (!res.body) return new Blob([]);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return new Blob(chunks as Uint8Array<ArrayBuffer>[]);
}

function parseUrl(url: string): URL {
  try {
    return new URL(url);
  } catch {
    throw new GatewayError("upstream_unreachable", "The upstream URL is not a valid absolute URL", 502);
  }
}

const tooLarge = (maxBytes: number) =>
  new GatewayError("upstream_too_large", `The upstream answered with more than ${maxBytes} bytes`, 502);


function errorName(e: unknown): string {
  if (e && typeof e === "object" && "code" in e && typeof e.code === "string") return e.code;
  return e instanceof Error ? e.name : "error";
}
