/**
 * The read cache of the pool. Entries are keyed on method, URL (path + query), Accept,
 * X-GitHub-Api-Version, the GraphQL body when there is one, and the identity whose token produced
 * them (GitHub's ETags and bodies are token-specific); a pointer per request key names the identity
 * of the latest entry, so revalidation reuses the same identity and Accept with If-None-Match.
 */
import type { ByteCache, CacheEntry } from "../state/index.ts";
import { sha256 } from "../crypto/hash.ts";

export interface CachedMeta {
  status: number;
  headers: [string, string][];
  etag: string | null;
  lastModified: string | null;
  identity: string;
}

/** STALE: an expired entry served because GitHub could not answer (stale-if-error, read.ts) */
export type CacheOutcome = "HIT" | "MISS" | "REVALIDATED" | "COALESCED" | "BYPASS" | "STALE";

/**
 * The fields joined by newlines, which no method, URL or header value can contain (only the GraphQL
 * body, the last field, may), so distinct requests never share a key. Long keys (GraphQL bodies) are
 * hashed to bound what the store holds; hashes contain no newline, so they never equal a plain key.
 * Hashing every key cost about a tenth of a cache hit.
 */
export function requestKey(parts: { method: string; path: string; search: string; accept: string; apiVersion: string; body?: string }): string {
  const raw = `${parts.method}\n${parts.path}${parts.search}\n${parts.accept}\n${parts.apiVersion}\n${parts.body ?? ""}`;
  return raw.length <= MAX_PLAIN_KEY ? raw : sha256(raw, "base64url");
}

const MAX_PLAIN_KEY = 512;

/** Response headers that are never stored (connection- or token-specific, or recomputed). */
const UNSTORED = new Set(["set-cookie", "content-length", "content-encoding", "transfer-encoding", "connection", "keep-alive", "date", "age"]);

export function storableHeaders(h: Headers): [string, string][] {
  const out: [string, string][] = [];
  h.forEach((v, k) => {
    if (!UNSTORED.has(k) && !k.startsWith("x-ratelimit-")) out.push([k, v]);
  });
  return out;
}

const EMPTY = new Blob([]);

export class ReadCache {
  counts: Record<CacheOutcome, number> = { HIT: 0, MISS: 0, REVALIDATED: 0, COALESCED: 0, BYPASS: 0, STALE: 0 };
  constructor(private readonly store: ByteCache) {}

  async lookup(key: string): Promise<CacheEntry<CachedMeta> | null> {
    const ptr = await this.store.get<{ identity: string }>(`ptr:${key}`);
    if (!ptr) return null;
    return this.store.get<CachedMeta>(`${key}|${ptr.meta.identity}`);
  }

  async save(key: string, entry: CacheEntry<CachedMeta>, keepMs: number): Promise<void> {
    await this.store.set(`${key}|${entry.meta.identity}`, entry, keepMs);
    await this.store.set(`ptr:${key}`, { body: EMPTY, meta: { identity: entry.meta.identity }, storedAt: entry.storedAt, freshUntil: entry.freshUntil }, keepMs);
  }

  count(outcome: CacheOutcome): void {
    this.counts[outcome]++;
  }

  stats() {
    return { ...this.store.stats(), ...this.counts };
  }
}

/** RFC 9110 §13.1.2 weak comparison of an If-None-Match list against an ETag. */
export function etagMatches(ifNoneMatch: string | null, etag: string | null): boolean {
  if (!ifNoneMatch || !etag) return false;
  if (ifNoneMatch.trim() === "*") return true;
  const strip = (t: string) => t.trim().replace(/^W\//, "");
  return ifNoneMatch.split(",").some((t) => strip(t) === strip(etag));
}

/**
 * X-Hubgate-Cache and the RFC 9211 Cache-Status for an outcome; `ttlSec`, the remaining freshness in
 * seconds (negative when stale), is added when given.
 */
export function tagOutcome(h: Headers, o: CacheOutcome, ttlSec?: number): void {
  h.set("x-hubgate-cache", o);
  h.set("cache-status", ttlSec === undefined ? CACHE_STATUS[o] : `${CACHE_STATUS[o]}; ttl=${ttlSec}`);
}

const CACHE_STATUS: Record<CacheOutcome, string> = {
  HIT: "hubgate; hit",
  COALESCED: "hubgate; hit; detail=coalesced",
  REVALIDATED: "hubgate; fwd=stale; fwd-status=304",
  MISS: "hubgate; fwd=miss",
  BYPASS: "hubgate; fwd=bypass",
  STALE: "hubgate; hit",
};
