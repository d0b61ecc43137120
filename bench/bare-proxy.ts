#!/usr/bin/env bun
/** The baseline: the smallest Bun.serve + fetch reverse proxy (no auth, no checks, no logs). Prints its URL. */
const target = process.argv[2]!;
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(req) {
    const u = new URL(req.url);
    return fetch(target + u.pathname + u.search, { method: req.method, headers: { accept: req.headers.get("accept") ?? "*/*" }, decompress: false } as RequestInit);
  },
});
console.log(`http://127.0.0.1:${server.port}`);
export {};
