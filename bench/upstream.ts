#!/usr/bin/env bun
/**
 * The benchmark upstream: 2 KB of JSON for any path (with a path-specific ETag and 304s), GET /user
 * for the pool's start-up, and a long-lived SSE stream at GET /mcp (an event at once, then a
 * heartbeat every 5 s). Prints its URL.
 */
const body = JSON.stringify({ data: "x".repeat(1950), ok: true });
const enc = new TextEncoder();
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.env.PORT ?? 0),
  idleTimeout: 0,
  fetch(req) {
    const path = new URL(req.url).pathname;
    if (path === "/mcp" && req.method === "GET") {
      let timer: ReturnType<typeof setInterval>;
      return new Response(
        new ReadableStream({
          start(c) {
            c.enqueue(enc.encode(`event: message\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"hello"}}\n\n`));
            timer = setInterval(() => c.enqueue(enc.encode(": heartbeat\n\n")), 5000);
          },
          cancel() {
            clearInterval(timer);
          },
        }),
        { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } },
      );
    }
    if (path === "/user") return Response.json({ login: "bench", id: 1 });
    if (path.startsWith("/.well-known/")) return new Response("not found", { status: 404 });
    const etag = `"${Bun.hash(path).toString(16)}"`;
    if (req.headers.get("if-none-match") === etag) return new Response(null, { status: 304, headers: { etag } });
    return new Response(body, { headers: { "content-type": "application/json", etag } });
  },
});
console.log(`http://127.0.0.1:${server.port}`);
export {};
