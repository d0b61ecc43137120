/** The browser side of connecting: GET /oauth/connect/:link (→ provider) and GET /oauth/callback (→ "Connected"). */
import { Elysia, t } from "elysia";
import type { Gateway } from "../root/gateway.ts";
import { GatewayError } from "../core/errors.ts";
import { messagePage as page } from "../core/html.ts";
import { ownsUpstreamState } from "../mcp/authorize.ts";
import { reportFailure } from "../server/pipeline.ts";

export function oauthPlugin(gw: Gateway) {
  return new Elysia({ name: "hubgate-oauth" })
    .get(
      "/oauth/connect/:link",
      async ({ params, request }) => {
        try {
          return new Response(null, { status: 302, headers: { location: (await gw.oauth.authorizeUrl(params.link)).href, "cache-control": "no-store", "referrer-policy": "no-referrer" } });
        } catch (e) {
          if (!(e instanceof GatewayError)) throw e;
          reportFailure(gw.log, e, request);
          return page(e.status, "Link not valid", e.message);
        }
      },
      { params: t.Object({ link: t.String({ minLength: 1, maxLength: 128 }) }), detail: { tags: ["oauth"], summary: "Open a one-time connect link: redirects to the provider" } },
    )
    .get(
      "/oauth/callback",
      async ({ request }) => {
        const query = new URL(request.url).searchParams;
        // an upstream registered with /oauth/callback may also be serving the MCP gateway's per-user login
        if (await ownsUpstreamState(gw.store.mcp, query.get("state")))
          return new Response(null, { status: 302, headers: { location: `/upstream/callback?${query}`, "cache-control": "no-store" } });
        try {
          const name = await gw.oauth.callback(query);
          return page(200, "Connected", `The connection "${name}" is connected. You can close this page.`);
        } catch (e) {
          if (!(e instanceof GatewayError)) throw e;
          reportFailure(gw.log, e, request);
          return page(e.status, "Not connected", e.message);
        }
      },
      { detail: { tags: ["oauth"], summary: "OAuth redirect URI: exchanges the code and stores the grant sealed" } },
    );
}
