/**
 * A parameter sent more than once is refused, never read as its first value (RFC 6749 §3.1–3.2):
 * at /authorize, /token and /revoke, and — its body being JSON — a member name twice at /register.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { clientTokens, harness, signIn, type Harness } from "./harness.ts";

const REDIRECT = "http://127.0.0.1:49991/cb";

describe("repeated parameters", () => {
  let h: Harness;
  let client: string;
  beforeAll(async () => {
    h = await harness();
    client = ((await (await register(JSON.stringify({ redirect_uris: [REDIRECT] }))).json()) as { client_id: string }).client_id;
  });
  afterAll(() => h.stop());

  const register = (body: string) => fetch(`${h.base}/register`, { method: "POST", headers: { "content-type": "application/json" }, body });
  const post = (path: string, body: string) => fetch(`${h.base}${path}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body });
  const oauthError = async (r: Response) => ({ status: r.status, ...((await r.json()) as { error: string; error_description: string }) });
  const pkce = () => {
    const verifier = randomBytes(32).toString("base64url");
    return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
  };
  /** /authorize with these pairs, in order (so a name can appear twice) */
  const authorize = (pairs: [string, string][]) => fetch(`${h.base}/authorize?${new URLSearchParams(pairs)}`, { redirect: "manual" });
  const valid = (challenge: string): [string, string][] => [
    ["response_type", "code"],
    ["client_id", client],
    ["redirect_uri", REDIRECT],
    ["code_challenge", challenge],
    ["code_challenge_method", "S256"],
    ["state", "s1"],
  ];

  test("/authorize: the request as such is accepted (the login page)", async () => {
    const r = await authorize(valid(pkce().challenge));
    expect(r.status).toBe(200);
    expect(await r.text()).toContain('action="/authorize/login"');
  });

  test("/authorize: a repeated parameter goes back to the client as invalid_request, with state and iss", async () => {
    const { challenge } = pkce();
    for (const extra of [["code_challenge", challenge], ["scope", "mcp"], ["response_type", "code"], ["code_challenge_method", "S256"]] as [string, string][]) {
      const r = await authorize([...valid(challenge), ["scope", "mcp"], extra]);
      expect(r.status).toBe(302);
      const back = new URL(r.headers.get("location")!);
      expect(`${back.origin}${back.pathname}`).toBe(REDIRECT);
      expect(back.searchParams.get("error")).toBe("invalid_request");
      expect(back.searchParams.get("error_description")).toContain(extra[0]);
      expect(back.searchParams.get("state")).toBe("s1");
      expect(back.searchParams.get("iss")).toBe(h.gw.gw.routes.current().publicUrl.origin);
    }
  });

  test("/authorize: a repeated state is not echoed (neither value is the client's state)", async () => {
    const r = await authorize([...valid(pkce().challenge), ["state", "s2"]]);
    const back = new URL(r.headers.get("location")!);
    expect(back.searchParams.get("error")).toBe("invalid_request");
    expect(back.searchParams.has("state")).toBe(false);
  });

  test("/authorize: a repeated client_id or redirect_uri is a page, never a redirect", async () => {
    for (const extra of [["client_id", client], ["redirect_uri", REDIRECT], ["redirect_uri", "https://evil.example/cb"]] as [string, string][]) {
      const r = await authorize([...valid(pkce().challenge), extra]);
      expect(r.status).toBe(400);
      expect(r.headers.get("location")).toBeNull();
      expect(await r.text()).toContain("more than once");
    }
  });

  test("/authorize: several resources are invalid_target (a token is for one MCP server)", async () => {
    const mcp = `${h.gw.gw.routes.current().publicUrl.origin}/mcp`;
    const r = await authorize([...valid(pkce().challenge), ["resource", mcp], ["resource", `${mcp}/everything`]]);
    expect(new URL(r.headers.get("location")!).searchParams.get("error")).toBe("invalid_target");
  });

  test("/token: a repeated parameter is invalid_request, and the code is not spent by it", async () => {
    const { verifier, challenge } = pkce();
    const u = new URL(`${h.base}/authorize`);
    u.search = new URLSearchParams(valid(challenge)).toString();
    const code = (await signIn(u.href, "alice", REDIRECT)).searchParams.get("code")!;
    const exchange = [`grant_type=authorization_code`, `code=${code}`, `redirect_uri=${encodeURIComponent(REDIRECT)}`, `client_id=${client}`, `code_verifier=${verifier}`];
    const twice = await oauthError(await post("/token", [...exchange, `code_verifier=${pkce().verifier}`].join("&")));
    expect(twice).toMatchObject({ status: 400, error: "invalid_request" });
    expect(twice.error_description).toContain("code_verifier");
    expect((await oauthError(await post("/token", [...exchange, "grant_type=refresh_token"].join("&")))).error).toBe("invalid_request");
    expect((await post("/token", exchange.join("&"))).status).toBe(200);
  });

  test("/token: a repeated refresh_token is refused before the token is consumed", async () => {
    const t = await clientTokens(h.base, REDIRECT, "bob");
    const body = `grant_type=refresh_token&client_id=${t.clientId}&refresh_token=${t.refresh_token}`;
    expect(await oauthError(await post("/token", `${body}&refresh_token=${t.refresh_token}`))).toMatchObject({ status: 400, error: "invalid_request" });
    expect((await post("/token", body)).status).toBe(200);
  });

  test("/revoke: a repeated token is invalid_request and revokes nothing", async () => {
    const t = await clientTokens(h.base, REDIRECT, "alice");
    const r = await post("/revoke", `client_id=${t.clientId}&token=${t.refresh_token}&token=${t.access_token}`);
    expect(await oauthError(r)).toMatchObject({ status: 400, error: "invalid_request" });
    expect((await post("/token", `grant_type=refresh_token&client_id=${t.clientId}&refresh_token=${t.refresh_token}`)).status).toBe(200);
  });

  test("/register: a member name twice in the JSON body is invalid_client_metadata, however it is spelled", async () => {
    const twice = await oauthError(await register(`{"redirect_uris": ["${REDIRECT}"], "client_name": "a", "redirect_uris": ["https://evil.example/cb"]}`));
    expect(twice).toMatchObject({ status: 400, error: "invalid_client_metadata" });
    expect(twice.error_description).toContain("redirect_uris");
    const escaped = await register(`{"redirect_uris": ["${REDIRECT}"], "redirect\\u005furis": ["https://evil.example/cb"]}`);
    expect((await oauthError(escaped)).error).toBe("invalid_client_metadata");
    // the same name in different objects, or inside a string value, is not a repeat
    const fine = await register(`{"redirect_uris": ["${REDIRECT}"], "client_name": "\\"redirect_uris\\": x", "jwks": {"keys": [{"kid": "a"}, {"kid": "b"}]}}`);
    expect(fine.status).toBe(201);
  });
});
