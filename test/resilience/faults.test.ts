/** Upstream faults: the gateway answers each one cleanly (a stable JSON error or the upstream's own answer) and keeps serving. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { listen } from "bun";
import { startGateway } from "../helpers/gateway.ts";
import { upstream } from "../helpers/upstream.ts";
import type { Running } from "../../src/root/serve.ts";

let gw: Running & { lines: string[] };
let base: string;
const huge = "x".repeat(8 * 1024 * 1024);
const up = upstream(async (req) => {
  const p = new URL(req.url).pathname;
  if (p === "/500") return new Response("boom", { status: 500 });
  if (p === "/503") return new Response("later", { status: 503, headers: { "retry-after": "3" } });
  if (p === "/slow-headers") return Bun.sleep(2000).then(() => new Response("late"));
  if (p === "/slow-body")
    return new Response(
      new ReadableStream({
        async start(c) {
          c.enqueue(new TextEncoder().encode("part1 "));
          await Bun.sleep(600); // longer than timeout: only the headers are bound by it
          c.enqueue(new TextEncoder().encode("part2"));
          c.close();
        },
      }),
    );
  if (p === "/malformed-json") return new Response('{"unterminated": ', { headers: { "content-type": "application/json" } });
  if (p === "/huge") return new Response(huge);
  return Response.json({ ok: true });
});

// a raw TCP upstream that sends headers and part of a body, then resets the connection
const reset = listen({
  hostname: "127.0.0.1",
  port: 0,
  socket: {
    data(sock) {
      sock.write("HTTP/1.1 200 OK\r\ncontent-length: 1000\r\ncontent-type: text/plain\r\n\r\nonly-part-of-it");
      setTimeout(() => sock.terminate(), 50);
    },
  },
});
// one that accepts and never answers
const silent = listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });

beforeAll(async () => {
  const ep = (slug: string, url: string, extra = "") => `[[projects.endpoints]]\nslug = "${slug}"\nupstream_url = "${url}"\nauth_mode = "none"\nallow_private = true\ntimeout = "400ms"\n${extra}\n`;
  gw = await startGateway(`[[projects]]\nid = "f"\n${ep("up", up.url)}${ep("refused", "http://127.0.0.1:9")}${ep("reset", `http://127.0.0.1:${reset.port}`)}${ep("silent", `http://127.0.0.1:${silent.port}`)}`);
  base = `${gw.url.href}api/f/proxy`;
});
afterAll(async () => {
  await gw.shutdown();
  up.stop();
  reset.stop(true);
  silent.stop(true);
});

const code = async (r: Response) => ((await r.json()) as { error: string }).error;

test("connection refused → 502 upstream_unreachable", async () => {
  const r = await fetch(`${base}/refused/x`);
  expect(r.status).toBe(502);
  expect(await code(r)).toBe("upstream_unreachable");
});

test("headers slower than the timeout → 504; a silent peer → 504", async () => {
  for (const path of ["/up/slow-headers", "/silent/x"]) {
    const r = await fetch(`${base}${path}`);
    expect(r.status).toBe(504);
    expect(await code(r)).toBe("upstream_timeout");
  }
});

test("a slow body after prompt headers streams through (the timeout bounds headers only)", async () => {
  const r = await fetch(`${base}/up/slow-body`);
  expect(r.status).toBe(200);
  expect(await r.text()).toBe("part1 part2");
});

test("reset mid-body: a small body of declared length that breaks off is a 502, never a truncated 200 nor a hang; the gateway keeps serving", async () => {
  // bodies of declared length up to 64 KiB are read whole before answering (see the request log), so the break is seen in time
  const r = await fetch(`${base}/reset/x`);
  expect(r.status).toBe(502);
  expect(await code(r)).toBe("upstream_unreachable");
  expect((await fetch(`${base}/up/ok`)).status).toBe(200);
});

test("5xx answers pass through unchanged; malformed and huge bodies are passed as they are", async () => {
  const a = await fetch(`${base}/up/500`);
  expect(a.status).toBe(500);
  expect(await a.text()).toBe("boom");
  const b = await fetch(`${base}/up/503`);
  expect(b.headers.get("retry-after")).toBe("3");
  expect(await (await fetch(`${base}/up/malformed-json`)).text()).toBe('{"unterminated": ');
  const h = await fetch(`${base}/up/huge`);
  expect((await h.arrayBuffer()).byteLength).toBe(huge.length);
});

test("after all of that: healthy, and no unhandled error was logged", async () => {
  expect((await fetch(`${gw.url.href}healthz`)).status).toBe(200);
  expect(gw.lines.some((l) => l.includes("unhandled error"))).toBe(false);
});

