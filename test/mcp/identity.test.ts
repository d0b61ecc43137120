/** Signing in with the upstream (GitHub) account instead of a gateway password: allowed users and orgs only. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { harness, toLoopback, type Harness } from "./harness.ts";
import { browse } from "../helpers/oidc.ts";

const REDIRECT = "http://127.0.0.1:49996/cb";
let h: Harness;
let api: ReturnType<typeof Bun.serve>;

beforeAll(async () => {
  // a GitHub-like API that knows the test AS's tokens: /user and /user/orgs
  let asRef: Harness["as"] | undefined;
  api = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const bearer = /^Bearer (.+)$/.exec(req.headers.get("authorization") ?? "")?.[1];
      const at = bearer && asRef ? await asRef.provider.AccessToken.find(bearer) : undefined;
      if (!at) return Response.json({ message: "Bad credentials" }, { status: 401 });
      const path = new URL(req.url).pathname;
      if (path === "/user") return Response.json({ login: at.accountId });
      if (path === "/user/orgs") return Response.json(at.accountId === "alice" ? [{ login: "acme" }] : []);
      return new Response("", { status: 404 });
    },
  });
  h = await harness(`[mcp]\nallowed_github_users = ["Carol"]\nallowed_github_orgs = ["acme"]\n[github]\napi_url = "http://127.0.0.1:${api.port}"\nallow_private = true\n`);
  asRef = h.as;
});
afterAll(async () => {
  await h.stop();
  api.stop(true);
});

async function viaUpstream(account: string): Promise<URL> {
  const reg = (await (await fetch(`${h.base}/register`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ redirect_uris: [REDIRECT] }) })).json()) as { client_id: string };
  const challenge = createHash("sha256").update(randomBytes(32).toString("base64url")).digest("base64url");
  const u = new URL(`${h.base}/authorize`);
  for (const [k, v] of Object.entries({ response_type: "code", client_id: reg.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: "S256", state: "s" })) u.searchParams.set(k, v);
  const page = await (await fetch(u)).text();
  expect(page).toContain('action="/authorize/upstream-login"');
  const id = /name="id" value="([^"]+)"/.exec(page)![1]!;
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
  const start = await fetch(`${h.base}/authorize/upstream-login`, { method: "POST", body: new URLSearchParams({ id, csrf }), redirect: "manual" });
  expect(start.status).toBe(302);
  const r = await browse(start.headers.get("location")!, toLoopback, { stopAt: (x) => x.startsWith(REDIRECT), account });
  if (r.url.startsWith(REDIRECT)) return new URL(r.url);
  expect(r.text).toContain("Allow access?");
  expect(r.text).toContain(`github:${account}`);
  const allow = await fetch(`${h.base}/authorize/consent`, { method: "POST", body: new URLSearchParams({ id, csrf, decision: "allow" }), redirect: "manual" });
  return new URL(allow.headers.get("location")!);
}

test("a member of an allowed org signs in with the upstream account; the grant is theirs", async () => {
  const back = await viaUpstream("alice");
  expect(back.searchParams.get("code")).toBeString();
  expect(await h.gw.gw.store.oauth.info("mcp:github:alice:everything")).not.toBeNull();
});

test("an allowed user name matches case-insensitively", async () => {
  expect((await viaUpstream("carol")).searchParams.get("code")).toBeString();
});

test("anyone else is refused after the upstream login, and no grant is kept", async () => {
  const back = await viaUpstream("dave");
  expect(back.searchParams.get("error")).toBe("access_denied");
  expect(await h.gw.gw.store.oauth.info("mcp:github:dave:everything")).toBeNull();
  expect((await h.gw.gw.store.audit.list({ kind: "mcp.login_failed" })).some((e) => e.actor === "github:dave")).toBe(true);
});
