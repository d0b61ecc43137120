/** Every row of the endpoint failure table, end to end against loopback upstreams. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startGateway } from "../helpers/gateway.ts";
import { upstream } from "../helpers/upstream.ts";
import { mintApiToken } from "../../src/crypto/apitoken.ts";
import type { Running } from "../../src/root/serve.ts";

describe("endpoint failure modes", () => {
  let gw: Running & { lines: string[] };
  let base: string;
  const ok = upstream((req) => Response.json({ path: new URL(req.url).pathname, auth: req.headers.get("authorization"), cookie: req.headers.get("cookie") }));
  const limited = upstream(() => new Response("slow down", { status: 429, headers: { "retry-after": "7", "x-ratelimit-remaining": "0", "x-custom": "kept" } }));
  const slow = upstream(async () => {
    await Bun.sleep(3000);
    return new Response("late");
  });
  const proxyToken = mintApiToken();
  const readOnly = mintApiToken();
  const otherProject = mintApiToken();
  const auth = (t: string) => ({ authorization: `Bearer ${t}` });

  beforeAll(async () => {
    const ep = (slug: string, url: string, extra = "") => `[[projects.endpoints]]\nslug = "${slug}"\nupstream_url = "${url}"\nallow_private = true\n${extra}\n`;
    gw = await startGateway(
      `[[oauth_connections]]
name = "never"
preset = "github"
client_id = "x"
client_secret = "env:CS"
[[projects]]
id = "p"
${ep("ok", ok.url, 'allowed_methods = ["GET", "POST"]')}
${ep("limited", limited.url)}
${ep("rl", ok.url, "rate_limit_per_minute = 2")}
${ep("slow", slow.url, 'timeout = "300ms"')}
${ep("down", "http://127.0.0.1:9")}
${ep("oauth", ok.url, 'oauth_connection = "never"')}
[[projects.endpoints]]
slug = "ssrf"
upstream_url = "${ok.url}"
[[projects.tokens]]
name = "proxy"
token = "env:T_PROXY"
scopes = ["proxy"]
[[projects.tokens]]
name = "reader"
token = "env:T_READ"
scopes = ["github:read"]
[[projects]]
id = "q"
${ep("ok", ok.url)}
[[projects.tokens]]
name = "q"
token = "env:T_Q"
scopes = ["proxy"]
`,
      { CS: "s", T_PROXY: proxyToken, T_READ: readOnly, T_Q: otherProject },
    );
    base = `${gw.url.href}api/p/proxy`;
  });
  afterAll(async () => {
    await gw.shutdown();
    for (const u of [ok, limited, slow]) u.stop();
  });

  const err = async (r: Response) => ((await r.json()) as { error: string; message: string }).error;

  test("happy path: client credentials stripped before forwarding", async () => {
    const r = await fetch(`${base}/ok/a/b?x=1`, { headers: { ...auth(proxyToken), cookie: "session=1" } });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ path: "/a/b", auth: null, cookie: null });
  });

  test("connection never connected → 502", async () => {
    const r = await fetch(`${base}/oauth/x`, { headers: auth(proxyToken) });
    expect(r.status).toBe(502);
    expect(await err(r)).toBe("oauth_connection_failed");
  });

  test("upstream 429 passes through with its headers", async () => {
    const r = await fetch(`${base}/limited/x`, { headers: auth(proxyToken) });
    expect(r.status).toBe(429);
    expect(r.headers.get("retry-after")).toBe("7");
    expect(r.headers.get("x-custom")).toBe("kept");
    expect(await r.text()).toBe("slow down");
  });

  test("token lacks scope → 403; token for another project → 403", async () => {
    const a = await fetch(`${base}/ok/x`, { headers: auth(readOnly) });
    expect(a.status).toBe(403);
    expect(await err(a)).toBe("insufficient_scope");
    const b = await fetch(`${base}/ok/x`, { headers: auth(otherProject) });
    expect(b.status).toBe(403);
    expect(await err(b)).toBe("wrong_project");
  });

  test("missing, malformed, unknown and revoked tokens → 401 with WWW-Authenticate", async () => {
    const missing = await fetch(`${base}/ok/x`);
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toStartWith("Bearer");
    const malformed = await fetch(`${base}/ok/x`, { headers: auth("not-a-token") });
    expect(malformed.status).toBe(401);
    expect(malformed.headers.get("www-authenticate")).toContain('error="invalid_token"');
    expect((await fetch(`${base}/ok/x`, { headers: auth(mintApiToken()) })).status).toBe(401);
    const { createApiToken, revokeApiToken } = await import("../../src/tokens/service.ts");
    const created = await createApiToken(gw.gw, { project: "p", name: "temp", scopes: ["proxy"], actor: "test" });
    expect((await fetch(`${base}/ok/x`, { headers: auth(created.token) })).status).toBe(200);
    await revokeApiToken(gw.gw, created.row.id, "test");
    const revoked = await fetch(`${base}/ok/x`, { headers: auth(created.token) });
    expect(revoked.status).toBe(401);
    expect(revoked.headers.get("www-authenticate")).toContain("invalid_token");
    const expired = await createApiToken(gw.gw, { project: "p", name: "short", scopes: ["proxy"], expiresInMs: 1, actor: "test" });
    await Bun.sleep(5);
    expect((await fetch(`${base}/ok/x`, { headers: auth(expired.token) })).status).toBe(401);
  });

  test("method not allowed → 405 with Allow", async () => {
    const r = await fetch(`${base}/ok/x`, { method: "DELETE", headers: auth(proxyToken) });
    expect(r.status).toBe(405);
    expect(r.headers.get("allow")).toBe("GET, POST, HEAD");
  });

  test("over rate_limit_per_minute → 429 with retry-after and x-ratelimit-*", async () => {
    const rs = [];
    for (let i = 0; i < 3; i++) rs.push(await fetch(`${base}/rl/x`, { headers: auth(proxyToken) }));
    expect(rs.map((r) => r.status)).toEqual([200, 200, 429]);
    expect(rs[0]!.headers.get("x-ratelimit-limit")).toBe("2");
    expect(rs[0]!.headers.get("x-ratelimit-remaining")).toBe("1");
    const last = rs[2]!;
    expect(Number(last.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(last.headers.get("x-ratelimit-remaining")).toBe("0");
    expect(await err(last)).toBe("rate_limited");
  });

  test("upstream unreachable → 502; upstream too slow → 504", async () => {
    const down = await fetch(`${base}/down/x`, { headers: auth(proxyToken) });
    expect(down.status).toBe(502);
    expect(await err(down)).toBe("upstream_unreachable");
    const t0 = performance.now();
    const late = await fetch(`${base}/slow/x`, { headers: auth(proxyToken) });
    expect(late.status).toBe(504);
    expect(await err(late)).toBe("upstream_timeout");
    expect(performance.now() - t0).toBeLessThan(2500);
  });

  test("SSRF-refused upstream (loopback without allow_private) → 403, logged", async () => {
    const r = await fetch(`${base}/ssrf/x`, { headers: auth(proxyToken) });
    expect(r.status).toBe(403);
    expect(await err(r)).toBe("ssrf_refused");
    expect(gw.lines.some((l) => l.includes("SSRF guard refused"))).toBe(true);
  });

  test("every proxied request is in the request log, with status, bytes and token id", async () => {
    await fetch(`${base}/ok/logged?secret=1`, { headers: auth(proxyToken) });
    await Bun.sleep(20);
    const logs = (await gw.gw.requestLog.list({ limit: 100 }));
    const row = logs.find((l) => l.path === "/logged")!;
    expect(row).toMatchObject({ project: "p", endpoint: "ok", method: "GET", status: 200, tokenId: "config:p/proxy" });
    expect(row.bytes).toBeGreaterThan(10);
    expect(logs.some((l) => l.endpoint === "ssrf" && l.status === 403 && l.error === "ssrf_refused")).toBe(true);
    expect(JSON.stringify(logs)).not.toContain("secret=1");
  });
});
