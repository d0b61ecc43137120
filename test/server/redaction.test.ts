/**
 * One redaction rule, every sink: a real gateway proxies requests that carry a credential of every
 * format in the path and the query; neither the stdout log lines, nor the request-log rows, nor the
 * audit rows keep the raw value — only its kind-telling prefix.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startGateway } from "../helpers/gateway.ts";
import { openEndpoint, upstream } from "../helpers/upstream.ts";
import { samples } from "../helpers/credentials.ts";
import { mintApiToken } from "../../src/crypto/apitoken.ts";
import type { Running } from "../../src/root/serve.ts";

type Gw = Running & { lines: string[] };
const SAMPLES = samples(3);
/** A piece of the value that only the raw value holds (past its prefix). */
const rawPart = (s: { prefix: string; value: string }) => s.value.slice(s.prefix.length, s.prefix.length + 12);

const config = (url: string, extra = "") => `
[github]
enabled = false
${extra}
${openEndpoint("p", "echo", url)}
[[projects.endpoints]]
slug = "guarded"
upstream_url = "${url}"
allow_private = true
[[oauth_connections]]
name = "idp"
authorization_url = "https://idp.example/authorize"
token_url = "https://idp.example/token"
client_id = "hubgate"
client_secret = "env:IDP_SECRET"
`;

/** Everything the gateway has written to its sinks so far, one string per line or row. */
async function sinks(gw: Gw): Promise<{ stdout: string[]; requestLog: string[]; audit: string[] }> {
  return {
    stdout: gw.lines,
    requestLog: (await gw.gw.requestLog.list({ limit: 10_000 })).map((r) => JSON.stringify(r)),
    audit: (await gw.gw.store.audit.list({ limit: 10_000 })).map((e) => JSON.stringify(e)),
  };
}

async function expectNoRaw(gw: Gw, values: { name: string; prefix: string; value: string }[]): Promise<void> {
  for (const [sink, lines] of Object.entries(await sinks(gw)))
    for (const s of values) {
      const leaked = lines.find((l) => l.includes(rawPart(s)));
      expect(leaked, `${s.name} in the ${sink}`).toBeUndefined();
    }
}

