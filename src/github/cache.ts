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

export type CacheOutcome = "HIT" | "MISS" | "REVALIDATED" | "COALESCED" | "BYPASS";

export function requestKey(parts: { method: string; path: string; search: string; accept: string; apiVersion: string; body?: string }): string {
  return sha256(JSON.stringify([parts.method, parts.path + parts.search, parts.accept, parts.apiVersion, parts.body ?? ""]), "base64url");
}

/** Response headers that are never stored (connection- or token-specific, or recomputed). */
const UNSTORED = new Set(["set-cookie", "content-length", "content-encoding", "transfer-encoding", "connection", "keep-alive", "date", "age"]);

export function storableHeaders(h: Headers): [string, string][] {
  const out: [string, string][] = [];
  h.forEach((v, k) => {
    if (!UNSTORED.has(k) && !k.startsWith("x-ratelimit-")) out.push([k, v]);
  });
  return out;
}

export class ReadCache {
  counts: Record<CacheOutcome, number> = { HIT: 0, MISS: 0, REVALIDATED: 0, COALESCED: 0, BYPASS: 0 };
  constructor(private readonly store: ByteCache) {}

  async lookup(key: string): Promise<CacheEntry<CachedMeta> | null> {
    const ptr = await this.store.get<{ identity: string }>(`ptr:${key}`);
    if (!ptr) return null;
    return this.store.get<CachedMeta>(`${key}|${ptr.meta.identity}`);
  }

  async save(key: string, entry: CacheEntry<CachedMeta>, keepMs: number): Promise<void> {
    await this.store.set(`${key}|${entry.meta.identity}`, entry, keepMs);
    await this.store.set(`ptr:${key}`, { body: new Uint8Array(0), meta: { identity: entry.meta.identity }, storedAt: entry.storedAt, freshUntil: entry.freshUntil }, keepMs);
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
