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
