/**
 * The one guarded way out to the network (src/proxy/outbound.ts), and every feature that calls out
 * through it: nothing reaches an address the declaring section did not allow, connections go to the
 * checked address, bodies and time are bounded, redirects are followed only on request and each hop
 * is checked like the first.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { guardedFetch, request } from "../../src/proxy/outbound.ts";
import { GatewayError } from "../../src/core/errors.ts";
import { exchangeCode, refreshGrant, revoke, OAuthError } from "../../src/oauth/client.ts";
import { upstreamConnection } from "../../src/mcp/discovery.ts";
import { inProcess, ROOT } from "../helpers/gateway.ts";
import { loopbackConnection, upstream } from "../helpers/upstream.ts";

const stops: (() => void)[] = [];
afterAll(() => stops.forEach((s) => s()));

/** A loopback server that counts what reaches it. */
function counted(handler: (req: Request) => Response | Promise<Response>) {
  const seen: string[] = [];
  const u = upstream((req) => (seen.push(new URL(req.url).pathname), handler(req)));
  stops.push(u.stop);
  return { url: u.url, port: Number(new URL(u.url).port), seen };
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error("expected a failure");
    },
    (e: unknown) => e as GatewayError,
  );

describe("request: the gateway's own calls", () => {
  test("a private address is refused before any connection unless allowPrivate", async () => {
    const s = counted(() => Response.json({ ok: true }));
    const e = await failure(request(`${s.url}/x`, {}, { allowPrivate: false, timeoutMs: 2000, maxBytes: 1000 }));
    expect([e.status, e.code]).toEqual([403, "ssrf_refused"]);
    const viaName = await failure(
      request(`http://inside.invalid:${s.port}/x`, {}, { allowPrivate: false, timeoutMs: 2000, maxBytes: 1000, lookup: async () => ["127.0.0.1"] }),
    );
    expect(viaName.code).toBe("ssrf_refused");
    expect(s.seen).toHaveLength(0);
    const ok = await request(`${s.url}/x`, {}, { allowPrivate: true, timeoutMs: 2000, maxBytes: 1000 });
    expect(await ok.json()).toEqual({ ok: true });
  });

  test("the connection goes to the checked address, with the name in Host (one lookup)", async () => {
    const s = counted((req) => new Response(req.headers.get("host")));
    let lookups = 0;
    const lookup = async () => (lookups++, ["127.0.0.1"]);
    const res = await request(`http://named.invalid:${s.port}/`, {}, { allowPrivate: true, timeoutMs: 2000, maxBytes: 1000, lookup });
    expect(await res.text()).toBe(`named.invalid:${s.port}`);
    expect(lookups).toBe(1);
  });

  test("a body over maxBytes is refused (declared or streamed) → 502 upstream_too_large", async () => {
    const big = "x".repeat(5000);
    const declared = counted(() => new Response(big));
    const streamed = counted(
      () =>
        new Response(
          new ReadableStream({
            start(c) {
              for (let i = 0; i < 10; i++) c.enqueue(new TextEncoder().encode(big));
              c.close();
            },
          }),
        ),
    );
    for (const s of [declared, streamed]) {
      const e = await failure(request(s.url, {}, { allowPrivate: true, timeoutMs: 2000, maxBytes: 4096 }));
      expect([e.status, e.code]).toEqual([502, "upstream_too_large"]);
    }
    expect(await (await request(declared.url, {}, { allowPrivate: true, timeoutMs: 2000, maxBytes: 5000 })).text()).toHaveLength(5000);
  });

  test("the time limit covers the body too: a stalled body → 504 upstream_timeout, promptly", async () => {
    const s = counted(
      () =>
        new Response(
          new ReadableStream({
            start(c) {
              c.enqueue(new TextEncoder().encode("{"));
            },
          }),
        ),
    );
    const t0 = performance.now();
    const e = await failure(request(s.url, {}, { allowPrivate: true, timeoutMs: 300, maxBytes: 1000 }));
    expect([e.status, e.code]).toEqual([504, "upstream_timeout"]);
    expect(performance.now() - t0).toBeLessThan(1500);
  });

  test("a compressed answer comes back decoded, without the coding headers that no longer describe it", async () => {
    const body = Bun.gzipSync(new TextEncoder().encode(JSON.stringify({ hello: "world" })));
    const s = counted(() => new Response(body, { headers: { "content-encoding": "gzip", "content-type": "application/json" } }));
    const res = await request(s.url, { headers: { "accept-encoding": "gzip" } }, { allowPrivate: true, timeoutMs: 2000, maxBytes: 1000 });
    expect(res.headers.get("content-encoding")).toBeNull();
    expect(await res.json()).toEqual({ hello: "world" });
  });
});

