/**
 * Joining a client's path onto an upstream base without ever escaping the base path.
 *
 * Every client segment is percent-decoded and refused when it is a dot segment (".", "..", "%2e%2e",
 * ".%2E", …) or hides a separator ("%2f", "%5c", a raw backslash) or a control character, so neither
 * the WHATWG URL parser here nor a lenient upstream can resolve it above the base. Empty segments
 * ("a//b") collapse; a trailing slash is kept because upstreams may treat it as meaningful.
 */
import { GatewayError } from "../core/errors.ts";

const invalid = (why: string) => new GatewayError("invalid_path", `Invalid request path: ${why}`, 400);

function checkSegment(seg: string): void {
  let decoded: string;
  try {
    decoded = decodeURIComponent(seg);
  } catch {
    throw invalid("malformed percent-encoding");
  }
  if (decoded === "." || decoded === "..") throw invalid("dot segments are not allowed");
  if (/[/\\]/.test(decoded)) throw invalid("encoded slashes are not allowed");
  if (/[\x00-\x1f\x7f]/.test(decoded)) throw invalid("control characters are not allowed");
  if (/[?#]/.test(seg)) throw invalid("'?' and '#' belong in the query, not the path");
}

/**
 * `base` path + `rest` (no double slashes) with the base's own query followed by `search`.
 * Throws GatewayError("invalid_path", 400) for traversal attempts.
 */
export function joinUpstream(base: string | URL, rest: string, search: string): URL {
  const url = new URL(base);
  url.hash = "";
  const segments = rest.split("/").filter((s) => s !== "");
  for (const seg of segments) checkSegment(seg);
  const trailingSlash = rest.endsWith("/") && rest !== "";
  const basePath = url.pathname.replace(/\/+$/, "");
  const tail = (segments.length ? `/${segments.join("/")}` : "") + (trailingSlash ? "/" : "");
  if (tail) url.pathname = `${basePath}${tail}`; // an empty rest leaves the base exactly as configured
  const within = basePath === "" || url.pathname === basePath || url.pathname.startsWith(`${basePath}/`);
  if (!within) throw invalid("path escapes the upstream base");
  const q = search.replace(/^\?/, "");
  if (q) url.search = url.search ? `${url.search}&${q}` : `?${q}`;
  return url;
}
