/** Scenario 3: many agents polling hot resources with their own ETags, through the pool; what costs upstream quota. */
import { join } from "node:path";
import { ROOT, spawnUrl } from "./lib.ts";
import { table } from "./tools.ts";
import type { Hubgate } from "./run.ts";

export async function quotaEconomy(o: { hubgate: Hubgate; agents: number; resources: number; seconds: number }): Promise<string> {
  const fake = await spawnUrl([process.execPath, join(ROOT, "bench/fake-github.ts")]);
  try {
    const ids = [1, 2, 3, 4].map((i) => `[[github.identities]]\nid = "bot${i}"\ntoken = "bench-token-${i}"\n`).join("");
    const gw = await o.hubgate(`[github]\napi_url = "${fake.url}"\nallow_private = true\nclients = "open"\ncache_default_ttl = "10s"\n${ids}`);
    const stats = async () => (await (await fetch(`${fake.url}/__fake/stats`)).json()) as { requests: number; notModified: number; spent: number };
    const before = await stats();
    let reads = 0;
    let clientNotModified = 0;
    let failures = 0;
    const deadline = Date.now() + o.seconds * 1000;
    await Promise.all(
      Array.from({ length: o.agents }, async (_, a) => {
        const etags = new Map<number, string>();
        await Bun.sleep(Math.random() * 1000);
        for (let i = a; Date.now() < deadline; i++) {
          const res = i % o.resources;
          const etag = etags.get(res);
          const r = await fetch(`${gw.url}/repos/o/hot-${res}/issues`, { headers: etag ? { "if-none-match": etag } : {} }).catch(() => null);
          reads++;
          if (!r || r.status >= 400) failures++;
          else if (r.status === 304) clientNotModified++;
          else etags.set(res, r.headers.get("etag") ?? "");
          await r?.arrayBuffer();
          await Bun.sleep(400 + Math.random() * 200);
        }
      }),
    );
    const after = await stats();
    gw.proc.kill();
    const quota = after.spent - before.spent;
    return table(
      ["agents", "resources", "seconds", "client reads", "answered 304 by hubgate", "upstream requests", "upstream 304s (free)", "reads costing quota", "failures"],
      [[o.agents, o.resources, o.seconds, reads, clientNotModified, after.requests - before.requests, after.notModified - before.notModified, `${quota} (${((quota / reads) * 100).toFixed(2)} %)`, failures]],
    ) + "\n\ntarget: < 2 % of client reads cost primary quota";
  } finally {
    fake.proc.kill();
  }
}
