/**
 * What `check` looks at beyond the schema: things `serve` would only find out on the first request or
 * at start. Each finding names its key path. Upstreams on non-public addresses without allow_private
 * are refused by the SSRF guard at request time (403 ssrf_refused): an IP literal or `localhost` is
 * certain to be (error); a name that resolves to one here may resolve otherwise where the server runs
 * (warning).
 */
import { classifyIp, checkHost, ipLiteral, type Lookup } from "../proxy/ssrf.ts";
import { accessSync, constants, statSync } from "node:fs";
import { dirname } from "node:path";
import type { Config } from "../config/schema.ts";
import type { SecretValues } from "../config/secrets.ts";
import { postgresUrlProblem } from "../store/postgres.ts";
import type { ConnectionRoute } from "../oauth/compile.ts";

export interface Finding {
  level: "error" | "warning";
  path: string;
  message: string;
}

interface Declared {
  path: string;
  url: string;
  allowPrivate: boolean;
  /** the key that would allow it */
  allowKey: string;
}

/** Every outbound URL the config declares, with the allow_private of the section that declares it. */
function declaredUrls(c: Config, connections: ReadonlyMap<string, ConnectionRoute>): Declared[] {
  const out: Declared[] = [];
  c.projects.forEach((p, i) =>
    p.endpoints.forEach((e, j) => {
      const at = `projects[${i}].endpoints[${j}]`;
      out.push({ path: `${at}.upstream_url`, url: e.upstream_url, allowPrivate: e.allow_private, allowKey: `${at}.allow_private` });
    }),
  );
  if (c.github.enabled)
    out.push({ path: "github.api_url", url: c.github.api_url, allowPrivate: c.github.allow_private, allowKey: "github.allow_private" });
  c.oauth_connections.forEach((oc, i) => {
    const conn = connections.get(oc.name);
    if (!conn) return;
    const at = `oauth_connections[${i}]`;
    out.push({ path: `${at}.token_url`, url: conn.tokenUrl, allowPrivate: conn.allowPrivate, allowKey: `${at}.allow_private` });
    if (conn.revocationUrl) out.push({ path: `${at}.revocation_url`, url: conn.revocationUrl, allowPrivate: conn.allowPrivate, allowKey: `${at}.allow_private` });
  });
  c.mcp.upstreams.forEach((u, i) => out.push({ path: `mcp.upstreams[${i}].url`, url: u.url, allowPrivate: u.allow_private, allowKey: `mcp.upstreams[${i}].allow_private` }));
  return out;
}

/** Upstreams the SSRF guard will refuse: checked on this machine's resolver, each lookup bounded. */
export async function upstreamFindings(c: Config, connections: ReadonlyMap<string, ConnectionRoute>, lookup?: Lookup): Promise<Finding[]> {
  const findings = await Promise.all(
    declaredUrls(c, connections).map(async (d): Promise<Finding | null> => {
      if (d.allowPrivate) return null;
      let host: string;
      try {
        host = new URL(d.url).hostname;
      } catch {
        return null; // the schema reports malformed URLs
      }
      const literal = ipLiteral(host);
      if (literal !== null || host.toLowerCase() === "localhost") {
        const cls = literal === null ? "loopback" : classifyIp(literal);
        if (cls === "public") return null;
        return { level: "error", path: d.path, message: `${host} is a ${cls.replace("_", "-")} address: every request to it is refused (403 ssrf_refused) unless ${d.allowKey} = true` };
      }
      try {
        await withTimeout(checkHost(host, { allowPrivate: false, lookup }), 3000);
        return null;
      } catch (e) {
        const code = e && typeof e === "object" && "code" in e ? String(e.code) : "";
        if (code === "ssrf_refused")
          return { level: "warning", path: d.path, message: `${host} resolves to a non-public address here: requests to it will be refused (403 ssrf_refused) unless ${d.allowKey} = true (the server's resolver may answer otherwise)` };
        return null; // not resolvable here: nothing can be said about where the server runs
      }
    }),
  );
  return findings.filter((f): f is Finding => f !== null);
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error("timeout")), ms)))]).finally(() => clearTimeout(timer));
}

/** Whether `path` exists, and as what. */
function kindOf(path: string): "file" | "dir" | "other" | null {
  try {
    const s = statSync(path);
    return s.isFile() ? "file" : s.isDirectory() ? "dir" : "other";
  } catch {
    return null;
  }
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The store `serve` would open. SQLite (storage.path, already resolved against the config file's
 * directory): it must be a writable file in a writable directory (SQLite writes its -wal, -shm and
 * hubgate's .lock beside it). A missing directory is a warning: serve would create it and a new, empty
 * store there — right on first start, a silent fresh store when the path has a typo. PostgreSQL: the
 * resolved storage.url must be a postgres:// URL naming a database (it is not connected to: the server
 * reaches it from where it runs), and no app key is generated for a shared store.
 */
export function storageFindings(c: Config, secrets: SecretValues = new Map()): Finding[] {
  if (c.storage.backend === "postgres") {
    const url = secrets.get("storage.url");
    const problem = url === undefined ? null : postgresUrlProblem(url);
    return problem ? [{ level: "error", path: "storage.url", message: problem }] : [];
  }
  const path = c.storage.path;
  if (path === ":memory:") return [];
  const at = "storage.path";
  const dir = dirname(path);
  const file = kindOf(path);
  if (file !== null && file !== "file") return [{ level: "error", path: at, message: `${path} exists and is not a file` }];
  const parent = kindOf(dir);
  if (parent === null)
    return [{ level: "warning", path: at, message: `${dir} does not exist: serve will create it and a new, empty store (if you expected an existing store, the path is wrong)` }];
  if (parent !== "dir") return [{ level: "error", path: at, message: `${dir} is not a directory` }];
  if (!writable(dir)) return [{ level: "error", path: at, message: `${dir} is not writable by this user: SQLite needs to create its journal and lock files there` }];
  if (file === "file" && !writable(path)) return [{ level: "error", path: at, message: `${path} is not writable by this user` }];
  return [];
}

export function formatFindings(findings: readonly Finding[]): string {
  return findings.map((f) => `${f.level}: ${f.path}: ${f.message}\n`).join("");
}
