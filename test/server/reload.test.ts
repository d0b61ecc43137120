/** Atomic route-table swap: under concurrent load every request is served by exactly one table. */
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { startGateway } from "../helpers/gateway.ts";
import { upstream, openEndpoint } from "../helpers/upstream.ts";

const tag = (name: string) =>
  upstream(async (req) => {
    const wait = Number(new URL(req.url).searchParams.get("wait") ?? 0);
    if (wait) await Bun.sleep(wait);
    return Response.json({ upstream: name });
  });
const A = tag("A");
const B = tag("B");
afterAll(() => {
  A.stop();
  B.stop();
});

describe("reload", () => {
  test("in-flight requests finish on the table they started with; new ones use the new table", async () => {
    const gw = await startGateway(openEndpoint("p", "x", A.url));
    try {
      const slow = fetch(`${gw.url.origin}/api/p/proxy/x/?wait=400`).then((r) => r.json());
      await Bun.sleep(100);
      writeFileSync(gw.configPath, (await Bun.file(gw.configPath).text()).replace(A.url, B.url));
      expect(await gw.gw.reload()).toBe(true);
      expect(await (await fetch(`${gw.url.origin}/api/p/proxy/x/`)).json()).toEqual({ upstream: "B" });
      expect(await slow).toEqual({ upstream: "A" });
      expect(gw.gw.routes.current().version).toBe(2);
    } finally {
      await gw.shutdown();
    }
  });

  test("no request fails while the table is swapped 20 times under load", async () => {
    const gw = await startGateway(openEndpoint("p", "x", A.url));
    const text = await Bun.file(gw.configPath).text();
    let stop = false;
    const seen = { A: 0, B: 0 };
    const failures: string[] = [];
    const worker = async () => {
      while (!stop) {
        const r = await fetch(`${gw.url.origin}/api/p/proxy/x/`);
        if (r.status !== 200) failures.push(`${r.status} ${await r.text()}`);
        else seen[((await r.json()) as { upstream: "A" | "B" }).upstream]++;
      }
    };
    try {
      const workers = Array.from({ length: 16 }, worker);
      for (let i = 0; i < 20; i++) {
        writeFileSync(gw.configPath, i % 2 === 0 ? text.replace(A.url, B.url) : text);
        expect(await gw.gw.reload()).toBe(true);
        await Bun.sleep(15);
      }
      stop = true;
      await Promise.all(workers);
      expect(failures).toEqual([]);
      expect(seen.A).toBeGreaterThan(0);
      expect(seen.B).toBeGreaterThan(0);
      expect(gw.gw.routes.current().version).toBe(21);
    } finally {
      stop = true;
      await gw.shutdown();
    }
  });

  test("concurrent reload calls share one run", async () => {
    const gw = await startGateway("");
    try {
      const results = await Promise.all([gw.gw.reload(), gw.gw.reload(), gw.gw.reload()]);
      expect(results).toEqual([true, true, true]);
      expect(gw.gw.routes.current().version).toBe(2);
    } finally {
      await gw.shutdown();
    }
  });

  test("an unresolvable secret fails the reload with the reference named, old table kept", async () => {
    const gw = await startGateway(`[admin]\ntoken = "env:HUBGATE_TEST_ADMIN"\n`, { HUBGATE_TEST_ADMIN: "s3cr3t-admin-value" });
    try {
      writeFileSync(gw.configPath, (await Bun.file(gw.configPath).text()).replace("HUBGATE_TEST_ADMIN", "HUBGATE_TEST_MISSING"));
      expect(await gw.gw.reload()).toBe(false);
      expect(gw.gw.reloads.lastIssues[0]!.path).toBe("admin.token");
      expect(gw.gw.reloads.lastIssues[0]!.message).toContain("HUBGATE_TEST_MISSING");
      expect(gw.gw.routes.current().version).toBe(1);
      expect(gw.lines.join("\n")).not.toContain("s3cr3t-admin-value");
    } finally {
      await gw.shutdown();
    }
  });
});
