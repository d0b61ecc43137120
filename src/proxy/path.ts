/**
 * Joining a client's path onto an upstream base without ever escaping the base path.
 *
 * Every client segment is percent-decoded and refused when it is a dot segment (".", "..", "%2e%2e",
 * ".%2E", …) or hides a separator ("%2f", "%5c", a raw backslash) or a control character, so neither
 * the WHATWG URL parser here nor a lenient upstream can resolve it above the base. A dot segment with
 * path parameters ("..;", ".;x", "%2e%2e;") is refused too: Java servers (Tomcat, Jetty, Spring) strip
 * the parameters and then resolve the dot segment, so its meaning depends on the upstream. Empty segments
 * ("a//b") collapse; a trailing slash is kept because upstreams may treat it as meaningful.
 */
import { GatewayError } from "../core/errors.ts";

const invalid = (why: string) => new GatewayError("invalid_path", `Invalid request path: ${why}`, 400);

/** A segment needing no decoding or closer look: no '%', no separator or control character, not starting with a dot. */
const PLAIN_SEGMENT = /^[^%\\\x00-\x1f\x7f?#.][^%\\\x00-\x1f\x7f?#]*$/;
/** ".", ".." or either followed by ';' path parameters (after decoding) */
const DOT_SEGMENT = /^\.\.?(?:;|$)/;

function checkSegment(seg: string): void {
  if (PLAIN_SEGMENT.test(seg)) return;
  let decoded: string;
  try {
    decoded = decodeURIComponent(seg);
  } catch {
    throw invalid("malformed percent-encoding");
  }
  if (DOT_SEGMENT.test(decoded)) throw invalid("dot segments (with or without ';' parameters) are not allowed");
  if (/[/\\]/.test(decoded)) throw invalid("encoded slashes are not allowed");
  if (/[\x00-\x1f\x7f]/.test(decoded)) throw invalid("control characters are not allowed");
  if (/[?#]/.test(seg)) throw invalid("'?' and '#' belong in the query, not the path");
}

interface Base {
  /** scheme://host[:port] */
  origin: string;
  /** the base path without trailing slashes ("" for the root) */
  path: string;
  /** the base's own query, with its '?', or "" */
  search: string;
  /** the whole base without query and fragment */
  bare: string;
}

/** Parsed upstream bases (one per endpoint; bounded by the config), so a request parses one URL, not two. */
const bases = new Map<string, Base>();

function parseBase(base: string | URL): Base {
  const key = typeof base === "string" ? base : base.href;
  let b = bases.get(key);
  if (!b) {
    const url = new URL(base);
    url.hash = "";
    const search = url.search;
    url.search = "";
    b = { origin: `${url.protocol}//${url.host}`, path: url.pathname.replace(/\/+$/, ""), search, bare: url.href };
    if (bases.size >= 10_000) bases.clear();
    bases.set(key, b);
  }
  return b;
}

/**
 * `base` path + `rest` (no double slashes) with the base's own query followed by `search`.
 * Throws GatewayError("invalid_path", 400) for traversal attempts.
 */
export function joinUpstream(base: string | URL, rest: string, search: string): URL {
  const b = parseBase(base);
  const segments = rest.split("/").filter((s) => s !== "");
  for (const seg of segments) checkSegment(seg);
  const trailingSlash = rest.endsWith("/") && rest !== "";
  const tail = (segments.length ? `/${segments.join("/")}` : "") + (trailingSlash ? "/" : "");
  const q = search.startsWith("?") ? search.slice(1) : search;
  const query = q ? (b.search ? `${b.search}&${q}` : `?${q}`) : b.search;
  // an empty rest leaves the base exactly as configured
  const url = new URL(tail ? `${b.origin}${b.path}${tail}${query}` : `${b.bare}${query}`);
  const within = b.path === "" || url.pathname === b.path || url.pathname.startsWith(`${b.path}/`);
  if (!within) throw invalid("path escapes the upstream base");
  return url;
}
