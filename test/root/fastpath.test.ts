/** Proxy traffic bypasses the router but not the pipeline: request ids, limits, JSON errors, metrics, access log. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startGateway } from "../helpers/gateway.ts";
import { openEndpoint, upstream } from "../helpers/upstream.ts";
import type { Running } from "../../src/root/serve.ts";

let gw: Running & { lines: string[] };
const up = upstream(() => Response.json({ ok: true }));
beforeAll(async () => {
  gw = await startGateway(`[server]\nport = 0\nmax_body_bytes = 2048\n[github]\nenabled = false\n${openEndpoint("p", "e", up.url)}`);
});
afterAll(async () => {
  await gw.shutdown();
  up.stop();
});

test("a proxied request keeps the request id, is counted under its route template and access-logged", async () => {
  const r = await fetch(`${gw.url.href}api/p/proxy/e/some/path?q=secret`, { headers: { "x-request-id": "trace-123" } });
  expect(r.status).toBe(200);
  expect(r.headers.get("x-request-id")).toBe("trace-123");
  const metrics = await (await fetch(`${gw.url.href}metrics`)).text();
  expect(metrics).toContain('hubgate_http_requests_total{method="GET",route="/api/:project/proxy/:slug/*",status="200"}');
  const line = gw.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.request_id === "trace-123");
  expect(line).toMatchObject({ msg: "request", route: "/api/:project/proxy/:slug/*", path: "/api/p/proxy/e/some/path", status: 200 });
  expect(JSON.stringify(line)).not.toContain("secret");
});

test("errors on the fast path have the one JSON shape: 404 endpoint, 413 body", async () => {
  const nf = await fetch(`${gw.url.href}api/p/proxy/nope/x`);
  expect(nf.status).toBe(404);
  expect(((await nf.json()) as { error: string }).error).toBe("endpoint_not_found");
  expect(nf.headers.get("x-request-id")).toBeString();
  const big = await fetch(`${gw.url.href}api/p/proxy/e/x`, { method: "POST", headers: { "content-type": "text/plain" }, body: "x".repeat(3000) });
  expect(big.status).toBe(413);
  expect(((await big.json()) as { error: string }).error).toBe("payload_too_large");
});

test("own routes and unknown paths still go through the app (GitHub pool disabled: 404)", async () => {
  expect((await fetch(`${gw.url.href}healthz`)).status).toBe(200);
  const r = await fetch(`${gw.url.href}repos/o/r`);
  expect(r.status).toBe(404);
  expect(((await r.json()) as { error: string }).error).toBe("not_found");
});
