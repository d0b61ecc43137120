/**
 * OAuth connections at run time: starting a connect (single-use link + state + PKCE, bound to the
 * connection, 10-minute TTL), the callback exchange, access tokens refreshed 60 s before expiry with
 * one refresh per connection at a time, and disconnect (revoke where supported, then delete).
 * Every step leaves an audit event; no token ever reaches a log line.
 */
import { pkceChallenge, randomToken as random } from "../crypto/hash.ts";
import { GatewayError, isDependencyDown, isGatewayError } from "../core/errors.ts";
import { repeatedParams } from "../core/url.ts";
import { didYouMean } from "../core/suggest.ts";
import type { AuditRepo, Grant, GrantInfo, OAuthRepo } from "../store/index.ts";
import type { SingleFlight } from "../state/types.ts";
import type { Logger } from "../core/log.ts";
import type { ConnectionRoute } from "./compile.ts";
import { exchangeCode, OAuthError, refreshGrant, revoke, type TokenSet } from "./client.ts";

const STATE_TTL_MS = 10 * 60_000;

/** The error for a connection name that is not configured, with the nearest known name when it looks like a typo. */
export function connectionNotFound(name: string, known: Iterable<string>): GatewayError {
  return new GatewayError("connection_not_found", `No OAuth connection named "${name}"${didYouMean(name, known)}`, 404);
}
const REFRESH_MARGIN_MS = 60_000;


export interface ConnectionStatus extends Partial<GrantInfo> {
  name: string;
  preset?: string;
  /** unreadable: a grant is stored but cannot be unsealed with the configured app keys (see `reason`) */
  status: "connected" | "expired" | "not_connected" | "error" | "unreadable";
  /** why an unreadable grant cannot be opened (e.g. the key id it was sealed with is not configured) */
  reason?: string;
}

/** What the OAuth connections need: the grants and audit repositories, single flight, the table in force, a logger. */
export interface OAuthDeps {
  grants: OAuthRepo;
  audit: AuditRepo;
  flights: SingleFlight;
  /** the configured connections and the public URL of the route table in force (they follow reloads) */
  table: () => { connections: ReadonlyMap<string, ConnectionRoute>; publicUrl: URL };
  log: Logger;
}

export class OAuthService {
  /** connections made at run time (discovered upstream authorization servers), next to the configured ones */
  private readonly dynamic = new Map<string, ConnectionRoute>();
  constructor(private readonly d: OAuthDeps) {}

  registerConnection(c: ConnectionRoute): void {
    this.dynamic.set(c.name, c);
  }

  hasConnection(name: string): boolean {
    return this.d.table().connections.has(name) || this.dynamic.has(name);
  }

  private connection(name: string): ConnectionRoute {
    const c = this.d.table().connections.get(name) ?? this.dynamic.get(name);
    if (!c) throw connectionNotFound(name, [...this.d.table().connections.keys(), ...this.dynamic.keys()]);
    return c;
  }

  redirectUri(): string {
    return new URL("oauth/callback", this.base()).href;
  }

  private base(): string {
    const pub = this.d.table().publicUrl.href;
    return pub.endsWith("/") ? pub : `${pub}/`;
  }

  /** A one-time link an operator opens in a browser to connect `name`. */
  async startConnect(name: string, actor: string): Promise<{ url: string; expiresAt: number }> {
    const conn = this.connection(name); // unknown names fail here, before anything is stored
    const now = Date.now();
    const link = random();
    const expiresAt = now + STATE_TTL_MS;
    await this.d.grants.createState({
      state: random(),
      link,
      connection: name,
      codeVerifier: conn.pkce ? random(48) : null,
      redirectUri: this.redirectUri(),
      actor,
      createdAt: now,
      expiresAt,
    });
    await this.d.grants.pruneStates(now);
    await this.d.audit.append({ kind: "oauth_connection.connect_started", actor, subject: name });
    return { url: new URL(`oauth/connect/${link}`, this.base()).href, expiresAt };
  }

