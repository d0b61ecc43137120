/** Concurrency: one refresh for 100 waiting requests; SSE streams drained on SIGTERM; nothing committed is lost to kill -9. */
import { expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGateway, writeConfig, ROOT, APP_KEY } from "../helpers/gateway.ts";
import { upstream } from "../helpers/upstream.ts";
import { spawnServe } from "../helpers/child.ts";
import { openStore } from "../../src/store/index.ts";
import { Keyring } from "../../src/crypto/keyring.ts";
import { parseAppKey } from "../../src/crypto/appkey.ts";
import { memoryLogger } from "../../src/core/log.ts";

test("100 concurrent requests with an expiring upstream token cause exactly one refresh", async () => {
  let refreshes = 0;
  const provider = upstream(async (req) => {
    const f = new URLSearchParams(await req.text());
    if (f.get("grant_type") !== "refresh_token") return Response.json({ error: "unsupported_grant_type" }, { status: 400 });
    refreshes++;
    await Bun.sleep(100); // a slow provider widens the race
    return Response.json({ access_token: `at-${refreshes}`, refresh_token: `rt-${refreshes}`, expires_in: 3600, token_type: "bearer" });
  });
  const tokensSeen = new Set<string>();
  const api = upstream((req) => {
    tokensSeen.add(req.headers.get("authorization") ?? "");
    return Response.json({ ok: true });
  });
  const gw = await startGateway(`[[oauth_connections]]
name = "c"
authorization_url = "${provider.url}/authorize"
token_url = "${provider.url}/token"
allow_private = true
client_id = "id"
client_secret = "env:S"
[[projects]]
id = "p"
[[projects.endpoints]]
slug = "e"
upstream_url = "${api.url}"
auth_mode = "none"
oauth_connection = "c"
allow_private = true
`, { S: "secret" });
  try {
    await gw.gw.store.oauth.saveGrant({ connection: "c", accessToken: "at-0", refreshToken: "rt-0", tokenType: "bearer", scopes: [], expiresAt: Date.now() + 10_000, connectedAt: Date.now(), refreshedAt: null, lastError: null });
    const rs = await Promise.all(Array.from({ length: 100 }, () => fetch(`${gw.url.href}api/p/proxy/e/x`)));
    expect(rs.every((r) => r.status === 200)).toBe(true);
    expect(refreshes).toBe(1);
    expect([...tokensSeen]).toEqual(["Bearer at-1"]);
  } finally {
    await gw.shutdown();
    provider.stop();
    api.stop();
  }
});

test("SIGTERM lets open SSE streams finish within the grace period, then exits 0", async () => {
  const up = upstream(() => {
    const enc = new TextEncoder();
    return new Response(
      new ReadableStream({
        async start(c) {
          c.enqueue(enc.encode("data: 1\n\n"));
          await Bun.sleep(800);
          c.enqueue(enc.encode("data: 2\n\n"));
          c.close();
        },
      }),
      { headers: { "content-type": "text/event-stream" } },
    );
  });
  const { path } = writeConfig(`[server]\nport = 0\nshutdown_grace = "5s"\n[[projects]]\nid = "p"\n[[projects.endpoints]]\nslug = "s"\nupstream_url = "${up.url}"\nauth_mode = "none"\nallow_private = true\n`);
  const child = await spawnServe(path);
  try {
    const streams = await Promise.all(Array.from({ length: 20 }, () => fetch(`${child.base}/api/p/proxy/s/events`)));
    const bodies = streams.map((r) => r.text());
    child.proc.kill("SIGTERM");
    expect(await Promise.all(bodies)).toEqual(Array(20).fill("data: 1\n\ndata: 2\n\n"));
    expect(await child.proc.exited).toBe(0);
  } finally {
    up.stop();
  }
}, 20_000);

test("kill -9 while writing: every token and grant reported committed is there after a restart, and opens", async () => {
  const dir = mkdtempSync(join(tmpdir(), "hg-crash2-"));
  const db = join(dir, "hubgate.db");
  const script = join(dir, "writer.ts");
  writeFileSync(
    script,
    `
import { openStore } from "${ROOT}/src/store/index.ts";
import { Keyring } from "${ROOT}/src/crypto/keyring.ts";
import { parseAppKey } from "${ROOT}/src/crypto/appkey.ts";
import { Logger } from "${ROOT}/src/core/log.ts";
const store = await openStore({ path: ${JSON.stringify(db)}, log: new Logger("error"), keyring: await Keyring.create(parseAppKey(${JSON.stringify(APP_KEY)}, "k")) });
for (let i = 0; ; i++) {
  await store.apiTokens.insert({ id: "t" + i, project: "p", name: "n" + i, hash: "h" + i, hint: "x", scopes: ["proxy"], expiresAt: null });
  await store.oauth.saveGrant({ connection: "g" + i, accessToken: "access-" + i, refreshToken: "refresh-" + i, tokenType: "bearer", scopes: [], expiresAt: null, connectedAt: Date.now(), refreshedAt: null, lastError: null });
  process.stdout.write(i + "\\n"); // both rows committed
}
`,
  );
  const child = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "inherit" });
  const reader = (child.stdout as ReadableStream<Uint8Array>).getReader();
  let text = "";
  while (text.split("\n").length < 200) text += new TextDecoder().decode((await reader.read()).value);
  child.kill("SIGKILL");
  await child.exited;
  const committed = text.split("\n").slice(0, -1).map(Number);
  const store = await openStore({ path: db, log: memoryLogger().log, keyring: await Keyring.create(parseAppKey(APP_KEY, "k")) });
  try {
    expect((await store.driver.get<{ integrity_check: string }>("PRAGMA integrity_check"))!.integrity_check).toBe("ok");
    for (const i of committed) {
      expect((await store.apiTokens.findByHash(`h${i}`))?.id).toBe(`t${i}`);
      const g = await store.oauth.grant(`g${i}`);
      expect(g?.accessToken).toBe(`access-${i}`);
      expect(g?.refreshToken).toBe(`refresh-${i}`);
    }
  } finally {
    await store.close();
  }
}, 30_000);