describe("every sink, JSON log format", () => {
  let gw: Gw;
  const up = upstream((req) => Response.json({ path: new URL(req.url).pathname }));
  beforeAll(async () => {
    gw = await startGateway(config(up.url), { IDP_SECRET: "idp-client-secret" });
  });
  afterAll(async () => {
    await gw.shutdown();
    up.stop();
  });

  test("a credential of every format in the path and the query of a proxied request", async () => {
    for (const [i, s] of SAMPLES.entries()) {
      const r = await fetch(`${gw.url.href}api/p/proxy/echo/${s.value}?access_token=${s.value}&q=${s.value}`, { headers: { "x-request-id": `redact-${i}` } });
      expect(r.status).toBe(200);
      await r.arrayBuffer();
    }
    await Bun.sleep(20); // the request-log row is recorded when the body has been streamed
    await expectNoRaw(gw, SAMPLES);

    // what remains tells the kind of credential
    const rows = (await gw.gw.requestLog.list({ limit: 10_000 })).filter((r) => r.endpoint === "echo");
    expect(rows.map((r) => r.path)).toEqual(SAMPLES.map((s) => `/${s.prefix}…[redacted]`));
    const access = gw.lines.map((l) => JSON.parse(l) as { request_id?: string; path?: string });
    for (const [i, s] of SAMPLES.entries()) expect(access.find((l) => l.request_id === `redact-${i}`)?.path).toBe(`/api/p/proxy/echo/${s.prefix}…[redacted]`);
  });

  test("a refused credential check: the audit row names the path, redacted; so do the request-log row and the log lines", async () => {
    const some = SAMPLES.slice(0, 6);
    for (const s of some) {
      const r = await fetch(`${gw.url.href}api/p/proxy/guarded/${s.value}`, { headers: { authorization: `Bearer ${mintApiToken()}` } });
      expect(r.status).toBe(401);
      await r.arrayBuffer();
    }
    const failed = (await gw.gw.store.audit.list({ kind: "auth.failed", limit: 100 }));
    expect(failed.map((e) => e.subject)).toEqual(some.map((s) => `/api/p/proxy/guarded/${s.prefix}…[redacted]`));
    await expectNoRaw(gw, some);
  });

  test("the one-time connect link is never kept: the access line shows /oauth/connect/…[redacted]", async () => {
    const { url } = await gw.gw.oauth.startConnect("idp", "test");
    const link = new URL(url).pathname.split("/").at(-1)!;
    const r = await fetch(url, { redirect: "manual", headers: { "x-request-id": "connect-1" } });
    expect(r.status).toBe(302);
    await Bun.sleep(20); // the access line is written once the response has gone out
    for (const lines of Object.values(await sinks(gw))) expect(lines.find((l) => l.includes(link))).toBeUndefined();
    const line = gw.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.request_id === "connect-1");
    expect(line).toMatchObject({ msg: "request", route: "/oauth/connect/:link", path: "/oauth/connect/…[redacted]", status: 302 });
  });

  test("audit actor, subject and detail go through the rule as they are written", async () => {
    const [a, b, c] = SAMPLES;
    await gw.gw.store.audit.append({
      kind: "mcp.client_registered",
      actor: `client ${a!.value}`,
      subject: `/x/${b!.value}`,
      detail: { note: `key ${c!.value}`, redirect_uris: [`https://app.example/cb?token=${a!.value}`], client_secret: "plain-secret", nested: { refresh_token: "rt" } },
    });
    const [e] = (await gw.gw.store.audit.list({ kind: "mcp.client_registered" }));
    expect(e).toMatchObject({
      actor: `client ${a!.prefix}…[redacted]`,
      subject: `/x/${b!.prefix}…[redacted]`,
      detail: { note: `key ${c!.prefix}…[redacted]`, redirect_uris: [`https://app.example/cb?token=${a!.prefix}…[redacted]`], client_secret: "[redacted]", nested: { refresh_token: "[redacted]" } },
    });
    await expectNoRaw(gw, [a!, b!, c!]);
  });
});

describe("every sink, text log format", () => {
  let gw: Gw;
  const up = upstream(() => new Response("ok"));
  beforeAll(async () => {
    gw = await startGateway(config(up.url, `[logging]\nformat = "text"`), { IDP_SECRET: "idp-client-secret" });
  });
  afterAll(async () => {
    await gw.shutdown();
    up.stop();
  });

  test("the lines are text, `<ts> <LEVEL> <msg> key=value`, with the same redaction", async () => {
    for (const [i, s] of SAMPLES.entries()) await (await fetch(`${gw.url.href}api/p/proxy/echo/${s.value}?api_key=${s.value}`, { headers: { "x-request-id": `text-${i}` } })).text();
    await Bun.sleep(20);
    await expectNoRaw(gw, SAMPLES);
    const listening = gw.lines.find((l) => / INFO {2}listening /.test(l))!;
    expect(listening).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z INFO  listening url=${gw.url.href} port=${gw.url.port} config=\\S+ public_url=\\S+$`));
    for (const [i, s] of SAMPLES.entries()) {
      const line = gw.lines.find((l) => l.includes(`request_id=text-${i} `));
      expect(line).toMatch(/^\S+Z INFO  request request_id=\S+ method=GET route=\/api\/:project\/proxy\/:slug\/\* path=\S+ status=200 ms=\d+$/);
      expect(line).toContain(` path=/api/p/proxy/echo/${s.prefix}…[redacted] `);
    }
    expect(gw.lines.filter((l) => l.startsWith("{"))).toEqual([]);
  });
});
