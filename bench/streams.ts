/** Scenario 4: many concurrent SSE streams through /mcp — RSS, added time to first byte, streams dropped. */
import { Database } from "bun:sqlite";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { join } from "node:path";
import { rssMiB, table } from "./tools.ts";
import type { Hubgate } from "./run.ts";

interface Stream {
  ttfb: number;
  heartbeat: boolean;
  close(): void;
}

/** A raw HTTP/1.1 GET that waits for the first SSE event, then for a heartbeat (no fetch in-flight cap). */
async function open(url: string, token: string | null): Promise<Stream> {
  const u = new URL(url);
  const t0 = performance.now();
  let buf = "";
  const first = Promise.withResolvers<number>();
  const beat = Promise.withResolvers<boolean>();
  const sock = await Bun.connect({
    hostname: u.hostname,
    port: Number(u.port),
    socket: {
      data(_s, d) {
        buf += new TextDecoder().decode(d);
        if (buf.includes("data:")) first.resolve(performance.now() - t0);
        if (buf.includes(": heartbeat")) beat.resolve(true);
      },
      close() {
        first.resolve(NaN);
        beat.resolve(false);
      },
    },
  });
  sock.write(`GET ${u.pathname} HTTP/1.1\r\nhost: ${u.host}\r\naccept: text/event-stream\r\n${token ? `authorization: Bearer ${token}\r\n` : ""}\r\n`);
  const ttfb = await Promise.race([first.promise, Bun.sleep(10_000).then(() => NaN)]);
  const s: Stream = { ttfb, heartbeat: false, close: () => sock.end() };
  void beat.promise.then((b) => (s.heartbeat = b));
  return s;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

export async function mcpStreams(o: { hubgate: Hubgate; upstream: string; streams: number }): Promise<string> {
  const hash = await Bun.password.hash("bench-password", { algorithm: "argon2id" });
  const gw = await o.hubgate(`[[mcp.upstreams]]\nname = "bench"\nurl = "${o.upstream}/mcp"\nallow_private = true\n[[mcp.users]]\nusername = "bench"\npassword_hash = "${hash}"\n`);
  // an access token for /mcp, written straight into the gateway's database (the OAuth flow is measured elsewhere)
  const token = `hgm_at_${randomBytes(32).toString("base64url")}`;
  const db = new Database(join(gw.dir, "hubgate.db"));
  db.run("PRAGMA busy_timeout = 5000");
  db.query(
    "INSERT INTO mcp_tokens (token_hash, kind, family, client_id, username, resource, scope, code_hash, parent, created_at, expires_at) VALUES (?, 'access', ?, 'bench', 'bench', ?, 'mcp', NULL, NULL, ?, ?)",
  ).run(createHash("sha256").update(token).digest("hex"), randomUUID(), `${gw.url}/mcp`, Date.now(), Date.now() + 3_600_000);
  db.close();

  const direct: number[] = [];
  const via: number[] = [];
  for (let i = 0; i < 50; i++) {
    const a = await open(`${o.upstream}/mcp`, null);
    direct.push(a.ttfb);
    a.close();
    const b = await open(`${gw.url}/mcp`, token);
    via.push(b.ttfb);
    b.close();
  }
  const idle = rssMiB(gw.proc.pid);
  const t0 = performance.now();
  const streams: Stream[] = [];
  for (let i = 0; i < o.streams; i += 100) streams.push(...(await Promise.all(Array.from({ length: Math.min(100, o.streams - i) }, () => open(`${gw.url}/mcp`, token)))));
  const openMs = Math.round(performance.now() - t0);
  const opened = streams.filter((s) => Number.isFinite(s.ttfb)).length;
  await Bun.sleep(6000); // past the upstream's 5 s heartbeat and Bun's idle checks
  const rss = rssMiB(gw.proc.pid);
  const alive = streams.filter((s) => s.heartbeat).length;
  streams.forEach((s) => s.close());
  gw.proc.kill();
  return table(
    ["streams", "opened", "alive after 6 s", "dropped", "open all (ms)", "RSS idle → with streams (MiB)", "first byte direct p50 (ms)", "via hubgate p50 (ms)", "added (ms)"],
    [[o.streams, opened, alive, o.streams - alive, openMs, `${idle} → ${rss}`, median(direct).toFixed(2), median(via).toFixed(2), (median(via) - median(direct)).toFixed(2)]],
  );
}