describe("redirects", () => {
  test("not followed unless asked: the 3xx comes back as it is", async () => {
    const s = counted((req) => (new URL(req.url).pathname === "/old" ? Response.redirect("/new", 302) : new Response("landed")));
    const res = await request(`${s.url}/old`, {}, { allowPrivate: true, timeoutMs: 2000, maxBytes: 1000 });
    expect(res.status).toBe(302);
    expect(s.seen).toHaveLength(1);
  });

  test("when followed, every hop is resolved, checked and pinned like the first; credentials stay on their origin", async () => {
    const second = counted((req) => Response.json({ host: req.headers.get("host"), auth: req.headers.get("authorization") }));
    const first = counted(() => Response.redirect(`http://second.invalid:${second.port}/there`, 307));
    const looked: string[] = [];
    const lookup = async (h: string) => (looked.push(h), ["127.0.0.1"]);
    const res = await request(`${first.url}/here`, { headers: { authorization: "Bearer secret" } }, { allowPrivate: true, timeoutMs: 2000, maxBytes: 1000, maxRedirects: 3, lookup });
    expect(await res.json()).toEqual({ host: `second.invalid:${second.port}`, auth: null });
    expect(looked).toEqual(["second.invalid"]);
    // the second hop goes through the guard: a name it cannot resolve, a scheme it does not allow
    const toUnknown = counted(() => Response.redirect("http://nowhere.invalid/", 302));
    const unresolvable = async () => {
      throw new Error("ENOTFOUND");
    };
    expect((await failure(request(toUnknown.url, {}, { allowPrivate: true, timeoutMs: 2000, maxBytes: 1000, maxRedirects: 3, lookup: unresolvable }))).code).toBe("upstream_unreachable");
    const toFile = counted(() => new Response(null, { status: 302, headers: { location: "file:///etc/passwd" } }));
    expect((await failure(request(toFile.url, {}, { allowPrivate: true, timeoutMs: 2000, maxBytes: 1000, maxRedirects: 3 }))).code).toBe("ssrf_refused");
  });

  test("the hop count is bounded", async () => {
    const loop = counted((req) => Response.redirect(new URL(req.url).pathname + "x", 302));
    const res = await request(`${loop.url}/`, {}, { allowPrivate: true, timeoutMs: 2000, maxBytes: 1000, maxRedirects: 2 });
    expect(res.status).toBe(302);
    expect(loop.seen).toHaveLength(3);
  });
});

test("guardedFetch honours the caller's timeout signal (the upstream request is cut, not left running) and the policy", async () => {
  const cut = Promise.withResolvers<void>();
  const s = counted(async (req) => {
    req.signal.addEventListener("abort", () => cut.resolve());
    await Bun.sleep(5000);
    return new Response("late");
  });
  const f = guardedFetch({ allowPrivate: true, maxBytes: 1000 });
  await expect(f(s.url, { signal: AbortSignal.timeout(100) })).rejects.toMatchObject({ name: "TimeoutError" });
  await cut.promise; // the upstream saw its client go away
  const strict = guardedFetch({ allowPrivate: false, maxBytes: 1000 });
  await expect(strict(s.url)).rejects.toMatchObject({ code: "ssrf_refused" });
});

