/** Loopback upstreams for tests: a Bun.serve on 127.0.0.1:0 with a handler. */
import type { ConnectionRoute } from "../../src/oauth/compile.ts";
import type { Server } from "bun";

export function upstream(handler: (req: Request, server: Server<undefined>) => Response | Promise<Response>): { server: Server<undefined>; url: string; stop(): void } {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, idleTimeout: 0, fetch: handler });
  return { server, url: `http://127.0.0.1:${server.port}`, stop: () => void server.stop(true) };
}

/** An endpoint block for gateway.toml pointing at a loopback upstream (auth off, private allowed). */
export function openEndpoint(project: string, slug: string, url: string, extra = ""): string {
  return `
[[projects]]
id = "${project}"
[[projects.endpoints]]
slug = "${slug}"
upstream_url = "${url}"
auth_mode = "none"
allow_private = true
${extra}
`;
}

/** A connection route to a loopback provider at `url` (its /authorize, /token, /revoke), for OAuth client tests. */
export function loopbackConnection(url: string, over: Partial<ConnectionRoute> = {}): ConnectionRoute {
  return {
    name: "t",
    authorizationUrl: `${url}/authorize`,
    tokenUrl: `${url}/token`,
    revocationUrl: `${url}/revoke`,
    scopes: [],
    scopeSeparator: " ",
    clientId: "cid",
    clientSecret: "csecret",
    tokenAuthMethod: "client_secret_post",
    tokenRequest: "form",
    extraAuthorizeParams: {},
    pkce: true,
    allowPrivate: true,
    ...over,
  };
}
