/** Admin API for OAuth connections: status, start a connect (one-time URL), disconnect. */
import { Elysia, t } from "elysia";
import { requireRoot, type AdminAuth } from "../admin/plugin.ts";
import type { OAuthService } from "./service.ts";

export interface OAuthAdminDeps {
  auth: AdminAuth;
  oauth: Pick<OAuthService, "status" | "startConnect" | "disconnect">;
}

export function oauthAdminPlugin(d: OAuthAdminDeps) {
  const detail = (summary: string) => ({ tags: ["admin"], summary });
  const name = t.Object({ name: t.String({ minLength: 1, maxLength: 100 }) });
  return new Elysia({ name: "hubgate-oauth-admin" })
    .onBeforeHandle({ as: "local" }, ({ request }) => requireRoot(d.auth, request))
    .get("/admin/connections", async () => ({ connections: await d.oauth.status() }), { detail: detail("OAuth connections and their grant status (never tokens)") })
    .post(
      "/admin/connections/:name/connect",
      async ({ params }) => {
        const r = await d.oauth.startConnect(params.name, "admin");
        return { url: r.url, expires_at: new Date(r.expiresAt).toISOString() };
      },
      { params: name, detail: detail("Start connecting: returns a one-time URL to open in a browser") },
    )
    .delete("/admin/connections/:name", ({ params, query }) => d.oauth.disconnect(params.name, "admin", { force: query.force === "true" }), {
      params: name,
      query: t.Object({ force: t.Optional(t.Union([t.Literal("true"), t.Literal("false")])) }),
      detail: detail("Disconnect: revoke at the provider where supported, delete the grant; ?force=true deletes it without contacting the provider (a grant that cannot be unsealed)"),
    });
}
