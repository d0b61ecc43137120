#!/usr/bin/env bun
/**
 * What the one redaction rule (src/core/redact.ts) costs per string and per log line: `bun bench/redact.ts`.
 * Every access-log line and every request-log row goes through it, so the common case — nothing to
 * redact — must stay cheap. Each figure is the best of 5 runs (the cores are shared).
 */
import { redact, redactString } from "../src/core/redact.ts";
import { Logger } from "../src/core/log.ts";

function perOp(label: string, n: number, fn: () => unknown): void {
  for (let i = 0; i < Math.min(n, 20_000); i++) fn(); // warm-up (JIT)
  let best = Infinity;
  for (let run = 0; run < 5; run++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    best = Math.min(best, ((performance.now() - t0) * 1e6) / n);
  }
  console.log(`${label.padEnd(64)} ${best < 1000 ? `${best.toFixed(0)} ns` : `${(best / 1000).toFixed(2)} µs`}`);
}

const clean = ["request", "GET", "/api/:project/proxy/:slug/*", "/repos/octo-org/hello-world/pulls/12", "8f14e45f-ceea-467f-a0e6-5d7c7b1d6a1c", "/v1/customers?limit=10&starting_after=cus_123"];
const dirty = ["/echo/ghp_abcdefghijklmnopqrstuvwxyz0123456789", "/v1/charges?api_key=sk_live_abcdefghijklmnop1234", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmN", "/oauth/connect/Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4OTA"];
const access = { request_id: "8f14e45f-ceea-467f-a0e6-5d7c7b1d6a1c", method: "GET", route: "/*", path: "/repos/octo-org/hello-world/pulls/12", status: 200, ms: 3 };
const N = 500_000;

for (const s of clean) perOp(`redactString, nothing to redact: ${JSON.stringify(s)}`, N, () => redactString(s));
for (const s of dirty) perOp(`redactString, one credential (${s.length} chars)`, N / 10, () => redactString(s));
perOp("redact(fields of an access-log line)", N, () => redact(access));
const json = new Logger("info", {}, () => {}, "json");
const text = new Logger("info", {}, () => {}, "text");
const raw = (l: string, f: Record<string, unknown>) => JSON.stringify({ ts: new Date().toISOString(), level: "info", msg: l, ...f }); // no redaction: the floor
perOp("an access-log line, json, without redaction (the floor)", N / 4, () => raw("request", access));
perOp("an access-log line, json (Logger.info, sink excluded)", N / 4, () => json.info("request", access));
perOp("an access-log line, text (Logger.info, sink excluded)", N / 4, () => text.info("request", access));
