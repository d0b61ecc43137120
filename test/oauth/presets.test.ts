/** Provider presets as data, connection compile rules, and the token-endpoint quirks they describe. */
import { describe, expect, test } from "bun:test";
import { PRESETS, parsePresets } from "../../src/oauth/presets.ts";
import { compileConnections, type ConnectionRoute } from "../../src/oauth/compile.ts";
import { exchangeCode, refreshGrant, revoke, OAuthError } from "../../src/oauth/client.ts";
import { parseConfig, ConfigError } from "../../src/config/index.ts";
import { loopbackConnection, upstream } from "../helpers/upstream.ts";

const REQUIRED = ["github", "gitlab", "google", "microsoft", "slack", "notion", "atlassian", "linear", "salesforce", "dropbox", "discord", "zoom", "hubspot"];

describe("presets", () => {
  test("all required providers ship, each with https authorize and token URLs", () => {
    for (const name of REQUIRED) {
      const p = PRESETS.get(name);
      expect(p, name).toBeDefined();
      expect(p!.authorization_url).toStartWith("https://");
      expect(p!.token_url).toStartWith("https://");
    }
  });

  test("quirks are data: Google offline access, Slack authed_user and commas, Notion Basic + JSON", () => {
    expect(PRESETS.get("google")!.extra_authorize_params).toMatchObject({ access_type: "offline", prompt: "consent" });
    expect(PRESETS.get("slack")).toMatchObject({ token_response_path: "authed_user", scope_separator: "," });
    expect(PRESETS.get("notion")).toMatchObject({ token_auth_method: "client_secret_basic", token_request: "json" });
  });

  test("a malformed preset file fails loudly with the preset and key", () => {
    expect(() => parsePresets('[x]\nauthorization_url = "https://a"\ntoken_url = 3\nscopes = []\n')).toThrow(/\[x\]\.token_url/);
    expect(() => parsePresets('[x]\nauthorization_url = "https://a"\ntoken_url = "https://b"\nscopes = []\nbogus = 1\n')).toThrow(/\[x\]/);
  });
});

describe("connection compile", () => {
  const compile = (toml: string, secrets: Record<string, string> = {}) => compileConnections(parseConfig(toml), new Map(Object.entries(secrets)));

  test("a preset fills every field; the connection overrides any of them", () => {
    const c = compile(
      `[[oauth_connections]]\nname = "g"\npreset = "google"\nclient_id = "id"\nclient_secret = "env:S"\nscopes = ["https://www.googleapis.com/auth/drive.readonly"]\nextra_authorize_params = { prompt = "select_account" }\n`,
      { "oauth_connections[0].client_secret": "sec" },
    ).get("g")!;
    expect(c.authorizationUrl).toBe("https://accounts.google.com/o/oauth2/v2/auth");
    expect(c.scopes).toEqual(["https://www.googleapis.com/auth/drive.readonly"]);
    expect(c.extraAuthorizeParams).toEqual({ access_type: "offline", prompt: "select_account" });
    expect(c.pkce).toBe(true);
    expect(c.tokenAuthMethod).toBe("client_secret_post");
  });

  test("unknown preset, missing URLs, missing client secret: ConfigError with key paths", () => {
    const issues = (toml: string) => {
      try {
        compile(toml);
        return [];
      } catch (e) {
        return (e as ConfigError).issues.map((i) => i.path);
      }
    };
    expect(issues(`[[oauth_connections]]\nname = "x"\npreset = "githib"\nclient_id = "i"\n`)).toEqual(["oauth_connections[0].preset"]);
    expect(issues(`[[oauth_connections]]\nname = "x"\nclient_id = "i"\n`)).toEqual(["oauth_connections[0].authorization_url", "oauth_connections[0].token_url"]);
    expect(issues(`[[oauth_connections]]\nname = "x"\npreset = "notion"\nclient_id = "i"\n`)).toEqual(["oauth_connections[0].client_secret"]);
  });
});

describe("token endpoint quirks (loopback providers)", () => {
  const conn = loopbackConnection;

  test("GitHub-style: a form-encoded answer is understood; Accept: application/json is always sent", async () => {
    let accept = "";
    let body = "";
    const p = upstream(async (req) => {
      accept = req.headers.get("accept") ?? "";
      body = await req.text();
      return new Response("access_token=gho_x&scope=repo%2Cread%3Aorg&token_type=bearer", { headers: { "content-type": "application/x-www-form-urlencoded" } });
    });
    const t = await exchangeCode(conn(p.url), "code1", "https://gw/cb", "verifier1");
    p.stop();
    expect(accept).toBe("application/json");
    expect(Object.fromEntries(new URLSearchParams(body))).toEqual({ grant_type: "authorization_code", code: "code1", redirect_uri: "https://gw/cb", code_verifier: "verifier1", client_id: "cid", client_secret: "csecret" });
    expect(t).toMatchObject({ accessToken: "gho_x", scope: "repo,read:org", refreshToken: null });
  });

  test("Notion-style: HTTP Basic client authentication and a JSON body", async () => {
    let auth = "";
    let json: Record<string, string> = {};
    const p = upstream(async (req) => {
      auth = req.headers.get("authorization") ?? "";
      json = (await req.json()) as Record<string, string>;
      return Response.json({ access_token: "secret_n", token_type: "bearer" });
    });
    await exchangeCode(conn(p.url, { tokenAuthMethod: "client_secret_basic", tokenRequest: "json" }), "c", "https://gw/cb", null);
    p.stop();
    expect(auth).toBe(`Basic ${Buffer.from("cid:csecret").toString("base64")}`);
    expect(json).toEqual({ grant_type: "authorization_code", code: "c", redirect_uri: "https://gw/cb" });
  });

  test("Slack-style: the user token under authed_user; ok:false is an error", async () => {
    let fail = false;
    const p = upstream(() =>
      fail ? Response.json({ ok: false, error: "invalid_code" }) : Response.json({ ok: true, access_token: "xoxb-bot", authed_user: { access_token: "xoxp-user", scope: "chat:write", refresh_token: "xoxe-r", expires_in: 43200 } }),
    );
    const c = conn(p.url, { tokenResponsePath: "authed_user" });
    const t = await exchangeCode(c, "c", "https://gw/cb", null);
    expect(t).toMatchObject({ accessToken: "xoxp-user", refreshToken: "xoxe-r", expiresIn: 43200 });
    fail = true;
    const e = await refreshGrant(c, "xoxe-r").catch((x: unknown) => x);
    p.stop();
    expect(e).toBeInstanceOf(OAuthError);
    expect((e as OAuthError).error).toBe("invalid_code");
  });

  test("RFC 7009 revocation posts the token with a hint; no revocation URL means not supported", async () => {
    let form: Record<string, string> = {};
    const p = upstream(async (req) => {
      form = Object.fromEntries(new URLSearchParams(await req.text()));
      return new Response(null, { status: 200 });
    });
    expect(await revoke(conn(p.url), "rt", "refresh_token")).toBe(true);
    p.stop();
    expect(form).toMatchObject({ token: "rt", token_type_hint: "refresh_token", client_id: "cid" });
    expect(await revoke(conn(p.url, { revocationUrl: undefined }), "rt", "refresh_token")).toBe(false);
  });
});
