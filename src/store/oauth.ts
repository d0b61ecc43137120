/** OAuth grants (tokens sealed, bound to their connection) and single-use connect states. */
import type { Keyring } from "../crypto/keyring.ts";
import type { Driver } from "./driver.ts";
import { aadFor } from "./migrations.ts";

export interface Grant {
  connection: string;
  accessToken: string;
  refreshToken: string | null;
  tokenType: string | null;
  scopes: string[];
  expiresAt: number | null;
  connectedAt: number;
  refreshedAt: number | null;
  lastError: string | null;
  /** bumped by every save: what a refresh read, and may only save over (the fencing token of refreshes) */
  version: number;
}

export type GrantInfo = Omit<Grant, "accessToken" | "refreshToken"> & { hasRefreshToken: boolean };

export interface ConnectState {
  state: string;
  link: string;
  connection: string;
  codeVerifier: string | null;
  redirectUri: string;
  actor: string | null;
  createdAt: number;
  expiresAt: number;
}

export interface OAuthRepo {
  /** a new grant, or one replacing it (a new connect): any version */
  saveGrant(g: Omit<Grant, "version">): Promise<void>;
  /**
   * The result of a refresh, saved only over the version that refresh read (one guarded UPDATE): false
   * when the grant changed meanwhile — another replica's refresh, or a reconnect — and this result is stale.
   */
  saveRefreshed(g: Grant): Promise<boolean>;
  grant(connection: string): Promise<Grant | null>;
  info(connection: string): Promise<GrantInfo | null>;
  list(): Promise<GrantInfo[]>;
  setError(connection: string, error: string | null): Promise<void>;
  deleteGrant(connection: string): Promise<boolean>;
  createState(s: ConnectState): Promise<void>;
  /** the link of a connect URL: usable once, before expiry (one guarded UPDATE … RETURNING: of two visits, on any replicas, one wins) */
  takeLink(link: string, now: number): Promise<ConnectState | null>;
  /** the state of a callback: usable once, before expiry; returns the verifier unsealed */
  takeState(state: string, now: number): Promise<ConnectState | null>;
  pruneStates(now: number): Promise<number>;
}

interface GrantRow {
  connection: string;
  access_token: string;
  refresh_token: string | null;
  token_type: string | null;
  scopes: string | null;
  expires_at: number | null;
  connected_at: number;
  refreshed_at: number | null;
  last_error: string | null;
  version: number;
}

interface StateRow {
  state: string;
  link: string;
  connection: string;
  code_verifier: string | null;
  redirect_uri: string;
  actor: string | null;
  created_at: number;
  expires_at: number;
}

const aad = (connection: string, column: string) => aadFor("oauth_grants", column, [connection]);

