/**
 * The GitHub pool's request handling: layout → client auth → owners → reads (pooled, cached,
 * revalidated, coalesced) or writes/mutations (the caller's own token, passed through).
 */
import { Errors, GatewayError } from "../core/errors.ts";
import type { RouteTable } from "../routes/table.ts";
import type { Logger } from "../core/log.ts";
import type { Registry } from "../metrics/registry.ts";
import type { SharedState } from "../state/index.ts";
import type { TokenVerifier } from "../tokens/verify.ts";
import { forward } from "../proxy/forward.ts";
import { bucketOf } from "./bucket.ts";
import { clientCredential, LoginCache, type ClientCredential } from "./auth.ts";
import { classifyGraphql } from "./graphql.ts";
import { resolveIdentities } from "./identities.ts";
import { resolveLayout } from "./layout.ts";
import { LinkedIds } from "./linked.ts";
import type { Scope } from "./owners.ts";
import { restScope } from "./scope.ts";
import { Pool } from "./pool.ts";
import { BudgetSync } from "./budgetsync.ts";
import { ReadCache, tagOutcome } from "./cache.ts";
import { rewriteResponse } from "./rewrite.ts";
import { readThrough, type ReadContext, type Served } from "./read.ts";
import type { GithubRoute } from "./compile.ts";

/** What the GitHub pool needs, handed over by the composition root. */
export interface GithubDeps {
  /** the route table in force; each request takes one snapshot */
  table: () => Pick<RouteTable, "github" | "publicUrl">;
  metrics: Pick<Registry, "counter" | "gauge">;
  tokens: Pick<TokenVerifier, "verifyThrottled">;
  /** the shared response cache, single flight and message bus */
  cache: SharedState["cache"];
  flights: SharedState["flights"];
  bus: SharedState["bus"];
  /** whether other replicas share that state (a backend other than memory) */
  shared: boolean;
  log: Logger;
  /** start-up work to finish before the server listens */
  onStartup: (task: Promise<unknown>) => void;
  /** run after every successful reload, with the new table */
  onReload: (hook: (table: RouteTable) => Promise<void>) => void;
}

export class GithubService {
  readonly pool: Pool;
  readonly cache: ReadCache;
  private readonly logins = new LoginCache();
  /** numeric ids GitHub linked to from pages of allowed owners (survives reloads: it records GitHub's word, not policy) */
  private readonly linked = new LinkedIds();
  private readonly userCache = new Map<string, { login: string; userId: number }>();
  private ready: Promise<void>;
  private readonly requests;
  private readonly exported = new Set<string>();
  private exportedAt = -1;

  constructor(private readonly d: GithubDeps) {
    const g = d.table().github;
    this.pool = new Pool(g.maxConcurrency);
    this.cache = new ReadCache(d.cache);
    this.requests = d.metrics.counter("hubgate_github_requests_total", "GitHub pool requests by kind and outcome");
    const cacheStats = () => this.cache.stats();
    d.metrics.gauge("hubgate_github_cache_bytes", "Bytes held by the GitHub read cache").set({}, () => cacheStats().bytes);
    d.metrics.gauge("hubgate_github_cache_entries", "Entries in the GitHub read cache").set({}, () => cacheStats().entries);
    // cache_max_bytes is the byte budget of the shared response cache (0: no caching), on start and reload
    d.cache.setMaxBytes(g.cacheMaxBytes);
    this.ready = this.refresh(d.table());
    d.onStartup(this.ready);
    // several replicas: what one learns about a budget reaches the others (one bus message per upstream response)
    if (d.shared) d.onStartup(new BudgetSync(this.pool.book, d.bus, d.log).start());
    d.onReload((t) => {
      d.cache.setMaxBytes(t.github.cacheMaxBytes);
      return (this.ready = this.refresh(t));
    });
  }

  /** Resolve the table's identities (GET /user per new token) and hand them to the pool. */
  private async refresh(table: Pick<RouteTable, "github">): Promise<void> {
    const g = table.github;
    if (!g.enabled) return;
    const ids = await resolveIdentities(g.identities, {
      api: { apiUrl: g.apiUrl, allowPrivate: g.allowPrivate, timeoutMs: g.requestTimeoutMs },
      log: this.d.log,
      userCache: this.userCache,
    });
    this.pool.setIdentities(ids, g.maxConcurrency);
    const budgets = new Set(ids.map((i) => i.budget));
    this.d.log.info("GitHub pool ready", { identities: ids.length, budgets: budgets.size, usable: this.pool.usable().length });
  }

