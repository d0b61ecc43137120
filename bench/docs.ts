/**
 * What an upstream OpenAPI document costs: start-up time and memory, reload time, and the first
 * /docs/json, for a config with no document, with GitHub's REST description (13 MB, @octokit/openapi)
 * filtered to a few operations made into tools, and with all of its GET operations.
 *
 *   bun bench/docs.ts [runs]          from source (HUBGATE_BIN=dist/hubgate for the binary)
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, ROOT } from "./lib.ts";
import { rssMiB, table, waitReady } from "./tools.ts";

const GITHUB = join(ROOT, "node_modules/@octokit/openapi/generated/api.github.com.json");
const runs = Number(process.argv[2] ?? 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

const endpoint = (extra: string) => `[[projects]]\nid = "acme"\n[[projects.endpoints]]\nslug = "github"\nupstream_url = "https://api.github.com"\nallowed_methods = ["GET", "POST"]\n${extra}\n`;
const scenarios: [string, string][] = [
  ["no upstream document", endpoint("")],
  [
    "GitHub's description, 5 operations, as tools",
    endpoint(`openapi = "file:${GITHUB}"\noperations = ["repos/get", "issues/list-for-repo", "issues/create", "pulls/list", "GET /repos/*/*/contents/**"]\nmcp_tools_from_openapi = true`),
  ],
  ["GitHub's description, every GET and POST operation", endpoint(`openapi = "file:${GITHUB}"`)],
];

/** stdout lines of the child, as they come; `next(re)` waits for the next line matching. */
function lines(stream: ReadableStream<Uint8Array>) {
  const seen: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  let from = 0;
  void (async () => {
    let buf = "";
    for await (const chunk of stream) {
      buf += new TextDecoder().decode(chunk);
      const parts = buf.split("\n");
      buf = parts.pop()!;
      for (const l of parts) {
        seen.push(l);
        const i = waiters.findIndex((w) => w.re.test(l));
        if (i >= 0) waiters.splice(i, 1)[0]!.resolve(l);
      }
    }
  })();
  return {
    next(re: RegExp): Promise<string> {
      const found = seen.slice(from).find((l) => re.test(l));
      from = seen.length;
      return found ? Promise.resolve(found) : new Promise((resolve) => waiters.push({ re, resolve }));
    },
  };
}

async function once(body: string) {
  const dir = mkdtempSync(join(tmpdir(), "hg-docs-"));
  const port = await freePort();
  const cfg = join(dir, "gateway.toml");
  writeFileSync(cfg, `[server]\nport = ${port}\n[storage]\npath = "${join(dir, "db")}"\n[logging]\nlevel = "info"\naccess_log = false\n[github]\nenabled = false\n${body}`);
  const bin = process.env.HUBGATE_BIN;
  const cmd = bin ? [bin, "serve", "--config", cfg] : [process.execPath, join(ROOT, "src/main.ts"), "serve", "--config", cfg];
  const t0 = performance.now();
  const p = Bun.spawn(cmd, { env: { ...process.env, HUBGATE_APP_KEY: Buffer.alloc(32, 9).toString("base64") }, stdout: "pipe", stderr: "ignore" });
  const out = lines(p.stdout);
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/healthz`);
  const start = performance.now() - t0;
  const rssStart = rssMiB(p.pid);
  const d0 = performance.now();
  const doc = await (await fetch(`${url}/docs/json`)).text();
  const firstDocs = performance.now() - d0;
  const rssDocs = rssMiB(p.pid);
  const reloads: number[] = [];
  for (let i = 0; i < 3; i++) {
    const done = out.next(/"msg":"config reloaded"/);
    p.kill("SIGHUP");
    reloads.push(Number(/"ms":(\d+)/.exec(await done)![1]));
  }
  const rssReloads = rssMiB(p.pid);
  const peak = rssMiB(p.pid, "VmHWM");
  p.kill();
  await p.exited;
  return { start, rssStart, firstDocs, docBytes: doc.length, operations: (doc.match(/"operationId"/g) ?? []).length, rssDocs, reload: median(reloads), rssReloads, peak };
}

const rows: (string | number)[][] = [];
for (const [name, body] of scenarios) {
  const r: Awaited<ReturnType<typeof once>>[] = [];
  for (let i = 0; i < runs; i++) r.push(await once(body));
  const m = (k: keyof (typeof r)[number]) => median(r.map((x) => x[k]));
  rows.push([name, m("start").toFixed(0), m("rssStart").toFixed(1), m("reload").toFixed(0), m("rssReloads").toFixed(1), m("peak").toFixed(1), `${m("firstDocs").toFixed(0)} (${(m("docBytes") / 1024).toFixed(0)} KiB, ${m("operations")} ops)`, m("rssDocs").toFixed(1)]);
  console.error(`done: ${name}`);
}
console.log(
  table(
    ["config", "start-up to /healthz (ms)", "RSS after start (MiB)", "reload (ms)", "RSS after 3 reloads (MiB)", "peak RSS (MiB)", "first /docs/json (ms)", "RSS after it (MiB)"],
    rows,
  ),
);
console.log(`\nmedian of ${runs} runs each; ${process.env.HUBGATE_BIN ? `binary ${process.env.HUBGATE_BIN}` : "from source (bun src/main.ts)"}; Bun ${Bun.version}`);