export function oauthRepo(d: Driver, keyring: Keyring): OAuthRepo {
  const info = (r: GrantRow): GrantInfo => ({
    connection: r.connection,
    tokenType: r.token_type,
    scopes: r.scopes ? (JSON.parse(r.scopes) as string[]) : [],
    expiresAt: r.expires_at,
    connectedAt: r.connected_at,
    refreshedAt: r.refreshed_at,
    lastError: r.last_error,
    version: Number(r.version),
    hasRefreshToken: r.refresh_token !== null,
  });
  const toState = (r: StateRow, verifier: string | null): ConnectState => ({
    state: r.state,
    link: r.link,
    connection: r.connection,
    codeVerifier: verifier,
    redirectUri: r.redirect_uri,
    actor: r.actor,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
  });
  return {
    async saveGrant(g) {
      const access = await keyring.seal(g.accessToken, aad(g.connection, "access_token"));
      const refresh = g.refreshToken === null ? null : await keyring.seal(g.refreshToken, aad(g.connection, "refresh_token"));
      await d.run(
        `INSERT INTO oauth_grants (connection, access_token, refresh_token, token_type, scopes, expires_at, connected_at, refreshed_at, last_error)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (connection) DO UPDATE SET access_token = excluded.access_token, refresh_token = excluded.refresh_token,
           token_type = excluded.token_type, scopes = excluded.scopes, expires_at = excluded.expires_at,
           connected_at = excluded.connected_at, refreshed_at = excluded.refreshed_at, last_error = excluded.last_error,
           version = oauth_grants.version + 1`,
        g.connection,
        access,
        refresh,
        g.tokenType,
        JSON.stringify(g.scopes),
        g.expiresAt,
        g.connectedAt,
        g.refreshedAt,
        g.lastError,
      );
    },
    async saveRefreshed(g) {
      const access = await keyring.seal(g.accessToken, aad(g.connection, "access_token"));
      const refresh = g.refreshToken === null ? null : await keyring.seal(g.refreshToken, aad(g.connection, "refresh_token"));
      const changed = await d.run(
        `UPDATE oauth_grants SET access_token = ?, refresh_token = ?, token_type = ?, scopes = ?, expires_at = ?, refreshed_at = ?, last_error = ?,
           version = version + 1
         WHERE connection = ? AND version = ?`,
        access,
        refresh,
        g.tokenType,
        JSON.stringify(g.scopes),
        g.expiresAt,
        g.refreshedAt,
        g.lastError,
        g.connection,
        g.version,
      );
      return changed === 1;
    },
    async grant(connection) {
      const r = await d.get<GrantRow>("SELECT * FROM oauth_grants WHERE connection = ?", connection);
      if (!r) return null;
      const { hasRefreshToken: _, ...rest } = info(r);
      return {
        ...rest,
        accessToken: await keyring.openText(r.access_token, aad(connection, "access_token")),
        refreshToken: r.refresh_token === null ? null : await keyring.openText(r.refresh_token, aad(connection, "refresh_token")),
      };
    },
    async info(connection) {
      const r = await d.get<GrantRow>("SELECT * FROM oauth_grants WHERE connection = ?", connection);
      return r ? info(r) : null;
    },
    async list() {
      return (await d.all<GrantRow>("SELECT * FROM oauth_grants ORDER BY connection")).map(info);
    },
    async setError(connection, error) {
      await d.run("UPDATE oauth_grants SET last_error = ? WHERE connection = ?", error, connection);
    },
    async deleteGrant(connection) {
      return (await d.run("DELETE FROM oauth_grants WHERE connection = ?", connection)) > 0;
    },
    async createState(s) {
      const verifier = s.codeVerifier === null ? null : await keyring.seal(s.codeVerifier, aadFor("oauth_states", "code_verifier", [s.state]));
      await d.run(
        "INSERT INTO oauth_states (state, link, connection, code_verifier, redirect_uri, actor, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        s.state,
        s.link,
        s.connection,
        verifier,
        s.redirectUri,
        s.actor,
        s.createdAt,
        s.expiresAt,
      );
    },
    async takeLink(link, now) {
      // compare-and-set: of two concurrent visits, exactly one wins
      const r = await d.get<StateRow>("UPDATE oauth_states SET link_used_at = ? WHERE link = ? AND link_used_at IS NULL AND expires_at > ? RETURNING *", now, link, now);
      if (!r) return null;
      return toState(r, r.code_verifier === null ? null : await keyring.openText(r.code_verifier, aadFor("oauth_states", "code_verifier", [r.state])));
    },
    async takeState(state, now) {
      const r = await d.get<StateRow>("UPDATE oauth_states SET used_at = ? WHERE state = ? AND used_at IS NULL AND expires_at > ? RETURNING *", now, state, now);
      if (!r) return null;
      const verifier = r.code_verifier === null ? null : await keyring.openText(r.code_verifier, aadFor("oauth_states", "code_verifier", [r.state]));
      return toState(r, verifier);
    },
    pruneStates(now) {
      return d.run("DELETE FROM oauth_states WHERE expires_at < ?", now - 86_400_000);
    },
  };
}
