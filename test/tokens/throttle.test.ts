/**
 * One throttle for every place a credential is checked: failures from one address are counted together
 * across the proxy, the GitHub pool, the admin API and MCP, audited, and answered with the same 429.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startGateway } from "../helpers/gateway.ts";
import { upstream } from "../helpers/upstream.ts";
import { mintApiToken } from "../../src/crypto/apitoken.ts";
import { AUTH_FAILURES_PER_MINUTE } from "../../src/tokens/throttle.ts";
import type { Running } from "../../src/root/serve.ts";

const ADMIN = "admin-token-for-throttle-tests-0123";
const token = mintApiToken();
let gw: Running & { lines: string[] };
let base: string;
const up = upstream(() => Response.json({ ok: true }));

beforeAll(async () => {
  const hash = await Bun.password.hash("pw-for-tests", { algorithm: "argon2id" });
  gw = await startGateway(
    `[server]\nport = 0\ntrust_proxy = true
[admin]
token = "env:ADMIN"
[github]
api_url = "${up.url}"
allow_private = true
[[projects]]
id = "p"
[[projects.endpoints]]
slug = "e"
upstream_url = "${up.url}"
allow_private = true
[[projects.tokens]]
name = "t"
token = "env:T"
scopes = ["proxy", "admin"]
[[mcp.users]]
username = "alice"
password_hash = "${hash}"
[[mcp.upstreams]]
name = "u"
url = "${up.url}/mcp"
allow_private = true
`,
    { ADMIN, T: token },
  );
  base = gw.url.href.replace(/\/$/, "");
});
afterAll(async () => {
  await gw.shutdown();
  up.stop();
});

const from = (address: string, authorization?: string) => ({ "x-forwarded-for": address, ...(authorization ? { authorization } : {}) });
const errorOf = async (r: Response) => ((await r.json()) as { error: string }).error;

test("the admin API: wrong admin tokens are throttled per address and audited; then even the right one gets 429 (no oracle)", async () => {
  const addr = "192.0.2.10";
  const statuses: number[] = [];
  for (let i = 0; i < AUTH_FAILURES_PER_MINUTE + 3; i++) statuses.push((await fetch(`${base}/admin/tokens`, { headers: from(addr, `Bearer wrong-${i}`) })).status);
  expect(statuses.slice(0, AUTH_FAILURES_PER_MINUTE - 1).every((s) => s === 401)).toBe(true);
  expect(statuses.at(-1)).toBe(429);
  const right = await fetch(`${base}/admin/tokens`, { headers: from(addr, `Bearer ${ADMIN}`) });
  expect(right.status).toBe(429);
  expect(right.headers.get("retry-after")).toBe("60");
  expect(await errorOf(right)).toBe("auth_throttled");
  const audited = (await gw.gw.store.audit.list({ kind: "admin.login_failed", limit: 1000 })).filter((e) => e.actor === addr);
  expect(audited.length).toBeGreaterThanOrEqual(AUTH_FAILURES_PER_MINUTE - 1);
  expect(JSON.stringify(audited)).not.toContain("wrong-");
  // another address is not affected
  expect((await fetch(`${base}/admin/tokens`, { headers: from("192.0.2.11", `Bearer ${ADMIN}`) })).status).toBe(200);
});

test("unknown API tokens on the admin API count against the same budget as the proxy path", async () => {
  const addr = "192.0.2.20";
  const half = Math.ceil(AUTH_FAILURES_PER_MINUTE / 2);
  for (let i = 0; i < half; i++) expect((await fetch(`${base}/admin/tokens`, { headers: from(addr, `Bearer ${mintApiToken()}`) })).status).toBe(401);
  const proxy: number[] = [];
  for (let i = 0; i < AUTH_FAILURES_PER_MINUTE - half + 2; i++) proxy.push((await fetch(`${base}/api/p/proxy/e/x`, { headers: from(addr, `Bearer ${mintApiToken()}`) })).status);
  expect(proxy.at(-1)).toBe(429);
  // the GitHub pool path shares it too, with the same shape
  const gh = await fetch(`${base}/repos/o/r`, { headers: from(addr, `token ${token}`) });
  expect([gh.status, await errorOf(gh)]).toEqual([429, "auth_throttled"]);
});

test("MCP access tokens and MCP client authentication are throttled the same way", async () => {
  const addr = "192.0.2.30";
  const statuses: number[] = [];
  for (let i = 0; i < AUTH_FAILURES_PER_MINUTE + 2; i++)
    statuses.push(
      (await fetch(`${base}/mcp`, { method: "POST", headers: { ...from(addr, `Bearer guess-${i}`), "content-type": "application/json", accept: "application/json, text/event-stream" }, body: "{}" })).status,
    );
  expect(statuses[0]).toBe(401);
  expect(statuses.at(-1)).toBe(429);
  const tokenEndpoint = await fetch(`${base}/token`, {
    method: "POST",
    headers: { ...from(addr), "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: "x", client_id: "nobody", client_secret: "guess" }),
  });
  expect([tokenEndpoint.status, await errorOf(tokenEndpoint)]).toEqual([429, "auth_throttled"]);
  // client authentication failures alone also lock an address out
  const addr2 = "192.0.2.31";
  const clientStatuses: number[] = [];
  for (let i = 0; i < AUTH_FAILURES_PER_MINUTE + 2; i++)
    clientStatuses.push(
      (
        await fetch(`${base}/token`, {
          method: "POST",
          headers: { ...from(addr2), "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ grant_type: "authorization_code", code: "c", client_id: `nobody-${i}` }),
        })
      ).status,
    );
  expect(clientStatuses[0]).toBe(401);
  expect(clientStatuses.at(-1)).toBe(429);
});

test("a request that presents no credential is not counted as a guess", async () => {
  const addr = "192.0.2.40";
  for (let i = 0; i < AUTH_FAILURES_PER_MINUTE + 5; i++) expect((await fetch(`${base}/admin/tokens`, { headers: from(addr) })).status).toBe(401);
  expect((await fetch(`${base}/admin/tokens`, { headers: from(addr, `Bearer ${ADMIN}`) })).status).toBe(200);
});
