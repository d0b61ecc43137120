/** The gateway's own login and consent pages: plain HTML forms, CSRF token, no framing, no scripts. */

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

export const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "x-frame-options": "DENY",
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
};

function layout(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)} — hubgate</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:28em;margin:4em auto;padding:0 1em}label,input,button{display:block;width:100%;margin:.4em 0}input{padding:.4em}button{padding:.5em}.err{color:#b00}</style>
</head><body><h1>${esc(title)}</h1>${body}</body></html>`;
}

export function loginPage(id: string, csrf: string, client: string, error?: string, opts: { password: boolean; upstream: string | null } = { password: true, upstream: null }): string {
  const hidden = `<input type="hidden" name="id" value="${esc(id)}"><input type="hidden" name="csrf" value="${esc(csrf)}">`;
  const password = opts.password
    ? `<form method="post" action="/authorize/login">${hidden}
<label>User name <input name="username" autocomplete="username" required autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form>`
    : "";
  const upstream = opts.upstream
    ? `<form method="post" action="/authorize/upstream-login">${hidden}<button type="submit">Continue with your ${esc(opts.upstream)} account</button></form>`
    : "";
  return layout(
    "Sign in to hubgate",
    `<p>${esc(client)} wants to use an MCP server through this gateway. Sign in first.</p>
${error ? `<p class="err">${esc(error)}</p>` : ""}${password}${upstream}`,
  );
}

export function consentPage(id: string, csrf: string, client: { name: string; redirectHost: string }, resource: string, user: string): string {
  return layout(
    "Allow access?",
    `<p>Signed in as <b>${esc(user)}</b>.</p>
<p><b>${esc(client.name)}</b> (redirecting to <b>${esc(client.redirectHost)}</b>) asks to use
<b>${esc(resource)}</b> on your behalf, with your account at that server.</p>
<p>Only allow clients you started yourself.</p>
<form method="post" action="/authorize/consent">
<input type="hidden" name="id" value="${esc(id)}"><input type="hidden" name="csrf" value="${esc(csrf)}">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button></form>`,
  );
}

export function errorPage(title: string, message: string): string {
  return layout(title, `<p>${esc(message)}</p>`);
}
