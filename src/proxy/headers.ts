/** Header hygiene for proxying (RFC 9110 §7.6.1): hop-by-hop headers never cross the gateway. */

export const HOP_BY_HOP = ["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "proxy-authenticate"];

/** Client credentials meant for hubgate, never for the upstream (dropped unless stripAuth is false). */
export const CLIENT_AUTH = ["authorization", "cookie", "proxy-authorization", "x-api-key"];

/** Remove hop-by-hop headers, including every header the Connection header names. */
export function stripHopByHop(h: Headers): void {
  for (const name of (h.get("connection") ?? "").split(",")) {
    const n = name.trim().toLowerCase();
    if (n) h.delete(n);
  }
  for (const n of HOP_BY_HOP) h.delete(n);
}

export interface RequestHeaderOptions {
  stripAuth: boolean;
  inject?: Record<string, string>;
  /** keep the client's Content-Length: its own body is forwarded unchanged (some upstreams refuse chunked uploads with 411) */
  keepLength?: boolean;
}

/** Headers for the upstream request, built from the client's. */
export function upstreamRequestHeaders(incoming: Headers, opts: RequestHeaderOptions): Headers {
  const h = new Headers(incoming);
  stripHopByHop(h);
  h.delete("host"); // Bun's fetch sends a Host header given to it; the upstream must see its own
  // a known length travels with the unchanged body; otherwise fetch frames the body itself
  if (!opts.keepLength || incoming.has("transfer-encoding")) h.delete("content-length");
  h.delete("expect");
  if (opts.stripAuth) for (const n of CLIENT_AUTH) h.delete(n);
  // gateway-internal headers never reach an upstream, even when the client's credentials are passed on
  for (const n of [...h.keys()]) if (n.startsWith("x-hubgate-")) h.delete(n);
  // fetch runs with decompress:false and then adds no Accept-Encoding of its own: forward the client's,
  // or ask for identity so a client that named no coding gets none
  if (!h.has("accept-encoding")) h.set("accept-encoding", "identity");
  h.set("via", "1.1 hubgate");
  for (const [k, v] of Object.entries(opts.inject ?? {})) h.set(k, v);
  return h;
}

/** Headers for the client, built from the upstream response's (Set-Cookie entries stay separate). */
export function clientResponseHeaders(upstream: Headers): Headers {
  const h = new Headers(upstream);
  stripHopByHop(h);
  return h;
}