describe("every feature calls out through the guard", () => {
  test("no file in src/ but the outbound client calls fetch( itself", () => {
    const files: string[] = [];
    const walk = (d: string) => {
      for (const n of readdirSync(d)) {
        const p = join(d, n);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith(".ts")) files.push(p);
      }
    };
    walk(join(ROOT, "src"));
    const callers = files.filter((f) => /(^|[^A-Za-z0-9_.])fetch\(/m.test(readFileSync(f, "utf8"))).map((f) => f.slice(ROOT.length + 1));
    expect(callers).toEqual(["src/proxy/outbound.ts"]);
  });

  const conn = (url: string, allowPrivate: boolean) => loopbackConnection(url, { allowPrivate });

  test("OAuth connections: token, refresh and revocation on a private address need the connection's allow_private; the secret is never sent", async () => {
    const idp = counted(() => Response.json({ access_token: "at", refresh_token: "rt", token_type: "bearer", expires_in: 60 }));
    for (const call of [
      () => exchangeCode(conn(idp.url, false), "code", "http://gw/cb", "verifier"),
      () => refreshGrant(conn(idp.url, false), "rt"),
      () => revoke(conn(idp.url, false), "rt", "refresh_token"),
    ]) {
      const e = (await failure(call())) as unknown as OAuthError;
      expect(e).toBeInstanceOf(OAuthError);
      expect(e.error).toBe("ssrf_refused");
      expect(e.message).toContain("allow_private");
    }
    expect(idp.seen).toHaveLength(0);
    expect((await exchangeCode(conn(idp.url, true), "code", "http://gw/cb", "verifier")).accessToken).toBe("at");
  });

  test("[[oauth_connections]] allow_private is a config key (default false)", async () => {
    const { gw } = await inProcess(`[[oauth_connections]]\nname = "a"\nauthorization_url = "https://idp.example/auth"\ntoken_url = "https://idp.example/token"\nclient_id = "x"\n[[oauth_connections]]\nname = "b"\nauthorization_url = "http://127.0.0.1:1/auth"\ntoken_url = "http://127.0.0.1:1/token"\nclient_id = "x"\nallow_private = true\n`);
    const conns = gw.routes.current().connections;
    expect([conns.get("a")!.allowPrivate, conns.get("b")!.allowPrivate]).toEqual([false, true]);
    await gw.close();
  });

  test("GitHub identities: GET /user on a private api_url is never sent a PAT without [github] allow_private", async () => {
    const api = counted(() => Response.json({ login: "octo", id: 1 }));
    const body = (allow: boolean) =>
      `[github]\napi_url = "${api.url}"\nallow_private = ${allow}\n[[github.identities]]\nid = "one"\ntoken = "ghp_${"a".repeat(36)}"\n`;
    const strict = await inProcess(body(false));
    await Promise.allSettled(strict.gw.startupTasks);
    expect(api.seen).toHaveLength(0);
    expect(strict.lines.some((l) => l.includes("ssrf") || l.includes("allow_private"))).toBe(true);
    await strict.gw.close();
    const allowed = await inProcess(body(true));
    await Promise.allSettled(allowed.gw.startupTasks);
    expect(api.seen).toEqual(["/user"]);
    await allowed.gw.close();
  });

  test("MCP discovery: an upstream on a private address without allow_private is not contacted at all", async () => {
    const up = counted(() => new Response(null, { status: 401, headers: { "www-authenticate": 'Bearer resource_metadata="http://127.0.0.1:1/prm"' } }));
    const hash = await Bun.password.hash("pw-for-tests", { algorithm: "argon2id" });
    const { gw } = await inProcess(`[[mcp.users]]\nusername = "a"\npassword_hash = "${hash}"\n[[mcp.upstreams]]\nname = "u"\nurl = "${up.url}/mcp"\n`);
    const route = gw.routes.current().mcpUpstreams.get("u")!;
    const discovery = { oauth: gw.oauth, flights: gw.state.flights, table: () => gw.routes.current(), sealedKv: gw.store.sealedKv, audit: gw.store.audit };
    const e = await failure(upstreamConnection(discovery, route));
    expect(e.code).toBe("ssrf_refused");
    expect(up.seen).toHaveLength(0);
    await gw.close();
  });
});
