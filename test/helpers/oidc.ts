/**
 * A real OAuth authorization server for tests: oidc-provider on loopback, with its development
 * login/consent pages driven by a tiny cookie-keeping "browser", and an upstream API that accepts
 * only access tokens the provider really issued.
 */
import Provider from "oidc-provider";
import type { Server } from "node:http";

export interface TestAs {
  issuer: string;
  provider: Provider;
  /** An [[oauth_connections]] block for this server's one client (its secret is read from $IDP_SECRET); `extra`: more keys, a line each. */
  connection(name: string, extra?: string): string;
  stop(): void;
}

export async function startAs(port: number, redirectUri: string, opts: { accessTtl?: number; rotate?: boolean; registration?: boolean } = {}): Promise<TestAs> {
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: "hubgate-test",
        client_secret: "client-secret-for-tests",
        redirect_uris: [redirectUri],
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_post",
      },
    ],
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      revocation: { enabled: true },
      registration: { enabled: opts.registration ?? false },
      // RFC 8707: a client naming the MCP server as `resource` gets a token for it
      resourceIndicators: {
        enabled: true,
        useGrantedResource: async () => true,
        getResourceServerInfo: async () => ({ scope: "openid offline_access", accessTokenFormat: "opaque" as const }),
      },
    },
    issueRefreshToken: async () => true,
    rotateRefreshToken: opts.rotate ?? true,
    ttl: { AccessToken: opts.accessTtl ?? 3600, RefreshToken: 86400, Grant: 86400, Interaction: 600, Session: 600, AuthorizationCode: 60 },
    findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
    // keep the console quiet
    renderError: async (ctx, out) => {
      ctx.type = "json";
      ctx.body = out;
    },
  });
  const server: Server = provider.listen(port);
  await new Promise<void>((r) => (server.listening ? r() : server.once("listening", () => r())));
  const connection = (name: string, extra = "") => `[[oauth_connections]]
name = "${name}"
authorization_url = "${issuer}/auth"
token_url = "${issuer}/token"
allow_private = true
client_id = "hubgate-test"
client_secret = "env:IDP_SECRET"
scopes = ["openid", "offline_access"]
extra_authorize_params = { prompt = "consent" }
${extra}`;
  return { issuer, provider, connection, stop: () => void server.close() };
}

/** Follows redirects and fills oidc-provider's dev login and consent forms, like a person in a browser would. */
export async function browse(
  start: string,
  rewrite: (url: string) => string = (u) => u,
  opts: { stopAt?: (url: string) => boolean; account?: string; init?: RequestInit } = {},
): Promise<{ url: string; status: number; text: string }> {
  const jar = new Map<string, string>();
  let url = start;
  let init: RequestInit = opts.init ?? {};
  for (let hop = 0; hop < 20; hop++) {
    const u = new URL(url);
    const cookies = [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
    const res = await fetch(rewrite(url), { ...init, redirect: "manual", headers: { ...(init.headers as Record<string, string>), ...(cookies && u.hostname === "127.0.0.1" ? { cookie: cookies } : {}) } });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const i = pair!.indexOf("=");
      jar.set(pair!.slice(0, i), pair!.slice(i + 1));
    }
    const loc = res.headers.get("location");
    if (res.status >= 300 && res.status < 400 && loc) {
      url = new URL(loc, url).href;
      init = {};
      if (opts.stopAt?.(url)) return { url, status: res.status, text: "" };
      continue;
    }
    const text = await res.text();
    const form = /<form[^>]*action="([^"]+)"[^>]*method="post"/i.exec(text);
    if (res.status === 200 && form && url.includes("/interaction/")) {
      const fields = new URLSearchParams();
      for (const [tag] of text.matchAll(/<input[^>]*>/gi)) {
        const name = /name="([^"]+)"/.exec(tag)?.[1];
        if (name) fields.set(name, /value="([^"]*)"/.exec(tag)?.[1] ?? "");
      }
      if (fields.has("login")) fields.set("login", opts.account ?? "alice");
      if (fields.has("password")) fields.set("password", "pw");
      url = new URL(form[1]!.replace(/&amp;/g, "&"), url).href;
      init = { method: "POST", body: fields.toString(), headers: { "content-type": "application/x-www-form-urlencoded" } };
      continue;
    }
    return { url, status: res.status, text };
  }
  throw new Error("too many redirects");
}
