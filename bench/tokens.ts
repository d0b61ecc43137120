#!/usr/bin/env bun
/**
 * `bun bench/tokens.ts`: what checking a stored API token costs on the endpoint path, on the embedded
 * SQLite store. Two figures: a token check (TokenVerifier.verify) in process (µs per call), and
 * requests/s through `hubgate serve` to a local upstream on a token-guarded endpoint (request log on,
 * hubgate's default), autocannon, 3 interleaved rounds. Loopback only, about a minute.
 */
import { join } from "node:path";
import { createApiToken } from "../src/tokens/service.ts";
import { inProcess } from "../test/helpers/gateway.ts";
import { ROOT, load, spawnUrl, startGateway } from "./lib.ts";

const N = 200_000;

async function inProcessFigure(): Promise<number> {
  const h = await inProcess(`[[projects]]\nid = "p"\n`);
  const { token } = await createApiToken(h.gw, { project: "p", name: "bench", scopes: ["proxy"], actor: "bench" });
  const request = new Request("http://localhost/api/p/proxy/e/x", { headers: { authorization: `Bearer ${token}` } });
  const time = async (): Promise<number> => {
    for (let i = 0; i < 20_000; i++) await h.gw.tokens.verify(request, { project: "p", scope: "proxy" });
    const t0 = performance.now();
    for (let i = 0; i < N; i++) await h.gw.tokens.verify(request, { project: "p", scope: "proxy" });
    return ((performance.now() - t0) * 1000) / N;
  };
  const store = Math.min(await time(), await time(), await time());
  await h.gw.close();
  return store;
}

const inproc = await inProcessFigure();
console.log(`token check, stored token, in process: ${inproc.toFixed(2)} µs/call (best of 3 × ${N})`);

const up = await spawnUrl([process.execPath, join(ROOT, "bench/upstream.ts")]);
const body = `[[projects]]\nid = "b"\n[[projects.endpoints]]\nslug = "e"\nupstream_url = "${up.url}"\nallow_private = true\n`;
const g = await startGateway(body, { requestLog: true });
const created = Bun.spawnSync([process.execPath, join(ROOT, "src/main.ts"), "token", "create", "--project", "b", "--name", "bench", "--config", g.config], {
  env: { ...process.env, HUBGATE_APP_KEY: Buffer.alloc(32, 1).toString("base64") },
});
const token = created.stdout.toString().trim();
if (!token.startsWith("hg_")) throw new Error(`token create failed: ${created.stderr.toString()}`);
const rps: number[] = [];
for (let round = 0; round < 3; round++) {
  const f = await load("endpoint, stored token", { url: `${g.url}/api/b/proxy/e/x`, headers: { authorization: `Bearer ${token}` } });
  if (f.non2xx || f.errors) throw new Error(`non-2xx ${f.non2xx}, errors ${f.errors}`);
  rps.push(f.rps);
}
console.log(`endpoint path, stored token, request log on: ${rps.join(" / ")} req/s (median ${[...rps].sort((a, b) => a - b)[1]})`);
g.proc.kill();
up.proc.kill();
process.exit(0);
