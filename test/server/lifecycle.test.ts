/** The real process: SIGHUP reloads (good and bad files), SIGTERM drains in-flight requests, grace is enforced. */
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { writeConfig } from "../helpers/gateway.ts";
import { spawnServe } from "../helpers/child.ts";
import { upstream, openEndpoint } from "../helpers/upstream.ts";

const up = upstream(async (req) => {
  const u = new URL(req.url);
  const wait = Number(u.searchParams.get("wait") ?? 0);
  if (wait) await Bun.sleep(wait);
  return Response.json({ path: u.pathname, waited: wait });
});
afterAll(() => up.stop());

describe("SIGHUP", () => {
  test("a valid file is swapped in; an invalid one keeps the old table and logs every error", async () => {
    const { path } = writeConfig(openEndpoint("p", "a", up.url));
    const child = await spawnServe(path);
    try {
      expect((await fetch(`${child.base}/api/p/proxy/b/x`)).status).toBe(404);

      writeFileSync(path, (await Bun.file(path).text()) + `\n[[projects.endpoints]]\nslug = "b"\nupstream_url = "${up.url}"\nauth_mode = "none"\nallow_private = true\n`);
      child.proc.kill("SIGHUP");
      await child.waitFor((r) => r.msg === "config reloaded");
      const ok = await fetch(`${child.base}/api/p/proxy/b/x`);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ path: "/x", waited: 0 });

      // two errors in one file: an unknown key and a bad value
      writeFileSync(path, (await Bun.file(path).text()).replace("[[projects]]", `[logging]\nbogus = 1\nlevel = "loud"\n[[projects]]`));
      child.proc.kill("SIGHUP");
      const failed = await child.waitFor((r) => r.msg === "config reload failed; the previous configuration keeps serving");
      expect(JSON.stringify(failed.errors)).toContain("logging.level");
      expect(JSON.stringify(failed.errors)).toContain("logging.bogus");
      expect((await fetch(`${child.base}/api/p/proxy/b/x`)).status).toBe(200); // old table still serving
      const stats = (await (await fetch(`${child.base}/stats`)).json()) as { config: { version: number }; reloads: { count: number; failures: number; last_result: string } };
      expect(stats.config.version).toBe(2);
      expect(stats.reloads).toMatchObject({ count: 1, failures: 1, last_result: "error" });
      const metrics = await (await fetch(`${child.base}/metrics`)).text();
      expect(metrics).toContain('hubgate_config_reloads_total{result="ok"} 1');
      expect(metrics).toContain('hubgate_config_reloads_total{result="error"} 1');
    } finally {
      expect(await child.stop()).toBe(0);
    }
  });
});

describe("SIGTERM", () => {
  test("in-flight requests finish, new connections are refused, exit code 0", async () => {
    const { path } = writeConfig(openEndpoint("p", "a", up.url));
    const child = await spawnServe(path);
    const inflight = fetch(`${child.base}/api/p/proxy/a/slow?wait=800`);
    await Bun.sleep(200);
    child.proc.kill("SIGTERM");
    await child.waitFor((r) => r.msg === "draining");
    const late = await fetch(`${child.base}/healthz`).then(
      (r) => r.status,
      () => "refused",
    );
    const res = await inflight;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ path: "/slow", waited: 800 });
    expect(late).toBe("refused");
    expect(await child.proc.exited).toBe(0);
    expect(child.lines.some((l) => l.msg === "stopped")).toBe(true);
  });

  test("a request slower than shutdown_grace is cut at the grace period", async () => {
    const { path } = writeConfig(`[server]\nport = 0\nshutdown_grace = "1s"\n` + openEndpoint("p", "a", up.url));
    const child = await spawnServe(path);
    const inflight = fetch(`${child.base}/api/p/proxy/a/slow?wait=10000`).then(
      (r) => r.status,
      () => "cut",
    );
    await Bun.sleep(150);
    const t0 = performance.now();
    child.proc.kill("SIGTERM");
    expect(await child.proc.exited).toBe(0);
    const took = performance.now() - t0;
    expect(took).toBeGreaterThan(900);
    expect(took).toBeLessThan(5000);
    expect(await inflight).toBe("cut");
    expect(child.lines.some((l) => l.msg === "grace period over; closing remaining connections")).toBe(true);
  });
});