  /** GET /oauth/connect/:link → the provider's authorize URL (the link works once). */
  async authorizeUrl(link: string): Promise<URL> {
    const s = await this.d.grants.takeLink(link, Date.now());
    if (!s) throw new GatewayError("invalid_link", "This connect link is unknown, expired or already used; start again with `hubgate connect`", 400);
    return this.buildAuthorizeUrl(this.connection(s.connection), s.redirectUri, s.state, s.codeVerifier);
  }

  /** The provider's authorize URL for a connection (PKCE S256 when the connection uses it). */
  buildAuthorizeUrl(conn: ConnectionRoute, redirectUri: string, state: string, codeVerifier: string | null): URL {
    const url = new URL(conn.authorizationUrl);
    url.searchParams.set("response_type", "code");
    url.searchParams.set("client_id", conn.clientId);
    url.searchParams.set("redirect_uri", redirectUri);
    url.searchParams.set("state", state);
    if (conn.scopes.length) url.searchParams.set("scope", conn.scopes.join(conn.scopeSeparator));
    if (codeVerifier) {
      url.searchParams.set("code_challenge", pkceChallenge(codeVerifier));
      url.searchParams.set("code_challenge_method", "S256");
    }
    for (const [k, v] of Object.entries(conn.extraAuthorizeParams)) url.searchParams.set(k, v);
    return url;
  }

  /** For flows other than the operator's connect link (the MCP gateway's per-user upstream login). */
  beginAuthorization(connectionName: string, redirectUri: string): { url: URL; state: string; verifier: string | null } {
    const conn = this.connection(connectionName);
    const state = random();
    const verifier = conn.pkce ? random(48) : null;
    return { url: this.buildAuthorizeUrl(conn, redirectUri, state, verifier), state, verifier };
  }

  /** Exchange a code without storing the result yet (the caller learns from the token whose grant it is). */
  exchange(connectionName: string, code: string, redirectUri: string, verifier: string | null): Promise<TokenSet> {
    return exchangeCode(this.connection(connectionName), code, redirectUri, verifier);
  }

  async saveTokens(connectionName: string, grantKey: string, t: TokenSet): Promise<void> {
    const conn = this.connection(connectionName);
    const now = Date.now();
    await this.d.grants.saveGrant({
      connection: grantKey,
      accessToken: t.accessToken,
      refreshToken: t.refreshToken,
      tokenType: t.tokenType,
      scopes: this.scopesOf(t, conn),
      expiresAt: t.expiresIn === null ? null : now + t.expiresIn * 1000,
      connectedAt: now,
      refreshedAt: null,
      lastError: null,
    });
  }

  /** GET /oauth/callback: exchange the code; returns the connection name. Errors are GatewayErrors with a page-ready message. */
  async callback(params: URLSearchParams): Promise<string> {
    // the provider's answer with a repeated parameter is refused before its state is taken: the connect request stays usable
    const repeated = repeatedParams(params);
    if (repeated.length) throw new GatewayError("invalid_request", `The provider's answer repeats ${repeated.map((n) => JSON.stringify(n)).join(", ")}; start again.`, 400);
    const state = params.get("state");
    const s = state ? await this.d.grants.takeState(state, Date.now()) : null;
    if (!s) {
      await this.d.audit.append({ kind: "oauth_connection.connect_failed", detail: { reason: "bad_state" } });
      throw new GatewayError("invalid_state", "The sign-in could not be matched to a connect request (unknown, expired or reused state). Start again.", 400);
    }
    const name = s.connection;
    const providerError = params.get("error");
    if (providerError) {
      await this.d.audit.append({ kind: "oauth_connection.connect_failed", actor: s.actor ?? undefined, subject: name, detail: { reason: providerError } });
      throw new GatewayError("access_denied", `The provider did not grant access (${providerError}${params.get("error_description") ? `: ${params.get("error_description")}` : ""}).`, 400);
    }
    const code = params.get("code");
    if (!code) throw new GatewayError("invalid_request", "The provider sent no authorization code.", 400);
    const conn = this.connection(name);
    let t: TokenSet;
    try {
      t = await exchangeCode(conn, code, s.redirectUri, s.codeVerifier);
    } catch (e) {
      const reason = e instanceof OAuthError ? e.error : "exchange_failed";
      await this.d.audit.append({ kind: "oauth_connection.connect_failed", actor: s.actor ?? undefined, subject: name, detail: { reason } });
      throw new GatewayError("exchange_failed", `Exchanging the authorization code failed (${e instanceof Error ? e.message : reason}).`, 502);
    }
    await this.saveTokens(name, name, t);
    await this.d.audit.append({ kind: "oauth_connection.connected", actor: s.actor ?? undefined, subject: name, detail: { scopes: this.scopesOf(t, conn) } });
    this.d.log.info("oauth connection connected", { connection: name });
    return name;
  }

