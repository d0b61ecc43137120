/**
 * A loopback upstream that behaves like api.github.com where the pool cares: tokens map to users,
 * rate limits are per (user, resource) with x-ratelimit-* headers, ETags are token-specific and a
 * matching If-None-Match gets a 304 that costs no quota, Link pagination, gzip on request, secondary
 * limits on demand, GraphQL with RATE_LIMITED, and writes that record the token used. With `idLinks`,
 * issue pages link by repository id (/repositories/{id}/issues?page=2) as api.github.com does.
 */
import type { Server } from "bun";
import { jwtVerify, type CryptoKey as JoseKey } from "jose";

export interface FakeUser {
  login: string;
  id: number;
}

export interface FakeGithub {
  url: string;
  server: Server<undefined>;
  /** requests seen: method, path, token, status */
  log: { method: string; path: string; token: string | null; status: number; ifNoneMatch: string | null; acceptEncoding: string | null; host: string | null }[];
  /** quota spent per `${login}:${resource}` */
  spent: Map<string, number>;
  limits: Record<string, number>;
  /** make the next N requests of a token answer with a secondary rate limit */
  secondary: Map<string, { remainingHits: number; retryAfter: number | null }>;
  /** issues of a repo, for pagination */
  issues: number;
  /** delay before answering (ms) */
  delayMs: number;
  inFlight: number;
  maxInFlight: number;
  /** GitHub App installations: id → app id and the app's public key (JWTs are verified) */
  apps: Map<string, { appId: string; publicKey: JoseKey | Uint8Array; tokenTtlSec?: number }>;
  minted: number;
  /** while set, every request (but /__fake/*) is answered with this 5xx status */
  outage: number | null;
  /** repository ids handed out in id links, by "owner/repo" */
  repoIds: Map<string, number>;
  /** totals that survive a disabled log (benchmarks) */
  counts: { requests: number; notModified: number };
  stop(): void;
}

const RESOURCES = { core: 5000, search: 30, code_search: 10, graphql: 5000 };

