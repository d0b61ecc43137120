import { describe, expect, test } from "bun:test";
import { checkFetchConcurrency, DEFAULT_MAX_HTTP_REQUESTS, MAX_HTTP_REQUESTS_HINT } from "../../src/proxy/forward.ts";

const FORWARD = new URL("../../src/proxy/forward.ts", import.meta.url).pathname;

/** A child that forwards 400 concurrent requests to a loopback upstream holding each 300 ms; prints the peak in flight. */
const script = `
import { forward } from ${JSON.stringify(FORWARD)};
let inFlight = 0, peak = 0;
const up = Bun.serve({ hostname: "127.0.0.1", port: 0, idleTimeout: 0, async fetch() {
  peak = Math.max(peak, ++inFlight);
  await Bun.sleep(300);
  inFlight--;
  return new Response("ok");
}});
const target = new URL("http://127.0.0.1:" + up.port + "/");
const results = await Promise.all(Array.from({ length: 400 }, () =>
  forward(new Request("http://gw/"), target, { timeoutMs: 8000, allowPrivate: true }).then((r) => r.text())));
console.log(JSON.stringify({ peak, ok: results.filter((t) => t === "ok").length }));
up.stop(true);
`;

async function run(env: Record<string, string>): Promise<{ peak: number; ok: number }> {
  const proc = Bun.spawn([process.execPath, "-e", script], { env: { PATH: process.env.PATH ?? "", ...env }, stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill(), 9000);
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  if (code !== 0) throw new Error(`child exited ${code}: ${err}`);
  return JSON.parse(out.trim().split("\n").at(-1)!) as { peak: number; ok: number };
}

describe("fetch concurrency", () => {
  test("checkFetchConcurrency reads BUN_CONFIG_MAX_HTTP_REQUESTS", () => {
    expect(checkFetchConcurrency({})).toEqual({ limit: 256, raised: false });
    expect(checkFetchConcurrency({ BUN_CONFIG_MAX_HTTP_REQUESTS: "1024" })).toEqual({ limit: 1024, raised: true });
    expect(checkFetchConcurrency({ BUN_CONFIG_MAX_HTTP_REQUESTS: "256" })).toEqual({ limit: 256, raised: false });
    expect(checkFetchConcurrency({ BUN_CONFIG_MAX_HTTP_REQUESTS: "64" })).toEqual({ limit: 64, raised: false });
    for (const bad of ["", "abc", "0", "-5", "70000", "1e3"])
      expect(checkFetchConcurrency({ BUN_CONFIG_MAX_HTTP_REQUESTS: bad })).toEqual({ limit: DEFAULT_MAX_HTTP_REQUESTS, raised: false });
    expect(MAX_HTTP_REQUESTS_HINT).toContain("BUN_CONFIG_MAX_HTTP_REQUESTS");
  });

  test(
    "400 concurrent forwards: ≤256 in flight by default, >256 with BUN_CONFIG_MAX_HTTP_REQUESTS=1024",
    async () => {
      const t0 = performance.now();
      const [control, raised] = await Promise.all([run({}), run({ BUN_CONFIG_MAX_HTTP_REQUESTS: "1024" })]);
      expect(control.ok).toBe(400);
      expect(raised.ok).toBe(400);
      expect(control.peak).toBeLessThanOrEqual(256);
      expect(raised.peak).toBeGreaterThan(256);
      expect(performance.now() - t0).toBeLessThan(10_000);
    },
    10_000,
  );
});
