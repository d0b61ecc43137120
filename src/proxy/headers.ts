/** Header hygiene for proxying (RFC 9110 §7.6.1): hop-by-hop headers never cross the gateway. */

export const HOP_BY_HOP = ["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "proxy-authenticate"];

/** Client credentials meant for hubgate, never for the upstream (dropped unless stripAuth is false). */
export const CLIENT_AUTH = ["authorization", "cookie", "proxy-authorization", "x-api-key"];

/** The header names a Connection header lists (hop-by-hop for this connection only). */
function connectionNamed(h: Headers): string[] {
  const v = h.get("connection");
  return v ? v.split(",").map((n) => n.trim().toLowerCase()).filter((n) => n !== "") : [];
}

/** Remove hop-by-hop headers in place, including every header the Connection header names (Set-Cookie entries stay separate). */
export function stripHopByHop(h: Headers): void {
  for (const n of connectionNamed(h)) h.delete(n);
  for (const n of HOP_BY_HOP) h.delete(n);
}

export interface RequestHeaderOptions {
  stripAuth: boolean;
  inject?: Record<string, string>;
  /** keep the client's Content-Length: its own body is forwarded unchanged (some upstreams refuse chunked uploads with 411) */
  keepLength?: boolean;
}

const CLIENT_AUTH_SET = new Set(CLIENT_AUTH);
/** never copied from the client: hop-by-hop, Host (Bun's fetch sends a Host given to it; the upstream must see its own), Expect */
const NEVER_FORWARDED = new Set([...HOP_BY_HOP, "host", "expect"]);

/**
 * Headers for the upstream request, built from the client's in one pass (copying them all and then
 * deleting some cost a native call per name on every request).
 */
export function upstreamRequestHeaders(incoming: Headers, opts: RequestHeaderOptions): Headers {
  const named = connectionNamed(incoming);
  const dropNamed = named.length ? new Set(named) : null;
  // a known length travels with the unchanged body; otherwise fetch frames the body itself
  const keepLength = opts.keepLength === true && !incoming.has("transfer-encoding");
  const h = new Headers();
  incoming.forEach((v, k) => {
    if (NEVER_FORWARDED.has(k) || dropNamed?.has(k)) return;
    if (k === "content-length" && !keepLength) return;
    if (opts.stripAuth && CLIENT_AUTH_SET.has(k)) return;
    // gateway-internal headers never reach an upstream, even when the client's credentials are passed on
    if (k.startsWith("x-hubgate-")) return;
    h.append(k, v);
  });
  // fetch runs with decompress:false and then adds no Accept-Encoding of its own: forward the client's,
  // or ask for identity so a client that named no coding gets none
  if (!h.has("accept-encoding")) h.set("accept-encoding", "identity");
  h.set("via", "1.1 hubgate");
  if (opts.inject) for (const k in opts.inject) h.set(k, opts.inject[k]!);
  return h;
}
