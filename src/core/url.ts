/** Reading request URLs cheaply, for every layer (routing, logs, throttles). */

/** The path of a request URL without parsing it (a non-URL target, e.g. CONNECT's authority form, gives "/"). */
export function pathOf(url: string): string {
  const scheme = url.indexOf("//");
  if (scheme < 0) return "/";
  const start = url.indexOf("/", scheme + 2);
  if (start < 0) return "/";
  const q = url.indexOf("?", start);
  return url.slice(start, q < 0 ? undefined : q);
}

/**
 * The query or form parameters that occur more than once, in order of their first repetition. OAuth
 * (RFC 6749 §3.1) forbids repeating one, on both sides of a flow: a repeated parameter is refused, never
 * read as "the first" (a proxy or log in front could read another one).
 */
export function repeatedParams(params: URLSearchParams): string[] {
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const name of params.keys()) (seen.has(name) ? repeated : seen).add(name);
  return [...repeated];
}
