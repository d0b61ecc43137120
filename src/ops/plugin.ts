/**
 * Health, readiness, stats and Prometheus metrics: the gateway's own operational surface. Under
 * `[server] workers`, a scrape that lands on any worker describes the whole binary: /metrics merges
 * every worker's series (metrics/merge.ts), /stats lists every worker's figures, and /readyz adds the
 * supervisor's view of its workers.
 */
import { Elysia, t } from "elysia";
import type { Gateway } from "../root/gateway.ts";
import { mergeExpositions } from "../metrics/merge.ts";
import { VERSION } from "../version.ts";

const METRICS_HEADERS = { "content-type": "text/plain; version=0.0.4; charset=utf-8", "cache-control": "no-store" };

/** This process's figures (one worker's, under workers). */
export function statsOf(gw: Gateway) {
  const table = gw.routes.current();
  const features: Record<string, unknown> = {};
  for (const [name, fn] of gw.statsProviders) features[name] = fn();
  return {
    version: VERSION,
    pid: process.pid,
    uptime_seconds: Math.round((Date.now() - gw.startedAt) / 1000),
    draining: gw.draining,
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
      count: gw.reloads.count,
      failures: gw.reloads.failures,
      last_at: gw.reloads.lastAt === null ? null : new Date(gw.reloads.lastAt).toISOString(),
      last_result: gw.reloads.lastResult,
      last_errors: gw.reloads.lastIssues,
    },
    features,
  };
}

export function opsPlugin(gw: Gateway) {
  return new Elysia({ name: "hubgate-ops" })
    .get("/healthz", () => ({ status: "ok" as const }), {
      detail: { tags: ["ops"], summary: "Liveness: the process answers" },
      response: t.Object({ status: t.Literal("ok") }),
    })
    .get(
      "/readyz",
      async ({ set }) => {
        const checks = { store: await gw.store.ping(), config: gw.routes.current() !== undefined, draining: gw.draining };
        const ready = checks.store && checks.config && !checks.draining;
        set.status = ready ? 200 : 503;
        const workers = gw.cluster?.view;
        return { status: ready ? "ready" : "not_ready", checks, ...(workers ? { worker: gw.cluster!.id, workers } : {}) };
      },
      { detail: { tags: ["ops"], summary: "Readiness: store reachable, config loaded, not draining (and the supervisor's view of its workers)" } },
    )
    .get(
      "/stats",
      async () => {
        const own = statsOf(gw);
        if (!gw.cluster) return own;
        // every worker's figures; a drift of config hashes between workers is visible here
        const parts = await gw.cluster.gather("stats");
        const workers = [...parts].map(([id, body]) => ({ worker: Number(id), ...(JSON.parse(body) as ReturnType<typeof statsOf>) }));
        return { ...own, worker: gw.cluster.id, supervisor: gw.cluster.view, workers };
      },
      { detail: { tags: ["ops"], summary: "Counters: uptime, config reloads, per-feature statistics (every worker's under workers)" } },
    )
    .get(
      "/metrics",
      async () => {
        const text = gw.cluster ? mergeExpositions(await gw.cluster.gather("metrics")) : gw.metrics.render();
        return new Response(text, { headers: METRICS_HEADERS });
      },
      { detail: { tags: ["ops"], summary: "Prometheus metrics (text format 0.0.4)" } },
    );
}
