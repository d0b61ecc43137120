/**
 * A pooled read: fresh cache entry → HIT; otherwise one upstream request per key at a time
 * (concurrent identical misses are COALESCED onto it). A stale entry is revalidated with
 * If-None-Match / If-Modified-Since through the identity that produced it (a 304 costs no quota);
 * when that identity has no budget left, another one fetches the resource in full. When GitHub cannot
 * answer (every identity exhausted, upstream unreachable, too slow or failing), a stale entry is served
 * as STALE instead of the error, as stale-if-error allows (RFC 9111 §4.2.4, RFC 5861).
 */
import { GatewayError } from "../core/errors.ts";
import type { CacheEntry, SingleFlight } from "../state/index.ts";
import type { Bucket } from "./bucket.ts";
import { etagMatches, storableHeaders, tagOutcome, type CachedMeta, type CacheOutcome, type ReadCache, requestKey } from "./cache.ts";
import type { GithubRoute } from "./compile.ts";
import { decodedBytes, plainHeaders, type Pool } from "./pool.ts";
import { rewriteHeaders, rewriteResponse } from "./rewrite.ts";

export interface ReadContext {
  request: Request;
  method: string;
  path: string;
  search: string;
  /** the upstream URL, parsed only when a request goes upstream (not on cache hits) */
  target: string;
  bucket: Bucket;
  clientBase: string;
  graphql?: { text: string; canonical: string };
}

export interface Served {
  response: Response;
  outcome: CacheOutcome;
  /** X-Hubgate-Cache and Cache-Status are already set */
  tagged?: boolean;
}

interface Deps {
  /** single flight, across replicas with a shared state backend */
  flights: SingleFlight;
  /** whether other processes share the flights and the cache (a waiting replica then re-reads the cache) */
  shared: boolean;
  g: GithubRoute;
  pool: Pool;
  cache: ReadCache;
}

type Fetched =
  | { kind: "buffered"; status: number; headers: [string, string][]; body: Blob; etag: string | null; outcome: CacheOutcome; stored?: { storedAt: number; freshUntil: number } }
  | { kind: "stream"; response: Response };

/** Responses larger than this are streamed, never cached or shared. */
const MAX_BUFFER = 8 * 1024 * 1024;
/** How long a stale entry is kept for revalidation beyond its TTL (the byte budget still bounds it). */
const KEEP_STALE_MS = 60 * 60_000;
/** Upstream statuses, answered or raised by the gateway, that mean GitHub could not answer (RFC 5861's "error"); 429 is the exhausted pool. */
const UPSTREAM_ERROR = new Set([429, 500, 502, 503, 504]);

export async function readThrough(ctx: ReadContext, d: Deps): Promise<Served> {
  const req = ctx.request;
  const cacheable = d.g.cacheMaxBytes > 0 && ctx.method !== "HEAD";
  const key = requestKey({
    method: ctx.method,
    path: ctx.path,
    search: ctx.search,
    accept: req.headers.get("accept") ?? "",
    apiVersion: req.headers.get("x-github-api-version") ?? "",
    body: ctx.graphql?.canonical,
  });
  const entry = cacheable ? await d.cache.lookup(key) : null;
  const noCache = /no-cache|max-age=0/i.test(req.headers.get("cache-control") ?? "");
  if (entry && entry.freshUntil > Date.now() && !noCache) return serve(ctx, fromEntry(entry, "HIT"), d);

  let leader = false;
  // with shared state, the flight is single across replicas but its value is not shared (a Blob): a
  // replica that waited on another's leader finds that answer in the shared cache instead — fresh, or
  // stored since this request arrived (a ttl of 0 revalidates once per flight, not once per replica)
  const recheck = cacheable && !noCache && d.shared;
  const arrived = recheck ? Date.now() : 0;
  const fetched = await d.flights.run(key, async () => {
    if (recheck) {
      const now = await d.cache.lookup(key);
      if (now && (now.freshUntil > Date.now() || now.storedAt >= arrived)) return fromEntry(now, "HIT");
    }
    leader = true;
    // a client asking for no-cache wants GitHub's answer, so it gets GitHub's error too, never a stale copy
    return fetchOrStale(ctx, d, cacheable ? key : null, entry, !noCache);
  });
  if (fetched.kind === "stream") {
    if (leader) return { response: rewriteResponse(fetched.response, d.g.apiUrl, ctx.clientBase), outcome: "BYPASS" };
    // a follower cannot share a streamed body: fetch its own
    const own = await fetchUpstream(ctx, d, null, null);
    return own.kind === "stream" ? { response: rewriteResponse(own.response, d.g.apiUrl, ctx.clientBase), outcome: "BYPASS" } : serve(ctx, own, d);
  }
  const buffered: Extract<Fetched, { kind: "buffered" }> = fetched;
  // followers of a stale copy are told it is stale
  return serve(ctx, leader || buffered.outcome === "STALE" ? buffered : { ...buffered, outcome: "COALESCED" }, d);
}

