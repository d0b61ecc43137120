/** Each rule of the MCP authorization spec the gateway enforces, over plain HTTP. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { harness, signIn, type Harness } from "./harness.ts";
import { REFRESH_GRACE_MS } from "../../src/mcp/tokens.ts";

const REDIRECT = "http://127.0.0.1:49998/cb";
const pkce = () => {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
};

describe("MCP authorization rules", () => {
  let h: Harness;
  let pub: string;
  beforeAll(async () => {
    h = await harness();
    pub = h.gw.gw.routes.current().publicUrl.origin;
  });
  afterAll(() => h.stop());

  const register = async (redirects = [REDIRECT], extra: Record<string, unknown> = {}) => {
    const r = await fetch(`${h.base}/register`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ client_name: "rules", redirect_uris: redirects, ...extra }) });
    return { status: r.status, body: (await r.json()) as Record<string, string> };
  };
  const authUrl = (clientId: string, p: Record<string, string | undefined>) => {
    const u = new URL(`${h.base}/authorize`);
    for (const [k, v] of Object.entries({ response_type: "code", client_id: clientId, redirect_uri: REDIRECT, state: "s1", ...p })) if (v !== undefined) u.searchParams.set(k, v);
    return u.href;
  };
  const token = (body: Record<string, string>) =>
    fetch(`${h.base}/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(body) });
  const mcp = (accessToken: string, path = "/mcp", body: unknown = { jsonrpc: "2.0", id: 1, method: "ping" }, headers: Record<string, string> = {}) =>
    fetch(`${h.base}${path}`, { method: "POST", headers: { authorization: `Bearer ${accessToken}`, "content-type": "application/json", accept: "application/json, text/event-stream", ...headers }, body: JSON.stringify(body) });

  /** Registration + sign-in + code exchange; returns the client, tokens and verifier. */
  async function fullGrant(user: "alice" | "bob" = "alice", resource?: string) {
    const client = (await register()).body.client_id!;
    const { verifier, challenge } = pkce();
    const back = await signIn(authUrl(client, { code_challenge: challenge, code_challenge_method: "S256", resource }), user, REDIRECT);
    const code = back.searchParams.get("code")!;
    const res = await token({ grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier, client_id: client });
    expect(res.status).toBe(200);
    return { client, code, verifier, tokens: (await res.json()) as { access_token: string; refresh_token: string } };
  }

  test("metadata: RFC 8414 and RFC 9728 documents point at each other", async () => {
    const as = (await (await fetch(`${h.base}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(as).toMatchObject({ issuer: pub, code_challenge_methods_supported: ["S256"], client_id_metadata_document_supported: true, registration_endpoint: `${pub}/register` });
    const pr = (await (await fetch(`${h.base}/.well-known/oauth-protected-resource/mcp`)).json()) as Record<string, unknown>;
    expect(pr).toMatchObject({ resource: `${pub}/mcp`, authorization_servers: [pub] });
    const named = (await (await fetch(`${h.base}/.well-known/oauth-protected-resource/mcp/everything`)).json()) as Record<string, unknown>;
    expect(named.resource).toBe(`${pub}/mcp/everything`);
    expect((await fetch(`${h.base}/.well-known/oauth-protected-resource/mcp/nope`)).status).toBe(404);
  });

  test("registration: https, loopback http or native custom schemes only", async () => {
    expect((await register(["https://app.example/cb"])).status).toBe(201);
    expect((await register(["http://evil.example/cb"])).body.error).toBe("invalid_redirect_uri");
    expect((await register(["com.example.app:/cb"])).body.error).toBe("invalid_redirect_uri");
    expect((await register(["com.example.app:/cb"], { application_type: "native" })).status).toBe(201);
    expect((await register(["javascript:alert(1)"], { application_type: "native" })).body.error).toBe("invalid_redirect_uri");
    expect((await register([])).body.error).toBe("invalid_redirect_uri");
    const confidential = await register([REDIRECT], { token_endpoint_auth_method: "client_secret_post" });
    expect(confidential.body.client_secret).toStartWith("mcps_");
  });

  test("a Client ID Metadata Document URL on a private address is refused by the SSRF guard, never fetched", async () => {
    let fetched = 0;
    const doc = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => (fetched++, Response.json({})) });
    const clientId = `https://127.0.0.1:${doc.port}/client.json`;
    const r = await fetch(authUrl(clientId, { code_challenge: pkce().challenge, code_challenge_method: "S256" }), { redirect: "manual" });
    doc.stop(true);
    expect(r.status).toBe(400);
    expect(await r.text()).toContain("not registered");
    expect(fetched).toBe(0);
    const http = await fetch(authUrl("http://example.com/client.json", {}), { redirect: "manual" });
    expect(http.status).toBe(400); // only https URLs are metadata documents
  });

  test("authorize: exact redirect match, PKCE S256 required, unknown resource refused", async () => {
    const client = (await register()).body.client_id!;
    const { challenge } = pkce();
    const wrongRedirect = await fetch(authUrl(client, { redirect_uri: `${REDIRECT}/extra`, code_challenge: challenge, code_challenge_method: "S256" }), { redirect: "manual" });
    expect(wrongRedirect.status).toBe(400); // a page, never a redirect to an unregistered URI
    const noPkce = await fetch(authUrl(client, {}), { redirect: "manual" });
    expect(noPkce.status).toBe(302);
    expect(new URL(noPkce.headers.get("location")!).searchParams.get("error")).toBe("invalid_request");
    const plain = await fetch(authUrl(client, { code_challenge: challenge, code_challenge_method: "plain" }), { redirect: "manual" });
    expect(new URL(plain.headers.get("location")!).searchParams.get("error")).toBe("invalid_request");
    const badResource = await fetch(authUrl(client, { code_challenge: challenge, code_challenge_method: "S256", resource: "https://elsewhere.example/mcp" }), { redirect: "manual" });
    const loc = new URL(badResource.headers.get("location")!);
    expect(loc.searchParams.get("error")).toBe("invalid_target");
    expect(loc.searchParams.get("iss")).toBe(pub);
  });

  test("token: PKCE verified; a reused code fails and revokes what it issued", async () => {
    const g = await fullGrant();
    const reuse = await token({ grant_type: "authorization_code", code: g.code, redirect_uri: REDIRECT, code_verifier: g.verifier, client_id: g.client });
    expect(reuse.status).toBe(400);
    expect(((await reuse.json()) as { error: string }).error).toBe("invalid_grant");
    expect((await mcp(g.tokens.access_token)).status).toBe(401);

    const client = (await register()).body.client_id!;
    const { challenge } = pkce();
    const back = await signIn(authUrl(client, { code_challenge: challenge, code_challenge_method: "S256" }), "alice", REDIRECT);
    const wrong = await token({ grant_type: "authorization_code", code: back.searchParams.get("code")!, redirect_uri: REDIRECT, code_verifier: pkce().verifier, client_id: client });
    expect(((await wrong.json()) as { error_description: string }).error_description).toContain("PKCE");
  });

  test("refresh: rotation; a retry within the grace window works; a replay after it revokes the family", async () => {
    const g = await fullGrant();
    const r1 = await token({ grant_type: "refresh_token", refresh_token: g.tokens.refresh_token, client_id: g.client });
    const t1 = (await r1.json()) as { access_token: string; refresh_token: string };
    expect(t1.refresh_token).not.toBe(g.tokens.refresh_token);
    // the client lost that response and retries with the old token, within the grace window
    const retry = await token({ grant_type: "refresh_token", refresh_token: g.tokens.refresh_token, client_id: g.client });
    expect(retry.status).toBe(200);
    const t2 = (await retry.json()) as { access_token: string; refresh_token: string };
    expect((await mcp(t1.access_token)).status).toBe(401); // the lost pair is dead
    expect((await mcp(t2.access_token)).status).not.toBe(401);
    // after the grace window, presenting a rotated token again is a replay: the family goes
    await h.gw.gw.store.driver.run("UPDATE mcp_tokens SET rotated_at = ? WHERE rotated_at IS NOT NULL", Date.now() - REFRESH_GRACE_MS - 1000);
    const replay = await token({ grant_type: "refresh_token", refresh_token: g.tokens.refresh_token, client_id: g.client });
    expect(replay.status).toBe(400);
    expect((await mcp(t2.access_token)).status).toBe(401);
    expect((await h.gw.gw.store.audit.list({ kind: "mcp.refresh_reused" })).length).toBeGreaterThan(0);
  });

  test("audience: a token for /mcp is refused at /mcp/everything and vice versa", async () => {
    const g = await fullGrant("alice");
    const r = await mcp(g.tokens.access_token, "/mcp/everything");
    expect(r.status).toBe(401);
    expect(r.headers.get("www-authenticate")).toContain("another resource");
    const named = await fullGrant("alice", `${pub}/mcp/everything/`); // trailing slash: the same resource
    expect((await mcp(named.tokens.access_token, "/mcp/everything", { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } })).status).toBe(200);
    expect((await mcp(named.tokens.access_token, "/mcp")).status).toBe(401);
  });

  test("consent is asked for a new client even when the user already signed in for another", async () => {
    await fullGrant("alice");
    const fresh = (await register()).body.client_id!;
    const { challenge } = pkce();
    const page = await (await fetch(authUrl(fresh, { code_challenge: challenge, code_challenge_method: "S256" }))).text();
    const id = /name="id" value="([^"]+)"/.exec(page)![1]!;
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
    const after = await fetch(`${h.base}/authorize/login`, { method: "POST", body: new URLSearchParams({ id, csrf, username: "alice", password: "alice-password-1" }), redirect: "manual" });
    expect(after.status).toBe(200);
    expect(await after.text()).toContain("Allow access?");
    const denied = await signIn(authUrl(fresh, { code_challenge: pkce().challenge, code_challenge_method: "S256" }), "alice", REDIRECT, { consent: "deny" });
    expect(denied.searchParams.get("error")).toBe("access_denied");
  });

  test("an upstream that returns to /oauth/callback hands an MCP sign-in to /upstream/callback; other states stay there", async () => {
    const client = (await register()).body.client_id!;
    const page = await (await fetch(authUrl(client, { code_challenge: pkce().challenge, code_challenge_method: "S256" }))).text();
    const field = (html: string, name: string) => new RegExp(`name="${name}" value="([^"]+)"`).exec(html)![1]!;
    const id = field(page, "id");
    const csrf = field(page, "csrf");
    await fetch(`${h.base}/authorize/login`, { method: "POST", body: new URLSearchParams({ id, csrf, username: "alice", password: "alice-password-1" }) });
    const toUpstream = await fetch(`${h.base}/authorize/consent`, { method: "POST", body: new URLSearchParams({ id, csrf, decision: "allow" }), redirect: "manual" });
    const state = new URL(toUpstream.headers.get("location")!).searchParams.get("state")!;
    const handed = await fetch(`${h.base}/oauth/callback?code=c&state=${state}`, { redirect: "manual" });
    expect(handed.status).toBe(302);
    expect(handed.headers.get("location")).toBe(`/upstream/callback?code=c&state=${state}`);
    const foreign = await fetch(`${h.base}/oauth/callback?code=c&state=not-an-mcp-state`, { redirect: "manual" });
    expect(foreign.status).toBe(400);
    // an upstream answer that repeats a parameter is refused, and the sign-in in progress stays usable
    const repeated = await fetch(`${h.base}/upstream/callback?code=c&code=d&state=${state}`);
    expect(repeated.status).toBe(400);
    expect(await repeated.text()).toContain("repeats code");
    expect(await h.gw.gw.store.mcp.pendingIdByUpstreamState(state)).not.toBeNull();
  });

  test("login: wrong password is refused and audited; attempts are rate-limited per user", async () => {
    const client = (await register()).body.client_id!;
    const attempt = async () => {
      const page = await (await fetch(authUrl(client, { code_challenge: pkce().challenge, code_challenge_method: "S256" }))).text();
      const id = /name="id" value="([^"]+)"/.exec(page)![1]!;
      const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
      return fetch(`${h.base}/authorize/login`, { method: "POST", body: new URLSearchParams({ id, csrf, username: "mallory", password: "wrong" }) });
    };
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await attempt()).status); // 5 failures, then locked out
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses[5]).toBe(429);
    expect((await h.gw.gw.store.audit.list({ kind: "mcp.login_failed" })).length).toBeGreaterThanOrEqual(5);
    const forged = await fetch(`${h.base}/authorize/login`, { method: "POST", body: new URLSearchParams({ id: "x", csrf: "y", username: "alice", password: "alice-password-1" }) });
    expect(forged.status).toBe(400);
    const framed = await fetch(authUrl(client, { code_challenge: pkce().challenge, code_challenge_method: "S256" }));
    expect(framed.headers.get("x-frame-options")).toBe("DENY");
    expect(framed.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
  });

  test("two users' upstream tokens never cross, and no response carries an upstream token", async () => {
    const a = await fullGrant("alice");
    const b = await fullGrant("bob");
    const init = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } };
    const ra = await mcp(a.tokens.access_token, "/mcp", init);
    const rb = await mcp(b.tokens.access_token, "/mcp", init);
    const bodies = (await ra.text()) + (await rb.text());
    const lastTwo = h.up.seen.filter((s) => s.method === "POST").slice(-2);
    expect(lastTwo.map((s) => s.account)).toEqual(["alice", "bob"]);
    expect(lastTwo[0]!.token).not.toBe(lastTwo[1]!.token);
    for (const s of h.up.seen) if (s.token) expect(bodies + JSON.stringify([...ra.headers, ...rb.headers])).not.toContain(s.token);
    for (const t of [a.tokens, b.tokens]) expect(JSON.stringify(t)).not.toMatch(/[A-Za-z0-9_-]{43}\.|upstream/);
  });

  test("2026-07-28 stateless shape: request metadata headers forwarded, checked against the body, a disagreement is 400 / -32020", async () => {
    const g = await fullGrant("alice");
    const meta = { "io.modelcontextprotocol/protocolVersion": "2026-07-28" };
    const call = { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "echo", arguments: { message: "x" }, _meta: meta } };
    const v = { "mcp-protocol-version": "2026-07-28" };
    const refused = async (r: Response) => {
      expect(r.status).toBe(400);
      const body = (await r.json()) as { id: unknown; error: { code: number; message: string } };
      expect(body.error.code).toBe(-32020);
      return body;
    };
    const before = h.up.seen.length;
    expect((await refused(await mcp(g.tokens.access_token, "/mcp", call, { ...v, "mcp-method": "tools/list", "mcp-name": "echo" }))).id).toBe(7);
    await refused(await mcp(g.tokens.access_token, "/mcp", call, { ...v, "mcp-method": "tools/call", "mcp-name": "get-sum" }));
    await refused(await mcp(g.tokens.access_token, "/mcp", call, { ...v, "mcp-method": "tools/call" })); // Mcp-Name missing
    await refused(await mcp(g.tokens.access_token, "/mcp", call, { ...v, "mcp-name": "echo" })); // Mcp-Method missing
    await refused(await mcp(g.tokens.access_token, "/mcp", call, { ...v, "mcp-method": "tools/call", "mcp-name": "=?base64?ZWNobw?=" })); // unpadded base64
    await refused(await mcp(g.tokens.access_token, "/mcp", call, { ...v, "mcp-method": "tools/call", "mcp-name": "echo", "mcp-param-region": "=?base64?/w==?=" })); // 0xff is not UTF-8
    const task = { jsonrpc: "2.0", id: 8, method: "tasks/get", params: { taskId: "t-1", _meta: meta } };
    await refused(await mcp(g.tokens.access_token, "/mcp", task, { ...v, "mcp-method": "tasks/get", "mcp-name": "t-2" }));
    expect(h.up.seen.length).toBe(before); // none of them reached the upstream

    const denied = await mcp(g.tokens.access_token, "/mcp", { ...call, params: { ...call.params, name: "get-env" } }, { ...v, "mcp-method": "tools/call", "mcp-name": "get-env" });
    expect(((await denied.json()) as { error: { message: string } }).error.message).toContain("not available");
    const encoded = "=?base64?ZWNobw==?="; // "echo", encoded although it need not be: decoded before the comparison, forwarded as sent
    await mcp(g.tokens.access_token, "/mcp", call, { ...v, "mcp-method": "tools/call", "mcp-name": encoded, "mcp-param-region": "=?base64?WsO8cmljaA==?=" });
    expect(h.up.seen.at(-1)!).toMatchObject({ mcpMethod: "tools/call", mcpName: encoded, version: "2026-07-28", account: "alice", params: { "mcp-param-region": "=?base64?WsO8cmljaA==?=" } });
    await mcp(g.tokens.access_token, "/mcp", task, { ...v, "mcp-method": "tasks/get", "mcp-name": "t-1" });
    expect(h.up.seen.at(-1)!).toMatchObject({ mcpMethod: "tasks/get", mcpName: "t-1" });
    expect((await mcp(g.tokens.access_token, "/mcp", null)).status).toBeLessThan(500); // JSON null: no message to look at
  });

  test("a browser Origin other than the gateway's is refused (DNS rebinding)", async () => {
    const g = await fullGrant("alice");
    const r = await mcp(g.tokens.access_token, "/mcp", { jsonrpc: "2.0", id: 1, method: "ping" }, { origin: "https://evil.example" });
    expect(r.status).toBe(403);
  });

  test("an upstream 401 (token revoked early upstream) is answered by one refresh and a retry", async () => {
    const g = await fullGrant("alice");
    const init = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } };
    expect((await mcp(g.tokens.access_token, "/mcp", init)).status).toBe(200);
    const used = h.up.seen.at(-1)!.token!;
    await (await h.as.provider.AccessToken.find(used))!.destroy();
    const r = await mcp(g.tokens.access_token, "/mcp", init);
    expect(r.status).toBe(200);
    const lastTwo = h.up.seen.slice(-2);
    expect(lastTwo.map((s) => s.account)).toEqual([null, "alice"]); // refused, then accepted with the refreshed token
    expect(lastTwo[1]!.token).not.toBe(used);
    const log = (await h.gw.gw.requestLog.list({ project: "mcp", limit: 5 }));
    expect(log.at(-1)).toMatchObject({ endpoint: "everything", method: "POST", path: "initialize", status: 200 });
  });

  test("the upstream grant gone: 401 to the client and an audit event", async () => {
    const g = await fullGrant("bob");
    await h.gw.gw.store.driver.run("DELETE FROM oauth_grants WHERE connection = 'mcp:bob:everything'");
    const r = await mcp(g.tokens.access_token);
    expect(r.status).toBe(401);
    expect((await h.gw.gw.store.audit.list({ kind: "mcp.upstream_grant_lost" })).some((e) => e.actor === "bob")).toBe(true);
  });
});
