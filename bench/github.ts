#!/usr/bin/env bun
/**
 * GitHub pool benchmark, loopback only, bounded in time (~40 s):
 *  1. cache-hit reads: the same REST GET, served from the pool's cache;
 *  2. pass-through reads: caching off, every read forwarded to the upstream;
 *  3. many agents polling: N agents poll the issues of a few shared repos with their own
 *     If-None-Match, like coding agents watching a repo; reports how many client reads cost
 *     upstream quota (a 304 revalidation is free on GitHub, as in the fake).
 * Usage: bun bench/github.ts [--agents 200] [--seconds 8]   (HUBGATE_BIN=dist/hubgate to use the binary)
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { ROOT, load, spawnUrl, startGateway, table, type Figures } from "./lib.ts";

const { values } = parseArgs({ options: { agents: { type: "string", default: "200" }, seconds: { type: "string", default: "8" } } });
const seconds = Number(values.seconds);
const agents = Number(values.agents);

const fake = await spawnUrl([process.execPath, join(ROOT, "bench/fake-github.ts")]);
const identities = [1, 2, 3, 4].map((i) => `[[github.identities]]\nid = "bot${i}"\ntoken = "bench-token-${i}"\n`).join("");
const common = `[github]\napi_url = "${fake.url}"\nallow_private = true\nclients = "open"\n`;
const rows: Figures[] = [];

try {
  const pass = await startGateway(`${common}cache_max_bytes = 0\n${identities}`);
  let n = 0;
  rows.push(
    await load("pass-through read (cache off, distinct URLs)", {
      url: pass.url,
      duration: seconds,
      requests: [{ method: "GET", setupRequest: (req) => ({ ...req, path: `/repos/o/r${n++ % 100_000}` }) }],
    }),
  );
  rows.push(
    await load("pass-through write (caller's token)", {
      url: `${pass.url}/repos/o/r/issues`,
      method: "POST",
      body: JSON.stringify({ title: "bench" }),
      headers: { authorization: "token caller", "content-type": "application/json" },
      duration: seconds,
    }),
  );
  pass.proc.kill();

  const cached = await startGateway(`${common}cache_default_ttl = "60s"\n${identities}`);
  await fetch(`${cached.url}/repos/o/r`);
  rows.push(await load("cache hit (GET /repos/o/r)", { url: `${cached.url}/repos/o/r`, duration: seconds }));
  cached.proc.kill();
  rows.push(await load("the upstream alone, no gateway (baseline)", { url: `${fake.url}/repos/o/r`, duration: seconds, headers: { authorization: "token bench-token-1" } }));

  // many agents polling: TTL 10 s, each agent polls one of 5 repos every ~second with its own ETag
  const poll = await startGateway(`${common}cache_default_ttl = "10s"\n${identities}`);
  const before = (await (await fetch(`${fake.url}/__fake/stats`)).json()) as { requests: number; notModified: number; spent: number };
  let clientReads = 0;
  let client304 = 0;
  const deadline = Date.now() + seconds * 3 * 1000;
  await Promise.all(
    Array.from({ length: agents }, async (_, i) => {
      let etag: string | null = null;
      const url = `${poll.url}/repos/o/repo-${i % 5}/issues?per_page=30`;
      await Bun.sleep(Math.random() * 1000);
      while (Date.now() < deadline) {
        const r: Response = await fetch(url, { headers: etag ? { "if-none-match": etag } : {} });
        clientReads++;
        if (r.status === 304) client304++;
        else etag = r.headers.get("etag");
        await r.arrayBuffer();
        await Bun.sleep(900 + Math.random() * 200);
      }
    }),
  );
  const after = (await (await fetch(`${fake.url}/__fake/stats`)).json()) as { requests: number; notModified: number; spent: number };
  poll.proc.kill();
  const upstreamRequests = after.requests - before.requests;
  const quota = after.spent - before.spent;
  console.log(table(rows));
  console.log(
    `\nmany agents polling: ${agents} agents × ~${seconds * 3} s over 5 shared repos, cache TTL 10 s — ` +
      `${clientReads} client reads (${client304} answered 304 by hubgate), ${upstreamRequests} upstream requests ` +
      `(${after.notModified - before.notModified} free 304 revalidations), ${quota} cost quota: ` +
      `${((quota / clientReads) * 100).toFixed(2)} % of client reads spent upstream quota`,
  );
} finally {
  fake.proc.kill();
}
