#!/usr/bin/env bun
/**
 * The baseline: the smallest Bun.serve + fetch reverse proxy (no auth, no checks, no logs). Prints its
 * URL. PORT and REUSE_PORT=1 let several of them share one port (the "N processes" baseline).
 */
const target = process.argv[2]!;
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.env.PORT ?? 0),
  reusePort: process.env.REUSE_PORT === "1",
  fetch(req) {
    const u = new URL(req.url);
    return fetch(target + u.pathname + u.search, { method: req.method, headers: { accept: req.headers.get("accept") ?? "*/*" }, decompress: false } as RequestInit);
  },
});
console.log(`http://127.0.0.1:${server.port}`);
export {};