export function fakeGithub(users: Record<string, FakeUser>, opts: { limits?: Partial<typeof RESOURCES>; issues?: number; idLinks?: boolean } = {}): FakeGithub {
  const windowReset = Math.floor(Date.now() / 1000) + 3600;
  const fake: FakeGithub = {
    url: "",
    server: undefined as unknown as Server<undefined>,
    log: [],
    spent: new Map(),
    limits: { ...RESOURCES, ...opts.limits },
    secondary: new Map(),
    issues: opts.issues ?? 75,
    delayMs: 0,
    inFlight: 0,
    maxInFlight: 0,
    apps: new Map(),
    minted: 0,
    outage: null,
    repoIds: new Map(),
    counts: { requests: 0, notModified: 0 },
    stop: () => fake.server.stop(true),
  };

  const resourceOf = (path: string) => (path === "/graphql" ? "graphql" : path.startsWith("/search/code") ? "code_search" : path.startsWith("/search/") ? "search" : "core");

  async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const path = url.pathname;
    const auth = /^(?:token|bearer)\s+(\S+)$/i.exec(req.headers.get("authorization") ?? "");
    const token = auth ? auth[1]! : null;
    if (path === "/__fake/stats")
      return Response.json({ ...fake.counts, spent: [...fake.spent.values()].reduce((a, b) => a + b, 0) });
    if (fake.outage !== null) return json(fake.outage, { message: "Server Error" });
    const inst = /^\/app\/installations\/([^/]+)\/access_tokens$/.exec(path);
    if (inst && req.method === "POST") return mintInstallationToken(inst[1]!, token);
    const user = token ? users[token] : undefined;
    if (!user) return json(401, { message: "Bad credentials" });
    const resource = resourceOf(path);
    const key = `${user.login}:${resource}`;
    const limit = fake.limits[resource]!;
    const rl = (extra: Record<string, string> = {}) => ({
      "x-ratelimit-limit": String(limit),
      "x-ratelimit-remaining": String(Math.max(0, limit - (fake.spent.get(key) ?? 0))),
      "x-ratelimit-used": String(fake.spent.get(key) ?? 0),
      "x-ratelimit-reset": String(windowReset),
      "x-ratelimit-resource": resource,
      ...extra,
    });
    const sec = fake.secondary.get(token!);
    if (sec && sec.remainingHits > 0) {
      sec.remainingHits--;
      const h: Record<string, string> = rl();
      if (sec.retryAfter !== null) h["retry-after"] = String(sec.retryAfter);
      return json(403, { message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again." }, h);
    }
    if ((fake.spent.get(key) ?? 0) >= limit) {
      if (resource === "graphql") return json(200, { errors: [{ type: "RATE_LIMITED", message: "API rate limit exceeded" }] }, rl());
      return json(403, { message: `API rate limit exceeded for user ID ${user.id}.` }, rl());
    }

    const body = route(req.method, path, url, user, await req.text());
    if (!body) return json(404, { message: "Not Found" }, rl());
    if (body.status === 403) return json(403, body.json, rl());
    const text = JSON.stringify(body.json);
    const etag = `"${new Bun.CryptoHasher("sha1").update(text + token).digest("hex")}"`; // token-specific, like GitHub's
    if (req.method === "GET" && req.headers.get("if-none-match") === etag) return new Response(null, { status: 304, headers: { etag, ...rl() } }); // free
    fake.spent.set(key, (fake.spent.get(key) ?? 0) + 1);
    const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8", etag, ...rl(), ...(body.headers ?? {}) };
    if (req.method !== "GET") delete headers.etag;
    if (/\bgzip\b/.test(req.headers.get("accept-encoding") ?? "")) {
      headers["content-encoding"] = "gzip";
      return new Response(Bun.gzipSync(new TextEncoder().encode(text)), { status: body.status, headers });
    }
    return new Response(text, { status: body.status, headers });
  }

  async function mintInstallationToken(installation: string, jwt: string | null): Promise<Response> {
    const app = fake.apps.get(installation);
    if (!app || !jwt) return json(404, { message: "Not Found" });
    try {
      const { payload } = await jwtVerify(jwt, app.publicKey, { algorithms: ["RS256"], issuer: app.appId });
      if ((payload.exp ?? 0) - (payload.iat ?? 0) > 660) return json(401, { message: "JWT lifetime too long" });
    } catch {
      return json(401, { message: "A JSON web token could not be decoded" });
    }
    const token = `ghs_${installation}_${++fake.minted}`;
    users[token] = { login: `app-${app.appId}[bot]`, id: 100_000 + Number(installation) };
    const expires = new Date(Date.now() + (app.tokenTtlSec ?? 3600) * 1000).toISOString();
    return json(201, { token, expires_at: expires });
  }

  function route(method: string, path: string, url: URL, user: FakeUser, reqBody: string): { status: number; json: unknown; headers?: Record<string, string> } | null {
    if (method === "GET" && path === "/user") return { status: 200, json: { login: user.login, id: user.id } };
    if (method === "GET" && path === "/rate_limit") return { status: 200, json: { resources: {} } };
    let m = /^\/repos\/([^/]+)\/([^/]+)$/.exec(path);
    if (m && method === "GET") {
      if (m[1] === "private-org") return { status: 403, json: { message: "Resource not accessible by personal access token" } };
      return { status: 200, json: { full_name: `${m[1]}/${m[2]}`, viewer: user.login } };
    }
    m = /^\/repos\/([^/]+)\/([^/]+)\/issues$/.exec(path);
    const byId = /^\/repositories\/(\d+)\/issues$/.exec(path);
    if ((m || byId) && method === "GET") {
      const full = m ? `${m[1]}/${m[2]}` : [...fake.repoIds].find(([, id]) => String(id) === byId![1])?.[0];
      if (!full) return null;
      if (!fake.repoIds.has(full)) fake.repoIds.set(full, 1000 + fake.repoIds.size);
      const listing = opts.idLinks ? `/repositories/${fake.repoIds.get(full)}/issues` : path;
      const per = Number(url.searchParams.get("per_page") ?? 30);
      const page = Number(url.searchParams.get("page") ?? 1);
      const last = Math.max(1, Math.ceil(fake.issues / per));
      const items = Array.from({ length: fake.issues }, (_, i) => ({ number: i + 1, title: `issue ${i + 1}` })).slice((page - 1) * per, page * per);
      const link = (p: number, rel: string) => `<${fake.url}${listing}?per_page=${per}&page=${p}>; rel="${rel}"`;
      const links = [page < last ? link(page + 1, "next") : null, page < last ? link(last, "last") : null, page > 1 ? link(1, "first") : null, page > 1 ? link(page - 1, "prev") : null].filter(Boolean);
      return { status: 200, json: items, headers: links.length ? { link: links.join(", ") } : {} };
    }
    if (m && method === "POST") return { status: 201, json: { number: fake.issues + 1, title: (JSON.parse(reqBody || "{}") as { title?: string }).title, user: { login: user.login } } };
    if (method === "GET" && (m = /^\/repos\/([^/]+)\/([^/]+)\/pulls$/.exec(path))) return { status: 200, json: [{ number: 1, title: `pull of ${m[1]}/${m[2]}` }] };
    if (method === "GET" && (m = /^\/repos\/[^/]+\/[^/]+\/contents\/?(.*)$/.exec(path)))
      return { status: 200, json: m[1] ? { type: "file", path: decodeURIComponent(m[1]) } : [{ type: "file", path: "README.md" }] };
    if (method === "GET" && (m = /^\/repos\/[^/]+\/[^/]+\/git\/ref\/(.+)$/.exec(path))) return { status: 200, json: { ref: `refs/${decodeURIComponent(m[1]!)}` } };
    if (method === "GET" && path.startsWith("/search/")) return { status: 200, json: { total_count: 0, items: [], q: url.searchParams.get("q") } };
    if (method === "GET" && path === "/moved") return { status: 301, json: {}, headers: { location: `${fake.url}/repos/o/r` } };
    if (method === "POST" && path === "/graphql") {
      const q = JSON.parse(reqBody || "{}") as { query?: string };
      if (/^\s*mutation/.test(q.query ?? "")) return { status: 200, json: { data: { addComment: { by: user.login } } } };
      return { status: 200, json: { data: { viewer: { login: user.login } } } };
    }
    return null;
  }

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      fake.inFlight++;
      fake.maxInFlight = Math.max(fake.maxInFlight, fake.inFlight);
      try {
        if (fake.delayMs) await Bun.sleep(fake.delayMs);
        const res = await handle(req);
        fake.counts.requests++;
        if (res.status === 304) fake.counts.notModified++;
        const auth = /^(?:token|bearer)\s+(\S+)$/i.exec(req.headers.get("authorization") ?? "");
        fake.log.push({
          method: req.method,
          path: new URL(req.url).pathname,
          token: auth ? auth[1]! : null,
          status: res.status,
          ifNoneMatch: req.headers.get("if-none-match"),
          acceptEncoding: req.headers.get("accept-encoding"),
          host: req.headers.get("host"),
        });
        return res;
      } finally {
        fake.inFlight--;
      }
    },
  });
  fake.server = server;
  fake.url = `http://127.0.0.1:${server.port}`;
  return fake;
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json; charset=utf-8", ...headers } });
}