  private scopesOf(t: TokenSet, conn: ConnectionRoute): string[] {
    return t.scope ? t.scope.split(/[\s,]+/).filter(Boolean) : [...conn.scopes];
  }

  /** The stored grant, unsealed; one that cannot be unsealed is an unseal_failed naming the connection. */
  private async readGrant(name: string, grantKey: string): Promise<Grant | null> {
    try {
      return await this.d.grants.grant(grantKey);
    } catch (e) {
      if (isGatewayError(e) && e.code === "unseal_failed")
        throw new GatewayError("unseal_failed", `The stored grant of "${name}" cannot be unsealed: ${e.message}`, 500, { cause: e });
      throw e;
    }
  }

  /** The access token to inject, refreshed first when it expires within 60 s (one refresh at a time per connection). */
  async accessToken(name: string, grantKey = name, opts: { force?: boolean } = {}): Promise<string> {
    const failed = (why: string) => new GatewayError("oauth_connection_failed", `Upstream OAuth connection failed: ${why}`, 502);
    const grant = await this.readGrant(name, grantKey);
    if (!grant) throw failed(`"${name}" is not connected (run \`hubgate connect ${name}\`)`);
    if (!opts.force && (grant.expiresAt === null || grant.expiresAt - Date.now() > REFRESH_MARGIN_MS)) return grant.accessToken;
    // one refresh per grant at a time: providers such as GitHub issue single-use refresh tokens
    return this.d.flights.run(`oauth-refresh:${grantKey}`, () => this.refresh(name, grantKey, failed, opts.force ? grant.accessToken : null));
  }

  private async refresh(name: string, grantKey: string, failed: (why: string) => GatewayError, staleToken: string | null): Promise<string> {
    // re-read inside the flight: a refresh that just finished elsewhere already did the work
    const grant = await this.readGrant(name, grantKey);
    if (!grant) throw failed(`"${name}" is not connected`);
    const fresh = staleToken === null ? grant.expiresAt === null || grant.expiresAt - Date.now() > REFRESH_MARGIN_MS : grant.accessToken !== staleToken;
    if (fresh) return grant.accessToken;
    const conn = this.connection(name);
    if (!grant.refreshToken) {
      await this.refreshFailed(grantKey, "no_refresh_token");
      throw failed(`the access token of "${name}" expired and the provider issued no refresh token; reconnect`);
    }
    try {
      const t = await refreshGrant(conn, grant.refreshToken);
      const now = Date.now();
      // saved only over the version read above (the refresh's fencing token): a leader that outlived its
      // lock, whose grant another replica refreshed meanwhile, keeps what that one stored
      const saved = await this.d.grants.saveRefreshed({
        ...grant,
        accessToken: t.accessToken,
        refreshToken: t.refreshToken ?? grant.refreshToken, // a rotated refresh token replaces the old one
        tokenType: t.tokenType ?? grant.tokenType,
        scopes: t.scope ? this.scopesOf(t, conn) : grant.scopes,
        expiresAt: t.expiresIn === null ? null : now + t.expiresIn * 1000,
        refreshedAt: now,
        lastError: null,
      });
      if (!saved) {
        const current = await this.readGrant(name, grantKey);
        this.d.log.warn("oauth refresh raced another; the grant it stored is kept", { connection: grantKey });
        if (current) return current.accessToken;
        throw failed(`"${name}" was disconnected during the refresh`);
      }
      await this.d.audit.append({ kind: "oauth_connection.refreshed", actor: "system", subject: grantKey, detail: { rotated: t.refreshToken !== null } });
      return t.accessToken;
    } catch (e) {
      const reason = e instanceof OAuthError ? e.error : "refresh_failed";
      // a store that went away while saving the new token is not the provider refusing: no refresh_failed mark
      if (isDependencyDown(e)) throw e;
      await this.refreshFailed(grantKey, reason);
      throw failed(`refreshing "${name}" failed (${reason}); reconnect with \`hubgate connect ${name}\``);
    }
  }

