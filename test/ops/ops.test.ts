import { afterAll, describe, expect, test } from "bun:test";
import { inProcess } from "../helpers/gateway.ts";

const ADMIN = "admin-token-for-tests-0123456789";
// the GitHub pool (mounted at / by default) would answer unknown paths; these tests are about hubgate's own routes
const ctx = await inProcess(`[admin]\ntoken = "env:ADMIN_TOKEN"\n[github]\nenabled = false\n`, { ADMIN_TOKEN: ADMIN });
afterAll(() => ctx.gw.close());

describe("own HTTP surface", () => {
  test("GET /healthz", async () => {
    const r = await ctx.handle("/healthz");
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ status: "ok" });
  });

  test("GET /readyz is 200 while serving and 503 while draining", async () => {
    expect((await ctx.handle("/readyz")).status).toBe(200);
    ctx.gw.draining = true;
    const r = await ctx.handle("/readyz");
    ctx.gw.draining = false;
    expect(r.status).toBe(503);
    expect(await r.json()).toMatchObject({ status: "not_ready", checks: { draining: true } });
  });

  test("GET /stats reports config version, reloads and uptime", async () => {
    const body = (await (await ctx.handle("/stats")).json()) as Record<string, any>;
    expect(body.config.version).toBe(1);
    expect(body.config.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(body.reloads).toMatchObject({ count: 0, failures: 0, last_result: null });
    expect(typeof body.uptime_seconds).toBe("number");
  });

  test("GET /metrics is Prometheus text with route templates as labels", async () => {
    await ctx.handle("/healthz");
    await ctx.handle("/no/such/path/12345");
    await Bun.sleep(5); // onAfterResponse runs after the response is handed back
    const r = await ctx.handle("/metrics");
    expect(r.headers.get("content-type")).toContain("text/plain; version=0.0.4");
    const text = await r.text();
    expect(text).toContain("# TYPE hubgate_http_requests_total counter");
    expect(text).toMatch(/hubgate_http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/);
    expect(text).not.toContain("12345"); // raw paths never become labels
    expect(text).toContain("hubgate_config_version 1");
  });

  test("unknown routes get a JSON 404 with a stable code", async () => {
    const r = await ctx.handle("/nope");
    expect(r.status).toBe(404);
    expect(r.headers.get("content-type")).toContain("application/json");
    expect(await r.json()).toEqual({ error: "not_found", message: "No route matches this request" });
  });

  test("request ids: a well-formed one is echoed, anything else replaced", async () => {
    expect((await ctx.handle("/healthz", { headers: { "x-request-id": "abc-123" } })).headers.get("x-request-id")).toBe("abc-123");
    const replaced = (await ctx.handle("/healthz", { headers: { "x-request-id": "bad id\twith spaces" } })).headers.get("x-request-id");
    expect(replaced).toMatch(/^[0-9a-f-]{36}$/);
  });

  test("oversized headers get 431, oversized bodies 413, both as JSON", async () => {
    // (at the default 16 KiB Bun's server refuses larger heads itself; a lower limit is the app's to enforce)
    const small = await inProcess(`[server]\nmax_header_bytes = 4096\n[github]\nenabled = false\n`);
    const big = await small.handle("/healthz", { headers: { "x-big": "a".repeat(5_000) } });
    await small.gw.close();
    expect(big.status).toBe(431);
    expect(((await big.json()) as { error: string }).error).toBe("request_header_fields_too_large");
    const body = await ctx.handle("/admin/reload", { method: "POST", headers: { "content-length": String(11 * 1024 * 1024) } });
    expect(body.status).toBe(413);
  });

  test("admin API: 401 without or with a wrong token, works with the right one", async () => {
    const none = await ctx.handle("/admin/audit");
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toContain("Bearer");
    expect((await ctx.handle("/admin/audit", { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    const ok = await ctx.handle("/admin/audit?limit=5", { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(ok.status).toBe(200);
    expect(Array.isArray(((await ok.json()) as { events: unknown[] }).events)).toBe(true);
  });

  test("bad query input is a 400 with a code, not a 500", async () => {
    const r = await ctx.handle("/admin/audit?limit=abc", { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: string }).error).toBe("invalid_request");
  });

  test("no log line carries the admin token", () => {
    expect(ctx.lines.join("\n")).not.toContain(ADMIN);
  });
});

describe("admin API disabled without a token", async () => {
  const bare = await inProcess("");
  afterAll(() => bare.gw.close());
  test("403 admin_disabled", async () => {
    const r = await bare.handle("/admin/reload", { method: "POST" });
    expect(r.status).toBe(403);
    expect(((await r.json()) as { error: string }).error).toBe("admin_disabled");
  });
});
