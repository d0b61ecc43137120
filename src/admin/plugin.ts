/** The admin API, guarded by the [admin] token (constant-time comparison). Disabled when unset. */
import { Elysia, t } from "elysia";
import { Errors, GatewayError } from "../core/errors.ts";
import { safeEqual } from "../crypto/compare.ts";
import { checkApiTokenFormat } from "../crypto/apitoken.ts";
import { pathOf } from "../core/url.ts";
import type { RouteTable } from "../routes/table.ts";
import type { AuthThrottle } from "../tokens/throttle.ts";
import type { TokenVerifier } from "../tokens/verify.ts";
import type { Store } from "../store/index.ts";
import type { ReloadStatus } from "../server/model.ts";

/** Who is calling the admin API: the [admin] token (everything) or an API token with scope admin (its own project). */
export type AdminPrincipal = { kind: "root"; actor: "admin" } | { kind: "project"; project: string; actor: string };

/** What checking an admin caller uses (every admin surface shares one, built by the composition root). */
export interface AdminAuth {
  /** the table in force: the [admin] token is read from it per request (a reload may change it) */
  table: () => Pick<RouteTable, "secrets">;
  throttle: Pick<AuthThrottle, "guard">;
  tokens: Pick<TokenVerifier, "verify">;
  clientAddress: (request: Request) => string;
}

/** What the admin plugin (reload, audit) needs besides the guard. */
export interface AdminDeps {
  auth: AdminAuth;
  /** re-read the config as SIGHUP does; false when it is invalid and the old table keeps serving */
  reload: () => Promise<boolean>;
  reloadStatus: () => Pick<ReloadStatus, "lastIssues">;
  table: () => Pick<RouteTable, "version">;
  audit: Pick<Store["audit"], "list">;
}

/**
 * The admin token or an API token with scope admin, behind the one authentication throttle: a wrong
 * admin token and an unknown API token are failures of the client's address like any other (audited
 * as admin.login_failed); a missing header is not a guess.
 */
export function requireAdmin(auth: AdminAuth, request: Request): Promise<AdminPrincipal> {
  const header = request.headers.get("authorization") ?? "";
  const presented = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
  const expected = auth.table().secrets.get("admin.token");
  return auth.throttle.guard(auth.clientAddress(request), "admin", pathOf(request.url), presented !== undefined && presented !== "", async (): Promise<AdminPrincipal> => {
    if (presented && checkApiTokenFormat(presented)) {
      const t = await auth.tokens.verify(request, { scope: "admin" }, presented);
      return { kind: "project", project: t.project, actor: `token:${t.id}` };
    }
    if (expected === undefined) throw new GatewayError("admin_disabled", "The admin API is disabled: set [admin] token", 403);
    if (!presented || !safeEqual(presented, expected))
      throw Errors.unauthorized("A valid admin token is required", "unauthorized", { "www-authenticate": 'Bearer realm="hubgate-admin"' });
    return { kind: "root", actor: "admin" };
  });
}

/** Root only (config-wide operations: reload, connections, audit). */
export async function requireRoot(auth: AdminAuth, request: Request): Promise<void> {
  if ((await requireAdmin(auth, request)).kind !== "root") throw new GatewayError("forbidden", "This admin operation needs the [admin] token", 403);
}

export function adminPlugin(d: AdminDeps) {
  return new Elysia({ name: "hubgate-admin" })
    .onBeforeHandle({ as: "local" }, ({ request }) => requireRoot(d.auth, request))
    .post(
      "/admin/reload",
      async ({ set }) => {
        const ok = await d.reload();
        set.status = ok ? 200 : 422;
        return { ok, version: d.table().version, errors: d.reloadStatus().lastIssues };
      },
      { detail: { tags: ["admin"], summary: "Reload gateway.toml (same as SIGHUP)" } },
    )
    .get(
      "/admin/audit",
      async ({ query }) => ({ events: await d.audit.list({ limit: query.limit ?? 100, afterId: query.after, kind: query.kind }) }),
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
