/**
 * GET /authorize → gateway login → consent (once per user, client and resource) → upstream login
 * (per user, with its own state and PKCE) → /upstream/callback → a gateway authorization code
 * (single use, 60 s, bound to client, redirect URI, PKCE challenge and resource) with `iss` (RFC 9207).
 * Errors before the redirect URI is trusted are pages; after, they go back to the client.
 */
import { randomBytes } from "node:crypto";
import { randomToken as rand, sha256 } from "../crypto/hash.ts";
import type { McpDeps } from "./deps.ts";
import { GatewayError, isDependencyDown } from "../core/errors.ts";
import { safeEqual } from "../crypto/compare.ts";
import { lookupClient } from "./clients.ts";
import { consentPage, loginPage, PAGE_HEADERS } from "./pages.ts";
import { messagePage } from "../core/html.ts";
import { defaultResource, issuer, normalizeResource, upstreamForResource } from "./resources.ts";
import { githubIdentity, identityLoginEnabled } from "./identity.ts";
import { upstreamConnection } from "./discovery.ts";
import { repeatedParams, repeatedParamsError } from "./params.ts";
import type { McpAuthRequest, McpPending, McpRepo } from "../store/index.ts";

const PENDING_TTL_MS = 10 * 60_000;
const CODE_TTL_MS = 60_000;
export const upstreamGrantKey = (user: string, upstream: string) => `mcp:${user}:${upstream}`;

/** Does this upstream `state` belong to an MCP authorization in progress? (/oauth/callback serves both flows.) */
export async function ownsUpstreamState(pending: Pick<McpRepo, "pendingIdByUpstreamState">, state: string | null): Promise<boolean> {
  return state !== null && (await pending.pendingIdByUpstreamState(state)) !== null;
}

/** A failure that means "none" here (a client metadata document that cannot be fetched, …), unless the store is away: that stays a 503. */
const orNull = (e: unknown): null => {
  if (isDependencyDown(e)) throw e;
  return null;
};
const html = (body: string, status = 200) => new Response(body, { status, headers: PAGE_HEADERS });
const redirect = (url: string) => new Response(null, { status: 302, headers: { location: url, "cache-control": "no-store", "referrer-policy": "no-referrer" } });

/** What the authorization endpoint uses (discovery's part included, for upstreams without an oauth_connection). */
export type AuthorizerDeps = Pick<McpDeps, "table" | "mcp" | "audit" | "rateCounter" | "authThrottle" | "oauth" | "flights" | "sealedKv">;

export class McpAuthorizer {
  constructor(private readonly d: AuthorizerDeps) {}

  /** Which ways to sign in the login page offers: gateway passwords, the upstream account, or both. */
  private loginOptions(upstreamName: string) {
    const upstream = this.d.table().mcpUpstreams.get(upstreamName);
    const identity = identityLoginEnabled(this.d) && upstream?.oauthConnection ? upstream.oauthConnection : null;
    return { password: this.d.table().config.mcp.users.length > 0, upstream: identity };
  }

  /** An answer at the client's redirect URI (with its state, and `iss`). */
  private back(to: Pick<McpAuthRequest, "redirect_uri" | "state">, params: Record<string, string>): Response {
    const u = new URL(to.redirect_uri);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    if (to.state) u.searchParams.set("state", to.state);
    u.searchParams.set("iss", issuer(this.d.table()));
    return redirect(u.href);
  }

