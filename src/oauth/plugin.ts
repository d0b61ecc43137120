/** The browser side of connecting: GET /oauth/connect/:link (→ provider) and GET /oauth/callback (→ "Connected"). */
import { Elysia, t } from "elysia";
import { GatewayError } from "../core/errors.ts";
import { messagePage as page } from "../core/html.ts";
import type { Logger } from "../core/log.ts";
import { reportFailure } from "../server/pipeline.ts";
import type { OAuthService } from "./service.ts";

export interface OAuthPluginDeps {
  oauth: Pick<OAuthService, "authorizeUrl" | "callback">;
  /** does this upstream `state` belong to an MCP authorization in progress? (then /upstream/callback finishes it) */
  ownsUpstreamState: (state: string | null) => Promise<boolean>;
  log: Logger;
}

export function oauthPlugin(d: OAuthPluginDeps) {
  return new Elysia({ name: "hubgate-oauth" })
    .get(
      "/oauth/connect/:link",
      async ({ params, request }) => {
        try {
          return new Response(null, { status: 302, headers: { location: (await d.oauth.authorizeUrl(params.link)).href, "cache-control": "no-store", "referrer-policy": "no-referrer" } });
        } catch (e) {
          if (!(e instanceof GatewayError)) throw e;
          reportFailure(d.log, e, request);
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
        if (await d.ownsUpstreamState(query.get("state")))
          return new Response(null, { status: 302, headers: { location: `/upstream/callback?${query}`, "cache-control": "no-store" } });
        try {
          const name = await d.oauth.callback(query);
          return page(200, "Connected", `The connection "${name}" is connected. You can close this page.`);
        } catch (e) {
          if (!(e instanceof GatewayError)) throw e;
          reportFailure(d.log, e, request);
          return page(e.status, "Not connected", e.message);
        }
      },
      { detail: { tags: ["oauth"], summary: "OAuth redirect URI: exchanges the code and stores the grant sealed" } },
    );
}
