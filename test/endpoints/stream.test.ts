/** Bun.serve's idle timeout would cut an event stream that stays quiet; the gateway exempts streams. */
import { expect, test } from "bun:test";
import { startGateway } from "../helpers/gateway.ts";
import { openEndpoint, upstream } from "../helpers/upstream.ts";

test("an SSE stream quiet for longer than server.idle_timeout survives (without the exemption Bun resets it at ~4 s)", async () => {
  const up = upstream(() => {
    const enc = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      async start(c) {
        c.enqueue(enc.encode("data: first\n\n"));
        await Bun.sleep(9000); // well past idle_timeout (1 s; Bun checks idle sockets every ~4 s)
        c.enqueue(enc.encode("data: second\n\n"));
        c.close();
      },
    });
    return new Response(body, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
  });
  const gw = await startGateway(`[server]\nport = 0\nidle_timeout = "1s"\n${openEndpoint("p", "sse", up.url)}`);
  try {
    const r = await fetch(`${gw.url.href}api/p/proxy/sse/events`);
    expect(r.headers.get("content-type")).toBe("text/event-stream");
    const text = await r.text();
    expect(text).toBe("data: first\n\ndata: second\n\n");
  } finally {
    await gw.shutdown();
    up.stop();
  }
}, 30_000);
