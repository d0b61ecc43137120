/** API tokens minted by hubgate (stored by SHA-256 hash only; the token itself is shown once). */
import type { Driver } from "./driver.ts";

export interface ApiTokenRow {
  id: string;
  project: string;
  name: string;
  hint: string;
  scopes: string[];
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

export interface NewApiToken {
  id: string;
  project: string;
  name: string;
  hash: string;
  hint: string;
  scopes: readonly string[];
  expiresAt: number | null;
}

export interface ApiTokenRepo {
  insert(t: NewApiToken): Promise<void>;
  /** read from the store on every call (no cache): a revocation on any replica is seen by the next request */
  findByHash(hash: string): Promise<ApiTokenRow | null>;
  get(id: string): Promise<ApiTokenRow | null>;
  list(project?: string): Promise<ApiTokenRow[]>;
  revoke(id: string, at: number): Promise<boolean>;
  /** record use; throttled to one write per token per minute so hot paths don't write on every request */
  touch(id: string, at: number): Promise<void>;
}

/** last_used_at moves at most once a minute */
const TOUCH_EVERY_MS = 60_000;

interface Row {
  id: string;
  project: string;
  name: string;
  hint: string;
  scopes: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
}

const COLS = "id, project, name, hint, scopes, created_at, expires_at, revoked_at, last_used_at";
const toRow = (r: Row): ApiTokenRow => ({
  id: r.id,
  project: r.project,
  name: r.name,
  hint: r.hint,
  scopes: JSON.parse(r.scopes) as string[],
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
  lastUsedAt: r.last_used_at,
});

export function apiTokenRepo(d: Driver): ApiTokenRepo {
  // what this process last wrote per token: a write the minute rule would skip is not even sent (on
  // PostgreSQL a round trip per request); the guarded UPDATE keeps the rule exact across processes
  const touched = new Map<string, number>();
  return {
    async insert(t) {
      await d.run(
        "INSERT INTO api_tokens (id, project, name, token_hash, hint, scopes, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        t.id,
        t.project,
        t.name,
        t.hash,
        t.hint,
        JSON.stringify(t.scopes),
        Date.now(),
        t.expiresAt,
      );
    },
    async findByHash(hash) {
      const r = await d.get<Row>(`SELECT ${COLS} FROM api_tokens WHERE token_hash = ?`, hash);
      return r ? toRow(r) : null;
    },
    async get(id) {
      const r = await d.get<Row>(`SELECT ${COLS} FROM api_tokens WHERE id = ?`, id);
      return r ? toRow(r) : null;
    },
    async list(project) {
      const rows =
        project === undefined
          ? await d.all<Row>(`SELECT ${COLS} FROM api_tokens ORDER BY created_at, id`)
          : await d.all<Row>(`SELECT ${COLS} FROM api_tokens WHERE project = ? ORDER BY created_at, id`, project);
      return rows.map(toRow);
    },
    async revoke(id, at) {
      return (await d.run("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", at, id)) > 0;
    },
    async touch(id, at) {
      const last = touched.get(id);
      if (last !== undefined && at - last < TOUCH_EVERY_MS && at >= last) return;
      if (touched.size > 10_000) touched.clear(); // a bound, not a cache: forgetting costs one guarded UPDATE
      touched.set(id, at);
      await d.run("UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)", at, id, at - TOUCH_EVERY_MS);
    },
  };
}