/** fetchUpstream, or the stale entry when GitHub cannot answer and the client allows it. */
async function fetchOrStale(ctx: ReadContext, d: Deps, key: string | null, stale: CacheEntry<CachedMeta> | null, allowStale: boolean): Promise<Fetched> {
  const fallback = key !== null && allowStale ? stale : null;
  if (!fallback) return fetchUpstream(ctx, d, key, stale);
  try {
    const f = await fetchUpstream(ctx, d, key, stale);
    return f.kind === "buffered" && UPSTREAM_ERROR.has(f.status) ? fromEntry(fallback, "STALE") : f;
  } catch (e) {
    // client_closed (499) and refusals are not GitHub failing: they propagate
    if (e instanceof GatewayError && UPSTREAM_ERROR.has(e.status)) return fromEntry(fallback, "STALE");
    throw e;
  }
}

async function fetchUpstream(ctx: ReadContext, d: Deps, key: string | null, stale: CacheEntry<CachedMeta> | null): Promise<Fetched> {
  const base = {
    request: ctx.request,
    target: new URL(ctx.target),
    bucket: ctx.bucket,
    method: ctx.method,
    body: ctx.graphql?.text ?? null,
    timeoutMs: d.g.requestTimeoutMs,
    queueTimeoutMs: d.g.queueTimeoutMs,
    allowPrivate: d.g.allowPrivate,
    signal: ctx.request.signal,
  };
  // the client's own validators were made for some other token's ETag: the gateway answers them itself
  const headers: Record<string, string> = { "accept-encoding": "gzip", "if-none-match": "", "if-modified-since": "" };
  if (ctx.graphql) headers["content-type"] = "application/json";
  if (stale && key && (stale.meta.etag || stale.meta.lastModified) && !ctx.graphql) {
    const cond = { ...headers, "if-none-match": stale.meta.etag ?? "", "if-modified-since": stale.meta.lastModified ?? "" };
    const r = await d.pool.dispatch({ ...base, headers: dropEmpty(cond), only: stale.meta.identity });
    if (r && r.response.status === 304) {
      const now = Date.now();
      const ttl = d.g.ttlFor(ctx.path);
      await d.cache.save(key, { ...stale, freshUntil: now + ttl, storedAt: now }, ttl + KEEP_STALE_MS);
      return fromEntry(stale, "REVALIDATED");
    }
    if (r) return buffer(r.response, r.identity.id, ctx, d, key, r.text);
  }
  const r = await d.pool.dispatch({ ...base, headers: dropEmpty(headers) });
  if (!r) throw d.pool.exhaustedError(ctx.bucket);
  return buffer(r.response, r.identity.id, ctx, d, key, r.text);
}