  async authorize(q: URLSearchParams): Promise<Response> {
    const t = this.d.table();
    // RFC 6749 §3.1: no parameter twice. While client_id or redirect_uri is in doubt the answer is a page,
    // never a redirect (§4.1.2.1); other repeats go back to the client as errors.
    const repeated = repeatedParams(q);
    const doubtful = repeated.filter((n) => n === "client_id" || n === "redirect_uri");
    if (doubtful.length) return messagePage(400, "Invalid request", `The application sent ${doubtful.join(" and ")} more than once.`);
    const clientId = q.get("client_id") ?? "";
    const client = clientId ? await lookupClient(this.d, clientId).catch(orNull) : null;
    if (!client) return messagePage(400, "Unknown client", "This application is not registered with the gateway.");
    const redirectUri = q.get("redirect_uri") ?? "";
    // exact match only: no prefix, no normalisation
    if (!client.redirect_uris.includes(redirectUri)) return messagePage(400, "Redirect not allowed", "The redirect_uri does not exactly match one the application registered.");
    const to = { redirect_uri: redirectUri, state: repeated.includes("state") ? "" : (q.get("state") ?? "") };
    const twice = repeatedParamsError(repeated);
    if (twice) return this.back(to, { error: twice.code, error_description: twice.message });
    if (q.get("response_type") !== "code") return this.back(to, { error: "unsupported_response_type", error_description: "only response_type=code" });
    const challenge = q.get("code_challenge") ?? "";
    if (!challenge || q.get("code_challenge_method") !== "S256" || !/^[A-Za-z0-9_-]{43,128}$/.test(challenge))
      return this.back(to, { error: "invalid_request", error_description: "PKCE with code_challenge_method=S256 is required" });
    const asked = q.get("resource");
    const resource = asked ? normalizeResource(asked) : defaultResource(t);
    const target = resource ? upstreamForResource(t, resource) : null;
    if (!resource || !target) return this.back(to, { error: "invalid_target", error_description: "resource is not an MCP server this gateway serves" });
    const scope = (q.get("scope") ?? "mcp").split(" ").filter(Boolean);
    if (scope.some((s) => s !== "mcp" && s !== "offline_access")) return this.back(to, { error: "invalid_scope", error_description: "supported scopes: mcp offline_access" });
    const request: McpAuthRequest = {
      client_id: clientId,
      ...to,
      code_challenge: challenge,
      resource,
      upstream: target.name === "" ? target.upstream.name : target.name,
      scope: [...new Set(["mcp", ...scope])].join(" "),
      upstream_identity: false,
      upstream_done: false,
    };
    const id = rand();
    const csrf = rand();
    await this.d.mcp.createPending({ id, request, csrf, createdAt: Date.now(), expiresAt: Date.now() + PENDING_TTL_MS });
    return html(loginPage(id, csrf, client.client_name ?? clientId, undefined, this.loginOptions(request.upstream)));
  }

  /** "Continue with your upstream account": the upstream login first; the identity decides who signs in. */
  async upstreamLogin(form: URLSearchParams): Promise<Response> {
    const p = await this.pendingOr(form);
    if (!this.loginOptions(p.request.upstream).upstream) throw new GatewayError("invalid_request", "Signing in with the upstream account is not enabled.", 400);
    const request = { ...p.request, upstream_identity: true };
    await this.d.mcp.updatePendingRequest(p.id, request);
    return this.upstreamStep({ ...p, request });
  }

  private async pendingOr(form: URLSearchParams): Promise<McpPending> {
    const p = await this.d.mcp.pending(form.get("id") ?? "");
    if (!p || !safeEqual(form.get("csrf") ?? "", p.csrf)) throw new GatewayError("invalid_request", "This sign-in expired or the form was not ours; start again from the application.", 400);
    return p;
  }

  /** The consent page, naming the client and where it redirects to. */
  private async consentStep(p: McpPending, username: string): Promise<Response> {
    const client = await lookupClient(this.d, p.request.client_id);
    const redirectHost = new URL(p.request.redirect_uri).host || p.request.redirect_uri;
    return html(consentPage(p.id, p.csrf, { name: client?.client_name ?? p.request.client_id, redirectHost }, p.request.resource, username));
  }

