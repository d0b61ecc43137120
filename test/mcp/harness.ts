/** The MCP gateway test set-up: authorization server, upstream MCP server, gateway, and an SDK client that signs in like a person. */
import { createHash, randomBytes } from "node:crypto";
import type { OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import { startAs, browse, type TestAs } from "../helpers/oidc.ts";
import { upstreamMcp, type Upstream, type UpstreamMcp } from "../helpers/mcp-upstream.ts";
import { freePort, startGateway } from "../helpers/gateway.ts";
import type { Running } from "../../src/root/serve.ts";

export const PASSWORDS = { alice: "alice-password-1", bob: "bob-password-2" };

export interface Harness<U extends Upstream = UpstreamMcp> {
  as: TestAs;
  up: U;
  gw: Running & { lines: string[]; configPath: string };
  base: string;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  /** the upstream's OAuth connection is discovered from its metadata instead of configured */
  discover?: boolean;
}

/** The default upstream is server-everything (2025 sessions); `upstream` builds another one behind the same OAuth check. */
export function harness(extra?: string, opts?: HarnessOptions): Promise<Harness>;
export function harness<U extends Upstream>(extra: string, opts: HarnessOptions & { upstream: (as: TestAs) => U }): Promise<Harness<U>>;
export async function harness(extra = "", opts: HarnessOptions & { upstream?: (as: TestAs) => Upstream } = {}): Promise<Harness<Upstream>> {
  const [asPort, gwPort] = [await freePort(), await freePort()];
  const publicUrl = `http://127.0.0.1:${gwPort}`;
  const as = await startAs(asPort, `${publicUrl}/upstream/callback`, { registration: opts.discover });
  const up = (opts.upstream ?? upstreamMcp)(as);
  const hash = (p: string) => Bun.password.hash(p, { algorithm: "argon2id" });
  const gw = (await startGateway(
    `[server]
port = ${gwPort}
public_url = "${publicUrl}"
${as.connection("upstream-idp")}
[[mcp.upstreams]]
name = "everything"
url = "${up.url}"
${opts.discover ? "" : 'oauth_connection = "upstream-idp"'}
allow_private = true
tools_deny = ["get-env"]
[[mcp.users]]
username = "alice"
password_hash = "${await hash(PASSWORDS.alice)}"
[[mcp.users]]
username = "bob"
password_hash = "${await hash(PASSWORDS.bob)}"
${extra}`,
    { IDP_SECRET: "client-secret-for-tests" },
  )) as Harness["gw"];
  return {
    as,
    up,
    gw,
    base: `http://127.0.0.1:${gwPort}`,
    async stop() {
      await gw.shutdown();
      up.stop();
      as.stop();
    },
  };
}

export const toLoopback = (u: string) => u.replace("//localhost:", "//127.0.0.1:");

function formFields(html: string): URLSearchParams {
  const f = new URLSearchParams();
  for (const [tag] of html.matchAll(/<input[^>]*>/gi)) {
    const name = /name="([^"]+)"/.exec(tag)?.[1];
    if (name) f.set(name, (/value="([^"]*)"/.exec(tag)?.[1] ?? "").replace(/&amp;/g, "&"));
  }
  return f;
}

/**
 * A person in a browser: opens the authorization URL, signs in to the gateway, allows the client,
 * signs in upstream, and stops at the client's redirect URI. Returns that URL (code, state, iss).
 */
export async function signIn(authUrl: string, user: keyof typeof PASSWORDS, clientRedirect: string, opts: { consent?: "allow" | "deny"; password?: string } = {}): Promise<URL> {
  const login = await fetch(toLoopback(authUrl));
  const html = await login.text();
  if (login.status !== 200 || !html.includes('action="/authorize/login"')) throw new Error(`no login page: ${login.status} ${html.slice(0, 200)}`);
  const origin = new URL(toLoopback(authUrl)).origin;
  const f = formFields(html);
  f.set("username", user);
  f.set("password", opts.password ?? PASSWORDS[user]);
  let res = await fetch(`${origin}/authorize/login`, { method: "POST", body: f, redirect: "manual" });
  if (res.status === 200) {
    const consent = await res.text();
    if (!consent.includes('action="/authorize/consent"')) throw new Error(`no consent page: ${consent.slice(0, 200)}`);
    const c = formFields(consent);
    c.set("decision", opts.consent ?? "allow");
    res = await fetch(`${origin}/authorize/consent`, { method: "POST", body: c, redirect: "manual" });
  }
  if (res.status !== 302) throw new Error(`sign-in failed: ${res.status} ${(await res.text()).slice(0, 300)}`);
  const next = res.headers.get("location")!;
  if (next.startsWith(clientRedirect)) return new URL(next); // no upstream login needed (or refused)
  const done = await browse(next, toLoopback, { stopAt: (u) => u.startsWith(clientRedirect), account: user });
  if (!done.url.startsWith(clientRedirect)) throw new Error(`upstream sign-in ended at ${done.url}: ${done.text.slice(0, 300)}`);
  return new URL(done.url);
}

/** A client registered for `redirect` and tokens for `user`: registration, PKCE authorization, sign-in, code exchange. */
export async function clientTokens(base: string, redirect: string, user: keyof typeof PASSWORDS): Promise<{ clientId: string; access_token: string; refresh_token: string }> {
  const reg = (await (await fetch(`${base}/register`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ redirect_uris: [redirect] }) })).json()) as { client_id: string };
  const verifier = randomBytes(32).toString("base64url");
  const u = new URL(`${base}/authorize`);
  for (const [k, v] of Object.entries({ response_type: "code", client_id: reg.client_id, redirect_uri: redirect, code_challenge: createHash("sha256").update(verifier).digest("base64url"), code_challenge_method: "S256", state: "s" }))
    u.searchParams.set(k, v);
  const back = await signIn(u.href, user, redirect);
  const tok = (await (
    await fetch(`${base}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "authorization_code", code: back.searchParams.get("code")!, redirect_uri: redirect, code_verifier: verifier, client_id: reg.client_id }),
    })
  ).json()) as { access_token: string; refresh_token: string };
  return { clientId: reg.client_id, ...tok };
}

/** An in-memory OAuth client provider for the SDK client; `authorize` plays the person. */
export class TestProvider implements OAuthClientProvider {
  info?: OAuthClientInformationMixed;
  saved?: OAuthTokens;
  verifier = "";
  lastAuthUrl?: URL;
  constructor(
    readonly redirect: string,
    private readonly meta: Partial<OAuthClientMetadata> = {},
  ) {}
  get redirectUrl() {
    return this.redirect;
  }
  get clientMetadata(): OAuthClientMetadata {
    return { client_name: "Test MCP client", redirect_uris: [this.redirect], grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], token_endpoint_auth_method: "none", ...this.meta };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(i: OAuthClientInformationMixed) {
    this.info = i;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(t: OAuthTokens) {
    this.saved = t;
  }
  redirectToAuthorization(url: URL) {
    this.lastAuthUrl = url;
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
}
