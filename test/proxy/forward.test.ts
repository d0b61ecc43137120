import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { forward, type ForwardOptions } from "../../src/proxy/forward.ts";
import { joinUpstream } from "../../src/proxy/path.ts";
import { GatewayError } from "../../src/core/errors.ts";

type Handler = (req: Request) => Response | Promise<Response>;
const servers: { stop(force?: boolean): unknown }[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.stop(true);
});
afterAll(() => {
  for (const s of servers.splice(0)) s.stop(true);
});

function upstream(fetch: Handler): string {
  const s = Bun.serve({ hostname: "127.0.0.1", port: 0, idleTimeout: 0, fetch });
  servers.push(s);
  return `http://127.0.0.1:${s.port}`;
}

/** A gateway in front of `base` that forwards every request with `opts`; errors become their JSON responses. */
function gateway(base: string, opts: Partial<ForwardOptions> = {}): string {
  const s = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    fetch: (req) => {
      const u = new URL(req.url);
      return forward(req, joinUpstream(base, u.pathname, u.search), { timeoutMs: 2000, allowPrivate: true, signal: req.signal, ...opts }).catch(
        (e: unknown) => (e instanceof GatewayError ? e.toResponse() : new Response(String(e), { status: 500 })),
      );
    },
  });
  servers.push(s);
  return `http://127.0.0.1:${s.port}`;
}

const echoHeaders: Handler = (req) => Response.json(Object.fromEntries(req.headers));

async function failure(p: Promise<unknown>): Promise<GatewayError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof GatewayError) return e;
    throw e;
  }
  throw new Error("expected a GatewayError");
}

describe("request headers", () => {
  test("hop-by-hop, host, content-length, client auth and x-hubgate-* are dropped; injected headers set; via added", async () => {
    const base = upstream(echoHeaders);
    const req = new Request("http://gateway.local/x", {
      headers: {
        host: "gateway.local", connection: "keep-alive, x-conn-listed", "x-conn-listed": "1", "keep-alive": "timeout=5",
        "proxy-connection": "keep-alive", te: "trailers", trailer: "x-t", upgrade: "websocket", "content-length": "0",
        authorization: "Bearer client", cookie: "s=1", "proxy-authorization": "Basic x", "x-api-key": "k",
        "x-hubgate-token": "t", "x-keep": "yes", "x-override": "client",
      },
    });
    const res = await forward(req, new URL(`${base}/x`), { timeoutMs: 2000, allowPrivate: true, headers: { "x-override": "gw", "x-injected": "1" } });
    const seen = (await res.json()) as Record<string, string>;
    // (fetch sends its own `connection: keep-alive`; the client's Connection and what it lists are gone)
    expect(seen.connection).not.toContain("x-conn-listed");
    for (const h of ["x-conn-listed", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "authorization",
      "cookie", "proxy-authorization", "x-api-key", "x-hubgate-token"])
      expect(seen[h]).toBeUndefined();
    expect(seen.host).toBe(new URL(base).host); // the upstream sees its own host, not the client's
    expect(seen["x-keep"]).toBe("yes");
    expect(seen["x-override"]).toBe("gw");
    expect(seen["x-injected"]).toBe("1");
    expect(seen.via).toBe("1.1 hubgate");
    expect(seen["accept-encoding"]).toBe("identity"); // none from the client, none added by fetch
  });

  test("stripAuth false passes the client's credentials but still drops x-hubgate-*; injected authorization wins", async () => {
    const base = upstream(echoHeaders);
    const req = new Request("http://gw/x", { headers: { authorization: "token gh", cookie: "c=1", "x-hubgate-secret": "s", "accept-encoding": "br" } });
    const seen = (await (await forward(req, new URL(base), { timeoutMs: 2000, allowPrivate: true, stripAuth: false })).json()) as Record<string, string>;
    expect(seen.authorization).toBe("token gh");
    expect(seen.cookie).toBe("c=1");
    expect(seen["x-hubgate-secret"]).toBeUndefined();
    expect(seen["accept-encoding"]).toBe("br");
    const injected = (await (await forward(req, new URL(base), { timeoutMs: 2000, allowPrivate: true, headers: { authorization: "Bearer up" } })).json()) as Record<string, string>;
    expect(injected.authorization).toBe("Bearer up");
  });
});

