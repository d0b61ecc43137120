/** Health, readiness, stats and Prometheus metrics: the gateway's own operational surface. */
import { Elysia, t } from "elysia";
import type { Gateway } from "../server/gateway.ts";
import { VERSION } from "../version.ts";

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
        return { status: ready ? "ready" : "not_ready", checks };
      },
      { detail: { tags: ["ops"], summary: "Readiness: store reachable, config loaded, not draining" } },
    )
    .get(
      "/stats",
      () => {
        const table = gw.routes.current();
        const features: Record<string, unknown> = {};
        for (const [name, fn] of gw.statsProviders) features[name] = fn();
        return {
          version: VERSION,
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
      },
      { detail: { tags: ["ops"], summary: "Counters: uptime, config reloads, per-feature statistics" } },
    )
    .get(
      "/metrics",
      () =>
        new Response(gw.metrics.render(), {
          headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8", "cache-control": "no-store" },
        }),
      { detail: { tags: ["ops"], summary: "Prometheus metrics (text format 0.0.4)" } },
    );
}
