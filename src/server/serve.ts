/**
 * Binding the app to a socket, and the process lifecycle: SIGHUP reloads the config, SIGTERM/SIGINT
 * drain (stop accepting, let in-flight requests and streams finish within shutdown_grace, then close
 * what is left) and close the store.
 */
import type { Server } from "bun";
import { createApp, type App } from "./app.ts";
import { Gateway, type GatewayOptions } from "./gateway.ts";
import { durationMs } from "../config/types.ts";
import type { OwnRoute } from "../routes/table.ts";
import { checkFetchConcurrency, MAX_HTTP_REQUESTS_HINT } from "../proxy/forward.ts";

export interface Running {
  gw: Gateway;
  app: App;
  server: Server<unknown>;
  url: URL;
  /** resolves when the server has drained and the store is closed */
  shutdown(reason?: string): Promise<void>;
}

function ownRoutes(app: App): OwnRoute[] {
  return app.routes
    .filter((r) => !r.path.startsWith("/docs/assets"))
    .map((r) => ({ method: r.method, path: r.path, feature: r.path.split("/")[1] || "root" }));
}

export async function serve(opts: GatewayOptions & { signals?: boolean }): Promise<Running> {
  const gw = await Gateway.start(opts);
  const app = createApp(gw);
  await Promise.all(gw.startupTasks);
  const s = gw.config.server;
  const tlsKey = gw.routes.current().secrets.get("server.tls_key");
  const common = {
    idleTimeout: Math.ceil(durationMs(s.idle_timeout) / 1000),
    // a little above the limit: a declared Content-Length over the limit is answered by the app with a
    // JSON 413; the slack bounds what a chunked body can add before Bun's own cap cuts it
    maxRequestBodySize: s.max_body_bytes + 64 * 1024,
    development: false,
    ...(s.tls_cert && tlsKey ? { tls: { cert: Bun.file(s.tls_cert), key: tlsKey } } : {}),
  };
  // Elysia's listen() typing omits Bun's `unix` option, which it passes through to Bun.serve unchanged
  if (s.unix_socket) app.listen({ unix: s.unix_socket, ...common } as unknown as Parameters<typeof app.listen>[0]);
  else app.listen({ hostname: s.host, port: s.port, ...common });
  const server = app.server;
  if (!server) throw new Error("server failed to start");
  gw.server = server;
  const url = s.unix_socket ? new URL(`http://localhost/`) : new URL(server.url.href);
  gw.finishStartup(url.href, ownRoutes(app));
  gw.log.info("listening", {
    url: s.unix_socket ? `unix:${s.unix_socket}` : url.href,
    port: server.port,
    config: gw.routes.current().source,
    public_url: gw.routes.current().publicUrl.href,
  });
  // what this process actually runs with (Bun reads the variable at start, so process.env, not opts.env)
  const fetchLimit = checkFetchConcurrency(process.env);
  if (fetchLimit.raised) gw.log.info("upstream fetch concurrency", { max_in_flight: fetchLimit.limit });
  else gw.log.warn("upstream fetch concurrency is Bun's default", { max_in_flight: fetchLimit.limit, hint: MAX_HTTP_REQUESTS_HINT });

  let stopping: Promise<void> | null = null;
  const shutdown = (reason = "shutdown"): Promise<void> => {
    stopping ??= (async () => {
      gw.draining = true;
      const graceMs = durationMs(gw.config.server.shutdown_grace);
      gw.log.info("draining", { reason, grace_ms: graceMs, pending_requests: server.pendingRequests });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const drained = await Promise.race([
        server.stop(false).then(() => true),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(false), graceMs))),
      ]);
      clearTimeout(timer);
      if (!drained) {
        gw.log.warn("grace period over; closing remaining connections", { pending_requests: server.pendingRequests });
        await server.stop(true);
      }
      await gw.close();
      gw.log.info("stopped", { reason });
    })();
    return stopping;
  };

  if (opts.signals !== false) {
    process.on("SIGHUP", () => void gw.reload());
    for (const sig of ["SIGTERM", "SIGINT"] as const)
      process.on(sig, () => {
        void shutdown(sig).then(() => process.exit(0));
      });
  }
  return { gw, app, server, url, shutdown };
}
