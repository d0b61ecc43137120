/**
 * Binding the app to a socket, and the process lifecycle: SIGHUP reloads the config, SIGTERM/SIGINT
 * drain (stop accepting, let in-flight requests and streams finish within shutdown_grace, then close
 * what is left) and close the store.
 */
import type { Server } from "bun";
import { createApp, createServices, opsDeps, type App } from "./app.ts";
import { createFastPath } from "./fastpath.ts";
import { Gateway, type GatewayOptions } from "./gateway.ts";
import { durationMs } from "../config/types.ts";
import { tcpPort } from "../server/model.ts";
import type { OwnRoute } from "../routes/table.ts";
import { checkFetchConcurrency, MAX_HTTP_REQUESTS_HINT } from "../proxy/forward.ts";
import { hostPort, listenTcp, listenUnix } from "../server/listen.ts";
import { selfCommand, Supervisor, WorkerLink } from "../server/cluster.ts";
import { Logger } from "../core/log.ts";
import { statsOf } from "../ops/plugin.ts";

export interface Running {
  gw: Gateway;
  app: App;
  /** the TCP listener when there is one, else the unix socket's */
  server: Server<unknown>;
  /** every listener: TCP, the unix socket, or both */
  servers: Server<unknown>[];
  url: URL;
  /** resolves when the server has drained and the store is closed */
  shutdown(reason?: string): Promise<void>;
}

function ownRoutes(app: App): OwnRoute[] {
  return app.routes
    .filter((r) => !r.path.startsWith("/docs/assets"))
    .map((r) => ({ method: r.method, path: r.path, feature: r.path.split("/")[1] || "root" }));
}

export interface ServeOptions extends GatewayOptions {
  /** install the SIGHUP / SIGTERM / SIGINT handlers (default true) */
  signals?: boolean;
  /**
   * Share the TCP port with other sockets that ask for it too (SO_REUSEPORT: the kernel spreads
   * connections over them). Off by default: a taken port is then an error at start. Only for
   * listeners of one supervised binary that share a port on purpose.
   */
  reusePort?: boolean;
  /** this process is worker `id` of a supervised binary: it shares the port and reports to the supervisor */
  worker?: { id: number; port: number | null };
}

export async function serve(opts: ServeOptions): Promise<Running> {
  const gw = await Gateway.start(opts);
  const servers: Server<unknown>[] = [];
  try {
    return await bind(gw, opts, servers);
  } catch (e) {
    // whatever was started is released (listeners, the store and its lock), so the process can exit cleanly
    await Promise.all(servers.map((x) => x.stop(true)));
    await gw.close();
    throw e;
  }
}

