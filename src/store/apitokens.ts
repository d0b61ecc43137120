/** API tokens minted by hubgate (stored by SHA-256 hash only; the token itself is shown once). */
import type { Database } from "bun:sqlite";

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
  insert(t: NewApiToken): void;
  findByHash(hash: string): ApiTokenRow | null;
  get(id: string): ApiTokenRow | null;
  list(project?: string): ApiTokenRow[];
  revoke(id: string, at: number): boolean;
  /** record use; throttled to one write per token per minute so hot paths don't write on every request */
  touch(id: string, at: number): void;
}

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

export function apiTokenRepo(db: Database): ApiTokenRepo {
  const byHash = db.prepare<Row, [string]>(`SELECT ${COLS} FROM api_tokens WHERE token_hash = ?`);
  const byId = db.prepare<Row, [string]>(`SELECT ${COLS} FROM api_tokens WHERE id = ?`);
  const touch = db.prepare<never, [number, string, number]>("UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)");
  return {
    insert(t) {
      db.query(
        "INSERT INTO api_tokens (id, project, name, token_hash, hint, scopes, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      ).run(t.id, t.project, t.name, t.hash, t.hint, JSON.stringify(t.scopes), Date.now(), t.expiresAt);
    },
    findByHash(hash) {
      const r = byHash.get(hash);
      return r ? toRow(r) : null;
    },
    get(id) {
      const r = byId.get(id);
      return r ? toRow(r) : null;
    },
    list(project) {
      const rows =
        project === undefined
          ? db.query<Row, []>(`SELECT ${COLS} FROM api_tokens ORDER BY created_at`).all()
          : db.query<Row, [string]>(`SELECT ${COLS} FROM api_tokens WHERE project = ? ORDER BY created_at`).all(project);
      return rows.map(toRow);
    },
    revoke(id, at) {
      return db.query("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL").run(at, id).changes > 0;
    },
    touch(id, at) {
      touch.run(at, id, at - 60_000);
    },
  };
}