  async login(form: URLSearchParams, ip: string): Promise<Response> {
    const p = await this.pendingOr(form);
    const client = await lookupClient(this.d, p.request.client_id);
    const clientName = client?.client_name ?? p.request.client_id;
    const username = (form.get("username") ?? "").trim();
    // brute-force protection: 5 failures per user name in a sliding minute (the threshold sits half a hit
    // lower, as the sliding count is an estimate), and the address's failures on every surface (tokens/throttle.ts)
    const userKey = `mcp-login:user:${username.toLowerCase()}`;
    const [byUser, ipBlocked] = await Promise.all([this.d.rateCounter.count(userKey, 60_000), this.d.authThrottle.blocked(ip)]);
    if (byUser >= 4.5 || ipBlocked) {
      await this.d.audit.append({ kind: "mcp.login_throttled", actor: ip, subject: username });
      return new Response(loginPage(p.id, p.csrf, clientName, "Too many failed attempts; wait a minute.", this.loginOptions(p.request.upstream)), {
        status: 429,
        headers: { ...PAGE_HEADERS, "retry-after": "60" },
      });
    }
    const user = this.d.table().config.mcp.users.find((u) => u.username === username);
    // verify against a dummy hash when the user is unknown, so timing does not reveal which names exist
    const ok = await Bun.password.verify(form.get("password") ?? "", user?.password_hash ?? (await dummyHash())).catch(() => false);
    if (!user || !ok) {
      await Promise.all([this.d.rateCounter.hit(userKey, 5, 60_000), this.d.authThrottle.failed(ip, "mcp-login", username)]);
      return html(loginPage(p.id, p.csrf, clientName, "Wrong user name or password.", this.loginOptions(p.request.upstream)), 401);
    }
    await this.d.audit.append({ kind: "mcp.login", actor: ip, subject: username, detail: { client_id: p.request.client_id } });
    await this.d.mcp.setPendingUser(p.id, username);
    if (await this.d.mcp.hasConsent(username, p.request.client_id, p.request.resource)) return this.upstreamStep({ ...p, username });
    return this.consentStep(p, username);
  }

  async consent(form: URLSearchParams): Promise<Response> {
    const p = await this.pendingOr(form);
    if (!p.username) throw new GatewayError("invalid_request", "Sign in first.", 400);
    if (form.get("decision") !== "allow") {
      await this.d.mcp.deletePending(p.id);
      await this.d.audit.append({ kind: "mcp.consent_denied", actor: p.username, subject: p.request.client_id });
      return this.back(p.request, { error: "access_denied", error_description: "the user denied access" });
    }
    await this.d.mcp.grantConsent(p.username, p.request.client_id, p.request.resource);
    await this.d.audit.append({ kind: "mcp.consent", actor: p.username, subject: p.request.client_id, detail: { resource: p.request.resource } });
    return p.request.upstream_done ? this.issueCode(p, p.username) : this.upstreamStep(p);
  }

  /** Screen 2: the user's own upstream login, unless the upstream needs none. */
  private async upstreamStep(p: McpPending): Promise<Response> {
    const upstream = this.d.table().mcpUpstreams.get(p.request.upstream);
    let connection: string | null = null;
    try {
      connection = upstream ? await upstreamConnection(this.d, upstream) : null;
    } catch (e) {
      await this.d.audit.append({ kind: "mcp.upstream_connect_failed", actor: p.username ?? undefined, subject: p.request.upstream, detail: { reason: e instanceof Error ? e.message : "discovery_failed" } });
      return this.back(p.request, { error: "temporarily_unavailable", error_description: "the upstream's authorization server could not be discovered" });
    }
    if (!connection) {
      // no upstream login: only a user signed in with a gateway password gets this far
      if (!p.username) throw new GatewayError("invalid_request", "Sign in first.", 400);
      return this.issueCode(p, p.username);
    }
    const begin = this.d.oauth.beginAuthorization(connection, `${issuer(this.d.table())}/upstream/callback`);
    await this.d.mcp.setPendingUpstream(p.id, begin.state, begin.verifier);
    return redirect(begin.url.href);
  }