async function bind(gw: Gateway, opts: ServeOptions, servers: Server<unknown>[]): Promise<Running> {
  const services = createServices(gw);
  const app = createApp(gw, services);
  await Promise.all(gw.startupTasks);
  void gw.requestLog.prune(); // retention of what earlier runs logged (never rejects)
  app.compile();
  const fast = createFastPath(gw, services.pipeline, { endpoints: services.endpoints, github: (r) => services.github.handle(r) }, app.routes.map((r) => r.path));
  const appFetch = app.fetch;
  const s = gw.config.server;
  const tlsKey = gw.routes.current().secrets.get("server.tls_key");
  // proxy traffic takes the fast path; everything else is routed by the Elysia app
  const base = {
    fetch: (request: Request) => fast(request) ?? appFetch(request),
    idleTimeout: Math.ceil(durationMs(s.idle_timeout) / 1000),
    // a little above the limit: a declared Content-Length over the limit is answered with a JSON 413;
    // the slack bounds what a chunked body can add before Bun's own cap cuts it
    maxRequestBodySize: s.max_body_bytes + 64 * 1024,
    development: false as const,
  };
  const tls = s.tls_cert && tlsKey ? { tls: { cert: Bun.file(s.tls_cert), key: tlsKey } } : {};
  // a unix socket alone replaces TCP; with an explicit port too, both listen (gh over the socket on the
  // host, probes and other clients over TCP). The socket is plain HTTP: its file permissions are its access control
  // a worker listens where its supervisor checked (port 0 is picked once, by the supervisor), shared
  const port = opts.worker ? opts.worker.port : tcpPort(s);
  if (s.unix_socket && s.tls_cert) gw.log.warn("tls_cert applies to the TCP listener only; the unix socket serves plain HTTP", { unix_socket: s.unix_socket });
  const tcp = port === null ? null : listenTcp({ ...base, ...tls }, s.host, port, opts.reusePort ?? opts.worker !== undefined);
  if (tcp) servers.push(tcp);
  // a unix socket cannot be shared between processes: worker 0 serves it
  const unix = s.unix_socket && (opts.worker?.id ?? 0) === 0 ? await listenUnix(base, s.unix_socket, gw.log) : null;
  if (unix) servers.push(unix);
  const server = servers[0]!;
  gw.servers = servers;
  const url = tcp ? new URL(tcp.url.href) : new URL(`http://localhost/`);
  gw.finishStartup(url.href, ownRoutes(app));
  let stopping: Promise<void> | null = null;
  const shutdown = (reason = "shutdown"): Promise<void> => {
    stopping ??= (async () => {
      gw.draining = true;
      const graceMs = durationMs(gw.config.server.shutdown_grace);
      const pending = () => servers.reduce((n, x) => n + x.pendingRequests, 0);
      gw.log.info("draining", { reason, grace_ms: graceMs, pending_requests: pending() });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const drained = await Promise.race([
        Promise.all(servers.map((x) => x.stop(false))).then(() => true),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(false), graceMs))),
      ]);
      clearTimeout(timer);
      if (!drained) {
        gw.log.warn("grace period over; closing remaining connections", { pending_requests: pending() });
        await Promise.all(servers.map((x) => x.stop(true)));
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
  if (opts.worker) {
    const ops = opsDeps(gw);
    gw.cluster = new WorkerLink(opts.worker.id, (what) => (what === "metrics" ? gw.metrics.render() : JSON.stringify(statsOf(ops))));
    // the supervisor went away (killed): a worker does not outlive it
    process.on("disconnect", () => void shutdown("supervisor gone").then(() => process.exit(0)));
  }
  // said once the signals are handled: whoever waits for this line may signal the process at once
  gw.log.info("listening", {
    url: tcp ? url.href : `unix:${s.unix_socket}`,
    ...(tcp && unix ? { unix_socket: s.unix_socket } : {}),
    port: tcp?.port,
    config: gw.routes.current().source,
    public_url: gw.routes.current().publicUrl.href,
  });
  // what this process actually runs with (Bun reads the variable at start, so process.env, not opts.env)
  const fetchLimit = checkFetchConcurrency(process.env);
  if (fetchLimit.raised) gw.log.info("upstream fetch concurrency", { max_in_flight: fetchLimit.limit });
  else gw.log.warn("upstream fetch concurrency is Bun's default", { max_in_flight: fetchLimit.limit, hint: MAX_HTTP_REQUESTS_HINT });
  gw.cluster?.listening();
  return { gw, app, server, servers, url, shutdown };
}

export interface Supervising {
  supervisor: Supervisor;
  /** where the workers listen (TCP), or null with a unix socket alone */
  url: URL | null;
  stop(reason?: string): Promise<void>;
}

/**
 * `[server] workers` > 1: this process supervises. It prepares the store as `serve` does (the lock,
 * migrations, the app-key check) and keeps the lock for all its workers; checks the port once (and
 * picks it, for port 0) so that a port held by another program is still an error; then starts the
 * workers, which share the port (SO_REUSEPORT) and the store.
 */
export async function superviseWorkers(opts: ServeOptions & { workers: number; args: readonly string[] }): Promise<Supervising> {
  const log = opts.log ?? new Logger("info");
  const gw = await Gateway.start({ ...opts, log, role: "serve" });
  const lock = gw.detachLock();
  const s = gw.config.server;
  await gw.close();
  try {
    let port = tcpPort(s);
    if (port !== null) {
      const probe = listenTcp({ fetch: () => new Response(null, { status: 503 }) }, s.host, port, false);
      port = probe.port ?? port;
      probe.stop(true);
    }
    const env = { ...process.env, ...opts.env, [WORKER_PORT_ENV]: port === null ? "" : String(port) };
    const supervisor = new Supervisor({ workers: opts.workers, command: selfCommand(opts.args), env, log });
    await supervisor.start();
    const url = port === null ? null : new URL(`http://${hostPort(s.host === "0.0.0.0" || s.host === "::" ? "127.0.0.1" : s.host, port)}/`);
    let stopping: Promise<void> | null = null;
    const stop = (reason = "shutdown") =>
      (stopping ??= (async () => {
        log.info("stopping workers", { reason, workers: opts.workers });
        await supervisor.stop();
        lock?.release();
        log.info("stopped", { reason });
      })());
    if (opts.signals !== false) {
      process.on("SIGHUP", () => supervisor.signal("SIGHUP"));
      for (const sig of ["SIGTERM", "SIGINT"] as const) process.on(sig, () => void stop(sig).then(() => process.exit(0)));
    }
    log.info("supervising", { workers: opts.workers, url: url?.href ?? `unix:${s.unix_socket}`, pids: supervisor.view().workers.map((w) => w.pid) });
    return { supervisor, url, stop };
  } catch (e) {
    lock?.release();
    throw e;
  }
}

/** The port a worker listens on, as its supervisor checked it ("" for a unix socket alone). */
export const WORKER_PORT_ENV = "HUBGATE_WORKER_PORT";
