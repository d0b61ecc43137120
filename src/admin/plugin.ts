/** The admin API, guarded by the [admin] token (constant-time comparison). Disabled when unset. */
import { Elysia, t } from "elysia";
import type { Gateway } from "../root/gateway.ts";
import { Errors, GatewayError } from "../core/errors.ts";
import { safeEqual } from "../crypto/compare.ts";
import { checkApiTokenFormat } from "../crypto/apitoken.ts";
import { pathOf } from "../core/url.ts";

/** Who is calling the admin API: the [admin] token (everything) or an API token with scope admin (its own project). */
export type AdminPrincipal = { kind: "root"; actor: "admin" } | { kind: "project"; project: string; actor: string };

/**
 * The admin token or an API token with scope admin, behind the one authentication throttle: a wrong
 * admin token and an unknown API token are failures of the client's address like any other (audited
 * as admin.login_failed); a missing header is not a guess.
 */
export function requireAdmin(gw: Gateway, request: Request): Promise<AdminPrincipal> {
  const header = request.headers.get("authorization") ?? "";
  const presented = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
  const expected = gw.routes.current().secrets.get("admin.token");
  return gw.authThrottle.guard(gw.clientAddress(request), "admin", pathOf(request.url), presented !== undefined && presented !== "", async (): Promise<AdminPrincipal> => {
    if (presented && checkApiTokenFormat(presented)) {
      const t = await gw.tokens.verify(request, { scope: "admin" }, presented);
      return { kind: "project", project: t.project, actor: `token:${t.id}` };
    }
    if (expected === undefined) throw new GatewayError("admin_disabled", "The admin API is disabled: set [admin] token", 403);
    if (!presented || !safeEqual(presented, expected))
      throw Errors.unauthorized("A valid admin token is required", "unauthorized", { "www-authenticate": 'Bearer realm="hubgate-admin"' });
    return { kind: "root", actor: "admin" };
  });
}

/** Root only (config-wide operations: reload, connections, audit). */
export async function requireRoot(gw: Gateway, request: Request): Promise<void> {
  if ((await requireAdmin(gw, request)).kind !== "root") throw new GatewayError("forbidden", "This admin operation needs the [admin] token", 403);
}

export function adminPlugin(gw: Gateway) {
  return new Elysia({ name: "hubgate-admin" })
    .onBeforeHandle({ as: "local" }, ({ request }) => requireRoot(gw, request))
    .post(
      "/admin/reload",
      async ({ set }) => {
        const ok = await gw.reload();
        set.status = ok ? 200 : 422;
        return { ok, version: gw.routes.current().version, errors: gw.reloads.lastIssues };
      },
      { detail: { tags: ["admin"], summary: "Reload gateway.toml (same as SIGHUP)" } },
    )
    .get(
      "/admin/audit",
      async ({ query }) => ({ events: await gw.store.audit.list({ limit: query.limit ?? 100, afterId: query.after, kind: query.kind }) }),
      {
        query: t.Object({
          limit: t.Optional(t.Integer({ minimum: 1, maximum: 1000 })),
          after: t.Optional(t.Integer({ minimum: 0 })),
          kind: t.Optional(t.String({ maxLength: 100 })),
        }),
        detail: { tags: ["admin"], summary: "Audit events, oldest first after `after`" },
      },
    );
}
