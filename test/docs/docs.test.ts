/** OpenAPI docs of the gateway's own routes, with the UI served from the binary (no CDN). */
import { afterAll, describe, expect, test } from "bun:test";
import { inProcess } from "../helpers/gateway.ts";

const ctx = await inProcess(`[github]\nenabled = false\n`);
afterAll(() => ctx.gw.close());

describe("docs", () => {
  test("/docs is a page that loads only same-origin assets, under a strict CSP", async () => {
    const r = await ctx.handle("/docs");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toContain("text/html");
    const csp = r.headers.get("content-security-policy")!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-eval");
    const html = await r.text();
    expect(html).toContain('src="/docs/assets/swagger-ui-bundle.js"');
    expect(html).toContain('href="/docs/assets/swagger-ui.css"');
    expect(html).not.toMatch(/(src|href)="https?:\/\//);
    expect(html).not.toContain("<script>"); // no inline script: the init is a file too
  });

  test("assets are embedded, with types and caching", async () => {
    for (const [path, type, min] of [
      ["/docs/assets/swagger-ui-bundle.js", "text/javascript", 500_000],
      ["/docs/assets/swagger-ui.css", "text/css", 50_000],
      ["/docs/assets/init.js", "text/javascript", 50],
    ] as const) {
      const r = await ctx.handle(path);
      expect(r.status, path).toBe(200);
      expect(r.headers.get("content-type")).toContain(type);
      expect((await r.arrayBuffer()).byteLength).toBeGreaterThan(min);
    }
    const init = await (await ctx.handle("/docs/assets/init.js")).text();
    expect(init).toContain('"/docs/json"');
  });

  test("/docs/json is OpenAPI 3 describing the own routes, not the docs themselves", async () => {
    const spec = (await (await ctx.handle("/docs/json")).json()) as { openapi: string; info: { title: string; version: string }; paths: Record<string, unknown> };
    expect(spec.openapi).toStartWith("3.");
    expect(spec.info.title).toBe("hubgate");
    for (const p of ["/healthz", "/readyz", "/stats", "/metrics", "/admin/tokens", "/oauth/callback", "/api/{project}/proxy/{slug}"]) expect(Object.keys(spec.paths), p).toContain(p);
    expect(Object.keys(spec.paths).some((p) => p.startsWith("/docs"))).toBe(false);
  });
});