describe("content encoding", () => {
  const text = "hello gzip world ".repeat(500);
  const gz = Bun.gzipSync(new TextEncoder().encode(text));
  const gzipUpstream = () =>
    upstream((req) => new Response(gz, { headers: { "content-encoding": "gzip", "content-type": "text/plain", "x-ae": req.headers.get("accept-encoding") ?? "" } }));

  test("Bun's fetch honours decompress:false (raw bytes, no Accept-Encoding of its own)", async () => {
    const res = await fetch(gzipUpstream(), { decompress: false } as RequestInit);
    expect(res.headers.get("x-ae")).toBe("");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(gz);
  });

  test("gzip passes through byte for byte, consistent with content-encoding and content-length", async () => {
    const gw = gateway(gzipUpstream());
    const res = await fetch(`${gw}/`, { headers: { "accept-encoding": "gzip" }, decompress: false } as RequestInit);
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(res.headers.get("x-ae")).toBe("gzip");
    expect(res.headers.get("content-encoding")).toBe("gzip");
    if (res.headers.has("content-length")) expect(Number(res.headers.get("content-length"))).toBe(bytes.length);
    expect(new TextDecoder().decode(Bun.gunzipSync(bytes))).toBe(text);
    // an ordinary client (fetch decompressing by default) reads the text
    expect(await (await fetch(`${gw}/`)).text()).toBe(text);
  });
});

describe("bodies", () => {
  test("request body is streamed to the upstream intact (1 MiB), with the client's content-length", async () => {
    const base = upstream(async (req) => {
      const b = new Uint8Array(await req.arrayBuffer());
      return Response.json({ len: b.length, hash: Bun.hash(b).toString(), cl: req.headers.get("content-length"), method: req.method });
    });
    const payload = crypto.getRandomValues(new Uint8Array(1 << 20));
    const res = await fetch(`${gateway(base)}/upload`, { method: "PUT", body: payload });
    expect(await res.json()).toEqual({ len: payload.length, hash: Bun.hash(payload).toString(), cl: String(payload.length), method: "PUT" } as never);
  });

  test("a streamed request body of unknown length arrives intact; GET sends none; body override wins", async () => {
    const base = upstream(async (req) => new Response(`${req.method}:${await req.text()}`));
    const gw = gateway(base);
    const stream = new ReadableStream<Uint8Array>({
      async start(c) {
        c.enqueue(new TextEncoder().encode("part1,"));
        await Bun.sleep(50);
        c.enqueue(new TextEncoder().encode("part2"));
        c.close();
      },
    });
    expect(await (await fetch(`${gw}/`, { method: "POST", body: stream, duplex: "half" } as RequestInit)).text()).toBe("POST:part1,part2");
    expect(await (await fetch(`${gw}/`)).text()).toBe("GET:");
    const r = await forward(new Request("http://gw/", { method: "POST", body: "orig" }), new URL(base), { timeoutMs: 2000, allowPrivate: true, body: "override" });
    expect(await r.text()).toBe("POST:override");
  });

  test("response streams through: the client reads chunk 1 before the upstream sends chunk 2", async () => {
    let secondSentAt = 0;
    const base = upstream(
      () =>
        new Response(
          new ReadableStream<Uint8Array>({
            async start(c) {
              c.enqueue(new TextEncoder().encode("first"));
              await Bun.sleep(300);
              secondSentAt = performance.now();
              c.enqueue(new TextEncoder().encode("second"));
              c.close();
            },
          }),
          { headers: { "content-type": "text/event-stream" } },
        ),
    );
    const res = await fetch(`${gateway(base, { timeoutMs: 100 })}/`); // timeoutMs bounds headers only, not the 300 ms body
    const reader = res.body!.getReader();
    const first = await reader.read();
    const firstAt = performance.now();
    expect(new TextDecoder().decode(first.value)).toBe("first");
    let rest = "";
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += new TextDecoder().decode(r.value);
    expect(rest).toBe("second");
    expect(secondSentAt).toBeGreaterThan(0);
    expect(firstAt).toBeLessThan(secondSentAt);
  });

  test("HEAD returns no body", async () => {
    const base = upstream(() => new Response("abc", { headers: { "x-h": "1" } }));
    const res = await forward(new Request("http://gw/", { method: "HEAD" }), new URL(base), { timeoutMs: 2000, allowPrivate: true });
    expect(res.headers.get("x-h")).toBe("1");
    expect(await res.text()).toBe("");
  });
});

