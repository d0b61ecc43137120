/**
 * Generated OpenAPI docs: /docs and /docs/json for the whole gateway, /docs/<project> and
 * /docs/<project>/json for one project (generate.ts builds them from the route table in use, so a
 * reload regenerates them). The Swagger UI page's assets are embedded in the binary
 * (`with { type: "file" }`), so the docs work in private networks with no CDN; the page's script is a
 * file too, so the CSP can forbid inline scripts. Operations are shown expanded, without clicking.
 */
import { Elysia } from "elysia";
import { escapeHtml } from "../core/html.ts";
import { GatewayError } from "../core/errors.ts";
import type { RouteTable } from "../routes/table.ts";
import { documentsOf, OPERATION_FULL_LIMIT, type BuiltDocument, type DocsInfo, type OwnRoutes } from "./generate.ts";
import bundlePath from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "file" };
import cssPath from "swagger-ui-dist/swagger-ui.css" with { type: "file" };

// the spec URL and how far to expand come from data attributes, so one script serves every page
const INIT_JS = `window.addEventListener("load", function () {
  var el = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: el.getAttribute("data-spec"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    docExpansion: el.getAttribute("data-expansion") || "list",
    defaultModelsExpandDepth: 0,
    validatorUrl: null,
    tryItOutEnabled: false,
  });
});
`;

const CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

function page(title: string, spec: string, doc: BuiltDocument): string {
  // every operation expanded when that stays light; a very large document lists its operations instead
  const expansion = doc.operations <= OPERATION_FULL_LIMIT ? "full" : "list";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} — API docs</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-spec="${escapeHtml(spec)}" data-expansion="${expansion}"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/init.js"></script>
</body>
</html>
`;
}

const ASSET_CACHE = "public, max-age=86400, immutable";
const HTML_HEADERS = { "content-type": "text/html; charset=utf-8", "content-security-policy": CSP, "x-content-type-options": "nosniff", "cache-control": "no-cache" };
const JSON_HEADERS = { "content-type": "application/json; charset=utf-8", "cache-control": "no-cache", "x-content-type-options": "nosniff", "access-control-allow-origin": "*" };

/**
 * `table`: the route table in force, taken per request (the documents are built once per table, so a
 * reload regenerates them); `own`: the gateway's own routes, read once the app is assembled.
 */
export function docsPlugin(table: () => RouteTable, info: DocsInfo, own: () => OwnRoutes) {
  const docs = () => documentsOf(table(), own, info);
  const project = (id: string): BuiltDocument => {
    const d = docs().project(id);
    if (!d) throw new GatewayError("project_not_found", `No project "${id}"`, 404);
    return d;
  };
  const hide = { detail: { hide: true } };
  return new Elysia({ name: "hubgate-docs" })
    .get("/docs", () => new Response(page(info.title, "/docs/json", docs().whole()), { headers: HTML_HEADERS }), hide)
    .get("/docs/json", () => new Response(docs().whole().json, { headers: JSON_HEADERS }), hide)
    .get("/docs/assets/swagger-ui-bundle.js", () => asset(bundlePath, "text/javascript; charset=utf-8"), hide)
    .get("/docs/assets/swagger-ui.css", () => asset(cssPath, "text/css; charset=utf-8"), hide)
    .get("/docs/assets/init.js", () => new Response(INIT_JS, { headers: { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-cache" } }), hide)
    .get("/docs/:project", ({ params }) => new Response(page(`${params.project} — ${info.title}`, `/docs/${encodeURIComponent(params.project)}/json`, project(params.project)), { headers: HTML_HEADERS }), hide)
    .get("/docs/:project/json", ({ params }) => new Response(project(params.project).json, { headers: JSON_HEADERS }), hide);
}

function asset(path: string, type: string): Response {
  return new Response(Bun.file(path), { headers: { "content-type": type, "cache-control": ASSET_CACHE, "x-content-type-options": "nosniff" } });
}
