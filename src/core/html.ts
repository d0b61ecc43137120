/**
 * The gateway's own HTML pages (OAuth connect results, the MCP login and consent screens): one
 * escaping function, one layout, and one set of headers — no scripts, no framing, no caching.
 */

export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

export const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "x-frame-options": "DENY",
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
};

/** A page around `body` (already HTML); the title is escaped here. */
export function layoutPage(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)} — hubgate</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:28em;margin:4em auto;padding:0 1em}label,input,button{display:block;width:100%;margin:.4em 0}input{padding:.4em}button{padding:.5em}.err{color:#b00}</style>
</head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

/** A page with a title and one line of text, as a Response. */
export function messagePage(status: number, title: string, message: string, headers: Record<string, string> = {}): Response {
  return new Response(layoutPage(title, `<p>${escapeHtml(message)}</p>`), { status, headers: { ...PAGE_HEADERS, ...headers } });
}
