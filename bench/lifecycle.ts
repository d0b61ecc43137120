/** Scenario 5: start-up time, idle and loaded RSS, and SIGHUP reloads of a 500-endpoint config under load. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./lib.ts";
import { rssMiB, table, waitReady, wrk } from "./tools.ts";

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

export async function startupAndReload(o: { bin: string; upstream: string; idleRss: number; loadRss: number; seconds: number }): Promise<string> {
  // start-up: exec → /healthz answers, five times, from an empty directory on the embedded example config
  const starts: number[] = [];
  for (let i = 0; i < 5; i++) {
    const dir = mkdtempSync(join(tmpdir(), "hg-start-"));
    const port = await freePort();
    writeFileSync(join(dir, "gateway.toml"), `[server]\nport = ${port}\n[logging]\nlevel = "error"\n`);
    const t0 = performance.now();
    const p = Bun.spawn([o.bin, "serve"], { cwd: dir, env: { ...process.env, HUBGATE_APP_KEY: "" }, stdout: "ignore", stderr: "ignore" });
    await waitReady(`http://127.0.0.1:${port}/healthz`);
    starts.push(performance.now() - t0);
    p.kill();
    await p.exited;
  }

  // reload under load: 500 endpoints, wrk on one of them, SIGHUP every second
  const dir = mkdtempSync(join(tmpdir(), "hg-reload-"));
  const port = await freePort();
  const endpoints = Array.from({ length: 500 }, (_, i) => `[[projects.endpoints]]\nslug = "e${i}"\nupstream_url = "${o.upstream}"\nauth_mode = "none"\nallow_private = true\n`).join("");
  const cfg = join(dir, "gateway.toml");
  writeFileSync(cfg, `[server]\nport = ${port}\n[storage]\npath = "${join(dir, "db")}"\n[logging]\nlevel = "info"\naccess_log = false\nrequest_log_max_rows = 0\n[[projects]]\nid = "p"\n${endpoints}`);
  const p = Bun.spawn([o.bin, "serve", "--config", cfg], { env: { ...process.env, HUBGATE_APP_KEY: Buffer.alloc(32, 9).toString("base64"), BUN_CONFIG_MAX_HTTP_REQUESTS: "4096" }, stdout: "pipe", stderr: "ignore" });
  await waitReady(`http://127.0.0.1:${port}/healthz`);
  const reloads = o.seconds - 2;
  const hups = (async () => {
    for (let i = 0; i < reloads; i++) {
      await Bun.sleep(1000);
      p.kill("SIGHUP");
    }
  })();
  const load = wrk(`http://127.0.0.1:${port}/api/p/proxy/e250/x`, { seconds: o.seconds });
  await hups;
  await Bun.sleep(500);
  p.kill();
  const out = await new Response(p.stdout).text();
  const ms = [...out.matchAll(/"msg":"config reloaded"[^\n]*"ms":(\d+)/g)].map((m) => Number(m[1]));
  return table(
    ["start-up to /healthz, p50 of 5 (ms)", "RSS idle (MiB)", "RSS under load (MiB)", "reloads (500 endpoints)", "reload time p50 / max (ms)", "req/s during reloads", "failed requests"],
    [[median(starts).toFixed(0), o.idleRss, o.loadRss, `${ms.length} of ${reloads}`, `${median(ms)} / ${Math.max(...ms)}`, load.rps, load.errors + load.non2xx]],
  );
}