describe("response headers and status", () => {
  test("status, statusText and every set-cookie are kept; hop-by-hop headers stripped", async () => {
    const base = upstream(() => {
      const h = new Headers({ connection: "x-secret", "x-secret": "1", "x-kept": "1", "proxy-authenticate": "Basic" });
      h.append("set-cookie", "a=1; Path=/; HttpOnly");
      h.append("set-cookie", "b=2; Expires=Wed, 21 Oct 2037 07:28:00 GMT");
      return new Response("short and stout", { status: 418, headers: h });
    });
    const res = await forward(new Request("http://gw/"), new URL(base), { timeoutMs: 2000, allowPrivate: true });
    expect(res.status).toBe(418);
    expect(res.statusText).toBe("I'm a Teapot");
    expect(res.headers.getSetCookie()).toEqual(["a=1; Path=/; HttpOnly", "b=2; Expires=Wed, 21 Oct 2037 07:28:00 GMT"]);
    expect(res.headers.get("x-secret")).toBeNull();
    expect(res.headers.get("proxy-authenticate")).toBeNull();
    expect(res.headers.get("x-kept")).toBe("1");
  });

  test("a custom reason phrase from the wire is kept (Bun.serve cannot send one, so a raw socket does)", async () => {
    const l = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data(sock) {
          sock.write("HTTP/1.1 418 Teapot Custom\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
          sock.end();
        },
      },
    });
    servers.push(l);
    const res = await forward(new Request("http://gw/"), new URL(`http://127.0.0.1:${l.port}/`), { timeoutMs: 2000, allowPrivate: true });
    expect([res.status, res.statusText, await res.text()]).toEqual([418, "Teapot Custom", "ok"]);
  });

  test("redirects pass through by default and are followed on request", async () => {
    const base = upstream((req) =>
      new URL(req.url).pathname === "/old" ? new Response(null, { status: 302, headers: { location: "/new" } }) : new Response("landed"),
    );
    const res = await forward(new Request("http://gw/old"), new URL(`${base}/old`), { timeoutMs: 2000, allowPrivate: true });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/new");
    const followed = await forward(new Request("http://gw/old"), new URL(`${base}/old`), { timeoutMs: 2000, allowPrivate: true, followRedirects: true });
    expect(followed.status).toBe(200);
    expect(await followed.text()).toBe("landed");
  });
});