  async upstreamCallback(q: URLSearchParams): Promise<Response> {
    // a repeated parameter is refused before the pending request is looked up: it stays usable
    const repeated = repeatedParams(q);
    if (repeated.length) return messagePage(400, "Sign-in failed", `The upstream's answer repeats ${repeated.join(", ")}; start again from the application.`);
    const id = await this.d.mcp.pendingIdByUpstreamState(q.get("state") ?? "");
    const p = id ? await this.d.mcp.pending(id) : null;
    if (!p || (!p.username && !p.request.upstream_identity))
      return messagePage(400, "Sign-in expired", "The upstream sign-in could not be matched to a request in progress; start again from the application.");
    const upstream = this.d.table().mcpUpstreams.get(p.request.upstream);
    const actor = p.username ?? "(upstream identity)";
    const connection = upstream ? await upstreamConnection(this.d, upstream).catch(orNull) : null;
    const code = q.get("code");
    if (q.get("error") || !code || !upstream || !connection) {
      await this.d.mcp.deletePending(p.id);
      await this.d.audit.append({ kind: "mcp.upstream_connect_failed", actor, subject: p.request.upstream, detail: { reason: q.get("error") ?? "no_code" } });
      return this.back(p.request, { error: "access_denied", error_description: "the upstream sign-in did not succeed" });
    }
    const redirectUri = `${issuer(this.d.table())}/upstream/callback`;
    let username: string;
    try {
      const tokens = await this.d.oauth.exchange(connection, code, redirectUri, p.upstreamVerifier);
      if (p.request.upstream_identity) {
        const who = await githubIdentity(this.d, tokens.accessToken);
        if (!who.allowed) {
          await this.d.mcp.deletePending(p.id);
          await this.d.audit.append({ kind: "mcp.login_failed", actor: `github:${who.login}`, subject: upstream.name, detail: { reason: "not_allowed" } });
          return this.back(p.request, { error: "access_denied", error_description: `the ${connection} account is not allowed to use this gateway` });
        }
        username = `github:${who.login}`;
        await this.d.audit.append({ kind: "mcp.login", actor: username, subject: p.request.client_id, detail: { via: connection } });
      } else if (p.username) username = p.username;
      else throw new Error("no signed-in user"); // excluded above
      await this.d.oauth.saveTokens(connection, upstreamGrantKey(username, upstream.name), tokens);
    } catch (e) {
      await this.d.mcp.deletePending(p.id);
      await this.d.audit.append({ kind: "mcp.upstream_connect_failed", actor, subject: upstream.name, detail: { reason: e instanceof Error ? e.message : "exchange_failed" } });
      return this.back(p.request, { error: "server_error", error_description: "the upstream sign-in could not be completed" });
    }
    await this.d.audit.append({ kind: "mcp.upstream_connected", actor: username, subject: upstream.name });
    if (!p.request.upstream_identity) return this.issueCode(p, username);
    const request = { ...p.request, upstream_done: true };
    await this.d.mcp.setPendingUser(p.id, username);
    await this.d.mcp.updatePendingRequest(p.id, request);
    if (await this.d.mcp.hasConsent(username, p.request.client_id, p.request.resource)) return this.issueCode(p, username);
    return this.consentStep({ ...p, request, username }, username);
  }

  private async issueCode(p: McpPending, username: string): Promise<Response> {
    await this.d.mcp.deletePending(p.id);
    const code = rand();
    await this.d.mcp.saveCode(sha256(code), p.request, username, Date.now() + CODE_TTL_MS);
    return this.back(p.request, { code });
  }
}

// argon2id of a random string: verify() against it takes as long as against a real hash, and never
// matches. Made on first use, not at start-up (argon2id is deliberately slow and memory-hungry).
let dummy: Promise<string> | null = null;
const dummyHash = () => (dummy ??= Bun.password.hash(randomBytes(16).toString("hex"), { algorithm: "argon2id" }));
