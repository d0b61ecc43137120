/** Admin API for API tokens: create (plaintext shown once), list, revoke. Project admins see only their project. */
import { Elysia, t } from "elysia";
import { GatewayError } from "../core/errors.ts";
import { durationMs, DURATION_PATTERN } from "../config/types.ts";
import { requireAdmin, type AdminAuth } from "../admin/plugin.ts";
import type { Store } from "../store/index.ts";
import { createApiToken, revokeApiToken, SCOPES, tokenView, type TokenStoreDeps } from "./service.ts";

export interface TokensAdminDeps {
  auth: AdminAuth;
  /** minting and revoking */
  tokens: TokenStoreDeps;
  /** listing */
  apiTokens: Pick<Store["apiTokens"], "list">;
}

export function tokensAdminPlugin(d: TokensAdminDeps) {
  const detail = (summary: string) => ({ tags: ["admin"], summary });
  return new Elysia({ name: "hubgate-tokens-admin" })
    .post(
      "/admin/tokens",
      async ({ request, body, set }) => {
        const who = await requireAdmin(d.auth, request);
        if (who.kind === "project" && body.project !== who.project) throw new GatewayError("wrong_project", "A project admin token can only create tokens of its own project", 403);
        const { token, row } = await createApiToken(d.tokens, {
          project: body.project,
          name: body.name,
          scopes: body.scopes,
          env: body.env,
          expiresInMs: body.expires_in === undefined ? undefined : durationMs(body.expires_in),
          actor: who.actor,
        });
        set.status = 201;
        return { token, ...tokenView(row) };
      },
      {
        body: t.Object({
          project: t.String({ minLength: 1, maxLength: 63 }),
          name: t.String({ minLength: 1, maxLength: 64 }),
          scopes: t.Array(t.Union(SCOPES.map((s) => t.Literal(s))), { minItems: 1, default: ["proxy"] }),
          env: t.Optional(t.Union([t.Literal("live"), t.Literal("test")])),
          expires_in: t.Optional(t.String({ pattern: DURATION_PATTERN, description: "e.g. 30d, 12h" })),
        }),
        detail: detail("Create an API token; the plaintext is in this response only"),
      },
    )
    .get(
      "/admin/tokens",
      async ({ request, query }) => {
        const who = await requireAdmin(d.auth, request);
        const project = who.kind === "project" ? who.project : query.project;
        return { tokens: (await d.apiTokens.list(project)).map(tokenView) };
      },
      { query: t.Object({ project: t.Optional(t.String({ maxLength: 63 })) }), detail: detail("List stored API tokens (never their values)") },
    )
    .delete(
      "/admin/tokens/:id",
      async ({ request, params }) => {
        const who = await requireAdmin(d.auth, request);
        return tokenView(await revokeApiToken(d.tokens, params.id, who.actor, who.kind === "project" ? who.project : undefined));
      },
      { params: t.Object({ id: t.String({ minLength: 1, maxLength: 64 }) }), detail: detail("Revoke an API token") },
    );
}
