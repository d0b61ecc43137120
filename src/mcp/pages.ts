/** The gateway's own login and consent pages: plain HTML forms, CSRF token, no framing, no scripts. */

import { escapeHtml as esc, layoutPage as layout } from "../core/html.ts";

export { PAGE_HEADERS } from "../core/html.ts";

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