  private async refreshFailed(name: string, reason: string): Promise<void> {
    await this.d.grants.setError(name, reason);
    await this.d.audit.append({ kind: "oauth_connection.refresh_failed", actor: "system", subject: name, detail: { reason } });
    this.d.log.warn("oauth refresh failed", { connection: name, reason });
  }

  /**
   * Revoke at the provider where supported, then delete the grant. `force` deletes it without
   * contacting the provider: for a grant that cannot be unsealed (so cannot be revoked), or of a
   * connection no longer in the config.
   */
  async disconnect(name: string, actor: string, opts: { force?: boolean } = {}): Promise<{ revoked: boolean; deleted: boolean; unreadable: boolean }> {
    if (opts.force) {
      if (!this.hasConnection(name) && !(await this.d.grants.info(name))) this.connection(name); // connection_not_found
      const unreadable = await this.readGrant(name, name).then(
        () => false,
        (e: unknown) => isGatewayError(e) && e.code === "unseal_failed",
      );
      const deleted = await this.d.grants.deleteGrant(name);
      await this.d.audit.append({ kind: "oauth_connection.disconnected", actor, subject: name, detail: { revoked: false, deleted, forced: true, unreadable } });
      if (deleted) this.d.log.warn("grant deleted without revoking it at the provider (forced)", { connection: name, unreadable });
      return { revoked: false, deleted, unreadable };
    }
    const conn = this.connection(name);
    let grant: Grant | null;
    try {
      grant = await this.readGrant(name, name);
    } catch (e) {
      if (isGatewayError(e) && e.code === "unseal_failed")
        throw new GatewayError(
          "unseal_failed",
          `${e.message}. It cannot be revoked at the provider: restore the app key it was sealed with (storage.previous_app_keys), or delete it without revoking: \`hubgate disconnect --force ${name}\``,
          500,
        );
      throw e;
    }
    let revoked = false;
    if (grant && conn.revocationUrl) {
      try {
        revoked = await revoke(conn, grant.refreshToken ?? grant.accessToken, grant.refreshToken ? "refresh_token" : "access_token");
      } catch (e) {
        this.d.log.warn("revocation at the provider failed; deleting the grant anyway", { connection: name, reason: e instanceof OAuthError ? e.error : "error" });
      }
    }
    const deleted = await this.d.grants.deleteGrant(name);
    await this.d.audit.append({ kind: "oauth_connection.disconnected", actor, subject: name, detail: { revoked, deleted } });
    return { revoked, deleted, unreadable: false };
  }

  /** Each configured connection with its grant's state; a grant is opened to tell whether it is readable (failures are logged). */
  async status(): Promise<ConnectionStatus[]> {
    const now = Date.now();
    return Promise.all(
      [...this.d.table().connections.values()].map(async (c): Promise<ConnectionStatus> => {
        const g = await this.d.grants.info(c.name);
        if (!g) return { name: c.name, preset: c.preset, status: "not_connected" };
        try {
          await this.d.grants.grant(c.name);
        } catch (e) {
          if (isGatewayError(e) && e.code === "unseal_failed") return { name: c.name, preset: c.preset, ...g, status: "unreadable", reason: e.message };
          throw e;
        }
        const expired = g.expiresAt !== null && g.expiresAt <= now && !g.hasRefreshToken;
        return { name: c.name, preset: c.preset, ...g, status: g.lastError ? "error" : expired ? "expired" : "connected" };
      }),
    );
  }
}