  async handle(request: Request): Promise<Response> {
    const table = this.d.table();
    const g = table.github;
    const url = new URL(request.url);
    const layout = g.enabled ? resolveLayout(url.pathname, g.mount, table.publicUrl) : null;
    if (!layout) throw Errors.notFound();
    await this.ready;
    const cred = clientCredential(request);
    const method = request.method;
    let kind = "read";
    try {
      if (layout.path === "/graphql") {
        if (method !== "POST") throw Errors.methodNotAllowed(["POST"]);
        const text = await request.text();
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(text) as Record<string, unknown>;
        } catch {
          body = {};
        }
        const op = classifyGraphql(body);
        g.owners.check(op.scope);
        if (op.kind === "query") {
          kind = "graphql_query";
          const ctx = this.context(request, g, layout, "/graphql", "", { text, canonical: JSON.stringify([body.query, body.variables ?? null, body.operationName ?? null]) });
          return this.finish(await this.read(ctx, g, cred, request), kind);
        }
        kind = "graphql_mutation";
        return this.finish(await this.passThrough(request, new URL(g.graphqlUrl), g, layout.clientBase, cred, text), kind);
      }
      // writes get the same closed rule as reads: they go through the same owner check
      const scope = g.owners.open ? null : restScope(layout.path, url.search, this.linked);
      if (scope) g.owners.check(scope);
      if (method === "GET" || method === "HEAD") {
        const ctx = this.context(request, g, layout, layout.path, url.search);
        return this.learnLinks(this.finish(await this.read(ctx, g, cred, request), kind), scope, layout.clientBase);
      }
      kind = "write";
      return this.finish(await this.passThrough(request, new URL(g.apiUrl + layout.path + url.search), g, layout.clientBase, cred), kind);
    } catch (e) {
      this.requests.inc({ kind, outcome: e instanceof GatewayError ? e.code : "error" });
      throw e;
    }
  }

  private context(
    request: Request,
    g: GithubRoute,
    layout: { path: string; clientBase: string },
    path: string,
    search: string,
    graphql?: { text: string; canonical: string },
  ): ReadContext {
    return {
      request,
      method: graphql ? "POST" : request.method,
      path,
      search,
      target: graphql ? g.graphqlUrl : g.apiUrl + path + search,
      bucket: bucketOf(request.method, path),
      clientBase: layout.clientBase,
      graphql,
    };
  }

  private async read(ctx: ReadContext, g: GithubRoute, cred: ClientCredential, request: Request): Promise<Served> {
    if (g.clients === "token") {
      if (cred.kind === "github") return this.passThrough(request, new URL(ctx.target), g, ctx.clientBase, cred, ctx.graphql?.text);
      if (cred.kind === "none")
        throw Errors.unauthorized("A hubgate API token with scope github:read is required for reads", "unauthorized", { "www-authenticate": 'Bearer realm="hubgate"' });
      await this.d.tokens.verifyThrottled(request, { scope: "github:read" }, cred.token, "github");
    }
    return readThrough(ctx, { flights: this.d.flights, shared: this.d.shared, g, pool: this.pool, cache: this.cache });
  }

  /** Writes, mutations and reads carrying the caller's own token: forwarded with that token, never pooled or cached. */
  private async passThrough(request: Request, target: URL, g: GithubRoute, clientBase: string, cred: ClientCredential, body?: string): Promise<Served> {
    if (cred.kind !== "github")
      throw Errors.unauthorized(
        "Writes and GraphQL mutations go to GitHub with your own GitHub token (Authorization: token …); a hubgate token is not enough",
        "github_token_required",
        { "www-authenticate": 'Bearer realm="hubgate"' },
      );
    const loginP = request.method === "GET" ? Promise.resolve(null) : this.logins.login(cred.token, { apiUrl: g.apiUrl, allowPrivate: g.allowPrivate, timeoutMs: g.requestTimeoutMs });
    const res = await forward(request, target, {
      timeoutMs: g.requestTimeoutMs,
      allowPrivate: g.allowPrivate,
      signal: request.signal,
      stripAuth: false,
      ...(body !== undefined ? { body } : {}),
    });
    if (request.method !== "GET")
      void loginP.then((login) =>
        this.d.log.info("github write", { login: login ?? "unknown", method: request.method, path: new URL(request.url).pathname, status: res.status }),
      );
    return { response: rewriteResponse(res, g.apiUrl, clientBase), outcome: "BYPASS" };
  }

  /** Prometheus series per (identity, bucket), registered as the pool learns of them (bounded by config). */
  private exportBudgets(): void {
    // new series can only appear after an upstream response: skip the walk on cache hits
    if (this.pool.counters.dispatched === this.exportedAt) return;
    this.exportedAt = this.pool.counters.dispatched;
    const remaining = this.d.metrics.gauge("hubgate_github_ratelimit_remaining", "Remaining GitHub rate limit per identity and bucket");
    const limit = this.d.metrics.gauge("hubgate_github_ratelimit_limit", "GitHub rate limit per identity and bucket");
    const benched = this.d.metrics.gauge("hubgate_github_identity_benched", "1 while an identity is benched after a secondary rate limit");
    const book = this.pool.book.snapshot();
    for (const idn of this.pool.identities) {
      if (!this.exported.has(idn.id)) {
        this.exported.add(idn.id);
        benched.set({ identity: idn.id }, () => (this.pool.book.benchedUntil(idn.budget) === null ? 0 : 1));
      }
      for (const bucket of Object.keys(book[idn.budget]?.buckets ?? {})) {
        const k = `${idn.id}\0${bucket}`;
        if (this.exported.has(k)) continue;
        this.exported.add(k);
        remaining.set({ identity: idn.id, bucket }, () => this.pool.book.state(idn.budget, bucket)?.remaining ?? 0);
        limit.set({ identity: idn.id, bucket }, () => this.pool.book.state(idn.budget, bucket)?.limit ?? 0);
      }
    }
  }

  /** Under an allowlist, the ids a page of one allowed owner links to become that owner's (linked.ts). */
  private learnLinks(res: Response, scope: Scope | null, clientBase: string): Response {
    if (scope?.kind === "owners" && scope.linkOwner && res.status >= 200 && res.status < 300) this.linked.learn(res.headers.get("link"), scope.linkOwner, clientBase);
    return res;
  }

  private finish(served: Served, kind: string): Response {
    this.exportBudgets();
    this.cache.count(served.outcome);
    this.requests.inc({ kind, outcome: served.outcome });
    if (!served.tagged) tagOutcome(served.response.headers, served.outcome);
    return served.response;
  }

  stats() {
    const book = this.pool.book.snapshot();
    return {
      identities: this.pool.identities.map((i) => ({ id: i.id, kind: i.kind, login: i.login, budget: i.budget, status: i.status, ...book[i.budget] })),
      cache: this.cache.stats(),
      pool: this.pool.counters,
    };
  }
}