describe("failures", () => {
  test("no response headers within timeoutMs → 504 upstream_timeout, promptly", async () => {
    const base = upstream(async () => (await Bun.sleep(1500), new Response("late")));
    const t0 = performance.now();
    const e = await failure(forward(new Request("http://gw/"), new URL(base), { timeoutMs: 200, allowPrivate: true }));
    expect([e.status, e.code]).toEqual([504, "upstream_timeout"]);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  test("connection refused and DNS failure → 502 upstream_unreachable", async () => {
    const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
    const port = s.port;
    s.stop(true);
    const refused = await failure(forward(new Request("http://gw/"), new URL(`http://127.0.0.1:${port}/`), { timeoutMs: 2000, allowPrivate: true }));
    expect([refused.status, refused.code]).toEqual([502, "upstream_unreachable"]);
    const lookup = async () => {
      throw new Error("ENOTFOUND");
    };
    const dns = await failure(forward(new Request("http://gw/"), new URL("http://no-such-host.invalid/"), { timeoutMs: 2000, allowPrivate: false, lookup }));
    expect([dns.status, dns.code]).toEqual([502, "upstream_unreachable"]);
  });

  test("SSRF guard refuses private upstreams before connecting (403) unless allowPrivate", async () => {
    let hits = 0;
    const base = upstream(() => (hits++, new Response("ok")));
    const e = await failure(forward(new Request("http://gw/"), new URL(base), { timeoutMs: 2000, allowPrivate: false }));
    expect([e.status, e.code]).toEqual([403, "ssrf_refused"]);
    const viaName = await failure(forward(new Request("http://gw/"), new URL(base.replace("127.0.0.1", "internal.test")), {
      timeoutMs: 2000, allowPrivate: false, lookup: async () => ["93.184.216.34", "127.0.0.1"],
    }));
    expect(viaName.code).toBe("ssrf_refused");
    expect(hits).toBe(0);
    expect((await forward(new Request("http://gw/"), new URL(base), { timeoutMs: 2000, allowPrivate: true })).status).toBe(200);
    const ftp = await failure(forward(new Request("http://gw/"), new URL("ftp://127.0.0.1/"), { timeoutMs: 2000, allowPrivate: true }));
    expect(ftp.code).toBe("ssrf_refused");
  });
});

describe("client abort", () => {
  test("aborting before headers aborts the upstream request", async () => {
    const upstreamAborted = Promise.withResolvers<boolean>();
    const base = upstream(async (req) => {
      req.signal.addEventListener("abort", () => upstreamAborted.resolve(true));
      await Bun.sleep(3000);
      return new Response("late");
    });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const e = await failure(forward(new Request("http://gw/"), new URL(base), { timeoutMs: 5000, allowPrivate: true, signal: ac.signal }));
    expect(e.code).toBe("client_closed");
    expect(await Promise.race([upstreamAborted.promise, Bun.sleep(2000).then(() => false)])).toBe(true);
  });

  test("a client leaving mid-stream aborts the upstream's streaming response", async () => {
    const upstreamAborted = Promise.withResolvers<boolean>();
    const base = upstream((req) => {
      req.signal.addEventListener("abort", () => upstreamAborted.resolve(true));
      let timer: Timer | undefined;
      return new Response(
        new ReadableStream<Uint8Array>({
          start(c) {
            timer = setInterval(() => c.enqueue(new TextEncoder().encode("data: tick\n\n")), 50);
          },
          cancel() {
            clearInterval(timer);
            upstreamAborted.resolve(true);
          },
        }),
        { headers: { "content-type": "text/event-stream" } },
      );
    });
    const ac = new AbortController();
    const res = await fetch(`${gateway(base)}/`, { signal: ac.signal });
    const reader = res.body!.getReader();
    await reader.read();
    ac.abort();
    expect(await Promise.race([upstreamAborted.promise, Bun.sleep(2000).then(() => false)])).toBe(true);
  });
});

describe("DNS pinning", () => {
  test("connects to the address the guard checked, with the name in Host: no second lookup, no rebinding window", async () => {
    const base = upstream(echoHeaders);
    const port = new URL(base).port;
    let lookups = 0;
    // "rebind.invalid" does not exist in DNS: the request can only succeed if fetch uses the checked IP
    const lookup = async () => {
      lookups++;
      return ["127.0.0.1"];
    };
    const res = await forward(new Request("http://gw/x"), new URL(`http://rebind.invalid:${port}/x`), { timeoutMs: 2000, allowPrivate: true, lookup });
    expect(res.status).toBe(200);
    const seen = (await res.json()) as Record<string, string>;
    expect(seen.host).toBe(`rebind.invalid:${port}`);
    expect(lookups).toBe(1);
  });

  test("a name that resolves to a private address is refused before any connection", async () => {
    let hits = 0;
    const base = upstream(() => {
      hits++;
      return new Response("reached");
    });
    const port = new URL(base).port;
    const err = await failure(forward(new Request("http://gw/"), new URL(`http://internal.invalid:${port}/`), { timeoutMs: 2000, allowPrivate: false, lookup: async () => ["127.0.0.1"] }));
    expect(err.code).toBe("ssrf_refused");
    expect(hits).toBe(0);
  });
});
