/**
 * OpenAPI docs of the gateway's own routes: the spec from @elysiajs/openapi at /docs/json, and a
 * Swagger UI page at /docs whose assets are embedded in the binary (`with { type: "file" }`), so the
 * docs work in private networks with no CDN. The page's script is a file too, so the CSP can forbid
 * inline scripts.
 */
import { Elysia } from "elysia";
import { openapi } from "@elysiajs/openapi";
import { escapeHtml } from "../core/html.ts";
import bundlePath from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "file" };
import cssPath from "swagger-ui-dist/swagger-ui.css" with { type: "file" };

const INIT_JS = `window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({ url: "/docs/json", dom_id: "#swagger-ui", deepLinking: true });
});
`;

const CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";


function page(title: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} — API docs</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/init.js"></script>
</body>
</html>
`;
}

const ASSET_CACHE = "public, max-age=86400, immutable";

export function docsPlugin(info: { title: string; version: string; description: string }) {
  const html = page(info.title);
  return new Elysia({ name: "hubgate-docs" })
    .use(
      openapi({
        path: "/docs",
        specPath: "/docs/json",
        provider: null,
        documentation: { info: { title: info.title, version: info.version, description: info.description } },
        exclude: { paths: [/^\/docs/] },
      }),
    )
    .get("/docs", () => new Response(html, { headers: { "content-type": "text/html; charset=utf-8", "content-security-policy": CSP, "x-content-type-options": "nosniff" } }), {
      detail: { hide: true },
    })
    .get("/docs/assets/swagger-ui-bundle.js", () => asset(bundlePath, "text/javascript; charset=utf-8"), { detail: { hide: true } })
    .get("/docs/assets/swagger-ui.css", () => asset(cssPath, "text/css; charset=utf-8"), { detail: { hide: true } })
    .get("/docs/assets/init.js", () => new Response(INIT_JS, { headers: { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-cache" } }), {
      detail: { hide: true },
    });
}

function asset(path: string, type: string): Response {
  return new Response(Bun.file(path), { headers: { "content-type": type, "cache-control": ASSET_CACHE, "x-content-type-options": "nosniff" } });
}
