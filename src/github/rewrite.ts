/**
 * Keeping clients on the gateway: Link (pagination) and Location headers that point at the upstream
 * API base are rewritten to the gateway's base for the layout the client used. Other hosts untouched.
 */

/** `upstreamBase` e.g. https://api.github.com or https://ghe.example.com/api/v3; `clientBase` e.g. https://hubgate.internal or …/api/v3 */
export function rewriteUrl(value: string, upstreamBase: string, clientBase: string): string {
  const up = upstreamBase.replace(/\/+$/, "");
  const to = clientBase.replace(/\/+$/, "");
  if (value === up) return to;
  if (value.startsWith(`${up}/`) || value.startsWith(`${up}?`)) return to + value.slice(up.length);
  return value;
}

/** Link: <https://api.github.com/repos/o/r/issues?page=2>; rel="next", <…>; rel="last" */
export function rewriteLink(header: string, upstreamBase: string, clientBase: string): string {
  return header.replace(/<([^>]*)>/g, (_, url: string) => `<${rewriteUrl(url, upstreamBase, clientBase)}>`);
}

/** A streamed upstream response with its Link/Location moved to the gateway (headers rewritten in place). */
export function rewriteResponse(res: Response, upstreamBase: string, clientBase: string): Response {
  rewriteHeaders(res.headers, upstreamBase, clientBase);
  return res;
}

export function rewriteHeaders(headers: Headers, upstreamBase: string, clientBase: string): void {
  const link = headers.get("link");
  if (link) headers.set("link", rewriteLink(link, upstreamBase, clientBase));
  const loc = headers.get("location");
  if (loc) headers.set("location", rewriteUrl(loc, upstreamBase, clientBase));
}