async function buffer(res: Response, identity: string, ctx: ReadContext, d: Deps, key: string | null, text?: string): Promise<Fetched> {
  const len = Number(res.headers.get("content-length") ?? 0);
  const enc = (res.headers.get("content-encoding") ?? "").toLowerCase();
  if (len > MAX_BUFFER || (enc && !["gzip", "x-gzip", "deflate", "br"].includes(enc))) return { kind: "stream", response: res };
  const body = new Blob([text !== undefined ? text : await decodedBytes(res)]);
  const headers = storableHeaders(plainHeaders(res.headers));
  const etag = res.headers.get("etag");
  const ok = res.status >= 200 && res.status < 300 && res.status !== 206;
  const graphqlErrors = ctx.graphql !== undefined && /"errors"\s*:/.test(text ?? "");
  if (key && ok && !graphqlErrors && body.size <= MAX_BUFFER) {
    const now = Date.now();
    const ttl = d.g.ttlFor(ctx.path);
    const meta: CachedMeta = { status: res.status, headers, etag, lastModified: res.headers.get("last-modified"), identity };
    await d.cache.save(key, { body, meta, storedAt: now, freshUntil: now + ttl }, ttl + KEEP_STALE_MS);
  }
  return { kind: "buffered", status: res.status, headers, body, etag, outcome: "MISS" };
}

function fromEntry(e: CacheEntry<CachedMeta>, outcome: CacheOutcome): Extract<Fetched, { kind: "buffered" }> {
  return { kind: "buffered", status: e.meta.status, headers: e.meta.headers, body: e.body, etag: e.meta.etag, outcome, stored: { storedAt: e.storedAt, freshUntil: e.freshUntil } };
}

function serve(ctx: ReadContext, f: Extract<Fetched, { kind: "buffered" }>, d: Deps): Served {
  let headers = clientHeaders(f.headers, f.outcome, d.g.apiUrl, ctx.clientBase);
  if (f.outcome === "STALE" && f.stored) headers = staleHeaders(headers, f.stored);
  if (f.status === 200 && etagMatches(ctx.request.headers.get("if-none-match"), f.etag)) {
    const notModified = new Headers(headers);
    for (const h of ["content-type", "content-length", "content-encoding"]) notModified.delete(h);
    return { response: new Response(null, { status: 304, headers: notModified }), outcome: f.outcome, tagged: true };
  }
  // a Blob body is sent without a copy; Response copies the headers it is given
  return { response: new Response(ctx.request.method === "HEAD" ? null : f.body, { status: f.status, headers }), outcome: f.outcome, tagged: true };
}

/**
 * A stored header list as the client sees it — Link/Location moved to the client's base, the cache
 * outcome tagged — built once per entry, base and outcome rather than on every hit. Never mutated:
 * callers copy it.
 */
const prepared = new WeakMap<[string, string][], { apiUrl: string; clientBase: string; byOutcome: Partial<Record<CacheOutcome, Headers>> }>();
function clientHeaders(stored: [string, string][], outcome: CacheOutcome, apiUrl: string, clientBase: string): Headers {
  let p = prepared.get(stored);
  if (!p || p.clientBase !== clientBase || p.apiUrl !== apiUrl) prepared.set(stored, (p = { apiUrl, clientBase, byOutcome: {} }));
  let headers = p.byOutcome[outcome];
  if (!headers) {
    headers = p.byOutcome[outcome] = new Headers(stored);
    rewriteHeaders(headers, apiUrl, clientBase);
    tagOutcome(headers, outcome);
  }
  return headers;
}

/**
 * A stale copy's Age (RFC 9111 §5.1) and Cache-Status ttl (RFC 9211: remaining freshness, negative when
 * stale), in whole seconds from one clock reading so that ttl = lifetime - Age; never above -1, since a
 * stale response should not read as fresh for another 0 s.
 */
function staleHeaders(prepared: Headers, stored: { storedAt: number; freshUntil: number }): Headers {
  const age = Math.max(0, Math.floor((Date.now() - stored.storedAt) / 1000));
  const lifetime = Math.floor((stored.freshUntil - stored.storedAt) / 1000);
  const headers = new Headers(prepared);
  headers.set("age", String(age));
  tagOutcome(headers, "STALE", Math.min(-1, lifetime - age));
  return headers;
}

function dropEmpty(h: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).filter(([, v]) => v !== ""));
}
