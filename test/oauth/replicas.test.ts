/**
 * One upstream refresh per grant across replicas: two gateways on one PostgreSQL and one Redis, 100
 * concurrent requests spread over both, all needing the grant's access token refreshed, cause exactly
 * one refresh at the provider; every request is answered with the new token.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startGateway } from "../helpers/gateway.ts";
import { upstream } from "../helpers/upstream.ts";
import { startRedis, type RedisServer } from "../helpers/redis.ts";
import { postgresForFile } from "../helpers/stores.ts";
import type { Running } from "../../src/root/serve.ts";

const pg = postgresForFile();
let redis: RedisServer;
let refreshes = 0;
let issued = 0;
// a provider whose refresh takes a while (so the requests overlap) and rotates the refresh token
const provider = upstream(async (req) => {
  const form = new URLSearchParams(await req.text());
  if (form.get("grant_type") !== "refresh_token") return Response.json({ error: "unsupported_grant_type" }, { status: 400 });
  refreshes++;
  await Bun.sleep(300);
  issued++;
  return Response.json({ access_token: `at-${issued}`, refresh_token: `rt-${issued}`, token_type: "bearer", expires_in: 3600 });
});
// the API behind the endpoint: says which token it got
const api = upstream((req) => Response.json({ auth: req.headers.get("authorization") }));

type Gw = Running & { lines: string[] };

/** A replica on the shared PostgreSQL (env DB), `state` added: an endpoint injecting the connection's token. */
const config = (state: string) => `[storage]\nbackend = "postgres"\nurl = "env:DB"\n${state}[github]\nenabled = false
[[oauth_connections]]
name = "idp"
authorization_url = "${provider.url}/authorize"
token_url = "${provider.url}/token"
client_id = "c"
client_secret = "env:CS"
allow_private = true
[[projects]]
id = "p"
[[projects.endpoints]]
slug = "api"
upstream_url = "${api.url}"
auth_mode = "none"
allow_private = true
oauth_connection = "idp"
`;
let a: Gw;
let b: Gw;

beforeAll(async () => {
  redis = await startRedis();
  const db = await pg.database();
  const body = config(`[state]\nbackend = "redis"\nurl = "env:REDIS"\n`);
  const env = { DB: db, REDIS: redis.url, CS: "secret" };
  a = (await startGateway(body, env)) as Gw;
  b = (await startGateway(body, env)) as Gw;
  // a grant whose access token has expired
  await a.gw.store.oauth.saveGrant({ connection: "idp", accessToken: "at-0", refreshToken: "rt-0", tokenType: "bearer", scopes: [], expiresAt: Date.now() - 1000, connectedAt: Date.now(), refreshedAt: null, lastError: null });
});
afterAll(async () => {
  await Promise.all([a?.shutdown(), b?.shutdown()]);
  await redis?.stop();
  provider.stop();
  api.stop();
});

test("100 concurrent requests over two replicas, all needing a refresh: one upstream refresh, everyone gets the new token", async () => {
  const rs = await Promise.all(Array.from({ length: 100 }, (_, i) => fetch(`${(i % 2 ? a : b).url.href}api/p/proxy/api/x`)));
  const bodies = (await Promise.all(rs.map((r) => r.json()))) as { auth: string }[];
  expect(rs.map((r) => r.status)).toEqual(Array(100).fill(200));
  expect(refreshes).toBe(1);
  expect(new Set(bodies.map((x) => x.auth))).toEqual(new Set(["Bearer at-1"]));
  // the rotated refresh token is what the store holds now, for both
  const grant = await b.gw.store.oauth.grant("idp");
  expect(grant?.refreshToken).toBe("rt-1");
});

test("without a shared lock (memory state), the grant's version still keeps one refresh's result: every replica answers with the token it stored", async () => {
  const db = await pg.database();
  const body = config("");
  const env = { DB: db, CS: "secret" };
  const [c, d] = (await Promise.all([startGateway(body, env), startGateway(body, env)])) as [Gw, Gw];
  try {
    await c.gw.store.oauth.saveGrant({ connection: "idp", accessToken: "old", refreshToken: "rt-old", tokenType: "bearer", scopes: [], expiresAt: Date.now() - 1000, connectedAt: Date.now(), refreshedAt: null, lastError: null });
    const before = refreshes;
    const rs = await Promise.all([c, d].map((g) => fetch(`${g.url.href}api/p/proxy/api/x`)));
    const auths = (await Promise.all(rs.map((r) => r.json()))) as { auth: string }[];
    expect(refreshes - before).toBe(2); // no lock shared: both replicas asked the provider
    const stored = (await d.gw.store.oauth.grant("idp"))!;
    expect(auths.map((x) => x.auth)).toEqual([`Bearer ${stored.accessToken}`, `Bearer ${stored.accessToken}`]);
    expect(stored.version).toBe(1);
    expect([...c.lines, ...d.lines].some((l) => l.includes("oauth refresh raced another"))).toBe(true);
  } finally {
    await Promise.all([c.shutdown(), d.shutdown()]);
  }
});
