/**
 * Minting, listing and revoking hubgate API tokens stored in the database (tokens declared in config
 * are listed by the route table instead). The plaintext is returned once, at creation; only its hash
 * is kept. Every change is an audit event.
 */
import { randomUUID } from "node:crypto";
import { GatewayError } from "../core/errors.ts";
import { didYouMean } from "../core/suggest.ts";
import { hashApiToken, mintApiToken, tokenHint, type TokenEnv } from "../crypto/apitoken.ts";
import type { RouteTable } from "../routes/table.ts";
import type { ApiTokenRow, Store } from "../store/index.ts";

export const SCOPES = ["proxy", "github:read", "github:write", "admin"] as const;
export type Scope = (typeof SCOPES)[number];
/** What a token's name may be: 1–64 letters, digits, spaces or . _ : @ - */
export const TOKEN_NAME = /^[\w .:@-]{1,64}$/;

/**
 * What minting and revoking use: the projects of the table in force, the stored tokens and the audit
 * log. Shaped as the Gateway holds them (`routes`, `store`), so a management command passes its own.
 */
export interface TokenStoreDeps {
  routes: { current(): Pick<RouteTable, "projects"> };
  store: { apiTokens: Pick<Store["apiTokens"], "insert" | "get" | "revoke">; audit: Pick<Store["audit"], "append"> };
}

export interface CreateTokenInput {
  project: string;
  name: string;
  scopes: readonly string[];
  env?: TokenEnv;
  /** lifetime in ms; absent = no expiry */
  expiresInMs?: number;
  actor: string;
}

export async function createApiToken(d: TokenStoreDeps, input: CreateTokenInput): Promise<{ token: string; row: ApiTokenRow }> {
  const projects = d.routes.current().projects;
  if (!projects.has(input.project))
    throw new GatewayError("project_not_found", `No project "${input.project}" in the configuration${didYouMean(input.project, projects.keys())}`, 404);
  const unknown = input.scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length) throw new GatewayError("invalid_scope", `Unknown scope(s) ${unknown.join(", ")}; known: ${SCOPES.join(", ")}`, 400);
  if (!input.scopes.length) throw new GatewayError("invalid_scope", "A token needs at least one scope", 400);
  if (!TOKEN_NAME.test(input.name)) throw new GatewayError("invalid_name", "Token names are 1–64 letters, digits, spaces or . _ : @ -", 400);
  const token = mintApiToken(input.env ?? "live");
  const id = randomUUID();
  await d.store.apiTokens.insert({
    id,
    project: input.project,
    name: input.name,
    hash: hashApiToken(token),
    hint: tokenHint(token),
    scopes: [...new Set(input.scopes)],
    expiresAt: input.expiresInMs === undefined ? null : Date.now() + input.expiresInMs,
  });
  await d.store.audit.append({ kind: "token.created", actor: input.actor, subject: id, detail: { project: input.project, name: input.name, scopes: input.scopes } });
  return { token, row: (await d.store.apiTokens.get(id))! };
}

export async function revokeApiToken(d: TokenStoreDeps, id: string, actor: string, project?: string): Promise<ApiTokenRow> {
  const row = await d.store.apiTokens.get(id);
  if (!row || (project !== undefined && row.project !== project)) throw new GatewayError("token_not_found", `No token ${id}`, 404);
  if (row.revokedAt === null) {
    await d.store.apiTokens.revoke(id, Date.now());
    await d.store.audit.append({ kind: "token.revoked", actor, subject: id, detail: { project: row.project, name: row.name } });
  }
  return (await d.store.apiTokens.get(id))!;
}

/** Public view of a stored token (never the hash). */
export function tokenView(r: ApiTokenRow) {
  return {
    id: r.id,
    project: r.project,
    name: r.name,
    hint: r.hint,
    scopes: r.scopes,
    created_at: new Date(r.createdAt).toISOString(),
    expires_at: r.expiresAt === null ? null : new Date(r.expiresAt).toISOString(),
    revoked_at: r.revokedAt === null ? null : new Date(r.revokedAt).toISOString(),
    last_used_at: r.lastUsedAt === null ? null : new Date(r.lastUsedAt).toISOString(),
  };
}
