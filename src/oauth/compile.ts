/**
 * [[oauth_connections]] + presets + resolved secrets → runtime connection objects. A connection's own
 * keys override its preset's; after merging, the authorize/token URLs and the client id must be known.
 */
import type { Config } from "../config/schema.ts";
import type { SecretValues } from "../config/secrets.ts";
import { ConfigError } from "../config/load.ts";
import type { ConfigIssue } from "../config/validate.ts";
import { PRESETS, type Preset } from "./presets.ts";

export interface ConnectionRoute {
  readonly name: string;
  readonly preset?: string;
  readonly authorizationUrl: string;
  readonly tokenUrl: string;
  readonly revocationUrl?: string;
  readonly scopes: readonly string[];
  readonly scopeSeparator: string;
  readonly clientId: string;
  readonly clientSecret?: string;
  readonly tokenAuthMethod: "client_secret_post" | "client_secret_basic" | "none";
  readonly tokenRequest: "form" | "json";
  readonly tokenResponsePath?: string;
  readonly extraAuthorizeParams: Readonly<Record<string, string>>;
  readonly pkce: boolean;
  /** the token and revocation endpoints may resolve to non-public addresses */
  readonly allowPrivate: boolean;
}

export function compileConnections(config: Config, secrets: SecretValues): Map<string, ConnectionRoute> {
  const out = new Map<string, ConnectionRoute>();
  const issues: ConfigIssue[] = [];
  config.oauth_connections.forEach((c, i) => {
    const at = `oauth_connections[${i}]`;
    let preset: Preset | undefined;
    if (c.preset !== undefined) {
      preset = PRESETS.get(c.preset);
      if (!preset) {
        issues.push({ path: `${at}.preset`, message: `unknown preset ${JSON.stringify(c.preset)}; known: ${[...PRESETS.keys()].join(", ")}` });
        return;
      }
    }
    const authorizationUrl = c.authorization_url ?? preset?.authorization_url;
    const tokenUrl = c.token_url ?? preset?.token_url;
    if (!authorizationUrl) issues.push({ path: `${at}.authorization_url`, message: "required (no preset provides it)" });
    if (!tokenUrl) issues.push({ path: `${at}.token_url`, message: "required (no preset provides it)" });
    if (!c.client_id) issues.push({ path: `${at}.client_id`, message: "required: the OAuth client id registered with the provider" });
    const clientSecret = c.client_secret === undefined ? undefined : secrets.get(`${at}.client_secret`);
    // decided by what the file declares: a management command may leave the secret unresolved
    const tokenAuthMethod = c.token_auth_method ?? preset?.token_auth_method ?? (c.client_secret === undefined ? "none" : "client_secret_post");
    if (tokenAuthMethod !== "none" && c.client_secret === undefined)
      issues.push({ path: `${at}.client_secret`, message: `required for token_auth_method = "${tokenAuthMethod}"` });
    if (!authorizationUrl || !tokenUrl || !c.client_id) return;
    out.set(
      c.name,
      Object.freeze({
        name: c.name,
        preset: c.preset,
        authorizationUrl,
        tokenUrl,
        revocationUrl: c.revocation_url ?? preset?.revocation_url,
        scopes: Object.freeze([...(c.scopes ?? preset?.scopes ?? [])]),
        scopeSeparator: c.scope_separator ?? preset?.scope_separator ?? " ",
        clientId: c.client_id,
        clientSecret,
        tokenAuthMethod,
        tokenRequest: c.token_request ?? preset?.token_request ?? "form",
        tokenResponsePath: c.token_response_path ?? preset?.token_response_path,
        extraAuthorizeParams: Object.freeze({ ...preset?.extra_authorize_params, ...c.extra_authorize_params }),
        pkce: c.pkce ?? preset?.pkce ?? true,
        allowPrivate: c.allow_private,
      }),
    );
  });
  if (issues.length) throw new ConfigError(issues);
  return out;
}
