/**
 * The whole life of an OAuth connection against a real authorization server (oidc-provider):
 * not connected → 502; connect (one-time link, state, PKCE, login + consent) → the grant is stored
 * sealed; proxy with the injected token (checked by an upstream that asks the AS); expiry → one
 * refresh for concurrent requests, rotated refresh token stored; revoked at the AS → 502 and an audit
 * event; disconnect → revoked and deleted.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startAs, browse, type TestAs } from "../helpers/oidc.ts";
import { freePort, runCli, startGateway } from "../helpers/gateway.ts";
import { upstream } from "../helpers/upstream.ts";
import { mintApiToken } from "../../src/crypto/apitoken.ts";
import type { Running } from "../../src/root/serve.ts";


describe("OAuth connection lifecycle against oidc-provider", () => {
  let as: TestAs;
  let gw: Running;
  let api: ReturnType<typeof upstream>;
  let base: string;
  const seen: { token: string | null; auth: string | null }[] = [];
  const token = mintApiToken();
  const call = (path = "/me") => fetch(`${base}/api/p/proxy/api${path}`, { headers: { authorization: `Bearer ${token}` } });

  beforeAll(async () => {
    const [asPort, gwPort] = [await freePort(), await freePort()];
    const publicUrl = `http://localhost:${gwPort}`;
    as = await startAs(asPort, `${publicUrl}/oauth/callback`);
    api = upstream(async (req) => {
      const auth = req.headers.get("authorization");
      const bearer = /^Bearer (.+)$/.exec(auth ?? "")?.[1] ?? null;
      seen.push({ token: bearer, auth });
      const at = bearer ? await as.provider.AccessToken.find(bearer) : undefined;
      if (!at) return Response.json({ error: "invalid_token" }, { status: 401 });
      return Response.json({ sub: at.accountId, path: new URL(req.url).pathname });
    });
    gw = await startGateway(
      `[server]
port = ${gwPort}
public_url = "${publicUrl}"
${as.connection("idp", `revocation_url = "${as.issuer}/token/revocation"`)}
[[projects]]
id = "p"
[[projects.endpoints]]
slug = "api"
upstream_url = "${api.url}"
oauth_connection = "idp"
allow_private = true
[[projects.tokens]]
name = "ci"
token = "env:HG_TOKEN"
scopes = ["proxy"]
`,
      { IDP_SECRET: "client-secret-for-tests", HG_TOKEN: token },
    );
    base = gw.url.href.replace(/\/$/, "");
  });
  afterAll(async () => {
    await gw?.shutdown();
    as?.stop();
    api?.stop();
  });

  const grantRow = () => gw.gw.store.driver.get<{ access_token: string; refresh_token: string; expires_at: number }>("SELECT access_token, refresh_token, expires_at FROM oauth_grants");
  const audit = (kind: string) => gw.gw.store.audit.list({ kind, limit: 100 });

  test("never connected: 502 Upstream OAuth connection failed", async () => {
    const r = await call();
    expect(r.status).toBe(502);
    const body = (await r.json()) as { error: string; message: string };
    expect(body.error).toBe("oauth_connection_failed");
    expect(body.message).toStartWith("Upstream OAuth connection failed");
    expect(seen).toHaveLength(0);
  });

  test("connect: one-time link → provider login and consent → Connected; tokens stored sealed", async () => {
    const { url } = await gw.gw.oauth.startConnect("idp", "test");
    expect(url).toStartWith(`${base.replace("127.0.0.1", "localhost")}/oauth/connect/`);
    const toLoopback = (u: string) => u.replace("//localhost:", "//127.0.0.1:");
    const done = await browse(url, toLoopback);
    if (done.status !== 200) console.log("BROWSE", done.url, done.text.slice(0, 400));
    expect(done.status).toBe(200);
    expect(done.text).toContain("Connected");
    const row = (await grantRow())!;
    expect(row.access_token).toStartWith("hg1.");
    expect(row.refresh_token).toStartWith("hg1.");
    expect(await gw.gw.oauth.status()).toMatchObject([{ name: "idp", status: "connected" }]);
    expect(await audit("oauth_connection.connected")).toHaveLength(1);
    // the link was single-use
    const again = await fetch(toLoopback(url), { redirect: "manual" });
    expect(again.status).toBe(400);
  });

  test("proxy: the upstream gets a token the AS issued; the client's hubgate token never leaves", async () => {
    const r = await call("/me");
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ sub: "alice", path: "/me" });
    expect(seen.at(-1)!.token).not.toBe(token);
    expect(seen.at(-1)!.auth).not.toContain("hg_");
  });

  test("CLI: connections shows the grant; connect prints a one-time URL the running gateway accepts", async () => {
    const env = { IDP_SECRET: "client-secret-for-tests", HG_TOKEN: token };
    const cfg = (gw as unknown as { configPath: string }).configPath;
    const list = await runCli(["connections", "--config", cfg], { env });
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^NAME +PRESET +STATUS /);
    expect(list.stdout).toMatch(/^idp +- +connected /m);
    const c = await runCli(["connect", "idp", "--config", cfg], { env });
    expect(c.code).toBe(0);
    const url = c.stdout.trim();
    expect(url).toMatch(/\/oauth\/connect\/[A-Za-z0-9_-]{20,}$/);
    const r = await fetch(url.replace("//localhost:", "//127.0.0.1:"), { redirect: "manual" });
    expect(r.status).toBe(302);
    const to = new URL(r.headers.get("location")!);
    expect(to.origin + to.pathname).toBe(`${as.issuer}/auth`);
    expect(to.searchParams.get("code_challenge_method")).toBe("S256");
    expect(to.searchParams.get("redirect_uri")).toBe(`${base.replace("127.0.0.1", "localhost")}/oauth/callback`);
    const unknown = await runCli(["connect", "nope", "--config", cfg], { env });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('No OAuth connection named "nope"');
  });

  /** Opens a fresh connect link and returns the state the gateway sent to the provider. */
  async function freshState(): Promise<string> {
    const { url } = await gw.gw.oauth.startConnect("idp", "test");
    const r = await fetch(url.replace("//localhost:", "//127.0.0.1:"), { redirect: "manual" });
    return new URL(r.headers.get("location")!).searchParams.get("state")!;
  }

  test("the provider denying access shows a page, audits, and stores nothing", async () => {
    const state = await freshState();
    const r = await fetch(`${base}/oauth/callback?error=access_denied&error_description=user+said+no&state=${state}`);
    expect(r.status).toBe(400);
    expect(await r.text()).toContain("did not grant access (access_denied: user said no)");
    expect((await audit("oauth_connection.connect_failed")).some((e) => (e.detail as { reason?: string })?.reason === "access_denied")).toBe(true);
    // the state was consumed: replaying it fails
    expect((await fetch(`${base}/oauth/callback?code=x&state=${state}`)).status).toBe(400);
  });

  test("a failed code exchange shows a page and audits; the existing grant is untouched", async () => {
    const before = (await grantRow())!.access_token;
    const state = await freshState();
    const r = await fetch(`${base}/oauth/callback?code=not-a-real-code&state=${state}`);
    expect(r.status).toBe(502);
    expect(await r.text()).toContain("Exchanging the authorization code failed");
    expect((await audit("oauth_connection.connect_failed")).some((e) => (e.detail as { reason?: string })?.reason === "invalid_grant")).toBe(true);
    expect((await grantRow())!.access_token).toBe(before);
  });

  test("a provider answer that repeats state or code is refused, and the connect request stays usable", async () => {
    const state = await freshState();
    for (const q of [`code=x&state=${state}&state=forged`, `code=x&code=y&state=${state}`]) {
      const r = await fetch(`${base}/oauth/callback?${q}`);
      expect(r.status).toBe(400);
      expect(await r.text()).toContain("repeats");
    }
    // not consumed by the refused answers: the provider's real answer is still matched to it
    const r = await fetch(`${base}/oauth/callback?code=not-a-real-code&state=${state}`);
    expect(r.status).toBe(502);
    expect(await r.text()).toContain("Exchanging the authorization code failed");
  });

  test("a callback with an unknown state is refused with a page and an audit event", async () => {
    const r = await fetch(`${base}/oauth/callback?code=x&state=forged`);
    expect(r.status).toBe(400);
    expect(await r.text()).toContain("Not connected");
    expect((await audit("oauth_connection.connect_failed")).some((e) => (e.detail as { reason?: string })?.reason === "bad_state")).toBe(true);
  });

  test("expiry: concurrent requests share one refresh; the rotated refresh token is stored", async () => {
    const before = (await grantRow())!;
    await gw.gw.store.driver.run("UPDATE oauth_grants SET expires_at = ?", Date.now() + 30_000); // inside the 60 s margin
    const rs = await Promise.all(Array.from({ length: 5 }, () => call("/after-refresh")));
    expect(rs.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(await audit("oauth_connection.refreshed")).toHaveLength(1);
    const after = (await grantRow())!;
    expect(after.refresh_token).not.toBe(before.refresh_token);
    expect(after.access_token).not.toBe(before.access_token);
    expect(after.expires_at).toBeGreaterThan(Date.now() + 3_000_000);
    const tokens = new Set(seen.slice(-5).map((s) => s.token));
    expect(tokens.size).toBe(1);
  });

  test("grant revoked at the provider: the next refresh fails → 502 and oauth_connection.refresh_failed", async () => {
    const grant = (await gw.gw.store.oauth.grant("idp"))!;
    const rev = await fetch(`${as.issuer}/token/revocation`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: grant.refreshToken!, client_id: "hubgate-test", client_secret: "client-secret-for-tests" }),
    });
    expect(rev.status).toBe(200);
    await gw.gw.store.driver.run("UPDATE oauth_grants SET expires_at = ?", Date.now() + 1000);
    const r = await call();
    expect(r.status).toBe(502);
    expect(((await r.json()) as { message: string }).message).toContain("Upstream OAuth connection failed");
    expect(await audit("oauth_connection.refresh_failed")).toHaveLength(1);
    expect((await gw.gw.oauth.status())[0]!.status).toBe("error");
  });

  test("disconnect (CLI) deletes the grant; audit and logs CLIs read the same database; nothing secret was logged", async () => {
    const env = { IDP_SECRET: "client-secret-for-tests", HG_TOKEN: token };
    const cfg = (gw as unknown as { configPath: string }).configPath;
    const d = await runCli(["disconnect", "idp", "--config", cfg], { env });
    expect(d.code).toBe(0);
    expect(d.stdout).toContain("idp: grant deleted");
    const a = await runCli(["audit", "--config", cfg, "--kind", "oauth_connection.refresh_failed"], { env });
    expect(a.stdout).toMatch(/ oauth_connection\.refresh_failed +system +idp /);
    const l = await runCli(["logs", "--config", cfg, "--limit", "500"], { env });
    expect(l.stdout).toMatch(/ p\/api +GET +\/after-refresh +200 /);
    expect(l.stdout).not.toContain(token);
    expect(await grantRow()).toBeNull();
    expect((await call()).status).toBe(502);
    const logs = (gw as unknown as { lines: string[] }).lines.join("\n");
    for (const s of seen) if (s.token) expect(logs).not.toContain(s.token);
    expect(logs).not.toContain("client-secret-for-tests");
  });
});
