/**
 * Health, readiness, stats and Prometheus metrics: the gateway's own operational surface. Under
 * `[server] workers`, a scrape that lands on any worker describes the whole binary: /metrics merges
 * every worker's series (metrics/merge.ts), /stats lists every worker's figures, and /readyz adds the
 * supervisor's view of its workers.
 */
import { Elysia, t } from "elysia";
import { mergeExpositions } from "../metrics/merge.ts";
import type { Registry } from "../metrics/registry.ts";
import type { RouteTable } from "../routes/table.ts";
import type { WorkerLink } from "../server/cluster.ts";
import type { ReloadStatus } from "../server/model.ts";
import { VERSION } from "../version.ts";

const METRICS_HEADERS = { "content-type": "text/plain; version=0.0.4; charset=utf-8", "cache-control": "no-store" };

/** What this process's figures are made of. */
export interface StatsDeps {
  /** the table in force */
  table: () => Pick<RouteTable, "version" | "source" | "configHash" | "builtAt" | "endpoints" | "projects" | "mcpUpstreams">;
  /** when the process started (ms since the epoch) */
  startedAt: number;
  /** true once shutting down: readiness fails while in-flight requests finish */
  draining: () => boolean;
  reloadStatus: () => Readonly<ReloadStatus>;
  /** per-feature figures, by feature name */
  stats: ReadonlyMap<string, () => unknown>;
}

/** What the operational surface needs, handed over by the composition root. */
export interface OpsDeps extends StatsDeps {
  metrics: Pick<Registry, "render">;
  /** under `[server] workers`: this worker's line to its supervisor; null in a single process */
  cluster: () => Pick<WorkerLink, "id" | "view" | "gather"> | null;
  /** the store answers (never throws) */
  ping: () => Promise<boolean>;
}

/** This process's figures (one worker's, under workers). */
export function statsOf(d: StatsDeps) {
  const table = d.table();
  const reloads = d.reloadStatus();
  const features: Record<string, unknown> = {};
  for (const [name, fn] of d.stats) features[name] = fn();
  return {
    version: VERSION,
    pid: process.pid,
    uptime_seconds: Math.round((Date.now() - d.startedAt) / 1000),
    draining: d.draining(),
    config: {
      version: table.version,
      source: table.source,
      hash: table.configHash,
      built_at: new Date(table.builtAt).toISOString(),
      endpoints: table.endpoints.size,
      projects: table.projects.size,
      mcp_upstreams: [...table.mcpUpstreams.keys()].filter((k) => k !== "").length,
    },
    reloads: {
      count: reloads.count,
      failures: reloads.failures,
      last_at: reloads.lastAt === null ? null : new Date(reloads.lastAt).toISOString(),
      last_result: reloads.lastResult,
      last_errors: reloads.lastIssues,
    },
    features,
  };
}

export function opsPlugin(d: OpsDeps) {
  return new Elysia({ name: "hubgate-ops" })
    .get("/healthz", () => ({ status: "ok" as const }), {
      detail: { tags: ["ops"], summary: "Liveness: the process answers" },
      response: t.Object({ status: t.Literal("ok") }),
    })
    .get(
      "/readyz",
      async ({ set }) => {
        const checks = { store: await d.ping(), config: d.table() !== undefined, draining: d.draining() };
        const ready = checks.store && checks.config && !checks.draining;
        set.status = ready ? 200 : 503;
        const cluster = d.cluster();
        const workers = cluster?.view;
        return { status: ready ? "ready" : "not_ready", checks, ...(workers ? { worker: cluster!.id, workers } : {}) };
      },
      { detail: { tags: ["ops"], summary: "Readiness: store reachable, config loaded, not draining (and the supervisor's view of its workers)" } },
    )
    .get(
      "/stats",
      async () => {
        const own = statsOf(d);
        const cluster = d.cluster();
        if (!cluster) return own;
        // every worker's figures; a drift of config hashes between workers is visible here
        const parts = await cluster.gather("stats");
        const workers = [...parts].map(([id, body]) => ({ worker: Number(id), ...(JSON.parse(body) as ReturnType<typeof statsOf>) }));
        return { ...own, worker: cluster.id, supervisor: cluster.view, workers };
      },
      { detail: { tags: ["ops"], summary: "Counters: uptime, config reloads, per-feature statistics (every worker's under workers)" } },
    )
    .get(
      "/metrics",
      async () => {
        const cluster = d.cluster();
        const text = cluster ? mergeExpositions(await cluster.gather("metrics")) : d.metrics.render();
        return new Response(text, { headers: METRICS_HEADERS });
      },
      { detail: { tags: ["ops"], summary: "Prometheus metrics (text format 0.0.4)" } },
    );
}
